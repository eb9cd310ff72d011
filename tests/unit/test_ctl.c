/* Unit tests for lib/ctl: how a number in a control file is read. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ctl.h"

static void write_file(const char *fn, const char *text)
{
	FILE *f = fopen(fn, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char dir[] = "/tmp/nqctl.XXXXXX";

static void in_scratch_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
}

static void remove_scratch_dir(void)
{
	const char *files[] = {"neg", "word", "num", "zero"};
	for (size_t i = 0; i < sizeof files / sizeof *files; ++i) unlink(files[i]);
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}

/* qmail's rule: a file whose first line does not start with a digit is
 * no setting at all, the program's default applies, and the caller is
 * told so (qmail-showctl then says "(Default.)"). */
START_TEST(numbers_and_defaults)
{
	unsigned long v;
	in_scratch_dir();
	ck_assert_int_eq(ctl_read_ulong("missing", &v, 10), 0);
	ck_assert_uint_eq(v, 10);
	write_file("neg", "-5\n");
	ck_assert_int_eq(ctl_read_ulong("neg", &v, 10), 0);
	ck_assert_uint_eq(v, 10);
	write_file("word", "none\n");
	ck_assert_int_eq(ctl_read_ulong("word", &v, 7), 0);
	ck_assert_uint_eq(v, 7);
	write_file("num", "42 messages\n");
	ck_assert_int_eq(ctl_read_ulong("num", &v, 10), 1);
	ck_assert_uint_eq(v, 42);
	write_file("zero", "0\n");
	ck_assert_int_eq(ctl_read_ulong("zero", &v, 10), 1);
	ck_assert_uint_eq(v, 0);
	remove_scratch_dir();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, numbers_and_defaults);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
