/* qmail-lspawn: runs local deliveries for qmail-send (qmail-lspawn(8)).
 *
 *   qmail-lspawn defaultdelivery
 *
 * The only part of the queue that runs as root, and only so that each
 * delivery can become the recipient's user: for every request it finds
 * the user (lib/users: users/cdb, then qmail-getpw), copies the message to
 * a seekable descriptor, and runs
 *   qmail-local -- user homedir local dash ext domain sender defaultdelivery
 * as that user, started by the helper itself, or by a child for what may
 * block (lib/spawn). qmail-local's exit code and output make the report:
 * 0 success (K), 100 permanent failure (D), anything else temporary (Z).
 * Requests and reports travel as lib/spawn describes.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "ids.h"
#include "spawn.h"
#include "str.h"
#include "users.h"

static char *defaultdelivery;
static struct ids ids;

static void report_text(struct str *report, char status, const char *text)
{
	report->len = 0;
	str_catc(report, status);
	spawn_report_cat(report, text, strlen(text));
	spawn_report_cat(report, "\n", 1);
}

/* Finds the user (users/cdb; qmail-getpw only where it may block) and
 * sets up qmail-local to run as that user. */
static int prepare(const struct spawn_request *req, struct spawn_prog *prog, struct str *report,
                   int may_block)
{
	struct users_entry u = USERS_ENTRY_INIT;
	struct str local = STR_INIT, domain = STR_INIT, sender = STR_INIT;
	size_t at = mem_rchr(req->recip.s, req->recip.len, '@');
	int r = SPAWN_DONE, found;

	str_copyb(&local, req->recip.s, at);
	if (at < req->recip.len) str_copyb(&domain, req->recip.s + at + 1, req->recip.len - at - 1);
	str_cstr(&local);
	str_cstr(&domain);

	found = may_block ? users_lookup(local.s, local.len, &u)
	                  : users_lookup_assign(local.s, local.len, &u);
	if (found == 0 && !may_block) {
		r = SPAWN_CHILD; /* qmail-getpw's turn, which may block */
		goto done;
	}
	if (found == -1) {
		report_text(report, 'Z', users_reason());
		goto done;
	}
	if (found == 0) {
		report_text(report, 'Z', "Unable to find alias user! (#4.3.0)");
		goto done;
	}
	/* A system install never delivers as root, as qmail. */
	if (u.uid == 0 && ids.system) {
		report_text(report, 'Z', "Not allowed to deliver to root. (#4.3.0)");
		goto done;
	}
	if (geteuid() != 0 && geteuid() != (uid_t)u.uid) {
		report_text(report, 'Z',
		            "Unable to switch to the recipient's user: not running as root. (#4.3.0)");
		goto done;
	}
	prog->msgfd = spawn_message_fd(req->id, may_block ? ~0UL : SPAWN_COPY_MAX);
	if (prog->msgfd == -1) {
		if (errno == EFBIG && !may_block) r = SPAWN_CHILD;
		else report_text(report, 'Z', "Unable to read message from the queue. (#4.3.0)");
		goto done;
	}
	prog->uid = (long)u.uid;
	prog->gid = (long)u.gid;
	spawn_prog_arg(prog, AUTO_PREFIX "/bin/qmail-local");
	spawn_prog_arg(prog, "--");
	spawn_prog_arg(prog, str_cstr(&u.user));
	spawn_prog_arg(prog, str_cstr(&u.home));
	spawn_prog_arg(prog, local.s);
	spawn_prog_arg(prog, str_cstr(&u.dash));
	spawn_prog_arg(prog, str_cstr(&u.ext));
	spawn_prog_arg(prog, domain.s);
	str_copy(&sender, &req->sender);
	spawn_prog_arg(prog, str_cstr(&sender));
	spawn_prog_arg(prog, defaultdelivery);
	r = SPAWN_PROG;
done:
	users_entry_free(&u);
	str_free(&local);
	str_free(&domain);
	str_free(&sender);
	return r;
}

/* qmail-local's exit code and output make the report. */
static void finish(int status, const struct str *out, struct str *report)
{
	report->len = 0;
	if (status == -1) {
		report_text(report, 'Z', "Unable to fork. (#4.3.0)");
		return;
	}
	if (WIFSIGNALED(status)) {
		report_text(report, 'Z', "qmail-local crashed. (#4.3.0)");
		return;
	}
	switch (WEXITSTATUS(status)) {
	case 0: str_catc(report, 'K'); break;
	case 100: str_catc(report, 'D'); break;
	case 120:
		report_text(report, 'Z', "Unable to run qmail-local. (#4.3.0)");
		return;
	default: str_catc(report, 'Z'); break;
	}
	spawn_report_cat(report, out->s, out->len);
	if (report->len == 1 && report->s[0] != 'K')
		str_cats(report, "qmail-local failed without saying why. (#4.3.0)\n");
}

int main(int argc, char **argv)
{
	die_init("qmail-lspawn");
	if (argc < 2) die_usage("qmail-lspawn defaultdelivery");
	defaultdelivery = argv[1];
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	if (ids_load(&ids) == -1) die_temp_sys("unable to read ", AUTO_PREFIX, "/etc/ids");
	/* qmail-getpw reads nothing private: as root, run it as qmailp. */
	if (geteuid() == 0 && ids.system)
		users_getpw_ids(ids.uid[IDS_QMAILP], ids.gid_nofiles);
	spawn_main(&(const struct spawn_ops){prepare, finish});
	return 0;
}
