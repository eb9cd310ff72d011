/* spawn: see spawn.h. */
#define _GNU_SOURCE /* memfd_create */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "queue.h"
#include "sig.h"

void spawn_report_cat(struct str *report, const char *text, size_t len)
{
	for (size_t i = 0; i < len && report->len < SPAWN_REPORT_MAX; ++i)
		if (text[i]) str_catc(report, text[i]);
}

static int copy_range(int from, int to, off_t at, unsigned long len)
{
	char buf[65536];
	while (len) {
		size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
		ssize_t r = pread(from, buf, want, at);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) return -1;
		if (r == 0) { errno = EIO; return -1; }
		if (write(to, buf, (size_t)r) != r) {
			if (errno == 0) errno = EIO;
			return -1;
		}
		at += r;
		len -= (unsigned long)r;
	}
	return 0;
}

void spawn_prog_arg(struct spawn_prog *prog, const char *s)
{
	str_cats(&prog->args, s);
	str_catc(&prog->args, 0);
}

int spawn_message_fd(unsigned long id, unsigned long max)
{
	struct str fn = STR_INIT;
	struct queue_header h;
	int fd, out, e;
	queue_path(&fn, QUEUE_DIR "/mess", id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	str_free(&fn);
	if (fd == -1) return -1;
	if (queue_header_read(fd, &h) == -1) goto fail_in;
	if (h.msglen > max) {
		errno = EFBIG;
		goto fail_in;
	}
	/* The queue file is message+envelope; qmail-local wants just the
	 * message from offset 0 to end of file, so it gets a copy that lives
	 * in memory and disappears with the delivery. */
	out = memfd_create("message", MFD_CLOEXEC);
	if (out == -1) goto fail_in;
	if (copy_range(fd, out, QUEUE_HEADER_LEN, h.msglen) == -1) goto fail_both;
	if (lseek(out, 0, SEEK_SET) == -1) goto fail_both;
	close(fd);
	return out;
fail_both:
	e = errno;
	close(out);
	errno = e;
fail_in:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

static void cloexec(int fd) { fcntl(fd, F_SETFD, FD_CLOEXEC); }

/* The vfork child: only rearranges descriptors, becomes the user and
 * execs; it shares our memory, so it writes nothing but its own frame. */
static _Noreturn void prog_exec(const struct spawn_prog *prog, char **argv, int out,
                                const sigset_t *mask)
{
	if (dup2(prog->msgfd, 0) == -1 || dup2(out, 1) == -1 || dup2(out, 2) == -1) _exit(111);
	/* dup2 onto the same number keeps close-on-exec: clear it on all */
	if (fcntl(0, F_SETFD, 0) == -1 || fcntl(1, F_SETFD, 0) == -1 || fcntl(2, F_SETFD, 0) == -1)
		_exit(111);
	sig_default(SIGPIPE);
	sig_default(SIGCHLD);
	if (prog->uid != -1 &&
	    (geteuid() != (uid_t)prog->uid || getegid() != (gid_t)prog->gid)) {
		gid_t g = (gid_t)prog->gid;
		if (setgroups(1, &g) == -1 || setgid(g) == -1 || setuid((uid_t)prog->uid) == -1 ||
		    getuid() != (uid_t)prog->uid)
			_exit(111);
	}
	sigprocmask(SIG_SETMASK, mask, 0);
	execv(argv[0], argv);
	_exit(120); /* could not run it */
}

/* Starts prog (vfork+exec); its output is readable on *outfd. Returns
 * the pid, or -1 with errno set. */
static pid_t prog_start(const struct spawn_prog *prog, int *outfd)
{
	char **argv;
	size_t n = 0, pos = 0;
	int pi[2], e;
	sigset_t all, old;
	pid_t pid;

	for (size_t i = 0; i < prog->args.len; ++i)
		if (prog->args.s[i] == 0) ++n;
	if (n == 0) {
		errno = EINVAL;
		return -1;
	}
	argv = calloc(n + 1, sizeof *argv);
	if (!argv) return -1;
	for (size_t i = 0; i < n; ++i) {
		argv[i] = prog->args.s + pos;
		pos += strlen(argv[i]) + 1;
	}
	if (pipe(pi) == -1) {
		free(argv);
		return -1;
	}
	cloexec(pi[0]);
	cloexec(pi[1]);
	/* No signal handler may run in the child, on our memory. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0) prog_exec(prog, argv, pi[1], &old);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, 0);
	free(argv);
	close(pi[1]);
	if (pid == -1) {
		close(pi[0]);
		errno = e;
		return -1;
	}
	*outfd = pi[0];
	return pid;
}

/* Keeps the first SPAWN_REPORT_MAX bytes of a program's output. */
static void out_keep(struct str *out, const char *buf, size_t len)
{
	if (out->len < SPAWN_REPORT_MAX) {
		size_t room = SPAWN_REPORT_MAX - out->len;
		str_catb(out, buf, len < room ? len : room);
	}
}

/* Runs prog to its end (in a child of ours): its wait status, or -1. */
static int prog_run(const struct spawn_prog *prog, struct str *out)
{
	char buf[1024];
	int fd, status;
	pid_t pid = prog_start(prog, &fd);
	if (pid == -1) return -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		/* keep reading past the limit so the program never blocks */
		out_keep(out, buf, (size_t)r);
	}
	close(fd);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) return -1;
	return status;
}

/* One delivery: a program we started (direct) or a child of ours. */
struct kid {
	pid_t pid;
	struct str delnum;
	int reported;
	int exited;
	int direct;
	int outfd;      /* direct: its output, -1 once at end of file */
	int status;     /* direct: its wait status */
	struct str out; /* direct: its output so far */
};
static struct kid *kids;
static size_t nkids, capkids;
static int chld_pipe[2];

static void on_chld(int sig)
{
	int e = errno;
	(void)sig;
	if (write(chld_pipe[1], "", 1) < 0) { /* a wakeup is already pending */ }
	errno = e;
}

static int field(struct str *pending, size_t *pos, struct str *out)
{
	size_t n = mem_chr(pending->s + *pos, pending->len - *pos, 0);
	if (n == pending->len - *pos) return -1;
	str_copyb(out, pending->s + *pos, n);
	*pos += n + 1;
	return 0;
}

static unsigned long to_ulong(const struct str *s)
{
	unsigned long u = 0;
	for (size_t i = 0; i < s->len && s->s[i] >= '0' && s->s[i] <= '9'; ++i)
		u = u * 10 + (unsigned long)(s->s[i] - '0');
	return u;
}

static void put_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return; /* qmail-send is gone */
		s += w;
		len -= (size_t)w;
	}
}

