/* CLI: domain, user and alias management.
 * SECURITY: passwords come from stdin only, are hashed here and wiped. */
#include <jansson.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/account.h"
#include "core/auth.h"
#include "core/db.h"
#include "core/util.h"

/* Prints rows of a query as a table or, with --json, as an array of
 * objects keyed by column name (integers stay numbers). */
static int
print_rows(struct cli *cli, const char *sql)
{
	sqlite3_stmt *st = db_prepare(cli->db, sql);
	json_t *arr = json_array();
	int cols = sqlite3_column_count(st);

	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *obj = json_object();

		for (int i = 0; i < cols; i++) {
			const char *name = sqlite3_column_name(st, i);

			if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
				json_object_set_new(obj, name, json_integer(
				    sqlite3_column_int64(st, i)));
			else
				json_object_set_new(obj, name, json_string(
				    (const char *)sqlite3_column_text(st, i)));
			if (!cli->json)
				printf("%s%s", i ? "\t" : "",
				    (const char *)sqlite3_column_text(st, i));
		}
		if (!cli->json)
			putchar('\n');
		json_array_append_new(arr, obj);
	}
	sqlite3_finalize(st);
	cli_put_json(cli, arr);
	return 0;
}

static int
need_args(struct cli *cli, int n, const char *usage)
{
	if (cli->argc != n) {
		cli_error("usage: %s", usage);
		return 0;
	}
	return 1;
}

int
cli_domain(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	const char *err;
	char name[256];

	if (strcmp(op, "list") == 0)
		return print_rows(cli, "SELECT name, (SELECT count(*) FROM users"
		    " WHERE domain = name) AS users FROM domains ORDER BY name");
	if (!need_args(cli, 2, "domain add|del NAME"))
		return 1;
	if (account_domain_normalize(cli->argv[1], name, sizeof(name)) < 0)
		return cli_error("not a valid domain name: %s", cli->argv[1]);
	if (strcmp(op, "add") == 0) {
		if (account_domain_add(cli->db, name, &err) < 0)
			return cli_error("domain %s: %s", name, err);
		printf("domain %s added\n", name);
		return 0;
	}
	if (strcmp(op, "del") == 0) {
		if (account_domain_del(cli->db, name, &err) < 0)
			return cli_error("domain %s: %s", name, err);
		printf("domain %s deleted (its mail stays on disk)\n", name);
		return 0;
	}
	return cli_error("usage: domain add|del|list [NAME]");
}

static int
user_password(struct cli *cli, const char *address, int add)
{
	char pw[256], hash[AUTH_HASH_MAX];
	const char *err;
	int rc;

	if (cli_read_password(pw, sizeof(pw)) < 0) {
		mem_wipe(pw, sizeof(pw));
		return cli_error("a password (1-254 bytes) must be given on "
		    "stdin");
	}
	rc = auth_hash_password(pw, hash);
	mem_wipe(pw, sizeof(pw));
	if (rc < 0)
		return cli_error("cannot hash the password");
	rc = add ? account_user_add(cli->db, address, hash, &err) :
	    account_user_passwd(cli->db, address, hash, &err);
	if (rc < 0)
		return cli_error("user %s: %s", address, err);
	printf("user %s %s\n", address, add ? "added" : "password changed");
	return 0;
}

/* user set ADDRESS quota BYTES (0: none; K, M, G suffixes). */
static int
user_set(struct cli *cli, const char *addr)
{
	unsigned long long v;
	const char *err;
	char *end;

	if (cli->argc != 4 || strcmp(cli->argv[2], "quota") != 0)
		return cli_error("usage: user set ADDRESS quota BYTES");
	errno = 0;
	v = strtoull(cli->argv[3], &end, 10);
	if (errno == 0 && end != cli->argv[3] && end[0] != '\0' &&
	    end[1] == '\0') {
		int shift = end[0] == 'K' ? 10 : end[0] == 'M' ? 20 :
		    end[0] == 'G' ? 30 : -1;

		if (shift < 0 || v > (1ULL << (62 - shift)))
			errno = ERANGE;
		else
			v <<= shift;
		end++;
	}
	if (errno != 0 || end == cli->argv[3] || *end != '\0' ||
	    cli->argv[3][0] == '-' || v > (1ULL << 62))
		return cli_error("quota: a number of bytes (K, M, G allowed), "
		    "0 for none: %s", cli->argv[3]);
	if (account_user_set_quota(cli->db, addr, v, &err) < 0)
		return cli_error("user %s: %s", addr, err);
	printf("user %s quota %llu\n", addr, v);
	return 0;
}

int
cli_user(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	char addr[ACCOUNT_ADDR_MAX + 1];
	const char *err;

	if (strcmp(op, "list") == 0)
		return print_rows(cli, "SELECT address, quota, enabled, created"
		    " FROM users ORDER BY domain, localpart");
	if (!need_args(cli, strcmp(op, "set") == 0 ? 4 : 2,
	    "user add|del|passwd ADDRESS | user set ADDRESS quota BYTES"))
		return 1;
	if (account_normalize(cli->argv[1], addr, &err) < 0)
		return cli_error("%s: %s", cli->argv[1], err);
	if (strcmp(op, "add") == 0)
		return user_password(cli, addr, 1);
	if (strcmp(op, "passwd") == 0)
		return user_password(cli, addr, 0);
	if (strcmp(op, "del") == 0) {
		if (account_user_del(cli->db, addr, &err) < 0)
			return cli_error("user %s: %s", addr, err);
		printf("user %s deleted (the Maildir stays on disk)\n", addr);
		return 0;
	}
	if (strcmp(op, "set") == 0)
		return user_set(cli, addr);
	return cli_error("usage: user add|del|passwd|list [ADDRESS] | "
	    "user set ADDRESS quota BYTES");
}

int
cli_alias(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	char alias[ACCOUNT_ADDR_MAX + 1], target[ACCOUNT_ADDR_MAX + 1];
	const char *err;

	if (strcmp(op, "list") == 0)
		return print_rows(cli, "SELECT alias, target FROM aliases "
		    "ORDER BY alias, target");
	if (cli->argc < 2 || cli->argc > 3 ||
	    (strcmp(op, "add") == 0 && cli->argc != 3))
		return cli_error("usage: alias add ALIAS TARGET | alias del "
		    "ALIAS [TARGET] | alias list");
	if (account_normalize(cli->argv[1], alias, &err) < 0)
		return cli_error("%s: %s", cli->argv[1], err);
	if (cli->argc == 3 && account_normalize(cli->argv[2], target,
	    &err) < 0)
		return cli_error("%s: %s", cli->argv[2], err);
	if (strcmp(op, "add") == 0) {
		if (account_alias_add(cli->db, alias, target, &err) < 0)
			return cli_error("alias %s: %s", alias, err);
		printf("alias %s -> %s added\n", alias, target);
		return 0;
	}
	if (strcmp(op, "del") == 0) {
		if (account_alias_del(cli->db, alias, cli->argc == 3 ? target :
		    NULL, &err) < 0)
			return cli_error("alias %s: %s", alias, err);
		printf("alias %s deleted\n", alias);
		return 0;
	}
	return cli_error("usage: alias add|del|list");
}
