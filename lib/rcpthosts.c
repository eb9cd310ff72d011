/* rcpthosts: see rcpthosts.h. The lines are kept sorted so that a lookup
 * is a binary search per dot of the domain, however long the file. */
#include "rcpthosts.h"

#include <stdlib.h>
#include <string.h>

#include "cdbfile.h"
#include "ctl.h"
#include "die.h"

static const struct str *sort_lines;

static int line_cmp_ptr(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	if (c) return c;
	return alen < blen ? -1 : alen > blen;
}

static int index_cmp(const void *x, const void *y)
{
	const char *a = sort_lines->s + *(const size_t *)x;
	const char *b = sort_lines->s + *(const size_t *)y;
	return line_cmp_ptr(a, strlen(a), b, strlen(b));
}

int rcpthosts_open(struct rcpthosts *rh)
{
	size_t pos = 0, len, n = 0;
	int r;
	rh->present = 0;
	rh->lines.s = 0;
	rh->lines.len = rh->lines.cap = 0;
	rh->index = 0;
	rh->count = 0;
	r = ctl_read_lines("control/rcpthosts", &rh->lines);
	if (r == -1) return -1;
	if (r == 0) return 0;
	rh->present = 1;
	for (size_t i = 0; i < rh->lines.len; ++i) {
		char c = rh->lines.s[i];
		if (c >= 'A' && c <= 'Z') rh->lines.s[i] = (char)(c + 32);
		if (!c) ++n;
	}
	if (!n) return 0;
	rh->index = calloc(n, sizeof *rh->index);
	if (!rh->index) die_nomem();
	while (ctl_next(&rh->lines, &pos, &len)) rh->index[rh->count++] = pos - len - 1;
	sort_lines = &rh->lines;
	qsort(rh->index, rh->count, sizeof *rh->index, index_cmp);
	return 0;
}

static int listed(const struct rcpthosts *rh, const char *d, size_t len)
{
	size_t lo = 0, hi = rh->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *s = rh->lines.s + rh->index[mid];
		int c = line_cmp_ptr(d, len, s, strlen(s));
		if (!c) return 1;
		if (c < 0) hi = mid;
		else lo = mid + 1;
	}
	return 0;
}

int rcpthosts_allows(const struct rcpthosts *rh, const char *addr, size_t len)
{
	struct str dom = STR_INIT, val = STR_INIT;
	size_t at;
	int r = 0;
	if (!rh->present) return 1;
	at = mem_rchr(addr, len, '@');
	if (at == len) return 1;
	/* "user@.example.com" would match the wildcard line ".example.com"
	 * itself; it is no host name, so it is never ours. */
	if (at + 1 < len && addr[at + 1] == '.') return 0;
	str_copyb(&dom, addr + at + 1, len - at - 1);
	str_lower(&dom);
	for (size_t j = 0; j < dom.len && !r; ++j)
		if (j == 0 || dom.s[j] == '.') r = listed(rh, dom.s + j, dom.len - j);
	for (size_t j = 0; j < dom.len && !r; ++j)
		if (j == 0 || dom.s[j] == '.')
			r = cdbfile_lookup("control/morercpthosts.cdb", dom.s + j, dom.len - j, &val);
	str_free(&dom);
	str_free(&val);
	return r;
}

void rcpthosts_free(struct rcpthosts *rh)
{
	str_free(&rh->lines);
	free(rh->index);
	rh->index = 0;
	rh->count = 0;
}
