/* libFuzzer target: a whole SMTP session fed to the real qmail-smtpd
 * (sanitizer build, see exec.h). The first byte picks the connection's
 * environment: bit 0 sets RELAYCLIENT (bit 1: to "" or to a suffix), bit 2
 * DATABYTES, bit 3 TCPREMOTEHOST; the rest is what the client sends.
 * qmail-queue is replaced by /bin/true through QMAILQUEUE, so a finished
 * DATA never fills a queue (qmail-smtpd must then answer 451, not crash);
 * the queue side is fuzz_queue's. */
#include "exec.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_exec_init("qmail-smtpd");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char relay0[] = "RELAYCLIENT=", relay1[] = "RELAYCLIENT=@relay.example",
	            bytes[] = "DATABYTES=2000", host[] = "TCPREMOTEHOST=client.example",
	            qq[] = "QMAILQUEUE=/bin/true", ip[] = "TCPREMOTEIP=127.0.0.1",
	            local[] = "TCPLOCALIP=127.0.0.1";
	char *argv[] = {fuzz_prog, 0};
	char *envp[8];
	size_t n = 0;
	if (size < 1) return 0;
	envp[n++] = qq;
	envp[n++] = ip;
	envp[n++] = local;
	if (data[0] & 1) envp[n++] = data[0] & 2 ? relay1 : relay0;
	if (data[0] & 4) envp[n++] = bytes;
	if (data[0] & 8) envp[n++] = host;
	envp[n] = 0;
	fuzz_exec_run(argv, envp, data + 1, size - 1);
	return 0;
}
