/* qmail-qstat: counts the messages in the queue (qmail-qstat(8)).
 *
 * "messages in queue" counts queue/mess; "not yet preprocessed" counts
 * the todo/ markers of messages qmail-send has not taken in yet.
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
	buf_puts(&out, "messages in queue: ");
	buf_putulong(&out, count("mess"));
	buf_puts(&out, "\nmessages in queue but not yet preprocessed: ");
	buf_putulong(&out, count("todo"));
	buf_puts(&out, "\n");
	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	return 0;
}
