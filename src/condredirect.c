/* condredirect: runs a program on the message and, when the program says
 * yes (exit 0), sends the message to another address instead.
 *
 * Meant for a .qmail line "|condredirect newaddress program [arg ...]".
 * The program's verdict: 0 redirect, then exit 99 so that qmail-local
 * skips the rest of the .qmail file; 111 (or a crash) exit 111 to try
 * again later; anything else, or a program that cannot be run, exit 0
 * so that delivery goes on. The redirected copy carries $DTLINE on top and
 * goes out with the envelope sender $SENDER, as qmail's condredirect does.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "die.h"
#include "env.h"
#include "qq.h"
#include "run.h"
#include "sig.h"
#include "str.h"

int main(int argc, char *argv[])
{
	const char *sender, *dtline, *report;
	struct str num = STR_INIT;
	unsigned long qp;

	die_init("condredirect");
	if (argc < 3) die_usage("condredirect newaddress program [ arg ... ]");
	if (!run_test(argv + 2)) return 0;

	/* The program read the message; the copy starts from the top again. */
	if (lseek(0, 0, SEEK_SET) == -1) die_temp_sys("unable to rewind message");
	sig_ignore(SIGPIPE);
	sender = env_get("SENDER");
	if (!sender) die_perm("SENDER not set");
	dtline = env_get("DTLINE");
	if (!dtline) die_perm("DTLINE not set");

	report = qq_inject_fd(dtline, strlen(dtline), 0, sender, argv + 1, 1, &qp);
	if (*report) die_code(*report == 'D' ? 100 : 111, 0, report + 1, (const char *)0);
	str_catulong(&num, qp);
	die_report(99, "condredirect: qp ", str_cstr(&num));
}
