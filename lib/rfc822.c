/* rfc822: see rfc822.h. */
#include "rfc822.h"

#include <stdlib.h>
#include <string.h>

#include "die.h"

void rfc822_append(struct rfc822_tokens *tl, enum rfc822_type type, const char *s, size_t len)
{
	struct rfc822_token *t;
	if (tl->len == tl->cap) {
		size_t cap = tl->cap ? tl->cap * 2 : 16;
		struct rfc822_token *n;
		if (cap > ((size_t)-1) / sizeof *n) die_nomem();
		n = realloc(tl->t, cap * sizeof *n);
		if (!n) die_nomem();
		tl->t = n;
		tl->cap = cap;
	}
	t = &tl->t[tl->len++];
	t->type = type;
	t->text.s = 0;
	t->text.len = t->text.cap = 0;
	str_copyb(&t->text, s, len);
}

void rfc822_append_tok(struct rfc822_tokens *tl, const struct rfc822_token *t)
{
	rfc822_append(tl, t->type, t->text.s, t->text.len);
}

void rfc822_remove(struct rfc822_tokens *tl, size_t from, size_t n)
{
	size_t i;
	if (from >= tl->len) return;
	if (n > tl->len - from) n = tl->len - from;
	for (i = from; i < from + n; ++i)
		str_free(&tl->t[i].text);
	memmove(tl->t + from, tl->t + from + n, (tl->len - from - n) * sizeof *tl->t);
	tl->len -= n;
}

void rfc822_clear(struct rfc822_tokens *tl) { rfc822_remove(tl, 0, tl->len); }

void rfc822_free(struct rfc822_tokens *tl)
{
	rfc822_clear(tl);
	free(tl->t);
	tl->t = 0;
	tl->cap = 0;
}

static void rfc822_reverse(struct rfc822_tokens *tl)
{
	size_t i, n = tl->len;
	for (i = 0; i + 1 < n - i; ++i) {
		struct rfc822_token tmp = tl->t[i];
		tl->t[i] = tl->t[n - 1 - i];
		tl->t[n - 1 - i] = tmp;
	}
}

/* Bytes that end an atom. ')' and ']' do not: they make it a quoted
 * string instead (see atom_type). */
static int atom_continues(char c) { return strchr(" \t\r\n([\"<>;:@,.", c) == 0 || c == 0; }

static enum rfc822_type atom_type(const struct str *s)
{
	size_t i;
	for (i = 0; i < s->len; ++i) {
		unsigned char c = (unsigned char)s->s[i];
		if (c < 32 || c > 126 || c == ')' || c == ']' || c == '\\') return RFC822_QUOTE;
	}
	return RFC822_ATOM;
}

/* Reads a quoted string, literal or comment starting after its opening
 * byte; returns the index after the closing byte, or len+1 on error. */
static size_t read_delimited(const char *s, size_t len, size_t i, char close, int nests,
                             struct str *text)
{
	int level = 1;
	for (;;) {
		char c;
		if (i >= len) return len + 1;
		c = s[i++];
		if (nests && c == '(') {
			++level; /* nested parentheses are dropped, their text kept */
			continue;
		}
		if (c == close) {
			if (--level == 0) return i;
			continue;
		}
		if (c == '\\') {
			if (i >= len) return len + 1;
			c = s[i++];
		}
		str_catc(text, c);
	}
}

int rfc822_parse(struct rfc822_tokens *out, const char *s, size_t len)
{
	static const char specials[] = ".,@<>:;";
	static const enum rfc822_type special_type[] = {RFC822_DOT,  RFC822_COMMA, RFC822_AT,
	                                                RFC822_LEFT, RFC822_RIGHT, RFC822_COLON,
	                                                RFC822_SEMI};
	struct str text = STR_INIT;
	size_t i = 0;
	int ok = 1;

	while (i < len) {
		char c = s[i];
		const char *sp = c ? strchr(specials, c) : 0;
		enum rfc822_type type;
		char close;
		if (sp) {
			rfc822_append(out, special_type[sp - specials], "", 0);
			++i;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			++i;
			continue;
		}
		if (c == ')' || c == ']') {
			ok = 0;
			break;
		}
		text.len = 0;
		if (c == '(' || c == '"' || c == '[') {
			type = c == '(' ? RFC822_COMMENT : c == '"' ? RFC822_QUOTE : RFC822_LITERAL;
			close = c == '(' ? ')' : c == '"' ? '"' : ']';
			i = read_delimited(s, len, i + 1, close, c == '(', &text);
			if (i > len) {
				ok = 0;
				break;
			}
			rfc822_append(out, type, text.s ? text.s : "", text.len);
			continue;
		}
		/* An atom; a backslash takes the next byte as it is. */
		do {
			if (s[i] == '\\' && ++i >= len) break;
			str_catc(&text, s[i]);
			++i;
		} while (i < len && atom_continues(s[i]));
		rfc822_append(out, atom_type(&text), text.s ? text.s : "", text.len);
	}
	str_free(&text);
	return ok;
}

