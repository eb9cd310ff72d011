/* conn: see conn.h. */
#include "conn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tls.h"

int conn_wait(int fd, short ev, unsigned seconds)
{
	struct pollfd p = {fd, ev, 0};
	struct timespec start, now;
	long left = (long)seconds * 1000;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		int r = poll(&p, 1, (int)left);
		if (r > 0) return 0;
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR) return -1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long)seconds * 1000 - ((now.tv_sec - start.tv_sec) * 1000 +
		                               (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
}

static ssize_t conn_read(struct buf *b, char *data, size_t len)
{
	const struct conn *c = b->ctx;
	for (;;) {
		ssize_t r;
		if (conn_wait(b->fd, POLLIN, c->timeout) == -1) return -1;
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
		if (conn_wait(b->fd, POLLOUT, c->timeout) == -1) return -1;
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
		if (conn_wait(fd, POLLOUT, timeoutconnect) == -1) goto fail;
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
