/* qmail-smtpd: recipient checks at RCPT time (qmail-rcptd(8)).
 *
 * For a recipient that qmail-smtpd accepts because of rcpthosts (never
 * for a RELAYCLIENT session), qmail-rcptd is asked whether delivery would
 * find a mailbox. It answers with delivery's own routing, so the only
 * change a sender sees is when: "550 5.1.1" now instead of a bounce later.
 *
 * What happens when there is no answer:
 *   - no checker is set up (no socket) or control/rcptcheck is 0: the
 *     recipient is accepted, exactly as qmail does;
 *   - the checker is set up but does not answer (stopped, crashed, busy,
 *     too slow): accepted too, with a warning in the log. Mail is never
 *     refused because the checker is down; the worst case is qmail's
 *     accept-then-bounce;
 *   - the checker says delivery cannot be decided now (users/cdb
 *     unreadable, no alias user, a home it cannot check): 451, as the
 *     delivery would be deferred too; the client tries again.
 */
#include "auto.h"
#include "ctl.h"
#include "die.h"
#include "rcptd.h"
#include "smtpd.h"

/* control/rcptcheck: 0 turns the checks off. Read once per session. */
static int enabled(void)
{
	static int known, on;
	unsigned long v;
	if (!known) {
		on = ctl_read_ulong("control/rcptcheck", &v, 1) == -1 || v != 0;
		known = 1;
	}
	return on;
}

int smtpd_rcptcheck(struct smtpd *s, const struct str *addr)
{
	struct str why = STR_INIT;
	int r;
	if (s->relayclient || !enabled()) return 1;
	r = rcptd_ask(addr->s, addr->len, &why);
	switch (r) {
	case RCPTD_NOBODY:
		out(s, "550 5.1.1 sorry, no mailbox here by that name (#5.1.1)\r\n");
		break;
	case RCPTD_TEMP:
		warn("recipient check deferred: ", str_cstr(&why));
		out(s, "451 4.3.0 temporary failure checking the recipient (#4.3.0)\r\n");
		break;
	case RCPTD_DOWN:
		warn("recipient checker not answering, accepting: ", str_cstr(&why));
		break;
	}
	str_free(&why);
	return r != RCPTD_NOBODY && r != RCPTD_TEMP;
}
