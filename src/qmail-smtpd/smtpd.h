/* qmail-smtpd's internal interface: the session state shared by the
 * command loop (main.c), the message reader (data.c) and the network
 * I/O (io.c). Nothing here is used outside qmail-smtpd. */
#ifndef NQ_SMTPD_H
#define NQ_SMTPD_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "rcpthosts.h"
#include "str.h"

/* Hard limits on what a client can make us hold. */
#define SMTPD_LINE_MAX 2048       /* one command line, CRLF included */
#define SMTPD_DISCARD_MAX 65536   /* an overlong line is skipped up to this */
#define SMTPD_RCPT_MAX 1000       /* recipients per message */
#define SMTPD_MAXHOPS 100         /* Received/Delivered-To lines: a loop */

struct smtpd {
	struct buf in;
	struct buf out;
	unsigned long timeout;        /* seconds per read or write */

	struct str greeting;          /* control/smtpgreeting or me */
	struct str liphost;           /* control/localiphost or me */
	int liphost_ok;
	struct rcpthosts rh;
	struct str bmf;               /* control/badmailfrom lines */
	unsigned long databytes;      /* 0: no limit */
	int localtime;                /* control/localtime */

	const char *remoteip;
	const char *remotehost;
	const char *remoteinfo;       /* NULL when unset */
	const char *local;
	const char *relayclient;      /* NULL when unset */

	struct str helo;              /* argument of the last HELO/EHLO */
	int fakehelo;                 /* helo differs from remotehost */

	int seenmail;
	int flagbarf;                 /* sender is in badmailfrom */
	struct str mailfrom;
	struct str rcpts;             /* NUL-terminated recipients */
	unsigned long nrcpt;

	/* TLS and AUTH (tls.c, auth.c) */
	int tls_offer;                /* control/servercert.pem is there */
	int tls;                      /* TLS runs (through qmail-tls) */
	struct str tlsinfo;           /* "TLSv1.3 cipher NAME" for Received */
	char **checkpw;               /* checkpassword command line, or NULL */
	int authrequired;             /* $REQUIRE_AUTH: MAIL needs AUTH first */
	struct str authuser;          /* set once AUTH succeeded */
	unsigned long authfailures;
};

/* io.c: reads and writes with the session timeout. */
void smtpd_io_init(struct smtpd *s);
/* Replies to the client. Output is buffered until the next read would
 * block, so pipelined replies leave together. */
void out(struct smtpd *s, const char *text);
void outb(struct smtpd *s, const char *text, size_t len);
void out_flush(struct smtpd *s);
/* Sends text (already CRLF-terminated) and ends the session. */
_Noreturn void out_die(struct smtpd *s, const char *text, int code);
/* Ends the session after a failed read: a timeout gets its 451. */
_Noreturn void smtpd_read_failed(struct smtpd *s, int eof);

/* main.c: reads one command line (without its line end) into line;
 * 0 when the line was refused and already answered. */
int smtpd_read_command(struct smtpd *s, struct str *line);

/* data.c: the DATA command. */
void smtpd_data(struct smtpd *s);

/* tls.c: whether control/servercert.pem can be read. */
int smtpd_tls_configured(void);
/* Starts TLS through qmail-tls: for STARTTLS (starttls=1) answers 220
 * first, or 454 and returns -1 when the certificate cannot be loaded.
 * Bytes the client sent before the handshake are discarded. A failed
 * handshake ends the session. 0 once TLS runs: fds 0 and 1 then carry
 * the session in plain text, s->tls and s->tlsinfo are set. */
int smtpd_tls_start(struct smtpd *s, int starttls);

/* auth.c: the AUTH command (RFC 4954: PLAIN and LOGIN, inside TLS only),
 * passwords checked by the checkpassword program in s->checkpw. */
int smtpd_auth_offered(const struct smtpd *s);
void smtpd_auth(struct smtpd *s, const char *arg, size_t len);

/* rcptcheck.c: asks qmail-rcptd whether a local recipient exists.
 * 1 go on; 0 refused, the reply (550 or 451) already sent. */
int smtpd_rcptcheck(struct smtpd *s, const struct str *addr);

#endif
