/* Domains, users and aliases in the settings database, and how a
 * recipient address resolves to mailboxes. */
#ifndef MW_CORE_ACCOUNT_H
#define MW_CORE_ACCOUNT_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define ACCOUNT_ADDR_MAX 254	/* RFC 5321 path limit minus brackets */
#define ACCOUNT_LOCAL_MAX 64
#define ACCOUNT_MAX_TARGETS 64	/* mailboxes one recipient may expand to */
#define ACCOUNT_ALIAS_DEPTH 5

/* Validates and normalises a user or alias address for storage: lower
 * case, local part of letters, digits and . _ + = - ' (dot-atom, so no
 * "..", no leading or trailing dot), domain a host name. -1 with
 * *error_r otherwise. out has ACCOUNT_ADDR_MAX + 1 bytes. */
int account_normalize(const char *in, char *out, const char **error_r);
/* Normalises a domain name (lower case, a host name); -1 if invalid. */
int account_domain_normalize(const char *in, char *out, size_t outsize);

int account_domain_add(sqlite3 *db, const char *domain, const char **error_r);
int account_domain_del(sqlite3 *db, const char *domain, const char **error_r);
/* 1 if domain (already lower case) is local, else 0. */
int account_domain_exists(sqlite3 *db, const char *domain);

/* hash is a crypt(3) string. */
int account_user_add(sqlite3 *db, const char *address, const char *hash,
    const char **error_r);
int account_user_del(sqlite3 *db, const char *address, const char **error_r);
int account_user_passwd(sqlite3 *db, const char *address, const char *hash,
    const char **error_r);
/* Copies the user's password hash into hash (size hashsize) if the user
 * exists and is enabled; returns 1, else 0. */
int account_user_hash(sqlite3 *db, const char *address, char *hash,
    size_t hashsize);
/* Quota in octets over all the user's folders (0: none). */
int account_user_set_quota(sqlite3 *db, const char *address, uint64_t bytes,
    const char **error_r);
/* The user's quota, 0 for none or an unknown user. */
uint64_t account_user_quota(sqlite3 *db, const char *address);

int account_alias_add(sqlite3 *db, const char *alias, const char *target,
    const char **error_r);
/* Deletes alias -> target, or every target of alias when target is NULL. */
int account_alias_del(sqlite3 *db, const char *alias, const char *target,
    const char **error_r);

enum account_kind {
	ACCOUNT_REMOTE,		/* the domain is not ours */
	ACCOUNT_UNKNOWN,	/* our domain, no such user or alias */
	ACCOUNT_LOCAL,		/* resolved to targets */
};

struct account_target {
	char address[ACCOUNT_ADDR_MAX + 1];
	int local;		/* 1: a local user; 0: an outside address */
};

/* Resolves a recipient (any case; local@domain) through aliases (depth
 * ACCOUNT_ALIAS_DEPTH) and plus-addressing (user+tag) into at most
 * ACCOUNT_MAX_TARGETS targets, without duplicates. */
enum account_kind account_resolve(sqlite3 *db, const char *address,
    struct account_target *targets, size_t *n_r);

/* Maildir of a local user, relative to DATA: "mail/DOMAIN/LOCAL".
 * The address must come from account_resolve() (already validated). */
int account_maildir(const char *address, char *out, size_t outsize);

#endif
