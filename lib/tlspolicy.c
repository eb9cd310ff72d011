/* tlspolicy: see tlspolicy.h. */
#include "tlspolicy.h"

#include <string.h>

#include "ctl.h"

int tlspolicy_required(const struct tlspolicy *p)
{
	return p->level != TLSPOLICY_MAY && p->level != TLSPOLICY_OFF;
}

static int word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && mem_equal_nocase(s, word, len);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* One digest: 64 hex digits, single colons allowed between pairs. */
static int parse_pin(unsigned char *out, const char *s, size_t len)
{
	size_t n = 0, i = 0;
	while (i < len) {
		int hi, lo;
		if (n == TLSPOLICY_PINLEN || i + 1 >= len) return -1;
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0) return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		i += 2;
		if (i < len && s[i] == ':') {
			++i;
			if (i == len) return -1;
		}
	}
	return n == TLSPOLICY_PINLEN ? 0 : -1;
}

static int parse_pins(struct tlspolicy *p, const char *s, size_t len)
{
	p->npins = 0;
	while (len) {
		size_t comma = mem_chr(s, len, ',');
		size_t a = 0, b = comma;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			++a;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
			--b;
		if (p->npins == TLSPOLICY_PINMAX) return -1;
		if (parse_pin(p->pins[p->npins], s + a, b - a) == -1) return -1;
		++p->npins;
		if (comma == len) break;
		s += comma + 1;
		len -= comma + 1;
		if (!len) return -1; /* a trailing comma */
	}
	return p->npins ? 0 : -1;
}

int tlspolicy_parse(struct tlspolicy *p, const char *s, size_t len)
{
	size_t colon = mem_chr(s, len, ':');
	const char *arg = colon < len ? s + colon + 1 : s + len;
	size_t alen = colon < len ? len - colon - 1 : 0;
	p->level = TLSPOLICY_MAY;
	p->cafile.len = 0;
	p->npins = 0;
	if (word_is(s, colon, "may") && colon == len) return 0;
	if (word_is(s, colon, "off") && colon == len) {
		p->level = TLSPOLICY_OFF;
		return 0;
	}
	if ((word_is(s, colon, "encrypt") || word_is(s, colon, "none")) && colon == len) {
		p->level = TLSPOLICY_ENCRYPT;
		return 0;
	}
	if (word_is(s, colon, "ca")) {
		if (colon < len && alen == 0) return -1;
		p->level = TLSPOLICY_CA;
		str_copyb(&p->cafile, arg, alen);
		return 0;
	}
	if (word_is(s, colon, "pin") && colon < len) {
		if (parse_pins(p, arg, alen) == -1) return -1;
		p->level = TLSPOLICY_PIN;
		return 0;
	}
	return -1;
}

int tlspolicy_lookup(struct tlspolicy *p, const struct str *lines, const char *host, size_t len)
{
	const char *v = 0;
	size_t vlen = 0;
	p->level = TLSPOLICY_MAY;
	p->cafile.len = 0;
	p->npins = 0;
	v = ctl_domain_value(lines, host, len, &vlen);
	if (!v) return 0;
	return tlspolicy_parse(p, v, vlen) == -1 ? -2 : 0;
}

int tlspolicy_find(struct tlspolicy *p, const char *host, size_t len)
{
	struct str lines = STR_INIT;
	int r = ctl_read_lines("control/tlsdestinations", &lines);
	if (r == -1) return -1;
	r = tlspolicy_lookup(p, &lines, host, len);
	str_free(&lines);
	return r;
}
