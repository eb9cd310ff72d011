/* qq: the client side of the queue interface, qmail-queue(8).
 *
 * qq_open runs the queue program (QMAILQUEUE when set, else the installed
 * bin/qmail-queue) with the message on its fd 0 and the envelope on its
 * fd 1. The caller writes the message with qq_put, then names the sender
 * and recipients; qq_close sends the envelope, waits, and turns the exit
 * code into a report: "" for success, or text whose first byte is 'Z'
 * (temporary) or 'D' (permanent) followed by a human-readable reason.
 * Callers ignore SIGPIPE, so a queue program that exits early is reported
 * through its exit code rather than killing the caller.
 */
#ifndef NQ_QQ_H
#define NQ_QQ_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"
#include "str.h"

struct qq {
	pid_t pid;
	int fdm;
	int fde;
	int failed;
	struct buf out;
	char space[8192];
	struct str env;
};

int qq_open(struct qq *q);          /* 0 ok, -1 could not start (errno) */
void qq_put(struct qq *q, const char *data, size_t len);
void qq_puts(struct qq *q, const char *s);
void qq_fail(struct qq *q);         /* makes qq_close abort the injection */
void qq_from(struct qq *q, const char *sender);
void qq_to(struct qq *q, const char *recip);
const char *qq_close(struct qq *q);
/* Queues a message made of head and everything readable from fd (from
 * its current offset) for sender and the n recipients. Returns the report
 * as qq_close gives it; a message that cannot be read or a queue program
 * that cannot be started gives a 'Z' report. *qp gets the queue program's
 * process id (0 when it did not start), which qmail's helpers print. */
const char *qq_inject_fd(const char *head, size_t headlen, int fd, const char *sender,
                         char *const recips[], size_t n, unsigned long *qp);
/* The report for a qmail-queue exit code, as qq_close gives it. */
const char *qq_exit_report(int code);
/* The queue program qq_open runs. */
const char *qq_program(void);

#endif