static void report_fix(struct str *report)
{
	if (report->len == 0) str_copys(report, "ZInternal error: empty report. (#4.3.0)\n");
	if (report->len > SPAWN_REPORT_MAX) report->len = SPAWN_REPORT_MAX;
}

static void send_report(const struct str *delnum, const char *report, size_t len)
{
	struct str line = STR_INIT;
	str_cat(&line, delnum);
	str_catc(&line, 0);
	str_catb(&line, report, len);
	str_catc(&line, 0);
	put_all(1, line.s, line.len);
	str_free(&line);
}

static _Noreturn void child(const struct spawn_request *req, const struct spawn_ops *ops, int out)
{
	struct spawn_prog prog = {STR_INIT, -1, -1, -1};
	struct str report = STR_INIT, line = STR_INIT, pout = STR_INIT;
	if (ops->prepare(req, &prog, &report, 1) == SPAWN_PROG) {
		int status = prog_run(&prog, &pout);
		ops->finish(status, &pout, &report);
	}
	report_fix(&report);
	str_cat(&line, &req->delnum);
	str_catc(&line, 0);
	str_cat(&line, &report);
	str_catc(&line, 0);
	/* one write below PIPE_BUF: atomic against the other children */
	put_all(out, line.s, line.len);
	_exit(0);
}

