/* tcpto: see tcpto.h. */
#include "tcpto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define TABLE (TCPTO_SLOTS * TCPTO_RECORD)

static void to_record(unsigned char *r, const struct ipaddr *ip)
{
	memset(r, 0, 16);
	if (ip->family == AF_INET) {
		r[10] = r[11] = 0xff;
		memcpy(r + 12, ip->a, 4);
	} else {
		memcpy(r, ip->a, 16);
	}
}

static void from_record(struct tcpto_entry *e, const unsigned char *r)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint64_t t = 0;
	memset(&e->ip, 0, sizeof e->ip);
	if (memcmp(r, mapped, 12) == 0) {
		e->ip.family = AF_INET;
		memcpy(e->ip.a, r + 12, 4);
	} else {
		e->ip.family = AF_INET6;
		memcpy(e->ip.a, r, 16);
	}
	e->count = r[16];
	for (int i = 24; i < 32; ++i)
		t = t << 8 | r[i];
	e->when = (time_t)t;
}

static void set_when(unsigned char *r, time_t when)
{
	uint64_t t = (uint64_t)when;
	for (int i = 31; i >= 24; --i) {
		r[i] = (unsigned char)t;
		t >>= 8;
	}
}

static ssize_t read_table(int fd, unsigned char *t)
{
	ssize_t n;
	memset(t, 0, TABLE);
	do
		n = pread(fd, t, TABLE, 0);
	while (n == -1 && errno == EINTR);
	return n;
}

static int lock(int fd, short type)
{
	struct flock fl;
	memset(&fl, 0, sizeof fl);
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLKW, &fl) == 0) return 0;
		if (errno != EINTR) return -1;
	}
}

static int find(const unsigned char *t, const struct ipaddr *ip)
{
	unsigned char want[16];
	to_record(want, ip);
	for (int i = 0; i < TCPTO_SLOTS; ++i)
		if (t[i * TCPTO_RECORD + 16] && memcmp(t + i * TCPTO_RECORD, want, 16) == 0)
			return i;
	return -1;
}

int tcpto_dead(const struct ipaddr *ip)
{
	unsigned char t[TABLE];
	struct tcpto_entry e;
	int fd = open(TCPTO_FILE, O_RDONLY | O_CLOEXEC);
	int i;
	if (fd == -1) return 0;
	if (read_table(fd, t) < 0) {
		close(fd);
		return 0;
	}
	close(fd);
	i = find(t, ip);
	if (i < 0) return 0;
	from_record(&e, t + i * TCPTO_RECORD);
	if (e.count < 2) return 0;
	/* 64 to 97 minutes, as qmail: the spread keeps the retries of many
	 * messages from probing the host all at once. */
	return time(0) - e.when < (time_t)((60 + (getpid() & 31)) << 6);
}

void tcpto_note(const struct ipaddr *ip, int timedout)
{
	unsigned char t[TABLE];
	time_t now = time(0);
	int fd = open(TCPTO_FILE, O_RDWR | O_CLOEXEC | (timedout ? O_CREAT : 0), 0644);
	int i;
	if (fd == -1) return;
	if (lock(fd, F_WRLCK) == -1 || read_table(fd, t) < 0) {
		close(fd);
		return;
	}
	i = find(t, ip);
	if (i >= 0) {
		unsigned char *r = t + i * TCPTO_RECORD;
		struct tcpto_entry e;
		from_record(&e, r);
		if (!timedout) {
			r[16] = 0;
		} else if ((e.count < 2 && now - e.when > 120) || now - e.when > 600) {
			if (r[16] < 255) ++r[16];
			set_when(r, now);
		} else {
			close(fd);
			return;
		}
	} else {
		if (!timedout) {
			close(fd);
			return;
		}
		/* A free slot, or else the one whose news is oldest. */
		i = 0;
		for (int j = 0; j < TCPTO_SLOTS; ++j) {
			struct tcpto_entry a, b;
			if (!t[j * TCPTO_RECORD + 16]) {
				i = j;
				break;
			}
			from_record(&a, t + j * TCPTO_RECORD);
			from_record(&b, t + i * TCPTO_RECORD);
			if (a.when < b.when) i = j;
		}
		unsigned char *r = t + i * TCPTO_RECORD;
		memset(r, 0, TCPTO_RECORD);
		to_record(r, ip);
		r[16] = 1;
		set_when(r, now);
	}
	ssize_t w;
	do
		w = pwrite(fd, t + i * TCPTO_RECORD, TCPTO_RECORD, (off_t)i * TCPTO_RECORD);
	while (w == -1 && errno == EINTR);
	close(fd);
}

int tcpto_list(struct tcpto_entry out[TCPTO_SLOTS])
{
	unsigned char t[TABLE];
	int n = 0;
	int fd = open(TCPTO_FILE, O_RDONLY | O_CLOEXEC);
	if (fd == -1) return errno == ENOENT ? 0 : -1;
	if (lock(fd, F_RDLCK) == -1 || read_table(fd, t) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	for (int i = 0; i < TCPTO_SLOTS; ++i)
		if (t[i * TCPTO_RECORD + 16]) from_record(&out[n++], t + i * TCPTO_RECORD);
	return n;
}

int tcpto_clear(void)
{
	unsigned char t[TABLE];
	int fd = open(TCPTO_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1) return -1;
	memset(t, 0, sizeof t);
	if (lock(fd, F_WRLCK) == -1 || pwrite(fd, t, sizeof t, 0) != (ssize_t)sizeof t) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}
