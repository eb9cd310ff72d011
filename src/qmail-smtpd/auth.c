/* qmail-smtpd's AUTH command (RFC 4954): PLAIN and LOGIN, offered and
 * accepted only inside TLS, and only when qmail-smtpd was given a
 * checkpassword program on its command line
 * (qmail-smtpd /var/qmail/bin/qmail-checkpw [prog args]).
 *
 * The password goes to the checker on fd 3 as checkpassword wants it
 * ("user\0password\0timestamp\0"); the checker runs with fd 0 and 1 on
 * /dev/null, so it never sees the client's connection, and with no
 * shell in between. Exit 0 accepts; 111 or a checker that cannot run is
 * a temporary failure; anything else refuses the password.
 *
 * Success sets relaying for the session as RELAYCLIENT="" would (an
 * existing RELAYCLIENT keeps its value) and the user name appears in the
 * Received line where qmail puts TCPREMOTEINFO. A refusal is logged and
 * answered after 2 seconds; the third one ends the session.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base64.h"
#include "die.h"
#include "sig.h"
#include "smtpd.h"

#define AUTH_MAX_FAILURES 3

enum verdict { AUTH_OK, AUTH_REFUSED, AUTH_TEMP };

int smtpd_auth_offered(const struct smtpd *s)
{
	return s->tls && s->checkpw && !s->authuser.len;
}

/* A user name for the log: printable bytes only, and not too many. */
static void cat_user(struct str *o, const struct str *user)
{
	str_cat_abbrev(o, user->s, user->len, 64);
}

/* "qmail-smtpd: AUTH refused: user NAME from IP" on stderr (multilog);
 * the name as printable bytes only, cut at 64. */
static void log_attempt(struct smtpd *s, const struct str *user, const char *what)
{
	struct str line = STR_INIT;
	size_t off = 0;
	str_cats(&line, die_progname());
	str_cats(&line, ": AUTH ");
	str_cats(&line, what);
	str_cats(&line, ": user ");
	cat_user(&line, user);
	str_cats(&line, " from ");
	str_cats(&line, s->remoteip);
	str_catc(&line, '\n');
	while (off < line.len) {
		ssize_t w = write(2, line.s + off, line.len - off);
		if (w == -1 && errno == EINTR) continue;
		if (w <= 0) break;
		off += (size_t)w;
	}
	str_free(&line);
}

static void wipe(struct str *sa)
{
	if (sa->s) explicit_bzero(sa->s, sa->cap);
	sa->len = 0;
}

/* Waits for the checker, at most the session timeout; one that takes
 * longer is killed and counts as a temporary failure. */
static int wait_checker(struct smtpd *s, pid_t pid)
{
	struct timespec nap = {0, 1000000};
	time_t deadline = time(0) + (time_t)s->timeout;
	int status;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid) break;
		if (r == -1 && errno != EINTR) return AUTH_TEMP;
		if (time(0) > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			warn("AUTH: the checkpassword program ", s->checkpw[0], " timed out");
			return AUTH_TEMP;
		}
		nanosleep(&nap, 0);
		if (nap.tv_nsec < 64000000) nap.tv_nsec *= 2;
	}
	if (!WIFEXITED(status)) {
		warn("AUTH: the checkpassword program ", s->checkpw[0], " crashed");
		return AUTH_TEMP;
	}
	if (WEXITSTATUS(status) == 0) return AUTH_OK;
	if (WEXITSTATUS(status) == 111) return AUTH_TEMP;
	return AUTH_REFUSED;
}

static int run_checker(struct smtpd *s, const struct str *user, const struct str *pass)
{
	struct str data = STR_INIT;
	int p[2];
	pid_t pid;
	int verdict;
	size_t off = 0;
	if (pipe(p) == -1) return AUTH_TEMP;
	pid = fork();
	if (pid == -1) {
		close(p[0]);
		close(p[1]);
		return AUTH_TEMP;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		close(p[1]);
		if (null == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1) _exit(111);
		if (p[0] != 3) {
			if (dup2(p[0], 3) == -1) _exit(111);
			close(p[0]);
		}
		if (null > 3) close(null);
		sig_default(SIGPIPE);
		execvp(s->checkpw[0], s->checkpw);
		warn_sys("AUTH: unable to run ", s->checkpw[0]);
		_exit(111);
	}
	close(p[0]);
	str_cat(&data, user);
	str_catc(&data, 0);
	str_cat(&data, pass);
	str_catc(&data, 0);
	/* checkpassword's third field; PLAIN and LOGIN have no challenge, so
	 * this is just a unique stamp, as the qmail AUTH patches send. */
	str_catc(&data, '<');
	str_catulong(&data, (unsigned long)getpid());
	str_catc(&data, '.');
	str_catulong(&data, (unsigned long)time(0));
	str_catc(&data, '@');
	str_cat(&data, &s->liphost);
	str_catc(&data, '>');
	str_catc(&data, 0);
	while (off < data.len) {
		ssize_t w = write(p[1], data.s + off, data.len - off);
		if (w == -1 && errno == EINTR) continue;
		if (w <= 0) break; /* the checker decides with what it got */
		off += (size_t)w;
	}
	close(p[1]);
	wipe(&data);
	str_free(&data);
	verdict = wait_checker(s, pid);
	return verdict;
}

/* Reads one line of the exchange; 0 when the client cancelled ("*") or
 * sent something that is not base64 (already answered). */
