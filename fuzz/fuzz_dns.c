/* libFuzzer target: DNS answer parsing (lib/dns) on hostile messages:
 * compression loops, truncations, lengths that point outside. Every name
 * it gives back must be a short, NUL-terminated, lower-case string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *name)
{
	size_t n = strlen(name);
	if (n > 255) abort();
	for (size_t i = 0; i < n; ++i)
		if (name[i] >= 'A' && name[i] <= 'Z') abort();
}

static void each(void *ctx, unsigned type, const char *owner, const unsigned char *msg,
		 size_t msglen, size_t rdoff, size_t rdlen)
{
	char name[256];
	size_t pos = rdoff;
	(void)ctx;
	check_name(owner);
	if (rdoff > msglen || rdlen > msglen - rdoff) abort();
	if (type == 15) pos += 2; /* MX: preference, then a name */
	if ((type == 5 || type == 15) && pos <= msglen &&
	    dns_name_expand(msg, msglen, &pos, name) == 0) {
		check_name(name);
		if (pos > msglen) abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int r = dns_parse_answer(data, size, each, 0);
	if (r < -1 || r > 15) abort();
	return 0;
}
