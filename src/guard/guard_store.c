/* Guard rows in SQLite.
 * SECURITY: ranges are parsed back with cidr_parse; bound parameters
 * only. */
#include "guard/guard_store.h"

#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/util.h"

static const char *const kind_names[] = {
	[GUARD_BLOCK_LOGINS] = "logins",
	[GUARD_BLOCK_CONNECTIONS] = "connections",
	[GUARD_BLOCK_NONE] = "none",
	[GUARD_BLOCK_HOLD] = "hold",
};

uint64_t
guard_store_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *
guard_kind_name(enum guard_kind k)
{
	return k <= GUARD_BLOCK_HOLD ? kind_names[k] : "?";
}

int64_t
guard_store_gen(sqlite3 *db)
{
	sqlite3_stmt *st = db_prepare(db,
	    "SELECT value FROM meta WHERE name = 'guard_gen'");
	int64_t v = sqlite3_step(st) == SQLITE_ROW ?
	    sqlite3_column_int64(st, 0) : 0;

	sqlite3_finalize(st);
	return v;
}

int
guard_store_bump_gen(sqlite3 *db)
{
	return db_exec(db, "INSERT INTO meta (name, value) VALUES "
	    "('guard_gen', 1) ON CONFLICT(name) DO UPDATE SET value = "
	    "value + 1");
}

static const char *
text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? s : "";
}

static void
load_blocks(sqlite3 *db, struct guard *g, uint64_t now)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT range, kind, created, until,"
	    " rule, reason, attempts, protocol FROM blocks");

	while (sqlite3_step(st) == SQLITE_ROW) {
		struct guard_block b;
		int64_t until = sqlite3_column_int64(st, 3);

		memset(&b, 0, sizeof(b));
		if (cidr_parse(text(st, 0), &b.range) < 0)
			continue;
		if (until != 0 && (uint64_t)until <= now) {
			(void)guard_unblock(g, &b.range, now);
			continue;
		}
		b.kind = strcmp(text(st, 1), "logins") == 0 ?
		    GUARD_BLOCK_LOGINS : GUARD_BLOCK_CONNECTIONS;
		b.created_ms = (uint64_t)sqlite3_column_int64(st, 2);
		b.until_ms = (uint64_t)until;
		str_copy(b.rule, sizeof(b.rule), text(st, 4));
		str_copy(b.reason, sizeof(b.reason), text(st, 5));
		b.attempts = (unsigned)sqlite3_column_int(st, 6);
		for (int p = 0; p < GUARD_PROTO_COUNT; p++)
			if (strcmp(text(st, 7), guard_proto_name(p)) == 0)
				b.proto = p;
		guard_block_add(g, &b);
	}
	sqlite3_finalize(st);
}

static void
load_lists(sqlite3 *db, struct guard *g)
{
	sqlite3_stmt *st = db_prepare(db, "SELECT range, list, comment, "
	    "expires FROM iplist");

	guard_list_clear(g);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct guard_list_entry e;

		memset(&e, 0, sizeof(e));
		if (cidr_parse(text(st, 0), &e.range) < 0)
			continue;
		e.list = strcmp(text(st, 1), "allow") == 0 ? GUARD_ALLOW :
		    GUARD_DENY;
		str_copy(e.comment, sizeof(e.comment), text(st, 2));
		e.expires_ms = (uint64_t)sqlite3_column_int64(st, 3);
		guard_list_set(g, &e);
	}
	sqlite3_finalize(st);
}

int
guard_store_load(sqlite3 *db, struct guard *g, uint64_t now)
{
	load_blocks(db, g, now);
	load_lists(db, g);
	return 0;
}

void
guard_store_save_block_async(const struct guard_block *b)
{
	char range[IPADDR_STRLEN + 8];
	struct db_value v[8] = {
		{ .s = cidr_str(&b->range, range, sizeof(range)) },
		{ .s = guard_kind_name(b->kind) },
		{ .is_int = 1, .i = (int64_t)b->created_ms },
		{ .is_int = 1, .i = (int64_t)b->until_ms },
		{ .s = b->rule },
		{ .s = b->reason },
		{ .is_int = 1, .i = b->attempts },
		{ .s = guard_proto_name(b->proto) },
	};

	db_write_async("INSERT INTO blocks (range, kind, created, until, rule,"
	    " reason, attempts, protocol) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
	    " ON CONFLICT(range) DO UPDATE SET kind = excluded.kind,"
	    " created = excluded.created, until = excluded.until,"
	    " rule = excluded.rule, reason = excluded.reason,"
	    " attempts = excluded.attempts, protocol = excluded.protocol",
	    v, 8);
}

