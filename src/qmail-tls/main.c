/* qmail-tls: speaks TLS on behalf of qmail-smtpd and qmail-remote, so
 * that neither of them links OpenSSL.
 *
 *   qmail-tls server TIMEOUT
 *   qmail-tls client TIMEOUT POLICY [-i ADDRESS] [NAME ...]
 *
 * The program that starts us (lib/tlshelper) gives us the network
 * connection as fds 0 and 1 and its end of a socketpair as fd 3. We run
 * the handshake, tell the outcome in one status line on fd 3, and then
 * carry the session: what arrives over TLS goes out on fd 3 in plain
 * text, and what fd 3 says goes out over TLS, until either side ends.
 *
 * Why a process of its own: OpenSSL is a large parser of what strangers
 * send; here its bugs can reach only this process and its two fds, not
 * the SMTP state, the queue or the password checker. And the programs
 * run per connection or per delivery can be small static binaries that
 * start fast (docs/ARCHITECTURE.md).
 *
 * Status lines (the first word is what the caller acts on):
 *   ready TEXT        server: the certificate loaded; the caller may
 *                     answer 220 to STARTTLS, the handshake comes next
 *   ok VERSION CIPHER the session runs; plain text follows
 *   local TEXT        our own set-up failed (certificate, CA file)
 *   handshake TEXT    the handshake failed: the connection is unusable
 *   verify TEXT       client: the server's certificate does not meet
 *                     the policy; nothing was sent
 * Every wait for the peer is bounded by TIMEOUT seconds, the handshake
 * too. Exit 0 after a session, 1 after a failure on the network, 111
 * when our own set-up failed, 100 on a usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "die.h"
#include "fdwait.h"
#include "str.h"
#include "qmail-tls.h"

static unsigned timeout;

void status(const char *word, const char *text)
{
	struct str line = STR_INIT;
	const char *p;
	str_copys(&line, word);
	str_catc(&line, ' ');
	/* one line, whatever OpenSSL put in its error texts */
	for (p = text; *p && line.len < 900; ++p)
		str_catc(&line, (*p == '\n' || *p == '\r') ? ' ' : *p);
	str_catc(&line, '\n');
	if (write(PLAIN, line.s, line.len) != (ssize_t)line.len) _exit(1);
	str_free(&line);
}

void cat_ssl_error(struct str *why, const char *fallback)
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

/* Waits for what OpenSSL asked for after ret: 1 to retry, 0 at the
 * peer's close_notify, -1 on failure (errno set). */
static int ssl_wait(SSL *ssl, int ret)
{
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ: return fdwait_read(NET_IN, timeout) == FDWAIT_READY ? 1 : -1;
	case SSL_ERROR_WANT_WRITE: return fdwait_write(NET_OUT, timeout) == FDWAIT_READY ? 1 : -1;
	case SSL_ERROR_ZERO_RETURN: return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR) return 1;
		if (!errno) errno = ECONNRESET;
		return -1;
	default: errno = EPROTO; return -1;
	}
}

int handshake(SSL *ssl, int server, struct str *why)
{
	for (;;) {
		int r, w;
		ERR_clear_error();
		errno = 0;
		r = server ? SSL_accept(ssl) : SSL_connect(ssl);
		if (r == 1) return 0;
		w = ssl_wait(ssl, r);
		if (w == 1) continue;
		why->len = 0;
		if (errno == ETIMEDOUT) str_cats(why, "timeout");
		else cat_ssl_error(why, "connection closed");
		return -1;
	}
}

void describe(SSL *ssl, struct str *out)
{
	const char *parts[2];
	parts[0] = SSL_get_version(ssl);
	parts[1] = SSL_get_cipher_name(ssl);
	for (int i = 0; i < 2; ++i) {
		const char *p = parts[i] ? parts[i] : "unknown";
		if (i) str_catc(out, ' ');
		for (; *p; ++p) {
			char c = *p;
			int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
			str_catc(out, ok ? c : '?');
		}
	}
}

static void set_nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl != -1) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void nodelay(int fd)
{
	/* OpenSSL writes each record of a flight on its own; under Nagle the
	 * second would wait for the peer's delayed ACK. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* The peer's last handshake message gets no answer from a TLS 1.3
 * server that sends no tickets, and the first command would wait
 * behind our delayed ACK (40 ms a session): ACK at once (Linux). */
static void quickack(int fd)
{
#ifdef TCP_QUICKACK
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
#else
	(void)fd;
#endif
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w > 0) {
			data += w;
			len -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EINTR) continue;
		if (w == -1 && errno == EAGAIN && fdwait_write(fd, timeout) == FDWAIT_READY)
			continue;
		return -1;
	}
	return 0;
}

