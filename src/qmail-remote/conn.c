/* conn: see conn.h. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdwait.h"
#include "tls.h"

static ssize_t conn_read(struct buf *b, char *data, size_t len)
{
	const struct conn *c = b->ctx;
	for (;;) {
		ssize_t r;
		if (fdwait_read(b->fd, c->timeout) != FDWAIT_READY) return -1;
		r = read(b->fd, data, len);
		if (r >= 0) return r;
		if (errno != EINTR && errno != EAGAIN) return -1;
	}
}

static ssize_t conn_write(struct buf *b, char *data, size_t len)
{
	const struct conn *c = b->ctx;
	for (;;) {
		ssize_t w;
		if (fdwait_write(b->fd, c->timeout) != FDWAIT_READY) return -1;
		w = write(b->fd, data, len);
		if (w >= 0) return w;
		if (errno != EINTR && errno != EAGAIN) return -1;
	}
}

int conn_open(struct conn *c, const struct ipaddr *ip, unsigned port, unsigned timeoutconnect,
              unsigned timeout)
{
	struct sockaddr_storage sa;
	socklen_t salen = ipaddr_sockaddr(ip, port, &sa);
	int err = 0;
	socklen_t elen = sizeof err;
	int fd = socket(ip->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) return -1;
	if (connect(fd, (struct sockaddr *)&sa, salen) == -1) {
		if (errno != EINPROGRESS) goto fail;
		if (fdwait_write(fd, timeoutconnect) != FDWAIT_READY) goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1) goto fail;
		if (err) {
			errno = err;
			goto fail;
		}
	}
	c->fd = fd;
	c->tls = 0;
	c->timeout = timeout;
	c->peer = *ip;
	buf_init(&c->in, fd, conn_read, c->inspace, sizeof c->inspace);
	buf_init(&c->out, fd, conn_write, c->outspace, sizeof c->outspace);
	c->in.ctx = c;
	c->out.ctx = c;
	return 0;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

void conn_close(struct conn *c)
{
	tls_end(c);
	if (c->fd >= 0) close(c->fd);
	c->fd = -1;
}
