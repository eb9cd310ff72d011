/* qmail-smtpd's TLS layer (RFC 3207 STARTTLS, and implicit TLS for port
 * 465): OpenSSL behind the two io functions of io.c.
 *
 * The certificate chain and its private key are one PEM file,
 * control/servercert.pem (the netqmail TLS patch's convention), read
 * when TLS starts. qmail-smtpd is a process per connection, so a
 * replaced certificate applies from the next connection on; nothing
 * needs a restart. control/tlsserverciphers, when present, is an
 * OpenSSL cipher list for TLS 1.2. Only TLS 1.2 and 1.3 are spoken.
 *
 * Promises: the read buffer is empty when the handshake begins (bytes a
 * client pipelined behind STARTTLS are thrown away, never read as
 * commands inside TLS: the CVE-2011-0411 bug class), and every wait for
 * the peer, during the handshake too, has the session timeout.
 *
 * Failures: a certificate that cannot be loaded makes STARTTLS answer
 * 454 and the session goes on in plain text; a failed handshake ends the
 * session (there is no way back to plain text); both are logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ctl.h"
#include "die.h"
#include "smtpd.h"

#define SERVERCERT "control/servercert.pem"
#define CIPHERS "control/tlsserverciphers"

int smtpd_tls_configured(void)
{
	int fd = open(SERVERCERT, O_RDONLY | O_CLOEXEC);
	if (fd == -1) return 0;
	close(fd);
	return 1;
}

/* The last OpenSSL error as text, for the log. */
static void cat_ssl_error(struct str *why)
{
	char text[256];
	unsigned long e = ERR_get_error();
	if (!e) {
		str_cats(why, "unknown error");
		return;
	}
	ERR_error_string_n(e, text, sizeof text);
	str_cats(why, text);
	ERR_clear_error();
}

