/* buf: see buf.h. */
#include "buf.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

ssize_t buf_io_read(struct buf *b, char *data, size_t len)
{
	for (;;) {
		ssize_t r = read(b->fd, data, len);
		if (r >= 0 || errno != EINTR) return r;
	}
}

ssize_t buf_io_write(struct buf *b, char *data, size_t len)
{
	for (;;) {
		ssize_t w = write(b->fd, data, len);
		if (w >= 0 || errno != EINTR) return w;
	}
}

void buf_init(struct buf *b, int fd, buf_io io, char *space, size_t size)
{
	b->fd = fd;
	b->io = io;
	b->ctx = 0;
	b->x = space;
	b->size = size;
	b->pos = b->len = 0;
	b->failed = 0;
	b->err = 0;
}

static int write_all(struct buf *b, const char *data, size_t len)
{
	while (len) {
		ssize_t w = b->io(b, (char *)data, len);
		if (w <= 0) {
			if (w == 0) errno = EIO;
			b->failed = 1;
			b->err = errno;
			return -1;
		}
		data += w;
		len -= (size_t)w;
	}
	return 0;
}

int buf_flush(struct buf *b)
{
	size_t n = b->len;
	if (b->failed) { errno = b->err; return -1; }
	b->len = 0;
	return n ? write_all(b, b->x, n) : 0;
}

int buf_put(struct buf *b, const char *data, size_t len)
{
	if (b->failed) { errno = b->err; return -1; }
	if (len > b->size - b->len) {
		if (buf_flush(b) == -1) return -1;
		if (len >= b->size) return write_all(b, data, len);
	}
	memcpy(b->x + b->len, data, len);
	b->len += len;
	return 0;
}

int buf_puts(struct buf *b, const char *s) { return buf_put(b, s, strlen(s)); }
int buf_putstr(struct buf *b, const struct str *sa) { return buf_put(b, sa->s, sa->len); }

int buf_putulong(struct buf *b, unsigned long u)
{
	char digits[3 * sizeof u + 1];
	size_t n = 0;
	do {
		digits[sizeof digits - 1 - n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	return buf_put(b, digits + sizeof digits - n, n);
}

int buf_putflush(struct buf *b, const char *data, size_t len)
{
	if (buf_put(b, data, len) == -1) return -1;
	return buf_flush(b);
}

int buf_putsflush(struct buf *b, const char *s) { return buf_putflush(b, s, strlen(s)); }

ssize_t buf_fill(struct buf *b)
{
	ssize_t r;
	if (b->pos < b->len) return (ssize_t)(b->len - b->pos);
	b->pos = b->len = 0;
	r = b->io(b, b->x, b->size);
	if (r <= 0) return r;
	b->len = (size_t)r;
	return r;
}

size_t buf_avail(const struct buf *b) { return b->len - b->pos; }
const char *buf_peek(const struct buf *b) { return b->x + b->pos; }

void buf_skip(struct buf *b, size_t n)
{
	if (n > b->len - b->pos) n = b->len - b->pos;
	b->pos += n;
}

ssize_t buf_get(struct buf *b, char *data, size_t len)
{
	ssize_t r = buf_fill(b);
	if (r <= 0) return r;
	if ((size_t)r > len) r = (ssize_t)len;
	memcpy(data, b->x + b->pos, (size_t)r);
	b->pos += (size_t)r;
	return r;
}

int buf_getline_max(struct buf *b, struct str *out, char delim, size_t max)
{
	size_t got = 0;
	for (;;) {
		ssize_t r = buf_fill(b);
		size_t n, i;
		if (r < 0) return -1;
		if (r == 0) return 0;
		n = (size_t)r;
		if (max && n > max - got) n = max - got;
		i = mem_chr(b->x + b->pos, n, delim);
		if (i < n) {
			str_catb(out, b->x + b->pos, i + 1);
			b->pos += i + 1;
			return 1;
		}
		str_catb(out, b->x + b->pos, n);
		b->pos += n;
		got += n;
		if (max && got >= max) return 2;
	}
}

int buf_getline(struct buf *b, struct str *out, char delim)
{
	return buf_getline_max(b, out, delim, 0);
}

int buf_copy(struct buf *out, struct buf *in)
{
	for (;;) {
		ssize_t r = buf_fill(in);
		if (r < 0) return -2;
		if (r == 0) return 0;
		if (buf_put(out, in->x + in->pos, (size_t)r) == -1) return -3;
		in->pos += (size_t)r;
	}
}
