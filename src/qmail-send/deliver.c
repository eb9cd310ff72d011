/* qmail-send: delivery jobs, slots and the spawn helpers' pipes.
 *
 * A job is one message on one channel: when the message comes due, its
 * info file is read and the recipients still to do on that channel are
 * handed out, one delivery each, as slots (concurrencylocal,
 * concurrencyremote) come free. When the job's last delivery reports, the
 * job closes: deferred recipients get the next retry time,
 *   birth + (floor(sqrt(now - birth)) + s)^2, s = 10 local, 20 remote,
 * and past queuelifetime a deferral becomes a failure.
 *
 * Results are marked in info/ID by rewriting one status byte, without
 * fsync (msgs.c says why that is safe).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "buf.h"
#include "die.h"
#include "durable.h"
#include "queue.h"
#include "send.h"

struct job {
	struct msg *m;
	int c;
	int fd;                 /* info/ID, read-write; -1 while in memory */
	int dying;              /* past queuelifetime */
	struct str sender;
	struct str addrs;       /* recipients to do, NUL-terminated */
	size_t *offsets;        /* status byte of each, in info/ID */
	unsigned *index;        /* recipient number, for bounce/ID */
	unsigned n, next, outstanding, deferred;
	struct job *link;
};

struct slot {
	struct job *j;
	unsigned k;             /* which recipient of the job */
	unsigned long delid;
};

static struct slot *slots[CHANNELS];
static unsigned used[CHANNELS];
static struct job *open_jobs[CHANNELS]; /* jobs with recipients not yet handed out */
static unsigned long masterdelid = 1;
static struct str report_buf[CHANNELS];
static const int fd_to[CHANNELS] = {3, 5};
static const int fd_from[CHANNELS] = {4, 6};
static const char *const channel_name[CHANNELS] = {"local", "remote"};
static const unsigned long retry_skip[CHANNELS] = {10, 20};

void deliver_init(void)
{
	for (int c = 0; c < CHANNELS; ++c) {
		/* concurrency 0 holds the channel: no slot is ever free */
		slots[c] = calloc(cfg.concurrency[c] ? cfg.concurrency[c] : 1, sizeof *slots[c]);
		if (!slots[c]) die_nomem();
		fcntl(fd_from[c], F_SETFL, fcntl(fd_from[c], F_GETFL) | O_NONBLOCK);
	}
}

int deliver_fd(int c) { return fd_from[c]; }
unsigned deliver_inflight(void) { return used[0] + used[1]; }
int deliver_slots_free(int c) { return used[c] < cfg.concurrency[c]; }

void deliver_status(void)
{
	struct str line = STR_INIT;
	str_cats(&line, "status: local ");
	str_catulong(&line, used[0]);
	str_catc(&line, '/');
	str_catulong(&line, cfg.concurrency[0]);
	str_cats(&line, " remote ");
	str_catulong(&line, used[1]);
	str_catc(&line, '/');
	str_catulong(&line, cfg.concurrency[1]);
	if (exiting) str_cats(&line, " exitasap");
	say(str_cstr(&line));
	str_free(&line);
}

