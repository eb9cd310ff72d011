/* qmail-showctl: explains the current configuration.
 *
 * Prints the compiled-in settings, then every control file qmail knows
 * with what its value means, "(Default.)" and the default meaning when
 * the file is missing, and finally the files in control/ it does not
 * know. The wording of each line is qmail-showctl's, so that scripts and
 * people used to qmail read it the same way. Bytes outside printable
 * ASCII in control files are shown as '?'.
 *
 * Exit codes: 0; 111 when the install root or control/ cannot be entered
 * or control/me cannot be read.
 */
#include <dirent.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "ctl.h"
#include "queue.h"
#include "die.h"
#include "str.h"

/* qmail's compile-time constants that nqmail keeps. */
#define USER_EXT_BREAK           "-"
#define QUEUE_SPLIT              23

static struct buf out;
static char outspace[4096];
static struct str me;
static int me_ok;

static void put(const char *s) { buf_puts(&out, s); }

static void put_safe(const char *s, size_t len)
{
	size_t i;
	for (i = 0; i < len; ++i) {
		char c = s[i];
		if ((unsigned char)c < 32 || (unsigned char)c > 126) c = '?';
		buf_put(&out, &c, 1);
	}
}

static void put_ulong(unsigned long u) { buf_putulong(&out, u); }

static void heading(const char *fn)
{
	put("\n");
	put(fn);
	put(": ");
}

/* A number: "(Default.) pre DEF post." or "pre N post." */
static void show_number(const char *fn, const char *dflt, const char *pre, const char *post)
{
	unsigned long u = 0;
	/* the programs' own reading: a file without leading digits ("-5",
	 * "none") means their default, so that is what to show */
	int r = ctl_read_ulong(fn, &u, 0);
	heading(fn);
	if (r == -1) {
		put("Oops! Trouble reading this file.\n");
	} else if (r == 0) {
		put("(Default.) ");
		put(pre);
		put(dflt);
		put(post);
		put(".\n");
	} else {
		put(pre);
		put_ulong(u);
		put(post);
		put(".\n");
	}
}

/* One line; with use_me, a missing file defaults to control/me. */
static void show_line(const char *fn, int use_me, const char *dflt, const char *pre)
{
	struct str line = STR_INIT;
	int r = ctl_read_line(fn, &line, 0);
	heading(fn);
	if (r == -1) {
		put("Oops! Trouble reading this file.\n");
		return;
	}
	if (r == 0) {
		put("(Default.) ");
		if (use_me && me_ok)
			str_copy(&line, &me);
		else
			str_copys(&line, dflt);
	}
	put(pre);
	put_safe(line.s, line.len);
	put(".\n");
	str_free(&line);
}

/* A list: one "pre ITEM post" line per entry. 1 listed, 0 missing, -1 error. */
static int show_list(const char *fn, const char *dflt, const char *pre, const char *post)
{
	struct str lines = STR_INIT;
	size_t pos = 0, len;
	const char *l;
	int r = ctl_read_lines(fn, &lines);
	heading(fn);
	if (r == -1) {
		put("Oops! Trouble reading this file.\n");
	} else if (r == 0) {
		put("(Default.) ");
		put(dflt);
		put("\n");
	} else {
		put("\n");
		while ((l = ctl_next(&lines, &pos, &len)) != 0) {
			put(pre);
			put_safe(l, len);
			put(post);
			put("\n");
		}
	}
	str_free(&lines);
	return r;
}

static void show_morercpthosts_cdb(void)
{
	struct stat text, cdb;
	int have_text = stat("morercpthosts", &text) == 0;
	int have_cdb = stat("morercpthosts.cdb", &cdb) == 0;
	put("\nmorercpthosts.cdb: ");
	if (!have_text && !have_cdb)
		put("(Default.) No effect.\n");
	else if (!have_text)
		put("Oops! morercpthosts.cdb exists but morercpthosts doesn't.\n");
	else if (!have_cdb)
		put("Oops! morercpthosts exists but morercpthosts.cdb doesn't.\n");
	else if (text.st_mtime > cdb.st_mtime)
		put("Oops! morercpthosts.cdb is older than morercpthosts.\n");
	else
		put("Modified recently enough; hopefully up to date.\n");
}

