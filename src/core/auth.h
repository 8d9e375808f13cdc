/* Password hashing and checking, shared by every protocol. Checks run on
 * the worker pool; a failure is answered after a tarpit delay (a timer);
 * an unknown user is checked against a dummy hash so that it costs the
 * same and gets the same answer as a wrong password. */
#ifndef MW_CORE_AUTH_H
#define MW_CORE_AUTH_H

#include <stddef.h>

#include "core/conn.h"
#include "guard/guard.h"

#define AUTH_HASH_MAX 256

/* Hashes password with yescrypt into hash (size AUTH_HASH_MAX). Blocks:
 * for the CLI or a worker only. */
int auth_hash_password(const char *password, char *hash);
/* Verifies password against a crypt(3) hash in constant time. Blocks. */
int auth_verify_hash(const char *password, const char *hash);

/* Prepares the dummy hash; call once at server start. */
void auth_init(void);

/* Called on the loop with the outcome, only if c is still alive. The
 * username is the normalised login name. */
typedef void auth_done_fn(struct conn *c, int ok, const char *username);

/* Starts checking username/password for c. Copies both; the caller
 * wipes its own copy of the password. The guard counts the attempt now
 * and decides when the check is done: while c's address is blocked the
 * login fails even with the right password, after the same work and the
 * same delay as a wrong one. */
void auth_check(struct conn *c, enum guard_proto proto, const char *username,
    const char *password, auth_done_fn *done);

#endif
