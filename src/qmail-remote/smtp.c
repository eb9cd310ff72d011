/* smtp: see smtp.h. Failure texts and their 4/5 split follow qmail's
 * qmail-remote, since qmail-send quotes them in bounces and logs. */
#include "smtp.h"

#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "report.h"
#include "smtpreply.h"
#include "tls.h"

#define LINEMAX   1000 /* a reply line longer than this is cut */
#define PIPEBATCH 100  /* RCPTs written before their replies are read */

static struct conn *conn;
static const struct tlspolicy *policy;
static struct smtpreply reply;
static int critical; /* the final dot is out: a drop now may duplicate */

static void put_host(void)
{
	struct str s = STR_INIT;
	ipaddr_cat(&s, &conn->peer);
	report_put(s.s, s.len);
	str_free(&s);
}

static void put_text(void)
{
	if (!reply.text.len) return;
	report_puts("Remote host said: ");
	report_put(reply.text.s, reply.text.len);
	reply.text.len = 0;
}

/* A line of its own after the server's words: the message report says
 * whether the conversation was encrypted, and how. */
static void put_tls(void)
{
	struct str s = STR_INIT;
	if (!conn->tls) return;
	str_cats(&s, "TLS: ");
	tls_describe(conn, &s);
	if (policy->level == TLSPOLICY_CA) str_cats(&s, ", certificate verified");
	if (policy->level == TLSPOLICY_PIN) str_cats(&s, ", certificate pinned");
	str_cats(&s, "\n");
	report_put(s.s, s.len);
	str_free(&s);
}

_Noreturn static void dropped(void)
{
	report_puts("ZConnected to ");
	put_host();
	report_puts(" but connection died. ");
	if (critical) report_puts("Possible duplicate! ");
	report_puts("(#4.4.2)\n");
	report_finish();
}

/* Says goodbye without waiting for the answer (it changes nothing) and
 * ends with the message report: prefix, the server's address, suffix. */
_Noreturn static void quit(const char *prefix, const char *suffix)
{
	if (buf_puts(&conn->out, "QUIT\r\n") == 0) buf_flush(&conn->out);
	report_puts(prefix);
	put_host();
	report_puts(suffix);
	report_puts(".\n");
	put_text();
	put_tls();
	report_finish();
}

static void send_b(const char *s, size_t n)
{
	if (buf_put(&conn->out, s, n) == -1) dropped();
}

static void send_s(const char *s) { send_b(s, strlen(s)); }

static void flush(void)
{
	if (buf_flush(&conn->out) == -1) dropped();
}

static unsigned get_reply(void)
{
	static struct str line;
	smtpreply_start(&reply);
	for (;;) {
		int r;
		line.len = 0;
		r = buf_getline_max(&conn->in, &line, '\n', LINEMAX);
		if (r == 2) {
			/* Keep the start of an overlong line, skip the rest. */
			struct str rest = STR_INIT;
			do {
				rest.len = 0;
				r = buf_getline_max(&conn->in, &rest, '\n', LINEMAX);
			} while (r == 2);
			str_free(&rest);
		}
		if (r != 1) dropped();
		if (smtpreply_line(&reply, line.s, line.len)) return reply.code;
	}
}

static void command(const char *verb, const struct str *arg, const char *tail)
{
	send_s(verb);
	if (arg) send_b(arg->s, arg->len);
	if (tail) send_s(tail);
	send_s("\r\n");
}

/* The message, LF turned into CR LF and leading dots doubled, then the
 * final dot. */
static void blast(const struct message *m)
{
	static char space[65536];
	struct buf in;
	int bol = 1;
	buf_init_read(&in, m->fd, space, sizeof space);
	for (;;) {
		ssize_t r = buf_fill(&in);
		const char *p;
		size_t n;
		if (r < 0) report_fail("ZUnable to read message. (#4.3.0)\n");
		if (r == 0) break;
		p = buf_peek(&in);
		n = (size_t)r;
		while (n) {
			size_t i;
			if (bol && *p == '.') send_b(".", 1);
			i = mem_chr(p, n, '\n');
			if (i == n) {
				send_b(p, n);
				bol = 0;
				break;
			}
			send_b(p, i);
			send_b("\r\n", 2);
			bol = 1;
			p += i + 1;
			n -= i + 1;
		}
		buf_skip(&in, (size_t)r);
	}
	/* Only reached when the message could not be measured first: the
	 * server sees the connection drop without a final dot and keeps
	 * nothing. */
	if (!bol)
		report_fail("DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n");
	critical = 1;
	send_b(".\r\n", 3);
	flush();
}

