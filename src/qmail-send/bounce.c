/* qmail-send: failure reports, bounces, and finishing messages.
 *
 * A permanent failure appends a record to bounce/ID before the
 * recipient's status says FAILED, so a failure never goes unexplained.
 * When nothing of a message is in flight, one bounce carries every
 * recipient that failed since the last bounce (qmail's QSBMF wording) to
 * the sender, even while other recipients wait for a retry; a bounce that fails goes to doublebounceto@doublebouncehost;
 * a double bounce that fails is dropped and logged. The bounce is handed
 * to qmail-queue (durable) before the failures are marked done, so a
 * crash can repeat a bounce but never lose one. Then qmail-clean removes
 * mess/ID, and we remove info/ID and bounce/ID.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "date822.h"
#include "die.h"
#include "durable.h"
#include "qq.h"
#include "queue.h"
#include "send.h"

static void try_later(struct msg *m);

static void bounce_name(struct str *fn, unsigned long id) { queue_path(fn, "bounce", id); }

/* qmail shows the address as the sender wrote it: "joe-x@example.com"
 * delivered through virtualdomains "example.com:joe" is "x@example.com". */
static void strip_prepend(struct str *out, const char *r, size_t len)
{
	size_t at = mem_rchr(r, len, '@'), plen;
	const char *p;
	str_copyb(out, r, len);
	if (at == len) return;
	/* search the domain the way route_recipient does */
	{
		struct str probe = STR_INIT;
		str_copys(&probe, "x@");
		str_catb(&probe, r + at + 1, len - at - 1);
		p = route_virtual_prepend(&cfg.route, probe.s, probe.len, &plen);
		str_free(&probe);
	}
	if (!p || plen + 1 > at || memcmp(r, p, plen) != 0 || r[plen] != '-') return;
	str_copyb(out, r + plen + 1, len - plen - 1);
}

void bounce_add(struct msg *m, unsigned idx, const char *recip, size_t rlen, const char *report,
                size_t len)
{
	struct str rec = STR_INIT, text = STR_INIT, shown = STR_INIT, fn = STR_INIT;
	int fd;
	strip_prepend(&shown, recip, rlen);
	for (size_t i = 0; i < shown.len; ++i)
		if (shown.s[i] == '\n') shown.s[i] = '_';
	str_cats(&text, "<");
	str_cat(&text, &shown);
	str_cats(&text, ">:\n");
	str_catb(&text, report, len);
	if (len && report[len - 1] != '\n') str_catc(&text, '\n');
	/* a blank line inside a report would end the recipient's paragraph */
	for (size_t i = text.len >= 2 ? text.len - 2 : 0; i > 0; --i)
		if (text.s[i] == '\n' && text.s[i - 1] == '\n') text.s[i] = '/';
	str_catc(&text, '\n');
	for (size_t i = 0; i < text.len; ++i)
		if (text.s[i] == 0) text.s[i] = '_';
	/* record: index, newline, text, NUL */
	str_catulong(&rec, idx);
	str_catc(&rec, '\n');
	str_cat(&rec, &text);
	str_catc(&rec, 0);
	bounce_name(&fn, m->id);
	fd = open(str_cstr(&fn), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || durable_write_all(fd, rec.s, rec.len) == -1)
		say("alert: unable to append to ", fn.s, "; the bounce will lack this report");
	if (fd != -1) close(fd);
	str_free(&rec);
	str_free(&text);
	str_free(&shown);
	str_free(&fn);
}

static int read_file(const char *fn, struct str *out)
{
	char buf[8192];
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	out->len = 0;
	if (fd == -1) return errno == ENOENT ? 0 : -1;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) { close(fd); return -1; }
		if (r == 0) break;
		str_catb(out, buf, (size_t)r);
	}
	close(fd);
	return 1;
}

/* Rewrites every FAILED status as DONE or, when bounce/ID has no report
 * for it (lost in a crash), as TODO so that it is tried again. */
