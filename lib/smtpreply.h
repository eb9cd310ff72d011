/* smtpreply: parsing the replies of an SMTP server (RFC 5321 4.2).
 *
 * A reply is one or more lines: "250-first", "250-more", "250 last"
 * (a bare "250" also ends it). The parser is fed one line at a time, as
 * read, with or without its CR LF, and says when the reply is complete.
 * It keeps the code of the first line and the text of every line (CRs
 * dropped, LF-terminated, NUL bytes shown as '?'), capped at
 * SMTPREPLY_TEXTMAX bytes so that a server cannot make the client hold
 * unbounded text; the cap also bounds one line's share.
 *
 * A first line that does not start with three digits (first digit 2-5)
 * makes the reply malformed: code is then 0, which smtpreply_class()
 * calls temporary, so a garbled server never causes a bounce. The reply
 * then ends at that line.
 */
#ifndef NQ_SMTPREPLY_H
#define NQ_SMTPREPLY_H

#include <stddef.h>

#include "str.h"

#define SMTPREPLY_TEXTMAX 5000

struct smtpreply {
	unsigned code;   /* of the first line; 0 when malformed */
	int lines;       /* lines seen so far */
	struct str text; /* the lines as the server sent them, see above */
};

void smtpreply_start(struct smtpreply *r);
/* Feeds one line. 1: the reply is complete; 0: more lines follow. */
int smtpreply_line(struct smtpreply *r, const char *line, size_t len);

/* 2 success (2xx, and 3xx where that is the awaited answer),
 * 5 permanent failure (5xx), 4 anything else (4xx, malformed). */
int smtpreply_class(unsigned code);

/* For an EHLO reply: 1 when keyword (case-insensitive) is one of the
 * extensions offered on lines after the first. *param and *plen are set
 * to what follows the keyword on its line (may be empty). */
int smtpreply_ehlo_has(const struct smtpreply *r, const char *keyword, const char **param,
                       size_t *plen);

/* The SIZE limit an EHLO reply announces: 1 and *limit set when the
 * server gives a positive limit, 0 for none (absent, 0, or unreadable). */
int smtpreply_ehlo_size(const struct smtpreply *r, unsigned long *limit);

void smtpreply_free(struct smtpreply *r);

#endif
