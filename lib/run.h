/* run: starting the program a helper wraps, and reading how it ended.
 *
 * condredirect, bouncesaying, except and preline run the program named on
 * their command line (looked up on PATH, as a shell would) and act on its
 * exit code. A program that cannot be started makes the child exit 111
 * when the reason is temporary (run_errno_temporary) and 100 otherwise,
 * after printing why; so a caller sees every outcome as an exit code, or
 * RUN_CRASHED when the program was killed by a signal.
 *
 * Failing to fork or to wait is a temporary failure of the caller:
 * these functions end the program with exit 111 and a message.
 */
#ifndef NQ_RUN_H
#define NQ_RUN_H

#include <sys/types.h>

#define RUN_CRASHED (-1)

/* Starts argv[0] with argv. When fd0 is not -1 the program reads it as its
 * standard input. SIGPIPE is reset to its default in the program. */
pid_t run_start(char *const argv[], int fd0);
/* Waits for pid: its exit code 0..255, or RUN_CRASHED. */
int run_wait(pid_t pid);
/* run_start with the caller's standard input, then run_wait. */
int run_command(char *const argv[]);
/* Runs a test program as condredirect, bouncesaying and except do: 1 when
 * it exited 0, 0 for any other exit code. A crash or exit 111 (also a
 * temporary reason not to start) ends the caller with exit 111, so that
 * qmail-local tries the delivery again later. */
int run_test(char *const argv[]);
/* 1 when an errno value names a condition that may clear up by itself
 * (out of memory, busy, I/O error, disk full, ...): qmail's list. */
int run_errno_temporary(int e);

#endif
