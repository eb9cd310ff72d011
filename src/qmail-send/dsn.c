/* qmail-send: bounces as RFC 3464 delivery status notifications.
 *
 * With control/bouncedsn set to 1, a bounce to a sender (never a double
 * bounce) is a multipart/report; report-type=delivery-status message:
 *   1. text/plain: qmail's own QSBMF wording, exactly as the plain bounce
 *      says it, so people and QSBMF parsers read what they always read;
 *   2. message/delivery-status: Reporting-MTA and Arrival-Date, then per
 *      failed recipient Final-Recipient, Action: failed, Status and, for
 *      a refusal by a remote server, Diagnostic-Code: smtp; its reply;
 *   3. the original message as message/rfc822, or only its header as
 *      text/rfc822-headers when it is longer than control/dsnmaxbytes.
 * The Status is the remote reply's enhanced code when it has a 5.x.x
 * one, else the code qmail's report ends with ("(#5.1.1)"), else 5.0.0;
 * a message that outlived queuelifetime gets 4.4.7 (delivery time
 * expired), as RFC 3463 names it.
 *
 * Everything here only composes text; bounce.c queues it. Nothing can
 * fail but memory, which dies as everywhere in qmail-send.
 */
#include <string.h>

#include "date822.h"
#include "send.h"

#define EXPIRED_TEXT "this message has been in the queue too long"
#define REMOTE_SAID "Remote host said: "

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Length of "D.DDD.DDD" at s (class digit, then 1-3 digits twice), or 0. */
static size_t status_code_len(const char *s, size_t n)
{
	size_t i = 0;
	if (n < 5 || !is_digit(s[0]) || s[1] != '.') return 0;
	i = 2;
	for (int part = 0; part < 2; ++part) {
		size_t start = i;
		while (i < n && is_digit(s[i]) && i - start < 4) ++i;
		if (i == start || i - start > 3) return 0;
		if (part == 0) {
			if (i >= n || s[i] != '.') return 0;
			++i;
		}
	}
	if (i < n && s[i] != ' ' && s[i] != ')' && s[i] != '\n' && s[i] != '\t') return 0;
	return i;
}

/* The remote reply quoted in a report: its lines, from after "Remote host
 * said: " to the first line that is not an SMTP reply line. */
static void remote_reply(const char *r, size_t len, const char **start, size_t *rlen)
{
	size_t i, pos = 0;
	*start = 0;
	*rlen = 0;
	for (i = 0; i + sizeof REMOTE_SAID - 1 <= len; ++i)
		if (memcmp(r + i, REMOTE_SAID, sizeof REMOTE_SAID - 1) == 0) break;
	if (i + sizeof REMOTE_SAID - 1 > len) return;
	*start = r + i + sizeof REMOTE_SAID - 1;
	len -= i + sizeof REMOTE_SAID - 1;
	/* The first line always counts; later ones while they look like "ddd". */
	while (pos < len) {
		size_t nl = mem_chr(*start + pos, len - pos, '\n');
		if (pos > 0 && (nl < 3 || !is_digit((*start)[pos]) || !is_digit((*start)[pos + 1]) ||
		                !is_digit((*start)[pos + 2])))
			break;
		pos += nl + (nl < len - pos);
	}
	*rlen = pos;
}

/* Appends the Status for one failure report. */
static void cat_status(struct str *out, const char *r, size_t len, const char *reply,
                       size_t replylen)
{
	size_t n;
	if (len >= sizeof EXPIRED_TEXT - 1)
		for (size_t i = 0; i + sizeof EXPIRED_TEXT - 1 <= len; ++i)
			if (memcmp(r + i, EXPIRED_TEXT, sizeof EXPIRED_TEXT - 1) == 0) {
				str_cats(out, "4.4.7");
				return;
			}
	/* "550 5.1.1 text" or "550-5.1.1 text" */
	if (reply && replylen > 4 && (reply[3] == ' ' || reply[3] == '-') && reply[4] == '5' &&
	    (n = status_code_len(reply + 4, replylen - 4)) != 0) {
		str_catb(out, reply + 4, n);
		return;
	}
	/* qmail's own reports end with "(#5.1.1)"; take the last one. */
	for (size_t i = len; i-- > 1;) {
		if (r[i - 1] != '(' || r[i] != '#' || i + 1 >= len || r[i + 1] != '5') continue;
		if ((n = status_code_len(r + i + 1, len - i - 1)) != 0) {
			str_catb(out, r + i + 1, n);
			return;
		}
	}
	str_cats(out, "5.0.0");
}

