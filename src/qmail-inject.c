/* qmail-inject: prepares a message from a local user and queues it.
 *
 * Reads a message on stdin, completes and rewrites its header as
 * qmail-header(5) describes (Date, Message-ID and From added when missing,
 * addresses qualified with defaulthost, defaultdomain and plusdomain,
 * Bcc, Return-Path and Content-Length removed, Resent- fields for
 * forwarded messages), decides the envelope sender and recipients from
 * the options of qmail-inject(8), its environment variables and the
 * header, and hands the result to qmail-queue (or prints it with -n).
 *
 * Exit codes: 0 queued (or printed); 100 bad usage, an unparsable sender
 * field or address, or a permanent refusal by qmail-queue; 111 anything
 * temporary (control files unreadable, qmail-queue failing).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "ctl.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "qq.h"
#include "str.h"
#include "rfc822.h"

#define LINELEN 80

/* Header fields qmail-inject treats specially. */
enum hfield {
	H_OTHER,
	H_SENDER,
	H_FROM,
	H_REPLYTO,
	H_TO,
	H_CC,
	H_BCC,
	H_DATE,
	H_MESSAGEID,
	H_R_SENDER,
	H_R_FROM,
	H_R_REPLYTO,
	H_R_TO,
	H_R_CC,
	H_R_BCC,
	H_R_DATE,
	H_R_MESSAGEID,
	H_RETURNRECEIPTTO,
	H_ERRORSTO,
	H_APPARENTLYTO,
	H_RETURNPATH,
	H_CONTENTLENGTH,
	H_MAILFOLLOWUPTO,
	H_COUNT
};

static const char *const hfield_names[H_COUNT] = {
    "",
    "sender",
    "from",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "date",
    "message-id",
    "resent-sender",
    "resent-from",
    "resent-reply-to",
    "resent-to",
    "resent-cc",
    "resent-bcc",
    "resent-date",
    "resent-message-id",
    "return-receipt-to",
    "errors-to",
    "apparently-to",
    "return-path",
    "content-length",
    "mail-followup-to",
};

/* An address list, kept as NUL-terminated strings one after the other. */
struct addrs {
	struct str all;
	size_t count;
};

static struct {
	int delete_returnpath; /* QMAILINJECT s */
	int delete_from;       /* f */
	int delete_messageid;  /* i */
	int name_comment;      /* c */
	int verp_message;      /* m */
	int verp_recipient;    /* r */
} opt;

static const char *mailhost, *mailuser, *mailrhost, *mailruser;
static struct rfc822_tokens defaulthost, defaultdomain,
    plusdomain; /* "@host", ".domain", ".plus" */
static struct str idhost;
static int use_localtime;
static time_t starttime;

static int to_queue = 1;
static struct qq qq;
static struct buf stdout_buf;
static char outspace[8192];

static struct str sender;
static int sender_set;
static struct addrs recips_args, recips_header, recips_resent;
static struct addrs to_cc;   /* To and Cc addresses, for Mail-Followup-To */
static struct str mft_lists; /* QMAILMFTFILE: the lists we post to */
static int mft_wanted;
static int seen[H_COUNT];
static int resent;
static struct str saved_header; /* rewritten fields, printed after the new ones */

static void addrs_add(struct addrs *a, const struct str *addr)
{
	str_cat(&a->all, addr);
	str_catc(&a->all, 0);
	++a->count;
}

static void put(const char *s, size_t len)
{
	if (len == 0) return; /* an empty str may have no buffer at all */
	if (to_queue)
		qq_put(&qq, s, len);
	else if (buf_put(&stdout_buf, s, len) == -1)
		die_temp_sys("unable to write output");
}

static void puts_(const char *s) { put(s, strlen(s)); }
static void putstr(const struct str *s) { put(s->s, s->len); }

static _Noreturn void die_parse(const struct str *line)
{
	struct str l = STR_INIT;
	str_copy(&l, line);
	str_chomp(&l);
	die_perm("unable to parse this line: ", str_cstr(&l));
}

/* Field name matching as qmail: case-insensitive letters, optional white
 * space before the colon. */
