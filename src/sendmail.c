/* sendmail: the sendmail command line, for programs that expect one.
 *
 * Translates sendmail's options into a qmail-inject run: -t takes the
 * recipients from the header as well as from the arguments (qmail-inject
 * -H), otherwise only the arguments count (-a); -f sets the envelope
 * sender and also the From: user and host; -F sets the From: name.
 * -bs runs qmail-smtpd on stdin/stdout as a trusted local client, -bp
 * (or the name mailq) runs qmail-qread. Options that make no sense for
 * qmail (-i, -oi, -v, -m, -e.., -o.., -B.., -p.., -N.., -x, -E, -J) are
 * accepted and ignored. Called as newaliases it refuses.
 *
 * Exit codes: those of the program it runs; 100 for a usage error; 111
 * when that program cannot be run.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "env.h"
#include "str.h"

#define USAGE "sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]"

static _Noreturn void run(const char *prog, char **argv)
{
	execv(prog, argv);
	die_temp_sys("unable to run ", prog);
}

static _Noreturn void smtpd(void)
{
	char *argv[] = {AUTO_PREFIX "/bin/qmail-smtpd", 0};
	/* A local user speaking SMTP on a pipe is trusted like tcpserver's
	 * RELAYCLIENT clients, unless the caller set up its own environment. */
	if (!env_get("PROTO")) {
		env_put("RELAYCLIENT", "");
		env_put("DATABYTES", "0");
		env_put("PROTO", "TCP");
		env_put("TCPLOCALIP", "127.0.0.1");
		env_put("TCPLOCALHOST", "localhost");
		env_put("TCPREMOTEIP", "127.0.0.1");
		env_put("TCPREMOTEHOST", "localhost");
		env_put("TCPREMOTEINFO", "sendmail-bs");
	}
	run(argv[0], argv);
}

static _Noreturn void mailq(void)
{
	char *argv[] = {AUTO_PREFIX "/bin/qmail-qread", 0};
	run(argv[0], argv);
}

/* "-f <addr>" means addr, and "-f <>" the null sender, as mail programs
 * written for sendmail expect; qmail-inject would take the brackets as
 * part of the address. */
static const char *unbracket(const char *s)
{
	size_t n = strlen(s);
	char *t;
	if (n < 2 || s[0] != '<' || s[n - 1] != '>') return s;
	t = strdup(s + 1);
	if (!t) die_nomem();
	t[n - 2] = 0;
	return t;
}

/* -f user@host also makes the From: field user@host. */
static void sender_identity(const char *s)
{
	size_t n = strlen(s), at = mem_rchr(s, n, '@');
	env_unset("QMAILNAME");
	env_unset("MAILNAME");
	env_unset("NAME");
	env_unset("QMAILHOST");
	env_unset("MAILHOST");
	if (at == n) {
		env_put("QMAILUSER", s);
		return;
	}
	env_put("QMAILHOST", s + at + 1);
	env_putb("QMAILUSER", s, at);
}

int main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	const char *sender = 0, *fullname = 0;
	int use_header = 0, c, i;
	char **qargv;

	die_init("sendmail");
	if (strcmp(name, "mailq") == 0) mailq();
	if (strcmp(name, "newaliases") == 0)
		die_perm("please use fastforward's newaliases instead");

	/* Options are parsed by hand: -E and -J swallow whatever is glued to
	 * them, which getopt(3) cannot express. */
	for (optind = 1; optind < argc; ++optind) {
		const char *a = argv[optind];
		if (a[0] != '-' || a[1] == 0) break;
		if (strcmp(a, "--") == 0) {
			++optind;
			break;
		}
		for (++a; *a; ++a) {
			const char *arg = 0;
			c = *a;
			if (strchr("efpoBFNb", c)) {
				if (a[1])
					arg = a + 1;
				else if (optind + 1 < argc)
					arg = argv[++optind];
				else
					die_usage(USAGE);
			}
			switch (c) {
			case 't': use_header = 1; break;
			case 'f': sender = unbracket(arg); break;
			case 'F': fullname = arg; break;
			case 'b':
				if (arg[0] == 'p') mailq();
				if (arg[0] == 's') smtpd();
				if (arg[0] != 'm') die_usage(USAGE);
				break;
			case 'v':
			case 'i':
			case 'm':
			case 'x':
			case 'e':
			case 'o':
			case 'p':
			case 'B':
			case 'N':
			case 'E':
			case 'J': break;
			default: die_usage(USAGE);
			}
			if (arg || c == 'E' || c == 'J')
				break; /* the rest of this word is used up */
		}
	}

	qargv = calloc((size_t)(argc - optind) + 8, sizeof *qargv);
	if (!qargv) die_nomem();
	i = 0;
	qargv[i++] = AUTO_PREFIX "/bin/qmail-inject";
	qargv[i++] = use_header ? "-H" : "-a";
	if (sender) {
		qargv[i++] = "-f";
		qargv[i++] = (char *)sender;
		if (*sender) sender_identity(sender); /* <> names no From: user */
	}
	if (fullname) env_put("MAILNAME", fullname);
	qargv[i++] = "--";
	while (optind < argc)
		qargv[i++] = argv[optind++];
	qargv[i] = 0;
	run(qargv[0], qargv);
}
