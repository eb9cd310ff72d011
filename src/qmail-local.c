/* qmail-local: deliver one message to one local address, following the
 * user's .qmail file (qmail-local(8), dot-qmail(5), qmail-command(8)).
 *
 *   qmail-local [-nN] user homedir local dash ext domain sender defaultdelivery
 *
 * It runs as the recipient's user, started by qmail-lspawn with the message
 * on a seekable fd 0. Exit 0 means every instruction succeeded and stdout
 * says "did FILES+FORWARDS+PROGRAMS"; 100 is a permanent failure and 111 a
 * temporary one, with the reason on stderr. That text becomes the delivery
 * report qmail-send logs and quotes in bounces, so it carries no program
 * prefix and ends with an enhanced status code, as qmail's does.
 *
 * The whole .qmail file is checked before anything is delivered; then
 * files and programs run in order, forwards last, all in one queue
 * injection. A program exiting 99 ends the file; forwards before it still go.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "auto.h"
#include "buf.h"
#include "die.h"
#include "dotqmail.h"
#include "env.h"
#include "maildir.h"
#include "mbox.h"
#include "qq.h"
#include "sig.h"
#include "str.h"

#define USAGE "qmail-local: usage: qmail-local [ -nN ] user homedir local dash ext domain sender defaultdelivery"

static int doit = 1;
static const char *user, *homedir, *local, *dash, *ext, *host, *sender, *defaultdelivery;

static struct str dtline = STR_INIT;  /* "Delivered-To: local@host\n" */
static struct str rpline = STR_INIT;  /* "Return-Path: <sender>\n" */
static struct str ufline = STR_INIT;  /* "From sender date\n" */
static struct str safeext = STR_INIT; /* ext lowercased, dots made colons */
static struct str newsender = STR_INIT;
static struct str qmfile = STR_INIT;  /* name of the .qmail file in use */

static _Noreturn void errno_report(int code, const char *what, const char *name, const char *status)
{
	const char *err = strerror(errno);
	struct str shown = STR_INIT;
	str_cat_abbrev(&shown, name, strlen(name), 200);
	die_report(code, what, str_cstr(&shown), ": ", err, ". ", status);
}

static void rewind_message(void)
{
	if (lseek(0, 0, SEEK_SET) == -1) die_report(111, "Unable to rewind message. (#4.3.0)");
}

/* qmail-lspawn gives us a file; a person testing by hand may give a pipe.
 * Copy a pipe to an unlinked temporary file so that every instruction can
 * reread the message from the start. */
static void make_stdin_seekable(void)
{
	char space[65536];
	struct buf in, out;
	char tmpl[] = "/tmp/qmail-local.XXXXXX";
	int fd;
	if (lseek(0, 0, SEEK_CUR) != -1 || errno != ESPIPE) return;
	fd = mkstemp(tmpl);
	if (fd == -1) errno_report(111, "Unable to create temporary file ", tmpl, "(#4.3.0)");
	unlink(tmpl);
	buf_init_read(&in, 0, space, sizeof space / 2);
	buf_init_write(&out, fd, space + sizeof space / 2, sizeof space / 2);
	switch (buf_copy(&out, &in)) {
	case -2: errno_report(111, "Unable to read message", "", "(#4.3.0)");
	case -3: errno_report(111, "Unable to write temporary file ", tmpl, "(#4.3.0)");
	}
	if (buf_flush(&out) == -1) errno_report(111, "Unable to write temporary file ", tmpl, "(#4.3.0)");
	if (dup2(fd, 0) == -1) errno_report(111, "Unable to move temporary file ", tmpl, "(#4.3.0)");
	close(fd);
}

static void check_home(void)
{
	struct stat st;
	if (stat(".", &st) == -1) errno_report(111, "Unable to stat home directory", "", "(#4.3.0)");
	const char *why = dotqmail_home_defer(st.st_mode);
	if (!why) return;
	/* with -n only a sticky home is let through, with a warning */
	if (doit || (st.st_mode & AUTO_PATRN)) die_report(111, why);
	{
		/* qmail's own words, for -n users who compare the output */
		static const char w[] = "Warning: home directory is sticky.\n";
		if (write(2, w, sizeof w - 1) < 0) {}
	}
}

