/* route: see route.h. */
#include "route.h"

#include "ctl.h"

static const char *lookup(const struct str *lines, const char *key, size_t klen, size_t *vlen)
{
	size_t pos = 0, len;
	const char *line;
	while ((line = ctl_next(lines, &pos, &len)) != 0) {
		size_t colon = mem_chr(line, len, ':');
		if (colon == len || colon != klen) continue;
		if (!mem_equal_nocase(line, key, klen)) continue;
		*vlen = len - colon - 1;
		return line + colon + 1;
	}
	return 0;
}

static int parse_port(const char *s, size_t n, unsigned long *port)
{
	unsigned long u = 0;
	if (n == 0 || n > 5) return -2;
	for (size_t i = 0; i < n; ++i) {
		if (s[i] < '0' || s[i] > '9') return -2;
		u = u * 10 + (unsigned long)(s[i] - '0');
	}
	if (u == 0 || u > 65535) return -2;
	*port = u;
	return 0;
}

int route_find(struct route *r, const char *host, size_t len)
{
	struct str lines = STR_INIT;
	const char *v = 0;
	size_t vlen = 0, split;
	int rc = ctl_read_lines("control/smtproutes", &lines);
	r->found = 0;
	r->port = 25;
	r->relay.len = 0;
	if (rc == -1) return -1;
	for (size_t i = 0; i <= len && !v; ++i)
		if (i == 0 || i == len || host[i] == '.')
			v = lookup(&lines, host + i, len - i, &vlen);
	if (!v) {
		str_free(&lines);
		return 0;
	}
	r->found = 1;
	/* A bracketed relay may hold colons of its own. */
	split = (vlen && v[0] == '[') ? mem_chr(v, vlen, ']') : 0;
	split = split < vlen ? split + mem_chr(v + split, vlen - split, ':') : vlen;
	str_copyb(&r->relay, v, split);
	if (split < vlen && parse_port(v + split + 1, vlen - split - 1, &r->port) == -2) {
		str_free(&lines);
		return -2;
	}
	str_free(&lines);
	return 0;
}
