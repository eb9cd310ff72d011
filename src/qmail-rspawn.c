/* qmail-rspawn: runs remote deliveries for qmail-send (qmail-rspawn(8)).
 *
 * Runs as qmailr. For every request a child (lib/spawn) runs
 *   qmail-remote host sender recipient
 * with the message on fd 0, host being the recipient's domain, and turns
 * qmail-remote's output (per recipient r/h/s + text + NUL, then K/Z/D +
 * text + NUL for the message, qmail-remote(8)) into the report: the
 * recipient's status decides; without one, the message's status does.
 * If qmail-remote cannot be run (not installed yet) the delivery is
 * deferred, so the message stays queued and is retried.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "spawn.h"
#include "str.h"
#include "tcpto.h"

static void report_text(struct str *report, char status, const char *text)
{
	report->len = 0;
	str_catc(report, status);
	spawn_report_cat(report, text, strlen(text));
	spawn_report_cat(report, "\n", 1);
}

static void cat_line(struct str *report, const char *text, size_t len)
{
	spawn_report_cat(report, text, len);
	if (len && text[len - 1] != '\n') spawn_report_cat(report, "\n", 1);
}

/* Output: NUL-ended fields, the recipient's status (r, h, s) first, then
 * the message's (K, Z, D). A rejected recipient (h, s) decides by itself;
 * an accepted one (r) succeeds only if the message was accepted (K). */
static void parse_output(const struct str *out, struct str *report)
{
	size_t i = 0;
	char recip = 0, mess = 0;
	const char *rtext = "", *mtext = "";
	size_t rlen = 0, mlen = 0;
	while (i < out->len) {
		size_t n = mem_chr(out->s + i, out->len - i, 0);
		char c = out->s[i];
		if (n == out->len - i) break; /* unterminated: ignore */
		if (!recip && !mess && (c == 'r' || c == 'h' || c == 's')) {
			recip = c;
			rtext = out->s + i + 1;
			rlen = n - 1;
		} else if (!mess && (c == 'K' || c == 'Z' || c == 'D')) {
			mess = c;
			mtext = out->s + i + 1;
			mlen = n - 1;
		}
		i += n + 1;
	}
	report->len = 0;
	if (recip == 'h' || recip == 's') {
		str_catc(report, recip == 'h' ? 'D' : 'Z');
		cat_line(report, rtext, rlen);
		return;
	}
	if (!mess) {
		report_text(report, 'Z', "qmail-remote produced no report. (#4.3.0)");
		return;
	}
	/* without an accepted recipient, "accepted" cannot be believed */
	str_catc(report, mess == 'K' && recip != 'r' ? 'Z' : mess);
	cat_line(report, rtext, rlen);
	cat_line(report, mtext, mlen);
}

/* Sets up qmail-remote host sender recipient; copying a large message
 * is left to a child. */
static int prepare(const struct spawn_request *req, struct spawn_prog *prog, struct str *report,
                   int may_block)
{
	struct str host = STR_INIT, arg = STR_INIT;
	size_t at = mem_rchr(req->recip.s, req->recip.len, '@');

	prog->msgfd = spawn_message_fd(req->id, may_block ? ~0UL : SPAWN_COPY_MAX);
	if (prog->msgfd == -1) {
		if (errno == EFBIG && !may_block) return SPAWN_CHILD;
		report_text(report, 'Z', "Unable to read message from the queue. (#4.3.0)");
		return SPAWN_DONE;
	}
	if (at < req->recip.len) str_copyb(&host, req->recip.s + at + 1, req->recip.len - at - 1);
	spawn_prog_arg(prog, AUTO_PREFIX "/bin/qmail-remote");
	spawn_prog_arg(prog, str_cstr(&host));
	str_copy(&arg, &req->sender);
	spawn_prog_arg(prog, str_cstr(&arg));
	str_copy(&arg, &req->recip);
	spawn_prog_arg(prog, str_cstr(&arg));
	str_free(&host);
	str_free(&arg);
	return SPAWN_PROG;
}

static void finish(int status, const struct str *out, struct str *report)
{
	if (status == -1) { report_text(report, 'Z', "Unable to fork. (#4.3.0)"); return; }
	if (WIFSIGNALED(status)) { report_text(report, 'Z', "qmail-remote crashed. (#4.3.0)"); return; }
	if (WEXITSTATUS(status) == 120) {
		report_text(report, 'Z', "Unable to run qmail-remote. (#4.3.0)");
		return;
	}
	if (WEXITSTATUS(status) != 0) {
		report_text(report, 'Z', "qmail-remote failed. (#4.3.0)");
		return;
	}
	parse_output(out, report);
}

int main(void)
{
	die_init("qmail-rspawn");
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	/* As qmail's: a restart forgets which hosts timed out (qmail-tcpto(8));
	 * the table is only advice, so a failure here changes nothing. */
	tcpto_clear();
	spawn_main(&(const struct spawn_ops){prepare, finish});
	return 0;
}