static void show_localtime(void)
{
	struct str line = STR_INIT;
	int r = ctl_read_line("localtime", &line, 0);
	heading("localtime");
	if (r == -1)
		put("Oops! Trouble reading this file.\n");
	else if (r == 0)
		put("(Default.) Dates are written in GMT as -0000.\n");
	else if (str_equals(&line, "1"))
		put("Dates are written in local time with its offset.\n");
	else
		put("Dates are written in GMT as -0000.\n");
	str_free(&line);
}

static void show_ids(void)
{
	static const char *const users[] = {"alias",  "qmaild", "qmaill", "root",
	                                    "qmailp", "qmailq", "qmailr", "qmails"};
	static const char *const groups[] = {"nofiles", "qmail"};
	size_t i;
	put("user ids: ");
	for (i = 0; i < sizeof users / sizeof *users; ++i) {
		struct passwd *pw = getpwnam(users[i]);
		if (i) put(", ");
		if (pw)
			put_ulong((unsigned long)pw->pw_uid);
		else
			put("-");
	}
	put(".\ngroup ids: ");
	for (i = 0; i < sizeof groups / sizeof *groups; ++i) {
		struct group *gr = getgrnam(groups[i]);
		if (i) put(", ");
		if (gr)
			put_ulong((unsigned long)gr->gr_gid);
		else
			put("-");
	}
	put(".\n");
}

/* qmail-smtpd's TLS certificate and qmail-checkpw's passwords: what they
 * are for, never their contents (a private key, hashes). */
static void show_servercert(void)
{
	if (access("servercert.pem", F_OK) != 0) return;
	heading("servercert.pem");
	put(access("servercert.pem", R_OK) == 0
	        ? "qmail-smtpd offers STARTTLS with this certificate and key.\n"
	        : "Oops! Trouble reading this file.\n");
}

static void show_smtppasswd(void)
{
	struct str lines = STR_INIT;
	struct stat st;
	size_t pos = 0, len, n = 0;
	if (access("smtppasswd", F_OK) != 0) return;
	heading("smtppasswd");
	if (ctl_read_lines("smtppasswd", &lines) == -1 || stat("smtppasswd", &st) == -1) {
		put("Oops! Trouble reading this file.\n");
		return;
	}
	while (ctl_next(&lines, &pos, &len)) ++n;
	put("SMTP AUTH passwords (qmail-checkpw) for ");
	put_ulong((unsigned long)n);
	put(n == 1 ? " user" : " users");
	put(st.st_mode & 007 ? "; other users may read this file, so qmail-checkpw refuses it.\n"
	                     : ".\n");
	str_free(&lines);
}

/* nqmail's switches, read as the programs read them: a number, 0 is off. */
static int switch_value(const char *fn, int dflt)
{
	unsigned long v;
	if (ctl_read_ulong(fn, &v, (unsigned long)dflt) == -1) return -1;
	return v != 0;
}

static void show_bouncedsn(void)
{
	int v = switch_value("bouncedsn", 0);
	heading("bouncedsn");
	put(v == -1 ? "Oops! Trouble reading this file.\n"
	    : v     ? "Bounces are RFC 3464 delivery status notifications.\n"
	            : "Bounces are qmail's plain QSBMF text.\n");
}

static void show_rcptcheck(void)
{
	int v = switch_value("rcptcheck", 1);
	heading("rcptcheck");
	put(v == -1 ? "Oops! Trouble reading this file.\n"
	    : v     ? "qmail-smtpd asks qmail-rcptd whether a local recipient exists.\n"
	            : "qmail-smtpd accepts every local recipient; unknown ones bounce later.\n");
}

