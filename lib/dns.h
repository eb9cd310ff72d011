/* dns: the lookups mail delivery needs (MX, A, AAAA, CNAME), asked of
 * servers the site chooses.
 *
 * A small stub resolver. Each query goes over UDP from a fresh socket
 * with a random ID to each configured server in turn, in two rounds; an
 * answer is taken only if its ID and question match ours; a truncated
 * answer is asked again over TCP. Servers come from control/dnsservers
 * (relative to the current directory; one per line: "1.2.3.4",
 * "1.2.3.4:5353", "::1" or "[::1]:5353"), else from the nameserver lines
 * of /etc/resolv.conf, else 127.0.0.1.
 *
 * Results:
 *   DNS_OK    records found (or, for dns_mxip, an empty list: the domain
 *             says it takes no mail, RFC 7505 null MX);
 *   DNS_SOFT  no usable answer now (timeouts, SERVFAIL, a malformed or
 *             mismatched answer): try again later;
 *   DNS_HARD  the name does not exist (NXDOMAIN) or is not a valid name.
 * Out of memory ends the program through die_nomem().
 */
#ifndef NQ_DNS_H
#define NQ_DNS_H

#include <stddef.h>

#include "ipaddr.h"
#include "str.h"

#define DNS_OK   0
#define DNS_SOFT (-1)
#define DNS_HARD (-2)

#define DNS_NAMEMAX 256 /* a dotted name with its NUL */

struct dns_ip {
	struct ipaddr ip;
	unsigned long pref; /* MX preference; 0 for a host without MX */
	/* The name the address was found under (the MX host, or the name
	 * asked for), lower case, no final dot; empty for an address
	 * literal. TLS checks a server's certificate against it. */
	char name[DNS_NAMEMAX];
};

struct dns_iplist {
	struct dns_ip *x;
	size_t len, cap;
};

/* Reads the server list. 0, or -1 (errno set) when control/dnsservers
 * exists but cannot be read. */
int dns_init(void);
/* Appends the A and AAAA addresses of name (IPv4 first) with pref.
 * An address literal ("[1.2.3.4]", "[IPv6:::1]") or a bare address is
 * taken as it is. DNS_OK even when name has no address records: the
 * list is then unchanged. */
int dns_ip(struct dns_iplist *out, const char *name, size_t len, unsigned long pref);
/* The mail exchangers of name, as addresses sorted by MX preference,
 * random among equal preferences; a name without MX records is its own
 * exchanger with preference 0 (RFC 5321 5.1). CNAMEs are followed. */
int dns_mxip(struct dns_iplist *out, const char *name, size_t len);
/* Replaces name by its canonical name, following CNAMEs (at most 10).
 * Returns the number of CNAMEs followed (0: name is canonical or does
 * not exist), DNS_SOFT, or DNS_HARD for an alias loop. */
int dns_cname(struct str *name);
void dns_iplist_free(struct dns_iplist *l);

/* Exposed for tests and fuzzing: parses a DNS answer message. Calls
 * each(ctx, type, owner, msg, msglen, rdata offset, rdata length) for
 * every answer record; owner is lower case, dotted, without the final
 * dot. Returns the RCODE, or -1 when the message is malformed. */
typedef void (*dns_rr_fn)(void *ctx, unsigned type, const char *owner, const unsigned char *msg,
                          size_t msglen, size_t rdoff, size_t rdlen);
int dns_parse_answer(const unsigned char *msg, size_t len, dns_rr_fn each, void *ctx);
/* Expands a possibly compressed name at *pos into out (256 bytes), as
 * above; advances *pos past it. 0 or -1 when malformed. */
int dns_name_expand(const unsigned char *msg, size_t len, size_t *pos, char *out);

#endif
