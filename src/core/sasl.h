/* SASL helpers shared by SMTP, POP3 and IMAP: base64 and the PLAIN
 * mechanism (RFC 4616). */
#ifndef MW_CORE_SASL_H
#define MW_CORE_SASL_H

#include <stddef.h>

#define SASL_FIELD_MAX 256	/* username or password bytes */

/* The value (0-63) of a base64 character, or -1; last is the 64th
 * character: '/' in RFC 4648, ',' in IMAP's modified UTF-7. */
int sasl_b64_value(unsigned char c, char last);
/* Decodes base64 text into out (size outsize); returns the length or -1
 * if malformed or too long. "=" alone decodes to nothing. */
int sasl_b64_decode(const char *in, char *out, size_t outsize);
/* Encodes n bytes into out (size outsize); -1 if it does not fit. */
int sasl_b64_encode(const void *in, size_t n, char *out, size_t outsize);
/* Decodes a PLAIN response ([authzid] NUL authcid NUL passwd). A non-empty
 * authzid must equal authcid (no proxy logins). -1 if malformed. */
int sasl_plain_decode(const char *b64, char *user, size_t usersize,
    char *pass, size_t passsize);

#endif
