/* qq: see qq.h. */
#include "qq.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto.h"
#include "durable.h"
#include "env.h"

const char *qq_program(void)
{
	const char *p = env_get("QMAILQUEUE");
	return (p && *p) ? p : AUTO_PREFIX "/bin/qmail-queue";
}

/* A pipe whose ends are close-on-exec and above fd 1, so that the queue
 * program gets exactly its fd 0 and fd 1 from us and dup2 never meets
 * an end that is already in place. */
static int pipe_high(int p[2])
{
	if (pipe(p) == -1) return -1;
	for (int i = 0; i < 2; ++i) {
		int fd;
		if (p[i] > 1) {
			fcntl(p[i], F_SETFD, FD_CLOEXEC);
			continue;
		}
		fd = fcntl(p[i], F_DUPFD_CLOEXEC, 2);
		if (fd == -1) {
			int e = errno;
			close(p[0]);
			close(p[1]);
			errno = e;
			return -1;
		}
		close(p[i]);
		p[i] = fd;
	}
	return 0;
}

/* What the child needs, kept out of qq_open's frame: after vfork the
 * child runs on the parent's stack, and nothing it reads may live in
 * registers that the compiler thinks vfork could clobber. */
static struct {
	char *argv[2];
	int in, out;
	struct sigaction sa;
} child;

/* vfork rather than fork: the queue program starts once per message, and
 * vfork copies no page tables. The child only rearranges its descriptors
 * and signal disposition (system calls only, nothing of ours written) and
 * execs; if that fails, exit 120 reports it as qmail's qmail_open does. */
static pid_t start_queue(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		if (dup2(child.in, 0) == -1 || dup2(child.out, 1) == -1) _exit(120);
		sigaction(SIGPIPE, &child.sa, 0);
		execv(child.argv[0], child.argv);
		_exit(120);
	}
	return pid;
}

int qq_open(struct qq *q)
{
	int pm[2], pe[2];
	q->failed = 0;
	q->env.s = 0;
	q->env.len = q->env.cap = 0;
	if (pipe_high(pm) == -1) return -1;
	if (pipe_high(pe) == -1) {
		close(pm[0]);
		close(pm[1]);
		return -1;
	}
	memset(&child, 0, sizeof child);
	child.argv[0] = (char *)qq_program();
	child.in = pm[0];
	child.out = pe[0];
	child.sa.sa_handler = SIG_DFL;
	q->pid = start_queue();
	close(pm[0]);
	close(pe[0]);
	if (q->pid == -1) {
		close(pm[1]);
		close(pe[1]);
		return -1;
	}
	q->fdm = pm[1];
	q->fde = pe[1];
	buf_init_write(&q->out, q->fdm, q->space, sizeof q->space);
	return 0;
}

void qq_put(struct qq *q, const char *data, size_t len)
{
	if (!q->failed && buf_put(&q->out, data, len) == -1) q->failed = 1;
}

void qq_puts(struct qq *q, const char *s) { qq_put(q, s, strlen(s)); }
void qq_fail(struct qq *q) { q->failed = 1; }

void qq_from(struct qq *q, const char *sender)
{
	if (!q->failed && buf_flush(&q->out) == -1) q->failed = 1;
	close(q->fdm);
	q->fdm = -1;
	str_cats(&q->env, "F");
	str_cats(&q->env, sender);
	str_catc(&q->env, 0);
}

void qq_to(struct qq *q, const char *recip)
{
	str_cats(&q->env, "T");
	str_cats(&q->env, recip);
	str_catc(&q->env, 0);
}

const char *qq_exit_report(int code)
{
	switch (code) {
	case 0: return "";
	case 11: case 115: /* 115: what old qmail-queues gave for 11 */
		return "Denvelope address too long for qq (#5.1.3)";
	case 31: return "Dmail server permanently rejected message (#5.3.0)";
	case 51: return "Zqq out of memory (#4.3.0)";
	case 52: return "Zqq timeout (#4.3.0)";
	case 53: return "Zqq write error or disk full (#4.3.0)";
	case 54: return "Zqq read error (#4.3.0)";
	case 55: return "Zqq unable to read configuration (#4.3.0)";
	case 56: return "Zqq trouble making network connection (#4.3.0)";
	case 61: return "Zqq trouble in home directory (#4.3.0)";
	case 62: case 63: case 64: case 65: case 66:
		return "Zqq trouble creating files in queue (#4.3.0)";
	case 71: return "Zmail server temporarily rejected message (#4.3.0)";
	case 72: return "Zconnection to mail server timed out (#4.4.1)";
	case 73: return "Zconnection to mail server rejected (#4.4.1)";
	case 74: return "Zcommunication with mail server failed (#4.4.2)";
	/* 91 (envelope format error) is temporary, as qmail-queue(8) says
	 * of every code outside 11-40: the sender's program is at fault, not
	 * the message, and a fixed program delivers it on the next try. */
	case 81: case 91: return "Zqq internal bug (#4.3.0)";
	case 120: return "Zunable to exec qq (#4.3.0)";
	default:
		if (code >= 11 && code <= 40) return "Dqq permanent problem (#5.3.0)";
		return "Zqq temporary problem (#4.3.0)";
	}
}

const char *qq_close(struct qq *q)
{
	int status;
	pid_t r;
	if (q->fdm != -1) {
		if (!q->failed && buf_flush(&q->out) == -1) q->failed = 1;
		close(q->fdm);
		q->fdm = -1;
	}
	str_catc(&q->env, 0);
	/* An aborted injection sends no envelope, so qmail-queue gives up. */
	if (!q->failed && durable_write_all(q->fde, q->env.s, q->env.len) == -1) q->failed = 1;
	close(q->fde);
	str_free(&q->env);
	do r = waitpid(q->pid, &status, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1) return "Zqq waitpid surprise (#4.3.0)";
	if (!WIFEXITED(status)) return "Zqq crashed (#4.3.0)";
	if (q->failed && WEXITSTATUS(status) == 0) return "Zqq write error (#4.3.0)";
	return qq_exit_report(WEXITSTATUS(status));
}

const char *qq_inject_fd(const char *head, size_t headlen, int fd, const char *sender,
                         char *const recips[], size_t n, unsigned long *qp)
{
	static struct str report = STR_INIT;
	struct qq q;
	char space[8192];
	int read_errno = 0;
	const char *r;

	*qp = 0;
	if (qq_open(&q) == -1) {
		report.len = 0;
		str_cats(&report, "Zqq unable to start ");
		str_cats(&report, qq_program());
		str_cats(&report, ": ");
		str_cats(&report, strerror(errno));
		str_cats(&report, " (#4.3.0)");
		return str_cstr(&report);
	}
	*qp = (unsigned long)q.pid;
	qq_put(&q, head, headlen);
	for (;;) {
		ssize_t got = read(fd, space, sizeof space);
		if (got == 0) break;
		if (got < 0) {
			if (errno == EINTR) continue;
			read_errno = errno;
			/* No envelope follows, so the queue program drops the message. */
			qq_fail(&q);
			break;
		}
		qq_put(&q, space, (size_t)got);
	}
	qq_from(&q, sender);
	for (size_t i = 0; i < n; ++i) qq_to(&q, recips[i]);
	r = qq_close(&q);
	if (!read_errno) return r;
	report.len = 0;
	str_cats(&report, "Zunable to read message: ");
	str_cats(&report, strerror(read_errno));
	str_cats(&report, " (#4.3.0)");
	return str_cstr(&report);
}
