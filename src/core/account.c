/* Accounts: domains, users, aliases.
 * SECURITY: addresses are validated before they are stored, so a stored
 * user's address is safe to use as a path below DATA/mail. Recipient
 * addresses from clients are only ever looked up, never used as paths. */
#include "core/account.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/util.h"

static int
local_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    strchr("._+=-'", c) != NULL;
}

int
account_domain_normalize(const char *in, char *out, size_t outsize)
{
	size_t label = 0, n = strlen(in);

	if (n == 0 || n > 253 || n >= outsize || in[0] == '.' ||
	    in[n - 1] == '.')
		return -1;
	for (size_t i = 0; i <= n; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		out[i] = c;
		if (c == '\0' || c == '.') {
			if (label == 0 || out[i - 1] == '-')
				return -1;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-') || (label == 0 && c == '-') || ++label > 63)
			return -1;
	}
	return 0;
}

int
account_normalize(const char *in, char *out, const char **error_r)
{
	const char *at = strrchr(in, '@');
	size_t llen;

	*error_r = "not an address of the form local@domain";
	if (at == NULL || strlen(in) > ACCOUNT_ADDR_MAX)
		return -1;
	llen = (size_t)(at - in);
	if (llen == 0 || llen > ACCOUNT_LOCAL_MAX || in[0] == '.' ||
	    in[llen - 1] == '.') {
		*error_r = "bad local part";
		return -1;
	}
	for (size_t i = 0; i < llen; i++) {
		char c = in[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (!local_char(c) || (c == '.' && in[i + 1] == '.')) {
			*error_r = "local part: use letters, digits and . _ + = - '";
			return -1;
		}
		out[i] = c;
	}
	out[llen] = '@';
	if (account_domain_normalize(at + 1, out + llen + 1,
	    ACCOUNT_ADDR_MAX - llen) < 0) {
		*error_r = "bad domain";
		return -1;
	}
	return 0;
}

/* Runs one statement with up to three text parameters; returns the
 * number of rows changed, or -1 with *error_r. */
static int
run(sqlite3 *db, const char *sql, const char *a, const char *b,
    const char *c, const char **error_r)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	const char *p[3] = { a, b, c };
	int rc;

	for (int i = 0; i < 3 && p[i] != NULL; i++)
		sqlite3_bind_text(st, i + 1, p[i], -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT) {
		*error_r = "already exists";
		return -1;
	}
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		return -1;
	}
	return sqlite3_changes(db);
}

static int
exists(sqlite3 *db, const char *sql, const char *a)
{
	sqlite3_stmt *st = db_prepare(db, sql);
	int found;

	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

int
account_domain_add(sqlite3 *db, const char *domain, const char **error_r)
{
	char now[24];

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	return run(db, "INSERT INTO domains (name, created) VALUES (?, ?)",
	    domain, now, NULL, error_r) < 0 ? -1 : 0;
}

int
account_domain_del(sqlite3 *db, const char *domain, const char **error_r)
{
	int n = run(db, "DELETE FROM domains WHERE name = ?", domain, NULL,
	    NULL, error_r);

	if (n == 0)
		*error_r = "no such domain";
	if (n > 0)
		(void)run(db, "DELETE FROM aliases WHERE alias LIKE '%@' || ?",
		    domain, NULL, NULL, error_r);
	return n > 0 ? 0 : -1;
}

int
account_domain_exists(sqlite3 *db, const char *domain)
{
	return exists(db, "SELECT 1 FROM domains WHERE name = ?", domain);
}

int
account_user_add(sqlite3 *db, const char *address, const char *hash,
    const char **error_r)
{
	const char *at = strrchr(address, '@');
	char local[ACCOUNT_LOCAL_MAX + 1], now[24];
	sqlite3_stmt *st;
	int rc;

	if (!account_domain_exists(db, at + 1)) {
		*error_r = "no such domain (add it with: domain add)";
		return -1;
	}
	if (exists(db, "SELECT 1 FROM aliases WHERE alias = ?", address)) {
		*error_r = "an alias with this address exists";
		return -1;
	}
	snprintf(local, sizeof(local), "%.*s", (int)(at - address), address);
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	st = db_prepare(db, "INSERT INTO users (address, domain, localpart, "
	    "hash, created) VALUES (?, ?, ?, ?, ?)");
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, at + 1, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, local, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, now, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT) {
		*error_r = "user already exists";
		return -1;
	}
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		return -1;
	}
	return 0;
}

int
account_user_del(sqlite3 *db, const char *address, const char **error_r)
{
	int n = run(db, "DELETE FROM users WHERE address = ?", address, NULL,
	    NULL, error_r);

	if (n == 0)
		*error_r = "no such user";
	return n > 0 ? 0 : -1;
}

int
account_user_passwd(sqlite3 *db, const char *address, const char *hash,
    const char **error_r)
{
	int n = run(db, "UPDATE users SET hash = ? WHERE address = ?", hash,
	    address, NULL, error_r);

	if (n == 0)
		*error_r = "no such user";
	return n > 0 ? 0 : -1;
}

