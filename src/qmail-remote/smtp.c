/* smtp: see smtp.h. Failure texts and their 4/5 split follow qmail's
 * qmail-remote, since qmail-send quotes them in bounces and logs. */
#include "smtp.h"

#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "report.h"
#include "smtpreply.h"

#define LINEMAX   1000 /* a reply line longer than this is cut */
#define PIPEBATCH 100  /* RCPTs written before their replies are read */

static struct conn *conn;
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
	int pipelining;
	int eightbitmime;
	int sizelimited;
	unsigned long sizelimit;
};

static void hello(const struct job *job, struct ext *ext)
{
	unsigned code;
	memset(ext, 0, sizeof *ext);
	command("EHLO ", &job->helohost, 0);
	flush();
	code = get_reply();
	if (code == 250) {
		ext->pipelining = smtpreply_ehlo_has(&reply, "PIPELINING", 0, 0);
		ext->eightbitmime = smtpreply_ehlo_has(&reply, "8BITMIME", 0, 0);
		ext->sizelimited = smtpreply_ehlo_size(&reply, &ext->sizelimit);
		return;
	}
	/* A server that does not know EHLO says so with a 5xx; anything else
	 * is a refusal that HELO would not change. */
	if (smtpreply_class(code) != 5) quit("ZConnected to ", " but my name was rejected");
	command("HELO ", &job->helohost, 0);
	flush();
	if (get_reply() != 250) quit("ZConnected to ", " but my name was rejected");
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

void smtp_deliver(struct conn *c, const struct job *job)
{
	struct ext ext;
	unsigned code;
	int accepted = 0;
	size_t i;
	conn = c;
	critical = 0;
	if (get_reply() != 220) quit("ZConnected to ", " but greeting failed");
	hello(job, &ext);
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
