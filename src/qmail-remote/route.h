/* route: control/smtproutes, the artificial SMTP routes.
 *
 * Each line is "domain:relay" or "domain:relay:port". domain matches
 * the host exactly (case-insensitive); ".domain" matches any host ending
 * in .domain (not domain itself); an empty domain matches every host.
 * The most specific match wins, as in qmail: the whole host first, then
 * each shorter ".suffix", then the empty domain.
 * A domain that is an address literal ("[IPv6:2001:db8::7]") ends at its
 * ']', so its own colons do not end it (an nqmail addition).
 *
 * relay is a host name, an address ("1.2.3.4") or an address literal
 * ("[1.2.3.4]", "[::1]"); an empty relay means "use the MX records as
 * usual". nqmail also reads "domain::port" as "use the MX records, but
 * connect to port" (in qmail such a line cannot work).
 */
#ifndef NQ_REMOTE_ROUTE_H
#define NQ_REMOTE_ROUTE_H

#include "str.h"

struct route {
	int found;          /* a line matched */
	struct str relay;   /* empty: use MX */
	unsigned long port; /* 25 unless the line says otherwise */
};

/* 0, or -1 with errno when the file exists but cannot be read; -2 when
 * the matching line has a port that is not a number from 1 to 65535. */
int route_find(struct route *r, const char *host, size_t len);

#endif
