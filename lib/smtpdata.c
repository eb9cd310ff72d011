/* smtpdata: see smtpdata.h. A five-state machine; inside a line, runs of
 * ordinary bytes are passed on in one piece. */
#include "smtpdata.h"

enum {
	LINESTART, /* after CR LF, or at the start */
	MID,       /* inside a line */
	CR,        /* a CR is pending: a line end if LF follows */
	DOT,       /* "." at the start of a line */
	DOTCR      /* "." CR at the start of a line */
};

void smtpdata_start(struct smtpdata *d) { d->st = LINESTART; }

int smtpdata_feed(struct smtpdata *d, const char *p, size_t n, size_t *used,
                  smtpdata_emit emit, void *ctx)
{
	size_t i = 0;
	while (i < n) {
		char c = p[i];
		if (d->st == MID) {
			size_t j = i;
			while (j < n && p[j] != '\r' && p[j] != '\n') ++j;
			if (j > i) emit(ctx, p + i, j - i);
			i = j;
			if (i == n) break;
			c = p[i];
		}
		++i;
		switch (d->st) {
		case MID:
			if (c == '\n') goto barelf;
			d->st = CR;
			break;
		case LINESTART:
			if (c == '\n') goto barelf;
			if (c == '.') d->st = DOT;
			else if (c == '\r') d->st = CR;
			else {
				emit(ctx, &c, 1);
				d->st = MID;
			}
			break;
		case CR:
			if (c == '\n') {
				emit(ctx, "\n", 1);
				d->st = LINESTART;
			} else if (c == '\r') {
				emit(ctx, "\r", 1); /* the earlier CR was data */
			} else {
				emit(ctx, "\r", 1);
				emit(ctx, &c, 1);
				d->st = MID;
			}
			break;
		case DOT:
			if (c == '\n') goto barelf;
			if (c == '\r') d->st = DOTCR;
			else {
				emit(ctx, &c, 1); /* the doubled dot goes */
				d->st = MID;
			}
			break;
		case DOTCR:
			if (c == '\n') {
				*used = i;
				d->st = LINESTART;
				return SMTPDATA_END;
			}
			/* "." CR and something else: qmail keeps the dot. */
			emit(ctx, ".\r", 2);
			if (c == '\r') d->st = CR;
			else {
				emit(ctx, &c, 1);
				d->st = MID;
			}
			break;
		}
	}
	*used = i;
	return SMTPDATA_MORE;
barelf:
	*used = i;
	return SMTPDATA_BARELF;
}
