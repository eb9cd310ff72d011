/* conn: qmail-remote's connection to an SMTP server.
 *
 * Connecting waits at most timeoutconnect seconds; every later read and
 * write waits at most timeoutremote seconds, after which it fails with
 * ETIMEDOUT. All traffic goes through the two bufs, whose fd becomes
 * qmail-tls's plaintext socket after STARTTLS (tls.c) without the SMTP
 * code noticing.
 */
#ifndef NQ_REMOTE_CONN_H
#define NQ_REMOTE_CONN_H

#include "buf.h"
#include "ipaddr.h"

struct conn {
	int fd;
	void *tls;        /* the qmail-tls session after STARTTLS (tls.c), else 0 */
	unsigned timeout; /* seconds per read or write */
	struct ipaddr peer;
	struct buf in, out;
	char inspace[4096];
	char outspace[16384];
};

/* 0 connected, -1 with errno set (ETIMEDOUT when the wait ran out). */
int conn_open(struct conn *c, const struct ipaddr *ip, unsigned port, unsigned timeoutconnect,
              unsigned timeout);
void conn_close(struct conn *c);

#endif
