/* str: growable byte strings.
 *
 * All size arithmetic for strings built from outside data happens here and
 * is checked for overflow. Running out of memory is not reported to the
 * caller: die_nomem() ends the program with a temporary failure, so no
 * call site has to test a return value it would handle the same way.
 *
 * A str may hold NUL bytes; str_cstr() adds a terminator after len (not
 * counted) for the calls that need one.
 */
#ifndef NQ_STR_H
#define NQ_STR_H

#include <stddef.h>

struct str {
	char *s;
	size_t len;
	size_t cap;
};
#define STR_INIT {0, 0, 0}

void str_ready(struct str *sa, size_t n);
void str_readyplus(struct str *sa, size_t n);
void str_copyb(struct str *sa, const char *b, size_t n);
void str_copys(struct str *sa, const char *s);
void str_copy(struct str *sa, const struct str *from);
void str_catb(struct str *sa, const char *b, size_t n);
void str_cats(struct str *sa, const char *s);
void str_cat(struct str *sa, const struct str *from);
void str_catc(struct str *sa, char c);
void str_catulong(struct str *sa, unsigned long u);
void str_catulong0(struct str *sa, unsigned long u, unsigned width);
void str_truncate(struct str *sa, size_t len);
const char *str_cstr(struct str *sa);
void str_free(struct str *sa);
/* Appends at most max bytes of s for a message, control bytes shown as
 * '?', and "..." when cut: outside text never floods a log line. */
void str_cat_abbrev(struct str *sa, const char *s, size_t len, size_t max);
/* Sets why to "WHAT NAME: <text of errno>" (NAME abbreviated), keeps
 * errno, and returns -1, for functions that report failures as text. */
int str_reason_errno(struct str *why, const char *what, const char *name);

/* Helpers on (pointer, length) data; none of them relies on a NUL. */
size_t mem_chr(const char *s, size_t n, char c);  /* index of c, or n */
size_t mem_rchr(const char *s, size_t n, char c); /* last index of c, or n */
/* Reads the decimal digits at the start of s into *out and returns how
 * many there were; 0 (and *out untouched) when there are none or the
 * number does not fit in an unsigned long. */
size_t mem_scan_ulong(const char *s, size_t n, unsigned long *out);
int mem_equal_nocase(const char *a, const char *b, size_t n);
int str_equals(const struct str *sa, const char *s);
int str_starts(const struct str *sa, const char *prefix);
void str_lower(struct str *sa);
void str_chomp(struct str *sa);          /* drop one trailing "\n" or "\r\n" */
void str_strip_trailing_space(struct str *sa); /* spaces, tabs, CR, LF */

#endif
