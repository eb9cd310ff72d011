/* dotqmail: the .qmail delivery-instruction language, dot-qmail(5).
 *
 * dotqmail_parse checks a whole file before anything is delivered, so a
 * mistake in line 7 cannot leave lines 1 to 6 delivered and then repeated
 * on every retry. It splits the text into instructions in place (each
 * instruction's text is NUL-terminated inside the caller's buffer, which
 * must therefore be writable, have one spare byte after len (str_cstr
 * gives that), and outlive the result).
 */
#ifndef NQ_DOTQMAIL_H
#define NQ_DOTQMAIL_H

#include <stddef.h>

#include "str.h"

enum dotqmail_kind {
	DOTQMAIL_PROGRAM, /* "|command": text is the command after the bar */
	DOTQMAIL_FORWARD, /* "&address" or a bare address: text is the address */
	DOTQMAIL_MBOX,    /* "/file" or "./file" */
	DOTQMAIL_MAILDIR, /* "/dir/" or "./dir/" */
};

struct dotqmail_line {
	enum dotqmail_kind kind;
	char *text;
	size_t len;
	size_t lineno;
};

struct dotqmail {
	struct dotqmail_line *v;
	size_t n;
	size_t cap;
	unsigned long files;
	unsigned long forwards;
	unsigned long programs;
};

/* Parses len bytes at text. forward_only is set when the file has its
 * execute bit: then only forwards (and comments) are allowed. Returns 0,
 * or -1 with a one-line reason in why that ends in an enhanced status
 * code. The caller reports a temporary failure: the file needs fixing and
 * the mail must wait. */
int dotqmail_parse(char *text, size_t len, int forward_only, struct dotqmail *out, struct str *why);
void dotqmail_free(struct dotqmail *dq);

/* Which .qmail file holds the instructions for an address, as
 * qmail-local(8) and dot-qmail(5) decide it; qmail-local and
 * qmail-rcptd(8) share this so that RCPT-time checks agree with delivery.
 * With dash "-" and ext "foo-bar-baz" the names tried, in the current
 * directory, are .qmail-foo-bar-baz, .qmail-foo-bar-default,
 * .qmail-foo-default, .qmail-default; ext is lowercased and its dots
 * become colons first (dotqmail_safeext). (With an empty dash and ext,
 * .qmail and .qmaildefault, as qmail; the address exists either way.)
 * try(name, rest, ctx) is called for each name in turn until it returns
 * nonzero, which dotqmail_search then returns (0 when no name matched).
 * rest is the part of ext a "default" stands for (for the exact name,
 * the last 7 bytes when ext itself ends in "default"), or NULL. */
typedef int (*dotqmail_try)(const char *name, const char *rest, void *ctx);
int dotqmail_search(const char *dash, const char *ext, dotqmail_try try, void *ctx);

/* Why delivery into a home directory of this mode waits, as qmail-local
 * decides (dot-qmail(5)): others may write it, or it is sticky because
 * its user is editing the .qmail files. qmail's words with the status
 * code, or 0 for a home that may be used. qmail-rcptd asks the same. */
const char *dotqmail_home_defer(unsigned long mode);
/* ext as it appears in a .qmail file name: lowercased, '.' made ':'. */
void dotqmail_safeext(struct str *out, const char *ext);

#endif