static const char *const known[] = {
    "badmailfrom",
    "bouncefrom",
    "bouncedsn",
    "bouncehost",
    "clientcert.pem",
    "concurrencylocal",
    "concurrencyremote",
    "databytes",
    "defaultdelivery",
    "defaultdomain",
    "defaulthost",
    "dnsservers",
    "doublebouncehost",
    "doublebounceto",
    "dsnmaxbytes",
    "envnoathost",
    "helohost",
    "idhost",
    "localiphost",
    "locals",
    "localtime",
    "me",
    "moreipme",
    "morercpthosts",
    "morercpthosts.cdb",
    "notipme",
    "percenthack",
    "plusdomain",
    "qmqpservers",
    "queuelifetime",
    "rcptcheck",
    "rcpthosts",
    "servercert.pem",
    "smtpgreeting",
    "smtppasswd",
    "smtproutes",
    "timeoutconnect",
    "timeoutremote",
    "timeoutsmtpd",
    "tlsdestinations",
    "tlsserverciphers",
    "virtualdomains",
};

static int is_known(const char *name)
{
	size_t i;
	for (i = 0; i < sizeof known / sizeof *known; ++i)
		if (strcmp(name, known[i]) == 0) return 1;
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files qmail does not know, in name order. */
static void show_unknown(void)
{
	DIR *dir = opendir(".");
	struct dirent *d;
	char **names = 0;
	size_t n = 0, cap = 0, i;
	if (!dir) {
		put("\nOops! Unable to open current directory.\n");
		return;
	}
	while ((d = readdir(dir)) != 0) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0) continue;
		if (is_known(d->d_name)) continue;
		if (n == cap) {
			char **nn;
			cap = cap ? cap * 2 : 16;
			nn = realloc(names, cap * sizeof *names);
			if (!nn) die_nomem();
			names = nn;
		}
		names[n] = strdup(d->d_name);
		if (!names[n]) die_nomem();
		++n;
	}
	closedir(dir);
	if (n) qsort(names, n, sizeof *names, by_name);
	for (i = 0; i < n; ++i) {
		put("\n");
		put_safe(names[i], strlen(names[i]));
		put(": I have no idea what this file does.\n");
		free(names[i]);
	}
	free(names);
}

static _Noreturn void oops(const char *what)
{
	put("Oops! ");
	put(what);
	put("\n");
	buf_flush(&out);
	_exit(111);
}