void
guard_store_forget_block_async(const struct cidr *range)
{
	char text_range[IPADDR_STRLEN + 8];
	struct db_value v[1] = {
		{ .s = cidr_str(range, text_range, sizeof(text_range)) },
	};

	/* Only rows that have ended: a newer block for the range stays. */
	db_write_async("DELETE FROM blocks WHERE range = ? AND until != 0 "
	    "AND until <= CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 1000",
	    v, 1);
}

/* Runs a change and tells a running server about it. When missing is
 * set, changing no row is the error missing. */
static int
step_done(sqlite3 *db, sqlite3_stmt *st, const char *missing,
    const char **error_r)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		return -1;
	}
	if (missing != NULL && sqlite3_changes(db) == 0) {
		*error_r = missing;
		return -1;
	}
	return guard_store_bump_gen(db);
}

int
guard_store_ban(sqlite3 *db, const struct guard_block *b,
    const char **error_r)
{
	char range[IPADDR_STRLEN + 8];
	sqlite3_stmt *st = db_prepare(db, "INSERT INTO blocks (range, kind, "
	    "created, until, rule, reason) VALUES (?, ?, ?, ?, '', ?) "
	    "ON CONFLICT(range) DO UPDATE SET kind = excluded.kind, "
	    "created = excluded.created, until = excluded.until, rule = '', "
	    "reason = excluded.reason, attempts = 0");

	sqlite3_bind_text(st, 1, cidr_str(&b->range, range, sizeof(range)),
	    -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, guard_kind_name(b->kind), -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (int64_t)b->created_ms);
	sqlite3_bind_int64(st, 4, (int64_t)b->until_ms);
	sqlite3_bind_text(st, 5, b->reason, -1, SQLITE_STATIC);
	return step_done(db, st, NULL, error_r);
}

int
guard_store_unban(sqlite3 *db, const struct cidr *range,
    const char **error_r)
{
	char r[IPADDR_STRLEN + 8];
	sqlite3_stmt *st;

	/* A tombstone, so that a running server sees the lift. */
	st = db_prepare(db, "UPDATE blocks SET until = 1 WHERE range = ? AND "
	    "(until = 0 OR until > ?)");
	sqlite3_bind_text(st, 1, cidr_str(range, r, sizeof(r)), -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, (int64_t)guard_store_now());
	return step_done(db, st, "no such block", error_r);
}

int
guard_store_list_add(sqlite3 *db, const struct guard_list_entry *e,
    const char **error_r)
{
	char range[IPADDR_STRLEN + 8];
	sqlite3_stmt *st = db_prepare(db, "INSERT INTO iplist (range, list, "
	    "comment, created, expires) VALUES (?, ?, ?, ?, ?) "
	    "ON CONFLICT(range, list) DO UPDATE SET comment = "
	    "excluded.comment, expires = excluded.expires");

	sqlite3_bind_text(st, 1, cidr_str(&e->range, range, sizeof(range)),
	    -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, e->list == GUARD_ALLOW ? "allow" : "deny",
	    -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, e->comment, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (int64_t)guard_store_now());
	sqlite3_bind_int64(st, 5, (int64_t)e->expires_ms);
	return step_done(db, st, NULL, error_r);
}

int
guard_store_list_del(sqlite3 *db, const struct cidr *range,
    enum guard_list list, const char **error_r)
{
	char r[IPADDR_STRLEN + 8];
	sqlite3_stmt *st = db_prepare(db, "DELETE FROM iplist WHERE range = ?"
	    " AND list = ?");

	sqlite3_bind_text(st, 1, cidr_str(range, r, sizeof(r)), -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, list == GUARD_ALLOW ? "allow" : "deny", -1,
	    SQLITE_STATIC);
	return step_done(db, st, "not on the list", error_r);
}
