/* qmail-send: the message table, the retry heaps and info/ files.
 *
 * Memory per queued message is one struct msg; recipients stay on disk
 * in info/ID and are read only when a delivery job opens. Each channel
 * has a binary heap ordered by due time, so finding the next due message
 * costs O(log n) however long the queue is.
 *
 * info/ID is written only when there is progress to keep: the info of a
 * new message with one recipient is held in memory (up to INFO_IN_MEMORY
 * of them), and most such messages are finished by their first delivery,
 * so they never get an info file at all. It goes to disk when the job
 * closes with the recipient deferred, or before a bounce (bounce.c reads
 * it). With one recipient there is no partial progress that a clean exit
 * could lose: the job closes as its one delivery reports. On this VM's ext4
 * every inode costs a scan past all recently freed ones, and the info
 * file was one of the three inodes a message used.
 *
 * info/ID is written without fsync: it only records progress. If a crash
 * loses it, it is rebuilt from mess/ID with every recipient to do again
 * (duplicates, never losses). Its header repeats mess/ID's birth stamp so
 * that an info file left by a finished message is never mistaken for the
 * state of a new message that reuses the inode number.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "die.h"
#include "durable.h"
#include "queue.h"
#include "send.h"

#define INFO_IN_MEMORY 10000

static struct msg **table;
static unsigned long info_in_memory;
static size_t table_size, table_count;
static struct msg **heap[CHANNELS];
static size_t heap_len[CHANNELS], heap_cap[CHANNELS];

static size_t slot(unsigned long id) { return (size_t)(id * 2654435761UL) & (table_size - 1); }

static void table_grow(void)
{
	size_t old = table_size;
	struct msg **t = table;
	table_size = old ? old * 2 : 1024;
	table = calloc(table_size, sizeof *table);
	if (!table) die_nomem();
	for (size_t i = 0; i < old; ++i) {
		struct msg *m = t[i], *n;
		for (; m; m = n) {
			n = m->hnext;
			m->hnext = table[slot(m->id)];
			table[slot(m->id)] = m;
		}
	}
	free(t);
}

struct msg *msgs_find(unsigned long id)
{
	if (!table_size) return 0;
	for (struct msg *m = table[slot(id)]; m; m = m->hnext)
		if (m->id == id) return m;
	return 0;
}

unsigned long msgs_count(void) { return table_count; }

static struct msg *msgs_add(unsigned long id)
{
	struct msg *m;
	if (table_count >= table_size / 2) table_grow();
	m = calloc(1, sizeof *m);
	if (!m) die_nomem();
	m->id = id;
	m->heap[0] = m->heap[1] = NOT_IN_HEAP;
	m->hnext = table[slot(id)];
	table[slot(id)] = m;
	++table_count;
	return m;
}

/* ---- heaps */

static int earlier(int c, size_t a, size_t b) { return heap[c][a]->next[c] < heap[c][b]->next[c]; }

static void heap_swap(int c, size_t a, size_t b)
{
	struct msg *t = heap[c][a];
	heap[c][a] = heap[c][b];
	heap[c][b] = t;
	heap[c][a]->heap[c] = a;
	heap[c][b]->heap[c] = b;
}

