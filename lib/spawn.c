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

static int field(struct buf *in, struct str *out)
{
	out->len = 0;
	int r = buf_getline_max(in, out, 0, 65536);
	if (r != 1) return -1;
	--out->len;
	return 0;
}

static unsigned long to_ulong(const struct str *s)
{
	unsigned long u = 0;
	for (size_t i = 0; i < s->len && s->s[i] >= '0' && s->s[i] <= '9'; ++i)
		u = u * 10 + (unsigned long)(s->s[i] - '0');
	return u;
}

static void child(const struct spawn_request *req, spawn_deliver deliver)
{
	struct str report = STR_INIT, line = STR_INIT;
	deliver(req, &report);
	if (report.len == 0) str_copys(&report, "ZInternal error: empty report. (#4.3.0)");
	if (report.len > SPAWN_REPORT_MAX) report.len = SPAWN_REPORT_MAX;
	str_cat(&line, &req->delnum);
	str_catc(&line, 0);
	str_cat(&line, &report);
	str_catc(&line, 0);
	/* one write below PIPE_BUF: atomic against the other children */
	while (write(1, line.s, line.len) == -1 && errno == EINTR) {}
	_exit(0);
}

void spawn_main(spawn_deliver deliver)
{
	static char space[4096];
	struct buf in;
	struct spawn_request req = {STR_INIT, 0, STR_INIT, STR_INIT};
	struct str id = STR_INIT;

	/* Children are reaped by the kernel; each reports through the pipe. */
	sig_ignore(SIGCHLD);
	sig_ignore(SIGPIPE);
	buf_init_read(&in, 0, space, sizeof space);
	for (;;) {
		pid_t pid;
		if (field(&in, &req.delnum) == -1) break;
		if (field(&in, &id) == -1 || field(&in, &req.sender) == -1 ||
		    field(&in, &req.recip) == -1)
			break;
		req.id = to_ulong(&id);
		pid = fork();
		if (pid == 0) {
			close(0);
			sig_default(SIGCHLD);
			child(&req, deliver);
		}
		if (pid == -1) {
			struct str line = STR_INIT;
			str_cat(&line, &req.delnum);
			str_catc(&line, 0);
			str_cats(&line, "ZUnable to fork. (#4.3.0)");
			str_catc(&line, 0);
			while (write(1, line.s, line.len) == -1 && errno == EINTR) {}
			str_free(&line);
		}
	}
	/* qmail-send is gone: let running deliveries finish, then leave. */
	while (wait(0) != -1 || errno == EINTR) {}
}
