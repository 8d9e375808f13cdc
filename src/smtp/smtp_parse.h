/* SMTP command line parsing: verbs, paths (RFC 5321 4.1.2) and ESMTP
 * parameters. Pure functions over one complete line (no CRLF). */
#ifndef MW_SMTP_SMTP_PARSE_H
#define MW_SMTP_SMTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX 512	/* command line including CRLF */
#define SMTP_PATH_MAX 256	/* RFC 5321 4.5.3.1.3, with brackets */
#define SMTP_LOCAL_MAX 64
#define SMTP_DOMAIN_MAX 255

/* Splits a command line into a verb (upper-cased into verb, size 16)
 * and the argument text after one space (args_r, "" if none).
 * -1 if the verb is not 1-15 letters. */
int smtp_parse_verb(const char *line, char *verb, const char **args_r);

enum smtp_path_flag {
	SMTP_PATH_NULL = 1 << 0,	/* <> */
	SMTP_PATH_ROUTE = 1 << 1,	/* had a source route (ignored) */
	SMTP_PATH_QUOTED = 1 << 2,	/* quoted local part */
	SMTP_PATH_LITERAL = 1 << 3,	/* [address literal] domain */
	SMTP_PATH_UTF8 = 1 << 4,	/* non-ASCII characters */
	SMTP_PATH_NODOMAIN = 1 << 5,	/* <postmaster> with no domain */
};

struct smtp_path {
	char addr[SMTP_PATH_MAX];	/* local@domain as sent, no route */
	size_t local_len;		/* bytes of the local part in addr */
	unsigned flags;
};

/* Parses "FROM:<path> params" (prefix "FROM:") or "TO:<path> params"
 * (prefix "TO:"), allowing a space after the colon. allow_null accepts
 * "<>"; utf8 accepts UTF-8 in the address (SMTPUTF8). On success stores
 * the path and points *params_r at the parameters. -1 with *error_r
 * (a short reason for the client) on a syntax error. */
int smtp_parse_path(const char *args, const char *prefix, int allow_null,
    int utf8, struct smtp_path *path, const char **params_r,
    const char **error_r);

/* Iterates ESMTP parameters: sets key (upper-cased, size 32) and value
 * (NULL if no '='); returns 1 for each, 0 at the end, -1 on bad syntax.
 * *pos advances; start with *pos = params. */
int smtp_parse_param(const char **pos, char *key, char *value,
    size_t valuesize, int *has_value_r);

/* Decodes an xtext value (RFC 3461) in place; -1 if malformed. */
int smtp_xtext_decode(char *s);

#endif
