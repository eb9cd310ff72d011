/* qmail-queue: puts one message into the queue (qmail-queue(8)).
 *
 * The message arrives on fd 0, the envelope (Fsender\0Trecip\0...\0) on
 * fd 1. Everything goes into one file, written without a name (Linux's
 * O_TMPFILE in mess/; elsewhere, or when a file is taken from pool/,
 * under queue/tmp/) and linked (renamed) into queue/mess/ once it is
 * complete, and then fsynced once: data, inode and name together. Only
 * then do we exit 0. One fsync per message; a process crash at any
 * instant leaves either nothing in mess/ or a complete message, and a
 * power failure before the fsync at worst a file whose header and
 * length disagree, which qmail-send leaves alone (docs/QUEUE.md).
 *
 * In a system install this program is setuid qmailq: it trusts nothing
 * from its environment and reads only files under the compiled-in root.
 * Exit codes are qmail-queue(8)'s (lib/qq.c turns them into reports).
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "date822.h"
#include "die.h"
#include "durable.h"
#include "ids.h"
#include "queue.h"
#include "str.h"

/* qmail-queue(8)'s exit codes. */
#define EX_ADDR_TOO_LONG 11
#define EX_NOMEM 51
#define EX_TIMEOUT 52
#define EX_WRITE 53
#define EX_READ 54
#define EX_CONFIG 55
#define EX_HOME 61
#define EX_CREATE 62
#define EX_LINK 66
#define EX_BUG 81
#define EX_ENVELOPE 91

static struct str tmpname = STR_INIT;
static int created;
static int nameless; /* the file is an O_TMPFILE: nothing to clean up */

/* Leaves no trace in tmp/ when we give up; mess/ is never touched
 * before the message is complete. */
static _Noreturn void quit(int code)
{
	if (created) unlink(tmpname.s);
	_exit(code);
}

static void on_alarm(int sig)
{
	(void)sig;
	quit(EX_TIMEOUT);
}

static void nomem(void) { quit(EX_NOMEM); }

/* A file in mess/ without a name yet (O_TMPFILE): the inode is never in
 * a directory until the message is complete, so no tmp/ entry is made
 * and removed, and its allocation happens under no directory's lock
 * (20 injectors creating in tmp/ spent most of their time waiting on it).
 * -1 when the system or the file system cannot, or /proc is not there
 * for give_name(): the caller uses tmp/. */
static int open_nameless(void)
{
#ifdef O_TMPFILE
	if (access("/proc/self/fd", X_OK) == -1) return -1;
	return open("mess", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
#else
	return -1;
#endif
}

/* Links the nameless file fd as name (linkat through /proc, which any
 * user may do with its own descriptors). */
static int give_name(int fd, const char *name)
{
	struct str proc = STR_INIT;
	int r;
	str_copys(&proc, "/proc/self/fd/");
	str_catulong(&proc, (unsigned long)fd);
	r = linkat(AT_FDCWD, str_cstr(&proc), AT_FDCWD, name, AT_SYMLINK_FOLLOW);
	str_free(&proc);
	return r;
}

/* A file from pool/ (an earlier message's, emptied by qmail-clean),
 * moved to tmpname: no inode to allocate now, none freed later. On
 * this VM's journal-less ext4 every allocation scans past the inodes
 * freed in the last minutes, which made qmail-queue's file creation
 * half of its CPU under a steady flow of mail. -1 when the pool is
 * empty or the file is not a plain file of ours with one name. */
static int open_pooled(unsigned long pid)
{
	struct timespec ts;
	struct stat st;
	int fd;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (queue_pool_take(tmpname.s, pid ^ (unsigned long)ts.tv_nsec) == -1) return -1;
	/* Looked at before anything is written: a file with a second name
	 * could be somebody's message. qmail-clean empties what it pools. */
	fd = open(tmpname.s, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd != -1 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == geteuid() && (st.st_size == 0 || ftruncate(fd, 0) == 0))
		return fd;
	if (fd != -1) close(fd);
	unlink(tmpname.s);
	return -1;
}

struct out {
	int fd;
	char buf[65536];
	size_t len;
	unsigned long total;
};

static void out_flush(struct out *o)
{
	if (o->len && durable_write_all(o->fd, o->buf, o->len) == -1) quit(EX_WRITE);
	o->len = 0;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	o->total += n;
	while (n) {
		size_t room = sizeof o->buf - o->len;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof o->buf) out_flush(o);
	}
}