static void heap_up(int c, size_t i)
{
	while (i > 0 && earlier(c, i, (i - 1) / 2)) {
		heap_swap(c, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(int c, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, s = i;
		if (l < heap_len[c] && earlier(c, l, s)) s = l;
		if (r < heap_len[c] && earlier(c, r, s)) s = r;
		if (s == i) return;
		heap_swap(c, i, s);
		i = s;
	}
}

static void heap_remove(struct msg *m, int c)
{
	size_t i = m->heap[c];
	if (i == NOT_IN_HEAP) return;
	m->heap[c] = NOT_IN_HEAP;
	if (i != --heap_len[c]) {
		heap[c][i] = heap[c][heap_len[c]];
		heap[c][i]->heap[c] = i;
		heap_down(c, i);
		heap_up(c, i);
	}
}

void msgs_schedule(struct msg *m, int c)
{
	heap_remove(m, c);
	if (!m->pending[c] || m->busy[c]) return;
	if (heap_len[c] == heap_cap[c]) {
		heap_cap[c] = heap_cap[c] ? heap_cap[c] * 2 : 1024;
		heap[c] = realloc(heap[c], heap_cap[c] * sizeof *heap[c]);
		if (!heap[c]) die_nomem();
	}
	heap[c][heap_len[c]] = m;
	m->heap[c] = heap_len[c]++;
	heap_up(c, m->heap[c]);
}

struct msg *msgs_due(int c)
{
	struct msg *m;
	if (!heap_len[c] || heap[c][0]->next[c] > (unsigned long)now) return 0;
	m = heap[c][0];
	heap_remove(m, c);
	return m;
}

unsigned long msgs_wakeup(int c) { return heap_len[c] ? heap[c][0]->next[c] : 0; }

void msgs_all_now(void)
{
	for (int c = 0; c < CHANNELS; ++c) {
		for (size_t i = 0; i < heap_len[c]; ++i) heap[c][i]->next[c] = (unsigned long)now;
	}
}

void msgs_forget(struct msg *m)
{
	struct msg **p = &table[slot(m->id)];
	for (int c = 0; c < CHANNELS; ++c) heap_remove(m, c);
	while (*p && *p != m) p = &(*p)->hnext;
	if (*p) *p = m->hnext;
	--table_count;
	if (m->mem) {
		str_free(m->mem);
		free(m->mem);
		--info_in_memory;
	}
	free(m);
}

/* ---- info files */

void msgs_info_name(struct str *fn, unsigned long id) { queue_path(fn, "info", id); }

static void format_header(char *h, const struct msg *m)
{
	struct queue_info in;
	in.birth = m->birth;
	in.birth_nsec = m->birth_nsec;
	in.next[0] = m->next[0];
	in.next[1] = m->next[1];
	in.nrecip = m->nrecip;
	queue_info_format_header(h, &in);
}

int msgs_write_header(int fd, const struct msg *m)
{
	char h[QUEUE_INFO_HEADER_LEN];
	format_header(h, m);
	return pwrite(fd, h, sizeof h, 0) == (ssize_t)sizeof h ? 0 : -1;
}

/* Writes info/ID from memory. 0 done (or nothing held), -1 trouble: the
 * state stays in memory and the next flush tries again. */
int msgs_info_flush(struct msg *m)
{
	struct str fn = STR_INIT;
	int fd, r = -1;
	if (!m->mem) return 0;
	format_header(m->mem->s, m);
	msgs_info_name(&fn, m->id);
	fd = open(str_cstr(&fn), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd != -1) {
		/* no fsync: see the comment at the top */
		r = durable_write_all(fd, m->mem->s, m->mem->len);
		if (close(fd) == -1) r = -1;
	}
	if (r == -1) {
		warn_sys("unable to write ", fn.s);
		unlink(fn.s);
	} else {
		str_free(m->mem);
		free(m->mem);
		m->mem = 0;
		--info_in_memory;
		m->on_disk = 1;
	}
	str_free(&fn);
	return r;
}

/* Counts the statuses in the info file's recipient records. */
static void count_recips(struct msg *m, const struct str *recips)
{
	size_t i = 0;
	m->pending[0] = m->pending[1] = 0;
	m->failed = 0;
	while (i < recips->len) {
		size_t n = mem_chr(recips->s + i, recips->len - i, 0);
		int c = recips->s[i + 1] == 'L' ? CH_LOCAL : CH_REMOTE;
		if (recips->s[i] == QUEUE_TODO) ++m->pending[c];
		if (recips->s[i] == QUEUE_FAILED) ++m->failed;
		i += n + 1;
	}
}

/* Creates info/ID from the message's envelope: every recipient to do.
 * 0 ok, -1 trouble (try again later). */
static int info_create(struct msg *m, const struct str *env)
{
	struct str info = STR_INIT, fn = STR_INIT, routed = STR_INIT;
	char h[QUEUE_INFO_HEADER_LEN] = {0};
	size_t i = 0;
	int fd, r = -1;

	str_catb(&info, h, sizeof h); /* placeholder, formatted below */
	m->nrecip = 0;
	while (i < env->len) {
		size_t n = mem_chr(env->s + i, env->len - i, 0);
		if (env->s[i] == 'F') {
			str_catb(&info, env->s + i + 1, n - 1);
			str_catc(&info, 0);
		} else {
			int kind = route_recipient(&cfg.route, env->s + i + 1, n - 1, &routed);
			str_catc(&info, QUEUE_TODO);
			str_catc(&info, (char)kind);
			str_cat(&info, &routed);
			str_catc(&info, 0);
			++m->nrecip;
		}
		i += n + 1;
	}
	m->next[0] = m->next[1] = (unsigned long)now;
	format_header(info.s, m);
	{
		struct queue_info qi = {0, 0, {0, 0}, 0, STR_INIT, STR_INIT};
		if (queue_info_parse(info.s, info.len, &qi) == 0) count_recips(m, &qi.recips);
		str_free(&qi.sender);
		str_free(&qi.recips);
	}
	if (m->nrecip == 1 && info_in_memory < INFO_IN_MEMORY) {
		m->mem = malloc(sizeof *m->mem);
		if (!m->mem) die_nomem();
		*m->mem = info; /* the message owns it now */
		++info_in_memory;
		str_free(&routed);
		return 0;
	}
	msgs_info_name(&fn, m->id);
	fd = open(str_cstr(&fn), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd != -1) {
		/* no fsync: see the comment at the top */
		r = durable_write_all(fd, info.s, info.len);
		if (close(fd) == -1) r = -1;
	}
	if (r == 0) {
		m->on_disk = 1;
	} else {
		warn_sys("unable to write ", fn.s);
		unlink(fn.s);
	}
	str_free(&info);
	str_free(&fn);
	str_free(&routed);
	return r;
}

/* Loads info/ID when it belongs to this message. 1 loaded, 0 absent or
 * stale or damaged (rebuild it), -1 unreadable. */
static int info_load(struct msg *m)
{
	struct str fn = STR_INIT, data = STR_INIT;
	struct queue_info qi = {0, 0, {0, 0}, 0, STR_INIT, STR_INIT};
	int fd, r = 0;
	msgs_info_name(&fn, m->id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		r = errno == ENOENT ? 0 : -1;
		goto done;
	}
	for (;;) {
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) { r = -1; break; }
		if (n == 0) { r = 1; break; }
		str_catb(&data, buf, (size_t)n);
	}
	close(fd);
	if (r != 1) goto done;
	if (queue_info_parse(data.s, data.len, &qi) == -1 || qi.birth != m->birth ||
	    qi.birth_nsec != m->birth_nsec) {
		/* an earlier message's, or damaged: the new info may stay in
		 * memory, so this one must not outlive it */
		unlink(fn.s);
		r = 0;
		goto done;
	}
	m->on_disk = 1;
	m->nrecip = (unsigned)qi.nrecip;
	m->next[0] = qi.next[0];
	m->next[1] = qi.next[1];
	count_recips(m, &qi.recips);
done:
	str_free(&fn);
	str_free(&data);
	str_free(&qi.sender);
	str_free(&qi.recips);
	return r;
}

/* ---- the done log
 *
 * A message whose info is only in memory has no status byte on disk to
 * say it was delivered. So when it finishes, "ID BIRTH NSEC" goes into
 * info/done (appended, no fsync, like the status byte it stands for)
 * before qmail-clean is asked to remove mess/ID; a qmail-send killed
 * before the removal does not deliver the message again when it starts.
 * The log is read at startup, and cut back to the messages still being
 * removed when it grows past DONE_LOG_MAX, in place (no new inode). A
 * lost or damaged line only means a duplicate delivery. */
#define DONE_LOG "info/done"
#define DONE_LOG_MAX 65536

struct done { unsigned long id, birth, nsec; };
static int done_fd = -1;
static off_t done_size;
static struct done *done_set; /* startup only, sorted by id */
static size_t done_len;

static void done_line(struct str *out, const struct msg *m)
{
	str_catulong(out, m->id);
	str_catc(out, ' ');
	str_catulong(out, m->birth);
	str_catc(out, ' ');
	str_catulong(out, m->birth_nsec);
	str_catc(out, '\n');
}

static int done_open(void)
{
	struct stat st;
	if (done_fd != -1) return 0;
	done_fd = open(DONE_LOG, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (done_fd == -1) return -1;
	done_size = fstat(done_fd, &st) == 0 ? st.st_size : 0;
	return 0;
}

/* Empties the log down to the messages qmail-clean is still removing. */
static void done_compact(void)
{
	struct str out = STR_INIT;
	if (done_open() == -1) return;
	for (size_t i = 0; i < table_size; ++i)
		for (struct msg *m = table[i]; m; m = m->hnext)
			if (m->finishing && !m->on_disk) done_line(&out, m);
	if (ftruncate(done_fd, 0) == -1 || durable_write_all(done_fd, out.s, out.len) == -1)
		warn_sys("unable to write ", DONE_LOG);
	done_size = (off_t)out.len;
	str_free(&out);
}

void msgs_done_note(struct msg *m)
{
	struct str line = STR_INIT;
	if (m->on_disk) return; /* info/ID says it */
	if (done_open() == -1) {
		warn_sys("unable to open ", DONE_LOG);
		return;
	}
	if (done_size > DONE_LOG_MAX) {
		done_compact(); /* m is finishing: it is in there */
		return;
	}
	done_line(&line, m);
	if (durable_write_all(done_fd, line.s, line.len) == -1)
		warn_sys("unable to write ", DONE_LOG);
	else
		done_size += (off_t)line.len;
	str_free(&line);
}

static int done_cmp(const void *a, const void *b)
{
	const struct done *x = a, *y = b;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void done_load(void)
{
	struct str data = STR_INIT;
	int fd = open(DONE_LOG, O_RDONLY | O_CLOEXEC);
	size_t cap = 0, i = 0;
	if (fd == -1) return;
	for (;;) {
		char buf[8192];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR) continue;
		if (n <= 0) break;
		str_catb(&data, buf, (size_t)n);
	}
	close(fd);
	while (i < data.len) {
		size_t end = i + mem_chr(data.s + i, data.len - i, '\n');
		unsigned long v[3] = {0, 0, 0};
		int k = 0, digits = 0, ok = end < data.len;
		for (size_t j = i; ok && j < end; ++j) {
			char c = data.s[j];
			if (c >= '0' && c <= '9' && v[k] <= (~0UL - 9) / 10) {
				v[k] = v[k] * 10 + (unsigned long)(c - '0');
				digits = 1;
			} else if (c == ' ' && digits && k < 2) {
				++k;
				digits = 0;
			} else {
				ok = 0;
			}
		}
		if (ok && k == 2 && digits) {
			if (done_len == cap) {
				cap = cap ? cap * 2 : 256;
				done_set = realloc(done_set, cap * sizeof *done_set);
				if (!done_set) die_nomem();
			}
			done_set[done_len++] = (struct done){v[0], v[1], v[2]};
		}
		i = end + 1;
	}
	str_free(&data);
	if (done_len) qsort(done_set, done_len, sizeof *done_set, done_cmp);
}

static int done_has(unsigned long id, unsigned long birth, unsigned long nsec)
{
	size_t lo = 0, hi = done_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (done_set[mid].id < id) lo = mid + 1;
		else hi = mid;
	}
	for (; lo < done_len && done_set[lo].id == id; ++lo)
		if (done_set[lo].birth == birth && done_set[lo].nsec == nsec) return 1;
	return 0;
}

/* Whether mess/ID still holds message m. After a restart, a message
 * the previous qmail-send had finished may be known here while the
 * previous qmail-clean removes it, and a new message may then take over
 * its inode, so its ID: that message's todo/ hint must stay until the
 * old one is forgotten (qmail-clean checks the same before removing). */
static int still_same(const struct msg *m)
{
	struct str fn = STR_INIT;
	struct queue_header h;
	int fd, same = 0;
	queue_path(&fn, "mess", m->id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	str_free(&fn);
	if (fd == -1) return 1; /* gone: nobody's hint to keep */
	/* A file whose header cannot be read is not m (m's was whole): its
	 * hint waits, and take_in then says what is wrong with it. */
	if (queue_header_read(fd, &h) == 0)
		same = h.birth == m->birth && h.birth_nsec == m->birth_nsec;
	close(fd);
	return same;
}

/* Takes in message id (found in todo/ or mess/). 0 ok or nothing to do,
 * -1 trouble: try again later. */
static int take_in(unsigned long id, int from_todo)
{
	struct msg *m = msgs_find(id);
	struct str fn = STR_INIT, env = STR_INIT, sender = STR_INIT;
	struct queue_header h;
	int fd, r;

	if (m) {
		if (from_todo && !m->marker && still_same(m)) clean_request('t', m);
		return 0;
	}
	queue_path(&fn, "mess", id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		int e = errno;
		str_free(&fn);
		if (e != ENOENT) return -1;
		/* A hint without a message is a stale directory entry of a
		 * finished message (qmail-clean removes todo/ID before mess/ID).
		 * It must not be removed: by the time qmail-clean ran, a new
		 * message could own this ID and this very hint. */
		return 0;
	}
	if (queue_header_read(fd, &h) == -1 || queue_envelope_read(fd, &h, &env) == -1) {
		int e = errno;
		close(fd);
		if (e != EINVAL) { str_free(&fn); return -1; }
		/* qmail-queue names a file in mess/ only once it is complete,
		 * so this is damage, or what a power failure left of an
		 * injection that was never acknowledged: keep it for a human. */
		say("warning: unable to parse ", fn.s, "; leaving it alone");
		str_free(&fn);
		return 0;
	}
	close(fd);
	m = msgs_add(id);
	m->birth = h.birth;
	m->birth_nsec = h.birth_nsec;
	m->qp = h.qp;
	if (done_set && done_has(id, h.birth, h.birth_nsec)) {
		/* delivered before a restart: only its removal is left */
		queue_path(&fn, "info", id);
		unlink(str_cstr(&fn));
		m->nrecip = 1;
		r = 1;
	} else {
		r = info_load(m);
	}
	if (r == 0) {
		/* reports left by an earlier message with this inode number */
		queue_path(&fn, "bounce", id);
		unlink(str_cstr(&fn));
		queue_path(&fn, "mess", id);
		if (info_create(m, &env) == -1) {
			msgs_forget(m);
			str_free(&fn);
			str_free(&env);
			return -1;
		}
		{
			struct str num = STR_INIT;
			str_catulong(&num, id);
			say("new msg ", num.s ? str_cstr(&num) : "");
			log_safe(&sender, env.s + 1, mem_chr(env.s, env.len, 0) - 1);
			{
				struct str line = STR_INIT;
				str_cats(&line, "info msg ");
				str_catulong(&line, id);
				str_cats(&line, ": bytes ");
				str_catulong(&line, h.msglen);
				str_cats(&line, " from <");
				str_cat(&line, &sender);
				str_cats(&line, "> qp ");
				str_catulong(&line, h.qp);
				str_cats(&line, " uid ");
				str_catulong(&line, h.uid);
				say(str_cstr(&line));
				str_free(&line);
			}
			str_free(&num);
		}
	} else if (r == -1) {
		warn_sys("unable to read info for message ", fn.s);
		msgs_forget(m);
		str_free(&fn);
		str_free(&env);
		return -1;
	}
	if (from_todo) clean_request('t', m);
	for (int c = 0; c < CHANNELS; ++c) msgs_schedule(m, c);
	finish_check(m);
	str_free(&fn);
	str_free(&env);
	str_free(&sender);
	return 0;
}

static int numeric(const char *s, unsigned long *id)
{
	unsigned long u = 0;
	if (!*s) return 0;
	for (; *s; ++s) {
		if (*s < '0' || *s > '9') return 0;
		u = u * 10 + (unsigned long)(*s - '0');
	}
	*id = u;
	return 1;
}

/* At startup: every message in mess/ is known afterwards, and info/ and
 * bounce/ files without a message are removed. */
void msgs_startup_scan(void)
{
	DIR *d = opendir("mess");
	struct dirent *e;
	unsigned long id;
	const char *dirs[2] = {"info", "bounce"};
	if (!d) die_temp_sys("unable to read queue/mess");
	done_load();
	while ((e = readdir(d)) != 0) {
		if (!numeric(e->d_name, &id)) continue;
		now = time(0);
		if (take_in(id, 0) == -1) {
			say("warning: trouble reading message ", e->d_name, "; will try again later");
			msgs_todo_wanted();
		}
	}
	closedir(d);
	for (int k = 0; k < 2; ++k) {
		d = opendir(dirs[k]);
		if (!d) die_temp_sys("unable to read queue/", dirs[k]);
		while ((e = readdir(d)) != 0) {
			struct str fn = STR_INIT;
			if (!numeric(e->d_name, &id) || msgs_find(id)) continue;
			str_copys(&fn, dirs[k]);
			str_catc(&fn, '/');
			str_cats(&fn, e->d_name);
			unlink(str_cstr(&fn));
			str_free(&fn);
		}
		closedir(d);
	}
	free(done_set);
	done_set = 0;
	done_len = 0;
	done_compact();
	msgs_todo_wanted();
}

/* Finds messages whose todo/ hint was lost (qmail-queue killed between
 * its commit and the hint): on ALRM and every 20 minutes. */
void msgs_rescan(void)
{
	DIR *d = opendir("mess");
	struct dirent *e;
	unsigned long id;
	if (!d) {
		warn_sys("unable to read queue/mess");
		return;
	}
	while ((e = readdir(d)) != 0)
		if (numeric(e->d_name, &id) && !msgs_find(id) && take_in(id, 0) == -1)
			msgs_todo_wanted();
	closedir(d);
}

/* ---- todo/ intake in bounded steps */

static DIR *todo_dir;
static int todo_wanted;
static int todo_skipped; /* a todo/ hint waits for an old message to go */

void msgs_todo_wanted(void) { todo_wanted = 1; }

void msgs_todo_after_finish(void)
{
	if (todo_skipped) todo_wanted = 1;
	todo_skipped = 0;
}
int msgs_todo_busy(void) { return todo_dir != 0 || todo_wanted; }

int msgs_todo_step(unsigned max)
{
	unsigned done = 0;
	if (!todo_dir) {
		if (!todo_wanted) return 0;
		todo_wanted = 0;
		todo_dir = opendir("todo");
		if (!todo_dir) {
			warn_sys("unable to read queue/todo");
			return 0;
		}
	}
	while (done < max) {
		struct dirent *e = readdir(todo_dir);
		unsigned long id;
		if (!e) {
			closedir(todo_dir);
			todo_dir = 0;
			break;
		}
		if (!numeric(e->d_name, &id)) continue;
		if (msgs_find(id)) {
			struct msg *m = msgs_find(id);
			if (!still_same(m)) todo_skipped = 1; /* a new message with an old ID */
			else if (!m->marker && !m->finishing) clean_request('t', m);
			continue;
		}
		if (take_in(id, 1) == -1) todo_wanted = 1;
		++done;
	}
	return (int)done;
}

/* ---- hints: "ID\n" lines qmail-queue writes into lock/trigger
 *
 * The usual way a new message arrives; todo/ markers are the fallback
 * when qmail-send is not reading. A hint is not trusted beyond naming a
 * file to look at (lock/trigger is writable by everybody): take_in reads
 * mess/ID as it would for a todo/ marker. A hint whose ID belongs to a
 * message still known here (a new message got a finished one's inode)
 * waits in "later" until that message is forgotten. */

#define HINTS_MAX 10000 /* beyond this, the FIFO is left unread */

static unsigned long *hints, *later;
static size_t hints_head, hints_len, hints_cap, later_len, later_cap;
static int later_due;
static time_t later_at;

static void push(unsigned long **a, size_t *len, size_t *cap, unsigned long id)
{
	if (*len == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		unsigned long *b = realloc(*a, n * sizeof *b);
		if (!b) die_nomem();
		*a = b;
		*cap = n;
	}
	(*a)[(*len)++] = id;
}

static void put_later(unsigned long id)
{
	if (!later_len) later_at = now + 5;
	push(&later, &later_len, &later_cap, id);
}

void msgs_hint(unsigned long id) { push(&hints, &hints_len, &hints_cap, id); }
int msgs_hints_full(void) { return hints_len - hints_head >= HINTS_MAX; }
int msgs_hints_busy(void) { return hints_head < hints_len; }
void msgs_hints_retry(void) { later_due = 1; }

unsigned long msgs_hints_wakeup(void) { return later_len ? (unsigned long)later_at : 0; }

int msgs_hints_step(unsigned max)
{
	unsigned done = 0;
	if (later_len && (later_due || now >= later_at)) {
		for (size_t i = 0; i < later_len; ++i) msgs_hint(later[i]);
		later_len = 0;
	}
	later_due = 0;
	while (done < max && hints_head < hints_len) {
		unsigned long id = hints[hints_head++];
		struct msg *m = msgs_find(id);
		if (m) {
			if (!still_same(m)) put_later(id);
			continue; /* otherwise known already: a second hint */
		}
		if (take_in(id, 0) == -1) put_later(id);
		++done;
	}
	if (hints_head == hints_len) hints_head = hints_len = 0;
	return (int)done;
}
