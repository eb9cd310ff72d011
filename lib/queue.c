/* queue: see queue.h. */
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static void pad(char *out, size_t width, const struct str *s)
{
	size_t n = s->len < width - 1 ? s->len : width - 1;
	memset(out, ' ', width);
	memcpy(out, s->s, n);
	out[width - 1] = '\n';
}

void queue_header_format(char *out, const struct queue_header *h)
{
	struct str s = STR_INIT;
	str_copys(&s, "NQM1 ");
	str_catulong(&s, h->birth);
	str_catc(&s, ' ');
	str_catulong(&s, h->birth_nsec);
	str_catc(&s, ' ');
	str_catulong(&s, h->qp);
	str_catc(&s, ' ');
	str_catulong(&s, h->uid);
	str_catc(&s, ' ');
	str_catulong(&s, h->msglen);
	str_catc(&s, ' ');
	str_catulong(&s, h->envlen);
	pad(out, QUEUE_HEADER_LEN, &s);
	str_free(&s);
}

/* Parses up to n space-separated decimal numbers after a tag. */
static int parse_numbers(const char *s, size_t len, const char *tag, unsigned long *v, int n)
{
	size_t taglen = strlen(tag), i;
	if (len < taglen || memcmp(s, tag, taglen) != 0) return -1;
	i = taglen;
	for (int k = 0; k < n; ++k) {
		unsigned long u = 0;
		size_t start;
		if (i >= len || s[i] != ' ') return -1;
		start = ++i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			unsigned d = (unsigned)(s[i] - '0');
			if (u > (~0UL - d) / 10) return -1;
			u = u * 10 + d;
			++i;
		}
		if (i == start) return -1;
		v[k] = u;
	}
	while (i < len && s[i] == ' ') ++i;
	if (i != len - 1 || s[i] != '\n') return -1;
	return 0;
}

int queue_header_parse(const char *s, size_t len, struct queue_header *h)
{
	unsigned long v[6];
	if (len != QUEUE_HEADER_LEN || parse_numbers(s, len, "NQM1", v, 6) == -1) {
		errno = EINVAL;
		return -1;
	}
	h->birth = v[0];
	h->birth_nsec = v[1];
	h->qp = v[2];
	h->uid = v[3];
	h->msglen = v[4];
	h->envlen = v[5];
	return 0;
}

static int read_at(int fd, char *buf, size_t len, off_t at)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, at);
		if (r < 0) {
			if (errno == EINTR) continue;
			return -1;
		}
		if (r == 0) { errno = EINVAL; return -1; }
		buf += r;
		len -= (size_t)r;
		at += r;
	}
	return 0;
}