/* Hands the collected address (kept in reverse) to the callback and
 * moves it, rewritten, to the reversed output. */
static void got_address(struct rfc822_tokens *rev, struct rfc822_tokens *addr, rfc822_rewrite rw,
                        void *ctx)
{
	size_t i;
	rfc822_reverse(addr);
	rw(addr, ctx);
	for (i = addr->len; i > 0; --i)
		rfc822_append_tok(rev, &addr->t[i - 1]);
	rfc822_clear(addr);
}

static void flush(struct rfc822_tokens *rev, struct rfc822_tokens *addr, rfc822_rewrite rw,
                  void *ctx, int comma)
{
	if (!addr->len) return;
	got_address(rev, addr, rw, ctx);
	if (comma) rfc822_append(rev, RFC822_COMMA, "", 0);
}

int rfc822_addrlist(struct rfc822_tokens *out, const struct rfc822_tokens *in, size_t first,
                    rfc822_rewrite rw, void *ctx)
{
	struct rfc822_tokens rev = RFC822_TOKENS_INIT;
	struct rfc822_tokens addr = RFC822_TOKENS_INIT;
	int ingroup = 0, wordok = 1, ok = 1;
	size_t i = in->len; /* in->t[i - 1] is the next token, right to left */

	rfc822_clear(out);
	if (first > in->len) first = in->len;
	while (ok && i > first) {
		const struct rfc822_token *t = &in->t[i - 1];
		switch (t->type) {
		case RFC822_SEMI: /* end of a group */
			flush(&rev, &addr, rw, ctx, 1);
			if (ingroup) ok = 0;
			ingroup = 1;
			wordok = 1;
			rfc822_append_tok(&rev, t);
			--i;
			break;
		case RFC822_COLON: /* start of the group: its name stays as written */
			flush(&rev, &addr, rw, ctx, 0);
			if (!ingroup) {
				ok = 0;
				break;
			}
			ingroup = 0;
			while (i > first && in->t[i - 1].type != RFC822_COMMA)
				rfc822_append_tok(&rev, &in->t[--i]);
			if (i > first) rfc822_append_tok(&rev, &in->t[--i]);
			wordok = 1;
			break;
		case RFC822_RIGHT: /* phrase <route-addr>: even <> is an address */
			flush(&rev, &addr, rw, ctx, 1);
			rfc822_append_tok(&rev, &in->t[--i]);
			while (i > first && in->t[i - 1].type != RFC822_LEFT)
				rfc822_append_tok(&addr, &in->t[--i]);
			got_address(&rev, &addr, rw, ctx);
			if (i <= first) {
				ok = 0;
				break;
			}
			rfc822_append_tok(&rev, &in->t[--i]);
			while (i > first) {
				enum rfc822_type ty = in->t[i - 1].type;
				if (ty != RFC822_COMMENT && ty != RFC822_ATOM &&
				    ty != RFC822_QUOTE && ty != RFC822_AT && ty != RFC822_DOT)
					break;
				rfc822_append_tok(&rev, &in->t[--i]);
			}
			wordok = 0;
			break;
		case RFC822_ATOM:
		case RFC822_QUOTE:
		case RFC822_LITERAL:
			/* Two words in a row: the space between them was meant as a comma. */
			if (!wordok) flush(&rev, &addr, rw, ctx, 1);
			wordok = 0;
			rfc822_append_tok(&addr, &in->t[--i]);
			break;
		case RFC822_COMMENT: /* lexically a space: stays next to its address */
			rfc822_append_tok(&rev, &in->t[--i]);
			break;
		case RFC822_COMMA:
			flush(&rev, &addr, rw, ctx, 0);
			wordok = 1;
			rfc822_append_tok(&rev, &in->t[--i]);
			break;
		default:
			wordok = 1;
			rfc822_append_tok(&addr, &in->t[--i]);
			break;
		}
	}
	if (ok) {
		flush(&rev, &addr, rw, ctx, 0);
		while (i > 0)
			rfc822_append_tok(&rev, &in->t[--i]);
		rfc822_reverse(&rev);
		for (i = 0; i < rev.len; ++i)
			rfc822_append_tok(out, &rev.t[i]);
	}
	rfc822_free(&rev);
	rfc822_free(&addr);
	return ok;
}

