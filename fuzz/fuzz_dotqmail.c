/* libFuzzer target: .qmail parsing (lib/dotqmail). Every instruction the
 * parser returns must lie inside the input and be NUL-terminated there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dotqmail.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str text = STR_INIT, why = STR_INIT;
	struct dotqmail dq;
	char *base;
	for (int forward_only = 0; forward_only < 2; ++forward_only) {
		str_copyb(&text, (const char *)data, size);
		base = (char *)str_cstr(&text);
		if (dotqmail_parse(base, size, forward_only, &dq, &why) == 0) {
			for (size_t i = 0; i < dq.n; ++i) {
				const struct dotqmail_line *l = &dq.v[i];
				if (l->text < base || l->text + l->len > base + size + 1) abort();
				if (l->text[l->len] != 0 || strlen(l->text) != l->len) abort();
				if (forward_only && l->kind != DOTQMAIL_FORWARD) abort();
			}
		} else if (why.len == 0) {
			abort();
		}
		dotqmail_free(&dq);
	}
	str_free(&text);
	str_free(&why);
	return 0;
}
