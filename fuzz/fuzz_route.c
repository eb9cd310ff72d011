/* libFuzzer target: recipient rewriting (lib/route) as qmail-send and
 * qmail-smtpd use it: virtualdomains, percenthack, locals, envnoathost,
 * and RELAYCLIENT's value appended to the address as qmail-smtpd does.
 * The input is five fields split by 0xff bytes: virtualdomains,
 * percenthack, locals, RELAYCLIENT, address. The control files are written
 * to a scratch root and read with route_load, the real loader.
 * Invariants: the result is local or remote, the rewritten address has an
 * '@', a remote address comes back unchanged except for percenthack and
 * envnoathost, and a local one is either that address or "prepend-" it. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "route.h"
#include "str.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/dev/shm/fuzz_route.XXXXXX";
static int home = -1;

static void cleanup(void)
{
	static const char *fn[] = {"control/virtualdomains", "control/percenthack",
	                           "control/locals", "control/me", "control"};
	if (chdir(dir) == -1) return;
	for (size_t i = 0; i < 4; ++i) unlink(fn[i]);
	rmdir(fn[4]);
	if (fchdir(home) == -1) return;
	rmdir(dir);
}

/* The scratch root; libFuzzer's own paths stay relative to where it
 * started, so each run goes there and back. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	home = open(".", O_RDONLY | O_DIRECTORY);
	if (home == -1 || !mkdtemp(dir) || chdir(dir) == -1 || mkdir("control", 0755) == -1 ||
	    fchdir(home) == -1)
		abort();
	atexit(cleanup);
	return 0;
}

static void put(const char *fn, const char *s, size_t n)
{
	int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd == -1) abort();
	if (n && write(fd, s, n) != (ssize_t)n) abort();
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *files[] = {"control/virtualdomains", "control/percenthack",
	                              "control/locals"};
	const char *p = (const char *)data, *end = p + size;
	const char *field[5];
	size_t flen[5];
	struct route r = ROUTE_INIT;
	struct str addr = STR_INIT, out = STR_INIT;
	int kind;

	for (int i = 0; i < 5; ++i) {
		const char *e = i < 4 ? memchr(p, 0xff, (size_t)(end - p)) : 0;
		if (!e) e = end;
		field[i] = p;
		flen[i] = (size_t)(e - p);
		p = e < end ? e + 1 : end;
	}
	if (chdir(dir) == -1) abort();
	for (int i = 0; i < 3; ++i) put(files[i], field[i], flen[i]);
	put("control/me", "me.example\n", 11);
	if (route_load(&r) == -1) abort();
	if (fchdir(home) == -1) abort();

	/* qmail-smtpd: the recipient, then RELAYCLIENT's value */
	str_copyb(&addr, field[4], flen[4]);
	str_catb(&addr, field[3], flen[3]);
	kind = route_recipient(&r, addr.s ? addr.s : "", addr.len, &out);
	if (kind != ROUTE_LOCAL && kind != ROUTE_REMOTE) abort();
	if (memchr(out.s, '@', out.len) == 0) abort();
	if (kind == ROUTE_REMOTE && out.len > addr.len + 1 + r.envnoathost.len) abort();
	if (kind == ROUTE_LOCAL) {
		size_t plen;
		const char *pre = route_virtual_prepend(&r, out.s, out.len, &plen);
		(void)pre;
	}
	route_free(&r);
	str_free(&addr);
	str_free(&out);
	return 0;
}
