/* libFuzzer target: control/tlsdestinations (lib/tlspolicy). The input
 * is a file's lines; the first line's domain is looked up, and every
 * line's policy part is parsed on its own. A parsed policy must be
 * consistent: pins only for the pin level, within their bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlspolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void consistent(const struct tlspolicy *p)
{
	if (p->npins > TLSPOLICY_PINMAX) abort();
	if ((p->level == TLSPOLICY_PIN) != (p->npins > 0)) abort();
	if (p->level != TLSPOLICY_CA && p->cafile.len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tlspolicy p;
	const char *s = (const char *)data;
	struct str lines = STR_INIT;
	size_t pos = 0, first = mem_chr(s, size, '\n');
	/* as ctl_read_lines stores them: NUL after each line */
	while (pos < size) {
		size_t n = mem_chr(s + pos, size - pos, '\n');
		if (tlspolicy_parse(&p, s + pos, n) == 0) consistent(&p);
		str_catb(&lines, s + pos, n);
		str_catc(&lines, 0);
		pos += n + 1;
	}
	if (tlspolicy_lookup(&p, &lines, s, first) == 0) consistent(&p);
	str_free(&lines);
	return 0;
}