int main(void)
{
	int r;
	die_init("qmail-showctl");
	buf_init_write(&out, 1, outspace, sizeof outspace);

	put("qmail home directory: " AUTO_PREFIX ".\n");
	put("user-ext delimiter: " USER_EXT_BREAK ".\n");
	put("paternalism (in decimal): ");
	put_ulong((unsigned long)AUTO_PATRN);
	put(".\nsilent concurrency limit: ");
	put_ulong(QUEUE_CONCURRENCY_MAX);
	put(".\nsubdirectory split: ");
	put_ulong(QUEUE_SPLIT);
	put(".\n");
	show_ids();

	if (chdir(AUTO_PREFIX) == -1) oops("Unable to chdir to " AUTO_PREFIX ".");
	if (chdir("control") == -1) oops("Unable to chdir to control.");
	r = ctl_read_line("me", &me, 0);
	if (r == -1) oops("Trouble reading control/me.");
	me_ok = r == 1;

	show_list("badmailfrom", "Any MAIL FROM is allowed.", "", " not accepted in MAIL FROM.");
	show_line("bouncefrom", 0, "MAILER-DAEMON", "Bounce user name is ");
	if (access("bouncedsn", F_OK) == 0) show_bouncedsn();
	show_line("bouncehost", 1, "bouncehost", "Bounce host name is ");
	/* nqmail's own files are shown only when present, so that a qmail
	 * configuration reads exactly as under qmail. */
	if (access("clientcert.pem", F_OK) == 0) {
		heading("clientcert.pem");
		put(access("clientcert.pem", R_OK) == 0
		        ? "qmail-remote shows this certificate to servers that ask for one.\n"
		        : "Oops! Trouble reading this file.\n");
	}
	show_number("concurrencylocal", "10", "Local concurrency is ", "");
	show_number("concurrencyremote", "20", "Remote concurrency is ", "");
	show_number("databytes", "0", "SMTP DATA limit is ", " bytes");
	show_line("defaultdelivery", 0, "./Mailbox", "Default delivery is ");
	show_line("defaultdomain", 1, "defaultdomain", "Default domain name is ");
	show_line("defaulthost", 1, "defaulthost", "Default host name is ");
	show_list("dnsservers", "Name servers from /etc/resolv.conf.", "Name server: ", ".");
	show_line("doublebouncehost", 1, "doublebouncehost", "2B recipient host: ");
	show_line("doublebounceto", 0, "postmaster", "2B recipient user: ");
	if (access("dsnmaxbytes", F_OK) == 0)
		show_number("dsnmaxbytes", "1000000", "A DSN carries the whole message up to ",
		            " bytes, only its header above");
	show_line("envnoathost", 1, "envnoathost", "Presumed domain name is ");
	show_line("helohost", 1, "helohost", "SMTP client HELO host name is ");
	show_line("idhost", 1, "idhost", "Message-ID host name is ");
	show_line("localiphost", 1, "localiphost", "Local IP address becomes ");
	show_list("locals", "Messages for me are delivered locally.", "Messages for ",
	          " are delivered locally.");
	show_localtime();
	show_line("me", 0, "undefined! Uh-oh", "My name is ");
	show_list("moreipme", "No extra local IP addresses.", "Also my IP address: ", ".");
	show_list("notipme", "No IP addresses excluded.", "Not my IP address: ", ".");
	show_list("percenthack", "The percent hack is not allowed.",
	          "The percent hack is allowed for user%host@", ".");
	show_line("plusdomain", 1, "plusdomain", "Plus domain name is ");
	show_list("qmqpservers", "No QMQP servers.", "QMQP server: ", ".");
	show_number("queuelifetime", "604800", "Message lifetime in the queue is ", " seconds");
	if (access("rcptcheck", F_OK) == 0) show_rcptcheck();
	if (show_list("rcpthosts", "SMTP clients may send messages to any recipient.",
	              "SMTP clients may send messages to recipients at ", ".") == 1)
		show_list("morercpthosts", "No effect.",
		          "SMTP clients may send messages to recipients at ", ".");
	else
		show_list("morercpthosts", "No rcpthosts; morercpthosts is irrelevant.",
		          "No rcpthosts; doesn't matter that morercpthosts has ", ".");
	show_morercpthosts_cdb();
	show_servercert();
	show_line("smtpgreeting", 1, "smtpgreeting", "SMTP greeting: 220 ");
	show_smtppasswd();
	show_list("smtproutes", "No artificial SMTP routes.", "SMTP route: ", "");
	show_number("timeoutconnect", "60", "SMTP client connection timeout is ", " seconds");
	show_number("timeoutremote", "1200", "SMTP client data timeout is ", " seconds");
	show_number("timeoutsmtpd", "1200", "SMTP server data timeout is ", " seconds");
	if (access("tlsdestinations", F_OK) == 0)
		show_list("tlsdestinations", "", "TLS policy: ", "");
	if (access("tlsserverciphers", F_OK) == 0)
		show_line("tlsserverciphers", 0, "", "qmail-smtpd's TLS 1.2 ciphers: ");
	show_list("virtualdomains", "No virtual domains.", "Virtual domain: ", "");
	show_unknown();

	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	str_free(&me);
	return 0;
}
