/* die: see die.h. Messages are assembled in a fixed buffer with explicit
 * truncation, so reporting an error never allocates. */
#include "die.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *progname = "nqmail";
static void (*nomem_handler)(void);

void die_init(const char *name)
{
	const char *slash = strrchr(name, '/');
	progname = slash ? slash + 1 : name;
}

const char *die_progname(void) { return progname; }

struct msg {
	char s[2048];
	size_t len;
};

static void msg_add(struct msg *m, const char *piece)
{
	size_t n = strlen(piece);
	size_t room = sizeof m->s - 1 - m->len;
	if (n > room) n = room;
	memcpy(m->s + m->len, piece, n);
	m->len += n;
}

static void msg_write(struct msg *m)
{
	size_t off = 0;
	m->s[m->len++] = '\n';
	while (off < m->len) {
		ssize_t w = write(2, m->s + off, m->len - off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return;
		off += (size_t)w;
	}
}

static void compose(struct msg *m, const char *kind, int with_errno, int err, va_list ap)
{
	const char *piece;
	m->len = 0;
	if (kind) {
		msg_add(m, progname);
		msg_add(m, ": ");
		msg_add(m, kind);
		msg_add(m, ": ");
	}
	while ((piece = va_arg(ap, const char *)) != 0) msg_add(m, piece);
	if (with_errno) {
		msg_add(m, ": ");
		msg_add(m, strerror(err));
	}
}

void die_vformat(int code, int with_errno, const char *kind, va_list ap)
{
	struct msg m;
	compose(&m, kind, with_errno, errno, ap);
	msg_write(&m);
	_exit(code);
}

void die_code(int code, int with_errno, ...)
{
	va_list ap;
	va_start(ap, with_errno);
	die_vformat(code, with_errno, "fatal", ap);
	va_end(ap);
	_exit(code);
}

void die_raw(int code, ...)
{
	va_list ap;
	va_start(ap, code);
	die_vformat(code, 0, 0, ap);
	va_end(ap);
	_exit(code);
}

void warn_pieces(int with_errno, ...)
{
	struct msg m;
	int err = errno;
	va_list ap;
	va_start(ap, with_errno);
	compose(&m, "warning", with_errno, err, ap);
	va_end(ap);
	msg_write(&m);
	errno = err;
}

void die_set_nomem(void (*handler)(void)) { nomem_handler = handler; }

void die_nomem(void)
{
	if (nomem_handler) nomem_handler();
	die_temp("out of memory");
}

#ifdef NQ_SANITIZE
/* Sanitizer builds only. Programs exit without freeing, by design, as
 * qmail's do; a leak report at exit would turn a delivery into a failure
 * however the program was started (by make test, supervise or a person).
 * Memory errors and undefined behaviour are still reported. Every program
 * links die.o, so this default reaches all of them. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "detect_leaks=0"; }
#endif
