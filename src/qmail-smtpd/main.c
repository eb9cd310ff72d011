/* qmail-smtpd: receives mail over SMTP and queues it with qmail-queue.
 *
 * Run by tcpserver (ucspi-tcp) as an unprivileged user (qmaild), one
 * process per connection: the client is on fd 0 and fd 1, the
 * connection is described by tcp-environ(5) variables, and the install
 * root's control/ files configure it. It never runs a shell and never
 * writes a client's bytes to a log.
 *
 * Relay control: a recipient is accepted when its domain is in
 * control/rcpthosts (or morercpthosts.cdb); when RELAYCLIENT is set,
 * rcpthosts is ignored and RELAYCLIENT's value is appended to every
 * recipient instead. The replies are qmail's, word for word where qmail
 * has one, so that clients and scripts written for qmail keep working.
 *
 * STARTTLS and implicit TLS (SMTPS=1) live in tls.c, AUTH (inside TLS,
 * with the checkpassword program named on the command line) in auth.c.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "ctl.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "ipaddr.h"
#include "ipme.h"
#include "sig.h"
#include "smtpaddr.h"
#include "smtpd.h"

static struct smtpd sess;

static void nomem(void) { out_die(&sess, "421 out of memory (#4.3.0)\r\n", 1); }

static _Noreturn void die_control(struct smtpd *s, const char *fn)
{
	warn_sys("unable to read ", fn);
	out_die(s, "421 unable to read controls (#4.3.0)\r\n", 1);
}

static const char *env_or(const char *name, const char *dflt)
{
	const char *v = env_get(name);
	return v ? v : dflt;
}

static void set_helo(struct smtpd *s, const char *arg, size_t len)
{
	str_copyb(&s->helo, arg, len);
	s->fakehelo = strlen(s->remotehost) != len ||
	              !mem_equal_nocase(s->remotehost, arg, len);
}

static void setup(struct smtpd *s)
{
	struct str me = STR_INIT;
	const char *x;
	int r;
	if (chdir(AUTO_PREFIX) == -1) die_control(s, AUTO_PREFIX);
	r = ctl_read_line("control/me", &me, 0);
	if (r == -1) die_control(s, "control/me");
	r = ctl_read_line("control/smtpgreeting", &s->greeting, 0);
	if (r == -1) die_control(s, "control/smtpgreeting");
	/* An empty smtpgreeting counts as none (qmail would greet with
	 * "220  ESMTP", no host name at all). */
	if (!s->greeting.len) str_copy(&s->greeting, &me);
	if (!s->greeting.len) {
		warn("control/smtpgreeting and control/me are both missing or empty: refusing to run");
		out_die(s, "421 unable to read controls (#4.3.0)\r\n", 1);
	}
	r = ctl_read_line("control/localiphost", &s->liphost, me.len ? str_cstr(&me) : 0);
	if (r == -1) die_control(s, "control/localiphost");
	s->liphost_ok = s->liphost.len > 0;
	if (ctl_read_ulong("control/timeoutsmtpd", &s->timeout, 1200) == -1)
		die_control(s, "control/timeoutsmtpd");
	if (s->timeout == 0) s->timeout = 1;
	if (rcpthosts_open(&s->rh) == -1) die_control(s, "control/rcpthosts");
	if (!s->rh.present)
		warn("control/rcpthosts is missing: accepting mail for every domain (open relay)");
	if (ctl_read_lines("control/badmailfrom", &s->bmf) == -1)
		die_control(s, "control/badmailfrom");
	if (ctl_read_ulong("control/databytes", &s->databytes, 0) == -1)
		die_control(s, "control/databytes");
	/* Leading digits, as qmail's scan_ulong reads it; none means 0. */
	x = env_get("DATABYTES");
	if (x && !mem_scan_ulong(x, strlen(x), &s->databytes)) s->databytes = 0;
	s->localtime = date822_localtime_wanted();

	s->remoteip = env_or("TCPREMOTEIP", "unknown");
	s->local = env_get("TCPLOCALHOST");
	if (!s->local) s->local = env_or("TCPLOCALIP", "unknown");
	s->remotehost = env_or("TCPREMOTEHOST", "unknown");
	s->remoteinfo = env_get("TCPREMOTEINFO");
	s->relayclient = env_get("RELAYCLIENT");
	set_helo(s, s->remotehost, strlen(s->remotehost));
	s->tls_offer = smtpd_tls_configured();
	x = env_get("REQUIRE_AUTH");
	s->authrequired = x && *x;
	str_free(&me);
}

static void greet(struct smtpd *s, const char *code)
{
	out(s, code);
	outb(s, s->greeting.s, s->greeting.len);
}

