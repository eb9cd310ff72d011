/* qmail-clean: removes queue files on qmail-send's behalf (qmail-clean(8)).
 *
 * Runs as qmailq, the owner of mess/, todo/ and tmp/, which qmail-send
 * (qmails) may read but not change. Requests arrive on fd 0, one per
 * line; each gets a one-byte answer on fd 1, '+' done or '!' trouble:
 *   mID   the message is finished: remove todo/ID, then mess/ID
 *   tID   qmail-send has taken the message in: remove todo/ID
 *   s     sweep tmp/ of files older than 36 hours (crashed injections)
 * Removing a file that is already gone counts as done.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
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

int main(void)
{
	static char inspace[4096], outspace[256];
	struct buf in, out;
	struct str line = STR_INIT;

	die_init("qmail-clean");
	sig_ignore(SIGPIPE);
	if (chdir(AUTO_PREFIX "/" QUEUE_DIR) == -1)
		die_temp_sys("unable to chdir to ", AUTO_PREFIX, "/", QUEUE_DIR);
	buf_init_read(&in, 0, inspace, sizeof inspace);
	buf_init_write(&out, 1, outspace, sizeof outspace);
	for (;;) {
		unsigned long id;
		int ok = -1;
		line.len = 0;
		if (buf_getline_max(&in, &line, '\n', 100) != 1) break;
		str_chomp(&line);
		if (line.len == 1 && line.s[0] == 's') {
			ok = sweep_tmp();
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