static enum hfield hfield_known(const char *s, size_t len)
{
	int h;
	for (h = 1; h < H_COUNT; ++h) {
		const char *n = hfield_names[h];
		size_t i, nl = strlen(n);
		if (len < nl || !mem_equal_nocase(s, n, nl)) continue;
		for (i = nl; i < len && (s[i] == ' ' || s[i] == '\t'); ++i) {
		}
		if (i < len && s[i] == ':') return (enum hfield)h;
	}
	return H_OTHER;
}

/* A field name is non-empty printable ASCII without spaces, then
 * optional white space and a colon. */
static int hfield_valid(const char *s, size_t len)
{
	size_t colon = mem_chr(s, len, ':'), end, i;
	if (colon == len) return 0;
	for (end = colon; end > 0 && (s[end - 1] == ' ' || s[end - 1] == '\t'); --end) {
	}
	if (end == 0) return 0;
	for (i = 0; i < end; ++i)
		if ((unsigned char)s[i] <= 32 || (unsigned char)s[i] >= 127) return 0;
	return 1;
}

/* --- address rewriting (qmail-header(5): ADDRESS LISTS) --- */

static void append_list(struct rfc822_tokens *addr, const struct rfc822_tokens *add)
{
	size_t i;
	for (i = 0; i < add->len; ++i)
		rfc822_append_tok(addr, &add->t[i]);
}

static void rewrite_address(struct rfc822_tokens *a)
{
	size_t i, n;
	if (a->len == 0) return; /* <> stays <> */
	/* <foo@[]> is left alone. */
	if (a->len >= 2 && a->t[a->len - 1].type == RFC822_LITERAL &&
	    a->t[a->len - 1].text.len == 0 && a->t[a->len - 2].type == RFC822_AT)
		return;
	/* Source routes are dropped: <@a,@b:user@host> -> <user@host>. */
	if (a->t[0].type == RFC822_AT) {
		for (n = 0; n < a->len && a->t[n].type != RFC822_COLON; ++n) {
		}
		rfc822_remove(a, 0, n + 1);
		if (a->len == 0) return;
	}
	if (a->t[a->len - 1].type == RFC822_DOT) rfc822_remove(a, a->len - 1, 1);
	if (a->len == 0) return;
	if (a->t[a->len - 1].type == RFC822_AT) rfc822_remove(a, a->len - 1, 1);
	if (a->len == 0) return;

	for (i = 0; i < a->len && a->t[i].type != RFC822_AT; ++i) {
	}
	if (i == a->len) append_list(a, &defaulthost);

	/* host+ -> host.plusdomain */
	{
		struct rfc822_token *last = &a->t[a->len - 1];
		if (last->type == RFC822_ATOM && last->text.len &&
		    last->text.s[last->text.len - 1] == '+') {
			--last->text.len;
			append_list(a, &plusdomain);
		}
	}
	/* A host name without dots gets the default domain. */
	for (i = a->len; i > 0 && a->t[i - 1].type != RFC822_AT; --i)
		if (a->t[i - 1].type == RFC822_DOT || a->t[i - 1].type == RFC822_LITERAL) return;
	append_list(a, &defaultdomain);
}

static void set_sender_from(const struct rfc822_tokens *a)
{
	if (sender_set) return;
	rfc822_unquote(&sender, a);
	if (opt.verp_recipient) str_cats(&sender, "-@[]");
	sender_set = 1;
}

struct rw_ctx {
	enum hfield h;
};

static void rw_field(struct rfc822_tokens *a, void *vctx)
{
	struct rw_ctx *ctx = vctx;
	struct str plain = STR_INIT;
	rewrite_address(a);
	switch (ctx->h) {
	case H_RETURNPATH: set_sender_from(a); break;
	case H_TO:
	case H_CC:
		rfc822_unquote(&plain, a);
		addrs_add(&recips_header, &plain);
		addrs_add(&to_cc, &plain);
		break;
	case H_BCC:
	case H_APPARENTLYTO:
		rfc822_unquote(&plain, a);
		addrs_add(&recips_header, &plain);
		break;
	case H_R_TO:
	case H_R_CC:
	case H_R_BCC:
		rfc822_unquote(&plain, a);
		addrs_add(&recips_resent, &plain);
		break;
	default: break;
	}
	str_free(&plain);
}

/* Parses field, rewrites its addresses, replaces field with the result.
 * 1 done, 0 the field could not be parsed. */
