/* smtp: the SMTP client conversation of qmail-remote.
 *
 * Speaks EHLO (HELO when the server refuses EHLO), uses PIPELINING when
 * the server offers it, declares SIZE and BODY=8BITMIME when offered,
 * refuses to send a message larger than the server's SIZE limit, then
 * sends the message with CR LF line ends and leading dots doubled.
 * Every outcome is reported as qmail-remote(8) describes, with the
 * server's own words appended; the conversation never returns.
 */
#ifndef NQ_REMOTE_SMTP_H
#define NQ_REMOTE_SMTP_H

#include <stddef.h>

#include "conn.h"
#include "str.h"

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
};

_Noreturn void smtp_deliver(struct conn *c, const struct job *job);

#endif
