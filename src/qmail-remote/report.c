/* report: see report.h. */
#include "report.h"

#include <string.h>
#include <unistd.h>

#include "buf.h"

static char space[1024];
static struct buf out = {1, buf_io_write, 0, space, sizeof space, 0, 0, 0, 0};

void report_put(const char *s, size_t n)
{
	if (buf_put(&out, s, n) == -1) _exit(0);
}

void report_puts(const char *s) { report_put(s, strlen(s)); }

void report_putsafe(const char *s, size_t n)
{
	for (size_t i = 0; i < n; ++i) {
		char c = s[i];
		if (c < 33 || c > 126) c = '?';
		report_put(&c, 1);
	}
}

void report_end(void) { report_put("", 1); }

void report_finish(void)
{
	report_end();
	buf_flush(&out);
	_exit(0);
}

void report_fail(const char *s)
{
	report_puts(s);
	report_finish();
}
