/* rfc822: RFC 822 header tokens and address lists, as qmail-inject uses them.
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
#ifndef NQ_RFC822_H
#define NQ_RFC822_H

#include <stddef.h>

#include "str.h"

enum rfc822_type {
	RFC822_ATOM = 1,
	RFC822_QUOTE,
	RFC822_LITERAL,
	RFC822_COMMENT,
	RFC822_COMMA,
	RFC822_AT,
	RFC822_DOT,
	RFC822_LEFT,
	RFC822_RIGHT,
	RFC822_SEMI,
	RFC822_COLON
};

struct rfc822_token {
	enum rfc822_type type;
	struct str text; /* unescaped contents of words and comments */
};

struct rfc822_tokens {
	struct rfc822_token *t;
	size_t len;
	size_t cap;
};
#define RFC822_TOKENS_INIT                                                                         \
	{                                                                                          \
		0, 0, 0                                                                            \
	}

void rfc822_append(struct rfc822_tokens *tl, enum rfc822_type type, const char *s, size_t len);
void rfc822_append_tok(struct rfc822_tokens *tl, const struct rfc822_token *t);
void rfc822_remove(struct rfc822_tokens *tl, size_t from, size_t n);
void rfc822_clear(struct rfc822_tokens *tl);
void rfc822_free(struct rfc822_tokens *tl);

/* Splits s into tokens, appended to out. 1 ok, 0 syntax error. */
int rfc822_parse(struct rfc822_tokens *out, const char *s, size_t len);

/* Walks the address list in in->t[first..] (the tokens before it, the
 * field name and its colon, are copied as they are). rewrite gets each
 * address, the last one first (RFC 822 lists parse easily from the right,
 * and qmail-inject collects recipients in that order), with its tokens in
 * order, and may change them. out receives the
 * whole field. 1 ok, 0 syntax error. */
typedef void (*rfc822_rewrite)(struct rfc822_tokens *addr, void *ctx);
int rfc822_addrlist(struct rfc822_tokens *out, const struct rfc822_tokens *in, size_t first,
                    rfc822_rewrite rw, void *ctx);

/* Writes tokens as header text ending in "\n"; lines are broken after
 * commas so that each stays within linelen where possible. */
void rfc822_unparse(struct str *out, const struct rfc822_tokens *tl, size_t linelen);
/* Writes tokens as a bare address: no quoting, comments dropped. */
void rfc822_unquote(struct str *out, const struct rfc822_tokens *tl);

/* Appends addr with its local part quoted when RFC 822 needs it, the
 * way qmail-inject prints and parses command-line addresses. */
void rfc822_quote_addr(struct str *out, const char *addr, size_t len);
/* 1 when s needs quotes to be a local part. */
int rfc822_quote_needed(const char *s, size_t len);

#endif
