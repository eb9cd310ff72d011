/* fdwait: waits until one file descriptor is ready to read or to write,
 * or until a deadline passes.
 *
 * The deadline is a point in time on CLOCK_MONOTONIC, fixed before the
 * first wait: a signal that interrupts the wait (EINTR) does not extend
 * it, and a change of the wall clock does not move it. fdwait_read and
 * fdwait_write count their seconds from the call; a wait of 0 seconds
 * still looks once whether the fd is ready.
 *
 * Every wait ends in one of three ways, told apart by the return value:
 *   FDWAIT_READY    the fd is ready; a hang-up or a pending error on it
 *                   counts as ready, the read or write that follows
 *                   reports it
 *   FDWAIT_TIMEOUT  the deadline passed first; errno is ETIMEDOUT
 *   FDWAIT_ERROR    the wait itself failed: errno says why (EBADF for
 *                   an fd that is not open; never EINTR)
 * A caller that only needs "ready or not" tests == FDWAIT_READY and
 * finds ETIMEDOUT in errno when time ran out.
 */
#ifndef NQ_FDWAIT_H
#define NQ_FDWAIT_H

#include <time.h>

enum { FDWAIT_ERROR = -1, FDWAIT_TIMEOUT = 0, FDWAIT_READY = 1 };

/* Waits at most seconds until fd can be read without blocking. */
int fdwait_read(int fd, unsigned long seconds);
/* Waits at most seconds until fd can be written without blocking. */
int fdwait_write(int fd, unsigned long seconds);

/* Sets *deadline to ms milliseconds from now, for several waits that
 * share one budget (fdwait_until). */
void fdwait_deadline(struct timespec *deadline, unsigned long ms);
/* Waits until fd can be read (for_write 0) or written (for_write 1)
 * without blocking, or the deadline passes. */
int fdwait_until(int fd, int for_write, const struct timespec *deadline);

#endif
