/* dns: see dns.h.
 *
 * The resolver keeps no cache and no state between queries other than
 * the server list: qmail-remote makes a handful of queries per run. */
#include "dns.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "die.h"
#include "fdwait.h"

#define T_A     1
#define T_CNAME 5
#define T_MX    15
#define T_AAAA  28
#define C_IN    1

#define NAMEMAX        DNS_NAMEMAX
#define MAXSERVERS     8
#define MAXMX          64
#define UDP_TIMEOUT_MS 3000
#define TCP_TIMEOUT_MS 10000

struct server {
	struct sockaddr_storage sa;
	socklen_t len;
};
static struct server servers[MAXSERVERS];
static int nservers;

/* ---- server list ---- */

static void server_add(const struct ipaddr *ip, unsigned long port)
{
	if (nservers >= MAXSERVERS || port == 0 || port > 65535) return;
	servers[nservers].len = ipaddr_sockaddr(ip, (unsigned)port, &servers[nservers].sa);
	++nservers;
}

static int port_parse(const char *s, size_t len, unsigned long *port)
{
	unsigned long u = 0;
	if (len == 0 || len > 5) return 0;
	for (size_t i = 0; i < len; ++i) {
		if (s[i] < '0' || s[i] > '9') return 0;
		u = u * 10 + (unsigned long)(s[i] - '0');
	}
	*port = u;
	return 1;
}

/* "ip", "ip:port", "[ip]", "[ip]:port"; anything else is skipped. */
static void server_line(const char *s, size_t len)
{
	struct ipaddr ip;
	unsigned long port = 53;
	if (ipaddr_parse(&ip, s, len)) {
		server_add(&ip, port);
		return;
	}
	if (len && s[0] == '[') {
		size_t close = mem_chr(s, len, ']');
		if (close == len) return;
		if (close + 1 < len &&
		    (s[close + 1] != ':' || !port_parse(s + close + 2, len - close - 2, &port)))
			return;
		if (ipaddr_parse(&ip, s + 1, close - 1)) server_add(&ip, port);
		return;
	}
	size_t colon = mem_rchr(s, len, ':');
	if (colon == len || !port_parse(s + colon + 1, len - colon - 1, &port)) return;
	if (ipaddr_parse(&ip, s, colon)) server_add(&ip, port);
}

static void resolvconf(void)
{
	struct str lines = STR_INIT;
	size_t pos = 0, len;
	const char *line;
	if (ctl_read_lines("/etc/resolv.conf", &lines) != 1) return;
	while ((line = ctl_next(&lines, &pos, &len)) != 0) {
		size_t i = 10;
		if (len < 11 || memcmp(line, "nameserver", 10) != 0) continue;
		if (line[i] != ' ' && line[i] != '\t') continue;
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			++i;
		size_t end = i;
		while (end < len && line[end] != ' ' && line[end] != '\t')
			++end;
		struct ipaddr ip;
		if (ipaddr_parse(&ip, line + i, end - i)) server_add(&ip, 53);
	}
	str_free(&lines);
}

int dns_init(void)
{
	struct str lines = STR_INIT;
	size_t pos = 0, len;
	const char *line;
	int r = ctl_read_lines("control/dnsservers", &lines);
	nservers = 0;
	if (r == -1) return -1;
	while ((line = ctl_next(&lines, &pos, &len)) != 0)
		server_line(line, len);
	str_free(&lines);
	if (r == 0 || nservers == 0) resolvconf();
	if (nservers == 0) {
		struct ipaddr lo;
		ipaddr_parse(&lo, "127.0.0.1", 9);
		server_add(&lo, 53);
	}
	return 0;
}

/* ---- messages ---- */

int dns_name_expand(const unsigned char *msg, size_t len, size_t *pos, char *out)
{
	size_t p = *pos, o = 0;
	int jumped = 0, hops = 0;
	for (;;) {
		unsigned c;
		if (p >= len) return -1;
		c = msg[p];
		if ((c & 0xc0) == 0xc0) {
			/* A compression pointer; the hop limit stops loops. */
			if (p + 1 >= len || ++hops > 32) return -1;
			if (!jumped) *pos = p + 2;
			jumped = 1;
			p = ((size_t)(c & 0x3f) << 8) | msg[p + 1];
			continue;
		}
		if (c & 0xc0) return -1; /* obsolete label types */
		if (c == 0) {
			if (!jumped) *pos = p + 1;
			break;
		}
		if (c > len - p - 1) return -1;
		if (o + c + 1 >= NAMEMAX) return -1;
		if (o) out[o++] = '.';
		for (unsigned i = 1; i <= c; ++i) {
			unsigned char b = msg[p + i];
			/* A dot or NUL inside a label cannot be written back as a
			 * dotted name; refuse rather than misread it. */
			if (b == '.' || b == 0) return -1;
			if (b >= 'A' && b <= 'Z') b = (unsigned char)(b + 32);
			out[o++] = (char)b;
		}
		p += 1 + c;
	}
	out[o] = 0;
	return 0;
}

