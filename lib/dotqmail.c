/* dotqmail: see dotqmail.h. Line rules follow dot-qmail(5): trailing
 * spaces and tabs are ignored, blank lines are allowed except as the
 * first line, '#' starts a comment, '|' a program, '/' or '.' a file
 * (a maildir when it ends in '/'), '&' or anything else a forward.
 * "+list" is qmail's mailing-list marker: from there on only forwards. */
#include "dotqmail.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "addr.h"
#include "auto.h"
#include "die.h"

static void add(struct dotqmail *dq, enum dotqmail_kind kind, char *text, size_t len,
                size_t lineno)
{
	if (dq->n == dq->cap) {
		size_t cap = dq->cap ? dq->cap * 2 : 16;
		struct dotqmail_line *v;
		if (cap > SIZE_MAX / sizeof *v) die_nomem();
		v = realloc(dq->v, cap * sizeof *v);
		if (!v) die_nomem();
		dq->v = v;
		dq->cap = cap;
	}
	dq->v[dq->n].kind = kind;
	dq->v[dq->n].text = text;
	dq->v[dq->n].len = len;
	dq->v[dq->n].lineno = lineno;
	++dq->n;
}

static int bad(struct str *why, size_t lineno, const char *what, const char *line, size_t len)
{
	why->len = 0;
	str_cats(why, "Uh-oh: .qmail line ");
	str_catulong(why, lineno);
	str_cats(why, " ");
	str_cats(why, what);
	if (line) {
		str_cats(why, ": ");
		str_cat_abbrev(why, line, len, 200);
	}
	str_cats(why, " (#4.7.0)");
	return -1;
}

int dotqmail_parse(char *text, size_t len, int forward_only, struct dotqmail *out, struct str *why)
{
	size_t pos = 0, lineno = 0;
	memset(out, 0, sizeof *out);
	while (pos < len) {
		size_t n = mem_chr(text + pos, len - pos, '\n');
		char *line = text + pos;
		size_t end = n;
		++lineno;
		pos += n + 1;
		while (end > 0 && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
		if (mem_chr(line, end, 0) < end) return bad(why, lineno, "contains a NUL byte", 0, 0);
		line[end] = 0; /* the byte after the line: its newline, or the spare byte */
		if (end == 0) {
			if (lineno == 1) {
				why->len = 0;
				str_cats(why, "Uh-oh: first line of .qmail file is blank. (#4.2.1)");
				return -1;
			}
			continue;
		}
		switch (line[0]) {
		case '#':
			break;
		case '.':
		case '/':
			++out->files;
			if (forward_only)
				return bad(why, lineno, "has file delivery but .qmail has x bit set", line, end);
			add(out, line[end - 1] == '/' ? DOTQMAIL_MAILDIR : DOTQMAIL_MBOX, line, end, lineno);
			break;
		case '|':
			++out->programs;
			if (forward_only)
				return bad(why, lineno, "has prog delivery but .qmail has x bit set", line, end);
			add(out, DOTQMAIL_PROGRAM, line + 1, end - 1, lineno);
			break;
		case '+':
			if (strcmp(line, "+list") == 0) forward_only = 1;
			break;
		default: {
			char *a = line[0] == '&' ? line + 1 : line;
			size_t alen = end - (size_t)(a - line);
			++out->forwards;
			if (!addr_forwardable(a, alen))
				return bad(why, lineno, "is not a valid forward address", line, end);
			add(out, DOTQMAIL_FORWARD, a, alen, lineno);
		}
		}
	}
	return 0;
}

void dotqmail_free(struct dotqmail *dq)
{
	free(dq->v);
	memset(dq, 0, sizeof *dq);
}

void dotqmail_safeext(struct str *out, const char *ext)
{
	str_copys(out, ext);
	str_lower(out);
	for (size_t i = 0; i < out->len; ++i)
		if (out->s[i] == '.') out->s[i] = ':';
}

static void search_name(struct str *fn, const char *dash, const struct str *safe, size_t extlen,
                        const char *suffix)
{
	str_copys(fn, ".qmail");
	str_cats(fn, dash);
	str_catb(fn, safe->s, extlen);
	str_cats(fn, suffix);
}

int dotqmail_search(const char *dash, const char *ext, dotqmail_try try, void *ctx)
{
	struct str safe = STR_INIT, fn = STR_INIT;
	const char *rest = 0;
	size_t i;
	int r;

	dotqmail_safeext(&safe, ext);
	search_name(&fn, dash, &safe, safe.len, "");
	if (safe.len >= 7 && memcmp(safe.s + safe.len - 7, "default", 7) == 0)
		rest = ext + safe.len - 7;
	r = try(str_cstr(&fn), rest, ctx);
	for (i = safe.len + 1; !r && i-- > 0;) {
		if (i > 0 && safe.s[i - 1] != '-') continue;
		search_name(&fn, dash, &safe, i, "default");
		r = try(str_cstr(&fn), ext + i, ctx);
	}
	str_free(&safe);
	str_free(&fn);
	return r;
}

const char *dotqmail_home_defer(unsigned long mode)
{
	if (mode & AUTO_PATRN) return "Uh-oh: home directory is writable. (#4.7.0)";
	if (mode & S_ISVTX) return "Home directory is sticky: user is editing his .qmail file. (#4.2.1)";
	return 0;
}
