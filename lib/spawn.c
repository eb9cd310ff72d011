/* spawn: see spawn.h. */
#define _GNU_SOURCE /* memfd_create */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include <poll.h>
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

int spawn_message_fd(unsigned long id)
{
	struct str fn = STR_INIT;
	struct queue_header h;
	int fd, out, e;
	queue_path(&fn, QUEUE_DIR "/mess", id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	str_free(&fn);
	if (fd == -1) return -1;
	if (queue_header_read(fd, &h) == -1) goto fail_in;
	/* The queue file is message+envelope; qmail-local wants just the
	 * message from offset 0 to end of file, so it gets a copy that lives
	 * in memory and disappears with the delivery. */
	out = memfd_create("message", 0);
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

int spawn_run(char *const argv[], int msgfd, int (*before_exec)(void *), void *ctx,
              struct str *out)
{
	int pi[2], status;
	pid_t pid;
	char buf[1024];
	if (pipe(pi) == -1) return -1;
	pid = fork();
	if (pid == -1) {
		close(pi[0]);
		close(pi[1]);
		return -1;
	}
	if (pid == 0) {
		close(pi[0]);
		if (dup2(msgfd, 0) == -1 || dup2(pi[1], 1) == -1 || dup2(pi[1], 2) == -1) _exit(111);
		if (pi[1] > 2) close(pi[1]);
		sig_default(SIGPIPE);
		sig_default(SIGCHLD);
		if (before_exec && before_exec(ctx)) _exit(111);
		execv(argv[0], argv);
		_exit(120); /* could not run it */
	}
	close(pi[1]);
	for (;;) {
		ssize_t r = read(pi[0], buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		/* keep reading past the limit so the program never blocks */
		if (out->len < SPAWN_REPORT_MAX) {
			size_t room = SPAWN_REPORT_MAX - out->len;
			str_catb(out, buf, (size_t)r < room ? (size_t)r : room);
		}
	}
	close(pi[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) return -1;
	return status;
}

/* One delivery child: its request's number, and whether it reported. */
struct kid {
	pid_t pid;
	struct str delnum;
	int reported;
	int exited;
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

static void child(const struct spawn_request *req, spawn_deliver deliver, int out)
{
	struct str report = STR_INIT, line = STR_INIT;
	deliver(req, &report);
	if (report.len == 0) str_copys(&report, "ZInternal error: empty report. (#4.3.0)\n");
	if (report.len > SPAWN_REPORT_MAX) report.len = SPAWN_REPORT_MAX;
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
			if (kids[k].delnum.len == n1 && memcmp(kids[k].delnum.s, buf->s, n1) == 0)
				kids[k].reported = 1;
		put_all(1, buf->s, used);
		memmove(buf->s, buf->s + used, buf->len - used);
		buf->len -= used;
	}
}

/* A child that died without reporting (killed, crashed) still owes
 * qmail-send an answer, or its slot would stay busy forever. */
static void settle_kids(void)
{
	size_t k = 0;
	while (k < nkids) {
		if (!kids[k].exited || !kids[k].reported) {
			if (kids[k].exited) {
				static const char r[] = "ZDelivery process died unexpectedly. (#4.3.0)\n";
				send_report(&kids[k].delnum, r, sizeof r - 1);
				kids[k].reported = 1;
				continue;
			}
			++k;
			continue;
		}
		str_free(&kids[k].delnum);
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
			if (kids[k].pid == pid) kids[k].exited = 1;
	}
}

void spawn_main(spawn_deliver deliver)
{
	struct spawn_request req = {STR_INIT, 0, STR_INIT, STR_INIT};
	struct str id = STR_INIT, pending = STR_INIT, reports = STR_INIT;
	int rep[2], input_open = 1;

	sig_ignore(SIGPIPE);
	if (pipe(rep) == -1 || pipe(chld_pipe) == -1) die_temp_sys("unable to create pipes");
	fcntl(rep[0], F_SETFL, O_NONBLOCK);
	fcntl(rep[1], F_SETFD, FD_CLOEXEC); /* not for qmail-local */
	fcntl(chld_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(chld_pipe[1], F_SETFL, O_NONBLOCK);
	sig_catch(SIGCHLD, on_chld);

	while (input_open || nkids) {
		struct pollfd p[3];
		char junk[64];
		size_t pos = 0;
		p[0] = (struct pollfd){input_open ? 0 : -1, POLLIN, 0};
		p[1] = (struct pollfd){rep[0], POLLIN, 0};
		p[2] = (struct pollfd){chld_pipe[0], POLLIN, 0};
		if (poll(p, 3, 1000) == -1 && errno != EINTR) die_temp_sys("poll failed");
		while (read(chld_pipe[0], junk, sizeof junk) > 0) {}
		/* exits first, then the pipe: a child's report is written
		 * before it exits, so it is read before we call it lost */
		reap();
		forward_reports(rep[0], &reports);
		settle_kids();
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
			pid_t pid;
			size_t start = pos;
			if (field(&pending, &pos, &req.delnum) == -1 || field(&pending, &pos, &id) == -1 ||
			    field(&pending, &pos, &req.sender) == -1 ||
			    field(&pending, &pos, &req.recip) == -1) {
				pos = start;
				break;
			}
			req.id = to_ulong(&id);
			pid = fork();
			if (pid == 0) {
				close(0);
				close(rep[0]);
				close(chld_pipe[0]);
				close(chld_pipe[1]);
				sig_default(SIGCHLD);
				child(&req, deliver, rep[1]);
			}
			if (pid == -1) {
				static const char r[] = "ZUnable to fork. (#4.3.0)\n";
				send_report(&req.delnum, r, sizeof r - 1);
				continue;
			}
			if (nkids == capkids) {
				capkids = capkids ? capkids * 2 : 32;
				kids = realloc(kids, capkids * sizeof *kids);
				if (!kids) die_nomem();
			}
			kids[nkids].pid = pid;
			kids[nkids].delnum.s = 0;
			kids[nkids].delnum.len = kids[nkids].delnum.cap = 0;
			str_copy(&kids[nkids].delnum, &req.delnum);
			kids[nkids].reported = kids[nkids].exited = 0;
			++nkids;
		}
		memmove(pending.s, pending.s + pos, pending.len - pos);
		pending.len -= pos;
	}
}
