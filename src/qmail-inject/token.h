/* token: RFC 822 header tokens for qmail-inject.
 *
 * A header field is split into tokens (atoms, quoted strings, domain
 * literals, comments and the specials , @ . < > ; :), its address list is
 * walked with a rewrite callback called on each address, and the tokens
 * are written back with one address per comma, folded so that lines stay
 * within a given width. The rules are qmail-inject's: an illegal space
 * between two words starts a new address ("djb fred" -> "djb, fred"),
 * a comment travels with the address it follows, and a group's display
 * name is kept as it is.
 *
 * Parsing fails (returns 0) on an unbalanced quote, comment or literal, a
 * stray ')' or ']', and on misplaced group punctuation; the caller decides
 * whether that is fatal.
 */
#ifndef NQ_INJECT_TOKEN_H
#define NQ_INJECT_TOKEN_H

#include <stddef.h>

#include "str.h"

enum tok_type {
	TOK_ATOM = 1,
	TOK_QUOTE,
	TOK_LITERAL,
	TOK_COMMENT,
	TOK_COMMA,
	TOK_AT,
	TOK_DOT,
	TOK_LEFT,
	TOK_RIGHT,
	TOK_SEMI,
	TOK_COLON
};

struct tok {
	enum tok_type type;
	struct str text; /* unescaped contents of words and comments */
};

struct toklist {
	struct tok *t;
	size_t len;
	size_t cap;
};
#define TOKLIST_INIT {0, 0, 0}

void tok_append(struct toklist *tl, enum tok_type type, const char *s, size_t len);
void tok_append_tok(struct toklist *tl, const struct tok *t);
void tok_remove(struct toklist *tl, size_t from, size_t n);
void tok_clear(struct toklist *tl);
void tok_free(struct toklist *tl);

/* Splits s into tokens, appended to out. 1 ok, 0 syntax error. */
int tok_parse(struct toklist *out, const char *s, size_t len);

/* Walks the address list in in->t[first..] (the tokens before it, the
 * field name and its colon, are copied as they are). rewrite gets each
 * address, the last one first (RFC 822 lists parse easily from the right,
 * and qmail-inject collects recipients in that order), with its tokens in
 * order, and may change them. out receives the
 * whole field. 1 ok, 0 syntax error. */
typedef void (*tok_rewrite)(struct toklist *addr, void *ctx);
int tok_addrlist(struct toklist *out, const struct toklist *in, size_t first, tok_rewrite rw,
                 void *ctx);

/* Writes tokens as header text ending in "\n"; lines are broken after
 * commas so that each stays within linelen where possible. */
void tok_unparse(struct str *out, const struct toklist *tl, size_t linelen);
/* Writes tokens as a bare address: no quoting, comments dropped. */
void tok_unquote(struct str *out, const struct toklist *tl);

/* Appends addr with its local part quoted when RFC 822 needs it, the
 * way qmail-inject prints and parses command-line addresses. */
void tok_quote_addr(struct str *out, const char *addr, size_t len);
/* 1 when s needs quotes to be a local part. */
int tok_quote_needed(const char *s, size_t len);

#endif
