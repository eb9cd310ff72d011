/* date822: see date822.h. */
#include "date822.h"

#include "ctl.h"

static const char *const months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *const days[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

static void cat_hms(struct str *out, const struct tm *tm)
{
	str_catulong0(out, (unsigned long)tm->tm_hour, 2);
	str_catc(out, ':');
	str_catulong0(out, (unsigned long)tm->tm_min, 2);
	str_catc(out, ':');
	str_catulong0(out, (unsigned long)tm->tm_sec, 2);
}

void date822_cat(struct str *out, time_t t, int use_localtime)
{
	struct tm tm;
	long off = 0;
	if (use_localtime) {
		tzset();
		localtime_r(&t, &tm);
		off = tm.tm_gmtoff / 60;
	} else {
		gmtime_r(&t, &tm);
	}
	str_catulong(out, (unsigned long)tm.tm_mday);
	str_catc(out, ' ');
	str_cats(out, months[tm.tm_mon % 12]);
	str_catc(out, ' ');
	str_catulong(out, (unsigned long)tm.tm_year + 1900);
	str_catc(out, ' ');
	cat_hms(out, &tm);
	if (!use_localtime) {
		str_cats(out, " -0000");
		return;
	}
	str_cats(out, off < 0 ? " -" : " +");
	if (off < 0) off = -off;
	str_catulong0(out, (unsigned long)(off / 60), 2);
	str_catulong0(out, (unsigned long)(off % 60), 2);
}

void date822_cat_ctime(struct str *out, time_t t)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	str_cats(out, days[tm.tm_wday % 7]);
	str_catc(out, ' ');
	str_cats(out, months[tm.tm_mon % 12]);
	str_catc(out, ' ');
	str_catulong0(out, (unsigned long)tm.tm_mday, 2); /* qmail writes "Nov 06" */
	str_catc(out, ' ');
	cat_hms(out, &tm);
	str_catc(out, ' ');
	str_catulong(out, (unsigned long)tm.tm_year + 1900);
}

int date822_localtime_wanted(void)
{
	struct str line = STR_INIT;
	int r = ctl_read_line("control/localtime", &line, "0");
	int yes = r >= 0 && str_equals(&line, "1");
	str_free(&line);
	return yes;
}