int
account_user_hash(sqlite3 *db, const char *address, char *hash,
    size_t hashsize)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT hash FROM users "
	    "WHERE address = ? AND enabled = 1");
	int found = 0;

	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		found = str_copy(hash, hashsize,
		    (const char *)sqlite3_column_text(st, 0)) == 0;
	sqlite3_finalize(st);
	return found;
}

int
account_alias_add(sqlite3 *db, const char *alias, const char *target,
    const char **error_r)
{
	const char *at = strrchr(alias, '@');

	if (!account_domain_exists(db, at + 1)) {
		*error_r = "the alias must be in a local domain";
		return -1;
	}
	if (exists(db, "SELECT 1 FROM users WHERE address = ?", alias)) {
		*error_r = "a user with this address exists";
		return -1;
	}
	return run(db, "INSERT INTO aliases (alias, target) VALUES (?, ?)",
	    alias, target, NULL, error_r) < 0 ? -1 : 0;
}

int
account_alias_del(sqlite3 *db, const char *alias, const char *target,
    const char **error_r)
{
	int n = target ?
	    run(db, "DELETE FROM aliases WHERE alias = ? AND target = ?",
		alias, target, NULL, error_r) :
	    run(db, "DELETE FROM aliases WHERE alias = ?", alias, NULL, NULL,
		error_r);

	if (n == 0)
		*error_r = "no such alias";
	return n > 0 ? 0 : -1;
}

static void
add_target(struct account_target *t, size_t *n, const char *address,
    int local)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(t[i].address, address) == 0)
			return;
	if (*n >= ACCOUNT_MAX_TARGETS)
		return;
	if (str_copy(t[*n].address, sizeof(t[*n].address), address) < 0)
		return;
	t[*n].local = local;
	(*n)++;
}

/* Adds what address stands for; returns 1 if it was a user or alias. */
static int
expand(sqlite3 *db, const char *address, int depth,
    struct account_target *t, size_t *n)
{
	sqlite3_stmt *st;
	int found = 0;

	if (exists(db, "SELECT 1 FROM users WHERE address = ? AND enabled = 1",
	    address)) {
		add_target(t, n, address, 1);
		return 1;
	}
	if (depth >= ACCOUNT_ALIAS_DEPTH)
		return 0;
	st = db_prepare(db, "SELECT target FROM aliases WHERE alias = ?");
	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *target = (const char *)sqlite3_column_text(st, 0);
		const char *at = strrchr(target, '@');

		found = 1;
		if (at != NULL && account_domain_exists(db, at + 1))
			(void)expand(db, target, depth + 1, t, n);
		else
			add_target(t, n, target, 0);
	}
	sqlite3_finalize(st);
	return found;
}

enum account_kind
account_resolve(sqlite3 *db, const char *address,
    struct account_target *targets, size_t *n_r)
{
	char norm[ACCOUNT_ADDR_MAX + 1], base[ACCOUNT_ADDR_MAX + 1];
	const char *err, *at = strrchr(address, '@'), *plus;
	char domain[256];

	*n_r = 0;
	if (at == NULL || account_domain_normalize(at + 1, domain,
	    sizeof(domain)) < 0 || !account_domain_exists(db, domain))
		return ACCOUNT_REMOTE;
	if (account_normalize(address, norm, &err) < 0)
		return ACCOUNT_UNKNOWN;
	if (expand(db, norm, 0, targets, n_r) && *n_r > 0)
		return ACCOUNT_LOCAL;
	/* Plus-addressing: user+tag@domain reaches user@domain. */
	plus = strchr(norm, '+');
	if (plus != NULL && plus != norm) {
		snprintf(base, sizeof(base), "%.*s%s", (int)(plus - norm),
		    norm, strrchr(norm, '@'));
		if (expand(db, base, 0, targets, n_r) && *n_r > 0)
			return ACCOUNT_LOCAL;
	}
	return ACCOUNT_UNKNOWN;
}

int
account_maildir(const char *address, char *out, size_t outsize)
{
	const char *at = strrchr(address, '@');

	if (at == NULL)
		return -1;
	return str_printf(out, outsize, "mail/%s/%.*s", at + 1,
	    (int)(at - address), address) < 0 ? -1 : 0;
}

int
account_user_set_quota(sqlite3 *db, const char *address, uint64_t bytes,
    const char **error_r)
{
	sqlite3_stmt *st = db_prepare(db, "UPDATE users SET quota = ? "
	    "WHERE address = ?");
	int rc;

	sqlite3_bind_int64(st, 1, (sqlite3_int64)bytes);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		return -1;
	}
	if (sqlite3_changes(db) == 0) {
		*error_r = "no such user";
		return -1;
	}
	return 0;
}

uint64_t
account_user_quota(sqlite3 *db, const char *address)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT quota FROM users "
	    "WHERE address = ?");
	sqlite3_int64 q = 0;

	sqlite3_bind_text(st, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		q = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return q > 0 ? (uint64_t)q : 0;
}
