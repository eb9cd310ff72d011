/* report: qmail-remote's results on fd 1, as qmail-remote(8) defines.
 *
 * A recipient report is 'r' (accepted), 'h' (rejected for good) or 's'
 * (rejected for now), then text, then a 0 byte; the message report that
 * ends the run is 'K' (delivered), 'Z' (try again later) or 'D' (give
 * up), then text, then a 0 byte. qmail-rspawn reads them. Whatever goes
 * wrong, qmail-remote exits 0: the reports carry the outcome. If fd 1
 * itself fails there is nobody left to tell, and it exits 0 at once.
 */
#ifndef NQ_REMOTE_REPORT_H
#define NQ_REMOTE_REPORT_H

#include <stddef.h>

void report_puts(const char *s);
void report_put(const char *s, size_t n);
/* Only printable ASCII; other bytes become '?'. For names from argv. */
void report_putsafe(const char *s, size_t n);
/* Ends one report with its 0 byte. */
void report_end(void);
/* Ends the message report and exits 0. */
_Noreturn void report_finish(void);
/* A whole message report: letter and text in one string. */
_Noreturn void report_fail(const char *s);

#endif
