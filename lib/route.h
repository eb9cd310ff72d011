/* route: where a recipient address is delivered (qmail-send(8)'s rules).
 *
 * route_load reads control/me, locals, virtualdomains, percenthack and
 * envnoathost relative to the current directory (the install root).
 * route_recipient then decides for one address:
 *   - an address without '@' gets "@envnoathost" (default: me);
 *   - with percenthack listing the domain, the last '%' of the local part
 *     becomes '@', repeatedly;
 *   - a domain listed in locals (default: me) is local, address unchanged;
 *   - else virtualdomains is searched for the whole address, the domain,
 *     each ".suffix" of the domain from the longest, and "" (catch-all);
 *     the first match with a non-empty prepend P makes the address local
 *     as "P-address" (example.com:joe sends x@example.com to joe-x@..);
 *     an empty prepend means "not virtual" and ends the search;
 *   - anything else is remote.
 * Domains compare case-insensitively; the local part keeps its case.
 * qmail-smtpd's recipient checks can use the same module.
 *
 * route_load returns 0, or -1 (errno set) when a control file exists but
 * cannot be read: the caller must not route with half a configuration.
 */
#ifndef NQ_ROUTE_H
#define NQ_ROUTE_H

#include <stddef.h>

#include "str.h"

struct route {
	struct str me;
	struct str envnoathost;
	struct str locals;         /* lowercased lines, NUL-separated */
	struct str virtualdomains; /* lowercased "key\0prepend\0" pairs */
	struct str percenthack;    /* lowercased lines, NUL-separated */
};
#define ROUTE_INIT {STR_INIT, STR_INIT, STR_INIT, STR_INIT, STR_INIT}

#define ROUTE_LOCAL 'L'
#define ROUTE_REMOTE 'R'

int route_load(struct route *r);
/* Rewrites addr into out and returns ROUTE_LOCAL or ROUTE_REMOTE. */
int route_recipient(const struct route *r, const char *addr, size_t len, struct str *out);
/* 1 when domain (any case) is listed in locals. */
int route_is_local_domain(const struct route *r, const char *domain, size_t len);
/* The prepend virtualdomains gives addr (the same search as
 * route_recipient), or NULL; *plen gets its length. */
const char *route_virtual_prepend(const struct route *r, const char *addr, size_t len,
                                  size_t *plen);
void route_free(struct route *r);

#endif
