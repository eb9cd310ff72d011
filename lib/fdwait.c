/* fdwait: see fdwait.h. */
#include "fdwait.h"

#include <errno.h>
#include <poll.h>

/* Far enough for any timeout a control file can mean (about 34 years),
 * near enough that a 32-bit time_t cannot overflow. */
#define MAX_SECONDS (1UL << 30)
/* poll takes an int of milliseconds: longer waits go in slices. */
#define SLICE_MS 86400000L

static void after(struct timespec *d, unsigned long seconds, unsigned long ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	seconds += ms / 1000;
	if (seconds > MAX_SECONDS || seconds < ms / 1000) seconds = MAX_SECONDS;
	d->tv_sec += (time_t)seconds;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec += 1;
		d->tv_nsec -= 1000000000;
	}
}

/* Milliseconds until the deadline, rounded up, so that a poll that ran
 * its full time has reached it; 0 once it has passed. */
static long long ms_left(const struct timespec *d)
{
	struct timespec now;
	long long ns;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ns = (long long)(d->tv_sec - now.tv_sec) * 1000000000 + (d->tv_nsec - now.tv_nsec);
	return ns <= 0 ? 0 : (ns + 999999) / 1000000;
}

void fdwait_deadline(struct timespec *deadline, unsigned long ms) { after(deadline, 0, ms); }

int fdwait_until(int fd, int for_write, const struct timespec *deadline)
{
	struct pollfd p;
	p.fd = fd;
	p.events = for_write ? POLLOUT : POLLIN;
	for (;;) {
		long long left = ms_left(deadline);
		int r;
		p.revents = 0;
		r = poll(&p, 1, left > SLICE_MS ? (int)SLICE_MS : (int)left);
		if (r > 0 && (p.revents & POLLNVAL)) {
			errno = EBADF;
			return FDWAIT_ERROR;
		}
		if (r > 0) return FDWAIT_READY;
		if (r == -1 && errno != EINTR) return FDWAIT_ERROR;
		/* poll ran out or a signal came: the deadline stays where it was */
		if (ms_left(deadline) == 0) {
			errno = ETIMEDOUT;
			return FDWAIT_TIMEOUT;
		}
	}
}

int fdwait_read(int fd, unsigned long seconds)
{
	struct timespec d;
	after(&d, seconds, 0);
	return fdwait_until(fd, 0, &d);
}

int fdwait_write(int fd, unsigned long seconds)
{
	struct timespec d;
	after(&d, seconds, 0);
	return fdwait_until(fd, 1, &d);
}