static unsigned long isqrt(unsigned long x)
{
	unsigned long r = 0, bit = 1UL << (sizeof x * 8 - 2);
	while (bit > x) bit >>= 2;
	while (bit) {
		if (x >= r + bit) {
			x -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

static unsigned long next_retry(const struct msg *m, int c)
{
	unsigned long age = (unsigned long)now > m->birth ? (unsigned long)now - m->birth : 0;
	unsigned long n = isqrt(age) + retry_skip[c];
	return m->birth + n * n;
}

static void job_free(struct job *j)
{
	if (j->fd != -1) close(j->fd);
	str_free(&j->sender);
	str_free(&j->addrs);
	free(j->offsets);
	free(j->index);
	free(j);
}

/* Reads the message's info file and collects the channel's recipients. */
static struct job *job_open(struct msg *m, int c)
{
	struct str fn = STR_INIT, data = STR_INIT;
	struct queue_info qi = {0, 0, {0, 0}, 0, STR_INIT, STR_INIT};
	struct job *j = calloc(1, sizeof *j);
	size_t i, base;
	unsigned k = 0;
	if (!j) die_nomem();
	j->m = m;
	j->c = c;
	j->fd = -1;
	msgs_info_name(&fn, m->id);
	if (m->mem) {
		str_copy(&data, m->mem);
	} else if ((j->fd = open(str_cstr(&fn), O_RDWR | O_CLOEXEC)) == -1) {
		goto trouble;
	} else for (;;) {
		char buf[8192];
		ssize_t n = read(j->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) goto trouble;
		if (n == 0) break;
		str_catb(&data, buf, (size_t)n);
	}
	if (queue_info_parse(data.s, data.len, &qi) == -1) goto trouble;
	str_copy(&j->sender, &qi.sender);
	j->offsets = calloc(qi.nrecip + 1, sizeof *j->offsets);
	j->index = calloc(qi.nrecip + 1, sizeof *j->index);
	if (!j->offsets || !j->index) die_nomem();
	base = QUEUE_INFO_HEADER_LEN + qi.sender.len + 1;
	for (i = 0; i < qi.recips.len; ++k) {
		size_t n = mem_chr(qi.recips.s + i, qi.recips.len - i, 0);
		int rc = qi.recips.s[i + 1] == 'L' ? CH_LOCAL : CH_REMOTE;
		if (rc == c && qi.recips.s[i] == QUEUE_TODO) {
			j->offsets[j->n] = base + i;
			j->index[j->n] = k;
			++j->n;
			str_catb(&j->addrs, qi.recips.s + i + 2, n - 1); /* with its NUL */
		}
		i += n + 1;
	}
	j->dying = (unsigned long)now > m->birth + cfg.lifetime;
	m->busy[c] = 1;
	str_free(&fn);
	str_free(&data);
	str_free(&qi.sender);
	str_free(&qi.recips);
	return j;
trouble:
	say("warning: trouble opening ", fn.s ? str_cstr(&fn) : "info", "; will try again later");
	m->next[c] = (unsigned long)now + 60;
	msgs_schedule(m, c);
	str_free(&fn);
	str_free(&data);
	str_free(&qi.sender);
	str_free(&qi.recips);
	job_free(j);
	return 0;
}

/* info/ID for a job opened while the info was in memory and written
 * out since (by the message's job on the other channel). */
static int job_fd(struct job *j)
{
	struct str fn = STR_INIT;
	if (j->fd != -1) return j->fd;
	msgs_info_name(&fn, j->m->id);
	j->fd = open(str_cstr(&fn), O_RDWR | O_CLOEXEC);
	str_free(&fn);
	return j->fd;
}

static void job_close(struct job *j)
{
	struct msg *m = j->m;
	int c = j->c;
	m->busy[c] = 0;
	if (j->deferred) m->next[c] = next_retry(m, c);
	if (m->pending[c]) {
		/* a retry time lost in a crash only means an earlier retry */
		if (m->mem)
			msgs_info_flush(m);
		else if (job_fd(j) != -1)
			msgs_write_header(j->fd, m);
		msgs_schedule(m, c);
	}
	job_free(j);
	finish_check(m);
}

static const char *recip_of(const struct job *j, unsigned k)
{
	const char *s = j->addrs.s;
	while (k--) s += strlen(s) + 1;
	return s;
}

static void mark(struct job *j, unsigned k, char status)
{
	if (j->m->mem) {
		j->m->mem->s[j->offsets[k]] = status;
		return;
	}
	if (job_fd(j) == -1 || pwrite(j->fd, &status, 1, (off_t)j->offsets[k]) != 1) {
		struct str num = STR_INIT;
		str_catulong(&num, j->m->id);
		say("warning: trouble marking info/", str_cstr(&num), "; message will be delivered twice!");
		str_free(&num);
	}
}

static int start_one(int c)
{
	struct job *j = open_jobs[c];
	unsigned s;
	struct str req = STR_INIT, line = STR_INIT, safe = STR_INIT;
	const char *recip;
	while (!j) {
		struct msg *m = msgs_due(c);
		if (!m) return 0;
		j = job_open(m, c);
		if (!j) continue;
		if (j->n == 0) {
			/* the counts were stale: nothing to do after all */
			m->pending[c] = 0;
			job_close(j);
			j = 0;
			continue;
		}
		open_jobs[c] = j;
	}
	for (s = 0; s < cfg.concurrency[c]; ++s)
		if (!slots[c][s].j) break;
	if (s == cfg.concurrency[c]) return 0;
	recip = recip_of(j, j->next);
	slots[c][s].j = j;
	slots[c][s].k = j->next;
	slots[c][s].delid = masterdelid++;
	++used[c];
	++j->outstanding;
	++j->m->inflight[c];
	if (++j->next == j->n) open_jobs[c] = 0; /* all handed out */

	str_catulong(&req, s);
	str_catc(&req, 0);
	str_catulong(&req, j->m->id);
	str_catc(&req, 0);
	/* a "-@[]" sender is a VERP: each copy names its recipient */
	addr_verp(&req, j->sender.s, j->sender.len, recip, strlen(recip));
	str_catc(&req, 0);
	str_cats(&req, recip);
	str_catc(&req, 0);
	/* The helper reads requests as fast as it forks; a short request
	 * never fills the pipe while at most concurrency are outstanding. */
	if (durable_write_all(fd_to[c], req.s, req.len) == -1) {
		say("alert: oh no! lost qmail-", c ? "rspawn" : "lspawn", " connection! dying...");
		exit(111);
	}
	str_cats(&line, "starting delivery ");
	str_catulong(&line, slots[c][s].delid);
	str_cats(&line, ": msg ");
	str_catulong(&line, j->m->id);
	str_cats(&line, " to ");
	str_cats(&line, channel_name[c]);
	str_catc(&line, ' ');
	log_safe(&safe, recip, strlen(recip));
	str_cat(&line, &safe);
	say(str_cstr(&line));
	deliver_status();
	str_free(&req);
	str_free(&line);
	str_free(&safe);
	return 1;
}

void deliver_dispatch(void)
{
	if (exiting) return;
	for (int c = 0; c < CHANNELS; ++c)
		while (deliver_slots_free(c) && start_one(c)) {}
}

static void finished(int c, unsigned s, char status, const char *text, size_t len)
{
	struct slot *sl = &slots[c][s];
	struct job *j = sl->j;
	struct msg *m = j->m;
	struct str line = STR_INIT, safe = STR_INIT, why = STR_INIT;
	const char *recip = recip_of(j, sl->k);

	str_catb(&why, text, len);
	if (status == 'Z' && j->dying) {
		status = 'D';
		if (why.len && why.s[why.len - 1] != '\n') str_catc(&why, '\n');
		str_cats(&why, "I'm not going to try again; this message has been in the queue too long.\n");
	}
	str_cats(&line, "delivery ");
	str_catulong(&line, sl->delid);
	switch (status) {
	case 'K': str_cats(&line, ": success: "); break;
	case 'D': str_cats(&line, ": failure: "); break;
	case 'Z': str_cats(&line, ": deferral: "); break;
	default: str_cats(&line, ": report mangled, will defer"); status = 'Z'; why.len = 0;
	}
	log_safe(&safe, why.s, why.len);
	str_cat(&line, &safe);
	say(str_cstr(&line));

	switch (status) {
	case 'K':
		mark(j, sl->k, QUEUE_DONE);
		--m->pending[c];
		break;
	case 'D':
		/* the report reaches bounce/ID before the status says so */
		bounce_add(m, j->index[sl->k], recip, strlen(recip), why.s, why.len);
		mark(j, sl->k, QUEUE_FAILED);
		--m->pending[c];
		++m->failed;
		break;
	default:
		++j->deferred;
	}
	sl->j = 0;
	--used[c];
	--m->inflight[c];
	deliver_status();
	if (--j->outstanding == 0 && j->next == j->n) job_close(j);
	str_free(&line);
	str_free(&safe);
	str_free(&why);
}

int deliver_read(int c)
{
	char buf[4096];
	struct str *b = &report_buf[c];
	for (;;) {
		ssize_t r = read(fd_from[c], buf, sizeof buf);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) break;
		if (r == 0) return -1;
		str_catb(b, buf, (size_t)r);
	}
	/* complete reports: number NUL status text NUL */
	for (;;) {
		size_t n1 = mem_chr(b->s, b->len, 0), n2;
		unsigned long s = 0;
		if (n1 == b->len) break;
		n2 = mem_chr(b->s + n1 + 1, b->len - n1 - 1, 0);
		if (n2 == b->len - n1 - 1) break;
		for (size_t i = 0; i < n1; ++i) s = s * 10 + (unsigned long)(b->s[i] - '0');
		if (n1 == 0 || s >= cfg.concurrency[c] || !slots[c][s].j || n2 == 0)
			say("warning: internal error: delivery report out of range");
		else
			finished(c, (unsigned)s, b->s[n1 + 1], b->s + n1 + 2, n2 - 1);
		{
			size_t used_len = n1 + 1 + n2 + 1;
			memmove(b->s, b->s + used_len, b->len - used_len);
			b->len -= used_len;
		}
	}
	return 0;
}
