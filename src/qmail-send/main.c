/* qmail-send: the queue scheduler (qmail-send(8)).
 *
 * Started by qmail-start as qmails, with pipes to qmail-lspawn (fds 3 and
 * 4), qmail-rspawn (5, 6) and qmail-clean (7, 8); it logs to stdout in
 * qmail-log(5)'s format. One loop, never blocking on anything but poll:
 * each turn reads delivery reports, takes in at most TODO_BATCH new
 * messages from todo/, starts deliveries in the free slots and writes the
 * log. New mail therefore never starves deliveries and deliveries never
 * starve new mail (no "silly qmail syndrome").
 *
 * Signals: ALRM makes every waiting message due now, HUP rereads locals
 * and virtualdomains, TERM stops new deliveries and exits once the
 * running ones have reported.
 *
 * qmail-send itself never fsyncs: what it writes (info/, bounce/) only
 * records progress, and losing it repeats work but loses no mail.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "ctl.h"
#include "date822.h"
#include "die.h"
#include "durable.h"
#include "queue.h"
#include "send.h"
#include "sig.h"

#define TODO_BATCH 50

struct config cfg;
time_t now;
int exiting;

static struct str logbuf = STR_INIT;
static int selfpipe[2];
static volatile sig_atomic_t got_alarm, got_hup, got_term;

void log_line(const char *first, ...)
{
	va_list ap;
	const char *s;
	str_cats(&logbuf, first);
	va_start(ap, first);
	while ((s = va_arg(ap, const char *)) != 0) str_cats(&logbuf, s);
	va_end(ap);
	str_catc(&logbuf, '\n');
	if (logbuf.len > 65536) log_flush();
}

void log_flush(void)
{
	/* a log that cannot be written must not stop the mail */
	if (logbuf.len) durable_write_all(1, logbuf.s, logbuf.len);
	logbuf.len = 0;
}

/* Text from outside (addresses, reports) as one log-safe word: qmail's
 * convention turns newlines into '/' and spaces and controls into '_'. */
void log_safe(struct str *out, const char *s, size_t len)
{
	out->len = 0;
	for (size_t i = 0; i < len; ++i) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n') c = '/';
		else if (c <= 32 || c > 126) c = '_';
		str_catc(out, (char)c);
	}
	str_cstr(out);
}

static void on_signal(int sig)
{
	int e = errno;
	if (sig == SIGALRM) got_alarm = 1;
	if (sig == SIGHUP) got_hup = 1;
	if (sig == SIGTERM) got_term = 1;
	if (write(selfpipe[1], "", 1) < 0) { /* the pipe is full: a wakeup is pending */ }
	errno = e;
}

static void read_line_default(const char *fn, struct str *out, const struct str *dflt)
{
	if (ctl_read_line(fn, out, 0) == -1) die_temp_sys("unable to read ", fn);
	if (out->len == 0) str_copy(out, dflt);
}

/* Reads control/ relative to the install root. Dies when a file exists
 * but cannot be read: routing with half a configuration loses mail. */
static void config_load(int first)
{
	struct str dflt = STR_INIT;
	struct route r = ROUTE_INIT;
	unsigned long dsn;
	if (route_load(&r) == -1) {
		if (first) die_temp_sys("unable to read controls");
		say("alert: unable to reread controls; keeping the old ones");
		route_free(&r);
		return;
	}
	route_free(&cfg.route);
	cfg.route = r;
	if (!first) return;
	for (int c = 0; c < CHANNELS; ++c) {
		const char *fn = c ? "control/concurrencyremote" : "control/concurrencylocal";
		if (ctl_read_ulong(fn, &cfg.concurrency[c], c ? 20 : 10) == -1)
			die_temp_sys("unable to read ", fn);
		/* 0 puts the channel on hold, as in qmail-send(8) */
		if (cfg.concurrency[c] > QUEUE_CONCURRENCY_MAX) cfg.concurrency[c] = QUEUE_CONCURRENCY_MAX;
	}
	if (ctl_read_ulong("control/queuelifetime", &cfg.lifetime, 604800) == -1)
		die_temp_sys("unable to read control/queuelifetime");
	str_copys(&dflt, "MAILER-DAEMON");
	read_line_default("control/bouncefrom", &cfg.bouncefrom, &dflt);
	read_line_default("control/bouncehost", &cfg.bouncehost, &cfg.route.me);
	str_copys(&dflt, "postmaster");
	if (ctl_read_line("control/doublebounceto", &cfg.doublebounceto, "postmaster") == -1)
		die_temp_sys("unable to read control/doublebounceto");
	read_line_default("control/doublebouncehost", &cfg.doublebouncehost, &cfg.route.me);
	cfg.localtime = date822_localtime_wanted();
	if (ctl_read_ulong("control/bouncedsn", &dsn, 0) == -1)
		die_temp_sys("unable to read control/bouncedsn");
	cfg.dsn = dsn == 1;
	if (ctl_read_ulong("control/dsnmaxbytes", &cfg.dsnmaxbytes, 1000000) == -1)
		die_temp_sys("unable to read control/dsnmaxbytes");
	str_free(&dflt);
}

static void reload(void)
{
	if (chdir(AUTO_PREFIX) == -1) {
		say("alert: unable to chdir to ", AUTO_PREFIX);
		return;
	}
	config_load(0);
	if (chdir(QUEUE_DIR) == -1) die_temp_sys("unable to chdir back to the queue");
}

