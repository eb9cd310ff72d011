/* tcpto: the dead-host memory of qmail-remote (see qmail-tcpto(8)).
 *
 * When a connection to an address times out, qmail-remote notes it here.
 * An address with two counted timeouts (the second at least two minutes
 * after the first, with no successful connection between) is skipped
 * for about an hour (64 to 97 minutes, spread by process id so that
 * retries of many messages do not all hit the host at once). Any
 * connection that does not time out clears the address.
 *
 * The table is the file queue/lock/tcpto, relative to the install root:
 * TCPTO_SLOTS records of 32 bytes each:
 *   bytes  0-15  the address; IPv4 as an IPv4-mapped IPv6 address
 *   byte   16    number of recent timeouts (0: the slot is free)
 *   bytes 17-23  zero
 *   bytes 24-31  time of the last counted timeout, seconds since the
 *                epoch, big-endian
 * Writers lock the file (fcntl) while they update it. The table is only
 * advice: if it cannot be opened, every address is tried.
 */
#ifndef NQ_TCPTO_H
#define NQ_TCPTO_H

#include <time.h>

#include "ipaddr.h"

#define TCPTO_FILE   "queue/lock/tcpto"
#define TCPTO_SLOTS  64
#define TCPTO_RECORD 32

struct tcpto_entry {
	struct ipaddr ip;
	unsigned count;
	time_t when;
};

/* 1 when ip should not be tried now. */
int tcpto_dead(const struct ipaddr *ip);
/* Records the outcome of a connection attempt to ip. */
void tcpto_note(const struct ipaddr *ip, int timedout);
/* Reads the used slots into out; returns how many, or -1 (errno). A
 * missing table is an empty one. */
int tcpto_list(struct tcpto_entry out[TCPTO_SLOTS]);
/* Empties the table, creating it if needed: 0 or -1 (errno). */
int tcpto_clear(void);

#endif