static unsigned get16(const unsigned char *p) { return (unsigned)p[0] << 8 | p[1]; }

/* Skips the header and question; returns the offset of the answer
 * section or 0 when malformed. */
static size_t skip_question(const unsigned char *msg, size_t len)
{
	char name[NAMEMAX];
	size_t pos = 12;
	if (len < 12 || get16(msg + 4) != 1) return 0;
	if (dns_name_expand(msg, len, &pos, name) == -1) return 0;
	if (len - pos < 4) return 0;
	return pos + 4;
}

int dns_parse_answer(const unsigned char *msg, size_t len, dns_rr_fn each, void *ctx)
{
	size_t pos = skip_question(msg, len);
	unsigned ancount;
	if (!pos) return -1;
	ancount = get16(msg + 6);
	for (unsigned i = 0; i < ancount; ++i) {
		char owner[NAMEMAX];
		unsigned type, klass;
		size_t rdlen;
		if (dns_name_expand(msg, len, &pos, owner) == -1) return -1;
		if (len - pos < 10) return -1;
		type = get16(msg + pos);
		klass = get16(msg + pos + 2);
		rdlen = get16(msg + pos + 8);
		pos += 10;
		if (rdlen > len - pos) return -1;
		if (klass == C_IN) each(ctx, type, owner, msg, len, pos, rdlen);
		pos += rdlen;
	}
	return msg[3] & 0x0f;
}

/* ---- transport ---- */

static int build_query(struct str *q, const char *name, size_t len, unsigned type, unsigned id)
{
	size_t start = 0, total = 1;
	q->len = 0;
	str_catc(q, (char)(id >> 8));
	str_catc(q, (char)id);
	str_catb(q, "\001\000\000\001\000\000\000\000\000\000", 10); /* RD; one question */
	if (len == 0) return -1;
	while (start < len) {
		size_t n = mem_chr(name + start, len - start, '.');
		if (n == 0 || n > 63) return -1;
		total += n + 1;
		if (total > 255) return -1;
		str_catc(q, (char)n);
		str_catb(q, name + start, n);
		start += n + 1;
		if (start == len) return -1; /* "a." was stripped before; "a.." is wrong */
	}
	str_catc(q, 0);
	str_catc(q, (char)(type >> 8));
	str_catc(q, (char)type);
	str_catb(q, "\000\001", 2);
	return 0;
}

static unsigned random_id(void)
{
	unsigned char b[2];
	if (getrandom(b, 2, 0) != 2) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (unsigned)(ts.tv_nsec ^ getpid()) & 0xffff;
	}
	return get16(b);
}

/* The answer belongs to our query: same ID, a response, same question. */
static int matches(const unsigned char *a, size_t alen, const struct str *q)
{
	size_t qend = q->len;
	if (alen < qend) return 0;
	if (a[0] != (unsigned char)q->s[0] || a[1] != (unsigned char)q->s[1]) return 0;
	if (!(a[2] & 0x80)) return 0;
	if (get16(a + 4) != 1) return 0;
	/* Our question is uncompressed, so the echoed one starts at 12 and has
	 * the same length; names compare without regard to case. */
	return mem_equal_nocase((const char *)a + 12, q->s + 12, qend - 12);
}

static unsigned char packet[65536];

