/* rcptd: see rcptd.h. */
#include "rcptd.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fdwait.h"

static int down(struct str *why, const char *text, int fd)
{
	str_copys(why, text);
	if (fd != -1) close(fd);
	return RCPTD_DOWN;
}

int rcptd_ask(const char *addr, size_t len, struct str *why)
{
	struct sockaddr_un sa;
	struct str req = STR_INIT;
	char ans[RCPTD_ANSWER_MAX];
	size_t got = 0, off = 0;
	struct timespec deadline;
	int fd;

	fdwait_deadline(&deadline, RCPTD_TIMEOUT_MS);
	why->len = 0;
	if (len > RCPTD_REQUEST_MAX || mem_chr(addr, len, 0) < len)
		return down(why, "address too long to check", -1);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, RCPTD_SOCKET, sizeof RCPTD_SOCKET);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) return down(why, "unable to create a socket", -1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		if (errno == ENOENT) {
			close(fd);
			return RCPTD_ABSENT;
		}
		/* EAGAIN: the listen queue is full, the checker is swamped */
		if (errno != EINPROGRESS) return down(why, strerror(errno), fd);
		if (fdwait_until(fd, 1, &deadline) != FDWAIT_READY)
			return down(why, "timed out connecting", fd);
	}
	str_copyb(&req, addr, len);
	str_catc(&req, 0);
	while (off < req.len) {
		ssize_t w = write(fd, req.s + off, req.len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EINTR) &&
		    fdwait_until(fd, 1, &deadline) == FDWAIT_READY)
			continue;
		str_free(&req);
		return down(why, "unable to send the request", fd);
	}
	str_free(&req);
	for (;;) {
		ssize_t r;
		if (got == sizeof ans) return down(why, "answer too long", fd);
		r = read(fd, ans + got, sizeof ans - got);
		if (r > 0) {
			got += (size_t)r;
			if (mem_chr(ans, got, '\n') < got) break;
			continue;
		}
		if (r == 0) return down(why, "connection closed without an answer", fd);
		if ((errno == EAGAIN || errno == EINTR) &&
		    fdwait_until(fd, 0, &deadline) == FDWAIT_READY)
			continue;
		if (errno == EAGAIN || errno == ETIMEDOUT)
			return down(why, "timed out waiting for the answer", fd);
		return down(why, strerror(errno), fd);
	}
	close(fd);
	got = mem_chr(ans, got, '\n');
	if (ans[0] != RCPTD_EXISTS && ans[0] != RCPTD_NOBODY && ans[0] != RCPTD_TEMP)
		return down(why, "garbled answer", -1);
	str_copyb(why, ans + 1, got - 1);
	return ans[0];
}
