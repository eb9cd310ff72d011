/* addr: see addr.h. */
#include "addr.h"

#include <string.h>

static int atom_char(unsigned char c)
{
	if (c <= 32 || c >= 127) return 0;
	return strchr("()<>@,;:\\\".[]", c) == 0;
}

static int local_needs_quotes(const char *s, size_t n)
{
	if (n == 0) return 1;
	if (s[0] == '.' || s[n - 1] == '.') return 1;
	for (size_t i = 0; i < n; ++i) {
		if (s[i] == '.') {
			if (i + 1 < n && s[i + 1] == '.') return 1;
			continue;
		}
		if (!atom_char((unsigned char)s[i])) return 1;
	}
	return 0;
}

size_t addr_at(const char *addr, size_t len) { return mem_rchr(addr, len, '@'); }

void addr_quote(struct str *out, const char *addr, size_t len)
{
	size_t at = addr_at(addr, len);
	if (len == 0 || (len == 4 && memcmp(addr, "#@[]", 4) == 0)) {
		str_catb(out, addr, len);
		return;
	}
	if (!local_needs_quotes(addr, at)) {
		str_catb(out, addr, len);
		return;
	}
	str_catc(out, '"');
	for (size_t i = 0; i < at; ++i) {
		if (addr[i] == '"' || addr[i] == '\\') str_catc(out, '\\');
		str_catc(out, addr[i]);
	}
	str_catc(out, '"');
	str_catb(out, addr + at, len - at);
}

int addr_forwardable(const char *addr, size_t len)
{
	size_t at = addr_at(addr, len);
	if (len == 0 || at == 0 || at + 1 == len) return 0;
	for (size_t i = 0; i < len; ++i) {
		unsigned char c = (unsigned char)addr[i];
		if (c <= 32 || c == 127 || c == '<' || c == '>' || c == '(' || c == ')') return 0;
	}
	/* A bare user or a domain without dots is a real address that qmail
	 * forwards as it is: qmail-send adds envnoathost to the first and
	 * routes the second through locals, virtualdomains or smtproutes. */
	if (at < len && addr[at + 1] == '[') return addr[len - 1] == ']';
	return 1;
}

static int is_verp(const char *sender, size_t slen)
{
	return slen >= 4 && memcmp(sender + slen - 4, "-@[]", 4) == 0;
}

void addr_verp(struct str *out, const char *sender, size_t slen, const char *recip, size_t rlen)
{
	if (is_verp(sender, slen)) {
		size_t at = addr_at(sender, slen - 4); /* the '@' before the host */
		size_t rat = addr_at(recip, rlen);
		if (rat < rlen && at < slen - 4) {
			str_catb(out, sender, at);
			str_catb(out, recip, rat);
			str_catc(out, '=');
			str_catb(out, recip + rat + 1, rlen - rat - 1);
			str_catc(out, '@');
			str_catb(out, sender + at + 1, slen - 4 - at - 1);
			return;
		}
	}
	if (slen) str_catb(out, sender, slen);
}

size_t addr_verp_base(const char *sender, size_t slen)
{
	return is_verp(sender, slen) ? slen - 4 : slen;
}
