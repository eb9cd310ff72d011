/* ctl: qmail control files.
 *
 * Paths are relative to the current directory; programs chdir to their
 * install root first, as qmail's do. A missing file is not an error: the
 * caller's default applies. Any other failure to read is -1 (errno set),
 * which callers treat as a temporary failure: a control file that exists
 * but cannot be read must never be silently ignored.
 */
#ifndef NQ_CTL_H
#define NQ_CTL_H

#include "str.h"

/* First line, trailing white space removed. 1 read, 0 default used, -1 error. */
int ctl_read_line(const char *fn, struct str *out, const char *dflt);
/* First line as a non-negative decimal number: 1 read, 0 default used
 * (no file, or no leading digit: "-5", "none"), -1 error. */
int ctl_read_ulong(const char *fn, unsigned long *out, unsigned long dflt);
/* All lines: trailing white space removed, blank lines and lines starting
 * with '#' skipped, each line stored followed by a NUL. 1 read, 0 missing
 * (out empty), -1 error. */
int ctl_read_lines(const char *fn, struct str *out);
/* Whole file, unchanged. 1 read, 0 missing, -1 error. */
int ctl_read_file(const char *fn, struct str *out);
/* Iterates over the NUL-separated lines ctl_read_lines produced. */
const char *ctl_next(const struct str *lines, size_t *pos, size_t *len);
/* For files of "domain:value" lines (smtproutes, tlsdestinations): the
 * value of the line for host, trying the whole host, then each shorter
 * ".suffix" (".example.com" for a.b.example.com), then the empty domain;
 * case-insensitive; the first line with a key wins. A domain that is an
 * address literal ("[IPv6:2001:db8::7]") ends at the ':' after its ']'.
 * Returns the value (*vlen bytes, not NUL-terminated) or 0. */
const char *ctl_domain_value(const struct str *lines, const char *host, size_t len, size_t *vlen);

#endif
