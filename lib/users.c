/* users: see users.h. */
#include "users.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto.h"
#include "cdbfile.h"

/* qmail-getpw's exit codes that mean something to us (qmail's qlx.h). */
#define GETPW_NFS     115
#define GETPW_NOALIAS 116
#define GETPW_SYS     118
#define GETPW_EXEC    121

/* qmail-getpw prints six short fields; more than this is not its output. */
#define GETPW_MAX_OUTPUT 65536

static const char *reason = "";
static const char *getpw_prog = AUTO_PREFIX "/bin/qmail-getpw";
static long getpw_uid = -1;
static long getpw_gid = -1;

const char *users_reason(void) { return reason; }
void users_getpw_program(const char *path) { getpw_prog = path; }

void users_getpw_ids(long uid, long gid)
{
	getpw_uid = uid;
	getpw_gid = gid;
}

void users_entry_free(struct users_entry *e)
{
	str_free(&e->user);
	str_free(&e->home);
	str_free(&e->dash);
	str_free(&e->ext);
}

static int parse_number(const char *s, size_t len, unsigned long *out)
{
	return len && mem_scan_ulong(s, len, out) == len;
}

int users_parse(const char *s, size_t len, struct users_entry *out)
{
	const char *field[6];
	size_t flen[6];
	size_t pos = 0;
	int i;
	for (i = 0; i < 6; ++i) {
		size_t n;
		if (pos > len || (pos == len && i < 5)) return 0;
		n = mem_chr(s + pos, len - pos, 0);
		if (n == len - pos && i < 5) return 0; /* the last NUL is optional */
		field[i] = s + pos;
		flen[i] = n;
		pos += n + 1;
	}
	if (flen[0] == 0 || flen[3] == 0) return 0;
	if (!parse_number(field[1], flen[1], &out->uid)) return 0;
	if (!parse_number(field[2], flen[2], &out->gid)) return 0;
	str_copyb(&out->user, field[0], flen[0]);
	str_copyb(&out->home, field[3], flen[3]);
	str_copyb(&out->dash, field[4], flen[4]);
	str_copyb(&out->ext, field[5], flen[5]);
	return 1;
}

/* Looks local up in users/cdb: 1 found (value, with a wildcard's rest
 * appended, in val), 0 not listed or no users/cdb, -1 error. */
static int cdb_search(const char *local, size_t len, struct str *val)
{
	struct cdbfile c;
	struct str key = STR_INIT;
	struct str wild = STR_INIT;
	size_t i;
	int r, e;

	r = cdbfile_open(&c, "users/cdb");
	if (r == 0) return 0;
	if (r == -1) {
		reason = "Trouble reading users/cdb.";
		return -1;
	}
	str_copys(&key, "!");
	str_catb(&key, local, len);
	str_catc(&key, 0);
	str_lower(&key);

	/* The empty key lists the last byte of every wildcard prefix, which
	 * spares a lookup for each prefix that cannot be one. */
	r = cdbfile_find(&c, "", 0);
	if (r > 0 && cdbfile_value(&c, &wild) == -1) r = -1;
	if (r < 0) goto fail;
	if (r == 0) {
		/* qmail-newu always writes the empty key; without it the file is
		 * not one of ours, and guessing could deliver to the wrong user. */
		errno = EINVAL;
		goto fail;
	}

	/* First the whole key with its NUL (a simple assignment), then each
	 * shorter prefix (wildcards), longest first, down to "!" alone. */
	for (i = key.len; i > 0; --i) {
		int wildcard = i < key.len;
		if (wildcard && i > 1 && mem_chr(wild.s, wild.len, key.s[i - 1]) == wild.len)
			continue;
		r = cdbfile_find(&c, key.s, i);
		if (r < 0) goto fail;
		if (r == 0) continue;
		if (cdbfile_value(&c, val) == -1) goto fail;
		/* The rest keeps the case it was written in: it names a .qmail file. */
		if (wildcard) str_catb(val, local + (i - 1), len - (i - 1));
		r = 1;
		goto done;
	}
	r = 0;
	goto done;
fail:
	e = errno;
	reason = "Trouble reading users/cdb.";
	r = -1;
	errno = e;
done:
	cdbfile_close(&c);
	str_free(&key);
	str_free(&wild);
	return r;
}

