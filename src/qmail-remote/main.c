/* qmail-remote: sends one message to one remote host by SMTP.
 *
 * qmail-remote host sender recip... reads the message on fd 0 and writes
 * its results on fd 1 as qmail-remote(8) defines (see report.h). It finds
 * the addresses to try from control/smtproutes or the host's MX records,
 * skips the addresses that are its own (the MX points back to us) and
 * the ones qmail-tcpto remembers as dead, and tries the rest in
 * preference order until one answers; smtp.c then does the talking.
 * control/tlsdestinations (lib/tlspolicy) says whether the destination
 * requires TLS; a server that cannot meet a required policy is left for
 * the next one, and the message waits if none can.
 *
 * It runs as qmailr, started by qmail-rspawn, and needs no privilege:
 * it reads control files and writes queue/lock/tcpto. It always exits 0.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "addr.h"
#include "conn.h"
#include "ctl.h"
#include "die.h"
#include "dns.h"
#include "ipme.h"
#include "report.h"
#include "route.h"
#include "sig.h"
#include "smtp.h"
#include "tcpto.h"
#include "tlspolicy.h"

static struct str host; /* argv[1], or the relay smtproutes names */

static void nomem(void) { report_fail("ZOut of memory. (#4.3.0)\n"); }

_Noreturn static void temp_control(void)
{
	report_fail("ZUnable to read control files. (#4.3.0)\n");
}

_Noreturn static void perm_dns(void)
{
	report_puts("DSorry, I couldn't find any host named ");
	report_putsafe(host.s, host.len);
	report_fail(". (#5.1.2)\n");
}

/* Measures the message when fd 0 is a file (it is, under qmail-rspawn):
 * the size for SIZE, whether BODY=8BITMIME applies, and whether the last
 * line is complete, all before any connection is made. */
static void measure(struct message *m)
{
	static char chunk[65536];
	struct stat st;
	off_t start;
	unsigned long size = 0;
	int eight = 0;
	char last = '\n';
	m->fd = 0;
	m->measured = 0;
	if (fstat(0, &st) == -1 || !S_ISREG(st.st_mode)) return;
	start = lseek(0, 0, SEEK_CUR);
	if (start == -1) return;
	for (;;) {
		ssize_t r = read(0, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR) continue;
		if (r < 0) report_fail("ZUnable to read message. (#4.3.0)\n");
		if (r == 0) break;
		for (ssize_t i = 0; i < r; ++i) {
			if (chunk[i] == '\n') ++size;
			if (chunk[i] & 0x80) eight = 1;
		}
		size += (unsigned long)r;
		last = chunk[r - 1];
	}
	if (last != '\n')
		report_fail("DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n");
	if (lseek(0, start, SEEK_SET) == -1) report_fail("ZUnable to read message. (#4.3.0)\n");
	m->measured = 1;
	m->size = size;
	m->eightbit = eight;
}

/* The local part quoted as SMTP needs; the domain canonical when asked
 * (qmail follows CNAMEs of recipient domains unless smtproutes routes
 * the host). Returns 1 when the domain was an alias. */
static int mangle(struct str *out, const char *addr, int cname)
{
	static struct str dom;
	size_t len = strlen(addr);
	size_t at = addr_at(addr, len);
	int alias = cname;
	out->len = 0;
	if (at == len) {
		str_copyb(out, addr, len);
		return alias;
	}
	/* Quoting "local@" lets addr_quote split at this very '@', so a local
	 * part that holds an '@' of its own is quoted too. */
	addr_quote(out, addr, at + 1);
	str_copyb(&dom, addr + at + 1, len - at - 1);
	if (cname) {
		int r = dns_cname(&dom);
		if (r == DNS_SOFT) report_fail("ZCNAME lookup failed temporarily. (#4.4.3)\n");
		if (r == 0) alias = 0;
	}
	str_cat(out, &dom);
	return alias;
}

/* One address: the conversation, and once more in plaintext when an
 * opportunistic handshake failed (the server offered STARTTLS but could
 * not go through with it; waiting would not change that, and plaintext
 * is what this destination accepts). Returns only when the address
 * could not be used; *tlswhy keeps a required policy's refusal. */
static void try_address(struct job *job, const struct dns_ip *x, unsigned port,
                        unsigned timeoutconnect, unsigned timeout, struct str *tlswhy)
{
	static struct conn conn;
	job->plain = 0;
	job->names[0] = x->name;
	job->nnames = 2;
	for (int attempt = 0; attempt < 2; ++attempt) {
		int r;
		if (conn_open(&conn, &x->ip, port, timeoutconnect, timeout) == -1) {
			if (errno == EAFNOSUPPORT || errno == ENETUNREACH)
				return; /* no route of that kind here */
			tcpto_note(&x->ip, errno == ETIMEDOUT);
			return;
		}
		tcpto_note(&x->ip, 0);
		r = smtp_deliver(&conn, job, tlswhy);
		conn_close(&conn);
		if (r != SMTP_PLAIN_RETRY) return;
		job->plain = 1;
	}
}