static ssize_t read_some(int fd, char *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(fd, buf, len);
		if (r >= 0 || errno != EINTR) return r;
	}
}

static void received_line(struct str *line, const struct ids *ids, unsigned long pid)
{
	long uid = (long)getuid();
	str_copys(line, "Received: (qmail ");
	str_catulong(line, pid);
	/* In a user instance every role is the same user, so only the
	 * uid tells anything. */
	if (ids->system && uid == ids->uid[IDS_ALIAS]) {
		str_cats(line, " invoked by alias");
	} else if (ids->system && uid == ids->uid[IDS_QMAILD]) {
		str_cats(line, " invoked from network");
	} else if (ids->system && uid == ids->uid[IDS_QMAILS]) {
		str_cats(line, " invoked for bounce");
	} else {
		str_cats(line, " invoked by uid ");
		str_catulong(line, (unsigned long)uid);
	}
	str_cats(line, "); ");
	date822_cat(line, time(0), date822_localtime_wanted());
	str_catc(line, '\n');
}

/* qmail-queue(8): an address of 1003 bytes or more is refused with 11.
 * Fields are judged in order, as qmail reads them: a wrong field type
 * before the long address is still a format error. */
#define ADDR_MAX 1002

static void check_fields(const char *env, size_t len)
{
	size_t i = 0;
	int first = 1;
	while (i < len) {
		size_t n = mem_chr(env + i, len - i, 0);
		if (env[i] != (first ? 'F' : 'T')) quit(EX_ENVELOPE);
		if (n - 1 > ADDR_MAX) quit(EX_ADDR_TOO_LONG);
		first = 0;
		i += n + 1;
	}
}

/* Reads the envelope from fd 1 up to its terminating empty field. */
static void read_envelope(struct str *env)
{
	char buf[4096];
	int fields_ended = 0;
	for (;;) {
		ssize_t r = read_some(1, buf, sizeof buf);
		if (r < 0) quit(EX_READ);
		if (r == 0) break;
		str_catb(env, buf, (size_t)r);
		/* "\0\0" or a lone "\0" after F...: the envelope is complete. */
		if (env->len >= 2 && env->s[env->len - 1] == 0 && env->s[env->len - 2] == 0) {
			fields_ended = 1;
			break;
		}
		if (env->len > 100 * 1024 * 1024) quit(EX_ENVELOPE);
	}
	if (!fields_ended) quit(EX_READ); /* qmail: end of input mid-envelope is a read error */
	/* Keep "F..\0T..\0" and drop the terminating empty field. */
	--env->len;
	check_fields(env->s, env->len);
	if (!queue_envelope_valid(env->s, env->len)) quit(EX_ENVELOPE);
}

/* The message's ID, as a line "ID\n" in lock/trigger, which qmail-send
 * reads: the usual way to tell it about a new message, with no file to
 * create here and remove there. One write of at most PIPE_BUF bytes is
 * all or nothing; it starts with a line end of its own, so that a half
 * line somebody else left in the FIFO (it is writable by everybody)
 * cannot run into our ID. -1 when qmail-send is not reading (not running,
 * or its FIFO is full): then the todo/ marker below does the job. */
static int hint(unsigned long id)
{
	char line[24];
	size_t n = sizeof line;
	int fd;
	ssize_t w;
	line[--n] = '\n';
	do line[--n] = (char)('0' + id % 10);
	while ((id /= 10) != 0 && n > 1);
	line[--n] = '\n';
	fd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) return -1;
	w = write(fd, line + n, sizeof line - n);
	close(fd);
	return w == (ssize_t)(sizeof line - n) ? 0 : -1;
}

/* The old way to wake qmail-send (a byte; it then reads todo/). */
static void trigger(void)
{
	int fd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) return;
	if (write(fd, "", 1) < 0) { /* qmail-send is busy or down: it rescans */ }
	close(fd);
}

