/* rcpthosts: which recipient domains an SMTP server accepts mail for.
 *
 * control/rcpthosts lists domains, one a line; a line ".example.com"
 * also covers every host under example.com. control/morercpthosts.cdb
 * (written by qmail-newmrh) extends the list for large sites and is only
 * consulted when rcpthosts exists. Matching is on what follows the last
 * '@' of the address, without regard to case: the whole domain, then each
 * suffix that starts at a dot (a domain that itself starts with a dot is
 * refused). An address without '@' is always allowed;
 * so is every address when rcpthosts does not exist (an open relay,
 * which rcpthosts_open reports so the caller can warn).
 *
 * Paths are relative to the current directory (the install root).
 * Errors reading either file are -1 with errno set: a server must then
 * refuse temporarily rather than guess.
 */
#ifndef NQ_RCPTHOSTS_H
#define NQ_RCPTHOSTS_H

#include <stddef.h>

#include "str.h"

struct rcpthosts {
	int present;         /* control/rcpthosts exists */
	struct str lines;    /* lower-cased, NUL-separated, sorted by index */
	size_t *index;       /* offsets into lines, sorted */
	size_t count;
};

/* Reads control/rcpthosts. 0 ok, -1 error. */
int rcpthosts_open(struct rcpthosts *rh);
/* 1 allowed, 0 refused, -1 error reading morercpthosts.cdb. */
int rcpthosts_allows(const struct rcpthosts *rh, const char *addr, size_t len);
void rcpthosts_free(struct rcpthosts *rh);

#endif
