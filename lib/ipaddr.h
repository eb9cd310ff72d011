/* ipaddr: IPv4 and IPv6 addresses as plain values.
 *
 * An address is kept in 16 bytes; IPv4 addresses use only the first 4
 * and say so in family. Parsing takes (pointer, length) and accepts the
 * forms mail software meets: "1.2.3.4", "::1", and the bracketed address
 * literals of RFC 5321, "[1.2.3.4]" and "[IPv6:::1]" (also "[::1]").
 * Nothing here allocates or fails other than by returning 0.
 */
#ifndef NQ_IPADDR_H
#define NQ_IPADDR_H

#include <stddef.h>
#include <sys/socket.h>

#include "str.h"

struct ipaddr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char a[16];
};

/* Bare address text: 1 parsed, 0 not an address. */
int ipaddr_parse(struct ipaddr *ip, const char *s, size_t len);
/* "[...]" address literal (with or without the "IPv6:" tag): 1 or 0. */
int ipaddr_parse_literal(struct ipaddr *ip, const char *s, size_t len);
/* Appends the usual text form ("127.0.0.1", "::1"). */
void ipaddr_cat(struct str *out, const struct ipaddr *ip);
int ipaddr_equal(const struct ipaddr *x, const struct ipaddr *y);
/* Fills a sockaddr for ip and port; returns its length. */
socklen_t ipaddr_sockaddr(const struct ipaddr *ip, unsigned port, struct sockaddr_storage *sa);
/* Takes the address from a sockaddr: 1, or 0 for other families. An
 * IPv4-mapped IPv6 address becomes the IPv4 address. */
int ipaddr_from_sockaddr(struct ipaddr *ip, const struct sockaddr *sa);

#endif
