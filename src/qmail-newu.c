/* qmail-newu: compiles users/assign into users/cdb.
 *
 * Reads the assignments of qmail-users(5) from users/assign (under the
 * install root) and writes them in the constant-database layout that
 * lib/users reads (and qmail's qmail-lspawn reads too), see users.h.
 * The new database is written to users/cdb.tmp, made durable, and renamed
 * over users/cdb, so a reader sees either the old or the new file whole.
 *
 * Every line is checked before anything is replaced: a malformed line
 * stops qmail-newu with a message naming the line, exit 111, and leaves
 * users/cdb as it was. Two qmail-newu running at once are not guarded
 * against (as in qmail).
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "durable.h"
#include "str.h"

#define ASSIGN "users/assign"
#define TMP    "users/cdb.tmp"
#define CDB    "users/cdb"

static struct cdb_make cdbm;
static int fdtemp = -1;

static _Noreturn void fail_temp(const char *what)
{
	int e = errno;
	if (fdtemp != -1) unlink(TMP);
	errno = e;
	die_temp_sys(what);
}

static _Noreturn void bad_line(unsigned long lineno, const char *why)
{
	struct str n = STR_INIT;
	if (fdtemp != -1) unlink(TMP);
	str_catulong(&n, lineno);
	die_temp("bad format in " ASSIGN " line ", str_cstr(&n), ": ", why,
	         "; users/cdb left unchanged");
}

static int all_digits(const char *s, size_t len)
{
	size_t i;
	if (len == 0 || len > 10) return 0;
	for (i = 0; i < len; ++i)
		if (s[i] < '0' || s[i] > '9') return 0;
	return 1;
}

static void lower(char *s, size_t len)
{
	size_t i;
	for (i = 0; i < len; ++i)
		if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] - 'A' + 'a');
}

/* Checks one assignment line (without its newline) and adds it. */
static void add_line(unsigned long lineno, struct str *line, struct str *wildchars)
{
	struct str key = STR_INIT;
	struct str data = STR_INIT;
	size_t colon, i, field_start, fields = 0;
	size_t fstart[7], flen[7];

	if (line->len == 0)
		bad_line(lineno, "empty line (the list must end with a line holding a single dot)");
	if (mem_chr(line->s, line->len, 0) < line->len) bad_line(lineno, "contains a NUL byte");
	if (line->s[0] != '=' && line->s[0] != '+')
		bad_line(lineno, "must start with = (simple) or + (wildcard)");
	colon = mem_chr(line->s, line->len, ':');
	if (colon == line->len) bad_line(lineno, "no colon after the address");

	/* The fields after the address: user:uid:gid:home:dash:ext: */
	field_start = colon + 1;
	for (i = colon + 1; i < line->len && fields < 6; ++i) {
		if (line->s[i] != ':') continue;
		fstart[fields] = field_start;
		flen[fields] = i - field_start;
		++fields;
		field_start = i + 1;
	}
	if (fields < 6) bad_line(lineno, "needs the fields local:user:uid:gid:homedir:dash:ext:");
	if (flen[0] == 0) bad_line(lineno, "empty user name");
	if (!all_digits(line->s + fstart[1], flen[1])) bad_line(lineno, "uid is not a number");
	if (!all_digits(line->s + fstart[2], flen[2])) bad_line(lineno, "gid is not a number");
	if (flen[3] == 0) bad_line(lineno, "empty home directory");

	str_copys(&key, "!");
	str_catb(&key, line->s + 1, colon - 1);
	if (line->s[0] == '=') {
		/* A simple assignment's key ends in NUL, so that no wildcard
		 * prefix can ever look like it. */
		str_catc(&key, 0);
	} else if (colon > 1) {
		char last = line->s[colon - 1];
		if (last >= 'A' && last <= 'Z') last = (char)(last - 'A' + 'a');
		if (mem_chr(wildchars->s, wildchars->len, last) == wildchars->len)
			str_catc(wildchars, last);
	}
	lower(key.s, key.len);

	for (i = 0; i < 6; ++i) {
		if (i) str_catc(&data, 0);
		str_catb(&data, line->s + fstart[i], flen[i]);
	}
	if (cdb_make_add(&cdbm, key.s, (unsigned)key.len, data.s, (unsigned)data.len) != 0)
		fail_temp("unable to write " TMP);
	str_free(&key);
	str_free(&data);
}

int main(void)
{
	char space[4096];
	struct buf in;
	struct str line = STR_INIT;
	struct str wildchars = STR_INIT;
	unsigned long lineno = 0;
	int fd;

	die_init("qmail-newu");
	umask(033);
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to " AUTO_PREFIX);
	fd = open(ASSIGN, O_RDONLY | O_CLOEXEC);
	if (fd == -1) die_temp_sys("unable to open " ASSIGN);
	buf_init_read(&in, fd, space, sizeof space);

	fdtemp = open(TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fdtemp == -1) die_temp_sys("unable to open " TMP);
	if (cdb_make_start(&cdbm, fdtemp) != 0) fail_temp("unable to write " TMP);

	for (;;) {
		int r;
		line.len = 0;
		r = buf_getline(&in, &line, '\n');
		if (r == -1) fail_temp("unable to read " ASSIGN);
		++lineno;
		if (line.len && line.s[0] == '.') break;
		if (r == 0) {
			if (line.len) bad_line(lineno, "last line has no newline");
			bad_line(lineno, "missing the final line holding a single dot");
		}
		str_chomp(&line);
		add_line(lineno, &line, &wildchars);
	}
	close(fd);

	if (cdb_make_add(&cdbm, "", 0, wildchars.s ? wildchars.s : "", (unsigned)wildchars.len) !=
	    0)
		fail_temp("unable to write " TMP);
	if (cdb_make_finish(&cdbm) != 0) fail_temp("unable to write " TMP);
	if (durable_file(fdtemp) == -1) fail_temp("unable to write " TMP);
	if (close(fdtemp) == -1) fail_temp("unable to write " TMP);
	if (rename(TMP, CDB) == -1) fail_temp("unable to move " TMP " to " CDB);
	fdtemp = -1;
	if (durable_dir("users") == -1) die_temp_sys("unable to sync the users directory");
	str_free(&line);
	str_free(&wildchars);
	return 0;
}
