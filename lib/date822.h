/* date822: timestamps for Received:, Date: and mbox "From " lines.
 *
 * qmail writes times in GMT with the offset "-0000" (RFC 2822: the local
 * offset is unknown). A site that sets control/localtime to 1 gets local
 * time with its real numeric offset instead, taken from the C library for
 * that instant, so daylight-saving changes are right.
 */
#ifndef NQ_DATE822_H
#define NQ_DATE822_H

#include <time.h>

#include "str.h"

/* Appends "26 Nov 2026 08:34:33 -0000" (no weekday, as qmail). */
void date822_cat(struct str *out, time_t t, int use_localtime);
/* Appends "Thu Nov 06 08:34:33 2026" in GMT, the asctime form that mbox
 * "From " lines use (day zero-padded as qmail does; no newline). */
void date822_cat_ctime(struct str *out, time_t t);
/* Reads control/localtime (relative to the current directory): 1 when
 * it holds a "1", 0 otherwise. */
int date822_localtime_wanted(void);

#endif