/* A message that already carries our Delivered-To line has been here
 * before: deliver it again and it loops forever. Only the header counts. */
static void refuse_loops(void)
{
	char space[8192];
	struct buf in;
	struct str line = STR_INIT;
	rewind_message();
	buf_init_read(&in, 0, space, sizeof space);
	for (;;) {
		int r;
		line.len = 0;
		r = buf_getline(&in, &line, '\n');
		if (r < 0) errno_report(111, "Unable to read message", "", "(#4.3.0)");
		if (r == 0 || line.len <= 1) break;
		if (line.len == dtline.len && memcmp(line.s, dtline.s, line.len) == 0)
			die_report(100, "This message is looping: it already has my Delivered-To line. (#5.4.6)");
	}
	str_free(&line);
}

static void newline_to_underscore(struct str *s)
{
	for (size_t i = 0; i < s->len; ++i)
		if (s->s[i] == '\n') s->s[i] = '_';
}

static void setup_lines(void)
{
	struct str v = STR_INIT;

	str_copys(&dtline, "Delivered-To: ");
	str_cats(&dtline, local);
	str_catc(&dtline, '@');
	str_cats(&dtline, host);
	newline_to_underscore(&dtline);
	str_catc(&dtline, '\n');

	str_copys(&rpline, "Return-Path: <");
	addr_quote(&rpline, sender, strlen(sender));
	newline_to_underscore(&rpline);
	str_cats(&rpline, ">\n");

	mbox_from_line(&ufline, sender, strlen(sender), (long)time(0));

	str_copys(&v, local);
	str_catc(&v, '@');
	str_cats(&v, host);
	env_put("RECIPIENT", str_cstr(&v));
	env_put("DTLINE", str_cstr(&dtline));
	env_put("RPLINE", str_cstr(&rpline));
	env_put("UFLINE", str_cstr(&ufline));
	str_free(&v);
}

/* EXT2 is what follows the first dash of EXT, EXT3 the second, ... */
static void setup_ext_env(void)
{
	static const char *const names[] = {"EXT", "EXT2", "EXT3", "EXT4"};
	const char *x = ext;
	for (int i = 0; i < 4; ++i) {
		env_put(names[i], x);
		x += strcspn(x, "-");
		if (*x) ++x;
	}
	dotqmail_safeext(&safeext, ext);
}

/* HOST2 is HOST without its last dot-component, HOST3 without two, ... */
static void setup_host_env(void)
{
	static const char *const names[] = {"HOST2", "HOST3", "HOST4"};
	size_t n = strlen(host);
	for (int i = 0; i < 3; ++i) {
		n = mem_rchr(host, n, '.');
		env_putb(names[i], host, n);
	}
}

/* Opens qmfile if it is a regular file. 1 open (fd, forward_only set),
 * 0 no such file. Trouble that may pass (permissions, I/O) is temporary. */
