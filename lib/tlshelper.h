/* tlshelper: starting qmail-tls, the process that speaks TLS for
 * qmail-smtpd and qmail-remote, and reading what it reports.
 *
 * tlshelper_start gives the program the network connection (netin,
 * netout) as its fds 0 and 1 and one end of a new socketpair as fd 3;
 * the caller keeps the other end in h->fd. qmail-tls first writes
 * status lines there (see src/qmail-tls/main.c: "ready", "ok", "local",
 * "handshake", "verify"), then carries the session: from "ok" on, h->fd
 * is the connection in plain text. Closing h->fd ends the session (qmail-tls
 * sends TLS's close_notify and exits).
 *
 * Failures: tlshelper_start returns -1 with errno when it cannot make
 * the socketpair or fork; a qmail-tls that cannot be run, or that dies,
 * shows as an end of input in tlshelper_status (-1, errno 0).
 */
#ifndef NQ_TLSHELPER_H
#define NQ_TLSHELPER_H

#include <sys/types.h>

#include "str.h"

struct tlshelper {
	pid_t pid;
	int fd;
};

/* argv[0] is ignored: the program is the installed bin/qmail-tls. */
int tlshelper_start(struct tlshelper *h, int netin, int netout, char *argv[]);
/* Reads the next status line, without its "\n", waiting at most
 * timeout seconds in all. 0, or -1: timeout (errno ETIMEDOUT), error
 * (errno), or end of input (errno 0). Reads byte by byte: what follows
 * the line is the session's, and stays in the socket. */
int tlshelper_status(struct tlshelper *h, struct str *line, unsigned timeout);
/* The first word of a status line is word. */
int tlshelper_is(const struct str *line, const char *word);
/* The text after the first word ("" when there is none). */
const char *tlshelper_text(struct str *line);
/* Closes our end (the session ends) and reaps qmail-tls if it is
 * already gone; never waits for it. */
void tlshelper_end(struct tlshelper *h);

#endif
