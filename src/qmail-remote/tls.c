/* tls: see tls.h. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ipaddr.h"
#include "tls.h"
#include "tlshelper.h"

struct session {
	struct tlshelper h;
	struct str info; /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
};

static struct session session;

/* The policy as qmail-tls's command line gives it: what
 * tlspolicy_parse reads back. */
static void cat_policy(struct str *out, const struct tlspolicy *p)
{
	static const char hex[] = "0123456789abcdef";
	switch (p->level) {
	case TLSPOLICY_ENCRYPT: str_cats(out, "encrypt"); return;
	case TLSPOLICY_CA:
		str_cats(out, "ca");
		if (p->cafile.len) {
			str_catc(out, ':');
			str_cat(out, &p->cafile);
		}
		return;
	case TLSPOLICY_PIN:
		str_cats(out, "pin:");
		for (size_t i = 0; i < p->npins; ++i) {
			if (i) str_catc(out, ',');
			for (size_t k = 0; k < TLSPOLICY_PINLEN; ++k) {
				str_catc(out, hex[p->pins[i][k] >> 4]);
				str_catc(out, hex[p->pins[i][k] & 15]);
			}
		}
		return;
	default: str_cats(out, "may"); return;
	}
}

int tls_start(struct conn *c, const struct tlspolicy *p, const char *const *names, size_t nnames,
              const struct ipaddr *ip, struct str *why)
{
	struct str secs = STR_INIT, pol = STR_INIT, addr = STR_INIT, line = STR_INIT;
	char *argv[8 + 2];
	size_t n = 0;
	int r;

	str_catulong(&secs, c->timeout);
	cat_policy(&pol, p);
	argv[n++] = "qmail-tls";
	argv[n++] = "client";
	argv[n++] = (char *)str_cstr(&secs);
	argv[n++] = (char *)str_cstr(&pol);
	if (ip) {
		ipaddr_cat(&addr, ip);
		argv[n++] = "-i";
		argv[n++] = (char *)str_cstr(&addr);
	}
	for (size_t i = 0; i < nnames && i < 2; ++i) argv[n++] = (char *)names[i];
	argv[n] = 0;

	why->len = 0;
	/* RFC 3207: whatever came before the handshake is void. */
	c->in.pos = c->in.len = 0;
	if (tlshelper_start(&session.h, c->fd, c->fd, argv) == -1) {
		str_cats(why, "Unable to start qmail-tls: ");
		str_cats(why, strerror(errno));
		r = TLS_LOCAL;
		goto done;
	}
	/* The handshake's own waits are bounded by c->timeout in qmail-tls;
	 * ours covers the set-up around them too. */
	if (tlshelper_status(&session.h, &line, c->timeout * 2 + 5) == -1) {
		if (errno == ETIMEDOUT) str_cats(why, "timed out");
		else str_cats(why, "qmail-tls ended without a word");
		r = errno == ETIMEDOUT ? TLS_HANDSHAKE : TLS_LOCAL;
		tlshelper_end(&session.h);
		goto done;
	}
	if (tlshelper_is(&line, "ok")) {
		session.info.len = 0;
		str_cats(&session.info, tlshelper_text(&line));
		c->tls = &session;
		c->in.fd = c->out.fd = session.h.fd;
		r = TLS_OK;
		goto done;
	}
	str_cats(why, tlshelper_text(&line));
	r = tlshelper_is(&line, "verify")    ? TLS_VERIFY
	    : tlshelper_is(&line, "local")   ? TLS_LOCAL
	                                     : TLS_HANDSHAKE;
	tlshelper_end(&session.h);
done:
	str_free(&secs);
	str_free(&pol);
	str_free(&addr);
	str_free(&line);
	return r;
}

void tls_describe(const struct conn *c, struct str *out)
{
	const struct session *t = c->tls;
	size_t sp;
	if (!t) return;
	/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384" */
	sp = mem_chr(t->info.s, t->info.len, ' ');
	str_catb(out, t->info.s, sp);
	if (sp < t->info.len) {
		str_cats(out, " with cipher ");
		str_catb(out, t->info.s + sp + 1, t->info.len - sp - 1);
	}
}

void tls_end(struct conn *c)
{
	struct session *t = c->tls;
	if (!t) return;
	tlshelper_end(&t->h);
	c->in.fd = c->out.fd = c->fd;
	c->tls = 0;
}
