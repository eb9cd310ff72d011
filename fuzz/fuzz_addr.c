/* libFuzzer target: address quoting and forward-address checks (lib/addr).
 * Quoting must keep the domain and never emit a bare control byte; a
 * forwardable address has no white space, control byte or <>() and no
 * empty local part or domain. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *a = (const char *)data;
	struct str out = STR_INIT;
	size_t at = addr_at(a, size);
	addr_quote(&out, a, size);
	if (at < size) {
		size_t dlen = size - at;
		if (out.len < dlen || memcmp(out.s + out.len - dlen, a + at, dlen) != 0) abort();
	}
	if (addr_forwardable(a, size)) {
		/* a bare user, or local@domain with both parts non-empty */
		if (size == 0 || at == 0 || at + 1 == size) abort();
		for (size_t i = 0; i < size; ++i) {
			unsigned char c = (unsigned char)a[i];
			if (c <= 32 || c == 127 || c == '<' || c == '>' || c == '(' || c == ')') abort();
		}
	}
	str_free(&out);
	return 0;
}
