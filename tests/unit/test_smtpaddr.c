/* Unit tests for lib/smtpaddr: the MAIL FROM / RCPT TO argument. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "smtpaddr.h"

static enum smtpaddr_result parse(const char *arg, const char *kw, struct str *a, size_t *p)
{
	return smtpaddr_parse(arg, strlen(arg), kw, a, p);
}

static void expect(const char *arg, const char *kw, const char *want, const char *params)
{
	struct str a = STR_INIT;
	size_t p = 99;
	enum smtpaddr_result r = parse(arg, kw, &a, &p);
	ck_assert_msg(r == SMTPADDR_OK, "%s: result %d", arg, r);
	ck_assert_msg(a.len == strlen(want) && (!a.len || !memcmp(a.s, want, a.len)), "%s: got %.*s", arg,
	              (int)a.len, a.s);
	ck_assert_str_eq(arg + p, params);
	str_free(&a);
}

static void expect_fail(const char *arg, const char *kw, enum smtpaddr_result want)
{
	struct str a = STR_INIT;
	size_t p;
	ck_assert_msg(parse(arg, kw, &a, &p) == want, "%s", arg);
	str_free(&a);
}

START_TEST(plain_forms)
{
	expect("FROM:<joe@example.com>", "FROM", "joe@example.com", "");
	expect("from: <joe@example.com>", "FROM", "joe@example.com", "");
	expect("FROM :<joe@example.com>", "FROM", "joe@example.com", "");
	expect("FROM <joe@example.com>", "FROM", "joe@example.com", "");
	expect("FROM:<>", "FROM", "", "");
	expect("TO:<postmaster>", "TO", "postmaster", "");
	expect("FROM:joe@example.com SIZE=10", "FROM", "joe@example.com", "SIZE=10");
	expect("FROM:<joe@example.com>  SIZE=10 BODY=8BITMIME", "FROM", "joe@example.com",
	       "SIZE=10 BODY=8BITMIME");
}
END_TEST

START_TEST(routes_quotes_escapes)
{
	expect("TO:<@a.test,@b.test:joe@c.test>", "TO", "joe@c.test", "");
	expect("TO:<@a.test:joe@c.test>", "TO", "joe@c.test", "");
	expect("TO:<\"joe doe\"@c.test>", "TO", "joe doe@c.test", "");
	expect("TO:<\"a>b\"@c.test>", "TO", "a>b@c.test", "");
	expect("TO:<a\\>b@c.test>", "TO", "a>b@c.test", "");
	expect("TO:<\"x@evil.test\"@c.test>", "TO", "x@evil.test@c.test", "");
	expect("TO:\"a b\"@c.test X=1", "TO", "a b@c.test", "X=1");
	/* qmail-smtpd takes the first "<...>" when "FROM:"/"TO:" is missing. */
	expect("<joe@example.com>", "FROM", "joe@example.com", "");
	expect("FROM <joe@example.com> SIZE=9", "FROM", "joe@example.com", "SIZE=9");
	expect("TO:<joe@example.com>", "FROM", "joe@example.com", "");
	expect("<>", "FROM", "", "");
}
END_TEST

START_TEST(refusals)
{
	char big[SMTPADDR_MAX + 20];
	expect_fail("FROM joe@example.com", "FROM", SMTPADDR_SYNTAX);
	expect_fail("joe@example.com", "TO", SMTPADDR_SYNTAX);
	expect_fail("", "FROM", SMTPADDR_SYNTAX);
	expect_fail("FROM:<joe@example.com", "FROM", SMTPADDR_SYNTAX);
	expect_fail("FROM:<@route.test>", "FROM", SMTPADDR_SYNTAX);
	expect_fail("FROM:<\"unclosed@x>", "FROM", SMTPADDR_SYNTAX);
	expect_fail("FROM:<a\rb@x>", "FROM", SMTPADDR_BADCHAR);
	expect_fail("FROM:<a\\\x01@x>", "FROM", SMTPADDR_BADCHAR);
	expect_fail("FROM:<a\x7f@x>", "FROM", SMTPADDR_BADCHAR);
	memcpy(big, "TO:<", 4);
	memset(big + 4, 'a', SMTPADDR_MAX + 1);
	memcpy(big + 4 + SMTPADDR_MAX + 1, ">", 2);
	expect_fail(big, "TO", SMTPADDR_TOOLONG);
}
END_TEST

START_TEST(nul_is_a_control_byte)
{
	struct str a = STR_INIT;
	size_t p;
	ck_assert_int_eq(smtpaddr_parse("TO:<a\0b@x>", 11, "TO", &a, &p), SMTPADDR_BADCHAR);
	str_free(&a);
}
END_TEST

START_TEST(params)
{
	const char *v;
	size_t n;
	unsigned long u = 7;
	const char *p = "BODY=8BITMIME size=1234 SMTPUTF8";
	ck_assert(smtpaddr_param(p, strlen(p), "SIZE", &v, &n));
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(mem_scan_ulong(v, n, &u), 4);
	ck_assert_uint_eq(u, 1234);
	ck_assert(smtpaddr_param(p, strlen(p), "SMTPUTF8", &v, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert(!smtpaddr_param(p, strlen(p), "BOD", &v, &n));
	ck_assert_uint_eq(mem_scan_ulong("12x", 3, &u), 2);
	ck_assert_uint_eq(u, 12);
	ck_assert_uint_eq(mem_scan_ulong("99999999999999999999999", 23, &u), 0);
	ck_assert_uint_eq(mem_scan_ulong("", 0, &u), 0);
	ck_assert_uint_eq(mem_scan_ulong("x1", 2, &u), 0);
	ck_assert_uint_eq(u, 12);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("smtpaddr");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, plain_forms);
	tcase_add_test(tc, routes_quotes_escapes);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, nul_is_a_control_byte);
	tcase_add_test(tc, params);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
