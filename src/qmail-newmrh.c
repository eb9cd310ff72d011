/* qmail-newmrh: compiles control/morercpthosts into
 * control/morercpthosts.cdb for qmail-smtpd.
 *
 * Each line is one domain (or ".domain" wildcard), stored lower-cased
 * as a key with an empty value; blank lines and lines starting with '#'
 * are skipped and trailing blanks dropped. The cdb is written to
 * control/morercpthosts.tmp, synced, and renamed over the old one, so a
 * running qmail-smtpd sees the old list or the new one, never half of
 * one. On any error the old cdb is left alone and the exit code is 111.
 * Two qmail-newmrh running at once are not protected against each other.
 */
#include <cdb.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "ctl.h"
#include "die.h"
#include "durable.h"

#define SRC "control/morercpthosts"
#define TMP "control/morercpthosts.tmp"
#define DST "control/morercpthosts.cdb"

int main(int argc, char **argv)
{
	struct str lines = STR_INIT, key = STR_INIT;
	struct cdb_make cm;
	size_t pos = 0, len;
	const char *line;
	int fd, r;
	(void)argc;
	die_init(argv[0] ? argv[0] : "qmail-newmrh");
	umask(033);
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	r = ctl_read_lines(SRC, &lines);
	if (r == -1) die_temp_sys("unable to read " SRC);
	if (r == 0) die_temp("unable to read " SRC ": file does not exist");
	fd = open(TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1) die_temp_sys("unable to create " TMP);
	if (cdb_make_start(&cm, fd) == -1) die_temp_sys("unable to write " TMP);
	while ((line = ctl_next(&lines, &pos, &len)) != 0) {
		str_copyb(&key, line, len);
		str_lower(&key);
		if (cdb_make_add(&cm, key.s, (unsigned)key.len, "", 0) == -1)
			die_temp_sys("unable to write " TMP);
	}
	if (cdb_make_finish(&cm) == -1 || durable_file(fd) == -1 || close(fd) == -1)
		die_temp_sys("unable to write " TMP);
	if (durable_replace(TMP, DST) == -1) die_temp_sys("unable to move " TMP " to " DST);
	return 0;
}
