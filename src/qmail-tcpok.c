/* qmail-tcpok: empties qmail-remote's table of addresses that timed out
 * (queue/lock/tcpto, see tcpto.h), so that every address is tried again
 * at the next delivery. Runs as root or as qmail-remote's user. */
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "tcpto.h"

int main(void)
{
	die_init("qmail-tcpok");
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	if (tcpto_clear() == -1) die_temp_sys("unable to clear ", TCPTO_FILE);
	return 0;
}
