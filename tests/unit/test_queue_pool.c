/* Unit tests for lib/queue's pool: a given file is emptied and found
 * again (by probing or by reading the directory), a full pool refuses,
 * a missing pool/ is no error, and concurrent takers never get the same
 * file. Runs in a fresh directory under /tmp. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "queue.h"

static char dir[] = "/tmp/nq-pool-XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/nq-pool-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chdir(dir), 0);
	ck_assert_int_eq(mkdir("pool", 0700), 0);
	ck_assert_int_eq(mkdir("tmp", 0700), 0);
}

static void teardown(void)
{
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (chdir("/") != 0 || system(cmd) != 0) { /* left for /tmp's cleaner */ }
}

static ino_t make_file(const char *path, size_t size)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
	ck_assert_int_ne(fd, -1);
	for (size_t i = 0; i < size; ++i) ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	close(fd);
	return st.st_ino;
}

static int pool_count(void)
{
	int n = 0;
	char name[32];
	struct stat st;
	for (int s = 0; s < QUEUE_POOL_SLOTS; ++s) {
		snprintf(name, sizeof name, "pool/%d", s);
		if (stat(name, &st) == 0) ++n;
	}
	return n;
}

/* queue_pool_give only moves the file: once it is in pool/ a qmail-queue
 * may be writing into it, so emptying it is the caller's job, before. */
START_TEST(given_file_is_moved_untouched_and_taken_back)
{
	struct stat st;
	ino_t ino = make_file("tmp/rm.1", 5000);
	ck_assert_int_eq(queue_pool_give("tmp/rm.1", 1), 0);
	ck_assert_int_eq(access("tmp/rm.1", F_OK), -1);
	ck_assert_int_eq(pool_count(), 1);
	/* any seed finds it: a probe miss falls back to reading pool/ */
	ck_assert_int_eq(queue_pool_take("tmp/new", 12345), 0);
	ck_assert_int_eq(stat("tmp/new", &st), 0);
	ck_assert_uint_eq(st.st_ino, ino);
	ck_assert_int_eq(st.st_size, 5000);
	ck_assert_int_eq(pool_count(), 0);
	ck_assert_int_eq(queue_pool_take("tmp/other", 1), -1);
}
END_TEST

START_TEST(full_pool_refuses_and_keeps_the_file)
{
	char name[32];
	int given = 0;
	for (int s = 0; s < QUEUE_POOL_SLOTS; ++s) {
		snprintf(name, sizeof name, "pool/%d", s);
		make_file(name, 0);
	}
	make_file("tmp/rm.9", 10);
	ck_assert_int_eq(queue_pool_give("tmp/rm.9", 9), -1);
	ck_assert_int_eq(access("tmp/rm.9", F_OK), 0); /* the caller unlinks it */
	ck_assert_int_eq(pool_count(), QUEUE_POOL_SLOTS);
	/* with room again, giving works */
	ck_assert_int_eq(queue_pool_take("tmp/t", 3), 0);
	for (unsigned long seed = 0; seed < 4 * QUEUE_POOL_SLOTS && !given; ++seed)
		given = queue_pool_give("tmp/rm.9", seed) == 0;
	ck_assert(given);
}
END_TEST

START_TEST(no_pool_directory_is_no_error)
{
	ck_assert_int_eq(rmdir("pool"), 0);
	make_file("tmp/rm.2", 10);
	ck_assert_int_eq(queue_pool_give("tmp/rm.2", 2), -1);
	ck_assert_int_eq(access("tmp/rm.2", F_OK), 0);
	ck_assert_int_eq(queue_pool_take("tmp/new", 2), -1);
}
END_TEST

START_TEST(concurrent_takers_never_share_a_file)
{
	enum { FILES = 40, TAKERS = 8 };
	char name[32];
	int p[2];
	ino_t seen[FILES * 2];
	int nseen = 0;
	for (int i = 0; i < FILES; ++i) {
		snprintf(name, sizeof name, "tmp/rm.%d", i);
		make_file(name, 100);
		ck_assert_int_eq(queue_pool_give(name, (unsigned long)i * 7), 0);
	}
	ck_assert_int_eq(pipe(p), 0);
	for (int t = 0; t < TAKERS; ++t) {
		if (fork() == 0) {
			close(p[0]);
			for (int k = 0; k < FILES; ++k) {
				struct stat st;
				snprintf(name, sizeof name, "tmp/q.%d.%d", t, k);
				if (queue_pool_take(name, (unsigned long)(t * 1000 + k)) == -1) break;
				if (stat(name, &st) != 0 || write(p[1], &st.st_ino, sizeof st.st_ino) < 0) _exit(1);
			}
			_exit(0);
		}
	}
	close(p[1]);
	for (;;) {
		ino_t ino;
		ssize_t r = read(p[0], &ino, sizeof ino);
		if (r != (ssize_t)sizeof ino) break;
		for (int j = 0; j < nseen; ++j) ck_assert_uint_ne(seen[j], ino);
		ck_assert_int_lt(nseen, FILES * 2);
		seen[nseen++] = ino;
	}
	while (wait(0) > 0) continue;
	ck_assert_int_eq(nseen, FILES);
	ck_assert_int_eq(pool_count(), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue_pool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int failed;
	/* filling all QUEUE_POOL_SLOTS files takes seconds on a busy disk:
	 * more than Check's default of 4 */
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, given_file_is_moved_untouched_and_taken_back);
	tcase_add_test(tc, full_pool_refuses_and_keeps_the_file);
	tcase_add_test(tc, no_pool_directory_is_no_error);
	tcase_add_test(tc, concurrent_takers_never_share_a_file);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
