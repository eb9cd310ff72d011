/* qmail-rcptd: tells qmail-smtpd whether a local address exists
 * (qmail-rcptd(8)).
 *
 *   qmail-rcptd
 *
 * Listens on the unix socket rcptd/socket under the install root. A
 * client sends one address followed by a NUL (at most RCPTD_REQUEST_MAX
 * bytes) and reads one line back: "K" the address exists or is not ours
 * to judge (it routes to a remote host), "D" delivery would fail for good
 * with "no mailbox here by that name", "Z" delivery could not be decided
 * now (the rest of the line says why). The connection then closes.
 *
 * The answer is delivery's own decision, made with the same code:
 * lib/route (locals, virtualdomains, percenthack, envnoathost), then
 * lib/users (users/cdb, then qmail-getpw: passwd users, the user-ext
 * split, the alias user), then, when the user entry has a dash, lib/
 * dotqmail's search for .qmail-ext and -default files in the home, as
 * qmail-local makes it. Control files are read for every request, so an
 * edit counts at once, with no HUP.
 *
 * Privilege, as qmail-lspawn: the listening process stays root only so
 * that each request's child can become the recipient's user before it
 * looks into the home directory (qmail-getpw runs as qmailp); a home is
 * never read as root, and nothing of a request is parsed before the fork.
 * Each request has its own child, which dies after RCPTD_CHILD_SECONDS;
 * at most RCPTD_CHILDREN run at once, further connections wait in the
 * listen queue. The socket's directory is reachable only by the qmail
 * users (install.sh), and the socket is group nofiles, qmaild's group.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "dotqmail.h"
#include "ids.h"
#include "rcptd.h"
#include "route.h"
#include "str.h"
#include "users.h"

#define RCPTD_CHILDREN 20
#define RCPTD_CHILD_SECONDS 30

static struct ids ids;

static void answer(int fd, char code, const char *why)
{
	struct str line = STR_INIT;
	size_t off = 0;
	str_catc(&line, code);
	str_cats(&line, why);
	for (size_t i = 1; i < line.len; ++i)
		if (line.s[i] == '\n' || line.s[i] == 0) line.s[i] = ' ';
	str_catc(&line, '\n');
	while (off < line.len) {
		ssize_t w = write(fd, line.s + off, line.len - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) break;
		off += (size_t)w;
	}
	str_free(&line);
}

/* In the child: become the user delivery would run as. */
static int become(unsigned long uid, unsigned long gid)
{
	gid_t g = (gid_t)gid;
	if (geteuid() == (uid_t)uid) return 0;
	if (geteuid() != 0) return -1; /* qmail-lspawn could not either */
	if (setgroups(1, &g) == -1 || setgid(g) == -1 || setuid((uid_t)uid) == -1) return -1;
	return geteuid() == (uid_t)uid ? 0 : -1;
}

/* dotqmail_search's test: does name exist as qmail-local would open it?
 * 1 yes, 0 no, -1 trouble (errno set) that qmail-local would defer on. */
static int qmail_file(const char *name, const char *rest, void *ctx)
{
	struct stat st;
	(void)rest;
	(void)ctx;
	if (stat(name, &st) == 0) return S_ISREG(st.st_mode) ? 1 : 0;
	if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP) return 0;
	return -1;
}

