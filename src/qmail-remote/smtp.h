/* smtp: the SMTP client conversation of qmail-remote.
 *
 * Speaks EHLO (HELO when the server refuses EHLO), starts TLS when the
 * server offers STARTTLS (or refuses to go on when the destination's
 * policy requires TLS and the server cannot give it), uses PIPELINING when
 * the server offers it, declares SIZE and BODY=8BITMIME when offered,
 * refuses to send a message larger than the server's SIZE limit, then
 * sends the message with CR LF line ends and leading dots doubled.
 * Every outcome is reported as qmail-remote(8) describes, with the
 * server's own words appended, and a "TLS:" line when the connection
 * was encrypted. The conversation returns only to hand a TLS problem
 * back to the caller, who may try the next server (see below).
 */
#ifndef NQ_REMOTE_SMTP_H
#define NQ_REMOTE_SMTP_H

#include <stddef.h>

#include "conn.h"
#include "str.h"
#include "tlspolicy.h"

struct message {
	int fd;             /* the message, LF line ends, read from here */
	int measured;       /* 1 when size and eightbit below are known */
	unsigned long size; /* bytes as sent: each LF counted as CR LF */
	int eightbit;       /* some byte has its high bit set */
};

struct job {
	struct str helohost;
	struct str sender;  /* as it goes in MAIL FROM:<...> */
	struct str *recips; /* as they go in RCPT TO:<...> */
	size_t nrecips;
	struct message msg;
	const struct tlspolicy *tls; /* the destination's TLS policy */
	int plain;                   /* this connection: no STARTTLS */
	const char *names[2];        /* TLS: names the certificate may carry */
	size_t nnames;
	const struct ipaddr *literal; /* TLS: the literal destination, or 0 */
};

/* Why smtp_deliver returned (it reports and exits in every other case):
 * SMTP_PLAIN_RETRY  an opportunistic TLS handshake failed: the server
 *                   may be tried again at once without STARTTLS;
 * SMTP_TLS_REFUSED  the server does not meet a required TLS policy;
 *                   why says how (a report text, ending in "\n"). */
#define SMTP_PLAIN_RETRY 1
#define SMTP_TLS_REFUSED 2

int smtp_deliver(struct conn *c, const struct job *job, struct str *why);

#endif