static int lock_queue(void)
{
	struct flock fl;
	int fd = open("lock/sendmutex", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1) return -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_SETLK, &fl);
}

/* Reads lock/trigger: "ID\n" lines from qmail-queue become hints (it
 * writes "\nID\n": empty lines are nothing); any other byte (qmail's
 * NUL, a line that is not a number) means "look in todo/". Lines may
 * arrive split across reads. */
static void read_trigger(int fd)
{
	static char digits[20];
	static size_t ndigits;
	static int junk;
	char buf[4096];
	ssize_t r;
	while (!msgs_hints_full() && (r = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < r; ++i) {
			char c = buf[i];
			if (c >= '0' && c <= '9' && !junk && ndigits < 19) {
				digits[ndigits++] = c;
				continue;
			}
			if (c == '\n' && !junk && ndigits) {
				unsigned long id = 0;
				for (size_t k = 0; k < ndigits; ++k) id = id * 10 + (unsigned long)(digits[k] - '0');
				msgs_hint(id);
				ndigits = 0;
				continue;
			}
			if (c == '\n' && !junk) continue; /* an empty line */
			msgs_todo_wanted();
			ndigits = 0;
			junk = c != '\n' && c != '\0'; /* skip the rest of a bad line */
		}
	}
}

static int wait_ms(void)
{
	unsigned long wake = 0;
	if (!exiting && (msgs_todo_busy() || msgs_hints_busy())) return 0;
	if (!exiting) wake = msgs_hints_wakeup();
	for (int c = 0; c < CHANNELS; ++c) {
		unsigned long w = msgs_wakeup(c);
		if (w && deliver_slots_free(c) && !exiting && (!wake || w < wake)) wake = w;
	}
	{
		unsigned long b = bounce_wakeup();
		if (b && (!wake || b < wake)) wake = b;
	}
	if (!wake) return 60000;
	if (wake <= (unsigned long)now) return 0;
	if (wake - (unsigned long)now > 60) return 60000;
	return (int)(wake - (unsigned long)now) * 1000;
}

int main(void)
{
	int trigger, trigger_keep;
	time_t last_sweep;

	die_init("qmail-send");
	sig_ignore(SIGPIPE);
	umask(077);
	now = time(0);
	if (chdir(AUTO_PREFIX) == -1) die_temp_sys("unable to chdir to ", AUTO_PREFIX);
	config_load(1);
	if (chdir(QUEUE_DIR) == -1) die_temp_sys("unable to chdir to the queue");
	if (lock_queue() == -1) die_temp_sys("unable to lock the queue (is another qmail-send running?)");
	trigger = open("lock/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (trigger == -1) die_temp_sys("unable to open lock/trigger");
	/* holding a writer keeps poll from reporting hangups forever */
	trigger_keep = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	(void)trigger_keep;
	if (pipe(selfpipe) == -1) die_temp_sys("unable to create a pipe");
	fcntl(selfpipe[0], F_SETFL, O_NONBLOCK);
	fcntl(selfpipe[1], F_SETFL, O_NONBLOCK);
	fcntl(clean_fd(), F_SETFL, fcntl(clean_fd(), F_GETFL) | O_NONBLOCK);
	sig_catch(SIGALRM, on_signal);
	sig_catch(SIGHUP, on_signal);
	sig_catch(SIGTERM, on_signal);

	deliver_init();
	deliver_status();
	msgs_startup_scan();
	clean_sweep();
	last_sweep = now;
	log_flush();

	for (;;) {
		struct pollfd p[6];
		char junk[256];
		now = time(0);
		if (got_term) {
			got_term = 0;
			exiting = 1;
			deliver_status();
		}
		if (got_hup) {
			got_hup = 0;
			reload();
		}
		if (got_alarm) {
			got_alarm = 0;
			msgs_all_now();
			msgs_rescan();
			msgs_todo_wanted();
		}
		if (exiting && deliver_inflight() == 0) {
			say("status: exiting");
			log_flush();
			return 0;
		}
		read_trigger(trigger);
		if (!exiting) {
			msgs_hints_step(TODO_BATCH);
			msgs_todo_step(TODO_BATCH);
		}
		deliver_dispatch();
		bounce_retry_due();
		if (now - last_sweep > 1200) {
			clean_sweep();
			msgs_rescan();
			last_sweep = now;
		}
		log_flush();

		/* a full hint list is taken in first; the FIFO waits */
		p[0] = (struct pollfd){trigger, msgs_hints_full() ? 0 : POLLIN, 0};
		p[1] = (struct pollfd){selfpipe[0], POLLIN, 0};
		p[2] = (struct pollfd){deliver_fd(CH_LOCAL), POLLIN, 0};
		p[3] = (struct pollfd){deliver_fd(CH_REMOTE), POLLIN, 0};
		p[4] = (struct pollfd){clean_fd(), POLLIN, 0};
		if (poll(p, 5, wait_ms()) == -1 && errno != EINTR) die_temp_sys("poll failed");
		while (read(selfpipe[0], junk, sizeof junk) > 0) {}
		now = time(0);
		for (int c = 0; c < CHANNELS; ++c)
			if (p[2 + c].revents && deliver_read(c) == -1) {
				say("alert: oh no! lost qmail-", c ? "rspawn" : "lspawn", " connection! dying...");
				log_flush();
				return 111;
			}
		if (p[4].revents && clean_read() == -1) {
			say("alert: oh no! lost qmail-clean connection! dying...");
			log_flush();
			return 111;
		}
	}
}
