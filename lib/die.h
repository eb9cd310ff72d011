/* die: error reporting with qmail's exit conventions.
 *
 * Every message carries the program's name: "qmail-inject: fatal: unable to
 * open control/me: permission denied". die_temp exits 111 (try again later),
 * die_perm exits 100 (give up and say why). The _sys variants append the
 * text of errno. Arguments are string pieces; the macros add the terminator.
 *
 * qmail-local is special: its stderr becomes the delivery report that
 * qmail-send logs and quotes in bounces, so it calls die_raw(), which prints
 * the pieces alone with no program prefix.
 */
#ifndef NQ_DIE_H
#define NQ_DIE_H

#include <stdarg.h>

void die_init(const char *progname);
const char *die_progname(void);

_Noreturn void die_code(int code, int with_errno, ...);
_Noreturn void die_raw(int code, ...);
void warn_pieces(int with_errno, ...);
void die_vformat(int code, int with_errno, const char *kind, va_list ap);

/* Called when memory runs out; programs that speak a protocol replace it
 * so that the peer hears "451 out of memory" before the exit. */
void die_set_nomem(void (*handler)(void));
_Noreturn void die_nomem(void);

#define die_temp(...) die_code(111, 0, __VA_ARGS__, (const char *)0)
#define die_temp_sys(...) die_code(111, 1, __VA_ARGS__, (const char *)0)
#define die_perm(...) die_code(100, 0, __VA_ARGS__, (const char *)0)
#define die_perm_sys(...) die_code(100, 1, __VA_ARGS__, (const char *)0)
#define die_usage(...) die_code(100, 0, "usage: ", __VA_ARGS__, (const char *)0)
#define die_report(code, ...) die_raw(code, __VA_ARGS__, (const char *)0)
#define warn(...) warn_pieces(0, __VA_ARGS__, (const char *)0)
#define warn_sys(...) warn_pieces(1, __VA_ARGS__, (const char *)0)

#endif
