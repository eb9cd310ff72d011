/* smtpdata: decoding the message text of SMTP's DATA command.
 *
 * The decoder takes the bytes as they arrive, in pieces of any size, and
 * hands the message on through a callback: CR LF becomes LF, and the dot
 * a client doubles at the start of a line is removed. It promises what
 * keeps SMTP smuggling out:
 *   - only CR LF "." CR LF (or "." CR LF as the very first line) ends the
 *     message;
 *   - a LF that does not follow a CR is an error (qmail's 451), never a
 *     line end;
 *   - a CR that is not followed by LF is message data, never a line end.
 * The result does not depend on how the input was split. NUL and 8-bit
 * bytes are data like any other.
 */
#ifndef NQ_SMTPDATA_H
#define NQ_SMTPDATA_H

#include <stddef.h>

struct smtpdata {
	int st;
};

enum {
	SMTPDATA_MORE = 0,   /* all input used; the message goes on */
	SMTPDATA_END = 1,    /* the final dot line was read */
	SMTPDATA_BARELF = -1 /* a LF without CR: the client is broken */
};

typedef void (*smtpdata_emit)(void *ctx, const char *p, size_t n);

void smtpdata_start(struct smtpdata *d);
/* Decodes p[0..n). *used is how many bytes were consumed (after END, the
 * rest belongs to the next command; after BARELF, nothing matters). */
int smtpdata_feed(struct smtpdata *d, const char *p, size_t n, size_t *used,
                  smtpdata_emit emit, void *ctx);

#endif
