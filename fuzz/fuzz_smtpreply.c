/* libFuzzer target: SMTP reply parsing (lib/smtpreply), as qmail-remote
 * feeds it: line by line, then EHLO keyword lookups on the result. The
 * kept text must stay within its cap and a reply must end by its last
 * line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct smtpreply r = {0, 0, STR_INIT};
	size_t pos = 0;
	smtpreply_start(&r);
	while (pos < size) {
		size_t n = mem_chr(p + pos, size - pos, '\n');
		size_t len = n < size - pos ? n + 1 : n;
		int done = smtpreply_line(&r, p + pos, len);
		pos += len;
		if (r.text.len > SMTPREPLY_TEXTMAX) abort();
		if (done) {
			const char *param;
			size_t plen;
			unsigned long limit;
			if (r.code != 0 && (r.code < 200 || r.code > 599)) abort();
			if (smtpreply_ehlo_has(&r, "AUTH", &param, &plen) &&
			    (param < r.text.s || param + plen > r.text.s + r.text.len))
				abort();
			smtpreply_ehlo_has(&r, "PIPELINING", 0, 0);
			if (smtpreply_ehlo_size(&r, &limit) && limit == 0) abort();
			smtpreply_start(&r);
		}
	}
	smtpreply_free(&r);
	return 0;
}
