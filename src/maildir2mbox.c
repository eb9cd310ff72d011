/* maildir2mbox: moves the messages of a maildir into an mbox file.
 *
 * $MAILDIR names the maildir, $MAIL the mbox, $MAILTMP a scratch file on
 * the same filesystem as $MAIL. The mbox is copied to $MAILTMP, the
 * messages of new/ and cur/ are appended to the copy (oldest first, each
 * with a "From " line made from its Return-Path and ">From " quoting), the
 * copy is made durable and renamed over $MAIL, and only then are the
 * messages removed from the maildir. Any failure before the rename leaves
 * the maildir and the mbox as they were (exit 111); a message that cannot
 * be removed afterwards is reported and would be moved again next time.
 *
 * As qmail's maildir2mbox: the program works inside $MAILDIR, so relative
 * names in $MAIL and $MAILTMP are taken from there; messages modified in
 * the current second are left for the next run, so that the order by time
 * cannot be mixed up by a delivery in progress; tmp/ files untouched for 36
 * hours are removed, as maildir(5) asks of readers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "durable.h"
#include "env.h"
#include "mbox.h"
#include "str.h"

struct message {
	time_t when;
	char *name; /* "new/..." or "cur/..." */
};

static struct message *messages;
static size_t nmessages, capmessages;
static const char *mailtmp; /* removed on failure once we created it */

static _Noreturn void fail(const char *what, const char *fn)
{
	int e = errno;
	if (mailtmp) unlink(mailtmp);
	errno = e;
	die_temp_sys(what, fn);
}

static void add_message(const char *name, time_t when)
{
	struct str copy = STR_INIT;
	if (nmessages == capmessages) {
		size_t cap = capmessages ? capmessages * 2 : 64;
		struct message *m;
		if (cap > (size_t)-1 / sizeof *m) die_nomem();
		m = realloc(messages, cap * sizeof *m);
		if (!m) die_nomem();
		messages = m;
		capmessages = cap;
	}
	str_copys(&copy, name);
	messages[nmessages].when = when;
	messages[nmessages].name = (char *)str_cstr(&copy);
	++nmessages;
}

static void clean_tmp(time_t now)
{
	struct str fn = STR_INIT;
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir("tmp");
	if (!dir) return;
	while ((d = readdir(dir)) != 0) {
		if (d->d_name[0] == '.') continue;
		str_copys(&fn, "tmp/");
		str_cats(&fn, d->d_name);
		if (stat(str_cstr(&fn), &st) == 0 && now > st.st_atime + 36 * 3600)
			unlink(fn.s);
	}
	closedir(dir);
	str_free(&fn);
}

