/* ctl: see ctl.h. */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int ctl_read_file(const char *fn, struct str *out)
{
	char chunk[4096];
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	out->len = 0;
	if (fd == -1) return errno == ENOENT ? 0 : -1;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0) {
			int e = errno;
			if (e == EINTR) continue;
			close(fd);
			errno = e;
			return -1;
		}
		if (r == 0) break;
		str_catb(out, chunk, (size_t)r);
	}
	close(fd);
	return 1;
}

int ctl_read_line(const char *fn, struct str *out, const char *dflt)
{
	int r = ctl_read_file(fn, out);
	if (r == 1) {
		size_t nl = mem_chr(out->s, out->len, '\n');
		str_truncate(out, nl);
		str_strip_trailing_space(out);
		return 1;
	}
	if (r == 0 && dflt) str_copys(out, dflt);
	else out->len = 0;
	return r;
}

int ctl_read_ulong(const char *fn, unsigned long *out, unsigned long dflt)
{
	struct str line = STR_INIT;
	unsigned long u = 0;
	size_t i;
	int r = ctl_read_line(fn, &line, 0);
	*out = dflt;
	if (r != 1) { str_free(&line); return r; }
	for (i = 0; i < line.len && line.s[i] >= '0' && line.s[i] <= '9'; ++i) {
		unsigned d = (unsigned)(line.s[i] - '0');
		if (u > (~0UL - d) / 10) break; /* overflow: keep what we have */
		u = u * 10 + d;
	}
	str_free(&line);
	if (i == 0) return 0; /* no number there: as if there were no file */
	*out = u;
	return 1;
}

int ctl_read_lines(const char *fn, struct str *out)
{
	struct str raw = STR_INIT;
	size_t i = 0;
	int r = ctl_read_file(fn, &raw);
	out->len = 0;
	if (r != 1) { str_free(&raw); return r; }
	while (i < raw.len) {
		size_t n = mem_chr(raw.s + i, raw.len - i, '\n');
		size_t end = n;
		const char *line = raw.s + i;
		while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r'))
			--end;
		if (end > 0 && line[0] != '#') {
			str_catb(out, line, end);
			str_catc(out, 0);
		}
		i += n + 1;
	}
	str_free(&raw);
	return 1;
}

const char *ctl_next(const struct str *lines, size_t *pos, size_t *len)
{
	const char *s;
	if (*pos >= lines->len) return 0;
	s = lines->s + *pos;
	*len = mem_chr(s, lines->len - *pos, 0);
	*pos += *len + 1;
	return s;
}

/* A line's domain ends at its first ':', or, for an address literal, at
 * the ':' after its ']'. Returns the colon's index, or len. */
static size_t domain_end(const char *line, size_t len)
{
	size_t start = 0;
	if (len && line[0] == '[') {
		start = mem_chr(line, len, ']');
		if (start == len) return len;
	}
	return start + mem_chr(line + start, len - start, ':');
}

static const char *domain_line(const struct str *lines, const char *key, size_t klen, size_t *vlen)
{
	size_t pos = 0, len;
	const char *line;
	while ((line = ctl_next(lines, &pos, &len)) != 0) {
		size_t colon = domain_end(line, len);
		if (colon == len || colon != klen) continue;
		if (!mem_equal_nocase(line, key, klen)) continue;
		*vlen = len - colon - 1;
		return line + colon + 1;
	}
	return 0;
}

const char *ctl_domain_value(const struct str *lines, const char *host, size_t len, size_t *vlen)
{
	const char *v = 0;
	for (size_t i = 0; i <= len && !v; ++i)
		if (i == 0 || i == len || host[i] == '.')
			v = domain_line(lines, host + i, len - i, vlen);
	return v;
}
