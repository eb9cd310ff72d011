/* Unit tests for lib/dotqmail: the .qmail line language. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dotqmail.h"

static int parse(const char *text, int forward_only, struct dotqmail *dq, struct str *why)
{
	static struct str buf;
	str_copys(&buf, text);
	return dotqmail_parse((char *)str_cstr(&buf), buf.len, forward_only, dq, why);
}

START_TEST(kinds_in_order)
{
	struct dotqmail dq;
	struct str why = STR_INIT;
	ck_assert_int_eq(parse("# c\n|prog a b  \n&a@b.cd\nx@y.org\n./Mailbox\n/m/Maildir/\n", 0, &dq, &why), 0);
	ck_assert_uint_eq(dq.n, 5);
	ck_assert_int_eq(dq.v[0].kind, DOTQMAIL_PROGRAM);
	ck_assert_str_eq(dq.v[0].text, "prog a b");
	ck_assert_int_eq(dq.v[1].kind, DOTQMAIL_FORWARD);
	ck_assert_str_eq(dq.v[1].text, "a@b.cd");
	ck_assert_str_eq(dq.v[2].text, "x@y.org");
	ck_assert_int_eq(dq.v[3].kind, DOTQMAIL_MBOX);
	ck_assert_int_eq(dq.v[4].kind, DOTQMAIL_MAILDIR);
	ck_assert_uint_eq(dq.files, 2);
	ck_assert_uint_eq(dq.forwards, 2);
	ck_assert_uint_eq(dq.programs, 1);
	dotqmail_free(&dq);
}
END_TEST

START_TEST(last_line_without_newline)
{
	struct dotqmail dq;
	struct str why = STR_INIT;
	ck_assert_int_eq(parse("./Mailbox", 0, &dq, &why), 0);
	ck_assert_uint_eq(dq.n, 1);
	ck_assert_str_eq(dq.v[0].text, "./Mailbox");
	dotqmail_free(&dq);
}
END_TEST

START_TEST(errors_name_the_line)
{
	struct dotqmail dq;
	struct str why = STR_INIT;
	ck_assert_int_eq(parse("\n./Mailbox\n", 0, &dq, &why), -1);
	ck_assert(strstr(str_cstr(&why), "first line") != 0);
	dotqmail_free(&dq);
	ck_assert_int_eq(parse("./Mailbox\n& me@x.y\n", 0, &dq, &why), -1);
	ck_assert(strstr(str_cstr(&why), "line 2") != 0);
	dotqmail_free(&dq);
	ck_assert_int_eq(parse("&a@b.cd\n|true\n", 1, &dq, &why), -1);
	ck_assert(strstr(str_cstr(&why), "x bit") != 0);
	dotqmail_free(&dq);
	ck_assert_int_eq(parse("+list\n./Mailbox\n", 0, &dq, &why), -1);
	dotqmail_free(&dq);
}
END_TEST

/* Records the names dotqmail_search offers; accepts the one named stop. */
struct seen {
	struct str names;
	const char *stop;
	struct str rest;
};

static int record(const char *name, const char *rest, void *ctx)
{
	struct seen *s = ctx;
	str_cats(&s->names, name);
	str_catc(&s->names, ' ');
	if (!s->stop || strcmp(name, s->stop) != 0) return 0;
	str_copys(&s->rest, rest ? rest : "(none)");
	return 1;
}

START_TEST(search_order_is_qmail_locals)
{
	struct seen s = {STR_INIT, 0, STR_INIT};
	ck_assert_int_eq(dotqmail_search("-", "Foo.Bar-baz", record, &s), 0);
	ck_assert_str_eq(str_cstr(&s.names),
	                 ".qmail-foo:bar-baz .qmail-foo:bar-default .qmail-default ");
	s.names.len = 0;
	s.stop = ".qmail-foo:bar-default";
	ck_assert_int_eq(dotqmail_search("-", "Foo.Bar-baz", record, &s), 1);
	ck_assert_str_eq(str_cstr(&s.rest), "baz"); /* DEFAULT keeps its case */
	ck_assert_str_eq(str_cstr(&s.names), ".qmail-foo:bar-baz .qmail-foo:bar-default ");
	/* an exact name that ends in "default" */
	s.names.len = 0;
	s.stop = ".qmail-list-default";
	ck_assert_int_eq(dotqmail_search("-", "list-default", record, &s), 1);
	ck_assert_str_eq(str_cstr(&s.rest), "default");
	/* no dash: the user's own .qmail, then .qmaildefault, as qmail */
	s.names.len = 0;
	s.stop = 0;
	ck_assert_int_eq(dotqmail_search("", "", record, &s), 0);
	ck_assert_str_eq(str_cstr(&s.names), ".qmail .qmaildefault ");
	str_free(&s.names);
	str_free(&s.rest);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dotqmail");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, kinds_in_order);
	tcase_add_test(tc, last_line_without_newline);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, search_order_is_qmail_locals);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