static int open_qmail_file(int *fd, int *forward_only)
{
	struct stat st;
	const char *fn = str_cstr(&qmfile);
	*fd = open(fn, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (*fd == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP)
			return 0;
		errno_report(111, "Unable to open ", fn, "(#4.3.0)");
	}
	if (fstat(*fd, &st) == -1) errno_report(111, "Unable to open ", fn, "(#4.3.0)");
	if (!S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	if (st.st_mode & AUTO_PATRN) die_report(111, "Uh-oh: .qmail file is writable. (#4.7.0)");
	*forward_only = (st.st_mode & S_IXUSR) != 0;
	return 1;
}

static void qmfile_set(size_t extlen, const char *suffix)
{
	str_copys(&qmfile, ".qmail");
	str_cats(&qmfile, dash);
	str_catb(&qmfile, safeext.s, extlen);
	str_cats(&qmfile, suffix);
}

struct found {
	int fd;
	int forward_only;
};

static int try_qmail_file(const char *name, const char *rest, void *ctx)
{
	struct found *f = ctx;
	str_copys(&qmfile, name);
	if (!open_qmail_file(&f->fd, &f->forward_only)) return 0;
	/* a -default match sets DEFAULT to the part of ext it stood for */
	if (rest) env_put("DEFAULT", rest);
	return 1;
}

/* .qmail-foo-bar-baz, then .qmail-foo-bar-default, .qmail-foo-default,
 * .qmail-default: lib/dotqmail's search, shared with qmail-rcptd. */
static int find_qmail_file(int *fd, int *forward_only)
{
	struct found f = {-1, 0};
	int r = dotqmail_search(dash, ext, try_qmail_file, &f);
	*fd = f.fd;
	*forward_only = f.forward_only;
	return r;
}

static int qmail_file_exists(const char *suffix)
{
	struct stat st;
	qmfile_set(safeext.len, suffix);
	if (stat(str_cstr(&qmfile), &st) == 0) return 1;
	if (errno == ENOENT || errno == ENOTDIR) return 0;
	errno_report(111, "Unable to open ", str_cstr(&qmfile), "(#4.3.0)");
	return 0;
}

/* The envelope sender for forwards: local-owner@host when .qmail-ext-owner
 * exists, a VERP when -owner-default exists too; bounces keep theirs. */
static void setup_newsender(void)
{
	str_copys(&newsender, sender);
	if (*sender && strcmp(sender, "#@[]") != 0 && qmail_file_exists("-owner")) {
		str_copys(&newsender, local);
		if (qmail_file_exists("-owner-default")) {
			str_cats(&newsender, "-owner-@");
			str_cats(&newsender, host);
			str_cats(&newsender, "-@[]");
		} else {
			str_cats(&newsender, "-owner@");
			str_cats(&newsender, host);
		}
	}
	env_put("NEWSENDER", str_cstr(&newsender));
}

static void read_instructions(int fd, struct str *text)
{
	char chunk[65536];
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) errno_report(111, "Unable to read ", str_cstr(&qmfile), "(#4.3.0)");
		if (r == 0) break;
		str_catb(text, chunk, (size_t)r);
	}
	close(fd);
}

static void deliver_maildir(const char *dir)
{
	struct str head = STR_INIT, why = STR_INIT;
	rewind_message();
	str_cat(&head, &rpline);
	str_cat(&head, &dtline);
	if (maildir_deliver(dir, head.s, head.len, 0, &why) == -1)
		die_report(111, str_cstr(&why), ". (#4.2.1)");
	str_free(&head);
}

static void deliver_mbox(const char *fn)
{
	struct str head = STR_INIT, why = STR_INIT;
	rewind_message();
	str_cat(&head, &rpline);
	str_cat(&head, &dtline);
	switch (mbox_deliver(fn, &ufline, head.s, head.len, 0, 30, &why)) {
	case 0: break;
	case -2: die_report(111, str_cstr(&why), ". (#4.2.1)"); /* as qmail: mailbox unavailable */
	default: die_report(111, str_cstr(&why), ". (#4.3.0)");
	}
	str_free(&head);
}

/* Returns 1 when the program asked (exit 99) to skip the rest of the file. */
static int deliver_program(const char *command)
{
	int status;
	pid_t pid;
	rewind_message();
	pid = fork();
	if (pid == -1) errno_report(111, "Unable to fork", "", "(#4.3.0)");
	if (pid == 0) {
		char *argv[4] = {"/bin/sh", "-c", (char *)command, 0};
		sig_default(SIGPIPE);
		execv(argv[0], argv);
		errno_report(111, "Unable to run /bin/sh", "", "(#4.3.0)");
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) errno_report(111, "Unable to wait for program", "", "(#4.3.0)");
	if (!WIFEXITED(status)) die_report(111, "Aack, child crashed. (#4.3.0)");
	switch (WEXITSTATUS(status)) {
	case 0: return 0;
	case 99: return 1;
	/* qmail-command(8): 100 and the sysexits codes that mean "never". */
	case 64: case 65: case 70: case 76: case 77: case 78: case 100: case 112:
		_exit(100);
	default:
		_exit(111);
	}
}

