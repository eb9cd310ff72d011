/* spawn: the delivery helpers' side of qmail-send's pipes.
 *
 * qmail-lspawn and qmail-rspawn read requests on fd 0 and answer on fd 1.
 * A request is four NUL-terminated fields:
 *   delivery-number \0 message-id \0 sender \0 recipient \0
 * and a report is
 *   delivery-number \0 status text \0
 * where status is 'K' (delivered), 'Z' (try again later) or 'D' (failed
 * for good) and the text, free of NULs, is at most SPAWN_REPORT_MAX bytes.
 *
 * A delivery is one program run (qmail-local, qmail-remote), with the
 * message on fd 0 and its stdout+stderr captured. It runs in a child of
 * the helper, which prepares it (ops->prepare: user lookup, message
 * copy), starts the program with vfork+exec, waits for it, and writes its
 * report into a pipe to the helper with one write() smaller than PIPE_BUF,
 * so reports never interleave. spawn.c can also start programs from the
 * helper itself (prepare with may_block 0; work that may block then still
 * goes to a child), collecting output and exit status in its poll loop;
 * that is off (SPAWN_DIRECT in spawn.c says why). Either way ops->finish turns the exit
 * status and output into the report. A child that dies without reporting
 * (killed, crashed) gets a deferral written for it, so qmail-send never
 * waits for a report that cannot come. Deliveries run in parallel;
 * qmail-send limits how many requests are outstanding.
 *
 * spawn_main returns when fd 0 reaches end of file and every delivery has
 * reported (qmail-send exited or is exiting).
 */
#ifndef NQ_SPAWN_H
#define NQ_SPAWN_H

#include "str.h"

#define SPAWN_REPORT_MAX 3000
/* Messages up to this size are copied for the program by the helper
 * itself; larger ones in a child, so that the helper never stalls. */
#define SPAWN_COPY_MAX (256 * 1024)

struct spawn_request {
	struct str delnum;
	unsigned long id;
	struct str sender;
	struct str recip;
};

/* The program a delivery runs. */
struct spawn_prog {
	struct str args; /* argv[0], argv[1], ..., each NUL-terminated */
	int msgfd;       /* becomes its fd 0; spawn_main closes it */
	long uid, gid;   /* become this user first (groups = gid only); -1 keeps ours */
};

enum { SPAWN_DONE, SPAWN_PROG, SPAWN_CHILD };

struct spawn_ops {
	/* Prepares req. may_block is 0 in the helper itself: return
	 * SPAWN_CHILD for anything that may block, and it is called again
	 * with may_block 1 in a child. Returns SPAWN_PROG with prog filled
	 * (prog->args empty, msgfd -1, uid/gid -1 on entry), or SPAWN_DONE
	 * with report filled (status letter + text). */
	int (*prepare)(const struct spawn_request *req, struct spawn_prog *prog, struct str *report,
	               int may_block);
	/* The report for a program that ran: status is its wait status, or
	 * -1 if it could not be started; out its output (the first
	 * SPAWN_REPORT_MAX bytes, NULs kept). */
	void (*finish)(int status, const struct str *out, struct str *report);
};

void spawn_main(const struct spawn_ops *ops);

/* Appends one argument to prog->args. */
void spawn_prog_arg(struct spawn_prog *prog, const char *s);

/* A seekable descriptor (close-on-exec) holding just the message of
 * queue/mess/ID (the queue directory relative to the current
 * directory), positioned at 0; -1 with errno set on failure, EFBIG when
 * the message is longer than max bytes. */
int spawn_message_fd(unsigned long id, unsigned long max);

/* Appends text to a report, dropping NULs and cutting it at
 * SPAWN_REPORT_MAX bytes. */
void spawn_report_cat(struct str *report, const char *text, size_t len);

#endif
