/* except: runs a program and turns its success into a permanent failure
 * and its failure into success, so that bouncesaying and condredirect can
 * act when a test does not hold.
 *
 * Program exit 0: exit 100. Exit 111, or a crash: exit 111 (temporary
 * problems stay temporary). Anything else, including a program that
 * cannot be run: exit 0.
 */
#include "die.h"
#include "run.h"

int main(int argc, char *argv[])
{
	die_init("except");
	if (argc < 2) die_usage("except program [ arg ... ]");
	return run_test(argv + 1) ? 100 : 0;
}
