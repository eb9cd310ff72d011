/* libFuzzer target: DATA decoding (lib/smtpdata), as qmail-smtpd feeds
 * it. The first byte picks how the rest is split into pieces; the result,
 * the decoded text and the bytes consumed must not depend on the split,
 * the text is never longer than the input, and a message only ends on a
 * CR LF "." CR LF that really is there. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpdata.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void collect(void *ctx, const char *p, size_t n) { str_catb(ctx, p, n); }

static int decode(const char *in, size_t n, size_t step, struct str *out, size_t *used)
{
	struct smtpdata d;
	size_t pos = 0;
	int r = SMTPDATA_MORE;
	smtpdata_start(&d);
	while (pos < n && r == SMTPDATA_MORE) {
		size_t k = n - pos < step ? n - pos : step, u;
		r = smtpdata_feed(&d, in + pos, k, &u, collect, out);
		if (u > k) abort();
		pos += u;
	}
	*used = pos;
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct str a = STR_INIT, b = STR_INIT;
	size_t ua, ub, step;
	const char *in;
	int ra, rb;
	if (size < 1) return 0;
	step = (size_t)data[0] % 17 + 1;
	in = (const char *)data + 1;
	--size;
	ra = decode(in, size, size ? size : 1, &a, &ua);
	rb = decode(in, size, step, &b, &ub);
	if (ra != rb) abort();
	if (ra != SMTPDATA_BARELF) {
		if (ua != ub || a.len != b.len || (a.len && memcmp(a.s, b.s, a.len))) abort();
		if (a.len > ua) abort();
	}
	if (ra == SMTPDATA_END) {
		if (ua < 3 || memcmp(in + ua - 3, ".\r\n", 3)) abort();
		if (ua > 3 && (ua < 5 || memcmp(in + ua - 5, "\r\n", 2))) abort();
	}
	str_free(&a);
	str_free(&b);
	return 0;
}