static SSL_CTX *ctx_load(struct str *why)
{
	struct str ciphers = STR_INIT;
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int r;
	if (!ctx) goto fail;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		goto fail;
	/* No renegotiation (a client could make us spend CPU at will), no
	 * compression (CRIME), and an unannounced close is a plain EOF.
	 * One process per connection: a session cache or tickets could
	 * never be used again, so none are kept or sent. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET |
	                             SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(ctx, SERVERCERT) != 1) {
		str_cats(why, "unable to load the certificate from " SERVERCERT ": ");
		cat_ssl_error(why);
		SSL_CTX_free(ctx);
		return 0;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, SERVERCERT, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		str_cats(why, "unable to load a private key matching the certificate from " SERVERCERT ": ");
		cat_ssl_error(why);
		SSL_CTX_free(ctx);
		return 0;
	}
	r = ctl_read_line(CIPHERS, &ciphers, 0);
	if (r == -1) {
		str_reason_errno(why, "unable to read", CIPHERS);
		SSL_CTX_free(ctx);
		return 0;
	}
	if (r == 1 && ciphers.len && SSL_CTX_set_cipher_list(ctx, str_cstr(&ciphers)) != 1) {
		str_cats(why, "no usable cipher in " CIPHERS ": ");
		cat_ssl_error(why);
		SSL_CTX_free(ctx);
		str_free(&ciphers);
		return 0;
	}
	str_free(&ciphers);
	return ctx;
fail:
	str_cats(why, "unable to set up TLS: ");
	cat_ssl_error(why);
	if (ctx) SSL_CTX_free(ctx);
	return 0;
}

/* Waits for what OpenSSL asked for; 1 to retry, 0 at a clean end of the
 * stream, -1 on failure (errno set). */
static int tls_wait(struct smtpd *s, int ret)
{
	switch (SSL_get_error(s->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return smtpd_io_wait(s->in.fd, POLLIN, s->timeout) == -1 ? -1 : 1;
	case SSL_ERROR_WANT_WRITE:
		return smtpd_io_wait(s->out.fd, POLLOUT, s->timeout) == -1 ? -1 : 1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR) return 1;
		if (!errno) errno = EPROTO;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

ssize_t smtpd_tls_read(struct smtpd *s, char *data, size_t len)
{
	int n = len > INT_MAX ? INT_MAX : (int)len;
	for (;;) {
		int r, w;
		errno = 0;
		r = SSL_read(s->ssl, data, n);
		if (r > 0) return r;
		w = tls_wait(s, r);
		if (w <= 0) return w;
	}
}

ssize_t smtpd_tls_write(struct smtpd *s, const char *data, size_t len)
{
	int n = len > INT_MAX ? INT_MAX : (int)len;
	for (;;) {
		int r, w;
		errno = 0;
		r = SSL_write(s->ssl, data, n);
		if (r > 0) return r;
		w = tls_wait(s, r);
		if (w == 0) errno = EPIPE;
		if (w <= 0) return -1;
	}
}

void smtpd_tls_close(struct smtpd *s)
{
	/* One close_notify, without waiting for the client's: the session
	 * is over either way, and a clean close tells the client that
	 * nothing was cut off. */
	if (s->ssl) SSL_shutdown(s->ssl);
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl != -1) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* "TLSv1.3 cipher TLS_AES_256_GCM_SHA384" for the Received line; the
 * names come from OpenSSL, but only plain characters get through. */
static void note_session(struct smtpd *s)
{
	const char *parts[2];
	parts[0] = SSL_get_version(s->ssl);
	parts[1] = SSL_get_cipher_name(s->ssl);
	s->tlsinfo.len = 0;
	for (int i = 0; i < 2; ++i) {
		const char *p = parts[i] ? parts[i] : "unknown";
		if (i) str_cats(&s->tlsinfo, " cipher ");
		for (; *p; ++p) {
			char c = *p;
			int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
			str_catc(&s->tlsinfo, ok ? c : '?');
		}
	}
}

/* The client's last handshake message gets no answer from us (we send
 * no session tickets), and its first command would wait behind it for
 * our delayed ACK under Nagle (40 ms a session): setting TCP_QUICKACK
 * sends the pending ACK at once (Linux). */
static void quickack(struct smtpd *s)
{
#ifdef TCP_QUICKACK
	int one = 1;
	setsockopt(s->in.fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
	(void)s;
#endif
}

static _Noreturn void handshake_failed(struct smtpd *s)
{
	struct str why = STR_INIT;
	int timedout = errno == ETIMEDOUT;
	cat_ssl_error(&why);
	if (timedout) str_copys(&why, "timeout");
	else if (why.len == 13 && str_starts(&why, "unknown error")) str_copys(&why, "connection closed");
	warn("TLS handshake with ", s->remoteip, " failed: ", str_cstr(&why));
	_exit(1);
}

int smtpd_tls_start(struct smtpd *s, int starttls)
{
	struct str why = STR_INIT;
	SSL_CTX *ctx = ctx_load(&why);
	if (!ctx) {
		warn("TLS is not available: ", str_cstr(&why));
		str_free(&why);
		if (starttls) out(s, "454 TLS not available due to temporary reason (#4.3.0)\r\n");
		return -1;
	}
	if (starttls) {
		out(s, "220 ready for tls\r\n");
		out_flush(s);
	}
	/* What the client sent before the handshake is not to be trusted
	 * inside TLS: a man in the middle could have added it. */
	buf_skip(&s->in, buf_avail(&s->in));
	s->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL keeps its own reference */
	if (!s->ssl || !SSL_set_rfd(s->ssl, s->in.fd) || !SSL_set_wfd(s->ssl, s->out.fd)) {
		warn("TLS is not available: out of memory");
		_exit(1);
	}
	set_nonblocking(s->in.fd);
	set_nonblocking(s->out.fd);
	/* OpenSSL writes each record of a handshake flight on its own; with
	 * Nagle's algorithm the second one would wait for the client's
	 * delayed ACK (40 ms per connection). Our replies are already sent
	 * one batch at a time, so nothing is lost. Not a socket: no matter. */
	int one = 1;
	setsockopt(s->out.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	for (;;) {
		int r, w;
		errno = 0;
		r = SSL_accept(s->ssl);
		if (r == 1) break;
		w = tls_wait(s, r);
		if (w <= 0) handshake_failed(s);
	}
	quickack(s);
	note_session(s);
	return 0;
}
