/* rcptd: the client side of qmail-rcptd(8), which tells qmail-smtpd
 * whether a local address exists.
 *
 * The protocol is tiny: connect to the unix socket RCPTD_SOCKET (relative
 * to the install root), send the address followed by a NUL, read one line
 * back: 'K' exists (or not local), 'D' no such mailbox, 'Z' delivery
 * could not be decided now; the rest of the line is a reason for logs.
 *
 * rcptd_ask never blocks longer than RCPTD_TIMEOUT_MS in all. It returns
 * the daemon's letter, RCPTD_ABSENT when the socket does not exist (no
 * checker is set up: the caller keeps qmail's behaviour), or RCPTD_DOWN
 * when a checker is set up but could not answer (refused, busy, timed
 * out, garbled answer), with a reason in why.
 */
#ifndef NQ_RCPTD_H
#define NQ_RCPTD_H

#include <stddef.h>

#include "str.h"

#define RCPTD_DIR "rcptd"
#define RCPTD_SOCKET "rcptd/socket"
#define RCPTD_REQUEST_MAX 1024 /* address bytes; longer requests are refused */
#define RCPTD_ANSWER_MAX 512
#define RCPTD_TIMEOUT_MS 10000

#define RCPTD_EXISTS 'K'
#define RCPTD_NOBODY 'D'
#define RCPTD_TEMP 'Z'
#define RCPTD_ABSENT '-'
#define RCPTD_DOWN '?'

int rcptd_ask(const char *addr, size_t len, struct str *why);

#endif
