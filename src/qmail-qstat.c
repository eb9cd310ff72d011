/* qmail-qstat: counts the messages in the queue (qmail-qstat(8)).
 *
 * "messages in queue" counts queue/mess. "Not yet preprocessed" are the
 * messages without an info/ file (qmail-queue usually tells qmail-send
 * through lock/trigger, with no file; a one-recipient message on its first
 * delivery has no info/ file either, so this may count a few in flight),
 * or, when more, the todo/ markers qmail-queue leaves while qmail-send is
 * not running.
 */
#include <dirent.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "queue.h"

static unsigned long count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned long n = 0;
	if (!d) die_temp_sys("unable to read queue/", dir);
	while ((e = readdir(d)) != 0)
		if (e->d_name[0] >= '0' && e->d_name[0] <= '9') ++n;
	closedir(d);
	return n;
}

int main(void)
{
	static char space[256];
	struct buf out;
	die_init("qmail-qstat");
	if (chdir(AUTO_PREFIX "/" QUEUE_DIR) == -1) die_temp_sys("unable to chdir to the queue");
	buf_init_write(&out, 1, space, sizeof space);
	unsigned long mess = count("mess"), info = count("info"), todo = count("todo");
	unsigned long fresh = mess > info ? mess - info : 0;
	buf_puts(&out, "messages in queue: ");
	buf_putulong(&out, mess);
	buf_puts(&out, "\nmessages in queue but not yet preprocessed: ");
	buf_putulong(&out, todo > fresh ? todo : fresh);
	buf_puts(&out, "\n");
	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	return 0;
}