static int read_response(struct smtpd *s, struct str *decoded)
{
	struct str line = STR_INIT;
	int ok = 0;
	if (!smtpd_read_command(s, &line)) goto done;
	if (line.len == 1 && line.s[0] == '*') {
		out(s, "501 auth exchange cancelled (#5.0.0)\r\n");
		goto done;
	}
	if (base64_decode(decoded, line.s, line.len) == -1) {
		out(s, "501 malformed auth input (#5.5.4)\r\n");
		goto done;
	}
	ok = 1;
done:
	wipe(&line);
	str_free(&line);
	return ok;
}

/* An initial response on the AUTH line: "=" is the empty one. */
static int initial_response(struct smtpd *s, const char *arg, size_t len, struct str *decoded)
{
	if (len == 1 && arg[0] == '=') return 1;
	if (base64_decode(decoded, arg, len) == -1) {
		out(s, "501 malformed auth input (#5.5.4)\r\n");
		return 0;
	}
	return 1;
}

/* PLAIN: "authzid\0authcid\0password"; acting for someone else is not
 * something a checkpassword program can approve, so authzid must be
 * empty or the same user. */
static int auth_plain(struct smtpd *s, const char *arg, size_t len, struct str *user,
                      struct str *pass)
{
	struct str msg = STR_INIT;
	size_t a, b;
	int ok = 0;
	if (len) {
		if (!initial_response(s, arg, len, &msg)) goto done;
	} else {
		out(s, "334 \r\n");
		if (!read_response(s, &msg)) goto done;
	}
	a = mem_chr(msg.s, msg.len, 0);
	b = a < msg.len ? a + 1 + mem_chr(msg.s + a + 1, msg.len - a - 1, 0) : msg.len;
	if (b >= msg.len || b == a + 1 ||
	    (a && (a != b - a - 1 || memcmp(msg.s, msg.s + a + 1, a) != 0))) {
		out(s, "501 malformed auth input (#5.5.4)\r\n");
		goto done;
	}
	str_copyb(user, msg.s + a + 1, b - a - 1);
	str_copyb(pass, msg.s + b + 1, msg.len - b - 1);
	ok = 1;
done:
	wipe(&msg);
	str_free(&msg);
	return ok;
}

static int auth_login(struct smtpd *s, const char *arg, size_t len, struct str *user,
                      struct str *pass)
{
	if (len) {
		if (!initial_response(s, arg, len, user)) return 0;
	} else {
		out(s, "334 VXNlcm5hbWU6\r\n"); /* "Username:" */
		if (!read_response(s, user)) return 0;
	}
	out(s, "334 UGFzc3dvcmQ6\r\n"); /* "Password:" */
	return read_response(s, pass);
}

/* A name with a NUL or a line end could not be passed on or logged; a
 * NUL in the password would cut it short on the checker's side. */
static int credentials_ok(const struct str *user, const struct str *pass)
{
	if (!user->len || user->len > 256) return 0;
	if (mem_chr(pass->s, pass->len, 0) < pass->len) return 0;
	for (size_t i = 0; i < user->len; ++i)
		if ((unsigned char)user->s[i] < 32 || user->s[i] == 127) return 0;
	return 1;
}

static void refused(struct smtpd *s, const struct str *user)
{
	log_attempt(s, user, "refused");
	++s->authfailures;
	/* Slows down guessing; a patient guesser reconnects, but each
	 * connection costs it the delays and a log line. */
	sleep(2);
	if (s->authfailures >= AUTH_MAX_FAILURES)
		out_die(s, "421 too many authentication failures (#4.7.0)\r\n", 1);
	out(s, "535 authentication failed (#5.7.8)\r\n");
}

void smtpd_auth(struct smtpd *s, const char *arg, size_t len)
{
	struct str user = STR_INIT;
	struct str pass = STR_INIT;
	size_t mlen = mem_chr(arg, len, ' ');
	size_t a = mlen;
	int got;
	if (!s->checkpw) {
		out(s, "502 unimplemented (#5.5.1)\r\n");
		return;
	}
	if (!s->tls) {
		out(s, "530 must issue STARTTLS first (#5.7.0)\r\n");
		return;
	}
	if (s->authuser.len) {
		out(s, "503 you are already authenticated (#5.5.1)\r\n");
		return;
	}
	if (s->seenmail) {
		out(s, "503 no AUTH during a mail transaction (#5.5.1)\r\n");
		return;
	}
	while (a < len && arg[a] == ' ') ++a;
	if (mlen == 5 && mem_equal_nocase(arg, "plain", 5)) {
		got = auth_plain(s, arg + a, len - a, &user, &pass);
	} else if (mlen == 5 && mem_equal_nocase(arg, "login", 5)) {
		got = auth_login(s, arg + a, len - a, &user, &pass);
	} else {
		out(s, "504 auth type unimplemented (#5.5.1)\r\n");
		return;
	}
	if (!got) goto done;
	if (!credentials_ok(&user, &pass)) {
		refused(s, &user);
		goto done;
	}
	switch (run_checker(s, &user, &pass)) {
	case AUTH_OK:
		str_copy(&s->authuser, &user);
		s->remoteinfo = str_cstr(&s->authuser);
		if (!s->relayclient) s->relayclient = "";
		log_attempt(s, &user, "accepted");
		out(s, "235 ok, go ahead (#2.0.0)\r\n");
		break;
	case AUTH_REFUSED:
		refused(s, &user);
		break;
	default:
		log_attempt(s, &user, "failed temporarily");
		out(s, "454 temporary authentication failure (#4.3.0)\r\n");
	}
done:
	wipe(&pass);
	str_free(&pass);
	str_free(&user);
}
