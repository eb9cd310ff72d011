/* smtpreply: see smtpreply.h. */
#include "smtpreply.h"

#include <string.h>

static int digit(char c) { return c >= '0' && c <= '9'; }

void smtpreply_start(struct smtpreply *r)
{
	r->code = 0;
	r->lines = 0;
	r->text.len = 0;
}

static void keep(struct smtpreply *r, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		--len;
	for (size_t i = 0; i < len && r->text.len < SMTPREPLY_TEXTMAX - 1; ++i) {
		char c = line[i];
		if (c == '\r') continue;
		str_catc(&r->text, c ? c : '?');
	}
	if (r->text.len < SMTPREPLY_TEXTMAX) str_catc(&r->text, '\n');
}

int smtpreply_line(struct smtpreply *r, const char *line, size_t len)
{
	int first = r->lines++ == 0;
	keep(r, line, len);
	if (first) {
		if (len < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
		    line[0] < '2' || line[0] > '5')
			return 1; /* malformed: code stays 0 */
		r->code = (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
		          (unsigned)(line[2] - '0');
	}
	/* "NNN-" continues; "NNN ", "NNN" and anything else ends the reply.
	 * A continuation line with another code is taken as it comes, as
	 * most clients do. */
	return !(len >= 4 && line[3] == '-');
}

int smtpreply_class(unsigned code)
{
	if (code >= 200 && code < 400) return 2;
	if (code >= 500 && code < 600) return 5;
	return 4;
}

int smtpreply_ehlo_has(const struct smtpreply *r, const char *keyword, const char **param,
                       size_t *plen)
{
	size_t klen = strlen(keyword);
	size_t pos = mem_chr(r->text.s, r->text.len, '\n'); /* skip the greeting line */
	while (pos < r->text.len) {
		const char *line = r->text.s + pos + 1;
		size_t len = mem_chr(line, r->text.len - pos - 1, '\n');
		pos += len + 1;
		if (len < 4 + klen) continue;
		line += 4; /* "250-" or "250 " */
		len -= 4;
		if (!mem_equal_nocase(line, keyword, klen)) continue;
		if (len > klen && line[klen] != ' ' && line[klen] != '=') continue;
		const char *p = line + klen;
		size_t n = len - klen;
		while (n && (*p == ' ' || *p == '=')) {
			++p;
			--n;
		}
		if (param) *param = p;
		if (plen) *plen = n;
		return 1;
	}
	return 0;
}

int smtpreply_ehlo_size(const struct smtpreply *r, unsigned long *limit)
{
	const char *p;
	size_t n, i;
	unsigned long u = 0;
	if (!smtpreply_ehlo_has(r, "SIZE", &p, &n)) return 0;
	for (i = 0; i < n && digit(p[i]); ++i) {
		unsigned d = (unsigned)(p[i] - '0');
		if (u > (~0UL - d) / 10) return 0;
		u = u * 10 + d;
	}
	if (i == 0 || u == 0) return 0;
	*limit = u;
	return 1;
}

void smtpreply_free(struct smtpreply *r) { str_free(&r->text); }
