/* bouncesaying: bounces the message with a given reason, always or when a
 * program says so.
 *
 * Meant for a .qmail line "|bouncesaying error [program [arg ...]]".
 * Without a program: print error, exit 100 (qmail-local bounces and
 * quotes the text). With one, the program's verdict decides: 0 bounce;
 * 111 (or a crash) exit 111 to try again later; anything else, or a
 * program that cannot be run, exit 0 so that delivery goes on.
 */
#include "die.h"
#include "run.h"

int main(int argc, char *argv[])
{
	die_init("bouncesaying");
	if (argc < 2) die_usage("bouncesaying error [ program [ arg ... ] ]");
	if (argc > 2 && !run_test(argv + 2)) return 0;
	/* The text alone, without our name: it is what the sender reads. */
	die_report(100, argv[1]);
}