/* Appends s as one header field value: line ends become folding, other
 * control characters become '?', so nothing can end the field early. */
static void cat_field_value(struct str *out, const char *s, size_t len)
{
	while (len && (s[len - 1] == '\n' || s[len - 1] == ' ')) --len;
	for (size_t i = 0; i < len; ++i) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			str_cats(out, "\n ");
		else if (c < 32 && c != '\t')
			str_catc(out, '?');
		else
			str_catc(out, (char)c);
	}
}

void dsn_boundary(struct str *out, unsigned long id)
{
	out->len = 0;
	str_cats(out, "nqmail-dsn-");
	str_catulong(out, id);
	str_catc(out, '-');
	str_catulong(out, (unsigned long)now);
	str_cats(out, "=_/");
}

void dsn_head(struct str *out, const struct str *boundary)
{
	str_cats(out, "MIME-Version: 1.0\nContent-Type: multipart/report; "
	              "report-type=delivery-status;\n\tboundary=\"");
	str_cat(out, boundary);
	str_cats(out, "\"\n\nThis is a MIME-formatted delivery status notification (RFC 3464).\n\n--");
	str_cat(out, boundary);
	str_cats(out, "\nContent-Type: text/plain; charset=us-ascii\n\n");
}

void dsn_status_part(struct str *out, const struct str *boundary, unsigned long birth,
                     const struct str *reports)
{
	size_t p = 0;
	str_cats(out, "\n--");
	str_cat(out, boundary);
	str_cats(out, "\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; ");
	cat_field_value(out, cfg.route.me.s, cfg.route.me.len);
	str_cats(out, "\nArrival-Date: ");
	date822_cat(out, (time_t)birth, cfg.localtime);
	str_cats(out, "\n");
	/* bounce/ID records: "index\n<address>:\nreport\n\n\0" */
	while (p < reports->len) {
		const char *rec = reports->s + p;
		size_t n = mem_chr(rec, reports->len - p, 0);
		size_t nl = mem_chr(rec, n, '\n'), end, rlen;
		const char *text, *reply;
		p += n + 1;
		if (nl == n) continue;
		text = rec + nl + 1;
		n -= nl + 1;
		end = mem_chr(text, n, '\n');
		str_cats(out, "\nFinal-Recipient: rfc822; ");
		/* "<address>:" as bounce_add wrote it */
		if (end >= 3 && text[0] == '<' && text[end - 1] == ':' && text[end - 2] == '>')
			cat_field_value(out, text + 1, end - 3);
		else
			cat_field_value(out, text, end);
		text += end + (end < n);
		n -= end + (end < n);
		str_cats(out, "\nAction: failed\nStatus: ");
		remote_reply(text, n, &reply, &rlen);
		cat_status(out, text, n, reply, rlen);
		if (reply && rlen) {
			str_cats(out, "\nDiagnostic-Code: smtp; ");
			cat_field_value(out, reply, rlen);
		}
		str_cats(out, "\n");
	}
}

void dsn_message_part(struct str *out, const struct str *boundary, int headers_only)
{
	str_cats(out, "\n--");
	str_cat(out, boundary);
	str_cats(out, headers_only ? "\nContent-Type: text/rfc822-headers\n\n"
	                           : "\nContent-Type: message/rfc822\n\n");
}

void dsn_end(struct str *out, const struct str *boundary, int ends_in_newline)
{
	if (!ends_in_newline) str_catc(out, '\n');
	str_cats(out, "\n--");
	str_cat(out, boundary);
	str_cats(out, "--\n");
}
