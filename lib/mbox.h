/* mbox: appending messages to mbox files, as mbox(5) describes.
 *
 * Each message starts with a "From " line and ends with a blank line;
 * body lines that look like "From " lines, with any number of '>' before
 * them, get one more '>' so that readers can undo the quoting.
 * mbox_deliver locks the file with flock(2); if writing fails it truncates
 * the file back to its length before the delivery, so a failed delivery
 * leaves the mailbox as it was.
 */
#ifndef NQ_MBOX_H
#define NQ_MBOX_H

#include <stddef.h>

#include "buf.h"
#include "str.h"

/* 1 when a line (pointer, length) needs a '>' in front: ">*From ". */
int mbox_needs_quote(const char *line, size_t len);
/* Copies a message from in to out with ">From " quoting, adds a final
 * newline when the message lacks one, then the blank separator line.
 * 0 ok, -2 read error, -3 write error. */
int mbox_copy_quoted(struct buf *out, struct buf *in);
/* Appends "From SENDER DATE\n" (sender's white space made '-', empty
 * sender written MAILER-DAEMON) to out. */
void mbox_from_line(struct str *out, const char *sender, size_t len, long when);
/* Appends from_line, head and the quoted message from msgfd to the file
 * fn. Waits at most lock_seconds for the lock. 0 done; -1 failed, -2 the
 * file could not be opened (both temporary failures; qmail-local reports
 * them with different codes), with the reason in why. */
int mbox_deliver(const char *fn, const struct str *from_line, const char *head, size_t headlen,
                 int msgfd, unsigned lock_seconds, struct str *why);

#endif
