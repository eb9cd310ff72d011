/* qmail-pw2u: turns a passwd file into qmail-users(5) assignments.
 *
 * Reads V7 passwd lines (user:password:uid:gid:gecos:home:shell) on
 * stdin and prints, for each account qmail-getpw(8) would accept, a
 * simple assignment for the user and a wildcard one for user-anything;
 * the account "alias" also gets the catch-all wildcard. Files under
 * users/ (relative to the install root) adjust this, as qmail-pw2u(8)
 * describes: include, exclude, mailnames, subusers and append.
 *
 * Exit codes: 0; 100 for a bad option; 111 when a file cannot be read,
 * a home directory cannot be examined (or, with -h, is missing), there is
 * no alias account, or a subuser names an unknown user.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "ctl.h"
#include "die.h"
#include "str.h"

#define ALIAS_USER "alias"

enum home_check { HOME_IGNORE, HOME_REQUIRED, HOME_SKIP_MISSING };

static const char *dashcolon = "-:";
static char user_break = '-'; /* 0: no user-extension addresses */
static int allow_upper;
static enum home_check home_check = HOME_SKIP_MISSING;
static int have_alias;

static struct str include, exclude, mailnames;
static int use_include, use_exclude, use_mailnames;
/* "user\0:user:uid:gid:home:\0" for every account printed, for subusers. */
static struct str accepted;

static struct buf out;
static char outspace[8192];

static void put(const char *s, size_t len)
{
	if (buf_put(&out, s, len) == -1) die_temp_sys("unable to write output");
}

static void puts_(const char *s) { put(s, strlen(s)); }

/* Is name one of the lines of list (as ctl_read_lines keeps them)? */
static int listed(const struct str *list, const char *name, size_t len)
{
	size_t pos = 0, l;
	const char *s;
	while ((s = ctl_next(list, &pos, &l)) != 0)
		if (l == len && memcmp(s, name, len) == 0) return 1;
	return 0;
}

/* The mail names of user from users/mailnames ("user:name1:name2"), or 0. */
static const char *mailnames_of(const char *name, size_t len, size_t *outlen)
{
	size_t pos = 0, l;
	const char *s;
	while ((s = ctl_next(&mailnames, &pos, &l)) != 0)
		if (l > len && s[len] == ':' && memcmp(s, name, len) == 0) {
			*outlen = l - len - 1;
			return s + len + 1;
		}
	return 0;
}

/* Splits line at its first n colons; returns 0 when it has fewer. */
static int split_fields(const char *line, size_t len, size_t n, const char **f, size_t *flen)
{
	size_t i, start = 0, k = 0;
	for (i = 0; i < len && k < n; ++i) {
		if (line[i] != ':') continue;
		f[k] = line + start;
		flen[k] = i - start;
		++k;
		start = i + 1;
	}
	return k == n;
}

static void print_assignments(const char *name, size_t len, const struct str *uugh)
{
	puts_("=");
	put(name, len);
	put(uugh->s, uugh->len);
	puts_("::\n");
	if (!user_break) return;
	puts_("+");
	put(name, len);
	put(&user_break, 1);
	put(uugh->s, uugh->len);
	puts_(dashcolon);
	puts_(":\n");
}

static void account(const char *line, size_t len)
{
	const char *f[6];
	size_t flen[6], i;
	unsigned long uid = 0;
	struct str home = STR_INIT, uugh = STR_INIT;
	const char *names;
	size_t nameslen;
	struct stat st;

	if (mem_chr(line, len, 0) < len) return;
	if (!split_fields(line, len, 6, f, flen)) return;
	for (i = 0; i < flen[2] && f[2][i] >= '0' && f[2][i] <= '9'; ++i)
		uid = uid * 10 + (unsigned long)(f[2][i] - '0');
	if (uid == 0) return;
	if (!allow_upper)
		for (i = 0; i < flen[0]; ++i)
			if (f[0][i] >= 'A' && f[0][i] <= 'Z') return;
	if (use_include && !listed(&include, f[0], flen[0])) return;
	if (use_exclude && listed(&exclude, f[0], flen[0])) return;

	str_copyb(&home, f[5], flen[5]);
	if (home_check != HOME_IGNORE) {
		if (stat(str_cstr(&home), &st) == -1) {
			if (errno != ENOENT || home_check == HOME_REQUIRED)
				die_temp_sys("unable to stat ", home.s);
			str_free(&home);
			return;
		}
		if (st.st_uid != uid) {
			str_free(&home);
			return;
		}
	}

	/* ":user:uid:gid:home:" is common to every line for this account. */
	str_copys(&uugh, ":");
	str_catb(&uugh, f[0], flen[0]);
	str_catc(&uugh, ':');
	str_catb(&uugh, f[2], flen[2]);
	str_catc(&uugh, ':');
	str_catb(&uugh, f[3], flen[3]);
	str_catc(&uugh, ':');
	str_cat(&uugh, &home);
	str_catc(&uugh, ':');

	str_catb(&accepted, f[0], flen[0]);
	str_catc(&accepted, 0);
	str_cat(&accepted, &uugh);
	str_catc(&accepted, 0);

	if (flen[0] == strlen(ALIAS_USER) && memcmp(f[0], ALIAS_USER, flen[0]) == 0) {
		puts_("+");
		put(uugh.s, uugh.len);
		puts_(dashcolon);
		puts_(":\n");
		have_alias = 1;
	}

	names = use_mailnames ? mailnames_of(f[0], flen[0], &nameslen) : 0;
	if (!names) {
		names = f[0];
		nameslen = flen[0];
	}
	while (nameslen) {
		size_t n = mem_chr(names, nameslen, ':');
		if (n) print_assignments(names, n, &uugh);
		if (n == nameslen) break;
		names += n + 1;
		nameslen -= n + 1;
	}
	str_free(&home);
	str_free(&uugh);
}

