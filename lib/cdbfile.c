/* cdbfile: see cdbfile.h. Reads with pread(2): a lookup touches a few
 * small pieces of the file, and nothing needs mapping or buffering. */
#include "cdbfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads exactly len bytes at pos, all inside the file: 0, or -1 with errno
 * EINVAL when the file is too short for what it claims. */
static int read_at(const struct cdbfile *c, void *buf, uint32_t len, uint32_t pos)
{
	char *p = buf;
	if (pos > c->size || len > c->size - pos) {
		errno = EINVAL;
		return -1;
	}
	while (len > 0) {
		ssize_t r = pread(c->fd, p, len, (off_t)pos);
		if (r == -1) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (r == 0) {
			errno = EINVAL;
			return -1;
		}
		p += r;
		pos += (uint32_t)r;
		len -= (uint32_t)r;
	}
	return 0;
}

static uint32_t hash(const char *key, size_t len)
{
	uint32_t h = 5381;
	for (size_t i = 0; i < len; ++i) h = ((h << 5) + h) ^ (unsigned char)key[i];
	return h;
}

int cdbfile_open(struct cdbfile *c, const char *fn)
{
	struct stat st;
	c->fd = open(fn, O_RDONLY | O_CLOEXEC);
	c->dpos = c->dlen = 0;
	if (c->fd == -1) return errno == ENOENT ? 0 : -1;
	if (fstat(c->fd, &st) == -1) goto fail;
	if (st.st_size < 2048 || (uintmax_t)st.st_size > UINT32_MAX) {
		errno = EINVAL;
		goto fail;
	}
	c->size = (uint32_t)st.st_size;
	return 1;
fail:;
	int e = errno;
	close(c->fd);
	c->fd = -1;
	errno = e;
	return -1;
}

/* Compares len bytes of the file at pos with key, in pieces. */
static int key_matches(const struct cdbfile *c, uint32_t pos, const char *key, uint32_t len)
{
	char buf[256];
	while (len > 0) {
		uint32_t n = len < sizeof buf ? len : (uint32_t)sizeof buf;
		if (read_at(c, buf, n, pos) == -1) return -1;
		for (uint32_t i = 0; i < n; ++i)
			if (buf[i] != key[i]) return 0;
		key += n;
		pos += n;
		len -= n;
	}
	return 1;
}

int cdbfile_find(struct cdbfile *c, const char *key, size_t keylen)
{
	unsigned char b[8];
	uint32_t h, tpos, slots, start;

	if (keylen > c->size) return 0;
	h = hash(key, keylen);
	if (read_at(c, b, 8, (h & 255) * 8) == -1) return -1;
	tpos = get32(b);
	slots = get32(b + 4);
	if (slots == 0) return 0;
	if (slots > (c->size - 2048) / 8) {
		errno = EINVAL;
		return -1;
	}
	start = (h >> 8) % slots;
	/* Each slot is looked at once at most: a full table without the key
	 * (a damaged file) ends the search instead of looping. */
	for (uint32_t i = 0; i < slots; ++i) {
		uint32_t slot = (start + i) % slots;
		uint32_t spos = tpos + slot * 8, rpos, klen, dlen;
		int m;
		if (spos < tpos) {
			errno = EINVAL;
			return -1;
		}
		if (read_at(c, b, 8, spos) == -1) return -1;
		rpos = get32(b + 4);
		if (rpos == 0) return 0;
		if (get32(b) != h) continue;
		if (read_at(c, b, 8, rpos) == -1) return -1;
		klen = get32(b);
		dlen = get32(b + 4);
		if (klen != keylen) continue;
		if (rpos > c->size - 8 || klen > c->size - 8 - rpos ||
		    dlen > c->size - 8 - rpos - klen) {
			errno = EINVAL;
			return -1;
		}
		m = key_matches(c, rpos + 8, key, klen);
		if (m == -1) return -1;
		if (m == 0) continue;
		c->dpos = rpos + 8 + klen;
		c->dlen = dlen;
		return 1;
	}
	return 0;
}

int cdbfile_value(struct cdbfile *c, struct str *out)
{
	str_ready(out, c->dlen);
	if (read_at(c, out->s, c->dlen, c->dpos) == -1) return -1;
	out->len = c->dlen;
	return 0;
}

void cdbfile_close(struct cdbfile *c)
{
	if (c->fd != -1) close(c->fd);
	c->fd = -1;
}

int cdbfile_lookup(const char *fn, const char *key, size_t keylen, struct str *out)
{
	struct cdbfile c;
	int r = cdbfile_open(&c, fn);
	if (r <= 0) return r;
	r = cdbfile_find(&c, key, keylen);
	if (r == 1 && cdbfile_value(&c, out) == -1) r = -1;
	int e = errno;
	cdbfile_close(&c);
	errno = e;
	return r;
}