/* The verdict for one address: 'K', 'D' or 'Z' with a reason in why. */
static char lookup(const char *addr, size_t len, struct str *why)
{
	struct route r = ROUTE_INIT;
	struct users_entry u = USERS_ENTRY_INIT;
	struct str routed = STR_INIT;
	size_t at;
	int found;

	if (route_load(&r) == -1) {
		str_copys(why, "unable to read controls");
		return 'Z';
	}
	if (route_recipient(&r, addr, len, &routed) != ROUTE_LOCAL) {
		str_copys(why, "not local");
		return 'K';
	}
	at = mem_rchr(routed.s, routed.len, '@');
	switch (users_lookup(routed.s, at, &u)) {
	case -1: str_copys(why, users_reason()); return 'Z';
	case 0: str_copys(why, "Unable to find alias user!"); return 'Z';
	}
	if (u.uid == 0 && ids.system) {
		str_copys(why, "Not allowed to deliver to root.");
		return 'Z';
	}
	/* No dash: the user's .qmail or the default delivery takes it all. */
	if (u.dash.len == 0) return 'K';
	if (become(u.uid, u.gid) == -1) {
		str_copys(why, "unable to switch to the recipient's user");
		return 'Z';
	}
	if (chdir(str_cstr(&u.home)) == -1) {
		str_copys(why, "unable to switch to the home directory");
		return 'Z';
	}
	/* qmail-local defers before it looks at any .qmail file when the home
	 * is writable by others, or sticky: its user is editing the .qmail
	 * files (dot-qmail(5)), and a file missing now may be there soon. */
	{
		struct stat st;
		const char *later;
		if (stat(".", &st) == -1) {
			str_copys(why, "unable to stat the home directory");
			return 'Z';
		}
		if ((later = dotqmail_home_defer(st.st_mode)) != 0) {
			str_copys(why, later);
			return 'Z';
		}
	}
	str_cstr(&u.dash);
	found = dotqmail_search(u.dash.s, str_cstr(&u.ext), qmail_file, 0);
	if (found == 1) return 'K';
	if (found == -1) {
		str_copys(why, "unable to check the .qmail files");
		return 'Z';
	}
	str_copys(why, "Sorry, no mailbox here by that name.");
	return 'D';
}

static _Noreturn void serve(int fd)
{
	struct str req = STR_INIT, why = STR_INIT;
	char chunk[256];
	size_t nul;
	char verdict;

	alarm(RCPTD_CHILD_SECONDS);
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) _exit(0);
		str_catb(&req, chunk, (size_t)r);
		nul = mem_chr(req.s, req.len, 0);
		if (nul < req.len) break;
		if (req.len > RCPTD_REQUEST_MAX) {
			answer(fd, 'Z', "request too long");
			_exit(0);
		}
	}
	verdict = lookup(req.s, nul, &why);
	answer(fd, verdict, str_cstr(&why));
	_exit(0);
}

static int listen_socket(void)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) die_temp_sys("unable to create a socket");
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, RCPTD_SOCKET, sizeof RCPTD_SOCKET);
	if (unlink(RCPTD_SOCKET) == -1 && errno != ENOENT)
		die_temp_sys("unable to remove the old ", RCPTD_SOCKET);
	/* Only qmail-smtpd's group may connect (the owner in a user instance). */
	umask(ids.system ? 007 : 077);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1)
		die_temp_sys("unable to bind ", AUTO_PREFIX, "/", RCPTD_SOCKET);
	if (ids.system && geteuid() == 0 && chown(RCPTD_SOCKET, 0, (gid_t)ids.gid_nofiles) == -1)
		die_temp_sys("unable to give ", RCPTD_SOCKET, " to group nofiles");
	if (listen(fd, 64) == -1) die_temp_sys("unable to listen on ", RCPTD_SOCKET);
	umask(077);
	return fd;
}

int main(int argc, char **argv)
{
	unsigned children = 0;
	int fd;

	(void)argv;
	die_init("qmail-rcptd");
	if (argc > 1) die_usage("qmail-rcptd");
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	if (ids_load(&ids) == -1) die_temp_sys("unable to read ", AUTO_PREFIX, "/etc/ids");
	/* qmail-getpw reads nothing private: as root, run it as qmailp. */
	if (geteuid() == 0 && ids.system) users_getpw_ids(ids.uid[IDS_QMAILP], ids.gid_nofiles);
	signal(SIGPIPE, SIG_IGN);
	fd = listen_socket();
	for (;;) {
		pid_t pid;
		int c, status;
		while (children && waitpid(-1, &status, WNOHANG) > 0) --children;
		if (children >= RCPTD_CHILDREN) {
			if (wait(&status) > 0) --children;
			continue;
		}
		c = accept(fd, 0, 0);
		if (c != -1) fcntl(c, F_SETFD, FD_CLOEXEC);
		if (c == -1) {
			if (errno != EINTR && errno != ECONNABORTED) {
				warn_sys("unable to accept a connection");
				sleep(1);
			}
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(fd);
			signal(SIGPIPE, SIG_DFL);
			serve(c);
		}
		if (pid == -1) warn_sys("unable to fork");
		else ++children;
		close(c);
	}
}