int main(void)
{
	struct ids ids;
	struct out *o;
	struct str line = STR_INIT, env = STR_INIT, final = STR_INIT, todo = STR_INIT;
	struct queue_header h;
	struct stat st;
	struct timespec now;
	char header[QUEUE_HEADER_LEN];
	unsigned long pid = (unsigned long)getpid();

	die_set_nomem(nomem);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(86400);
	umask(027);

	if (chdir(AUTO_PREFIX) == -1) quit(EX_HOME);
	if (ids_load(&ids) == -1) quit(EX_CONFIG);
	/* setuid qmailq: nothing the caller put in the environment counts
	 * (local time then comes from the system's zone, as it should) */
	if (ids.system || getuid() != geteuid()) clearenv();
	received_line(&line, &ids, pid);
	if (chdir(QUEUE_DIR) == -1) quit(EX_HOME);

	o = malloc(sizeof *o);
	if (!o) quit(EX_NOMEM);
	str_copys(&tmpname, "tmp/");
	str_catulong(&tmpname, pid);
	str_cstr(&tmpname);
	o->fd = open_pooled(pid);
	if (o->fd != -1) {
		created = 1;
	} else if ((o->fd = open_nameless()) != -1) {
		nameless = 1;
	} else {
		o->fd = open(tmpname.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (o->fd == -1 && errno == EEXIST) {
			/* a leftover from a crashed qmail-queue that had our pid */
			unlink(tmpname.s);
			o->fd = open(tmpname.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		}
		if (o->fd == -1) quit(errno == ENOSPC || errno == EDQUOT ? EX_WRITE : EX_CREATE);
		created = 1;
	}
	if (fstat(o->fd, &st) == -1) quit(EX_CREATE);
	o->len = 0;
	o->total = 0;

	memset(header, ' ', sizeof header);
	out_put(o, header, sizeof header);
	o->total = 0;
	out_put(o, line.s, line.len);
	for (;;) {
		char buf[65536];
		ssize_t r = read_some(0, buf, sizeof buf);
		if (r < 0) quit(EX_READ);
		if (r == 0) break;
		out_put(o, buf, (size_t)r);
	}
	h.msglen = o->total;

	read_envelope(&env);
	out_put(o, env.s, env.len);
	out_flush(o);

	clock_gettime(CLOCK_REALTIME, &now);
	h.birth = (unsigned long)now.tv_sec;
	h.birth_nsec = (unsigned long)now.tv_nsec;
	h.qp = pid;
	h.uid = (unsigned long)getuid();
	h.envlen = env.len;
	queue_header_format(header, &h);
	if (pwrite(o->fd, header, sizeof header, 0) != (ssize_t)sizeof header) quit(EX_WRITE);

	/* The inode number names the message: unique while the file exists.
	 * The file is complete before it gets the name; the header, written
	 * last, is what says so (qmail-send refuses a file whose header and
	 * length disagree). */
	queue_path(&final, "mess", (unsigned long)st.st_ino);
	if (nameless) {
		if (give_name(o->fd, str_cstr(&final)) == -1) quit(errno == ENOSPC ? EX_WRITE : EX_LINK);
	} else {
		if (rename(tmpname.s, str_cstr(&final)) == -1) quit(EX_LINK);
	}
	created = 0;
	/* The commit point, and the one fsync: the data, the inode and its
	 * new name in mess/ together. Linux's file systems make a new name
	 * durable with the file's fsync (ext4 syncs the parent of a new
	 * entry, or commits the journal transaction that made it; XFS and
	 * btrfs log it with the inode), so no second fsync of mess/ is
	 * needed, as for Postfix's queue files. */
	if (durable_file(o->fd) == -1 || close(o->fd) == -1) {
		unlink(final.s);
		quit(EX_WRITE);
	}

	/* Tell qmail-send. The hint is not data: if it is lost, qmail-send
	 * finds the message when it scans mess/. */
	if (hint((unsigned long)st.st_ino) == -1) {
		queue_path(&todo, "todo", (unsigned long)st.st_ino);
		int fd = open(str_cstr(&todo), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
		if (fd != -1) close(fd);
		trigger();
	}
	_exit(0);
}
