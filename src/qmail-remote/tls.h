/* tls: qmail-remote's side of STARTTLS (RFC 3207).
 *
 * qmail-remote links no TLS library: tls_start has qmail-tls (client
 * mode, lib/tlshelper) run the handshake on a connection whose server
 * has just answered 220 to STARTTLS and check the server's certificate
 * as the destination's policy (lib/tlspolicy) asks; then the
 * connection's bufs read and write qmail-tls's plaintext socket, so the
 * SMTP code goes on as before. Bytes the server sent before the handshake are thrown away:
 * nothing said in plaintext may count inside TLS. Only TLS 1.2 and 1.3
 * are spoken. control/clientcert.pem, when it exists, holds the
 * certificate (chain) and key presented to servers that ask for one.
 *
 * Results:
 *   TLS_OK         the session is encrypted and meets the policy;
 *   TLS_LOCAL      our own setup failed (clientcert.pem or a CA file
 *                  that cannot be loaded): the same everywhere, so the
 *                  caller gives up for now;
 *   TLS_HANDSHAKE  the handshake failed; the connection is unusable;
 *   TLS_VERIFY     the handshake worked, the certificate does not meet
 *                  the policy; nothing may be sent.
 * why gets a one-line explanation for every failure.
 */
#ifndef NQ_REMOTE_TLS_H
#define NQ_REMOTE_TLS_H

#include <stddef.h>

#include "conn.h"
#include "str.h"
#include "tlspolicy.h"

#define TLS_OK        0
#define TLS_LOCAL     (-1)
#define TLS_HANDSHAKE (-2)
#define TLS_VERIFY    (-3)

/* names: host names the certificate may carry (CA level; the first one
 * also goes out as SNI); ip: an address the certificate may carry
 * instead, for a literal destination (may be 0). */
int tls_start(struct conn *c, const struct tlspolicy *p, const char *const *names, size_t nnames,
              const struct ipaddr *ip, struct str *why);
/* Appends "TLSv1.3 with cipher NAME" for an encrypted connection. */
void tls_describe(const struct conn *c, struct str *out);
/* Ends the session (if any): qmail-tls sends close_notify and exits.
 * The network socket is the caller's. */
void tls_end(struct conn *c);

#endif
