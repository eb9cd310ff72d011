/* qmail-tls client: qmail-remote's side of STARTTLS, checked against
 * the destination's policy (lib/tlspolicy, control/tlsdestinations).
 *
 * The command line after "client TIMEOUT" is
 *   POLICY [-i ADDRESS] [NAME ...]
 * POLICY is the policy as tlspolicy_parse reads it (may, encrypt, ca,
 * ca:FILE, pin:HEX[,HEX]); the NAMEs are the host names the certificate
 * may carry (at the ca level; the first also goes out as SNI); ADDRESS
 * is what it may carry instead, for a literal destination.
 * control/clientcert.pem, when it exists, holds the certificate (chain)
 * and key presented to servers that ask for one.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ipaddr.h"
#include "qmail-tls.h"
#include "tlspolicy.h"

#define CLIENTCERT "control/clientcert.pem"

static struct tlspolicy policy;

static SSL *setup_fail(SSL_CTX *ctx, SSL *ssl, struct str *why, const char *what)
{
	why->len = 0;
	str_cats(why, what);
	str_cats(why, ": ");
	cat_ssl_error(why, "unknown error");
	if (ssl) SSL_free(ssl);
	if (ctx) SSL_CTX_free(ctx);
	return 0;
}

static SSL_CTX *context(struct str *why)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) return (SSL_CTX *)setup_fail(0, 0, why, "Unable to set up TLS");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	if (policy.level == TLSPOLICY_CA) {
		if (policy.cafile.len) {
			if (SSL_CTX_load_verify_locations(ctx, str_cstr(&policy.cafile), 0) != 1)
				return (SSL_CTX *)setup_fail(
				    ctx, 0, why, "Unable to load the CA file named in control/tlsdestinations");
		} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
			return (SSL_CTX *)setup_fail(ctx, 0, why,
			                             "Unable to load the system's CA certificates");
		}
	}
	if (access(CLIENTCERT, F_OK) == 0) {
		if (SSL_CTX_use_certificate_chain_file(ctx, CLIENTCERT) != 1 ||
		    SSL_CTX_use_PrivateKey_file(ctx, CLIENTCERT, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			return (SSL_CTX *)setup_fail(ctx, 0, why, "Unable to load " CLIENTCERT);
	} else if (errno != ENOENT) {
		why->len = 0;
		str_cats(why, "Unable to read " CLIENTCERT ": ");
		str_cats(why, strerror(errno));
		SSL_CTX_free(ctx);
		return 0;
	}
	return ctx;
}

/* The names (and address) the certificate is checked against at the ca
 * level; the first name is the SNI at every level. */
static int names_set(SSL *ssl, char **names, const struct ipaddr *ip)
{
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	int any = 0;
	if (names[0] && names[0][0] && SSL_set_tlsext_host_name(ssl, names[0]) != 1) return -1;
	if (policy.level != TLSPOLICY_CA) return 0;
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	for (size_t i = 0; names[i]; ++i) {
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

SSL *client_session(char **argv, struct str *why)
{
	struct ipaddr ip;
	int have_ip = 0;
	SSL_CTX *ctx;
	SSL *ssl;
	if (!argv[0] || tlspolicy_parse(&policy, argv[0], strlen(argv[0])) == -1) {
		str_copys(why, "qmail-tls: bad policy on the command line");
		return 0;
	}
	++argv;
	if (argv[0] && strcmp(argv[0], "-i") == 0) {
		if (!argv[1] || ipaddr_parse(&ip, argv[1], strlen(argv[1])) != 1) {
			str_copys(why, "qmail-tls: bad address on the command line");
			return 0;
		}
		have_ip = 1;
		argv += 2;
	}
	ctx = context(why);
	if (!ctx) return 0;
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the session keeps its own reference */
	if (!ssl) return setup_fail(0, 0, why, "Unable to set up TLS");
	if (names_set(ssl, argv, have_ip ? &ip : 0) == -1)
		return setup_fail(0, ssl, why, "Unable to set up TLS");
	/* The verdict is recorded, not enforced as an alert, so that
	 * client_check can tell the reason. */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, 0);
	return ssl;
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
static int pin_matches(X509 *cert, struct str *why)
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
	for (size_t i = 0; i < policy.npins && !ok; ++i)
		ok = (ncert == TLSPOLICY_PINLEN && memcmp(policy.pins[i], dcert, ncert) == 0) ||
		     (nkey == TLSPOLICY_PINLEN && memcmp(policy.pins[i], dkey, nkey) == 0);
	if (!ok) {
		why->len = 0;
		str_cats(why, "certificate fingerprint ");
		cat_hex(why, dcert, ncert);
		str_cats(why, " matches no pin");
	}
	return ok;
}

int client_check(SSL *ssl, struct str *why)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	long v;
	if (policy.level != TLSPOLICY_CA && policy.level != TLSPOLICY_PIN) return 0;
	if (!cert) {
		why->len = 0;
		str_cats(why, "the server sent no certificate");
		return -1;
	}
	if (policy.level == TLSPOLICY_PIN) return pin_matches(cert, why) ? 0 : -1;
	/* The chain and the names were checked during the handshake. */
	v = SSL_get_verify_result(ssl);
	if (v == X509_V_OK) return 0;
	why->len = 0;
	str_cats(why, "certificate verification failed: ");
	str_cats(why, X509_verify_cert_error_string(v));
	return -1;
}
