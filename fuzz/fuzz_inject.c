/* libFuzzer target: header processing in the real qmail-inject
 * (sanitizer build, see exec.h), run with -n so that it prints the
 * message it would queue. The first byte picks the recipient strategy
 * (-a with one address, -A, -h, -H) and whether QMAILINJECT flags and
 * QMAILHOST/QMAILUSER/QMAILNAME are set; the rest is the message. */
#include "exec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_exec_init("qmail-inject");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[] = "-a", A[] = "-A", h[] = "-h", H[] = "-H", n[] = "-n",
	            rcpt[] = "rcpt@example.org";
	static char flags[] = "QMAILINJECT=csfirm", qhost[] = "QMAILHOST=inject.example",
	            quser[] = "QMAILUSER=fuzz", qname[] = "QMAILNAME=Fuzz \"Q\" User";
	char *strategy[] = {a, A, h, H};
	char *argv[5];
	char *envp[5];
	size_t k = 0, e = 0;
	if (size < 1) return 0;
	argv[k++] = fuzz_prog;
	argv[k++] = n;
	argv[k++] = strategy[data[0] & 3];
	if ((data[0] & 3) == 0) argv[k++] = rcpt;
	argv[k] = 0;
	if (data[0] & 4) envp[e++] = flags;
	if (data[0] & 8) {
		envp[e++] = qhost;
		envp[e++] = quser;
		envp[e++] = qname;
	}
	envp[e] = 0;
	fuzz_exec_run(argv, envp, data + 1, size - 1);
	return 0;
}
