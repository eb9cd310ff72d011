/* forward: sends the message on standard input on to the addresses named
 * on the command line, through the queue (qmail-queue, or $QMAILQUEUE).
 *
 * Meant for a .qmail line "|forward address ...", where qmail-local has
 * set NEWSENDER (the envelope sender for forwarded mail) and DTLINE (the
 * Delivered-To line, which goes on top of the copy to catch loops).
 * With no address the message is queued for nobody, as qmail's forward
 * does, so "|forward `cat list`" with an empty list does not bounce.
 * Exit 0 when the queue took the message, 100 when it refused it for good
 * (or the environment is wrong), 111 to try again later.
 */
#include <signal.h>
#include <string.h>

#include "die.h"
#include "env.h"
#include "qq.h"
#include "sig.h"
#include "str.h"

int main(int argc, char *argv[])
{
	const char *sender, *dtline, *report;
	struct str num = STR_INIT;
	unsigned long qp;

	die_init("forward");
	sig_ignore(SIGPIPE);
	sender = env_get("NEWSENDER");
	if (!sender) die_perm("NEWSENDER not set");
	dtline = env_get("DTLINE");
	if (!dtline) die_perm("DTLINE not set");

	report = qq_inject_fd(dtline, strlen(dtline), 0, sender, argc > 1 ? argv + 1 : argv,
	                      argc > 1 ? (size_t)argc - 1 : 0, &qp);
	if (*report) die_code(*report == 'D' ? 100 : 111, 0, report + 1, (const char *)0);
	str_catulong(&num, qp);
	die_report(0, "forward: qp ", str_cstr(&num));
}