int queue_header_read(int fd, struct queue_header *h)
{
	char buf[QUEUE_HEADER_LEN];
	struct stat st;
	if (read_at(fd, buf, sizeof buf, 0) == -1) return -1;
	if (queue_header_parse(buf, sizeof buf, h) == -1) return -1;
	if (fstat(fd, &st) == -1) return -1;
	/* A size mismatch means a file cut short by a crash before it was
	 * acknowledged: it is not a message. */
	if (h->msglen > (unsigned long)st.st_size || h->envlen > (unsigned long)st.st_size ||
	    (unsigned long)st.st_size != QUEUE_HEADER_LEN + h->msglen + h->envlen) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int queue_envelope_read(int fd, const struct queue_header *h, struct str *env)
{
	str_ready(env, h->envlen);
	if (read_at(fd, env->s, h->envlen, (off_t)(QUEUE_HEADER_LEN + h->msglen)) == -1) return -1;
	env->len = h->envlen;
	if (!queue_envelope_valid(env->s, env->len)) { errno = EINVAL; return -1; }
	return 0;
}

int queue_envelope_valid(const char *env, size_t len)
{
	size_t i = 0;
	int first = 1;
	if (len < 2 || env[len - 1] != 0) return 0;
	while (i < len) {
		size_t n = mem_chr(env + i, len - i, 0);
		if (n == len - i) return 0;
		if (first ? env[i] != 'F' : env[i] != 'T') return 0;
		first = 0;
		i += n + 1;
	}
	return !first;
}

void queue_path(struct str *out, const char *dir, unsigned long id)
{
	str_copys(out, dir);
	str_catc(out, '/');
	str_catulong(out, id);
}

/* The k-th slot to look at: an odd stride visits QUEUE_POOL_PROBES
 * different slots (the slot count is a power of two). */
static const char *pool_slot(struct str *out, unsigned long seed, unsigned k)
{
	queue_path(out, "pool", (seed * 2654435761UL + k * 97UL) % QUEUE_POOL_SLOTS);
	return str_cstr(out);
}

int queue_pool_take(const char *dest, unsigned long seed)
{
	struct str slot = STR_INIT;
	DIR *d;
	struct dirent *e;
	int r = -1;
	for (unsigned k = 0; k < QUEUE_POOL_PROBES; ++k) {
		if (rename(pool_slot(&slot, seed, k), dest) == 0) r = 0;
		if (r == 0 || errno != ENOENT) goto done; /* no pool/, or worse: do without */
	}
	/* A pool that is nearly empty is missed by probes: look. The
	 * directory holds at most QUEUE_POOL_SLOTS short names. */
	d = opendir("pool");
	if (!d) goto done;
	while (r == -1 && (e = readdir(d)) != 0) {
		size_t n = strlen(e->d_name);
		if (n == 0 || strspn(e->d_name, "0123456789") != n) continue;
		str_copys(&slot, "pool/");
		str_cats(&slot, e->d_name);
		if (rename(str_cstr(&slot), dest) == 0) r = 0; /* else someone else took it */
	}
	closedir(d);
done:
	str_free(&slot);
	return r;
}

int queue_pool_give(const char *path, unsigned long seed)
{
	int r = -1;
#ifdef SYS_renameat2
	struct str slot = STR_INIT;
	for (unsigned k = 0; k < QUEUE_POOL_PROBES && r == -1; ++k) {
		if (syscall(SYS_renameat2, AT_FDCWD, path, AT_FDCWD, pool_slot(&slot, seed, k),
		            RENAME_NOREPLACE) == 0) {
			/* Nothing more may be done to the file here, not even by
			 * its pool/ name: once in the pool it may be taken and
			 * written at any moment, and a truncate(2) by path that
			 * looked the name up just before could then empty the
			 * next message after qmail-queue acknowledged it. The
			 * caller empties the file before (queue.h). */
			r = 0;
		} else if (errno != EEXIST) {
			break; /* no pool/, or no renameat2 here */
		}
	}
	str_free(&slot);
#else
	(void)path;
	(void)seed;
#endif
	return r;
}

void queue_info_format_header(char *out, const struct queue_info *in)
{
	struct str s = STR_INIT;
	str_copys(&s, "NQI1 ");
	str_catulong(&s, in->birth);
	str_catc(&s, ' ');
	str_catulong(&s, in->birth_nsec);
	str_catc(&s, ' ');
	str_catulong0(&s, in->next[0], 20);
	str_catc(&s, ' ');
	str_catulong0(&s, in->next[1], 20);
	str_catc(&s, ' ');
	str_catulong(&s, in->nrecip);
	pad(out, QUEUE_INFO_HEADER_LEN, &s);
	str_free(&s);
}

int queue_info_parse(const char *s, size_t len, struct queue_info *out)
{
	unsigned long v[5];
	size_t i, n, count = 0;
	if (len < QUEUE_INFO_HEADER_LEN ||
	    parse_numbers(s, QUEUE_INFO_HEADER_LEN, "NQI1", v, 5) == -1)
		goto bad;
	out->birth = v[0];
	out->birth_nsec = v[1];
	out->next[0] = v[2];
	out->next[1] = v[3];
	out->nrecip = v[4];
	i = QUEUE_INFO_HEADER_LEN;
	n = mem_chr(s + i, len - i, 0);
	if (n == len - i) goto bad;
	str_copyb(&out->sender, s + i, n);
	i += n + 1;
	str_copyb(&out->recips, s + i, len - i);
	while (i < len) {
		n = mem_chr(s + i, len - i, 0);
		if (n == len - i || n < 3) goto bad;
		if (s[i] != QUEUE_TODO && s[i] != QUEUE_DONE && s[i] != QUEUE_FAILED) goto bad;
		if (s[i + 1] != 'L' && s[i + 1] != 'R') goto bad;
		++count;
		i += n + 1;
	}
	if (count != out->nrecip) goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
