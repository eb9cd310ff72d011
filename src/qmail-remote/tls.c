/* tls: see tls.h. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"

#define CLIENTCERT "control/clientcert.pem"

static SSL_CTX *ctx;

/* Appends OpenSSL's reason for the latest failure, or fallback. */
static void cat_error(struct str *why, const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : 0;
	if (r)
		str_cats(why, r);
	else if (errno && !e)
		str_cats(why, strerror(errno));
	else
		str_cats(why, fallback);
	ERR_clear_error();
}

static int setup_fail(struct str *why, const char *what)
{
	why->len = 0;
	str_cats(why, what);
	str_cats(why, ": ");
	cat_error(why, "unknown error");
	return TLS_LOCAL;
}

/* One context per run: qmail-remote serves one destination, so the
 * policy's CA file is the same for every server it tries. */
static int context(const struct tlspolicy *p, struct str *why)
{
	if (ctx) return TLS_OK;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) return setup_fail(why, "Unable to set up TLS");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (p->level == TLSPOLICY_CA) {
		if (p->cafile.len) {
			struct str f = STR_INIT;
			str_copy(&f, &p->cafile);
			if (SSL_CTX_load_verify_locations(ctx, str_cstr(&f), 0) != 1) {
				str_free(&f);
				return setup_fail(
				    why,
				    "Unable to load the CA file named in control/tlsdestinations");
			}
			str_free(&f);
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			return setup_fail(why, "Unable to load the system's CA certificates");
		}
	}
	if (access(CLIENTCERT, F_OK) == 0) {
		if (SSL_CTX_use_certificate_chain_file(ctx, CLIENTCERT) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, CLIENTCERT, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			return setup_fail(why, "Unable to load " CLIENTCERT);
	} else if (errno != ENOENT) {
		why->len = 0;
		str_cats(why, "Unable to read " CLIENTCERT ": ");
		str_cats(why, strerror(errno));
		return TLS_LOCAL;
	}
	return TLS_OK;
}

/* Waits for what OpenSSL says it needs; -1 when the wait fails. */
static int wait_for(struct conn *c, SSL *ssl, int r)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ: return conn_wait(c->fd, POLLIN, c->timeout);
	case SSL_ERROR_WANT_WRITE: return conn_wait(c->fd, POLLOUT, c->timeout);
	case SSL_ERROR_ZERO_RETURN: errno = ECONNRESET; return -1;
	case SSL_ERROR_SYSCALL:
		if (!errno) errno = ECONNRESET;
		return -1;
	default: errno = EPROTO; return -1;
	}
}

static ssize_t tls_read(struct buf *b, char *data, size_t len)
{
	struct conn *c = b->ctx;
	SSL *ssl = c->tls;
	int n = len > INT_MAX ? INT_MAX : (int)len;
	for (;;) {
		int r;
		ERR_clear_error();
		errno = 0;
		r = SSL_read(ssl, data, n);
		if (r > 0) return r;
		if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) return 0;
		if (wait_for(c, ssl, r) == -1) return -1;
	}
}

static ssize_t tls_write(struct buf *b, char *data, size_t len)
{
	struct conn *c = b->ctx;
	SSL *ssl = c->tls;
	int n = len > INT_MAX ? INT_MAX : (int)len;
	for (;;) {
		int r;
		ERR_clear_error();
		errno = 0;
		r = SSL_write(ssl, data, n);
		if (r > 0) return r;
		if (wait_for(c, ssl, r) == -1) return -1;
	}
}

static void cat_hex(struct str *out, const unsigned char *d, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; ++i) {
		if (i) str_catc(out, ':');
		str_catc(out, hex[d[i] >> 4]);
		str_catc(out, hex[d[i] & 15]);
	}
}

