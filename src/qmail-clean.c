/* qmail-clean: removes queue files on qmail-send's behalf (qmail-clean(8)).
 *
 * Runs as qmailq, the owner of mess/, todo/ and tmp/, which qmail-send
 * (qmails) may read but not change. Requests arrive on fd 0, one per
 * line; each gets a one-byte answer on fd 1, '+' done or '!' trouble:
 *   mID   the message is finished: remove todo/ID, then mess/ID
 *   mID BIRTH NSEC   the same, but only if mess/ID is still that message
 *         (its header's birth stamp); otherwise it is already gone.
 *         The file is emptied into pool/ for qmail-queue to reuse while
 *         the pool has room (lib/queue.h), and deleted otherwise
 *   tID   qmail-send has taken the message in: remove todo/ID
 *   s     sweep tmp/ of files older than 36 hours (crashed injections)
 * Removing a file that is already gone counts as done.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "queue.h"
#include "sig.h"
#include "str.h"

static int remove_one(const char *dir, unsigned long id)
{
	struct str fn = STR_INIT;
	int r;
	queue_path(&fn, dir, id);
	r = unlink(str_cstr(&fn));
	str_free(&fn);
	return r == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes message id if mess/ID is still the one born at birth.nsec.
 *
 * After a restart qmail-send may ask to remove a message that the
 * previous qmail-clean, still at work on its last requests, removes at
 * the same moment; the inode, and so the ID, may then belong to a new
 * message at once, which a second plain unlink would destroy. So the
 * file is first moved aside (tmp/rm.ID) and looked at there: while it is
 * there its inode stays in use, so no other file can take the name
 * mess/ID, and a file that turns out to be another message is put back.
 * A crash meanwhile leaves tmp/rm.ID, which restore_aside() puts back. */
static int remove_checked(unsigned long id, unsigned long birth, unsigned long nsec)
{
	struct str mess = STR_INIT, aside = STR_INIT;
	struct queue_header h;
	int fd, r = 0, same = 0;

	queue_path(&mess, "mess", id);
	str_copys(&aside, "tmp/rm.");
	str_catulong(&aside, id);
	str_cstr(&aside);
	if (rename(str_cstr(&mess), aside.s) == -1) {
		/* already gone: only a stale hint may be left */
		r = errno == ENOENT ? remove_one("todo", id) : -1;
		goto done;
	}
	fd = open(aside.s, O_RDONLY | O_CLOEXEC);
	if (fd != -1) {
		if (queue_header_read(fd, &h) == 0)
			same = h.birth == birth && h.birth_nsec == nsec;
		close(fd);
	}
	if (!same) {
		/* a new message with this ID (or one we cannot read): keep it */
		if (rename(aside.s, mess.s) == -1) r = -1;
		goto done;
	}
	/* todo/ first, as for a plain mID; the inode is still ours here */
	if (remove_one("todo", id) == -1) {
		rename(aside.s, mess.s);
		r = -1;
		goto done;
	}
	/* Kept for the next message when the pool has room. Emptied here,
	 * while tmp/rm.ID is a name only qmail-clean uses: once in pool/ the
	 * file may be taken, and written, at any moment (lib/queue.h). */
	if ((truncate(aside.s, 0) == -1 || queue_pool_give(aside.s, id) == -1) &&
	    unlink(aside.s) == -1 && errno != ENOENT)
		r = -1;
done:
	str_free(&mess);
	str_free(&aside);
	return r;
}

/* Puts back files a crash left aside (remove_checked). A message that
 * was finished is then delivered again: a duplicate, never a loss. An
 * empty file was already emptied for the pool (a message file never is:
 * it has a header), so it goes. */
