/* Unit tests for lib/smtpdata: DATA decoding and the smuggling forms. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "smtpdata.h"
#include "str.h"

static void collect(void *ctx, const char *p, size_t n) { str_catb(ctx, p, n); }

/* Decodes in, split into pieces of step bytes; returns the result and
 * the decoded text, with *used the total consumed. */
static int decode(const char *in, size_t n, size_t step, struct str *out, size_t *used)
{
	struct smtpdata d;
	size_t pos = 0;
	int r = SMTPDATA_MORE;
	out->len = 0;
	smtpdata_start(&d);
	while (pos < n && r == SMTPDATA_MORE) {
		size_t k = n - pos < step ? n - pos : step, u;
		r = smtpdata_feed(&d, in + pos, k, &u, collect, out);
		pos += u;
	}
	*used = pos;
	return r;
}

static void expect(const char *in, int result, const char *text, size_t used)
{
	size_t n = strlen(in);
	for (size_t step = 1; step <= n; ++step) {
		struct str out = STR_INIT;
		size_t u;
		int r = decode(in, n, step, &out, &u);
		ck_assert_msg(r == result, "step %zu: result %d", step, r);
		if (result != SMTPDATA_BARELF) {
			ck_assert_msg(out.len == strlen(text) && (!out.len || !memcmp(out.s, text, out.len)),
			              "step %zu: got [%.*s]", step, (int)out.len, out.s ? out.s : "");
			ck_assert_uint_eq(u, used);
		}
		str_free(&out);
	}
}

START_TEST(plain_message)
{
	expect("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n", SMTPDATA_END, "Subject: x\n\nbody\n", 23);
	expect(".\r\n", SMTPDATA_END, "", 3);
	expect("..dot\r\n.\r\n", SMTPDATA_END, ".dot\n", 10);
	expect("a\r\n..\r\n.\r\n", SMTPDATA_END, "a\n.\n", 10);
	expect("no end yet\r\n", SMTPDATA_MORE, "no end yet\n", 12);
}
END_TEST

START_TEST(nul_bytes_are_data)
{
	const char in[] = "a\0b\r\n.\r\n";
	struct str out = STR_INIT;
	size_t u;
	ck_assert_int_eq(decode(in, sizeof in - 1, 100, &out, &u), SMTPDATA_END);
	ck_assert_uint_eq(out.len, 4);
	ck_assert(!memcmp(out.s, "a\0b\n", 4));
	str_free(&out);
}
END_TEST

START_TEST(bare_cr_is_data)
{
	expect("a\rb\r\n.\r\n", SMTPDATA_END, "a\rb\n", 8);
	expect("a\r.\r\nb\r\n.\r\n", SMTPDATA_END, "a\r.\nb\n", 11);
	expect("x\r\n.\rMAIL\r\n.\r\n", SMTPDATA_END, "x\n.\rMAIL\n", 14);
	expect("x\r\n.\r\r\n.\r\n", SMTPDATA_END, "x\n.\r\n", 10);
	expect("x\r\r\n.\r\n", SMTPDATA_END, "x\r\n", 7);
}
END_TEST

START_TEST(bare_lf_is_refused)
{
	expect("a\nb\r\n.\r\n", SMTPDATA_BARELF, "", 0);
	expect("x\r\n.\n", SMTPDATA_BARELF, "", 0);
	expect("x\n.\r\n", SMTPDATA_BARELF, "", 0);
	expect("\n.\n", SMTPDATA_BARELF, "", 0);
	expect("x\r\n\n", SMTPDATA_BARELF, "", 0);
	expect("..\n", SMTPDATA_BARELF, "", 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smtpdata");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, plain_message);
	tcase_add_test(tc, nul_bytes_are_data);
	tcase_add_test(tc, bare_cr_is_data);
	tcase_add_test(tc, bare_lf_is_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