static int rewrite_field(struct str *field, enum hfield h)
{
	struct rfc822_tokens in = RFC822_TOKENS_INIT, outl = RFC822_TOKENS_INIT;
	struct rw_ctx ctx = {h};
	int ok = rfc822_parse(&in, field->s, field->len) &&
	         rfc822_addrlist(&outl, &in, 2, rw_field, &ctx);
	if (ok) rfc822_unparse(field, &outl, LINELEN);
	rfc822_free(&in);
	rfc822_free(&outl);
	return ok;
}

static void header_field(struct str *field)
{
	enum hfield h = hfield_known(field->s, field->len);
	int may_fail = 0;
	if (opt.delete_from && h == H_FROM) return;
	if (opt.delete_messageid && h == H_MESSAGEID) return;
	if (opt.delete_returnpath && h == H_RETURNPATH) return;
	if (h)
		seen[h] = 1;
	else if (!hfield_valid(field->s, field->len))
		die_perm("invalid header field: ", str_cstr(field));

	switch (h) {
	case H_TO:
	case H_CC:
	case H_BCC:
	case H_APPARENTLYTO:
	case H_R_TO:
	case H_R_CC:
	case H_R_BCC:
		/* A recipient list we cannot parse is passed on unchanged. */
		may_fail = 1;
		/* fall through */
	case H_RETURNPATH:
	case H_SENDER:
	case H_FROM:
	case H_REPLYTO:
	case H_RETURNRECEIPTTO:
	case H_ERRORSTO:
	case H_R_SENDER:
	case H_R_FROM:
	case H_R_REPLYTO:
		if (!rewrite_field(field, h) && !may_fail) die_parse(field);
		break;
	default: break;
	}
	if (h == H_BCC || h == H_R_BCC || h == H_RETURNPATH || h == H_CONTENTLENGTH) return;
	str_cat(&saved_header, field);
}

/* --- fields qmail-inject makes --- */

/* Builds "Name: tokens" as text, parses it back and rewrites it as a
 * header field would be: the same path a user's own field takes. */
static void make_field(struct str *result, struct rfc822_tokens *tl, enum hfield h)
{
	struct str text = STR_INIT;
	rfc822_unparse(&text, tl, LINELEN);
	str_copy(result, &text);
	if (!rewrite_field(result, h)) die_parse(&text);
	str_free(&text);
}

static void default_from(struct str *result)
{
	struct rfc822_tokens tl = RFC822_TOKENS_INIT;
	const char *name = env_get("QMAILNAME");
	if (!name) name = env_get("MAILNAME");
	if (!name) name = env_get("NAME");
	rfc822_append(&tl, RFC822_ATOM, "From", 4);
	rfc822_append(&tl, RFC822_COLON, "", 0);
	if (name && !opt.name_comment) {
		rfc822_append(&tl, RFC822_QUOTE, name, strlen(name));
		rfc822_append(&tl, RFC822_LEFT, "", 0);
	}
	rfc822_append(&tl,
	              rfc822_quote_needed(mailuser, strlen(mailuser)) ? RFC822_QUOTE : RFC822_ATOM,
	              mailuser, strlen(mailuser));
	if (mailhost) {
		rfc822_append(&tl, RFC822_AT, "", 0);
		rfc822_append(&tl, RFC822_ATOM, mailhost, strlen(mailhost));
	}
	if (name && !opt.name_comment) rfc822_append(&tl, RFC822_RIGHT, "", 0);
	if (name && opt.name_comment) rfc822_append(&tl, RFC822_COMMENT, name, strlen(name));
	make_field(result, &tl, H_FROM);
	rfc822_free(&tl);
}

/* The envelope sender when neither -f nor Return-Path gave one. */
static void default_sender(void)
{
	struct rfc822_tokens tl = RFC822_TOKENS_INIT;
	struct str user = STR_INIT, ignored = STR_INIT;
	str_copys(&user, mailruser);
	if (opt.verp_message) {
		str_catc(&user, '-');
		str_catulong(&user, (unsigned long)starttime);
		str_catc(&user, '.');
		str_catulong(&user, (unsigned long)getpid());
	}
	if (opt.verp_recipient) str_catc(&user, '-');
	rfc822_append(&tl, RFC822_ATOM, "Return-Path", 11);
	rfc822_append(&tl, RFC822_COLON, "", 0);
	rfc822_append(&tl, RFC822_QUOTE, user.s, user.len);
	if (mailrhost) {
		rfc822_append(&tl, RFC822_AT, "", 0);
		rfc822_append(&tl, RFC822_ATOM, mailrhost, strlen(mailrhost));
	}
	make_field(&ignored, &tl, H_RETURNPATH);
	rfc822_free(&tl);
	str_free(&user);
	str_free(&ignored);
}

