/* smtpaddr: the address argument of SMTP's MAIL FROM and RCPT TO.
 *
 * Parses what follows the verb ("FROM:<user@host> SIZE=123") the way
 * qmail-smtpd reads it, so that clients that work with qmail keep
 * working: angle brackets are optional (without them the address ends at
 * the first space), a source route "@a,@b:" in front is dropped, quotes
 * are removed and a backslash takes the next byte literally
 * ("\"a b\"@x" gives "a b@x"), and "<>" is the null sender.
 *
 * Unlike qmail it is strict where laxness would be unsafe: the address
 * may hold no control bytes (NUL, CR, LF, ...), is at most
 * SMTPADDR_MAX bytes, a "<" must be closed, and a source route must end
 * in ':'. Everything after the address is left to smtpaddr_param().
 * Input is (pointer, length); nothing relies on a terminating NUL.
 */
#ifndef NQ_SMTPADDR_H
#define NQ_SMTPADDR_H

#include <stddef.h>

#include "str.h"

/* qmail-smtpd refuses an address of 900 bytes or more (its limit counts
 * the terminating NUL). */
#define SMTPADDR_MAX 899

enum smtpaddr_result {
	SMTPADDR_OK = 0,
	SMTPADDR_SYNTAX,  /* no "FROM:"/"TO:" nor "<", unclosed "<", broken route */
	SMTPADDR_TOOLONG, /* more than SMTPADDR_MAX bytes */
	SMTPADDR_BADCHAR  /* a control byte in the address */
};

/* arg is the text after the verb; keyword is "FROM" or "TO" (matched
 * without regard to case, spaces allowed before and after the colon,
 * which may be left out together with the keyword: then the address is
 * the first "<...>" in arg, as qmail-smtpd reads it).
 * On SMTPADDR_OK, addr holds the address (no brackets, no NUL) and
 * *params is the offset in arg where the ESMTP parameters begin. */
enum smtpaddr_result smtpaddr_parse(const char *arg, size_t len, const char *keyword,
                                    struct str *addr, size_t *params);

/* Finds the ESMTP parameter name (e.g. "SIZE", matched without regard to
 * case) in the space-separated list p. Returns 1 and sets *val and *vlen to
 * what follows "NAME=" (empty when there is no '='), or 0 when absent. */
int smtpaddr_param(const char *p, size_t len, const char *name, const char **val,
                   size_t *vlen);

#endif
