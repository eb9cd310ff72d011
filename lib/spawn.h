/* spawn: the delivery helpers' side of qmail-send's pipes.
 *
 * qmail-lspawn and qmail-rspawn read requests on fd 0 and answer on fd 1.
 * A request is four NUL-terminated fields:
 *   delivery-number \0 message-id \0 sender \0 recipient \0
 * and a report is
 *   delivery-number \0 status text \0
 * where status is 'K' (delivered), 'Z' (try again later) or 'D' (failed
 * for good) and the text, free of NULs, is at most SPAWN_REPORT_MAX bytes.
 * Each request runs in a child of its own, so deliveries proceed in
 * parallel; a child writes its report into a pipe to the parent with one
 * write() smaller than PIPE_BUF, so reports never interleave, and the
 * parent forwards them. A child that dies without reporting (killed,
 * crashed) gets a deferral written for it, so qmail-send never waits
 * for a report that cannot come.
 * qmail-send limits how many requests are outstanding.
 *
 * spawn_main returns when fd 0 reaches end of file and every child has
 * reported (qmail-send exited or is exiting).
 */
#ifndef NQ_SPAWN_H
#define NQ_SPAWN_H

#include "str.h"

#define SPAWN_REPORT_MAX 3000

struct spawn_request {
	struct str delnum;
	unsigned long id;
	struct str sender;
	struct str recip;
};

/* Runs in the child for each request; fills report with status + text. */
typedef void (*spawn_deliver)(const struct spawn_request *req, struct str *report);

void spawn_main(spawn_deliver deliver);

/* A seekable descriptor holding just the message of queue/mess/ID (the
 * queue directory relative to the current directory), positioned at 0;
 * -1 with errno set on failure. */
int spawn_message_fd(unsigned long id);

/* Runs argv[0] with fd 0 = msgfd and stdout+stderr captured (the first
 * SPAWN_REPORT_MAX bytes, NULs kept) into out. before_exec runs in the child first
 * (dropping privileges); it returns nonzero to abort with exit 111.
 * Returns the wait status, or -1 if the program could not be started. */
int spawn_run(char *const argv[], int msgfd, int (*before_exec)(void *), void *ctx,
              struct str *out);

/* Appends text to a report, dropping NULs and cutting it at
 * SPAWN_REPORT_MAX bytes. */
void spawn_report_cat(struct str *report, const char *text, size_t len);

#endif
