/* preline: runs a command with the message on its standard input, after
 * putting qmail-local's envelope lines on top: the mbox "From " line
 * ($UFLINE), Return-Path ($RPLINE) and Delivered-To ($DTLINE).
 *
 * For programs (procmail, filters) that expect those lines in the message
 * rather than in the environment. -f, -r, -d leave out the From, Return-
 * Path and Delivered-To line; -F, -R, -D put them back. preline exits as
 * the command does; 111 when it crashed or the message could not be
 * passed on; 100 on a usage error; when the command cannot be started,
 * 111 if the reason is temporary and 100 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "die.h"
#include "durable.h"
#include "env.h"
#include "run.h"
#include "sig.h"

#define USAGE "preline [ -dfrDFR ] cmd [ arg ... ]"

static const char *need(const char *name)
{
	const char *v = env_get(name);
	if (!v) die_perm(name, " not set; preline expects the environment of a .qmail command");
	return v;
}

/* Writes data to the command. 0 ok; 1 the command stopped reading (its
 * exit code then tells the story); other errors are fatal. */
static int give(int fd, const char *data, size_t len, pid_t pid)
{
	if (durable_write_all(fd, data, len) == 0) return 0;
	if (errno == EPIPE) return 1;
	kill(pid, SIGKILL);
	die_temp_sys("unable to copy input");
}

int main(int argc, char *argv[])
{
	int want_uf = 1, want_rp = 1, want_dt = 1;
	const char *ufline, *rpline, *dtline;
	char space[65536];
	int pi[2], i, stopped = 0, code;
	pid_t pid;

	die_init("preline");
	sig_ignore(SIGPIPE);
	ufline = need("UFLINE");
	rpline = need("RPLINE");
	dtline = need("DTLINE");

	/* Options end at the first word that is not one, so that the command's
	 * own options (preline procmail -f x) are left alone. */
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; ++i) {
		if (strcmp(argv[i], "--") == 0) { ++i; break; }
		for (const char *o = argv[i] + 1; *o; ++o) {
			switch (*o) {
			case 'f': want_uf = 0; break;
			case 'r': want_rp = 0; break;
			case 'd': want_dt = 0; break;
			case 'F': want_uf = 1; break;
			case 'R': want_rp = 1; break;
			case 'D': want_dt = 1; break;
			default: die_usage(USAGE);
			}
		}
	}
	if (i >= argc) die_usage(USAGE);

	if (pipe(pi) == -1) die_temp_sys("unable to create pipe");
	/* Neither end may stay open in the command after the pipe is its fd 0,
	 * or it would never see the end of the message. */
	if (fcntl(pi[0], F_SETFD, FD_CLOEXEC) == -1 || fcntl(pi[1], F_SETFD, FD_CLOEXEC) == -1)
		die_temp_sys("unable to create pipe");
	pid = run_start(argv + i, pi[0]);
	close(pi[0]);

	if (want_uf) stopped = give(pi[1], ufline, strlen(ufline), pid);
	if (!stopped && want_rp) stopped = give(pi[1], rpline, strlen(rpline), pid);
	if (!stopped && want_dt) stopped = give(pi[1], dtline, strlen(dtline), pid);
	while (!stopped) {
		ssize_t got = read(0, space, sizeof space);
		if (got == 0) break;
		if (got < 0) {
			if (errno == EINTR) continue;
			/* Kill the command before it sees an end of input: a cut
			 * message must not be delivered as if it were whole. */
			kill(pid, SIGKILL);
			die_temp_sys("unable to read message");
		}
		stopped = give(pi[1], space, (size_t)got, pid);
	}
	close(pi[1]);

	code = run_wait(pid);
	if (code == RUN_CRASHED) die_temp("child crashed");
	return code;
}
