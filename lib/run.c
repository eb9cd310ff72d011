/* run: see run.h. */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "die.h"
#include "sig.h"

int run_errno_temporary(int e)
{
	switch (e) {
	case EINTR: case ENOMEM: case ETXTBSY: case EIO: case ETIMEDOUT:
	case EAGAIN: case EDEADLK: case EBUSY: case ENFILE: case EMFILE:
	case EFBIG: case ENOSPC: case ENETDOWN: case ENETUNREACH: case ENETRESET:
	case ECONNABORTED: case ECONNRESET: case ENOBUFS: case ETOOMANYREFS:
	case ECONNREFUSED: case EHOSTDOWN: case EHOSTUNREACH: case EUSERS:
	case EDQUOT: case ESTALE: case ENOLCK:
#if EWOULDBLOCK != EAGAIN
	case EWOULDBLOCK:
#endif
		return 1;
	default:
		return 0;
	}
}

pid_t run_start(char *const argv[], int fd0)
{
	pid_t pid = fork();
	if (pid == -1) die_temp_sys("unable to fork");
	if (pid != 0) return pid;
	sig_default(SIGPIPE);
	if (fd0 != -1 && fd0 != 0) {
		if (dup2(fd0, 0) == -1) die_temp_sys("unable to set up standard input");
		close(fd0);
	}
	execvp(argv[0], argv);
	die_code(run_errno_temporary(errno) ? 111 : 100, 1, "unable to run ", argv[0],
	         (const char *)0);
}

int run_wait(pid_t pid)
{
	int status;
	pid_t r;
	do r = waitpid(pid, &status, 0);
	while (r == -1 && errno == EINTR);
	if (r == -1) die_temp_sys("wait failed");
	if (!WIFEXITED(status)) return RUN_CRASHED;
	return WEXITSTATUS(status);
}

int run_command(char *const argv[]) { return run_wait(run_start(argv, -1)); }

int run_test(char *const argv[])
{
	int code = run_command(argv);
	if (code == RUN_CRASHED) die_temp("child crashed");
	if (code == 111) die_temp("temporary child error");
	return code == 0;
}