static void restore_aside(void)
{
	DIR *d = opendir("tmp");
	struct dirent *e;
	if (!d) return;
	while ((e = readdir(d)) != 0) {
		struct str from = STR_INIT, to = STR_INIT;
		struct stat st;
		const char *id = e->d_name + 3;
		if (strncmp(e->d_name, "rm.", 3) != 0 || !*id || strspn(id, "0123456789") != strlen(id))
			continue;
		str_copys(&from, "tmp/");
		str_cats(&from, e->d_name);
		str_copys(&to, "mess/");
		str_cats(&to, id);
		if (stat(str_cstr(&from), &st) == 0 && st.st_size == 0)
			unlink(from.s);
		else
			rename(from.s, str_cstr(&to));
		str_free(&from);
		str_free(&to);
	}
	closedir(d);
}

static int sweep_tmp(void)
{
	DIR *d = opendir("tmp");
	struct dirent *e;
	time_t now = time(0);
	if (!d) return -1;
	while ((e = readdir(d)) != 0) {
		struct str fn = STR_INIT;
		struct stat st;
		if (e->d_name[0] == '.') continue;
		if (strncmp(e->d_name, "rm.", 3) == 0) continue; /* a message, see remove_checked */
		str_copys(&fn, "tmp/");
		str_cats(&fn, e->d_name);
		if (stat(str_cstr(&fn), &st) == 0 && now - st.st_mtime > 129600) unlink(fn.s);
		str_free(&fn);
	}
	closedir(d);
	return 0;
}

static int parse_id(const struct str *line, unsigned long *id)
{
	unsigned long u = 0;
	size_t i;
	for (i = 1; i < line->len && line->s[i] >= '0' && line->s[i] <= '9'; ++i)
		u = u * 10 + (unsigned long)(line->s[i] - '0');
	if (i == 1 || i != line->len) return -1;
	*id = u;
	return 0;
}

/* "mID BIRTH NSEC": 1 parsed, 0 not this form. */
static int parse_checked(const struct str *line, unsigned long *id, unsigned long *birth,
                         unsigned long *nsec)
{
	size_t i = 1, n;
	n = mem_scan_ulong(line->s + i, line->len - i, id);
	if (!n || (i += n) >= line->len || line->s[i++] != ' ') return 0;
	n = mem_scan_ulong(line->s + i, line->len - i, birth);
	if (!n || (i += n) >= line->len || line->s[i++] != ' ') return 0;
	n = mem_scan_ulong(line->s + i, line->len - i, nsec);
	return n && i + n == line->len;
}

int main(void)
{
	static char inspace[4096], outspace[256];
	struct buf in, out;
	struct str line = STR_INIT;

	die_init("qmail-clean");
	sig_ignore(SIGPIPE);
	if (chdir(AUTO_PREFIX "/" QUEUE_DIR) == -1)
		die_temp_sys("unable to chdir to ", AUTO_PREFIX, "/", QUEUE_DIR);
	restore_aside();
	buf_init_read(&in, 0, inspace, sizeof inspace);
	buf_init_write(&out, 1, outspace, sizeof outspace);
	for (;;) {
		unsigned long id, birth, nsec;
		int ok = -1;
		line.len = 0;
		if (buf_getline_max(&in, &line, '\n', 100) != 1) break;
		str_chomp(&line);
		if (line.len == 1 && line.s[0] == 's') {
			ok = sweep_tmp();
		} else if (line.len > 1 && line.s[0] == 'm' && parse_checked(&line, &id, &birth, &nsec)) {
			ok = remove_checked(id, birth, nsec);
		} else if (line.len > 1 && parse_id(&line, &id) == 0) {
			if (line.s[0] == 'm')
				/* todo/ first: once mess/ID is gone its inode, and so
				 * its ID, may belong to a new message at once, whose
				 * todo/ID must survive */
				ok = remove_one("todo", id) == 0 && remove_one("mess", id) == 0 ? 0 : -1;
			else if (line.s[0] == 't')
				ok = remove_one("todo", id);
		}
		/* Answers are flushed only when no more requests are waiting,
		 * so a batch of removals costs one write. */
		if (buf_put(&out, ok == 0 ? "+" : "!", 1) == -1) break;
		if (buf_avail(&in) == 0 && buf_flush(&out) == -1) break;
	}
	buf_flush(&out);
	return 0;
}