/* 1 answer in ans, 0 no answer from this server. *truncated set on TC. */
static int ask_udp(const struct server *srv, const struct str *q, struct str *ans, int *truncated)
{
	struct timespec deadline;
	int fd = socket(srv->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) return 0;
	if (connect(fd, (const struct sockaddr *)&srv->sa, srv->len) == -1 ||
	    send(fd, q->s, q->len, 0) != (ssize_t)q->len) {
		close(fd);
		return 0;
	}
	fdwait_deadline(&deadline, UDP_TIMEOUT_MS);
	while (fdwait_until(fd, 0, &deadline) == FDWAIT_READY) {
		ssize_t r = recv(fd, packet, sizeof packet, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR) continue;
			break; /* ICMP unreachable and the like */
		}
		if (!matches(packet, (size_t)r, q)) continue; /* stray or spoofed */
		close(fd);
		*truncated = (packet[2] & 0x02) != 0;
		str_copyb(ans, (const char *)packet, (size_t)r);
		return 1;
	}
	close(fd);
	return 0;
}

static int io_all(int fd, char *p, size_t n, int writing, const struct timespec *deadline)
{
	while (n) {
		ssize_t r;
		if (fdwait_until(fd, writing, deadline) != FDWAIT_READY) return -1;
		r = writing ? write(fd, p, n) : read(fd, p, n);
		if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
		if (r <= 0) return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int ask_tcp(const struct server *srv, const struct str *q, struct str *ans)
{
	struct timespec deadline;
	unsigned char lenb[2];
	int err = 0, ok = 0;
	socklen_t elen = sizeof err;
	struct str out = STR_INIT;
	int fd = socket(srv->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) return 0;
	fdwait_deadline(&deadline, TCP_TIMEOUT_MS);
	if (connect(fd, (const struct sockaddr *)&srv->sa, srv->len) == -1 && errno != EINPROGRESS)
		goto done;
	if (fdwait_until(fd, 1, &deadline) != FDWAIT_READY) goto done;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1 || err) goto done;
	str_catc(&out, (char)(q->len >> 8));
	str_catc(&out, (char)q->len);
	str_cat(&out, q);
	if (io_all(fd, out.s, out.len, 1, &deadline) == -1) goto done;
	if (io_all(fd, (char *)lenb, 2, 0, &deadline) == -1) goto done;
	size_t n = get16(lenb);
	if (io_all(fd, (char *)packet, n, 0, &deadline) == -1) goto done;
	if (!matches(packet, n, q)) goto done;
	str_copyb(ans, (const char *)packet, n);
	ok = 1;
done:
	str_free(&out);
	close(fd);
	return ok;
}

/* Asks the servers. DNS_OK with the answer message in ans (RCODE 0),
 * DNS_HARD for NXDOMAIN or a name that cannot be asked, else DNS_SOFT. */
static int query(const char *name, size_t len, unsigned type, struct str *ans)
{
	struct str q = STR_INIT;
	int result = DNS_SOFT;
	if (!nservers) dns_init();
	if (build_query(&q, name, len, type, random_id()) == -1) {
		str_free(&q);
		return DNS_HARD;
	}
	for (int round = 0; round < 2; ++round) {
		for (int i = 0; i < nservers; ++i) {
			int truncated = 0;
			unsigned rcode;
			q.s[0] = (char)(random_id() >> 8);
			q.s[1] = (char)random_id();
			if (!ask_udp(&servers[i], &q, ans, &truncated)) continue;
			if (truncated && !ask_tcp(&servers[i], &q, ans)) continue;
			rcode = (unsigned char)ans->s[3] & 0x0f;
			if (rcode == 0)
				result = DNS_OK;
			else if (rcode == 3)
				result = DNS_HARD;
			else
				continue; /* SERVFAIL, REFUSED, ...: another server may know */
			str_free(&q);
			return result;
		}
	}
	str_free(&q);
	return result;
}

/* ---- answers ---- */

struct rrset {
	char qname[NAMEMAX];
	char cname[NAMEMAX]; /* where the CNAME chain in this answer ends */
	unsigned type;
	int bad;
	int hops;
	/* records of type found, owner noted so the chain can pick them */
	struct rrone {
		char owner[NAMEMAX];
		size_t off, len;
	} rr[MAXMX];
	int nrr;
	struct cn {
		char from[NAMEMAX], to[NAMEMAX];
	} cn[16];
	int ncn;
	const unsigned char *msg;
	size_t msglen;
};

static void rr_note(void *ctx, unsigned type, const char *owner, const unsigned char *msg,
                    size_t msglen, size_t rdoff, size_t rdlen)
{
	struct rrset *s = ctx;
	if (type == T_CNAME && s->ncn < 16) {
		size_t pos = rdoff;
		struct cn *c = &s->cn[s->ncn];
		if (dns_name_expand(msg, msglen, &pos, c->to) == -1) {
			s->bad = 1;
			return;
		}
		memcpy(c->from, owner, strlen(owner) + 1);
		++s->ncn;
	}
	if (type == s->type && type != T_CNAME && s->nrr < MAXMX) {
		struct rrone *r = &s->rr[s->nrr++];
		memcpy(r->owner, owner, strlen(owner) + 1);
		r->off = rdoff;
		r->len = rdlen;
	}
}

/* Follows the CNAME chain of the answer from qname; fills s->cname. */
static void chase(struct rrset *s)
{
	memcpy(s->cname, s->qname, sizeof s->cname);
	s->hops = 0;
	for (int hop = 0; hop < 16; ++hop) {
		int moved = 0;
		for (int i = 0; i < s->ncn; ++i) {
			if (strcmp(s->cn[i].from, s->cname) != 0) continue;
			memcpy(s->cname, s->cn[i].to, sizeof s->cname);
			++s->hops;
			moved = 1;
			break;
		}
		if (!moved) return;
	}
}

/* Looks name up for type; on DNS_OK, s holds the records that belong to
 * the end of the CNAME chain (s->nrr may be 0: no such records). A chain
 * that the server left unfinished is asked again, a few times at most. */
static int lookup(struct rrset *s, const char *name, size_t len, unsigned type)
{
	struct str ans = STR_INIT;
	char want[NAMEMAX];
	if (len >= NAMEMAX) return DNS_HARD;
	memcpy(want, name, len);
	want[len] = 0;
	for (size_t i = 0; i < len; ++i)
		if (want[i] >= 'A' && want[i] <= 'Z') want[i] = (char)(want[i] + 32);
	for (int round = 0; round < 8; ++round) {
		int r = query(want, strlen(want), type, &ans);
		if (r != DNS_OK) {
			str_free(&ans);
			return r;
		}
		memset(s, 0, sizeof *s);
		memcpy(s->qname, want, sizeof want);
		s->type = type;
		if (dns_parse_answer((const unsigned char *)ans.s, ans.len, rr_note, s) < 0 ||
		    s->bad) {
			str_free(&ans);
			return DNS_SOFT;
		}
		chase(s);
		int keep = 0;
		for (int i = 0; i < s->nrr; ++i)
			if (strcmp(s->rr[i].owner, s->cname) == 0) s->rr[keep++] = s->rr[i];
		s->nrr = keep;
		if (keep || type == T_CNAME || strcmp(s->cname, want) == 0) {
			/* The records point into the message: keep a copy that
			 * lives as long as s is used. */
			static struct str saved;
			str_copy(&saved, &ans);
			s->msg = (const unsigned char *)saved.s;
			s->msglen = saved.len;
			str_free(&ans);
			return DNS_OK;
		}
		memcpy(want, s->cname, sizeof want);
	}
	str_free(&ans);
	return DNS_SOFT; /* a chain too long to be sane */
}

static void list_add(struct dns_iplist *l, const struct ipaddr *ip, unsigned long pref,
                     const char *name, size_t len)
{
	size_t i;
	if (l->len == l->cap) {
		size_t n = l->cap ? l->cap * 2 : 8;
		void *p = n > SIZE_MAX / sizeof *l->x ? 0 : realloc(l->x, n * sizeof *l->x);
		if (!p) die_nomem();
		l->x = p;
		l->cap = n;
	}
	l->x[l->len].ip = *ip;
	l->x[l->len].pref = pref;
	if (len >= NAMEMAX) len = 0; /* no name rather than half of one */
	for (i = 0; i < len; ++i) {
		char c = name[i];
		l->x[l->len].name[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
	}
	l->x[l->len].name[len] = 0;
	++l->len;
}

void dns_iplist_free(struct dns_iplist *l)
{
	free(l->x);
	l->x = 0;
	l->len = l->cap = 0;
}

static size_t strip_dot(const char *name, size_t len)
{
	if (len > 1 && name[len - 1] == '.') --len;
	return len;
}

static int one_type(struct dns_iplist *out, const char *name, size_t len, unsigned type,
                    unsigned long pref)
{
	static struct rrset s;
	int r = lookup(&s, name, len, type);
	if (r != DNS_OK) return r;
	for (int i = 0; i < s.nrr; ++i) {
		struct ipaddr ip;
		size_t n = type == T_A ? 4 : 16;
		if (s.rr[i].len != n) continue;
		memset(&ip, 0, sizeof ip);
		ip.family = type == T_A ? AF_INET : AF_INET6;
		memcpy(ip.a, s.msg + s.rr[i].off, n);
		list_add(out, &ip, pref, name, len);
	}
	return DNS_OK;
}

int dns_ip(struct dns_iplist *out, const char *name, size_t len, unsigned long pref)
{
	struct ipaddr ip;
	int r4, r6;
	if (ipaddr_parse_literal(&ip, name, len) || ipaddr_parse(&ip, name, len)) {
		list_add(out, &ip, pref, "", 0);
		return DNS_OK;
	}
	len = strip_dot(name, len);
	size_t before = out->len;
	r4 = one_type(out, name, len, T_A, pref);
	if (r4 == DNS_HARD) return DNS_HARD;
	r6 = one_type(out, name, len, T_AAAA, pref);
	/* Half an answer is still an answer: only having no address at all
	 * is a reason to wait for the servers. */
	if (out->len > before) return DNS_OK;
	if (r4 == DNS_SOFT || r6 == DNS_SOFT) return DNS_SOFT;
	return DNS_OK;
}

struct mx {
	char name[NAMEMAX];
	unsigned long pref;
	uint64_t key;
};

static uint64_t shuffle_state;

static uint64_t shuffle_next(void)
{
	if (!shuffle_state) {
		if (getrandom(&shuffle_state, sizeof shuffle_state, 0) != sizeof shuffle_state)
			shuffle_state = (uint64_t)time(0) ^ ((uint64_t)getpid() << 16);
		shuffle_state |= 1;
	}
	shuffle_state ^= shuffle_state >> 12;
	shuffle_state ^= shuffle_state << 25;
	shuffle_state ^= shuffle_state >> 27;
	return shuffle_state * 2685821657736338717ULL;
}

static int mx_order(const void *a, const void *b)
{
	const struct mx *x = a, *y = b;
	if (x->pref != y->pref) return x->pref < y->pref ? -1 : 1;
	if (x->key != y->key) return x->key < y->key ? -1 : 1;
	return 0;
}

int dns_mxip(struct dns_iplist *out, const char *name, size_t len)
{
	static struct rrset s;
	static struct mx mx[MAXMX];
	struct ipaddr ip;
	int n = 0, soft = 0, r;
	if (ipaddr_parse_literal(&ip, name, len)) {
		list_add(out, &ip, 0, "", 0);
		return DNS_OK;
	}
	len = strip_dot(name, len);
	r = lookup(&s, name, len, T_MX);
	if (r != DNS_OK) return r;
	for (int i = 0; i < s.nrr; ++i) {
		size_t pos = s.rr[i].off + 2;
		if (s.rr[i].len < 3) continue;
		if (dns_name_expand(s.msg, s.msglen, &pos, mx[n].name) == -1) continue;
		if (pos != s.rr[i].off + s.rr[i].len) continue;
		mx[n].pref = get16(s.msg + s.rr[i].off);
		mx[n].key = shuffle_next();
		++n;
	}
	if (n == 0) return dns_ip(out, name, len, 0);
	qsort(mx, (size_t)n, sizeof mx[0], mx_order);
	for (int i = 0; i < n; ++i) {
		size_t nlen = strlen(mx[i].name);
		if (nlen == 0) continue; /* "MX 0 ." : no mail here (RFC 7505) */
		r = dns_ip(out, mx[i].name, nlen, mx[i].pref);
		if (r == DNS_SOFT) soft = 1;
	}
	if (out->len == 0 && soft) return DNS_SOFT;
	return DNS_OK;
}

int dns_cname(struct str *name)
{
	static struct rrset s;
	int hops = 0;
	for (int loop = 0; loop < 10; ++loop) {
		if (name->len == 0 || name->s[name->len - 1] == ']') return hops;
		if (name->s[name->len - 1] == '.') {
			--name->len;
			continue;
		}
		int r = lookup(&s, name->s, name->len, T_CNAME);
		if (r == DNS_SOFT) return DNS_SOFT;
		if (r == DNS_HARD || s.hops == 0) return hops;
		hops += s.hops;
		str_copys(name, s.cname);
	}
	return DNS_HARD;
}