static void date_field(struct str *f, const char *prefix)
{
	f->len = 0;
	str_cats(f, prefix);
	str_cats(f, "Date: ");
	date822_cat(f, starttime, use_localtime);
	str_catc(f, '\n');
}

static void messageid_field(struct str *f, const char *prefix)
{
	struct tm tm;
	gmtime_r(&starttime, &tm);
	f->len = 0;
	str_cats(f, prefix);
	str_cats(f, "Message-ID: <");
	str_catulong(f, (unsigned long)tm.tm_year + 1900);
	str_catulong0(f, (unsigned long)tm.tm_mon + 1, 2);
	str_catulong0(f, (unsigned long)tm.tm_mday, 2);
	str_catulong0(f, (unsigned long)tm.tm_hour, 2);
	str_catulong0(f, (unsigned long)tm.tm_min, 2);
	str_catulong0(f, (unsigned long)tm.tm_sec, 2);
	str_catc(f, '.');
	str_catulong(f, (unsigned long)getpid());
	str_cats(f, ".qmail@");
	str_cat(f, &idhost);
	str_cats(f, ">\n");
}

/* With QMAILMFTFILE, a message to one of the mailing lists it names gets
 * "Mail-Followup-To:" with its To and Cc addresses, so that replies go to
 * the list rather than to the author too. The addresses come out in
 * qmail's order: fields last to first, each field's addresses in order. */
static void mail_followup_to(void)
{
	size_t pos, n, i, found = 0;
	const char **list;
	struct str q = STR_INIT;
	if (!mft_wanted || seen[H_MAILFOLLOWUPTO] || to_cc.count == 0) return;
	for (pos = 0; pos < to_cc.all.len && !found; pos += strlen(to_cc.all.s + pos) + 1) {
		size_t lpos = 0, llen;
		const char *l;
		const char *a = to_cc.all.s + pos;
		while (!found && (l = ctl_next(&mft_lists, &lpos, &llen)) != 0)
			found = llen == strlen(a) && mem_equal_nocase(l, a, llen); /* "without regard to case" */
	}
	if (!found) return;
	list = calloc(to_cc.count, sizeof *list);
	if (!list) die_nomem();
	for (pos = 0, n = 0; pos < to_cc.all.len; pos += strlen(to_cc.all.s + pos) + 1)
		list[n++] = to_cc.all.s + pos;
	puts_("Mail-Followup-To: ");
	for (i = n; i-- > 0;) {
		q.len = 0;
		rfc822_quote_addr(&q, list[i], strlen(list[i]));
		putstr(&q);
		if (i) puts_(",\n  ");
	}
	puts_("\n");
	free(list);
	str_free(&q);
}

static void finish_header(void)
{
	struct str f = STR_INIT;
	resent = seen[H_R_SENDER] || seen[H_R_FROM] || seen[H_R_REPLYTO] || seen[H_R_TO] ||
	         seen[H_R_CC] || seen[H_R_BCC] || seen[H_R_DATE] || seen[H_R_MESSAGEID];
	if (!sender_set) default_sender();

	if (!to_queue) {
		struct str q = STR_INIT;
		rfc822_quote_addr(&q, sender.s, sender.len);
		puts_("Return-Path: <");
		putstr(&q);
		puts_(">\n");
		str_free(&q);
	} else if (qq_open(&qq) == -1) {
		die_temp_sys("unable to run qmail-queue");
	}

	if (resent) {
		if (!seen[H_R_DATE]) {
			date_field(&f, "Resent-");
			putstr(&f);
		}
		if (!seen[H_R_MESSAGEID]) {
			messageid_field(&f, "Resent-");
			putstr(&f);
		}
		if (!seen[H_R_FROM]) {
			default_from(&f);
			puts_("Resent-");
			putstr(&f);
		}
		if (!seen[H_R_TO] && !seen[H_R_CC])
			puts_("Resent-Cc: recipient list not shown: ;\n");
	} else {
		if (!seen[H_DATE]) {
			date_field(&f, "");
			putstr(&f);
		}
		if (!seen[H_MESSAGEID]) {
			messageid_field(&f, "");
			putstr(&f);
		}
		if (!seen[H_FROM]) {
			default_from(&f);
			putstr(&f);
		}
		if (!seen[H_TO] && !seen[H_CC]) puts_("Cc: recipient list not shown: ;\n");
		mail_followup_to();
	}
	putstr(&saved_header);
	str_free(&f);
}

