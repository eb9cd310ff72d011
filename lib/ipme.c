/* ipme: see ipme.h. */
#include "ipme.h"

#include <ifaddrs.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "die.h"

static struct ipaddr *me;
static size_t me_len, me_cap;

static void add(const struct ipaddr *ip)
{
	if (ipme_is(ip)) return;
	if (me_len == me_cap) {
		size_t n = me_cap ? me_cap * 2 : 16;
		void *p = n > SIZE_MAX / sizeof *me ? 0 : realloc(me, n * sizeof *me);
		if (!p) die_nomem();
		me = p;
		me_cap = n;
	}
	me[me_len++] = *ip;
}

static void drop(const struct ipaddr *ip)
{
	for (size_t i = 0; i < me_len; ++i) {
		if (!ipaddr_equal(&me[i], ip)) continue;
		me[i] = me[--me_len];
		return;
	}
}

/* Reads a control file of addresses; lines that are not addresses are
 * skipped, so a comment or a typo cannot stop deliveries. */
static int each_listed(const char *fn, void (*fn_each)(const struct ipaddr *))
{
	struct str lines = STR_INIT;
	size_t pos = 0, len;
	const char *line;
	int r = ctl_read_lines(fn, &lines);
	if (r == -1) return -1;
	while ((line = ctl_next(&lines, &pos, &len)) != 0) {
		struct ipaddr ip;
		if (ipaddr_parse(&ip, line, len) || ipaddr_parse_literal(&ip, line, len))
			fn_each(&ip);
	}
	str_free(&lines);
	return 0;
}

int ipme_init(void)
{
	struct ifaddrs *ifs, *i;
	struct ipaddr ip;
	me_len = 0;
	memset(&ip, 0, sizeof ip);
	ip.family = AF_INET;
	add(&ip);
	ip.family = AF_INET6;
	add(&ip);
	if (getifaddrs(&ifs) == -1) return -1;
	for (i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && ipaddr_from_sockaddr(&ip, i->ifa_addr)) add(&ip);
	freeifaddrs(ifs);
	if (each_listed("control/moreipme", add) == -1) return -1;
	if (each_listed("control/notipme", drop) == -1) return -1;
	return 0;
}

int ipme_is(const struct ipaddr *ip)
{
	for (size_t i = 0; i < me_len; ++i)
		if (ipaddr_equal(&me[i], ip)) return 1;
	return 0;
}
