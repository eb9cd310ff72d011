/* mbox: see mbox.h. */
#include "mbox.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "date822.h"
#include "durable.h"
#include "sig.h"

int mbox_needs_quote(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && line[i] == '>') ++i;
	return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

int mbox_copy_quoted(struct buf *out, struct buf *in)
{
	struct str line = STR_INIT;
	int r, ret = 0;
	for (;;) {
		line.len = 0;
		r = buf_getline(in, &line, '\n');
		if (r < 0) { ret = -2; break; }
		if (r == 0 && line.len == 0) break;
		if (mbox_needs_quote(line.s, line.len) && buf_put(out, ">", 1) == -1) { ret = -3; break; }
		if (buf_putstr(out, &line) == -1) { ret = -3; break; }
		if (r == 0) {
			if (buf_put(out, "\n", 1) == -1) ret = -3;
			break;
		}
	}
	if (ret == 0 && buf_put(out, "\n", 1) == -1) ret = -3;
	str_free(&line);
	return ret;
}

void mbox_from_line(struct str *out, const char *sender, size_t len, long when)
{
	str_cats(out, "From ");
	if (len == 0) str_cats(out, "MAILER-DAEMON");
	for (size_t i = 0; i < len; ++i) {
		char c = sender[i];
		str_catc(out, (c == ' ' || c == '\t' || c == '\n') ? '-' : c);
	}
	str_catc(out, ' ');
	date822_cat_ctime(out, (time_t)when);
	str_catc(out, '\n');
}

static void on_alarm(int sig) { (void)sig; }


int mbox_deliver(const char *fn, const struct str *from_line, const char *head, size_t headlen,
                 int msgfd, unsigned lock_seconds, struct str *why)
{
	char inspace[65536], outspace[65536];
	struct buf in, out;
	int fd, locked, r;
	off_t start;

	fd = open(fn, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) {
		str_reason_errno(why, "Unable to open ", fn);
		return -2;
	}

	sig_catch(SIGALRM, on_alarm);
	alarm(lock_seconds);
	locked = flock(fd, LOCK_EX) == 0;
	alarm(0);
	sig_default(SIGALRM);
	if (!locked && errno == EINTR) {
		close(fd);
		why->len = 0;
		str_cats(why, "File has been locked for too long: ");
		str_cat_abbrev(why, fn, strlen(fn), 200);
		return -1;
	}

	start = lseek(fd, 0, SEEK_END);
	if (start == (off_t)-1) {
		str_reason_errno(why, "Unable to seek in ", fn);
		close(fd);
		return -1;
	}
	buf_init_read(&in, msgfd, inspace, sizeof inspace);
	buf_init_write(&out, fd, outspace, sizeof outspace);
	r = buf_putstr(&out, from_line) == -1 || buf_put(&out, head, headlen) == -1 ? -3 : 0;
	if (r == 0) r = mbox_copy_quoted(&out, &in);
	if (r == 0 && buf_flush(&out) == -1) r = -3;
	if (r == 0 && durable_file(fd) == -1) r = -3;
	if (r != 0) {
		int e = errno;
		/* Only a locked file is ours to cut back: unlocked, another writer
		 * may have appended after us. */
		if (locked && ftruncate(fd, start) == 0) durable_file(fd);
		errno = e;
		str_reason_errno(why, r == -2 ? "Unable to read message for " : "Unable to write ", fn);
		close(fd);
		return -1;
	}
	if (close(fd) == -1) return str_reason_errno(why, "Unable to write ", fn);
	return 0;
}
