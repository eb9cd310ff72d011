/* tlshelper: see tlshelper.h. */
#include "tlshelper.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "fdwait.h"

#define LINE_MAX_LEN 1024

/* In the child, every fd moves out of the way of 0, 1 and 3 first, so
 * that the dup2s below cannot overwrite one another. */
static int move_high(int fd) { return fcntl(fd, F_DUPFD_CLOEXEC, 10); }

int tlshelper_start(struct tlshelper *h, int netin, int netout, char *argv[])
{
	static char path[] = AUTO_PREFIX "/bin/qmail-tls";
	int sp[2];
	pid_t pid;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) return -1;
	pid = fork();
	if (pid == -1) {
		int e = errno;
		close(sp[0]);
		close(sp[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		int a = move_high(netin), b = move_high(netout), c = move_high(sp[1]);
		sigset_t none;
		if (a == -1 || b == -1 || c == -1) _exit(111);
		if (dup2(a, 0) == -1 || dup2(b, 1) == -1 || dup2(c, 3) == -1) _exit(111);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, 0);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGALRM, SIG_DFL);
		argv[0] = path;
		execv(path, argv);
		_exit(111);
	}
	close(sp[1]);
	h->pid = pid;
	h->fd = sp[0];
	return 0;
}

int tlshelper_status(struct tlshelper *h, struct str *line, unsigned timeout)
{
	struct timespec deadline;
	fdwait_deadline(&deadline, (unsigned long)timeout * 1000);
	line->len = 0;
	for (;;) {
		char c;
		ssize_t r;
		if (fdwait_until(h->fd, 0, &deadline) != FDWAIT_READY) return -1;
		r = read(h->fd, &c, 1);
		if (r == -1 && (errno == EINTR || errno == EAGAIN)) continue;
		if (r == -1) return -1;
		if (r == 0) {
			errno = 0;
			return -1;
		}
		if (c == '\n') return 0;
		if (line->len < LINE_MAX_LEN) str_catc(line, c);
	}
}

int tlshelper_is(const struct str *line, const char *word)
{
	size_t n = strlen(word);
	return line->len >= n && memcmp(line->s, word, n) == 0 && (line->len == n || line->s[n] == ' ');
}

const char *tlshelper_text(struct str *line)
{
	const char *s = str_cstr(line);
	const char *sp = strchr(s, ' ');
	return sp ? sp + 1 : "";
}

void tlshelper_end(struct tlshelper *h)
{
	if (h->fd >= 0) close(h->fd);
	h->fd = -1;
	if (h->pid > 0) waitpid(h->pid, 0, WNOHANG);
	h->pid = 0;
}
