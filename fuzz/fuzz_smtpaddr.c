/* libFuzzer target: MAIL FROM / RCPT TO arguments (lib/smtpaddr). An
 * accepted address is within SMTPADDR_MAX, holds no control byte, and its
 * parameters start inside the input; SIZE= lookups stay in bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "smtpaddr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct str a = STR_INIT;
	size_t params;
	const char *kw = size && (data[0] & 1) ? "TO" : "FROM";
	if (smtpaddr_parse(p, size, kw, &a, &params) == SMTPADDR_OK) {
		const char *v;
		size_t vlen;
		unsigned long u;
		if (a.len > SMTPADDR_MAX || params > size) abort();
		for (size_t i = 0; i < a.len; ++i)
			if ((unsigned char)a.s[i] < 0x20 || a.s[i] == 0x7f) abort();
		if (smtpaddr_param(p + params, size - params, "SIZE", &v, &vlen)) {
			if (v < p + params || v + vlen > p + size) abort();
			if (mem_scan_ulong(v, vlen, &u) > vlen) abort();
		}
	}
	str_free(&a);
	return 0;
}