/* badmailfrom: the whole address or "@domain", without regard to case. */
static int bmf_listed(const struct smtpd *s, const struct str *addr)
{
	size_t pos = 0, len;
	size_t at = mem_rchr(addr->s, addr->len, '@');
	const char *line;
	while ((line = ctl_next(&s->bmf, &pos, &len)) != 0) {
		if (len == addr->len && mem_equal_nocase(line, addr->s, len)) return 1;
		if (at < addr->len && len == addr->len - at &&
		    mem_equal_nocase(line, addr->s + at, len))
			return 1;
	}
	return 0;
}

/* box@[d.d.d.d] for one of our own addresses means box@localiphost. */
static void rewrite_literal(struct smtpd *s, struct str *addr)
{
	static int ipme_ready;
	size_t at = mem_rchr(addr->s, addr->len, '@');
	struct ipaddr ip;
	if (!s->liphost_ok || at == addr->len || at + 1 == addr->len || addr->s[at + 1] != '[')
		return;
	if (!ipaddr_parse_literal(&ip, addr->s + at + 1, addr->len - at - 1)) return;
	/* The interface list is read only when a literal shows up. */
	if (!ipme_ready) {
		if (ipme_init() == -1)
			out_die(s, "421 unable to figure out my IP addresses (#4.3.0)\r\n", 1);
		ipme_ready = 1;
	}
	if (!ipme_is(&ip)) return;
	str_truncate(addr, at + 1);
	str_cat(addr, &s->liphost);
}

static int parse_addr(struct smtpd *s, const char *arg, size_t len, const char *kw,
                      struct str *addr, size_t *params)
{
	switch (smtpaddr_parse(arg, len, kw, addr, params)) {
	case SMTPADDR_OK:
		return 1;
	default: /* qmail answers an address of 900 bytes or more the same way */
		out(s, "555 syntax error (#5.5.4)\r\n");
		return 0;
	}
}

static void cmd_helo(struct smtpd *s, const char *arg, size_t len)
{
	greet(s, "250 ");
	out(s, "\r\n");
	s->seenmail = 0;
	set_helo(s, arg, len);
}

static void cmd_ehlo(struct smtpd *s, const char *arg, size_t len)
{
	struct str size = STR_INIT;
	greet(s, "250-");
	out(s, "\r\n250-PIPELINING\r\n250-8BITMIME\r\n");
	if (s->tls_offer && !s->tls) out(s, "250-STARTTLS\r\n");
	if (smtpd_auth_offered(s)) out(s, "250-AUTH LOGIN PLAIN\r\n");
	out(s, "250 SIZE ");
	str_catulong(&size, s->databytes);
	str_cats(&size, "\r\n");
	outb(s, size.s, size.len);
	str_free(&size);
	s->seenmail = 0;
	set_helo(s, arg, len);
}

static void cmd_mail(struct smtpd *s, const char *arg, size_t len)
{
	size_t params;
	const char *v;
	size_t vlen;
	unsigned long declared;
	if (s->authrequired && !s->authuser.len) {
		out(s, "530 authentication required (#5.7.0)\r\n");
		return;
	}
	if (!parse_addr(s, arg, len, "FROM", &s->mailfrom, &params)) return;
	/* RFC 1870: a declared size over the limit is refused up front. */
	if (s->databytes && smtpaddr_param(arg + params, len - params, "SIZE", &v, &vlen) &&
	    vlen && mem_scan_ulong(v, vlen, &declared) == vlen && declared > s->databytes) {
		out(s, "552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n");
		return;
	}
	s->flagbarf = bmf_listed(s, &s->mailfrom);
	s->seenmail = 1;
	s->rcpts.len = 0;
	s->nrcpt = 0;
	out(s, "250 ok\r\n");
}

static void cmd_rcpt(struct smtpd *s, const char *arg, size_t len)
{
	struct str addr = STR_INIT;
	size_t params;
	if (!s->seenmail) {
		out(s, "503 MAIL first (#5.5.1)\r\n");
		return;
	}
	/* "RCPT TO:<>" is accepted, as qmail accepts it: an address without
	 * "@" is local, and qmail-send delivers or bounces it here. */
	if (!parse_addr(s, arg, len, "TO", &addr, &params)) goto done;
	rewrite_literal(s, &addr);
	if (s->flagbarf) {
		out(s, "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)\r\n");
		goto done;
	}
	if (s->relayclient) {
		str_cats(&addr, s->relayclient);
	} else {
		int r = rcpthosts_allows(&s->rh, addr.s, addr.len);
		if (r == -1) die_control(s, "control/morercpthosts.cdb");
		if (!r) {
			out(s, "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)\r\n");
			goto done;
		}
	}
	if (!smtpd_rcptcheck(s, &addr)) goto done; /* rcptcheck.c */
	if (s->nrcpt >= SMTPD_RCPT_MAX) {
		out(s, "452 too many recipients (#4.5.3)\r\n");
		goto done;
	}
	str_cat(&s->rcpts, &addr);
	str_catc(&s->rcpts, 0);
	++s->nrcpt;
	out(s, "250 ok\r\n");
done:
	str_free(&addr);
}

