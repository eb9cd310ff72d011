/* route: see route.h. The lists are small; a linear search keeps the
 * code obvious and is far cheaper than the delivery it decides. */
#include "route.h"

#include <string.h>

#include "ctl.h"

static int read_list(const char *fn, struct str *out)
{
	int r = ctl_read_lines(fn, out);
	str_lower(out);
	return r;
}

int route_load(struct route *r)
{
	struct str raw = STR_INIT;
	size_t pos = 0, len;
	const char *line;

	if (ctl_read_line("control/me", &r->me, "localhost") == -1) goto fail;
	if (r->me.len == 0) str_copys(&r->me, "localhost");
	if (ctl_read_line("control/envnoathost", &r->envnoathost, 0) == -1) goto fail;
	if (r->envnoathost.len == 0) str_copy(&r->envnoathost, &r->me);
	switch (read_list("control/locals", &r->locals)) {
	case -1: goto fail;
	case 0:
		str_copy(&r->locals, &r->me);
		str_lower(&r->locals);
		str_catc(&r->locals, 0);
	}
	if (read_list("control/percenthack", &r->percenthack) == -1) goto fail;
	if (ctl_read_lines("control/virtualdomains", &raw) == -1) goto fail;
	r->virtualdomains.len = 0;
	while ((line = ctl_next(&raw, &pos, &len)) != 0) {
		size_t colon = mem_chr(line, len, ':');
		size_t start = r->virtualdomains.len;
		if (colon == len) continue;
		str_catb(&r->virtualdomains, line, colon);
		/* lower the key only: the prepend is a local part */
		for (size_t i = start; i < r->virtualdomains.len; ++i) {
			char c = r->virtualdomains.s[i];
			if (c >= 'A' && c <= 'Z') r->virtualdomains.s[i] = (char)(c + 32);
		}
		str_catc(&r->virtualdomains, 0);
		str_catb(&r->virtualdomains, line + colon + 1, len - colon - 1);
		str_catc(&r->virtualdomains, 0);
	}
	str_free(&raw);
	return 0;
fail:
	str_free(&raw);
	return -1;
}

static int listed(const struct str *list, const char *s, size_t n)
{
	size_t pos = 0, len;
	const char *line;
	while ((line = ctl_next(list, &pos, &len)) != 0)
		if (len == n && mem_equal_nocase(line, s, n)) return 1;
	return 0;
}

int route_is_local_domain(const struct route *r, const char *domain, size_t len)
{
	return listed(&r->locals, domain, len);
}

/* The prepend for key, or NULL when virtualdomains has no such key. */
static const char *vd_find(const struct route *r, const char *key, size_t keylen, size_t *plen)
{
	size_t pos = 0, klen;
	const char *k;
	while ((k = ctl_next(&r->virtualdomains, &pos, &klen)) != 0) {
		const char *p = r->virtualdomains.s + pos;
		size_t n = mem_chr(p, r->virtualdomains.len - pos, 0);
		pos += n + 1;
		if (klen == keylen && mem_equal_nocase(k, key, keylen)) {
			*plen = n;
			return p;
		}
	}
	return 0;
}

const char *route_virtual_prepend(const struct route *r, const char *addr, size_t len,
                                  size_t *plen)
{
	size_t at = mem_rchr(addr, len, '@');
	const char *p;
	if (at == len) return 0;
	if ((p = vd_find(r, addr, len, plen)) != 0) return *plen ? p : 0;
	for (size_t i = at + 1; i <= len; ++i) {
		if (i != at + 1 && i != len && addr[i] != '.') continue;
		if ((p = vd_find(r, addr + i, len - i, plen)) != 0) return *plen ? p : 0;
	}
	return 0;
}

int route_recipient(const struct route *r, const char *addr, size_t len, struct str *out)
{
	size_t at, plen;
	const char *prepend;

	str_copyb(out, addr, len);
	if (mem_rchr(out->s, out->len, '@') == out->len) {
		str_catc(out, '@');
		str_cat(out, &r->envnoathost);
	}
	at = mem_rchr(out->s, out->len, '@');
	while (listed(&r->percenthack, out->s + at + 1, out->len - at - 1)) {
		size_t pct = mem_rchr(out->s, at, '%');
		if (pct == at) break;
		str_truncate(out, at);
		out->s[pct] = '@';
		at = pct;
	}
	if (route_is_local_domain(r, out->s + at + 1, out->len - at - 1)) return ROUTE_LOCAL;
	prepend = route_virtual_prepend(r, out->s, out->len, &plen);
	if (!prepend) return ROUTE_REMOTE;
	{
		struct str rw = STR_INIT;
		str_copyb(&rw, prepend, plen);
		str_catc(&rw, '-');
		str_cat(&rw, out);
		str_copy(out, &rw);
		str_free(&rw);
	}
	return ROUTE_LOCAL;
}

void route_free(struct route *r)
{
	str_free(&r->me);
	str_free(&r->envnoathost);
	str_free(&r->locals);
	str_free(&r->virtualdomains);
	str_free(&r->percenthack);
}
