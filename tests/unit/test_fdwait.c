/* Unit tests for lib/fdwait on pipes: ready at once, the deadline kept
 * (also while a signal interrupts the wait again and again), write
 * readiness, and the three results told apart. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "fdwait.h"

static long ms_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void start(struct timespec *t0) { clock_gettime(CLOCK_MONOTONIC, t0); }

static void open_pipe(int p[2]) { ck_assert_int_eq(pipe(p), 0); }

START_TEST(read_ready_at_once)
{
	int p[2];
	struct timespec t0, past;
	open_pipe(p);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	start(&t0);
	ck_assert_int_eq(fdwait_read(p[0], 5), FDWAIT_READY);
	ck_assert_int_lt(ms_since(&t0), 100);
	/* a deadline already gone still looks once */
	fdwait_deadline(&past, 0);
	ck_assert_int_eq(fdwait_until(p[0], 0, &past), FDWAIT_READY);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(hangup_counts_as_ready)
{
	int p[2];
	char c;
	open_pipe(p);
	close(p[1]);
	ck_assert_int_eq(fdwait_read(p[0], 5), FDWAIT_READY);
	ck_assert_int_eq(read(p[0], &c, 1), 0);
	close(p[0]);
}
END_TEST

START_TEST(timeout_honoured)
{
	int p[2];
	struct timespec t0, d;
	long took;
	open_pipe(p);
	start(&t0);
	fdwait_deadline(&d, 200);
	errno = 0;
	ck_assert_int_eq(fdwait_until(p[0], 0, &d), FDWAIT_TIMEOUT);
	took = ms_since(&t0);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(took, 200);
	ck_assert_int_lt(took, 600);
	/* 0 seconds: one look, no wait */
	start(&t0);
	errno = 0;
	ck_assert_int_eq(fdwait_read(p[0], 0), FDWAIT_TIMEOUT);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_lt(ms_since(&t0), 100);
	close(p[0]);
	close(p[1]);
}
END_TEST

static volatile sig_atomic_t alarms;
static void on_alarm(int sig)
{
	(void)sig;
	++alarms;
}

/* A signal every 20 ms during a 300 ms wait: a wait that started its
 * time again after each EINTR would never end (Check's timeout would
 * fail the test). */
START_TEST(eintr_keeps_deadline)
{
	int p[2];
	struct sigaction sa;
	struct itimerval every = {{0, 20000}, {0, 20000}}, off;
	struct timespec t0, d;
	long took;
	int r;
	memset(&sa, 0, sizeof sa);
	memset(&off, 0, sizeof off);
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: poll sees EINTR */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, 0), 0);
	open_pipe(p);
	alarms = 0;
	start(&t0);
	fdwait_deadline(&d, 300);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &every, 0), 0);
	errno = 0;
	r = fdwait_until(p[0], 0, &d);
	setitimer(ITIMER_REAL, &off, 0);
	took = ms_since(&t0);
	ck_assert_int_eq(r, FDWAIT_TIMEOUT);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_ge(alarms, 3);
	ck_assert_int_ge(took, 300);
	ck_assert_int_lt(took, 800);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(write_readiness)
{
	int p[2];
	char block[4096];
	struct timespec t0, d;
	long took;
	int n = 0;
	memset(block, 'x', sizeof block);
	open_pipe(p);
	ck_assert_int_eq(fdwait_write(p[1], 5), FDWAIT_READY);
	/* fill the pipe: now a write would block */
	ck_assert_int_eq(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	while (n < 10000 && write(p[1], block, sizeof block) > 0)
		++n;
	ck_assert_int_eq(errno, EAGAIN);
	start(&t0);
	fdwait_deadline(&d, 150);
	ck_assert_int_eq(fdwait_until(p[1], 1, &d), FDWAIT_TIMEOUT);
	took = ms_since(&t0);
	ck_assert_int_ge(took, 150);
	ck_assert_int_lt(took, 600);
	/* empty it again: writable at once */
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < 10000 && read(p[0], block, sizeof block) > 0; ++i) {
	}
	start(&t0);
	ck_assert_int_eq(fdwait_write(p[1], 5), FDWAIT_READY);
	ck_assert_int_lt(ms_since(&t0), 100);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(closed_fd_is_an_error)
{
	int p[2];
	struct timespec t0;
	open_pipe(p);
	close(p[0]);
	close(p[1]);
	start(&t0);
	errno = 0;
	ck_assert_int_eq(fdwait_read(p[0], 5), FDWAIT_ERROR);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_int_eq(fdwait_write(p[1], 5), FDWAIT_ERROR);
	ck_assert_int_lt(ms_since(&t0), 100);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fdwait");
	TCase *tc = tcase_create("fdwait");
	int failed;
	tcase_set_timeout(tc, 3);
	tcase_add_test(tc, read_ready_at_once);
	tcase_add_test(tc, hangup_counts_as_ready);
	tcase_add_test(tc, timeout_honoured);
	tcase_add_test(tc, eintr_keeps_deadline);
	tcase_add_test(tc, write_readiness);
	tcase_add_test(tc, closed_fd_is_an_error);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