/* --- reading the message --- */

/* One line with its newline (added when the input lacks one).
 * 1 line, 0 end of input. */
static int read_line(struct buf *in, struct str *line)
{
	int r;
	line->len = 0;
	r = buf_getline(in, line, '\n');
	if (r == -1) die_temp_sys("unable to read message");
	if (r == 1) return 1;
	if (line->len == 0) return 0;
	str_catc(line, '\n');
	return 1;
}

/* Splits the input into header fields and body as qmail does: a header
 * ends at an empty line or at the first line that is not a field (an
 * empty line is then supplied); an mbox "From " line becomes the field
 * "MBOX-Line:". */
static void process_message(int fd)
{
	char space[8192];
	struct buf in;
	struct str field = STR_INIT, line = STR_INIT;
	int have_field = 0, eof = 0;

	buf_init_read(&in, fd, space, sizeof space);
	for (;;) {
		if (!read_line(&in, &line)) {
			if (have_field) header_field(&field);
			finish_header();
			eof = 1;
			break;
		}
		if (have_field) {
			if (line.s[0] == ' ' || line.s[0] == '\t') {
				str_cat(&field, &line);
				continue;
			}
			header_field(&field);
		}
		if (line.len == 1) {
			finish_header();
			putstr(&line);
			break;
		}
		if (line.len >= 5 && memcmp(line.s, "From ", 5) == 0) {
			str_copys(&field, "MBOX-Line: ");
			str_cat(&field, &line);
		} else if (hfield_valid(line.s, line.len)) {
			str_copy(&field, &line);
		} else {
			finish_header();
			puts_("\n");
			putstr(&line);
			break;
		}
		have_field = 1;
	}
	while (!eof && read_line(&in, &line))
		putstr(&line);
	str_free(&field);
	str_free(&line);
}

/* --- configuration --- */

static void control_default_me(const char *fn, struct str *out)
{
	struct str me = STR_INIT;
	int r = ctl_read_line("control/me", &me, 0);
	if (r == -1) die_temp_sys("unable to read control/me");
	r = ctl_read_line(fn, out, r == 1 ? str_cstr(&me) : fn + 8);
	if (r == -1) die_temp_sys("unable to read ", fn);
	str_free(&me);
}

static void control_tokens(const char *fn, const char *envname, const char *prefix,
                           struct rfc822_tokens *tl)
{
	struct str v = STR_INIT, text = STR_INIT;
	const char *e = env_get(envname);
	if (e)
		str_copys(&v, e);
	else
		control_default_me(fn, &v);
	str_copys(&text, prefix);
	str_cat(&text, &v);
	if (!rfc822_parse(tl, text.s, text.len)) die_parse(&text);
	str_free(&v);
	str_free(&text);
}

/* Read before the chdir to the install root: the name is the user's. */
static void read_mft_file(void)
{
	const char *fn = env_get("QMAILMFTFILE");
	int r;
	if (!fn) return;
	r = ctl_read_lines(fn, &mft_lists);
	if (r == -1) die_temp_sys("unable to read ", fn);
	mft_wanted = r == 1;
}

static void read_controls(void)
{
	const char *e;
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to " AUTO_PREFIX);
	control_tokens("control/defaultdomain", "QMAILDEFAULTDOMAIN", ".", &defaultdomain);
	control_tokens("control/defaulthost", "QMAILDEFAULTHOST", "@", &defaulthost);
	control_tokens("control/plusdomain", "QMAILPLUSDOMAIN", ".", &plusdomain);
	e = env_get("QMAILIDHOST");
	if (e)
		str_copys(&idhost, e);
	else
		control_default_me("control/idhost", &idhost);
	use_localtime = date822_localtime_wanted();
}