struct ext {
	int starttls;
	int pipelining;
	int eightbitmime;
	int sizelimited;
	unsigned long sizelimit;
};

static void ehlo_ext(struct ext *ext)
{
	memset(ext, 0, sizeof *ext);
	ext->pipelining = smtpreply_ehlo_has(&reply, "PIPELINING", 0, 0);
	ext->eightbitmime = smtpreply_ehlo_has(&reply, "8BITMIME", 0, 0);
	ext->sizelimited = smtpreply_ehlo_size(&reply, &ext->sizelimit);
	ext->starttls = smtpreply_ehlo_has(&reply, "STARTTLS", 0, 0);
}

/* Composes the report for a server that cannot meet a required TLS
 * policy: "Connected to IP but " what, then the server's words. */
static int tls_refused(struct str *why, const char *what, const struct str *detail,
                       const char *code)
{
	why->len = 0;
	str_cats(why, "Connected to ");
	ipaddr_cat(why, &conn->peer);
	str_cats(why, " but ");
	str_cats(why, what);
	if (detail) {
		str_cats(why, ": ");
		str_cat(why, detail);
	}
	str_cats(why, "; control/tlsdestinations requires TLS for this destination. ");
	str_cats(why, code);
	str_cats(why, "\n");
	if (reply.text.len) {
		str_cats(why, "Remote host said: ");
		str_cat(why, &reply.text);
		reply.text.len = 0;
	}
	return SMTP_TLS_REFUSED;
}

/* The goodbye for a server we are leaving for another try. */
static void leave(void)
{
	if (buf_puts(&conn->out, "QUIT\r\n") == 0) buf_flush(&conn->out);
}

/* After EHLO: STARTTLS when offered and the policy allows, then EHLO
 * again (RFC 3207 4.2: what the server said before no longer holds).
 * 0 to go on, or why smtp_deliver must return. */
static int starttls(const struct job *job, struct ext *ext, struct str *why)
{
	static struct str detail;
	int required = tlspolicy_required(job->tls);
	int r;
	if (job->plain || job->tls->level == TLSPOLICY_OFF) return 0;
	if (!ext->starttls) {
		if (!required) return 0;
		leave();
		reply.text.len = 0;
		return tls_refused(why, "it does not offer STARTTLS", 0, "(#4.7.4)");
	}
	command("STARTTLS", 0, 0);
	flush();
	if (get_reply() != 220) {
		/* The session goes on as it was (RFC 3207 4): in plaintext
		 * when plaintext will do. */
		if (!required) return 0;
		leave();
		return tls_refused(why, "it refused STARTTLS", 0, "(#4.7.4)");
	}
	reply.text.len = 0;
	r = tls_start(conn, job->tls, job->names, job->nnames, job->literal, &detail);
	if (r == TLS_LOCAL) {
		/* Our own set-up is broken: no server would fare better. */
		report_puts("Z");
		report_put(detail.s, detail.len);
		report_fail(". (#4.3.0)\n");
	}
	if (r == TLS_HANDSHAKE && !required) return SMTP_PLAIN_RETRY;
	if (r == TLS_HANDSHAKE)
		return tls_refused(why, "the TLS handshake failed", &detail, "(#4.7.5)");
	if (r == TLS_VERIFY)
		return tls_refused(why, "its certificate was refused", &detail, "(#4.7.5)");
	command("EHLO ", &job->helohost, 0);
	flush();
	if (get_reply() != 250) quit("ZConnected to ", " but my name was rejected after STARTTLS");
	ehlo_ext(ext);
	return 0;
}

static int hello(const struct job *job, struct ext *ext, struct str *why)
{
	unsigned code;
	memset(ext, 0, sizeof *ext);
	command("EHLO ", &job->helohost, 0);
	flush();
	code = get_reply();
	if (code == 250) {
		ehlo_ext(ext);
		return starttls(job, ext, why);
	}
	/* A server that does not know EHLO says so with a 5xx; anything else
	 * is a refusal that HELO would not change. */
	if (smtpreply_class(code) != 5) quit("ZConnected to ", " but my name was rejected");
	/* Without EHLO there is no STARTTLS. */
	if (!job->plain && tlspolicy_required(job->tls)) {
		leave();
		return tls_refused(why, "it does not speak ESMTP (no STARTTLS)", 0, "(#4.7.4)");
	}
	command("HELO ", &job->helohost, 0);
	flush();
	if (get_reply() != 250) quit("ZConnected to ", " but my name was rejected");
	return 0;
}

