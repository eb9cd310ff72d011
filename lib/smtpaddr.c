/* smtpaddr: see smtpaddr.h. */
#include "smtpaddr.h"

#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t'; }
static int is_ctl(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* Skips "KEYWORD" and ":" with optional blanks around the colon; returns
 * the offset after them, or len + 1 when the argument has no address.
 * Without the keyword and colon the address starts at the first "<", as
 * in qmail-smtpd: "MAIL <a@b>" and "MAIL FROM <a@b>" are taken; a bare
 * "MAIL a@b" is not. */
static size_t skip_keyword(const char *arg, size_t len, const char *keyword)
{
	size_t k = strlen(keyword);
	size_t i;
	if (len >= k && mem_equal_nocase(arg, keyword, k)) {
		i = k;
		while (i < len && is_space(arg[i])) ++i;
		if (i < len && arg[i] == ':') {
			++i;
			while (i < len && is_space(arg[i])) ++i;
			return i;
		}
	}
	i = mem_chr(arg, len, '<');
	return i < len ? i : len + 1;
}

enum smtpaddr_result smtpaddr_parse(const char *arg, size_t len, const char *keyword,
                                    struct str *addr, size_t *params)
{
	size_t i = skip_keyword(arg, len, keyword);
	int bracket = 0, quoted = 0, closed = 0;
	addr->len = 0;
	if (i > len) return SMTPADDR_SYNTAX;
	if (i < len && arg[i] == '<') {
		bracket = 1;
		++i;
	}
	/* A source route (RFC 5321 4.1.2, obsolete) names the hops; the
	 * last part is the address. Dropping it, as qmail does, means a
	 * route can never steer mail through this host to a third one. */
	if (i < len && arg[i] == '@') {
		size_t colon = mem_chr(arg + i, len - i, ':');
		if (colon == len - i) return SMTPADDR_SYNTAX;
		i += colon + 1;
	}
	for (; i < len; ++i) {
		char c = arg[i];
		if (c == '\\' && i + 1 < len) {
			str_catc(addr, arg[++i]);
		} else if (c == '"') {
			quoted = !quoted;
		} else if (!quoted && bracket && c == '>') {
			closed = 1;
			++i;
			break;
		} else if (!quoted && !bracket && is_space(c)) {
			break;
		} else {
			str_catc(addr, c);
		}
		if (addr->len > SMTPADDR_MAX) return SMTPADDR_TOOLONG;
	}
	if (bracket && !closed) return SMTPADDR_SYNTAX;
	if (quoted) return SMTPADDR_SYNTAX;
	for (size_t j = 0; j < addr->len; ++j)
		if (is_ctl((unsigned char)addr->s[j])) return SMTPADDR_BADCHAR;
	while (i < len && is_space(arg[i])) ++i;
	*params = i;
	return SMTPADDR_OK;
}

int smtpaddr_param(const char *p, size_t len, const char *name, const char **val,
                   size_t *vlen)
{
	size_t n = strlen(name);
	size_t i = 0;
	while (i < len) {
		size_t start, end;
		while (i < len && is_space(p[i])) ++i;
		start = i;
		while (i < len && !is_space(p[i])) ++i;
		end = i;
		if (end - start >= n && mem_equal_nocase(p + start, name, n) &&
		    (end - start == n || p[start + n] == '=')) {
			size_t v = start + n + (end - start > n);
			*val = p + v;
			*vlen = end - v;
			return 1;
		}
	}
	return 0;
}