static void scan(const char *sub, time_t now)
{
	struct str fn = STR_INIT;
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir(sub);
	if (!dir) die_temp_sys("unable to scan $MAILDIR/", sub);
	for (;;) {
		errno = 0;
		d = readdir(dir);
		if (!d) break;
		if (d->d_name[0] == '.') continue;
		str_copys(&fn, sub);
		str_catc(&fn, '/');
		str_cats(&fn, d->d_name);
		if (stat(str_cstr(&fn), &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < now)
			add_message(fn.s, st.st_mtime);
	}
	if (errno) die_temp_sys("unable to read $MAILDIR/", sub);
	closedir(dir);
	str_free(&fn);
}

static int by_time(const void *a, const void *b)
{
	const struct message *x = a, *y = b;
	if (x->when != y->when) return x->when < y->when ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The sender for the "From " line: the address of a first line
 * "Return-Path: <addr>", "" for <> (written MAILER-DAEMON), or "XXX" for a
 * message that does not start with one, as qmail writes. */
static void sender_of(const struct str *line, struct str *sender)
{
	size_t len = line->len;
	static const char rp[] = "Return-Path: <";
	sender->len = 0;
	if (len == 0 || line->s[len - 1] != '\n' || len < sizeof rp - 1 ||
	    memcmp(line->s, rp, sizeof rp - 1) != 0) {
		str_cats(sender, "XXX");
		return;
	}
	--len;
	if (len > sizeof rp - 1 && line->s[len - 1] == '\r') --len;
	if (len > sizeof rp - 1 && line->s[len - 1] == '>') --len;
	str_catb(sender, line->s + sizeof rp - 1, len - (sizeof rp - 1));
}

static void append_message(struct buf *out, const struct message *m)
{
	char space[65536];
	struct str line = STR_INIT, sender = STR_INIT, from = STR_INIT;
	struct buf in;
	int fd = open(m->name, O_RDONLY | O_CLOEXEC);
	if (fd == -1) fail("unable to read $MAILDIR/", m->name);

	buf_init_read(&in, fd, space, sizeof space);
	if (buf_getline(&in, &line, '\n') < 0) fail("unable to read $MAILDIR/", m->name);
	sender_of(&line, &sender);
	mbox_from_line(&from, sender.s, sender.len, (long)m->when);
	if (buf_putstr(out, &from) == -1) fail("unable to write to ", mailtmp);

	/* The first line was only looked at: the whole message goes out. */
	if (lseek(fd, 0, SEEK_SET) == -1) fail("unable to read $MAILDIR/", m->name);
	buf_init_read(&in, fd, space, sizeof space);
	switch (mbox_copy_quoted(out, &in)) {
	case -2: fail("unable to read $MAILDIR/", m->name);
	case -3: fail("unable to write to ", mailtmp);
	}
	close(fd);
	str_free(&line);
	str_free(&sender);
	str_free(&from);
}

/* The directory holding fn, for the fsync that makes the rename stick. */
static void dir_of(const char *fn, struct str *dir)
{
	size_t slash = strlen(fn);
	while (slash > 0 && fn[slash - 1] != '/') --slash;
	if (slash == 0) str_copys(dir, ".");
	else str_copyb(dir, fn, slash);
}

int main(void)
{
	const char *mail, *tmpname, *maildir;
	char inspace[65536], outspace[65536];
	struct buf in, out;
	struct str dir = STR_INIT;
	int fdlock, fdold, fdnew;
	time_t now;

	die_init("maildir2mbox");
	umask(077);
	mail = env_get("MAIL");
	if (!mail) die_temp("MAIL not set");
	tmpname = env_get("MAILTMP");
	if (!tmpname) die_temp("MAILTMP not set");
	maildir = env_get("MAILDIR");
	if (!maildir) die_temp("MAILDIR not set");
	if (chdir(maildir) == -1) die_temp_sys("unable to chdir to ", maildir);

	now = time(0);
	clean_tmp(now);
	scan("new", now);
	scan("cur", now);
	if (nmessages == 0) return 0;
	qsort(messages, nmessages, sizeof *messages, by_time);

	/* The lock keeps mail readers that flock the mbox away while we work. */
	fdlock = open(mail, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fdlock == -1) die_temp_sys("unable to lock ", mail);
	if (flock(fdlock, LOCK_EX) == -1) die_temp_sys("unable to lock ", mail);
	fdold = open(mail, O_RDONLY | O_CLOEXEC);
	if (fdold == -1) die_temp_sys("unable to read ", mail);
	fdnew = open(tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fdnew == -1) die_temp_sys("unable to create ", tmpname);
	mailtmp = tmpname;

	buf_init_read(&in, fdold, inspace, sizeof inspace);
	buf_init_write(&out, fdnew, outspace, sizeof outspace);
	switch (buf_copy(&out, &in)) {
	case -2: fail("unable to read ", mail);
	case -3: fail("unable to write to ", tmpname);
	}
	close(fdold);
	for (size_t i = 0; i < nmessages; ++i) append_message(&out, &messages[i]);

	if (buf_flush(&out) == -1 || durable_file(fdnew) == -1 || close(fdnew) == -1)
		fail("unable to write to ", tmpname);
	if (rename(tmpname, mail) == -1) {
		int e = errno;
		unlink(tmpname);
		errno = e;
		die_temp_sys("unable to move ", tmpname, " to ", mail);
	}
	mailtmp = 0;
	/* The new mbox must be on disk under its name before the messages
	 * leave the maildir, or a crash could lose both copies. */
	dir_of(mail, &dir);
	if (durable_dir(str_cstr(&dir)) == -1)
		die_temp_sys("unable to sync the directory of ", mail,
		             "; messages are left in $MAILDIR and would be moved twice");

	for (size_t i = 0; i < nmessages; ++i)
		if (unlink(messages[i].name) == -1)
			warn_sys("$MAILDIR/", messages[i].name,
			         " will be delivered twice; unable to unlink");
	return 0;
}