static int ssl_write_all(SSL *ssl, const char *data, size_t len)
{
	while (len) {
		int n = len > INT_MAX ? INT_MAX : (int)len, r;
		ERR_clear_error();
		errno = 0;
		r = SSL_write(ssl, data, n);
		if (r > 0) {
			data += r;
			len -= (size_t)r;
			continue;
		}
		if (ssl_wait(ssl, r) != 1) return -1;
	}
	return 0;
}

/* Carries the session until the plaintext side closes (the normal end:
 * our close_notify follows) or the network fails. */
static _Noreturn void relay(SSL *ssl)
{
	static char buf[16384];
	int net_open = 1;
	for (;;) {
		struct pollfd p[2] = {{PLAIN, POLLIN, 0}, {NET_IN, POLLIN, 0}};
		if (poll(p, net_open ? 2 : 1, -1) == -1) {
			if (errno == EINTR) continue;
			_exit(1);
		}
		if (net_open && p[1].revents) {
			/* Until OpenSSL wants more bytes: nothing it has
			 * decrypted stays behind in its buffer. */
			for (;;) {
				int r;
				ERR_clear_error();
				errno = 0;
				r = SSL_read(ssl, buf, sizeof buf);
				if (r > 0) {
					if (write_all(PLAIN, buf, (size_t)r) == -1) _exit(1);
					continue;
				}
				if (SSL_get_error(ssl, r) == SSL_ERROR_WANT_READ) break;
				if (SSL_get_error(ssl, r) == SSL_ERROR_WANT_WRITE &&
				    fdwait_write(NET_OUT, timeout) == FDWAIT_READY)
					continue;
				/* close_notify, EOF or a broken stream: the caller
				 * reads an end of input, and decides. */
				net_open = 0;
				shutdown(PLAIN, SHUT_WR);
				break;
			}
		}
		if (p[0].revents) {
			ssize_t n = read(PLAIN, buf, sizeof buf);
			if (n == -1 && (errno == EINTR || errno == EAGAIN)) continue;
			if (n <= 0) {
				if (net_open) SSL_shutdown(ssl); /* one close_notify, no wait */
				_exit(0);
			}
			if (!net_open || ssl_write_all(ssl, buf, (size_t)n) == -1) _exit(1);
		}
	}
}

static unsigned long parse_timeout(const char *s)
{
	unsigned long u = 0;
	if (!*s) die_perm("usage: qmail-tls server|client TIMEOUT ...");
	for (; *s; ++s) {
		if (*s < '0' || *s > '9' || u > 1000000) die_perm("bad TIMEOUT");
		u = u * 10 + (unsigned long)(*s - '0');
	}
	return u ? u : 1;
}

int main(int argc, char **argv)
{
	struct str why = STR_INIT, info = STR_INIT;
	int server;
	SSL *ssl;

	die_init("qmail-tls");
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3) die_perm("usage: qmail-tls server|client TIMEOUT ...");
	if (fcntl(PLAIN, F_GETFD) == -1) die_perm("fd 3 is not open: qmail-tls is started by qmail-smtpd and qmail-remote");
	timeout = (unsigned)parse_timeout(argv[2]);
	server = strcmp(argv[1], "server") == 0;
	if (!server && strcmp(argv[1], "client") != 0)
		die_perm("usage: qmail-tls server|client TIMEOUT ...");

	if (server) {
		SSL_CTX *ctx = server_context(&why);
		if (!ctx) {
			status("local", str_cstr(&why));
			_exit(111);
		}
		ssl = SSL_new(ctx);
		SSL_CTX_free(ctx); /* the session keeps its own reference */
		if (!ssl || !SSL_set_rfd(ssl, NET_IN) || !SSL_set_wfd(ssl, NET_OUT)) {
			status("local", "out of memory");
			_exit(111);
		}
		status("ready", "certificate loaded");
	} else {
		ssl = client_session(argv + 3, &why);
		if (!ssl || !SSL_set_rfd(ssl, NET_IN) || !SSL_set_wfd(ssl, NET_OUT)) {
			status("local", why.len ? str_cstr(&why) : "out of memory");
			_exit(111);
		}
	}
	set_nonblocking(NET_IN);
	set_nonblocking(NET_OUT);
	nodelay(NET_OUT);
	if (handshake(ssl, server, &why) == -1) {
		status("handshake", str_cstr(&why));
		_exit(1);
	}
	if (!server && client_check(ssl, &why) == -1) {
		status("verify", str_cstr(&why));
		_exit(1);
	}
	if (server) quickack(NET_IN);
	describe(ssl, &info);
	status("ok", str_cstr(&info));
	relay(ssl);
}
