/* sig: see sig.h. Handlers are installed without SA_RESTART so that a
 * blocking read returns EINTR and the program can act on the signal. */
#include "sig.h"

#include <signal.h>
#include <string.h>

static void set(int sig, void (*handler)(int))
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, 0);
}

void sig_ignore(int sig) { set(sig, SIG_IGN); }
void sig_default(int sig) { set(sig, SIG_DFL); }
void sig_catch(int sig, void (*handler)(int)) { set(sig, handler); }

static void mask(int how, int sig)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, sig);
	sigprocmask(how, &s, 0);
}

void sig_block(int sig) { mask(SIG_BLOCK, sig); }
void sig_unblock(int sig) { mask(SIG_UNBLOCK, sig); }
