/* qmail-smtpd's TLS (RFC 3207 STARTTLS, and implicit TLS for port 465).
 *
 * qmail-smtpd links no TLS library: qmail-tls (src/qmail-tls) runs the
 * handshake on our fds 0 and 1 and then carries the session, and we
 * talk to it in plain text over a socketpair that takes the place of
 * fds 0 and 1 (lib/tlshelper). So OpenSSL parses what clients send in a
 * process that holds nothing else, and this program stays a small static
 * binary that starts fast.
 *
 * Promises: the read buffer is empty when the handshake begins (bytes a
 * client pipelined behind STARTTLS are thrown away, never read as
 * commands inside TLS: the CVE-2011-0411 bug class), and every wait for
 * the peer, during the handshake too, has the session timeout.
 *
 * Failures: a certificate that cannot be loaded (qmail-tls says
 * "local") makes STARTTLS answer 454 and the session goes on in plain
 * text; a failed handshake ends the session (there is no way back to
 * plain text); both are logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "die.h"
#include "smtpd.h"
#include "tlshelper.h"

#define SERVERCERT "control/servercert.pem"

int smtpd_tls_configured(void)
{
	int fd = open(SERVERCERT, O_RDONLY | O_CLOEXEC);
	if (fd == -1) return 0;
	close(fd);
	return 1;
}

static void unavailable(struct smtpd *s, int starttls, const char *why)
{
	warn("TLS is not available: ", why);
	if (starttls) out(s, "454 TLS not available due to temporary reason (#4.3.0)\r\n");
}

static _Noreturn void handshake_failed(struct smtpd *s, const char *why)
{
	warn("TLS handshake with ", s->remoteip, " failed: ", why);
	_exit(1);
}

int smtpd_tls_start(struct smtpd *s, int starttls)
{
	struct tlshelper h;
	struct str line = STR_INIT, secs = STR_INIT;
	char *argv[4];

	str_catulong(&secs, s->timeout);
	argv[0] = "qmail-tls";
	argv[1] = "server";
	argv[2] = (char *)str_cstr(&secs);
	argv[3] = 0;
	out_flush(s);
	if (tlshelper_start(&h, s->in.fd, s->out.fd, argv) == -1) {
		unavailable(s, starttls, strerror(errno));
		return -1;
	}
	if (tlshelper_status(&h, &line, (unsigned)s->timeout) == -1 || !tlshelper_is(&line, "ready")) {
		const char *why = line.len && tlshelper_is(&line, "local") ? tlshelper_text(&line)
		                  : errno == ETIMEDOUT                     ? "qmail-tls timed out"
		                                                           : "unable to run qmail-tls";
		unavailable(s, starttls, why);
		tlshelper_end(&h);
		return -1;
	}
	if (starttls) {
		out(s, "220 ready for tls\r\n");
		out_flush(s);
	}
	/* What the client sent before the handshake is not to be trusted
	 * inside TLS: a man in the middle could have added it. */
	buf_skip(&s->in, buf_avail(&s->in));
	if (tlshelper_status(&h, &line, (unsigned)s->timeout) == -1)
		handshake_failed(s, errno == ETIMEDOUT ? "timeout" : "connection closed");
	if (!tlshelper_is(&line, "ok")) handshake_failed(s, tlshelper_text(&line));
	/* From here on fds 0 and 1 are the session in plain text; the
	 * network connection is qmail-tls's alone. */
	if (dup2(h.fd, s->in.fd) == -1 || dup2(h.fd, s->out.fd) == -1) _exit(1);
	close(h.fd);
	s->tls = 1;
	s->tlsinfo.len = 0;
	{
		const char *t = tlshelper_text(&line);
		const char *sp = strchr(t, ' ');
		/* "TLSv1.3 cipher TLS_AES_256_GCM_SHA384" for Received */
		if (sp) {
			str_catb(&s->tlsinfo, t, (size_t)(sp - t));
			str_cats(&s->tlsinfo, " cipher ");
			str_cats(&s->tlsinfo, sp + 1);
		} else {
			str_cats(&s->tlsinfo, t);
		}
	}
	str_free(&line);
	str_free(&secs);
	return 0;
}
