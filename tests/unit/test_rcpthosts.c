/* Unit tests for lib/rcpthosts, in a scratch directory with control/. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rcpthosts.h"

static void in_scratch(const char *rcpthosts)
{
	char tmpl[] = "/tmp/test_rcpthosts.XXXXXX";
	FILE *f;
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(chdir(tmpl), 0);
	ck_assert_int_eq(mkdir("control", 0755), 0);
	if (!rcpthosts) return;
	f = fopen("control/rcpthosts", "w");
	ck_assert_ptr_nonnull(f);
	fputs(rcpthosts, f);
	fclose(f);
}

static int allows(const struct rcpthosts *rh, const char *a)
{
	return rcpthosts_allows(rh, a, strlen(a));
}

START_TEST(no_file_allows_everything)
{
	struct rcpthosts rh;
	in_scratch(0);
	ck_assert_int_eq(rcpthosts_open(&rh), 0);
	ck_assert_int_eq(rh.present, 0);
	ck_assert_int_eq(allows(&rh, "x@anything.test"), 1);
	rcpthosts_free(&rh);
}
END_TEST

START_TEST(lines_and_wildcards)
{
	struct rcpthosts rh;
	in_scratch("zeta.test\nExample.COM\n.wild.test\n# note\n\nalpha.test \n");
	ck_assert_int_eq(rcpthosts_open(&rh), 0);
	ck_assert_int_eq(rh.count, 4);
	ck_assert_int_eq(allows(&rh, "a@example.com"), 1);
	ck_assert_int_eq(allows(&rh, "a@EXAMPLE.com"), 1);
	ck_assert_int_eq(allows(&rh, "a@alpha.test"), 1);
	ck_assert_int_eq(allows(&rh, "a@zeta.test"), 1);
	ck_assert_int_eq(allows(&rh, "a@sub.wild.test"), 1);
	ck_assert_int_eq(allows(&rh, "a@wild.test"), 0);
	ck_assert_int_eq(allows(&rh, "a@.wild.test"), 0);
	ck_assert_int_eq(allows(&rh, "a@sub.example.com"), 0);
	ck_assert_int_eq(allows(&rh, "a@example.com."), 0);
	ck_assert_int_eq(allows(&rh, "a@"), 0);
	ck_assert_int_eq(allows(&rh, "a@example.com@foreign.test"), 0);
	ck_assert_int_eq(allows(&rh, "a@foreign.test@example.com"), 1);
	ck_assert_int_eq(allows(&rh, "postmaster"), 1);
	ck_assert_int_eq(allows(&rh, "# note"), 1); /* no '@' */
	ck_assert_int_eq(allows(&rh, "x@# note"), 0);
	rcpthosts_free(&rh);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rcpthosts");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, no_file_allows_everything);
	tcase_add_test(tc, lines_and_wildcards);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
