/* tlspolicy: control/tlsdestinations, how qmail-remote uses TLS per
 * destination.
 *
 * Each line is "domain:policy" or "domain:policy:argument"; the
 * argument is the rest of the line and may hold colons. domain matches
 * the destination host (qmail-remote's first argument) as smtproutes
 * does: the whole host first (case-insensitive), then each shorter
 * ".suffix", then the empty domain, which matches every host. Policies:
 *
 *   may             STARTTLS when the server offers it (the default for
 *                   a host no line matches)
 *   off             never STARTTLS
 *   encrypt         TLS required; the certificate is not checked
 *   ca              TLS required; the certificate must chain to the
 *                   system's CA store and name the server (its MX host
 *                   name, or the destination domain)
 *   ca:FILE         as ca, with the CAs of the PEM file FILE instead
 *   pin:HEX[,HEX]   TLS required; the SHA-256 digest of the server's
 *                   certificate (DER) or of its public key
 *                   (SubjectPublicKeyInfo DER) must be one of the listed
 *                   digests; colons between hex pairs are allowed, as
 *                   "openssl x509 -fingerprint -sha256" prints them
 *
 * "none" is read as "encrypt" (verification: none). Every policy but
 * may and off is "required": failing it is a temporary failure, and the
 * message is never sent in plaintext instead.
 *
 * tlspolicy_find returns 0 (p filled in), -1 with errno when the file
 * exists but cannot be read, -2 when the matching line is malformed
 * (the caller must not guess a weaker policy).
 */
#ifndef NQ_TLSPOLICY_H
#define NQ_TLSPOLICY_H

#include <stddef.h>

#include "str.h"

enum tlspolicy_level {
	TLSPOLICY_MAY = 0,
	TLSPOLICY_OFF,
	TLSPOLICY_ENCRYPT,
	TLSPOLICY_CA,
	TLSPOLICY_PIN
};

#define TLSPOLICY_PINMAX 8
#define TLSPOLICY_PINLEN 32 /* SHA-256 */

struct tlspolicy {
	enum tlspolicy_level level;
	struct str cafile; /* CA level: empty for the system store */
	size_t npins;
	unsigned char pins[TLSPOLICY_PINMAX][TLSPOLICY_PINLEN];
};

/* 1 when the level forbids a plaintext delivery. */
int tlspolicy_required(const struct tlspolicy *p);
/* Parses the "policy[:argument]" part of a line: 0, or -1 malformed. */
int tlspolicy_parse(struct tlspolicy *p, const char *s, size_t len);
/* Looks host up in the lines of a tlsdestinations file (as
 * ctl_read_lines gives them): 0 (MAY when nothing matches) or -2. */
int tlspolicy_lookup(struct tlspolicy *p, const struct str *lines, const char *host, size_t len);
/* Reads control/tlsdestinations (relative to the current directory). */
int tlspolicy_find(struct tlspolicy *p, const char *host, size_t len);

#endif
