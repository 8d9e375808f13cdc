/* CLI: blocks (ban), allow and deny lists, guard statistics.
 * SECURITY: administrator input, validated as addresses/ranges; the
 * server picks the changes up from the database within a second. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "core/db.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "guard/guard_store.h"

/* Options after the positional arguments. */
struct guard_opts {
	uint64_t minutes;	/* 0: none given */
	int logins_only;
	const char *text;	/* --reason or --comment */
};

static int
parse_opts(struct cli *cli, int first, struct guard_opts *o,
    const char *text_opt, int is_ban)
{
	memset(o, 0, sizeof(*o));
	o->text = "";
	for (int i = first; i < cli->argc; i++) {
		const char *a = cli->argv[i];

		if (strcmp(a, "--minutes") == 0 && i + 1 < cli->argc) {
			if (str_to_u64(cli->argv[++i], 1, 525600 * 10,
			    &o->minutes) < 0)
				return cli_error("--minutes: a number from 1 "
				    "to 5256000");
		} else if (strcmp(a, "--logins-only") == 0 && is_ban) {
			o->logins_only = 1;
		} else if (strcmp(a, text_opt) == 0 && i + 1 < cli->argc) {
			o->text = cli->argv[++i];
			if (strlen(o->text) > 120 ||
			    strpbrk(o->text, "\r\n") != NULL)
				return cli_error("%s: at most 120 characters, "
				    "one line", text_opt);
		} else {
			return cli_error("unknown option: %s", a);
		}
	}
	return 0;
}

static int
parse_range(const char *s, struct cidr *c)
{
	if (cidr_parse(s, c) < 0)
		return cli_error("not an IP address or CIDR range: %s", s);
	return 0;
}

static void
time_text(uint64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0) {
		str_copy(buf, size, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
ban_list(struct cli *cli)
{
	sqlite3_stmt *st = db_prepare(cli->db, "SELECT range, kind, created, "
	    "until, rule, reason, attempts, protocol FROM blocks WHERE "
	    "until = 0 OR until > ? ORDER BY created");
	json_t *arr = json_array();
	uint64_t now = guard_store_now();

	sqlite3_bind_int64(st, 1, (int64_t)now);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *range = (const char *)sqlite3_column_text(st, 0);
		const char *kind = (const char *)sqlite3_column_text(st, 1);
		uint64_t until = (uint64_t)sqlite3_column_int64(st, 3);
		const char *rule = (const char *)sqlite3_column_text(st, 4);
		const char *reason = (const char *)sqlite3_column_text(st, 5);
		char ct[32], ut[32];

		time_text((uint64_t)sqlite3_column_int64(st, 2), ct, sizeof(ct));
		time_text(until, ut, sizeof(ut));
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:I, s:s, s:s, s:i, s:s}", "range", range, "kind", kind,
		    "created", ct, "until", ut, "seconds_left", (json_int_t)(
		    until ? (until - now) / 1000 : 0), "rule", rule[0] ? rule :
		    "admin", "reason", reason, "attempts",
		    sqlite3_column_int(st, 6), "protocol",
		    (const char *)sqlite3_column_text(st, 7)));
		if (!cli->json)
			printf("%-20s %-11s until %-20s %s%s%s\n", range, kind, ut,
			    rule[0] ? rule : "admin", reason[0] ? ": " : "",
			    reason);
	}
	sqlite3_finalize(st);
	cli_put_json(cli, arr);
	return 0;
}

/* Lifts every block whose range contains the address (for "IP") or the
 * block of exactly that range (for "ADDR/PREFIX"). */
static int
ban_del(struct cli *cli, const char *arg)
{
	sqlite3_stmt *st;
	struct cidr want, *found = NULL;
	size_t n = 0;
	const char *err;
	int exact = strchr(arg, '/') != NULL, rc = 0;

	if (parse_range(arg, &want) != 0)
		return 1;
	st = db_prepare(cli->db, "SELECT range FROM blocks WHERE until = 0 OR "
	    "until > ?");
	sqlite3_bind_int64(st, 1, (int64_t)guard_store_now());
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct cidr c;

		if (cidr_parse((const char *)sqlite3_column_text(st, 0), &c) < 0)
			continue;
		if (exact ? (c.prefix == want.prefix &&
		    cidr_match(&c, &want.addr)) : cidr_match(&c, &want.addr)) {
			found = xrealloc(found, (n + 1) * sizeof(*found));
			found[n++] = c;
		}
	}
	sqlite3_finalize(st);
	if (n == 0) {
		free(found);
		return cli_error("no block covers %s", arg);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char r[IPADDR_STRLEN + 8];

		if (guard_store_unban(cli->db, &found[i], &err) < 0)
			rc = cli_error("%s: %s", arg, err);
		else
			printf("block on %s lifted\n", cidr_str(&found[i], r,
			    sizeof(r)));
	}
	free(found);
	return rc;
}