static int settle_failures(struct msg *m, const struct str *reports, int keep_unexplained)
{
	struct str fn = STR_INIT, data = STR_INIT;
	struct queue_info qi = {0, 0, {0, 0}, 0, STR_INIT, STR_INIT};
	size_t i, base;
	unsigned k = 0;
	int fd, r = -1;
	msgs_info_name(&fn, m->id);
	fd = open(str_cstr(&fn), O_RDWR | O_CLOEXEC);
	if (fd == -1 || read_file(fn.s, &data) != 1 || queue_info_parse(data.s, data.len, &qi) == -1)
		goto done;
	base = QUEUE_INFO_HEADER_LEN + qi.sender.len + 1;
	m->failed = 0;
	for (i = 0; i < qi.recips.len; ++k) {
		size_t n = mem_chr(qi.recips.s + i, qi.recips.len - i, 0);
		if (qi.recips.s[i] == QUEUE_FAILED) {
			int explained = 0;
			size_t p = 0;
			while (p < reports->len) {
				size_t rn = mem_chr(reports->s + p, reports->len - p, 0);
				unsigned long v = 0;
				size_t q = p;
				while (q < p + rn && reports->s[q] >= '0' && reports->s[q] <= '9')
					v = v * 10 + (unsigned long)(reports->s[q++] - '0');
				if (q > p && q < p + rn && reports->s[q] == '\n' && v == k) explained = 1;
				p += rn + 1;
			}
			char st = explained ? QUEUE_DONE : keep_unexplained ? QUEUE_FAILED : QUEUE_TODO;
			if (!explained && !keep_unexplained) {
				int c = qi.recips.s[i + 1] == 'L' ? CH_LOCAL : CH_REMOTE;
				++m->pending[c];
				m->next[c] = (unsigned long)now;
			}
			if (pwrite(fd, &st, 1, (off_t)(base + i)) != 1) goto done;
		}
		i += n + 1;
	}
	r = 0;
done:
	if (fd != -1) close(fd);
	str_free(&fn);
	str_free(&data);
	str_free(&qi.sender);
	str_free(&qi.recips);
	return r;
}

/* Copies the message body of mess/ID (msglen bytes after the header) to
 * the queue; with headers_only, only its header, up to the blank line.
 * Returns the last byte copied ('\n' when nothing was). A read error
 * makes the injection fail, to be tried again later. */
static int copy_message(struct qq *qq, int fd, unsigned long msglen, int headers_only)
{
	char buf[65536];
	off_t at = QUEUE_HEADER_LEN;
	unsigned long left = msglen;
	int last = '\n', done = 0;
	while (left && !done) {
		ssize_t r = pread(fd, buf, left < sizeof buf ? left : sizeof buf, at);
		size_t n;
		if (r <= 0) {
			if (r < 0 && errno == EINTR) continue;
			qq_fail(qq);
			break;
		}
		n = (size_t)r;
		/* The header ends at an empty line: a line end after a line end. */
		for (size_t i = 0; headers_only && i < n; ++i) {
			if (buf[i] == '\n' && (i ? buf[i - 1] : last) == '\n') {
				n = i;
				done = 1;
			}
		}
		if (n) {
			qq_put(qq, buf, n);
			last = buf[n - 1];
		}
		at += r;
		left -= (unsigned long)r;
	}
	return last;
}

