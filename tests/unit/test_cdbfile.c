/* Unit tests for lib/cdbfile: files written by tinycdb's cdb_make are read
 * back by our reader (many keys, duplicates, empty keys and values, binary
 * keys), and damaged files are errors, never reads outside the file. */
#include <cdb.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdbfile.h"

static char path[64];

static void scratch(void)
{
	char tmpl[] = "/tmp/test_cdbfile.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(chdir(tmpl), 0);
	snprintf(path, sizeof path, "%s/t.cdb", tmpl);
}

static void key_of(unsigned i, char *buf, size_t *len)
{
	*len = (size_t)snprintf(buf, 32, "key-%u", i);
}

/* n keys key-0 .. key-(n-1) with value "v" i, plus "" -> "empty", a key
 * with NUL bytes, and "dup" twice (first "one", then "two"). */
static void make(unsigned n)
{
	struct cdb_make m;
	char k[32], v[32];
	size_t kl;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cdb_make_start(&m, fd), 0);
	for (unsigned i = 0; i < n; ++i) {
		key_of(i, k, &kl);
		int vl = snprintf(v, sizeof v, "v%u", i);
		ck_assert_int_eq(cdb_make_add(&m, k, (unsigned)kl, v, (unsigned)vl), 0);
	}
	ck_assert_int_eq(cdb_make_add(&m, "", 0, "empty", 5), 0);
	ck_assert_int_eq(cdb_make_add(&m, "a\0b", 3, "", 0), 0);
	ck_assert_int_eq(cdb_make_add(&m, "dup", 3, "one", 3), 0);
	ck_assert_int_eq(cdb_make_add(&m, "dup", 3, "two", 3), 0);
	ck_assert_int_eq(cdb_make_finish(&m), 0);
	close(fd);
}

static int lookup(const char *k, size_t kl, struct str *out)
{
	return cdbfile_lookup(path, k, kl, out);
}

START_TEST(reads_what_tinycdb_writes)
{
	struct str out = STR_INIT;
	struct cdbfile c;
	char k[32];
	size_t kl;
	scratch();
	make(5000);
	ck_assert_int_eq(cdbfile_open(&c, path), 1);
	for (unsigned i = 0; i < 5000; ++i) {
		char want[32];
		key_of(i, k, &kl);
		int wl = snprintf(want, sizeof want, "v%u", i);
		ck_assert_int_eq(cdbfile_find(&c, k, kl), 1);
		ck_assert_int_eq(cdbfile_value(&c, &out), 0);
		ck_assert_uint_eq(out.len, (size_t)wl);
		ck_assert_int_eq(memcmp(out.s, want, out.len), 0);
	}
	key_of(5000, k, &kl);
	ck_assert_int_eq(cdbfile_find(&c, k, kl), 0);
	ck_assert_int_eq(cdbfile_find(&c, "key-1x", 6), 0);
	ck_assert_int_eq(cdbfile_find(&c, "key-", 4), 0);
	cdbfile_close(&c);

	ck_assert_int_eq(lookup("", 0, &out), 1);
	ck_assert_uint_eq(out.len, 5);
	ck_assert_int_eq(memcmp(out.s, "empty", 5), 0);
	ck_assert_int_eq(lookup("a\0b", 3, &out), 1);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_int_eq(lookup("a", 1, &out), 0);
	ck_assert_int_eq(lookup("dup", 3, &out), 1); /* the first one wins */
	ck_assert_int_eq(memcmp(out.s, "one", 3), 0);
	str_free(&out);
}
END_TEST

START_TEST(empty_database_and_missing_file)
{
	struct str out = STR_INIT;
	struct cdb_make m;
	int fd;
	scratch();
	ck_assert_int_eq(lookup("x", 1, &out), 0); /* no such file */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_eq(cdb_make_start(&m, fd), 0);
	ck_assert_int_eq(cdb_make_finish(&m), 0);
	close(fd);
	ck_assert_int_eq(lookup("x", 1, &out), 0);
	ck_assert_int_eq(lookup("", 0, &out), 0);
	str_free(&out);
}
END_TEST

START_TEST(damaged_files_are_errors)
{
	struct str out = STR_INIT;
	unsigned char hdr[2048];
	int fd;
	scratch();
	make(10);
	/* cut short: the tables are gone */
	ck_assert_int_eq(truncate(path, 2100), 0);
	errno = 0;
	ck_assert_int_eq(lookup("key-3", 5, &out), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* shorter than the header */
	ck_assert_int_eq(truncate(path, 100), 0);
	ck_assert_int_eq(lookup("key-3", 5, &out), -1);
	/* every table pointing far outside the file */
	memset(hdr, 0xff, sizeof hdr);
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	close(fd);
	ck_assert_int_eq(lookup("key-3", 5, &out), -1);
	/* a full table whose slots all point at a record that never matches */
	for (unsigned i = 0; i < 256; ++i) {
		unsigned char *p = hdr + i * 8;
		p[0] = 0x00, p[1] = 0x08, p[2] = 0, p[3] = 0; /* tables at 2048 */
		p[4] = 1, p[5] = p[6] = p[7] = 0;             /* one slot */
	}
	unsigned char slot[8] = {0, 0, 0, 0, 0x00, 0x08, 0, 0}; /* hash 0, record at 2048 */
	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
	ck_assert_int_eq(write(fd, slot, sizeof slot), (ssize_t)sizeof slot);
	close(fd);
	ck_assert_int_eq(lookup("key-3", 5, &out), 0);
	str_free(&out);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cdbfile");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;
	tcase_add_test(tc, reads_what_tinycdb_writes);
	tcase_add_test(tc, empty_database_and_missing_file);
	tcase_add_test(tc, damaged_files_are_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