static _Noreturn void getpw_child(int fdout, const char *local)
{
	char *argv[3];
	if (dup2(fdout, 1) == -1) _exit(GETPW_SYS);
	if (fdout != 1) close(fdout);
	signal(SIGPIPE, SIG_DFL);
	if (getpw_gid >= 0) {
		gid_t g = (gid_t)getpw_gid;
		if (setgroups(1, &g) == -1 || setgid(g) == -1) _exit(GETPW_SYS);
	}
	if (getpw_uid >= 0 && setuid((uid_t)getpw_uid) == -1) _exit(GETPW_SYS);
	argv[0] = (char *)getpw_prog;
	argv[1] = (char *)local;
	argv[2] = 0;
	execv(getpw_prog, argv);
	_exit(GETPW_EXEC);
}

/* Runs qmail-getpw local: 1 output in val, 0 no user at all, -1 error. */
static int getpw_search(const char *local, size_t len, struct str *val)
{
	struct str arg = STR_INIT;
	char chunk[1024];
	int pi[2], status, toolong = 0;
	pid_t pid, w;

	str_copyb(&arg, local, len);
	str_cstr(&arg);
	if (pipe(pi) == -1) {
		reason = "Temporary failure in qmail-lspawn.";
		str_free(&arg);
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		close(pi[0]);
		close(pi[1]);
		str_free(&arg);
		reason = "Temporary failure in qmail-lspawn.";
		return -1;
	}
	if (pid == 0) {
		close(pi[0]);
		getpw_child(pi[1], arg.s);
	}
	close(pi[1]);
	str_free(&arg);
	val->len = 0;
	for (;;) {
		ssize_t r = read(pi[0], chunk, sizeof chunk);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		if (val->len + (size_t)r > GETPW_MAX_OUTPUT)
			toolong = 1;
		else
			str_catb(val, chunk, (size_t)r);
	}
	close(pi[0]);
	do
		w = waitpid(pid, &status, 0);
	while (w == -1 && errno == EINTR);
	if (w == -1 || !WIFEXITED(status)) {
		reason = "Temporary failure in qmail-lspawn.";
		return -1;
	}
	switch (WEXITSTATUS(status)) {
	case 0:
		if (!toolong) return 1;
		reason = "Trouble reading qmail-getpw output.";
		return -1;
	case GETPW_NOALIAS: reason = "Unable to find alias user!"; return 0;
	case GETPW_NFS: reason = "NFS failure in qmail-local."; return -1;
	case GETPW_EXEC: reason = "Unable to run qmail-getpw."; return -1;
	default: reason = "Temporary failure in qmail-lspawn."; return -1;
	}
}

int users_lookup_assign(const char *local, size_t len, struct users_entry *out)
{
	struct str val = STR_INIT;
	int r;

	reason = "";
	if (mem_chr(local, len, 0) < len) return 0; /* users_lookup refuses it */
	r = cdb_search(local, len, &val);
	if (r == 1 && !users_parse(val.s, val.len, out)) {
		reason = "Trouble parsing users entry.";
		r = -1;
	}
	str_free(&val);
	return r;
}

int users_lookup(const char *local, size_t len, struct users_entry *out)
{
	struct str val = STR_INIT;
	int r;

	reason = "";
	/* A NUL cannot be passed to qmail-getpw and no assignment holds one. */
	if (mem_chr(local, len, 0) < len) {
		reason = "Sorry, no mailbox here by that name. (#5.1.1)";
		return 0;
	}
	r = cdb_search(local, len, &val);
	if (r == 0) r = getpw_search(local, len, &val);
	if (r == 1 && !users_parse(val.s, val.len, out)) {
		reason = "Trouble parsing users entry.";
		r = -1;
	}
	str_free(&val);
	return r;
}
