/* qmail-qread: lists the messages in the queue (qmail-qread(8)).
 *
 * For each message: its birth (GMT), its number (the queue file's inode),
 * its size, the envelope sender, and "bouncing" when failure reports wait
 * to be sent; then one line per recipient, local ones first, "  done"
 * first when it needs no more delivery (qmail's layout, byte for byte;
 * unprintable bytes show as '_'). A message qmail-send has not yet taken in is listed from
 * its envelope, recipients marked "todo". Reads the queue only: it needs
 * the rights of qmails (or root) in a system install.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "date822.h"
#include "die.h"
#include "queue.h"
#include "str.h"

static char outspace[8192];
static struct buf out;

static int read_all(const char *fn, struct str *s)
{
	char b[8192];
	int fd = open(fn, O_RDONLY | O_CLOEXEC);
	s->len = 0;
	if (fd == -1) return -1;
	for (;;) {
		ssize_t r = read(fd, b, sizeof b);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		str_catb(s, b, (size_t)r);
	}
	close(fd);
	return 0;
}

/* As qmail's qmail-qread: every byte outside printable ASCII shows as '_'. */
static void put_safe(const char *s, size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		char c = s[i];
		if ((unsigned char)c < 32 || (unsigned char)c > 126) c = '_';
		buf_put(&out, &c, 1);
	}
}

/* One channel's recipients, as qmail prints them: "\tlocal\taddr" while
 * delivery is pending, "  done\tlocal\taddr" once it is finished. */
static void show_channel(const struct str *recips, char channel)
{
	for (size_t i = 0; i < recips->len;) {
		size_t n = mem_chr(recips->s + i, recips->len - i, 0);
		if (n >= 2 && recips->s[i + 1] == channel) {
			if (recips->s[i] != QUEUE_TODO) buf_puts(&out, "  done");
			buf_puts(&out, channel == 'L' ? "\tlocal\t" : "\tremote\t");
			put_safe(recips->s + i + 2, n - 2);
			buf_puts(&out, "\n");
		}
		i += n + 1;
	}
}

static void show(unsigned long id)
{
	struct str fn = STR_INIT, env = STR_INIT, info = STR_INIT, line = STR_INIT;
	struct queue_header h;
	struct queue_info qi = {0, 0, {0, 0}, 0, STR_INIT, STR_INIT};
	struct stat st;
	int fd, have_info;
	size_t i;

	queue_path(&fn, "mess", id);
	fd = open(str_cstr(&fn), O_RDONLY | O_CLOEXEC);
	if (fd == -1) goto done; /* finished meanwhile */
	if (queue_header_read(fd, &h) == -1 || queue_envelope_read(fd, &h, &env) == -1) {
		close(fd);
		warn_sys("unable to read ", fn.s);
		goto done;
	}
	close(fd);
	queue_path(&fn, "info", id);
	have_info = read_all(str_cstr(&fn), &info) == 0 &&
	            queue_info_parse(info.s, info.len, &qi) == 0 && qi.birth == h.birth &&
	            qi.birth_nsec == h.birth_nsec;
	queue_path(&fn, "bounce", id);

	date822_cat(&line, (time_t)h.birth, 0);
	if (line.len > 6) line.len -= 6; /* " -0000" */
	str_cats(&line, " GMT  #");
	str_catulong(&line, id);
	str_cats(&line, "  ");
	str_catulong(&line, h.msglen);
	str_cats(&line, "  <");
	put_safe(line.s, line.len);
	put_safe(env.s + 1, mem_chr(env.s, env.len, 0) - 1);
	buf_puts(&out, "> ");
	if (stat(str_cstr(&fn), &st) == 0) buf_puts(&out, " bouncing");
	buf_puts(&out, "\n");
	if (have_info) {
		/* local recipients first, then remote ones, as qmail lists them */
		show_channel(&qi.recips, 'L');
		show_channel(&qi.recips, 'R');
	} else {
		for (i = mem_chr(env.s, env.len, 0) + 1; i < env.len;) {
			size_t n = mem_chr(env.s + i, env.len - i, 0);
			buf_puts(&out, "\ttodo\t");
			put_safe(env.s + i + 1, n - 1);
			buf_puts(&out, "\n");
			i += n + 1;
		}
	}
done:
	str_free(&fn);
	str_free(&env);
	str_free(&info);
	str_free(&line);
	str_free(&qi.sender);
	str_free(&qi.recips);
}

static int by_number(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;
	return x < y ? -1 : x > y;
}

int main(void)
{
	DIR *d;
	struct dirent *e;
	unsigned long *ids = 0;
	size_t n = 0, cap = 0;

	die_init("qmail-qread");
	buf_init_write(&out, 1, outspace, sizeof outspace);
	if (chdir(AUTO_PREFIX "/" QUEUE_DIR) == -1) die_temp_sys("unable to chdir to the queue");
	d = opendir("mess");
	if (!d) die_temp_sys("unable to read queue/mess");
	while ((e = readdir(d)) != 0) {
		char *end;
		unsigned long id;
		if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
		id = strtoul(e->d_name, &end, 10);
		if (*end) continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			ids = realloc(ids, cap * sizeof *ids);
			if (!ids) die_nomem();
		}
		ids[n++] = id;
	}
	closedir(d);
	if (n) qsort(ids, n, sizeof *ids, by_number);
	for (size_t i = 0; i < n; ++i) show(ids[i]);
	if (buf_flush(&out) == -1) die_temp_sys("unable to write output");
	free(ids);
	return 0;
}