/* Forwards complete reports from the children's pipe to qmail-send. */
static void forward_reports(int fd, struct str *buf)
{
	char chunk[4096];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		str_catb(buf, chunk, (size_t)r);
	}
	for (;;) {
		size_t n1 = mem_chr(buf->s, buf->len, 0), n2, used;
		if (n1 == buf->len) break;
		n2 = mem_chr(buf->s + n1 + 1, buf->len - n1 - 1, 0);
		if (n2 == buf->len - n1 - 1) break;
		used = n1 + 1 + n2 + 1;
		for (size_t k = 0; k < nkids; ++k)
			if (!kids[k].direct && kids[k].delnum.len == n1 &&
			    memcmp(kids[k].delnum.s, buf->s, n1) == 0)
				kids[k].reported = 1;
		put_all(1, buf->s, used);
		memmove(buf->s, buf->s + used, buf->len - used);
		buf->len -= used;
	}
}

/* Reads what a program we started has written, up to end of file. */
static void kid_read(struct kid *k)
{
	char buf[4096];
	for (;;) {
		ssize_t r = read(k->outfd, buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0 && errno == EAGAIN) return;
		if (r <= 0) {
			close(k->outfd);
			k->outfd = -1;
			return;
		}
		out_keep(&k->out, buf, (size_t)r);
	}
}

/* Reports the deliveries that are over and forgets them. A program we
 * started is over when it has exited and its output ended; a child that
 * died without reporting (killed, crashed) still owes qmail-send an
 * answer, or its slot would stay busy forever. */
static void settle_kids(const struct spawn_ops *ops)
{
	size_t k = 0;
	while (k < nkids) {
		struct kid *d = &kids[k];
		if (d->direct && d->exited && d->outfd == -1 && !d->reported) {
			struct str report = STR_INIT;
			ops->finish(d->status, &d->out, &report);
			report_fix(&report);
			send_report(&d->delnum, report.s, report.len);
			str_free(&report);
			d->reported = 1;
		}
		if (!d->exited || !d->reported) {
			if (d->exited && !d->direct) {
				static const char r[] = "ZDelivery process died unexpectedly. (#4.3.0)\n";
				send_report(&d->delnum, r, sizeof r - 1);
				d->reported = 1;
				continue;
			}
			++k;
			continue;
		}
		str_free(&d->delnum);
		str_free(&d->out);
		kids[k] = kids[--nkids];
	}
}

static void reap(void)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) return;
		for (size_t k = 0; k < nkids; ++k)
			if (kids[k].pid == pid) {
				kids[k].exited = 1;
				kids[k].status = status;
			}
	}
}

static void kid_add(pid_t pid, const struct str *delnum, int outfd)
{
	struct kid *k;
	if (nkids == capkids) {
		capkids = capkids ? capkids * 2 : 32;
		kids = realloc(kids, capkids * sizeof *kids);
		if (!kids) die_nomem();
	}
	k = &kids[nkids++];
	memset(k, 0, sizeof *k);
	k->pid = pid;
	str_copy(&k->delnum, delnum);
	k->direct = outfd != -1;
	k->outfd = outfd;
}

/* Whether the helper starts delivery programs itself (one process start
 * per delivery) rather than through a child per delivery (two). On the
 * quiet 2-CPU VM the direct start is faster: bench/queue -n 10000 -b 0,
 * 721 and 730 -> 908 and 851 deliveries/s into a Maildir; bench/relay
 * -n 10000 -c 20,100, relaying a filled queue 2,045-2,232 -> 2,417-2,738
 * messages/s (docs/QUEUE.md). Under heavy load from other programs the
 * helper's one loop, doing every lookup, copy and vfork in turn, was the
 * bottleneck instead, so the child per delivery stays: prepare() answers
 * SPAWN_CHILD for anything that may block (qmail-getpw, a big message). */
#define SPAWN_DIRECT 1

