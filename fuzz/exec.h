/* exec.h: the part shared by the fuzz targets that run a real nqmail
 * program (fuzz_smtpd, fuzz_inject) instead of a lib function.
 *
 * The program comes from the sanitizer build's install root, NQ_FUZZ_ROOT
 * (default build/fuzz/root, made by `make fuzz-progs`). Each input is
 * written to a scratch file that becomes the program's stdin; stdout goes
 * to another (see below); stderr is kept, so that a sanitizer report
 * shows in the fuzzer's log. The child gets 10 s (alarm survives exec). A sanitizer
 * report (exit code 77, set below) or death by any signal but SIGALRM
 * aborts the fuzzer, which saves the input as a crash.
 *
 * The program's own coverage does not reach libFuzzer (it is another
 * process). What the program prints stands in for it: each output line
 * gives a token (its start up to a space or ':', as "250" or "subject"),
 * and every pair of successive tokens, with the exit status, bumps one of
 * libFuzzer's extra counters, so an input that leads the session or the
 * header to a new sequence of replies or fields is kept in the corpus.
 * Slower and weaker than the in-process targets, but they test the real
 * command loop and header code from the real entry point. */
#ifndef FUZZ_EXEC_H
#define FUZZ_EXEC_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUZZ_SAN_EXIT 77

static char fuzz_prog[4096];
static char fuzz_input[64];
static char fuzz_output[64];

#define FUZZ_COUNTERS 8192
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t fuzz_counters[FUZZ_COUNTERS];

static void fuzz_bump(uint32_t h)
{
	uint8_t *c = &fuzz_counters[h % FUZZ_COUNTERS];
	if (*c < 255) ++*c;
}

static uint32_t fuzz_token(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n && i < 16 && s[i] != ' ' && s[i] != ':' && s[i] != '\r'; ++i) {
		char c = s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] + 32) : s[i];
		h = (h ^ (uint8_t)c) * 16777619u;
	}
	return h;
}

/* The output's line-token pairs and the exit status, as coverage. */
static void fuzz_feedback(int status)
{
	char buf[65536];
	uint32_t prev = 0;
	ssize_t n;
	size_t i = 0;
	int fd = open(fuzz_output, O_RDONLY);
	if (fd == -1) abort();
	n = read(fd, buf, sizeof buf);
	close(fd);
	while (n > 0 && i < (size_t)n) {
		const char *nl = memchr(buf + i, '\n', (size_t)n - i);
		size_t len = nl ? (size_t)(nl - (buf + i)) : (size_t)n - i;
		uint32_t t = fuzz_token(buf + i, len);
		fuzz_bump(prev * 31u + t);
		prev = t;
		i += len + 1;
	}
	fuzz_bump(prev * 31u + (uint32_t)status);
}

static void fuzz_exec_cleanup(void)
{
	unlink(fuzz_input);
	unlink(fuzz_output);
}

static void fuzz_exec_init(const char *prog)
{
	const char *root = getenv("NQ_FUZZ_ROOT");
	int fd;
	char cwd[2048];
	if (!root) {
		if (!getcwd(cwd, sizeof cwd)) abort();
		if ((size_t)snprintf(fuzz_prog, sizeof fuzz_prog, "%s/build/fuzz/root/bin/%s", cwd,
		                     prog) >= sizeof fuzz_prog)
			abort();
	} else if ((size_t)snprintf(fuzz_prog, sizeof fuzz_prog, "%s/bin/%s", root, prog) >=
	           sizeof fuzz_prog) {
		abort();
	}
	if (access(fuzz_prog, X_OK) == -1) {
		fprintf(stderr, "fuzz: no %s (run make fuzz-progs or set NQ_FUZZ_ROOT)\n", fuzz_prog);
		exit(1);
	}
	memcpy(fuzz_input, "/tmp/nq-fuzz-in.XXXXXX", 23);
	memcpy(fuzz_output, "/tmp/nq-fuzz-out.XXXXXX", 24);
	fd = mkstemp(fuzz_input);
	if (fd == -1) abort();
	close(fd);
	fd = mkstemp(fuzz_output);
	if (fd == -1) abort();
	close(fd);
	atexit(fuzz_exec_cleanup);
	setenv("ASAN_OPTIONS", "detect_leaks=0:exitcode=77:abort_on_error=0", 1);
	setenv("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1:exitcode=77", 1);
}

/* Runs the program with argv and extra "NAME=value" entries added to the
 * environment, the input on stdin; aborts on a sanitizer report or crash. */
static void fuzz_exec_run(char *const argv[], char *const envp[], const uint8_t *data,
                          size_t size)
{
	int fd = open(fuzz_input, O_WRONLY | O_TRUNC);
	pid_t pid;
	int status;
	if (fd == -1) abort();
	if (size && write(fd, data, size) != (ssize_t)size) abort();
	close(fd);
	pid = fork();
	if (pid == -1) abort();
	if (pid == 0) {
		int in = open(fuzz_input, O_RDONLY), out = open(fuzz_output, O_WRONLY | O_TRUNC);
		if (in == -1 || out == -1) _exit(1);
		dup2(in, 0);
		dup2(out, 1);
		for (size_t i = 0; envp && envp[i]; ++i) putenv(envp[i]);
		alarm(10);
		execv(fuzz_prog, argv);
		_exit(1);
	}
	/* libFuzzer's own SIGALRM (its -timeout clock) interrupts the wait */
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) abort();
	if (WIFEXITED(status) && WEXITSTATUS(status) == FUZZ_SAN_EXIT) {
		fprintf(stderr, "fuzz: %s: sanitizer report\n", fuzz_prog);
		abort();
	}
	if (WIFSIGNALED(status) && WTERMSIG(status) != SIGALRM) {
		fprintf(stderr, "fuzz: %s: killed by signal %d\n", fuzz_prog, WTERMSIG(status));
		abort();
	}
	fuzz_feedback(status);
}

#endif
