/* qmail-smtpd's DATA command: reads the message (decoded by lib/smtpdata:
 * only CR LF "." CR LF ends it, a bare LF ends the session with qmail's
 * 451, a bare CR is data, so SMTP smuggling cannot work), counts hops
 * and bytes, hands it to the queue with a Received line on top, and turns
 * the queue's verdict into the reply.
 */
#include <time.h>

#include "date822.h"
#include "qq.h"
#include "smtpd.h"
#include "smtpdata.h"

struct reader {
	struct smtpd *s;
	struct qq *q;
	int inheader;
	size_t hlen;               /* bytes of the current header line seen */
	char hname[14];            /* its first bytes, for hop counting */
	unsigned long hops;
	unsigned long stored;      /* bytes given to the queue */
	int toobig;
};

static int prefix_nocase(const char *s, size_t len, const char *p)
{
	size_t i;
	for (i = 0; p[i]; ++i) {
		char c = i < len ? s[i] : 0;
		if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
		if (c != p[i]) return 0;
	}
	return 1;
}

/* Follows the header for hop counting; runs only until the blank line. */
static void header_bytes(struct reader *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n && r->inheader; ++i) {
		size_t k;
		if (p[i] != '\n') {
			if (r->hlen < sizeof r->hname) r->hname[r->hlen] = p[i];
			++r->hlen;
			continue;
		}
		if (r->hlen == 0) {
			r->inheader = 0;
			break;
		}
		k = r->hlen < sizeof r->hname ? r->hlen : sizeof r->hname;
		/* qmail counts every header line that begins "received" or
		 * "delivered", in any case: "Received :", "Delivered-By:" and
		 * "Received-SPF:" too. A loop check must not be easy to dodge. */
		if (prefix_nocase(r->hname, k, "received") || prefix_nocase(r->hname, k, "delivered"))
			++r->hops;
		r->hlen = 0;
	}
}

static void emit(void *ctx, const char *p, size_t n)
{
	struct reader *r = ctx;
	if (r->inheader) header_bytes(r, p, n);
	if (r->toobig) return;
	r->stored += n;
	if (r->s->databytes && (r->stored > r->s->databytes || r->stored < n)) {
		/* databytes counts the message as stored; past it we keep
		 * reading to the end but the queue gets nothing more. */
		r->toobig = 1;
		qq_fail(r->q);
		return;
	}
	qq_put(r->q, p, n);
}

static void read_message(struct reader *r)
{
	struct smtpdata d;
	smtpdata_start(&d);
	for (;;) {
		size_t used;
		int res;
		ssize_t got = buf_fill(&r->s->in);
		if (got <= 0) smtpd_read_failed(r->s, got == 0);
		res = smtpdata_feed(&d, buf_peek(&r->s->in), buf_avail(&r->s->in), &used, emit, r);
		buf_skip(&r->s->in, used);
		if (res == SMTPDATA_END) return;
		if (res == SMTPDATA_BARELF)
			out_die(r->s, "451 See http://pobox.com/~djb/docs/smtplf.html.\r\n", 1);
	}
}

/* qmail's character set for Received: values from outside; anything else
 * becomes '?', so no client can forge a header line or a control byte. */
static void safe_cat(struct str *o, const char *v)
{
	for (; *v; ++v) {
		char c = *v;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!ok) {
			switch (c) {
			case '.': case '@': case '%': case '+': case '/': case '=':
			case ':': case '-': case '[': case ']':
				ok = 1;
			}
		}
		str_catc(o, ok ? c : '?');
	}
}

/* "Received: from HOST (HELO helo) (info@IP)\n  by LOCAL with SMTP; DATE\n",
 * the HELO part only when the client named itself differently. Inside
 * TLS "with SMTP" becomes "with ESMTPS (TLSv1.3 cipher NAME)", ESMTPSA
 * after AUTH, and info is the authenticated user. */
static void received(struct smtpd *s, struct qq *q)
{
	struct str r = STR_INIT;
	str_cats(&r, "Received: from ");
	safe_cat(&r, s->remotehost);
	if (s->fakehelo) {
		str_cats(&r, " (HELO ");
		safe_cat(&r, str_cstr(&s->helo));
		str_catc(&r, ')');
	}
	str_cats(&r, " (");
	if (s->remoteinfo) {
		safe_cat(&r, s->remoteinfo);
		str_catc(&r, '@');
	}
	safe_cat(&r, s->remoteip);
	str_cats(&r, ")\n  by ");
	safe_cat(&r, s->local);
	if (!s->tlsinfo.len) {
		str_cats(&r, " with SMTP; ");
	} else { /* RFC 3848's names; the TLS version and cipher in parentheses */
		str_cats(&r, s->authuser.len ? " with ESMTPSA (" : " with ESMTPS (");
		str_cat(&r, &s->tlsinfo);
		str_cats(&r, "); ");
	}
	date822_cat(&r, time(0), s->localtime);
	str_catc(&r, '\n');
	qq_put(q, r.s, r.len);
	str_free(&r);
}

/* The one place where the queue's verdict becomes an SMTP reply. */
static void reply_verdict(struct smtpd *s, const char *qqx, const struct reader *r,
                          unsigned long qp)
{
	struct str line = STR_INIT;
	if (!*qqx) {
		str_cats(&line, "250 ok ");
		str_catulong(&line, (unsigned long)time(0));
		str_cats(&line, " qp ");
		str_catulong(&line, qp);
		str_cats(&line, "\r\n");
	} else if (r->hops >= SMTPD_MAXHOPS) {
		str_cats(&line, "554 too many hops, this message is looping (#5.4.6)\r\n");
	} else if (r->toobig) {
		str_cats(&line, "552 sorry, that message size exceeds my databytes limit (#5.3.4)\r\n");
	} else {
		str_cats(&line, *qqx == 'D' ? "554 " : "451 ");
		str_cats(&line, qqx + 1);
		str_cats(&line, "\r\n");
	}
	outb(s, line.s, line.len);
	str_free(&line);
}

void smtpd_data(struct smtpd *s)
{
	struct qq q;
	struct reader r = {0};
	const char *qqx;
	size_t pos = 0;
	unsigned long qp;
	if (!s->seenmail) {
		out(s, "503 MAIL first (#5.5.1)\r\n");
		return;
	}
	if (!s->nrcpt) {
		out(s, "503 RCPT first (#5.5.1)\r\n");
		return;
	}
	s->seenmail = 0;
	if (qq_open(&q) == -1) {
		out(s, "451 qqt failure (#4.3.0)\r\n");
		return;
	}
	qp = (unsigned long)q.pid;
	out(s, "354 go ahead\r\n");
	received(s, &q);
	r.s = s;
	r.q = &q;
	r.inheader = 1;
	read_message(&r);
	if (r.hops >= SMTPD_MAXHOPS) qq_fail(&q);
	qq_from(&q, str_cstr(&s->mailfrom));
	while (pos < s->rcpts.len) {
		const char *rcpt = s->rcpts.s + pos;
		qq_to(&q, rcpt);
		while (s->rcpts.s[pos]) ++pos;
		++pos;
	}
	qqx = qq_close(&q);
	reply_verdict(s, qqx, &r, qp);
}
