/* qmail-smtpd network I/O: fd 0 and fd 1 with a timeout on every read and
 * write (control/timeoutsmtpd). Once TLS runs, fds 0 and 1 are the
 * plaintext side of qmail-tls (tls.c), and nothing here changes. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdwait.h"
#include "smtpd.h"

static char inspace[16384];
static char outspace[4096];

/* Before waiting for the client, everything we owe it goes out: that is
 * what makes PIPELINING work with one packet of replies per batch. */
static ssize_t io_read(struct buf *b, char *data, size_t len)
{
	struct smtpd *s = b->ctx;
	ssize_t r;
	out_flush(s);
	if (fdwait_read(b->fd, s->timeout) != FDWAIT_READY) return -1;
	do r = read(b->fd, data, len);
	while (r == -1 && errno == EINTR);
	return r;
}

static ssize_t io_write(struct buf *b, char *data, size_t len)
{
	struct smtpd *s = b->ctx;
	ssize_t w;
	if (fdwait_write(b->fd, s->timeout) != FDWAIT_READY) return -1;
	do w = write(b->fd, data, len);
	while (w == -1 && errno == EINTR);
	return w;
}

void smtpd_io_init(struct smtpd *s)
{
	buf_init(&s->in, 0, io_read, inspace, sizeof inspace);
	buf_init(&s->out, 1, io_write, outspace, sizeof outspace);
	s->in.ctx = s;
	s->out.ctx = s;
}

/* A client that stops reading cannot be told anything: just leave. */
void out_flush(struct smtpd *s)
{
	if (buf_flush(&s->out) == -1) _exit(1);
}

void outb(struct smtpd *s, const char *text, size_t len)
{
	if (buf_put(&s->out, text, len) == -1) _exit(1);
}

void out(struct smtpd *s, const char *text) { outb(s, text, strlen(text)); }

void out_die(struct smtpd *s, const char *text, int code)
{
	out(s, text);
	out_flush(s);
	_exit(code);
}

void smtpd_read_failed(struct smtpd *s, int eof)
{
	if (!eof && errno == ETIMEDOUT) out_die(s, "451 timeout (#4.4.2)\r\n", 1);
	_exit(1);
}