int main(int argc, char **argv)
{
	static struct job job;
	static struct tlspolicy tls;
	struct str tlswhy = STR_INIT;
	struct dns_iplist ips = {0, 0, 0};
	struct ipaddr literal;
	struct route route = {0, STR_INIT, 25};
	unsigned long timeout = 1200, timeoutconnect = 60, prefme;
	int relay, allaliases = 1, r;
	size_t i;

	die_init("qmail-remote");
	die_set_nomem(nomem);
	sig_ignore(SIGPIPE);
	if (argc < 4) report_fail("DI (qmail-remote) was invoked improperly. (#5.3.5)\n");
	if (chdir(AUTO_PREFIX) == -1)
		report_fail("ZUnable to switch to home directory. (#4.3.0)\n");
	if (ctl_read_ulong("control/timeoutremote", &timeout, 1200) == -1) temp_control();
	if (ctl_read_ulong("control/timeoutconnect", &timeoutconnect, 60) == -1) temp_control();
	r = ctl_read_line("control/helohost", &job.helohost, 0);
	if (r == 0) r = ctl_read_line("control/me", &job.helohost, 0);
	if (r != 1 || job.helohost.len == 0) temp_control();
	if (dns_init() == -1) temp_control();

	str_copys(&host, argv[1]);
	r = tlspolicy_find(&tls, host.s, host.len);
	if (r == -1) temp_control();
	if (r == -2) report_fail("ZBad line in control/tlsdestinations. (#4.3.0)\n");
	job.tls = &tls;
	r = route_find(&route, host.s, host.len);
	if (r == -1) temp_control();
	if (r == -2) report_fail("ZBad port in control/smtproutes. (#4.3.0)\n");
	relay = route.relay.len > 0;
	if (relay) str_copy(&host, &route.relay);
	/* A certificate may name the exchanger or the destination itself. */
	job.names[1] = argv[1];
	if (ipaddr_parse_literal(&literal, argv[1], strlen(argv[1]))) {
		job.names[1] = "";
		job.literal = &literal;
	}

	measure(&job.msg);
	mangle(&job.sender, argv[2], 0);
	job.nrecips = (size_t)argc - 3;
	job.recips = calloc(job.nrecips, sizeof *job.recips);
	if (!job.recips) nomem();
	for (i = 0; i < job.nrecips; ++i)
		if (!mangle(&job.recips[i], argv[3 + i], !relay)) allaliases = 0;

	r = relay ? dns_ip(&ips, host.s, host.len, 0) : dns_mxip(&ips, host.s, host.len);
	if (r == DNS_SOFT) report_fail("ZSorry, I couldn't find any host by that name. (#4.1.2)\n");
	if (r == DNS_HARD) perm_dns();
	if (ips.len == 0)
		report_fail("DSorry, I couldn't find a mail exchanger or IP address. (#5.4.4)\n");

	/* Only exchangers better than the best one that is us may be tried:
	 * handing the message to an equal or worse one would loop. A relay
	 * from smtproutes, or recipients that are all aliases, are the
	 * operator's or the DNS's word and are tried as they are. */
	if (allaliases) {
		prefme = 500000;
	} else if (relay) {
		prefme = 300000;
	} else {
		/* only here are our own addresses wanted: reading them costs a
		 * netlink dump per delivery */
		if (ipme_init() == -1)
			report_fail("ZSystem resources temporarily unavailable. (#4.3.0)\n");
		prefme = 100000;
		for (i = 0; i < ips.len; ++i)
			if (ipme_is(&ips.x[i].ip) && ips.x[i].pref < prefme) prefme = ips.x[i].pref;
	}
	for (i = 0; i < ips.len; ++i)
		if (ips.x[i].pref < prefme) break;
	if (i == ips.len)
		report_fail(
		    "DSorry. Although I'm listed as a best-preference MX or A for that host,\n"
		    "it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n");

	for (i = 0; i < ips.len; ++i) {
		if (ips.x[i].pref >= prefme) continue;
		if (tcpto_dead(&ips.x[i].ip)) continue;
		try_address(&job, &ips.x[i], (unsigned)route.port, (unsigned)timeoutconnect,
		            (unsigned)timeout, &tlswhy);
	}
	if (tlswhy.len) {
		report_puts("Z");
		report_put(tlswhy.s, tlswhy.len);
		report_finish();
	}
	report_fail("ZSorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n");
}
