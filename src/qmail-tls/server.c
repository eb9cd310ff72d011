/* qmail-tls server: the certificate qmail-smtpd presents.
 *
 * The chain and its private key are one PEM file,
 * control/servercert.pem (the netqmail TLS patch's convention), read at
 * each connection: a replaced certificate applies from the next
 * connection on, with no restart. control/tlsserverciphers, when there,
 * is an OpenSSL cipher list for TLS 1.2. Only TLS 1.2 and 1.3.
 */
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ctl.h"
#include "qmail-tls.h"

#define SERVERCERT "control/servercert.pem"
#define CIPHERS "control/tlsserverciphers"

static SSL_CTX *fail(SSL_CTX *ctx, struct str *why, const char *what)
{
	why->len = 0;
	str_cats(why, what);
	cat_ssl_error(why, "unknown error");
	if (ctx) SSL_CTX_free(ctx);
	return 0;
}

SSL_CTX *server_context(struct str *why)
{
	struct str ciphers = STR_INIT;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r;
	if (!ctx) return fail(ctx, why, "unable to set up TLS: ");
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return fail(ctx, why, "unable to set up TLS: ");
	/* No renegotiation (a client could make us spend CPU at will), no
	 * compression (CRIME), and an unannounced close is a plain EOF.
	 * One process per connection: a session cache or tickets could
	 * never be used again, so none are kept or sent. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, SERVERCERT) != 1)
		return fail(ctx, why, "unable to load the certificate from " SERVERCERT ": ");
	if (SSL_CTX_use_PrivateKey_file(ctx, SERVERCERT, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return fail(ctx, why,
		            "unable to load a private key matching the certificate from " SERVERCERT
		            ": ");
	r = ctl_read_line(CIPHERS, &ciphers, 0);
	if (r == -1) {
		why->len = 0;
		str_reason_errno(why, "unable to read", CIPHERS);
		SSL_CTX_free(ctx);
		return 0;
	}
	if (r == 1 && ciphers.len && SSL_CTX_set_cipher_list(ctx, str_cstr(&ciphers)) != 1) {
		str_free(&ciphers);
		return fail(ctx, why, "no usable cipher in " CIPHERS ": ");
	}
	str_free(&ciphers);
	return ctx;
}
