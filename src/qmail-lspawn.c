/* qmail-lspawn: runs local deliveries for qmail-send (qmail-lspawn(8)).
 *
 *   qmail-lspawn defaultdelivery
 *
 * The only part of the queue that runs as root, and only so that each
 * delivery can become the recipient's user: for every request the child
 * finds the user (lib/users: users/cdb, then qmail-getpw), copies the
 * message to a seekable descriptor, and runs
 *   qmail-local -- user homedir local dash ext domain sender defaultdelivery
 * as that user. qmail-local's exit code and output make the report:
 * 0 success (K), 100 permanent failure (D), anything else temporary (Z).
 * Requests and reports travel as lib/spawn describes.
 */
#include <errno.h>
#include <grp.h>
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

struct target {
	uid_t uid;
	gid_t gid;
};

/* In the child, just before qmail-local: become the recipient. */
static int become(void *ctx)
{
	const struct target *t = ctx;
	if (geteuid() == t->uid && getegid() == t->gid) return 0;
	if (setgroups(1, &t->gid) == -1) return -1;
	if (setgid(t->gid) == -1) return -1;
	if (setuid(t->uid) == -1) return -1;
	return getuid() == t->uid ? 0 : -1;
}

static void report_text(struct str *report, char status, const char *text)
{
	report->len = 0;
	str_catc(report, status);
	spawn_report_cat(report, text, strlen(text));
	spawn_report_cat(report, "\n", 1);
}

static void deliver(const struct spawn_request *req, struct str *report)
{
	struct users_entry u = USERS_ENTRY_INIT;
	struct str local = STR_INIT, domain = STR_INIT, sender = STR_INIT;
	struct str uid = STR_INIT, out = STR_INIT;
	struct target t;
	char *argv[12];
	size_t at = mem_rchr(req->recip.s, req->recip.len, '@');
	int msgfd, status, r;

	if (at == req->recip.len) at = req->recip.len;
	str_copyb(&local, req->recip.s, at);
	if (at < req->recip.len) str_copyb(&domain, req->recip.s + at + 1, req->recip.len - at - 1);
	str_copy(&sender, &req->sender);

	r = users_lookup(local.s ? local.s : "", local.len, &u);
	if (r == -1) { report_text(report, 'Z', users_reason()); return; }
	if (r == 0) { report_text(report, 'Z', "Unable to find alias user! (#4.3.0)"); return; }
	/* A system install never delivers as root, as qmail. */
	if (u.uid == 0 && ids.system) {
		report_text(report, 'Z', "Not allowed to deliver to root. (#4.3.0)");
		return;
	}
	t.uid = (uid_t)u.uid;
	t.gid = (gid_t)u.gid;
	if (geteuid() != 0 && geteuid() != t.uid) {
		report_text(report, 'Z', "Unable to switch to the recipient's user: not running as root. (#4.3.0)");
		return;
	}

	msgfd = spawn_message_fd(req->id);
	if (msgfd == -1) {
		report_text(report, 'Z', "Unable to read message from the queue. (#4.3.0)");
		return;
	}
	argv[0] = AUTO_PREFIX "/bin/qmail-local";
	argv[1] = "--";
	argv[2] = (char *)str_cstr(&u.user);
	argv[3] = (char *)str_cstr(&u.home);
	argv[4] = (char *)str_cstr(&local);
	argv[5] = (char *)str_cstr(&u.dash);
	argv[6] = (char *)str_cstr(&u.ext);
	argv[7] = (char *)str_cstr(&domain);
	argv[8] = (char *)str_cstr(&sender);
	argv[9] = defaultdelivery;
	argv[10] = 0;
	str_catulong(&uid, u.uid);

	status = spawn_run(argv, msgfd, become, &t, &out);
	close(msgfd);
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
	spawn_report_cat(report, out.s, out.len);
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
	spawn_main(deliver);
	return 0;
}