static void cmd_rset(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	s->seenmail = 0;
	out(s, "250 flushed\r\n");
}

static void cmd_data(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	smtpd_data(s);
}

static void cmd_noop(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	out(s, "250 ok\r\n");
}

static void cmd_vrfy(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	out(s, "252 send some mail, i'll try my best\r\n");
}

static void cmd_help(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	out(s, "214 nqmail: commands HELO EHLO MAIL RCPT DATA RSET NOOP VRFY HELP QUIT\r\n");
}

/* RFC 3207: after the handshake the client starts over, as if it had
 * just connected; nothing it said in plain text counts any more. */
static void cmd_starttls(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg;
	if (!s->tls_offer) {
		out(s, "502 unimplemented (#5.5.1)\r\n");
		return;
	}
	if (s->tls) {
		out(s, "503 TLS already started (#5.5.1)\r\n");
		return;
	}
	if (len) {
		out(s, "501 syntax error: STARTTLS takes no parameters (#5.5.4)\r\n");
		return;
	}
	if (smtpd_tls_start(s, 1) == -1) return;
	s->seenmail = 0;
	s->rcpts.len = 0;
	s->nrcpt = 0;
	set_helo(s, s->remotehost, strlen(s->remotehost));
}

static void cmd_auth(struct smtpd *s, const char *arg, size_t len)
{
	smtpd_auth(s, arg, len);
}

static void cmd_quit(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	greet(s, "221 ");
	out(s, "\r\n");
	out_flush(s);
	_exit(0);
}

static void cmd_unknown(struct smtpd *s, const char *arg, size_t len)
{
	(void)arg, (void)len;
	out(s, "502 unimplemented (#5.5.1)\r\n");
}

static const struct command {
	const char *verb;
	void (*fn)(struct smtpd *, const char *, size_t);
} commands[] = {
	{"rcpt", cmd_rcpt}, {"mail", cmd_mail}, {"data", cmd_data}, {"quit", cmd_quit},
	{"helo", cmd_helo}, {"ehlo", cmd_ehlo}, {"rset", cmd_rset}, {"help", cmd_help},
	{"noop", cmd_noop}, {"vrfy", cmd_vrfy}, {"starttls", cmd_starttls}, {"auth", cmd_auth},
	{0, cmd_unknown},
};

/* Reads one command line without its line end. A line longer than
 * SMTPD_LINE_MAX is skipped (up to SMTPD_DISCARD_MAX more bytes) and
 * answered with 500; past that the client is not speaking SMTP. */
int smtpd_read_command(struct smtpd *s, struct str *line)
{
	int r;
	line->len = 0;
	r = buf_getline_max(&s->in, line, '\n', SMTPD_LINE_MAX);
	if (r == -1 || r == 0) smtpd_read_failed(s, r == 0);
	if (r == 2) {
		struct str junk = STR_INIT;
		r = buf_getline_max(&s->in, &junk, '\n', SMTPD_DISCARD_MAX);
		str_free(&junk);
		if (r == -1 || r == 0) smtpd_read_failed(s, r == 0);
		if (r == 2) out_die(s, "500 line too long (#5.5.2)\r\n", 1);
		out(s, "500 line too long (#5.5.2)\r\n");
		return 0;
	}
	--line->len; /* the LF; a bare LF ends a command line, as in qmail */
	if (line->len && line->s[line->len - 1] == '\r') --line->len;
	if (mem_chr(line->s, line->len, 0) < line->len) {
		out(s, "500 NUL byte in command (#5.5.2)\r\n");
		return 0;
	}
	return 1;
}

static void dispatch(struct smtpd *s, const struct str *line)
{
	size_t vlen = mem_chr(line->s, line->len, ' ');
	size_t a = vlen;
	size_t i;
	while (a < line->len && line->s[a] == ' ') ++a;
	for (i = 0; commands[i].verb; ++i)
		if (strlen(commands[i].verb) == vlen && mem_equal_nocase(commands[i].verb, line->s, vlen))
			break;
	commands[i].fn(s, line->s + a, line->len - a);
}

int main(int argc, char **argv)
{
	struct str line = STR_INIT;
	const char *smtps;
	die_init(argv[0] ? argv[0] : "qmail-smtpd");
	/* qmail-smtpd checkpassword-program [args]: AUTH inside TLS. */
	if (argc > 1 && argv[1][0]) sess.checkpw = argv + 1;
	sig_ignore(SIGPIPE);
	sess.timeout = 1200;
	smtpd_io_init(&sess);
	die_set_nomem(nomem);
	setup(&sess);
	/* Implicit TLS (port 465): the handshake comes before the greeting. */
	smtps = env_get("SMTPS");
	if (smtps && *smtps && smtpd_tls_start(&sess, 0) == -1) _exit(1);
	greet(&sess, "220 ");
	out(&sess, " ESMTP\r\n");
	for (;;)
		if (smtpd_read_command(&sess, &line)) dispatch(&sess, &line);
}
