/* str: see str.h. Capacity grows by half again, checked against SIZE_MAX. */
#include "str.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "die.h"

void str_ready(struct str *sa, size_t n)
{
	size_t want;
	char *p;
	if (n < SIZE_MAX) ++n; /* room for str_cstr's terminator */
	if (sa->s && n <= sa->cap) return;
	want = n;
	if (want < SIZE_MAX - want / 2 - 30) want += want / 2 + 30;
	p = realloc(sa->s, want);
	if (!p) die_nomem();
	sa->s = p;
	sa->cap = want;
}

void str_readyplus(struct str *sa, size_t n)
{
	if (n > SIZE_MAX - 1 - sa->len) die_nomem();
	str_ready(sa, sa->len + n);
}

void str_copyb(struct str *sa, const char *b, size_t n)
{
	str_ready(sa, n);
	if (n) memmove(sa->s, b, n);
	sa->len = n;
}

void str_copys(struct str *sa, const char *s) { str_copyb(sa, s, strlen(s)); }
void str_copy(struct str *sa, const struct str *from) { str_copyb(sa, from->s, from->len); }

void str_catb(struct str *sa, const char *b, size_t n)
{
	str_readyplus(sa, n);
	if (n) memmove(sa->s + sa->len, b, n);
	sa->len += n;
}

void str_cats(struct str *sa, const char *s) { str_catb(sa, s, strlen(s)); }
void str_cat(struct str *sa, const struct str *from) { str_catb(sa, from->s, from->len); }
void str_catc(struct str *sa, char c) { str_catb(sa, &c, 1); }

void str_catulong0(struct str *sa, unsigned long u, unsigned width)
{
	char digits[3 * sizeof u + 1];
	size_t n = 0;
	do {
		digits[sizeof digits - 1 - n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	while (n < width && n < sizeof digits) digits[sizeof digits - 1 - n++] = '0';
	str_catb(sa, digits + sizeof digits - n, n);
}

void str_catulong(struct str *sa, unsigned long u) { str_catulong0(sa, u, 0); }

void str_truncate(struct str *sa, size_t len)
{
	if (len < sa->len) sa->len = len;
}

const char *str_cstr(struct str *sa)
{
	str_ready(sa, sa->len);
	sa->s[sa->len] = 0;
	return sa->s;
}

void str_free(struct str *sa)
{
	free(sa->s);
	sa->s = 0;
	sa->len = sa->cap = 0;
}

size_t mem_chr(const char *s, size_t n, char c)
{
	const char *p = n ? memchr(s, c, n) : 0;
	return p ? (size_t)(p - s) : n;
}

size_t mem_rchr(const char *s, size_t n, char c)
{
	size_t i = n;
	while (i > 0)
		if (s[--i] == c) return i;
	return n;
}

size_t mem_scan_ulong(const char *s, size_t n, unsigned long *out)
{
	unsigned long u = 0;
	size_t i;
	for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; ++i) {
		unsigned d = (unsigned)(s[i] - '0');
		if (u > (~0UL - d) / 10) return 0;
		u = u * 10 + d;
	}
	if (i) *out = u;
	return i;
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

int mem_equal_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; ++i)
		if (lower(a[i]) != lower(b[i])) return 0;
	return 1;
}

int str_equals(const struct str *sa, const char *s)
{
	size_t n = strlen(s);
	return sa->len == n && (n == 0 || memcmp(sa->s, s, n) == 0);
}

int str_starts(const struct str *sa, const char *prefix)
{
	size_t n = strlen(prefix);
	return sa->len >= n && (n == 0 || memcmp(sa->s, prefix, n) == 0);
}

void str_lower(struct str *sa)
{
	for (size_t i = 0; i < sa->len; ++i) sa->s[i] = lower(sa->s[i]);
}

void str_chomp(struct str *sa)
{
	if (sa->len && sa->s[sa->len - 1] == '\n') {
		--sa->len;
		if (sa->len && sa->s[sa->len - 1] == '\r') --sa->len;
	}
}

void str_strip_trailing_space(struct str *sa)
{
	while (sa->len) {
		char c = sa->s[sa->len - 1];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') break;
		--sa->len;
	}
}

void str_cat_abbrev(struct str *sa, const char *s, size_t len, size_t max)
{
	for (size_t i = 0; i < len && i < max; ++i) {
		unsigned char c = (unsigned char)s[i];
		str_catc(sa, (c < 32 || c == 127) ? '?' : (char)c);
	}
	if (len > max) str_cats(sa, "...");
}

int str_reason_errno(struct str *why, const char *what, const char *name)
{
	int e = errno;
	why->len = 0;
	str_cats(why, what);
	str_cat_abbrev(why, name, strlen(name), 200);
	str_cats(why, ": ");
	str_cats(why, strerror(e));
	errno = e;
	return -1;
}
