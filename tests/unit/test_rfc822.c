/* Unit tests for lib/rfc822: tokens, address-list walking, folding,
 * quoting. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "rfc822.h"

static void qualify(struct rfc822_tokens *addr, void *ctx)
{
	size_t i;
	int *count = ctx;
	++*count;
	if (addr->len == 0) return;
	for (i = 0; i < addr->len; ++i)
		if (addr->t[i].type == RFC822_AT) return;
	rfc822_append(addr, RFC822_AT, "", 0);
	rfc822_append(addr, RFC822_ATOM, "h.example", 9);
}

/* The field rewritten as qmail-inject would print it. */
static const char *rewrite(const char *field, int *count)
{
	static struct str out;
	struct rfc822_tokens in = RFC822_TOKENS_INIT, res = RFC822_TOKENS_INIT;
	*count = 0;
	ck_assert(rfc822_parse(&in, field, strlen(field)));
	ck_assert(rfc822_addrlist(&res, &in, 2, qualify, count));
	rfc822_unparse(&out, &res, 80);
	rfc822_free(&in);
	rfc822_free(&res);
	return str_cstr(&out);
}

START_TEST(rewrites_address_lists)
{
	int n;
	ck_assert_str_eq(rewrite("To: fred\n", &n), "To: fred@h.example\n");
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(rewrite("To: djb fred\n", &n), "To: djb@h.example, fred@h.example\n");
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(rewrite("To: Fred Smith <fred>, x (X)\n", &n),
	                 "To: Fred Smith <fred@h.example>, x@h.example (X)\n");
	ck_assert_str_eq(rewrite("Cc: list: a, b@c;\n", &n), "Cc: list: a@h.example, b@c;\n");
	ck_assert_str_eq(rewrite("From: <>\n", &n), "From: <>\n");
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(rewrite("To:\n", &n), "To:\n");
	ck_assert_int_eq(n, 0);
	ck_assert_str_eq(rewrite("To: \"a b\"@c, [1.2.3.4]\n", &n),
	                 "To: \"a b\"@c, [1.2.3.4]@h.example\n");
}
END_TEST

START_TEST(folds_long_lists)
{
	int n;
	const char *r =
	    rewrite("To: aaaaaaaaaaaaaaaaaaaa@x.example, bbbbbbbbbbbbbbbbbbbbbbbbb@x.example, "
	            "cccccccccccccccccccccccccccc@x.example, d@x.example\n",
	            &n);
	ck_assert_str_eq(
	    r, "To: aaaaaaaaaaaaaaaaaaaa@x.example, bbbbbbbbbbbbbbbbbbbbbbbbb@x.example,\n"
	       "  cccccccccccccccccccccccccccc@x.example, d@x.example\n");
}
END_TEST

START_TEST(parse_errors)
{
	struct rfc822_tokens t = RFC822_TOKENS_INIT, out = RFC822_TOKENS_INIT;
	int n = 0;
	ck_assert(!rfc822_parse(&t, "To: \"open", 9));
	rfc822_clear(&t);
	ck_assert(!rfc822_parse(&t, "To: (open", 9));
	rfc822_clear(&t);
	ck_assert(!rfc822_parse(&t, "To: )a", 6)); /* inside an atom it is kept */
	rfc822_clear(&t);
	ck_assert(!rfc822_parse(&t, "To: [1.2", 8));
	rfc822_clear(&t);
	/* A group start without its end. */
	ck_assert(rfc822_parse(&t, "To: g: a", 8));
	ck_assert(!rfc822_addrlist(&out, &t, 2, qualify, &n));
	rfc822_free(&t);
	rfc822_free(&out);
}
END_TEST

START_TEST(unquotes_and_quotes)
{
	struct rfc822_tokens t = RFC822_TOKENS_INIT;
	struct str s = STR_INIT;
	const char *in = "\"john smith\"@[1.2.3.4] (comment)";
	ck_assert(rfc822_parse(&t, in, strlen(in)));
	rfc822_unquote(&s, &t);
	ck_assert_str_eq(str_cstr(&s), "john smith@[1.2.3.4]");
	s.len = 0;
	rfc822_quote_addr(&s, "a b@c", 5);
	ck_assert_str_eq(str_cstr(&s), "\"a b\"@c");
	s.len = 0;
	rfc822_quote_addr(&s, "a.b@c", 5);
	ck_assert_str_eq(str_cstr(&s), "a.b@c");
	s.len = 0;
	rfc822_quote_addr(&s, ".a", 2);
	ck_assert_str_eq(str_cstr(&s), "\".a\"");
	ck_assert(rfc822_quote_needed("", 0));
	ck_assert(rfc822_quote_needed("a..b", 4));
	ck_assert(!rfc822_quote_needed("a+b-c", 5));
	rfc822_free(&t);
	str_free(&s);
}
END_TEST

START_TEST(escapes_in_output)
{
	int n;
	/* A backslash inside an atom makes it a quoted string on output. */
	ck_assert_str_eq(rewrite("To: a\\\\b@c\n", &n), "To: \"a\\\\b\"@c\n");
	ck_assert_str_eq(rewrite("To: x@y (a \\) b)\n", &n), "To: x@y (a \\) b)\n");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rfc822");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, rewrites_address_lists);
	tcase_add_test(tc, folds_long_lists);
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, unquotes_and_quotes);
	tcase_add_test(tc, escapes_in_output);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