static unsigned long forward_all(const struct dotqmail *dq, size_t upto)
{
	char **recips = calloc(upto + 1, sizeof *recips);
	const char *report;
	unsigned long qp;
	size_t n = 0;

	if (!recips) die_nomem();
	for (size_t i = 0; i < upto; ++i)
		if (dq->v[i].kind == DOTQMAIL_FORWARD) recips[n++] = dq->v[i].text;
	rewind_message();
	/* The new Return-Path is left out: the queue writes its own. */
	report = qq_inject_fd(dtline.s, dtline.len, 0, str_cstr(&newsender), recips, n, &qp);
	if (*report) die_report(*report == 'D' ? 100 : 111, "Unable to forward message: ", report + 1, ".");
	free(recips);
	return qp;
}

static void print_line(struct buf *out, const char *kind, const char *text)
{
	buf_puts(out, kind);
	buf_puts(out, text);
	buf_puts(out, "\n");
}

static void say_did(struct buf *out, const unsigned long count[3], unsigned long qp)
{
	buf_puts(out, "did ");
	buf_putulong(out, count[0]);
	buf_puts(out, "+");
	buf_putulong(out, count[1]);
	buf_puts(out, "+");
	buf_putulong(out, count[2]);
	buf_puts(out, "\n");
	if (qp) {
		buf_puts(out, "qp ");
		buf_putulong(out, qp);
		buf_puts(out, "\n");
	}
	buf_flush(out);
}

static void parse_args(int argc, char **argv)
{
	int opt;
	while ((opt = getopt(argc, argv, "+nN")) != -1) {
		if (opt == 'n') doit = 0;
		else if (opt == 'N') doit = 1;
		else die_report(100, USAGE);
	}
	argv += optind;
	argc -= optind;
	if (argc != 8) die_report(100, USAGE);
	user = argv[0];
	homedir = argv[1];
	local = argv[2];
	dash = argv[3];
	ext = argv[4];
	host = argv[5];
	sender = argv[6];
	defaultdelivery = argv[7];
	if (homedir[0] != '/') die_report(100, USAGE);
}

int main(int argc, char **argv)
{
	char outspace[1024];
	struct buf out;
	struct str text = STR_INIT, why = STR_INIT;
	struct dotqmail dq;
	int fd = -1, forward_only = 0, found;
	size_t i;
	unsigned long qp = 0;
	unsigned long count[3] = {0, 0, 0}; /* files, forwards, programs */

	die_init("qmail-local");
	umask(077);
	sig_ignore(SIGPIPE);
	parse_args(argc, argv);
	buf_init_write(&out, 1, outspace, sizeof outspace);

	if (chdir(homedir) == -1) errno_report(111, "Unable to switch to ", homedir, "(#4.3.0)");
	check_home();

	env_unset("DEFAULT");
	env_put("HOST", host);
	env_put("HOME", homedir);
	env_put("USER", user);
	env_put("LOCAL", local);
	env_put("SENDER", sender);
	if (doit) make_stdin_seekable();
	setup_lines();
	if (doit) refuse_loops();
	setup_ext_env();
	setup_host_env();

	found = find_qmail_file(&fd, &forward_only);
	if (!found && *dash) die_report(100, "Sorry, no mailbox here by that name. (#5.1.1)");
	setup_newsender();

	if (found) read_instructions(fd, &text);
	if (text.len == 0) {
		/* An empty or missing .qmail means the site's default delivery. */
		str_copys(&text, defaultdelivery);
		forward_only = 0;
	}
	if (dotqmail_parse((char *)str_cstr(&text), text.len, forward_only, &dq, &why) == -1)
		die_report(111, str_cstr(&why));

	for (i = 0; i < dq.n; ++i) {
		const struct dotqmail_line *l = &dq.v[i];
		if (l->kind == DOTQMAIL_FORWARD) ++count[1];
		else if (l->kind == DOTQMAIL_PROGRAM) ++count[2];
		else ++count[0];
		if (!doit) {
			static const char *const kinds[] = {"program ", "forward ", "mbox ", "maildir "};
			print_line(&out, kinds[l->kind], l->text);
			continue;
		}
		if (l->kind == DOTQMAIL_FORWARD) continue;
		if (l->kind == DOTQMAIL_MAILDIR) deliver_maildir(l->text);
		else if (l->kind == DOTQMAIL_MBOX) deliver_mbox(l->text);
		else if (deliver_program(l->text)) {
			++i;
			break;
		}
	}
	if (doit && count[1]) qp = forward_all(&dq, i);
	say_did(&out, count, qp);
	return 0;
}
