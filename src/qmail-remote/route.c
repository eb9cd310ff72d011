/* route: see route.h. */
#include "route.h"

#include "ctl.h"

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
	v = ctl_domain_value(&lines, host, len, &vlen);
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
