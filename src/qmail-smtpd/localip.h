/* localip: is an address literal one of this host's own IP addresses?
 *
 * qmail-smtpd rewrites "box@[192.0.2.1]" to "box@" + localiphost when
 * 192.0.2.1 belongs to this host, and qmail-remote must never relay to
 * itself. The addresses come from getifaddrs(), plus 127.0.0.1 and ::1,
 * which are always ours. Literals are "[d.d.d.d]" or "[IPv6:...]" as in
 * RFC 5321 4.1.3, parsed strictly by inet_pton.
 */
#ifndef NQ_SMTPD_LOCALIP_H
#define NQ_SMTPD_LOCALIP_H

#include <stddef.h>

/* 1 when lit (with its brackets) names a local address, 0 when it does
 * not or is no valid literal, -1 when the interface list is unreadable. */
int localip_literal(const char *lit, size_t len);
/* The same for a bare address text such as "127.0.0.1" or "::1". */
int localip_address(const char *ip, size_t len);

#endif
