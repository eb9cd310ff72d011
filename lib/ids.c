/* ids: see ids.h. */
#include "ids.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "ctl.h"
#include "str.h"

static const char *const role_names[IDS_ROLES] = {"alias",  "qmaild", "qmaill", "qmailp",
                                                  "qmailq", "qmailr", "qmails"};

static void defaults(struct ids *out)
{
	long uid = (long)getuid(), gid = (long)getgid();
	out->system = 0;
	for (int i = 0; i < IDS_ROLES; ++i) {
		out->uid[i] = uid;
		out->gid[i] = gid;
	}
	out->gid_qmail = out->gid_nofiles = gid;
}

static int number(const char *s, size_t len, long *out)
{
	long v = 0;
	if (len == 0 || len > 10) return -1;
	for (size_t i = 0; i < len; ++i) {
		if (s[i] < '0' || s[i] > '9') return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int line(const char *s, size_t len, struct ids *out)
{
	size_t eq = mem_chr(s, len, '='), colon;
	const char *v = s + eq + 1;
	size_t vlen = len - eq - 1;
	if (eq == len) return -1;
	if (eq == 4 && memcmp(s, "mode", 4) == 0) {
		if (vlen == 6 && memcmp(v, "system", 6) == 0) out->system = 1;
		else if (vlen == 4 && memcmp(v, "user", 4) == 0) out->system = 0;
		else return -1;
		return 0;
	}
	if (eq == 5 && memcmp(s, "qmail", 5) == 0) return number(v, vlen, &out->gid_qmail);
	if (eq == 7 && memcmp(s, "nofiles", 7) == 0) return number(v, vlen, &out->gid_nofiles);
	colon = mem_chr(v, vlen, ':');
	if (colon == vlen) return -1;
	for (int i = 0; i < IDS_ROLES; ++i) {
		if (strlen(role_names[i]) != eq || memcmp(s, role_names[i], eq) != 0) continue;
		if (number(v, colon, &out->uid[i]) == -1) return -1;
		return number(v + colon + 1, vlen - colon - 1, &out->gid[i]);
	}
	return 0; /* unknown keys are left for newer versions */
}

int ids_parse(const char *s, unsigned long len, struct ids *out)
{
	size_t i = 0;
	defaults(out);
	while (i < len) {
		size_t n = mem_chr(s + i, len - i, '\n');
		if (n && line(s + i, n, out) == -1) return -1;
		i += n + 1;
	}
	return 0;
}

int ids_load(struct ids *out)
{
	struct str file = STR_INIT;
	int r = ctl_read_file(AUTO_PREFIX "/etc/ids", &file);
	defaults(out);
	if (r == 1 && ids_parse(file.s, file.len, out) == -1) {
		errno = EINVAL;
		r = -1;
	}
	str_free(&file);
	return r == -1 ? -1 : 0;
}