/* The certificate's SHA-256 digest or its public key's: one of the pins. */
static int pin_matches(const struct tlspolicy *p, X509 *cert, struct str *why)
{
	unsigned char dcert[EVP_MAX_MD_SIZE], dkey[EVP_MAX_MD_SIZE];
	unsigned int ncert = 0, nkey = 0;
	unsigned char *der = 0;
	int derlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	int ok = 0;
	if (X509_digest(cert, EVP_sha256(), dcert, &ncert) != 1 || derlen <= 0 ||
	    EVP_Digest(der, (size_t)derlen, dkey, &nkey, EVP_sha256(), 0) != 1) {
		OPENSSL_free(der);
		why->len = 0;
		str_cats(why, "unable to compute the certificate's fingerprint");
		return 0;
	}
	OPENSSL_free(der);
	for (size_t i = 0; i < p->npins && !ok; ++i)
		ok = (ncert == TLSPOLICY_PINLEN && memcmp(p->pins[i], dcert, ncert) == 0) ||
		     (nkey == TLSPOLICY_PINLEN && memcmp(p->pins[i], dkey, nkey) == 0);
	if (!ok) {
		why->len = 0;
		str_cats(why, "certificate fingerprint ");
		cat_hex(why, dcert, ncert);
		str_cats(why, " matches no pin");
	}
	return ok;
}

static int check(SSL *ssl, const struct tlspolicy *p, struct str *why)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	long v;
	if (p->level != TLSPOLICY_CA && p->level != TLSPOLICY_PIN) return TLS_OK;
	if (!cert) {
		why->len = 0;
		str_cats(why, "the server sent no certificate");
		return TLS_VERIFY;
	}
	if (p->level == TLSPOLICY_PIN) return pin_matches(p, cert, why) ? TLS_OK : TLS_VERIFY;
	/* The chain and the names were checked during the handshake (with
	 * SSL_VERIFY_NONE the result is only recorded, so the reason can be
	 * told here instead of as an alert). */
	v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK) return TLS_OK;
	why->len = 0;
	str_cats(why, "certificate verification failed: ");
	str_cats(why, X509_verify_cert_error_string(v));
	return TLS_VERIFY;
}

static int names_set(SSL *ssl, const struct tlspolicy *p, const char *const *names, size_t nnames,
                     const struct ipaddr *ip)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	int any = 0;
	if (nnames && names[0][0] && SSL_set_tlsext_host_name(ssl, names[0]) != 1) return -1;
	if (p->level != TLSPOLICY_CA) return 0;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (size_t i = 0; i < nnames; ++i) {
		if (!names[i][0]) continue;
		if ((any ? SSL_add1_host(ssl, names[i]) : SSL_set1_host(ssl, names[i])) != 1)
			return -1;
		any = 1;
	}
	if (!any && ip) {
		size_t n = ip->family == AF_INET ? 4 : 16;
		if (X509_VERIFY_PARAM_set1_ip(param, ip->a, n) != 1) return -1;
		any = 1;
	}
	/* Nothing to check the certificate against: no name can match. */
	if (!any && SSL_set1_host(ssl, "name.invalid") != 1) return -1;
	return 0;
}

int tls_start(struct conn *c, const struct tlspolicy *p, const char *const *names, size_t nnames,
              const struct ipaddr *ip, struct str *why)
{
	SSL *ssl;
	int r = context(p, why);
	if (r != TLS_OK) return r;
	ssl = SSL_new(ctx);
	if (!ssl) return setup_fail(why, "Unable to set up TLS");
	if (names_set(ssl, p, names, nnames, ip) == -1) {
		SSL_free(ssl);
		return setup_fail(why, "Unable to set up TLS");
	}
	SSL_set_verify(ssl, SSL_VERIFY_NONE, 0);
	if (SSL_set_fd(ssl, c->fd) != 1) {
		SSL_free(ssl);
		return setup_fail(why, "Unable to set up TLS");
	}
	/* RFC 3207: whatever came before the handshake is void. */
	c->in.pos = c->in.len = 0;
	c->tls = ssl;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(ssl);
		if (r == 1) break;
		if (wait_for(c, ssl, r) == -1) {
			why->len = 0;
			cat_error(why, errno == ETIMEDOUT ? "timed out" : "connection closed");
			return TLS_HANDSHAKE;
		}
	}
	r = check(ssl, p, why);
	if (r != TLS_OK) return r;
	c->in.io = tls_read;
	c->out.io = tls_write;
	return TLS_OK;
}

void tls_describe(const struct conn *c, struct str *out)
{
	SSL *ssl = c->tls;
	if (!ssl) return;
	str_cats(out, SSL_get_version(ssl));
	str_cats(out, " with cipher ");
	str_cats(out, SSL_get_cipher_name(ssl));
}

void tls_end(struct conn *c)
{
	if (!c->tls) return;
	SSL_free(c->tls);
	c->tls = 0;
}