static void mail_from(const struct job *job, const struct ext *ext)
{
	send_s("MAIL FROM:<");
	send_b(job->sender.s, job->sender.len);
	send_s(">");
	if (ext->sizelimited && job->msg.measured) {
		struct str n = STR_INIT;
		str_cats(&n, " SIZE=");
		str_catulong(&n, job->msg.size);
		send_b(n.s, n.len);
		str_free(&n);
	}
	if (ext->eightbitmime && job->msg.measured && job->msg.eightbit) send_s(" BODY=8BITMIME");
	send_s("\r\n");
}

static void mail_reply(void)
{
	unsigned code = get_reply();
	int c = smtpreply_class(code);
	if (c == 5) quit("DConnected to ", " but sender was rejected");
	if (c == 4 || code >= 300) quit("ZConnected to ", " but sender was rejected");
}

/* Reads one RCPT reply and reports it; 1 when accepted. */
static int rcpt_reply(void)
{
	unsigned code = get_reply();
	int c = smtpreply_class(code);
	if (c == 2 && code < 300) {
		report_puts("r");
		report_end();
		return 1;
	}
	report_puts(c == 5 ? "h" : "s");
	put_host();
	report_puts(" does not like recipient.\n");
	put_text();
	report_end();
	return 0;
}

static void too_big(const struct ext *ext)
{
	struct str s = STR_INIT;
	if (buf_puts(&conn->out, "QUIT\r\n") == 0) buf_flush(&conn->out);
	report_puts("DConnected to ");
	put_host();
	str_cats(&s, " but the message is bigger than the limit it accepts (");
	str_catulong(&s, ext->sizelimit);
	str_cats(&s, " bytes). (#5.3.4)\n");
	report_put(s.s, s.len);
	str_free(&s);
	report_finish();
}

int smtp_deliver(struct conn *c, const struct job *job, struct str *why)
{
	struct ext ext;
	unsigned code;
	int accepted = 0, r;
	size_t i;
	conn = c;
	policy = job->tls;
	critical = 0;
	if (get_reply() != 220) quit("ZConnected to ", " but greeting failed");
	r = hello(job, &ext, why);
	if (r) return r;
	if (ext.sizelimited && job->msg.measured && job->msg.size > ext.sizelimit) too_big(&ext);

	if (ext.pipelining) {
		/* MAIL, the RCPTs and DATA go out together (RFC 2920); replies
		 * come back in order. Very long recipient lists go in batches
		 * so that neither side blocks writing while the other waits. */
		size_t sent = 0, read = 0;
		mail_from(job, &ext);
		while (sent < job->nrecips && sent < PIPEBATCH)
			command("RCPT TO:<", &job->recips[sent++], ">");
		if (sent == job->nrecips) command("DATA", 0, 0);
		flush();
		mail_reply();
		while (read < job->nrecips) {
			accepted |= rcpt_reply();
			++read;
			if (read == sent && sent < job->nrecips) {
				size_t stop = sent + PIPEBATCH;
				while (sent < job->nrecips && sent < stop)
					command("RCPT TO:<", &job->recips[sent++], ">");
				if (sent == job->nrecips) command("DATA", 0, 0);
				flush();
			}
		}
		code = get_reply();
		if (!accepted) {
			/* A server that said 354 anyway gets an empty message
			 * with no recipients, which it cannot deliver. */
			if (code == 354) {
				send_s(".\r\n");
				flush();
			}
			reply.text.len = 0;
			quit("DGiving up on ", "");
		}
	} else {
		mail_from(job, &ext);
		flush();
		mail_reply();
		for (i = 0; i < job->nrecips; ++i) {
			command("RCPT TO:<", &job->recips[i], ">");
			flush();
			accepted |= rcpt_reply();
		}
		if (!accepted) quit("DGiving up on ", "");
		command("DATA", 0, 0);
		flush();
		code = get_reply();
	}
	if (smtpreply_class(code) == 5) quit("D", " failed on DATA command");
	if (code < 300 || code >= 400) quit("Z", " failed on DATA command");

	blast(&job->msg);
	code = get_reply();
	critical = 0;
	if (smtpreply_class(code) == 5) quit("D", " failed after I sent the message");
	if (smtpreply_class(code) == 4 || code >= 300)
		quit("Z", " failed after I sent the message");
	quit("K", " accepted message");
}
