/* buf: buffered reading and writing over a file descriptor.
 *
 * A buf owns no memory: the caller gives it space (usually a static or
 * stack array). Reads and writes go through an io function so that a
 * protocol program can add a timeout or TLS without touching callers; the
 * default io retries EINTR and nothing else.
 *
 * Every output call returns 0 on success and -1 on failure with errno set;
 * after a failure the buf stays failed, so a caller may check only the
 * final buf_flush().
 */
#ifndef NQ_BUF_H
#define NQ_BUF_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

struct buf;
typedef ssize_t (*buf_io)(struct buf *b, char *data, size_t len);

struct buf {
	int fd;
	buf_io io;
	void *ctx;    /* for io functions that need more than fd */
	char *x;
	size_t size;
	size_t pos;   /* input: next unread byte; output: unused */
	size_t len;   /* input: bytes buffered; output: bytes pending */
	int failed;   /* output: a write failed, errno saved in err */
	int err;
};

ssize_t buf_io_read(struct buf *b, char *data, size_t len);
ssize_t buf_io_write(struct buf *b, char *data, size_t len);

void buf_init(struct buf *b, int fd, buf_io io, char *space, size_t size);
#define buf_init_read(b, fd, space, size) buf_init((b), (fd), buf_io_read, (space), (size))
#define buf_init_write(b, fd, space, size) buf_init((b), (fd), buf_io_write, (space), (size))

/* output */
int buf_put(struct buf *b, const char *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putstr(struct buf *b, const struct str *sa);
int buf_putulong(struct buf *b, unsigned long u);
int buf_flush(struct buf *b);
int buf_putflush(struct buf *b, const char *data, size_t len);
int buf_putsflush(struct buf *b, const char *s);

/* input */
ssize_t buf_fill(struct buf *b);          /* >0 bytes now buffered, 0 EOF, -1 error */
size_t buf_avail(const struct buf *b);    /* bytes buffered and not yet read */
const char *buf_peek(const struct buf *b);
void buf_skip(struct buf *b, size_t n);
ssize_t buf_get(struct buf *b, char *data, size_t len);
/* Appends bytes up to and including delim to out.
 * Returns 1 when a delim ended the line, 0 at end of input (out may hold a
 * final unterminated piece), -1 on a read error. */
int buf_getline(struct buf *b, struct str *out, char delim);
/* As buf_getline, but stops once out has grown by max bytes without a
 * delim and returns 2, so that a peer cannot make us buffer forever. */
int buf_getline_max(struct buf *b, struct str *out, char delim, size_t max);
/* Copies everything from in to out: 0 ok, -2 read error, -3 write error. */
int buf_copy(struct buf *out, struct buf *in);

#endif
