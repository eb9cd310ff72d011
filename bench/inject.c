/* bench/inject: runs COUNT qmail-queue injections from CONC processes,
 * so that the benchmark's injectors cost what a real client's do (a fork
 * and an exec each) rather than a Python interpreter's subprocess setup,
 * which took a large share of the 2 CPUs that qmail-queue, qmail-send and
 * qmail-local share with it.
 *
 * usage: inject QMAIL-QUEUE COUNT CONC SIZE TAG RECIPIENT
 * Message i is "Subject: TAG-i", a blank line and SIZE bytes of 'x' plus a
 * newline; the envelope sender is bench@bench.example. Prints the elapsed
 * seconds and the number of failed injections, and exits 1 if any failed.
 * A benchmark helper, not part of nqmail: compiled by bench/queue. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return -1;
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

/* One qmail-queue run: message on its fd 0, envelope on its fd 1. */
static int inject_one(const char *qq, const char *msg, size_t msglen, const char *env,
                      size_t envlen)
{
	int m[2], e[2], status;
	pid_t pid;
	if (pipe(m) == -1) return -1;
	if (pipe(e) == -1) {
		close(m[0]);
		close(m[1]);
		return -1;
	}
	pid = fork();
	if (pid == -1) return -1;
	if (pid == 0) {
		if (dup2(m[0], 0) == -1 || dup2(e[0], 1) == -1) _exit(111);
		close(m[0]);
		close(m[1]);
		close(e[0]);
		close(e[1]);
		execl(qq, qq, (char *)0);
		_exit(111);
	}
	close(m[0]);
	close(e[0]);
	int bad = write_all(m[1], msg, msglen);
	close(m[1]);
	if (!bad) bad = write_all(e[1], env, envlen);
	close(e[1]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) return -1;
	return bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ? -1 : 0;
}

/* Worker w injects messages w, w+conc, w+2*conc, ... and exits with the
 * number that failed (capped at 255). */
static int worker(const char *qq, long count, long conc, long w, long size, const char *tag,
                  const char *env, size_t envlen)
{
	size_t cap = (size_t)size + 256;
	char *msg = malloc(cap);
	int fails = 0;
	if (!msg) return 255;
	for (long i = w; i < count; i += conc) {
		int head = snprintf(msg, cap, "Subject: %s-%ld\n\n", tag, i);
		if (head < 0 || (size_t)head + (size_t)size + 1 > cap) return 255;
		memset(msg + head, 'x', (size_t)size);
		msg[head + size] = '\n';
		if (inject_one(qq, msg, (size_t)head + (size_t)size + 1, env, envlen) == -1 &&
		    fails < 255)
			++fails;
	}
	return fails;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: inject QMAIL-QUEUE COUNT CONC SIZE TAG RECIPIENT\n");
		return 2;
	}
	const char *qq = argv[1], *tag = argv[5], *rcpt = argv[6];
	long count = atol(argv[2]), conc = atol(argv[3]), size = atol(argv[4]);
	if (count < 0 || conc < 1 || size < 0 || size > 100000000) {
		fprintf(stderr, "inject: bad COUNT, CONC or SIZE\n");
		return 2;
	}
	static const char from[] = "Fbench@bench.example";
	size_t rlen = strlen(rcpt), envlen = sizeof from + 1 + rlen + 2;
	char *env = malloc(envlen);
	if (!env) return 2;
	memcpy(env, from, sizeof from); /* with its NUL */
	env[sizeof from] = 'T';
	memcpy(env + sizeof from + 1, rcpt, rlen);
	env[envlen - 2] = 0;
	env[envlen - 1] = 0;

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long w = 0; w < conc; ++w) {
		pid_t pid = fork();
		if (pid == -1) {
			perror("inject: fork");
			return 2;
		}
		if (pid == 0) _exit(worker(qq, count, conc, w, size, tag, env, envlen));
	}
	long fails = 0;
	int status;
	for (;;) {
		if (wait(&status) == -1) {
			if (errno == EINTR) continue;
			break;
		}
		fails += WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%.3f %ld\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
	       fails);
	return fails ? 1 : 0;
}
