/* Unit tests for lib/str and lib/addr. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "str.h"

START_TEST(grows_and_keeps_bytes)
{
	struct str s = STR_INIT;
	for (int i = 0; i < 10000; ++i) str_catc(&s, (char)(i & 0xff));
	ck_assert_uint_eq(s.len, 10000);
	for (int i = 0; i < 10000; ++i) ck_assert_int_eq((unsigned char)s.s[i], i & 0xff);
	str_free(&s);
}
END_TEST

START_TEST(numbers_and_cstr)
{
	struct str s = STR_INIT;
	str_copys(&s, "n=");
	str_catulong(&s, 0);
	str_catc(&s, ' ');
	str_catulong0(&s, 7, 3);
	str_catc(&s, ' ');
	str_catulong(&s, 18446744073709551615UL);
	ck_assert_str_eq(str_cstr(&s), "n=0 007 18446744073709551615");
	str_free(&s);
}
END_TEST

START_TEST(helpers_on_lengths)
{
	struct str s = STR_INIT;
	ck_assert_uint_eq(mem_chr("abc", 3, 'c'), 2);
	ck_assert_uint_eq(mem_chr("abc", 3, 'x'), 3);
	ck_assert_uint_eq(mem_rchr("a@b@c", 5, '@'), 3);
	ck_assert(mem_equal_nocase("FoO", "fOo", 3));
	str_copys(&s, "line \t\r\n");
	str_strip_trailing_space(&s);
	ck_assert(str_equals(&s, "line"));
	str_copys(&s, "x\r\n");
	str_chomp(&s);
	ck_assert(str_equals(&s, "x"));
	str_free(&s);
}
END_TEST

START_TEST(quotes_local_parts)
{
	struct str s = STR_INIT;
	addr_quote(&s, "joe@example.com", 15);
	ck_assert_str_eq(str_cstr(&s), "joe@example.com");
	s.len = 0;
	addr_quote(&s, "a b@example.com", 15);
	ck_assert_str_eq(str_cstr(&s), "\"a b\"@example.com");
	s.len = 0;
	addr_quote(&s, "#@[]", 4);
	ck_assert_str_eq(str_cstr(&s), "#@[]");
	str_free(&s);
}
END_TEST

START_TEST(forwardable_addresses)
{
	/* as in qmail, a bare user or a dotless domain is forwarded as it is */
	const char *good[] = {"me@new.job.com", "a-b+c@x.y", "u@[127.0.0.1]", "me@new",
	                      "me@localhost", "me"};
	const char *bad[] = {"", " me@new.job.com", "me@new.job.com (New Address)",
	                     "<me@new.job.com>", "@x.y", "me@", "u@[127.0.0.1"};
	for (size_t i = 0; i < sizeof good / sizeof *good; ++i)
		ck_assert_msg(addr_forwardable(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; ++i)
		ck_assert_msg(!addr_forwardable(bad[i], strlen(bad[i])), "%s", bad[i]);
}
END_TEST

START_TEST(verp_senders)
{
	struct str s = STR_INIT;
	const char *v = "list-owner-@host.example-@[]";
	addr_verp(&s, v, strlen(v), "joe@far.example", 15);
	ck_assert_str_eq(str_cstr(&s), "list-owner-joe=far.example@host.example");
	s.len = 0;
	addr_verp(&s, v, strlen(v), "nodomain", 8); /* no '@': unchanged */
	ck_assert_str_eq(str_cstr(&s), v);
	s.len = 0;
	addr_verp(&s, "a@b.c", 5, "joe@far.example", 15);
	ck_assert_str_eq(str_cstr(&s), "a@b.c");
	s.len = 0;
	addr_verp(&s, "x-@[]", 5, "joe@far.example", 15); /* no host: unchanged */
	ck_assert_str_eq(str_cstr(&s), "x-@[]");
	ck_assert_uint_eq(addr_verp_base(v, strlen(v)), strlen(v) - 4);
	ck_assert_uint_eq(addr_verp_base("#@[]", 4), 4);
	str_free(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("str");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, grows_and_keeps_bytes);
	tcase_add_test(tc, numbers_and_cstr);
	tcase_add_test(tc, helpers_on_lengths);
	tcase_add_test(tc, quotes_local_parts);
	tcase_add_test(tc, forwardable_addresses);
	tcase_add_test(tc, verp_senders);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