static void read_environment(void)
{
	const char *q = env_get("QMAILINJECT");
	for (; q && *q; ++q) {
		switch (*q) {
		case 'c': opt.name_comment = 1; break;
		case 's': opt.delete_returnpath = 1; break;
		case 'f': opt.delete_from = 1; break;
		case 'i': opt.delete_messageid = 1; break;
		case 'r': opt.verp_recipient = 1; break;
		case 'm': opt.verp_message = 1; break;
		default: break;
		}
	}
	mailhost = env_get("QMAILHOST");
	if (!mailhost) mailhost = env_get("MAILHOST");
	mailrhost = env_get("QMAILSHOST");
	if (!mailrhost) mailrhost = mailhost;
	mailuser = env_get("QMAILUSER");
	if (!mailuser) mailuser = env_get("MAILUSER");
	if (!mailuser) mailuser = env_get("USER");
	if (!mailuser) mailuser = env_get("LOGNAME");
	if (!mailuser) mailuser = "anonymous";
	mailruser = env_get("QMAILSUSER");
	if (!mailruser) mailruser = mailuser;
}

/* An address given on the command line, qualified like a header one. */
static void command_line_address(const char *arg, struct str *result, int is_sender)
{
	struct str quoted = STR_INIT;
	struct rfc822_tokens tl = RFC822_TOKENS_INIT;
	rfc822_quote_addr(&quoted, arg, strlen(arg));
	if (!rfc822_parse(&tl, quoted.s ? quoted.s : "", quoted.len)) {
		if (is_sender) die_parse(&quoted);
		die_perm("unable to parse address: ", arg);
	}
	rewrite_address(&tl);
	rfc822_unquote(result, &tl);
	rfc822_free(&tl);
	str_free(&quoted);
}

static void send_envelope(void)
{
	const struct addrs *lists[2];
	const char *report;
	size_t i, pos;
	int n = 0;
	str_cstr(&sender);
	qq_from(&qq, sender.s);
	lists[n++] = &recips_args;
	if (recips_header.count || recips_resent.count)
		lists[n++] = resent ? &recips_resent : &recips_header;
	for (i = 0; i < (size_t)n; ++i)
		for (pos = 0; pos < lists[i]->all.len; pos += strlen(lists[i]->all.s + pos) + 1)
			qq_to(&qq, lists[i]->all.s + pos);
	report = qq_close(&qq);
	if (!*report) return;
	if (*report == 'D') die_perm(report + 1);
	die_temp(report + 1);
}

enum strategy { RECIP_DEFAULT, RECIP_ARGS, RECIP_HEADER, RECIP_BOTH };

int main(int argc, char **argv)
{
	enum strategy strategy = RECIP_DEFAULT;
	int c, i, use_header;

	die_init("qmail-inject");
	signal(SIGPIPE, SIG_IGN);
	starttime = time(0);
	read_environment();
	read_mft_file();
	read_controls();

	while ((c = getopt(argc, argv, "aAhHnNf:")) != -1) {
		switch (c) {
		case 'a': strategy = RECIP_ARGS; break;
		case 'A': strategy = RECIP_DEFAULT; break;
		case 'h': strategy = RECIP_HEADER; break;
		case 'H': strategy = RECIP_BOTH; break;
		case 'n': to_queue = 0; break;
		case 'N': to_queue = 1; break;
		case 'f':
			/* -f beats Return-Path and the environment. */
			command_line_address(optarg, &sender, 1);
			sender_set = 1;
			break;
		default: die_usage("qmail-inject [ -nNaAhH ] [ -fsender ] [ recip ... ]");
		}
	}
	if (strategy == RECIP_DEFAULT) strategy = optind < argc ? RECIP_ARGS : RECIP_HEADER;
	if (strategy != RECIP_HEADER)
		for (i = optind; i < argc; ++i) {
			struct str r = STR_INIT;
			command_line_address(argv[i], &r, 0);
			addrs_add(&recips_args, &r);
			str_free(&r);
		}
	use_header = strategy != RECIP_ARGS;

	buf_init_write(&stdout_buf, 1, outspace, sizeof outspace);
	process_message(0);
	if (!to_queue) {
		if (buf_flush(&stdout_buf) == -1) die_temp_sys("unable to write output");
		return 0;
	}
	if (!use_header) {
		recips_header.count = recips_resent.count = 0;
		recips_header.all.len = recips_resent.all.len = 0;
	}
	send_envelope();
	return 0;
}
