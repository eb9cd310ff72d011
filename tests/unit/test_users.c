/* Unit tests for lib/users: users/cdb lookups in qmail's layout and the
 * parsing of qmail-getpw's answers. Each test works in a fresh temporary
 * directory that stands for the install root. */
#include <cdb.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "users.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_users.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(mkdir("users", 0755), 0);
}

static void teardown(void)
{
	/* Only files the tests create live here. */
	unlink("users/cdb");
	unlink("getpw");
	rmdir("users");
	ck_assert_int_eq(chdir("/"), 0);
	rmdir(dir);
}

static void add(struct cdb_make *m, const char *key, size_t klen, const char *val, size_t vlen)
{
	ck_assert_int_eq(cdb_make_add(m, key, (unsigned)klen, val, (unsigned)vlen), 0);
}

#define ADD(m, k, v) add((m), (k), sizeof(k) - 1, (v), sizeof(v) - 1)

/* The example of qmail-users(5), as qmail-newu would compile it. */
static void make_example_cdb(void)
{
	struct cdb_make m;
	int fd = open("users/cdb", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(cdb_make_start(&m, fd), 0);
	ADD(&m, "!",
	    "alias\0"
	    "7790\0"
	    "2108\0"
	    "/var/qmail/alias\0"
	    "-\0");
	ADD(&m, "!joe-",
	    "joe\0"
	    "507\0"
	    "100\0"
	    "/home/joe\0"
	    "-\0");
	ADD(&m, "!joe\0",
	    "joe\0"
	    "507\0"
	    "100\0"
	    "/home/joe\0"
	    "\0");
	ADD(&m, "!list-",
	    "lists\0"
	    "600\0"
	    "60\0"
	    "/home/lists\0"
	    "-\0"
	    "l-");
	ADD(&m, "", "-");
	ck_assert_int_eq(cdb_make_finish(&m), 0);
	close(fd);
}

static void expect(const char *local, const char *user, unsigned long uid, const char *home,
                   const char *dash, const char *ext)
{
	struct users_entry e = USERS_ENTRY_INIT;
	ck_assert_int_eq(users_lookup(local, strlen(local), &e), 1);
	ck_assert_str_eq(str_cstr(&e.user), user);
	ck_assert_uint_eq(e.uid, uid);
	ck_assert_str_eq(str_cstr(&e.home), home);
	ck_assert_str_eq(str_cstr(&e.dash), dash);
	ck_assert_str_eq(str_cstr(&e.ext), ext);
	users_entry_free(&e);
}

START_TEST(simple_beats_wildcards)
{
	make_example_cdb();
	expect("joe", "joe", 507, "/home/joe", "", "");
	expect("JOE", "joe", 507, "/home/joe", "", "");
}
END_TEST

START_TEST(longest_wildcard_wins)
{
	make_example_cdb();
	expect("joe-direct", "joe", 507, "/home/joe", "-", "direct");
	/* The rest keeps its case: it names a .qmail file. */
	expect("Joe-Direct", "joe", 507, "/home/joe", "-", "Direct");
	expect("list-Foo", "lists", 600, "/home/lists", "-", "l-Foo");
	expect("bill", "alias", 7790, "/var/qmail/alias", "-", "bill");
	expect("joey", "alias", 7790, "/var/qmail/alias", "-", "joey");
	expect("", "alias", 7790, "/var/qmail/alias", "-", "");
}
END_TEST

static void write_getpw(const char *body)
{
	FILE *f = fopen("getpw", "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod("getpw", 0755), 0);
	users_getpw_program("./getpw");
}

START_TEST(falls_back_to_getpw)
{
	write_getpw(
	    "printf 'mary\\0001001\\000100\\000/home/mary\\000-\\000%s\\000' \"${1#mary-}\"");
	expect("mary-x", "mary", 1001, "/home/mary", "-", "x");
	/* Not listed in users/cdb: qmail-getpw decides. */
	make_example_cdb();
	unlink("users/cdb");
	expect("mary-y", "mary", 1001, "/home/mary", "-", "y");
}
END_TEST

START_TEST(getpw_exit_codes)
{
	struct users_entry e = USERS_ENTRY_INIT;
	write_getpw("exit 116");
	ck_assert_int_eq(users_lookup("x", 1, &e), 0);
	ck_assert_str_eq(users_reason(), "Unable to find alias user!");
	write_getpw("exit 111");
	ck_assert_int_eq(users_lookup("x", 1, &e), -1);
	write_getpw("printf 'garbage'");
	ck_assert_int_eq(users_lookup("x", 1, &e), -1);
	users_getpw_program("./no-such-program");
	ck_assert_int_eq(users_lookup("x", 1, &e), -1);
	ck_assert_str_eq(users_reason(), "Unable to run qmail-getpw.");
	users_entry_free(&e);
}
END_TEST

START_TEST(corrupt_cdb_is_temporary)
{
	struct users_entry e = USERS_ENTRY_INIT;
	int fd = open("users/cdb", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(write(fd, "short", 5), 5);
	close(fd);
	ck_assert_int_eq(users_lookup("joe", 3, &e), -1);
	ck_assert_str_eq(users_reason(), "Trouble reading users/cdb.");
	users_entry_free(&e);
}
END_TEST

START_TEST(parses_fields)
{
	struct users_entry e = USERS_ENTRY_INIT;
	ck_assert_int_eq(users_parse("u\0"
	                             "1\0"
	                             "2\0"
	                             "/h\0"
	                             "-\0"
	                             "e\0",
	                             15, &e),
	                 1);
	ck_assert_str_eq(str_cstr(&e.ext), "e");
	ck_assert_int_eq(users_parse("u\0"
	                             "1\0"
	                             "2\0"
	                             "/h\0"
	                             "\0",
	                             11, &e),
	                 1);
	ck_assert_str_eq(str_cstr(&e.ext), "");
	ck_assert_int_eq(users_parse("u\0"
	                             "x\0"
	                             "2\0"
	                             "/h\0"
	                             "\0",
	                             11, &e),
	                 0);
	ck_assert_int_eq(users_parse("u\0"
	                             "1\0"
	                             "2\0"
	                             "/h",
	                             9, &e),
	                 0);
	ck_assert_int_eq(users_parse("", 0, &e), 0);
	ck_assert_int_eq(users_lookup("a\0b", 3, &e), 0);
	users_entry_free(&e);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, simple_beats_wildcards);
	tcase_add_test(tc, longest_wildcard_wins);
	tcase_add_test(tc, falls_back_to_getpw);
	tcase_add_test(tc, getpw_exit_codes);
	tcase_add_test(tc, corrupt_cdb_is_temporary);
	tcase_add_test(tc, parses_fields);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
