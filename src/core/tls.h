/* TLS: the server context, certificate loading and reloading, and the
 * self-signed certificate made on first start. OpenSSL lives here. */
#ifndef MW_CORE_TLS_H
#define MW_CORE_TLS_H

#include <openssl/ssl.h>
#include <stdint.h>

#define TLS_DEFAULT_CERT "tls/cert.pem"
#define TLS_DEFAULT_KEY "tls/key.pem"

/* Loads cert and key (paths relative to DATA allowed). Empty paths mean
 * the default files, generated self-signed for hostname when missing.
 * Returns -1 with *error_r; the previous context stays in force. */
int tls_load(const char *cert, const char *key, const char *hostname,
    const char **error_r);
/* A new server-side SSL for one connection (TLS 1.2 or newer). */
SSL *tls_new_ssl(void);
/* A new client-side SSL for outbound SMTP to host (sent as SNI): TLS 1.2
 * or newer, certificates not verified (opportunistic TLS, RFC 7435).
 * NULL on failure. */
SSL *tls_new_client_ssl(const char *host);
/* Drains OpenSSL's error queue into the log. */
void tls_log_errors(uint64_t sid, const char *what);
void tls_free(void);

#endif
