/* maildir: reliable delivery into a maildir, as maildir(5) describes.
 *
 * The message is written under tmp/ with a name no other delivery can
 * use, made durable, then linked into new/ and the new/ entry made
 * durable too; only then is the delivery reported done. A reader never
 * sees a partial message in new/, and any failure removes the tmp/ file.
 */
#ifndef NQ_MAILDIR_H
#define NQ_MAILDIR_H

#include <stddef.h>

#include "str.h"

/* Writes head then everything readable from msgfd (from its current
 * offset) into the maildir dir. 0 done; -1 failed, with a reason in why.
 * Every failure here is temporary: the message is still in the caller's
 * hands. */
int maildir_deliver(const char *dir, const char *head, size_t headlen, int msgfd,
                    struct str *why);
/* Appends a file name that no other delivery on this host will make:
 * SECONDS.MMICROSECONDSPPID_COUNTER.HOST, with '/' and ':' in HOST escaped
 * as maildir(5) asks. */
void maildir_unique_name(struct str *out);

#endif
