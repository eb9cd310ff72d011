/* qmail-tls's internal interface: the two ends of a TLS session
 * (server.c for qmail-smtpd, client.c for qmail-remote) and what they
 * share (main.c). Nothing here is used outside qmail-tls. */
#ifndef NQ_QMAIL_TLS_H
#define NQ_QMAIL_TLS_H

#include <openssl/ssl.h>

#include "str.h"

/* The network connection is fds 0 (read) and 1 (write); the plaintext
 * channel to the program that started us is fd 3. */
#define NET_IN 0
#define NET_OUT 1
#define PLAIN 3

/* Writes one status line "word text\n" on the plaintext channel. */
void status(const char *word, const char *text);
/* Appends OpenSSL's reason for the latest failure, or fallback. */
void cat_ssl_error(struct str *why, const char *fallback);
/* Runs SSL_accept or SSL_connect to the end, every wait at most timeout
 * seconds (the command line's TIMEOUT): 0, or -1 with why set. */
int handshake(SSL *ssl, int server, struct str *why);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384": version and cipher in plain
 * characters. */
void describe(SSL *ssl, struct str *out);

/* server.c: loads control/servercert.pem and control/tlsserverciphers.
 * The context, or 0 with why set. */
SSL_CTX *server_context(struct str *why);

/* client.c: sets up the client side for the policy given on the
 * command line (argv after "client TIMEOUT"); returns the session, or 0
 * with why set (our own set-up failed). */
SSL *client_session(char **argv, struct str *why);
/* After the handshake: 0 when the certificate meets the policy, or -1
 * with why set. */
int client_check(SSL *ssl, struct str *why);

#endif