/* Builds and queues the bounce. 1 sent (or discarded), 0 try later. */
static int inject(struct msg *m, const struct str *reports, int *unexplained_only)
{
	struct str fn = STR_INIT, data = STR_INIT, sender = STR_INIT, recip = STR_INIT;
	struct str text = STR_INIT, q = STR_INIT, num = STR_INIT, boundary = STR_INIT;
	struct queue_header h;
	struct qq qq;
	const char *res;
	size_t p = 0;
	int fd, ok = 0, dsn, headers_only, last;

	*unexplained_only = reports->len == 0;
	if (*unexplained_only) return 1;
	queue_path(&fn, "mess", m->id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	if (fd == -1) goto done;
	if (queue_header_read(fd, &h) == -1 || queue_envelope_read(fd, &h, &data) == -1) {
		close(fd);
		goto done;
	}
	str_copyb(&sender, data.s + 1, mem_chr(data.s, data.len, 0) - 1);
	/* a VERP sender "owner-@host-@[]" gets its bounces at "owner-@host" */
	sender.len = addr_verp_base(sender.s, sender.len);
	str_catulong(&num, m->id);
	if (str_equals(&sender, "#@[]")) {
		say("triple bounce: discarding bounce/", str_cstr(&num));
		close(fd);
		ok = 1;
		goto done;
	}
	if (sender.len == 0) {
		if (cfg.doublebounceto.len == 0) {
			say("warning: no doublebounceto: discarding double bounce of msg ", str_cstr(&num));
			close(fd);
			ok = 1;
			goto done;
		}
		str_copy(&recip, &cfg.doublebounceto);
		str_catc(&recip, '@');
		str_cat(&recip, &cfg.doublebouncehost);
	} else {
		str_copy(&recip, &sender);
	}

	/* Double bounces stay plain: postmaster reads them, not a program. */
	dsn = cfg.dsn && sender.len != 0;
	headers_only = dsn && h.msglen > cfg.dsnmaxbytes;
	if (dsn) dsn_boundary(&boundary, m->id);
	str_cats(&text, "Date: ");
	date822_cat(&text, now, cfg.localtime);
	str_cats(&text, "\nFrom: ");
	addr_quote(&text, cfg.bouncefrom.s, cfg.bouncefrom.len);
	str_catc(&text, '@');
	str_cat(&text, &cfg.bouncehost);
	str_cats(&text, "\nTo: ");
	addr_quote(&text, recip.s, recip.len);
	str_cats(&text, "\nSubject: failure notice\n");
	if (dsn)
		dsn_head(&text, &boundary);
	else
		str_catc(&text, '\n');
	str_cats(&text, "Hi. This is the qmail-send program at ");
	str_cat(&text, &cfg.bouncehost);
	str_cats(&text, sender.len
	                    ? ".\nI'm afraid I wasn't able to deliver your message to the following "
	                      "addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
	                      "work out.\n\n"
	                    : ".\nI tried to deliver a bounce message to this address, but the bounce "
	                      "bounced!\n\n");
	while (p < reports->len) {
		size_t n = mem_chr(reports->s + p, reports->len - p, 0);
		size_t nl = mem_chr(reports->s + p, n, '\n');
		if (nl < n) str_catb(&text, reports->s + p + nl + 1, n - nl - 1);
		p += n + 1;
	}
	if (dsn) {
		str_cats(&text, headers_only ? "--- Below this line is the header of the message.\n"
		                             : "--- Below this line is a copy of the message.\n");
		dsn_status_part(&text, &boundary, h.birth, reports);
		dsn_message_part(&text, &boundary, headers_only);
	} else {
		str_cats(&text, sender.len ? "--- Below this line is a copy of the message.\n\n"
		                           : "--- Below this line is the original bounce.\n\n");
		str_cats(&text, "Return-Path: <");
		addr_quote(&text, sender.s, sender.len);
		str_cats(&text, ">\n");
	}

	if (qq_open(&qq) == -1) {
		say("warning: unable to start qmail-queue, will try later");
		close(fd);
		goto done;
	}
	qq_put(&qq, text.s, text.len);
	last = copy_message(&qq, fd, h.msglen, headers_only);
	close(fd);
	if (dsn) {
		text.len = 0;
		dsn_end(&text, &boundary, last == '\n');
		qq_put(&qq, text.s, text.len);
	}
	qq_from(&qq, sender.len ? "" : "#@[]");
	qq_to(&qq, str_cstr(&recip));
	res = qq_close(&qq);
	if (*res) {
		say("warning: trouble injecting bounce message, will try later");
		goto done;
	}
	str_copys(&q, "");
	str_catulong(&q, (unsigned long)qq.pid);
	say("bounce msg ", str_cstr(&num), " qp ", str_cstr(&q));
	ok = 1;
done:
	str_free(&fn);
	str_free(&data);
	str_free(&sender);
	str_free(&recip);
	str_free(&text);
	str_free(&q);
	str_free(&num);
	str_free(&boundary);
	return ok;
}

static void do_bounce(struct msg *m)
{
	struct str fn = STR_INIT, reports = STR_INIT;
	int unexplained_only;
	bounce_name(&fn, m->id);
	if (read_file(str_cstr(&fn), &reports) == -1) {
		say("warning: unable to read ", fn.s, "; will try again later");
		try_later(m);
		goto done;
	}
	if (!inject(m, &reports, &unexplained_only)) {
		try_later(m);
		goto done;
	}
	if (settle_failures(m, &reports, 0) == -1) {
		say("warning: trouble marking bounced recipients of ", fn.s);
		try_later(m);
		goto done;
	}
	unlink(fn.s);
	for (int c = 0; c < CHANNELS; ++c) msgs_schedule(m, c);
done:
	str_free(&fn);
	str_free(&reports);
}

void finish_check(struct msg *m)
{
	if (m->finishing || m->inflight[0] || m->inflight[1] || m->busy[0] || m->busy[1]) return;
	/* Failures are reported as soon as nothing is in flight, even if
	 * other recipients wait for a retry: the sender hears at once. */
	if (m->failed) {
		if (m->bounce_retry > now) return;
		msgs_info_flush(m); /* do_bounce works on info/ID */
		do_bounce(m);
		if (m->failed) return;
	}
	if (m->pending[0] || m->pending[1]) return;
	m->finishing = 1;
	msgs_done_note(m);
	clean_request('m', m);
}

/* Messages whose bounce or clean-up failed wait here for another try;
 * rare, so a plain list will do. */
static unsigned long *later;
static size_t later_len, later_cap;
static unsigned long later_at;

static void try_later(struct msg *m)
{
	m->bounce_retry = now + 60;
	if (later_len == later_cap) {
		later_cap = later_cap ? later_cap * 2 : 16;
		later = realloc(later, later_cap * sizeof *later);
		if (!later) die_nomem();
	}
	later[later_len++] = m->id;
	if (!later_at || later_at > (unsigned long)m->bounce_retry) later_at = (unsigned long)m->bounce_retry;
}

void bounce_retry_due(void)
{
	size_t n = later_len;
	unsigned long *ids;
	if (!later_at || (unsigned long)now < later_at) return;
	ids = later;
	later = 0;
	later_len = later_cap = 0;
	later_at = 0;
	for (size_t i = 0; i < n; ++i) {
		struct msg *m = msgs_find(ids[i]);
		if (!m) continue;
		m->bounce_retry = 0;
		finish_check(m);
	}
	free(ids);
}

unsigned long bounce_wakeup(void) { return later_at; }

/* ---- qmail-clean */

struct clean_req {
	char kind;
	unsigned long id;
	unsigned long birth, birth_nsec; /* 'm': which message this ID must still be */
};
/* Requests in order; the first cq_sent of them are written and await
 * their answer byte. At most CLEAN_WINDOW are written at a time, so
 * neither pipe can fill and qmail-send never blocks on qmail-clean
 * while qmail-clean blocks on us. */
#define CLEAN_WINDOW 128
static struct clean_req *cq;
static size_t cq_head, cq_len, cq_cap, cq_sent;
static const int fd_clean_to = 7, fd_clean_from = 8;

int clean_fd(void) { return fd_clean_from; }

static void clean_pump(void)
{
	struct str line = STR_INIT;
	while (cq_sent < cq_len && cq_sent < CLEAN_WINDOW) {
		struct clean_req q = cq[(cq_head + cq_sent) % cq_cap];
		str_catc(&line, q.kind);
		if (q.kind != 's') str_catulong(&line, q.id);
		if (q.kind == 'm') {
			str_catc(&line, ' ');
			str_catulong(&line, q.birth);
			str_catc(&line, ' ');
			str_catulong(&line, q.birth_nsec);
		}
		str_catc(&line, '\n');
		++cq_sent;
	}
	if (line.len && durable_write_all(fd_clean_to, line.s, line.len) == -1) {
		say("alert: oh no! lost qmail-clean connection! dying...");
		log_flush();
		exit(111);
	}
	str_free(&line);
}

void clean_request(char kind, struct msg *m)
{
	if (cq_len == cq_cap) {
		struct clean_req *n = malloc((cq_cap ? cq_cap * 2 : 256) * sizeof *n);
		if (!n) die_nomem();
		for (size_t i = 0; i < cq_len; ++i) n[i] = cq[(cq_head + i) % cq_cap];
		free(cq);
		cq = n;
		cq_head = 0;
		cq_cap = cq_cap ? cq_cap * 2 : 256;
	}
	cq[(cq_head + cq_len++) % cq_cap] = (struct clean_req){kind, m->id, m->birth, m->birth_nsec};
	if (kind == 't') m->marker = 1;
	clean_pump();
}

void clean_sweep(void)
{
	struct msg none;
	memset(&none, 0, sizeof none);
	clean_request('s', &none);
}

static void finished_msg(unsigned long id, int ok)
{
	struct msg *m = msgs_find(id);
	struct str fn = STR_INIT, num = STR_INIT;
	str_catulong(&num, id);
	if (!ok) {
		say("warning: qmail-clean unable to clean up mess/", str_cstr(&num));
		if (m) {
			m->finishing = 0;
			try_later(m);
		}
		str_free(&num);
		return;
	}
	msgs_info_name(&fn, id);
	if (!m || m->on_disk) unlink(str_cstr(&fn));
	bounce_name(&fn, id);
	unlink(str_cstr(&fn));
	say("end msg ", str_cstr(&num));
	if (m) msgs_forget(m);
	/* A new message may already have this ID (the inode was free once
	 * mess/ID was gone); its hint was put aside while the old one was
	 * known, so look again. */
	msgs_todo_after_finish();
	msgs_hints_retry();
	str_free(&fn);
	str_free(&num);
}

int clean_read(void)
{
	char buf[512];
	ssize_t r = read(fd_clean_from, buf, sizeof buf);
	if (r < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
	if (r == 0) return -1;
	for (ssize_t i = 0; i < r && cq_sent; ++i) {
		struct clean_req q = cq[cq_head];
		cq_head = (cq_head + 1) % cq_cap;
		--cq_len;
		--cq_sent;
		if (q.kind == 'm') {
			finished_msg(q.id, buf[i] == '+');
		} else if (q.kind == 't') {
			struct msg *m = msgs_find(q.id);
			if (m) m->marker = 0;
		}
	}
	clean_pump();
	return 0;
}