int
cli_ban(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	struct guard_opts o;
	struct guard_block b;
	const char *err;
	char r[IPADDR_STRLEN + 8];

	if (strcmp(op, "list") == 0 && cli->argc == 1)
		return ban_list(cli);
	if (strcmp(op, "del") == 0 && cli->argc == 2)
		return ban_del(cli, cli->argv[1]);
	if (strcmp(op, "add") != 0 || cli->argc < 2)
		return cli_error("usage: ban add IP|CIDR [--minutes N] "
		    "[--logins-only] [--reason TEXT] | ban del IP|CIDR | "
		    "ban list [--json]");
	memset(&b, 0, sizeof(b));
	if (parse_range(cli->argv[1], &b.range) != 0 ||
	    parse_opts(cli, 2, &o, "--reason", 1) != 0)
		return 1;
	b.kind = o.logins_only ? GUARD_BLOCK_LOGINS : GUARD_BLOCK_CONNECTIONS;
	b.created_ms = guard_store_now();
	b.until_ms = o.minutes ? b.created_ms + o.minutes * 60000 : 0;
	str_copy(b.reason, sizeof(b.reason), o.text);
	if (guard_store_ban(cli->db, &b, &err) < 0)
		return cli_error("ban: %s", err);
	printf("%s blocked (%s) %s\n", cidr_str(&b.range, r, sizeof(r)),
	    o.logins_only ? "logins" : "all connections",
	    o.minutes ? "for the given minutes" : "until lifted");
	return 0;
}

static int
list_cmd(struct cli *cli, enum guard_list list)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	const char *name = list == GUARD_ALLOW ? "allow" : "deny";
	struct guard_list_entry e;
	struct guard_opts o;
	const char *err;

	if (strcmp(op, "list") == 0 && cli->argc == 1) {
		sqlite3_stmt *st = db_prepare(cli->db, "SELECT range, comment, "
		    "created, expires FROM iplist WHERE list = ? AND "
		    "(expires = 0 OR expires > ?) ORDER BY range");
		json_t *arr = json_array();

		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)guard_store_now());
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *range = (const char *)
			    sqlite3_column_text(st, 0);
			const char *comment = (const char *)
			    sqlite3_column_text(st, 1);
			char ct[32], et[32];

			time_text((uint64_t)sqlite3_column_int64(st, 2), ct,
			    sizeof(ct));
			time_text((uint64_t)sqlite3_column_int64(st, 3), et,
			    sizeof(et));
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, "
			    "s:s}", "range", range, "comment", comment,
			    "created", ct, "expires", et));
			if (!cli->json)
				printf("%-24s expires %-20s %s\n", range, et,
				    comment);
		}
		sqlite3_finalize(st);
		cli_put_json(cli, arr);
		return 0;
	}
	memset(&e, 0, sizeof(e));
	e.list = list;
	if (strcmp(op, "del") == 0 && cli->argc == 2) {
		if (parse_range(cli->argv[1], &e.range) != 0)
			return 1;
		if (guard_store_list_del(cli->db, &e.range, list, &err) < 0)
			return cli_error("%s %s: %s", name, cli->argv[1], err);
		printf("%s removed from the %s list\n", cli->argv[1], name);
		return 0;
	}
	if (strcmp(op, "add") != 0 || cli->argc < 2)
		return cli_error("usage: %s add CIDR [--comment TEXT] "
		    "[--minutes N] | %s del CIDR | %s list [--json]", name, name,
		    name);
	if (parse_range(cli->argv[1], &e.range) != 0 ||
	    parse_opts(cli, 2, &o, "--comment", 0) != 0)
		return 1;
	e.expires_ms = o.minutes ? guard_store_now() + o.minutes * 60000 : 0;
	str_copy(e.comment, sizeof(e.comment), o.text);
	if (guard_store_list_add(cli->db, &e, &err) < 0)
		return cli_error("%s: %s", name, err);
	printf("%s added to the %s list\n", cli->argv[1], name);
	return 0;
}

int
cli_allow(struct cli *cli)
{
	return list_cmd(cli, GUARD_ALLOW);
}

int
cli_deny(struct cli *cli)
{
	return list_cmd(cli, GUARD_DENY);
}

int
cli_guard(struct cli *cli)
{
	json_t *j;
	json_error_t jerr;
	struct stat st;
	const char *key;
	json_t *v;

	if (cli->argc != 1 || strcmp(cli->argv[0], "stats") != 0)
		return cli_error("usage: guard stats [--json]");
	j = json_load_file(GUARD_STATS_FILE, 0, &jerr);
	if (j == NULL || stat(GUARD_STATS_FILE, &st) < 0 ||
	    time(NULL) - st.st_mtime > 5) {
		json_decref(j);
		return cli_error("no live statistics: is the server running?");
	}
	if (!cli->json)
		json_object_foreach(j, key, v)
			printf("%-18s %lld\n", key,
			    (long long)json_integer_value(v));
	cli_put_json(cli, j);
	return 0;
}