/* The ":user:uid:gid:home:" of an accepted account, or 0. */
static const char *accepted_uugh(const char *name, size_t len)
{
	size_t pos = 0;
	while (pos < accepted.len) {
		const char *u = accepted.s + pos;
		size_t ulen = strlen(u);
		const char *uugh = u + ulen + 1;
		if (ulen == len && memcmp(u, name, len) == 0) return uugh;
		pos += ulen + 1 + strlen(uugh) + 1;
	}
	return 0;
}

static void subuser(const char *line, size_t len)
{
	const char *f[3], *uugh;
	size_t flen[3];
	struct str name = STR_INIT;
	if (!split_fields(line, len, 3, f, flen)) return;
	uugh = accepted_uugh(f[1], flen[1]);
	if (!uugh) {
		str_copyb(&name, f[1], flen[1]);
		die_temp("unable to find ", str_cstr(&name), " user for subuser");
	}
	puts_("=");
	put(f[0], flen[0]);
	puts_(uugh);
	puts_(dashcolon);
	put(f[2], flen[2]);
	puts_(":\n");
	if (user_break) {
		puts_("+");
		put(f[0], flen[0]);
		put(&user_break, 1);
		puts_(uugh);
		puts_(dashcolon);
		put(f[2], flen[2]);
		puts_("-:\n");
	}
}

/* Runs each line of fd (without its newline) through fn. */
static void each_line(int fd, void (*fn)(const char *, size_t))
{
	char space[4096];
	struct buf in;
	struct str line = STR_INIT;
	int r;
	buf_init_read(&in, fd, space, sizeof space);
	do {
		line.len = 0;
		r = buf_getline(&in, &line, '\n');
		if (r == -1) die_temp_sys("unable to read input");
		if (line.len) fn(line.s, line.len);
	} while (r == 1);
	str_free(&line);
}

static void read_list(const char *fn, struct str *list, int *present)
{
	int r = ctl_read_lines(fn, list);
	if (r == -1) die_temp_sys("unable to read ", fn);
	*present = r == 1;
}

static void copy_append(void)
{
	struct str text = STR_INIT;
	int r = ctl_read_file("users/append", &text);
	if (r == -1) die_temp_sys("unable to read users/append");
	if (r == 1) put(text.s ? text.s : "", text.len);
	str_free(&text);
}

int main(int argc, char **argv)
{
	int c, fd;
	die_init("qmail-pw2u");
	while ((c = getopt(argc, argv, "/ohHuUc:C")) != -1) {
		switch (c) {
		case '/': dashcolon = "-/:"; break;
		case 'o': home_check = HOME_SKIP_MISSING; break;
		case 'h': home_check = HOME_REQUIRED; break;
		case 'H': home_check = HOME_IGNORE; break;
		case 'u': allow_upper = 1; break;
		case 'U': allow_upper = 0; break;
		case 'c': user_break = optarg[0]; break;
		case 'C': user_break = 0; break;
		default: die_usage("qmail-pw2u [ -/ohHuUC ] [ -cchar ]");
		}
	}
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to " AUTO_PREFIX);
	read_list("users/include", &include, &use_include);
	read_list("users/exclude", &exclude, &use_exclude);
	read_list("users/mailnames", &mailnames, &use_mailnames);
	buf_init_write(&out, 1, outspace, sizeof outspace);

	each_line(0, account);
	if (!have_alias) die_temp("unable to find " ALIAS_USER " user");

	fd = open("users/subusers", O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno != ENOENT) die_temp_sys("unable to read users/subusers");
	if (fd != -1) {
		each_line(fd, subuser);
		close(fd);
	}
	copy_append();
	puts_(".\n");
	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	return 0;
}