/* Starts one request: a program of ours, a child, or an answer now. */
static void start(const struct spawn_ops *ops, const struct spawn_request *req, int rep[2])
{
	struct spawn_prog prog = {STR_INIT, -1, -1, -1};
	struct str report = STR_INIT, none = STR_INIT;
	int outfd;
	pid_t pid;

	switch (SPAWN_DIRECT ? ops->prepare(req, &prog, &report, 0) : SPAWN_CHILD) {
	case SPAWN_PROG:
		pid = prog_start(&prog, &outfd);
		if (pid == -1) {
			ops->finish(-1, &none, &report);
			break;
		}
		fcntl(outfd, F_SETFL, fcntl(outfd, F_GETFL) | O_NONBLOCK);
		kid_add(pid, &req->delnum, outfd);
		report.len = 0;
		goto done;
	case SPAWN_CHILD:
		pid = fork();
		if (pid == 0) {
			close(0);
			close(rep[0]);
			close(chld_pipe[0]);
			close(chld_pipe[1]);
			for (size_t k = 0; k < nkids; ++k)
				if (kids[k].outfd != -1) close(kids[k].outfd);
			sig_default(SIGCHLD);
			child(req, ops, rep[1]);
		}
		if (pid == -1) {
			str_copys(&report, "ZUnable to fork. (#4.3.0)\n");
			break;
		}
		kid_add(pid, &req->delnum, -1);
		goto done;
	default:
		break;
	}
	report_fix(&report);
	send_report(&req->delnum, report.s, report.len);
done:
	if (prog.msgfd != -1) close(prog.msgfd);
	str_free(&prog.args);
	str_free(&report);
}

void spawn_main(const struct spawn_ops *ops)
{
	struct spawn_request req = {STR_INIT, 0, STR_INIT, STR_INIT};
	struct str id = STR_INIT, pending = STR_INIT, reports = STR_INIT;
	struct pollfd *p = 0;
	size_t *pk = 0, capp = 0;
	int rep[2], input_open = 1;

	sig_ignore(SIGPIPE);
	if (pipe(rep) == -1 || pipe(chld_pipe) == -1) die_temp_sys("unable to create pipes");
	fcntl(rep[0], F_SETFL, O_NONBLOCK);
	cloexec(rep[0]);
	cloexec(rep[1]); /* not for qmail-local */
	cloexec(chld_pipe[0]);
	cloexec(chld_pipe[1]);
	fcntl(chld_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(chld_pipe[1], F_SETFL, O_NONBLOCK);
	sig_catch(SIGCHLD, on_chld);

	while (input_open || nkids) {
		char junk[64];
		size_t pos = 0, np = 3;
		if (capp < nkids + 3) {
			capp = nkids + 3 + 32;
			p = realloc(p, capp * sizeof *p);
			pk = realloc(pk, capp * sizeof *pk);
			if (!p || !pk) die_nomem();
		}
		p[0] = (struct pollfd){input_open ? 0 : -1, POLLIN, 0};
		p[1] = (struct pollfd){rep[0], POLLIN, 0};
		p[2] = (struct pollfd){chld_pipe[0], POLLIN, 0};
		for (size_t k = 0; k < nkids; ++k)
			if (kids[k].outfd != -1) {
				pk[np] = k;
				p[np++] = (struct pollfd){kids[k].outfd, POLLIN, 0};
			}
		if (poll(p, (nfds_t)np, 1000) == -1) {
			if (errno != EINTR) die_temp_sys("poll failed");
			continue;
		}
		while (read(chld_pipe[0], junk, sizeof junk) > 0) {}
		for (size_t i = 3; i < np; ++i)
			if (p[i].revents) kid_read(&kids[pk[i]]);
		/* exits first, then the pipe: a child's report is written
		 * before it exits, so it is read before we call it lost */
		reap();
		forward_reports(rep[0], &reports);
		settle_kids(ops);
		if (!input_open || !p[0].revents) continue;
		{
			char buf[4096];
			ssize_t r = read(0, buf, sizeof buf);
			if (r < 0 && errno == EINTR) continue;
			if (r <= 0) {
				input_open = 0;
				continue;
			}
			str_catb(&pending, buf, (size_t)r);
		}
		for (;;) {
			size_t begin = pos;
			if (field(&pending, &pos, &req.delnum) == -1 || field(&pending, &pos, &id) == -1 ||
			    field(&pending, &pos, &req.sender) == -1 ||
			    field(&pending, &pos, &req.recip) == -1) {
				pos = begin;
				break;
			}
			req.id = to_ulong(&id);
			start(ops, &req, rep);
		}
		memmove(pending.s, pending.s + pos, pending.len - pos);
		pending.len -= pos;
	}
}
