/* qmail-tcpto: prints qmail-remote's table of addresses that timed out
 * (queue/lock/tcpto, see tcpto.h), one line per address:
 *   "1.2.3.4 timed out 75 seconds ago; # recent timeouts: 2"
 * Reads only; runs as root or as qmail-remote's user. */
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "tcpto.h"

int main(void)
{
	static struct tcpto_entry e[TCPTO_SLOTS];
	static char space[4096];
	struct buf out;
	struct str line = STR_INIT;
	time_t now = time(0);
	int n;
	die_init("qmail-tcpto");
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	n = tcpto_list(e);
	if (n == -1) die_temp_sys("unable to read ", TCPTO_FILE);
	buf_init_write(&out, 1, space, sizeof space);
	for (int i = 0; i < n; ++i) {
		line.len = 0;
		ipaddr_cat(&line, &e[i].ip);
		str_cats(&line, " timed out ");
		str_catulong(&line, now > e[i].when ? (unsigned long)(now - e[i].when) : 0);
		str_cats(&line, " seconds ago; # recent timeouts: ");
		str_catulong(&line, e[i].count);
		str_catc(&line, '\n');
		buf_putstr(&out, &line);
	}
	str_free(&line);
	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	return 0;
}
