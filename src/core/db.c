/* Settings database: open, schema, helpers.
 * SECURITY: every statement uses bound parameters; no SQL is built from
 * input. */
#include "core/db.h"

#include <stdio.h>

#include "core/log.h"
#include "core/util.h"

/* Each entry upgrades the schema by one version (PRAGMA user_version). */
static const char *const schema[] = {
	"CREATE TABLE settings ("
	"  name TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE domains ("
	"  name TEXT PRIMARY KEY, created INTEGER NOT NULL);"
	"CREATE TABLE users ("
	"  address TEXT PRIMARY KEY, domain TEXT NOT NULL"
	"    REFERENCES domains(name) ON DELETE CASCADE,"
	"  localpart TEXT NOT NULL, hash TEXT NOT NULL,"
	"  quota INTEGER NOT NULL DEFAULT 0, enabled INTEGER NOT NULL DEFAULT 1,"
	"  created INTEGER NOT NULL);"
	"CREATE TABLE aliases ("
	"  alias TEXT NOT NULL, target TEXT NOT NULL,"
	"  PRIMARY KEY (alias, target));",
};

sqlite3 *
db_open(const char *path, int busy_ms, const char **error_r)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st;
	int version;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		*error_r = db ? sqlite3_errmsg(db) : "cannot open database";
		return NULL;
	}
	sqlite3_busy_timeout(db, busy_ms);
	if (db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON;") < 0) {
		*error_r = sqlite3_errmsg(db);
		return NULL;
	}
	st = db_prepare(db, "PRAGMA user_version");
	version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	for (int v = version; v < (int)(sizeof(schema) / sizeof(schema[0])); v++) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", v + 1);
		if (db_exec(db, "BEGIN IMMEDIATE") < 0 ||
		    db_exec(db, schema[v]) < 0 || db_exec(db, sql) < 0 ||
		    db_exec(db, "COMMIT") < 0) {
			*error_r = sqlite3_errmsg(db);
			return NULL;
		}
	}
	return db;
}

void
db_close(sqlite3 **db)
{
	if (*db != NULL)
		sqlite3_close(*db);
	*db = NULL;
}

int
db_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_err("db", 0, "event=sql-error error=\"%s\"",
		    err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fatal("sql: %s: %s", sqlite3_errmsg(db), sql);
	return st;
}

int
db_data_version(sqlite3 *db)
{
	sqlite3_stmt *st = db_prepare(db, "PRAGMA data_version");
	int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;

	sqlite3_finalize(st);
	return v;
}