static int is_word(enum rfc822_type t)
{
	return t == RFC822_ATOM || t == RFC822_LITERAL || t == RFC822_QUOTE || t == RFC822_COMMENT;
}

static int space_between(enum rfc822_type prev, enum rfc822_type next)
{
	if (!prev) return 0;
	if (prev == RFC822_COLON || prev == RFC822_COMMA || next == RFC822_LEFT) return 1;
	return is_word(prev) && is_word(next);
}

/* A place to fold: kept as "\n " for now; the previous one is undone
 * when the line it started is still short enough. */
struct folding {
	size_t line_start;
	size_t pending; /* offset of the tentative "\n ", or (size_t)-1 */
	size_t linelen;
};

static void fold_point(struct str *out, struct folding *f)
{
	if (f->pending != (size_t)-1 && out->len - f->line_start <= f->linelen) {
		memmove(out->s + f->pending, out->s + f->pending + 2, out->len - f->pending - 2);
		out->len -= 2;
	} else if (f->pending != (size_t)-1) {
		f->line_start = f->pending + 1;
	}
	str_cats(out, "\n ");
	f->pending = out->len - 2;
}

static void cat_escaped(struct str *out, const struct str *text)
{
	size_t i;
	for (i = 0; i < text->len; ++i) {
		char c = text->s[i];
		if (strchr("\"[]()\\\r\n", c) && c) str_catc(out, '\\');
		str_catc(out, c);
	}
}

void rfc822_unparse(struct str *out, const struct rfc822_tokens *tl, size_t linelen)
{
	struct folding f = {0, (size_t)-1, linelen};
	enum rfc822_type prev = 0;
	size_t i;
	static const char punct[] = ",@.<>;:";

	out->len = 0;
	for (i = 0; i < tl->len; ++i) {
		const struct rfc822_token *t = &tl->t[i];
		if (space_between(prev, t->type)) str_catc(out, ' ');
		prev = t->type;
		switch (t->type) {
		case RFC822_COMMA:
			str_catc(out, ',');
			fold_point(out, &f);
			break;
		case RFC822_AT:
		case RFC822_DOT:
		case RFC822_LEFT:
		case RFC822_RIGHT:
		case RFC822_SEMI:
		case RFC822_COLON: str_catc(out, punct[t->type - RFC822_COMMA]); break;
		case RFC822_QUOTE:
			str_catc(out, '"');
			cat_escaped(out, &t->text);
			str_catc(out, '"');
			break;
		case RFC822_LITERAL:
			str_catc(out, '[');
			cat_escaped(out, &t->text);
			str_catc(out, ']');
			break;
		case RFC822_COMMENT:
			str_catc(out, '(');
			cat_escaped(out, &t->text);
			str_catc(out, ')');
			break;
		case RFC822_ATOM: cat_escaped(out, &t->text); break;
		}
	}
	fold_point(out, &f);
	--out->len; /* the space after the final newline */
}

void rfc822_unquote(struct str *out, const struct rfc822_tokens *tl)
{
	static const char punct[] = ",@.<>;:";
	size_t i;
	out->len = 0;
	str_ready(out, 0);
	for (i = 0; i < tl->len; ++i) {
		const struct rfc822_token *t = &tl->t[i];
		switch (t->type) {
		case RFC822_COMMENT: break;
		case RFC822_LITERAL:
			str_catc(out, '[');
			str_cat(out, &t->text);
			str_catc(out, ']');
			break;
		case RFC822_ATOM:
		case RFC822_QUOTE: str_cat(out, &t->text); break;
		default: str_catc(out, punct[t->type - RFC822_COMMA]); break;
		}
	}
}

int rfc822_quote_needed(const char *s, size_t len)
{
	size_t i;
	if (len == 0) return 1;
	for (i = 0; i < len; ++i) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 32 || c >= 127) return 1;
		if (strchr("\"(),:;<>@[\\]", c)) return 1;
		if (c == '.' && i + 1 < len && s[i + 1] == '.') return 1;
	}
	return s[0] == '.' || s[len - 1] == '.';
}

void rfc822_quote_addr(struct str *out, const char *addr, size_t len)
{
	size_t at = mem_rchr(addr, len, '@');
	size_t i;
	if (len == 0) return;
	if (!rfc822_quote_needed(addr, at)) {
		str_catb(out, addr, len);
		return;
	}
	str_catc(out, '"');
	for (i = 0; i < at; ++i) {
		char c = addr[i];
		if (c == '\r' || c == '\n' || c == '"' || c == '\\') str_catc(out, '\\');
		str_catc(out, c);
	}
	str_catc(out, '"');
	str_catb(out, addr + at, len - at);
}
