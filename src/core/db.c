/* Settings database: open, schema, helpers.
 * SECURITY: every statement uses bound parameters; no SQL is built from
 * input. */
#include "core/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/pool.h"
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

	/* The guard. Times are Unix milliseconds; until 0: no end. A lifted
	 * block keeps its row with until 1 until the server drops it. */
	"CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE blocks ("
	"  range TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	"  created INTEGER NOT NULL, until INTEGER NOT NULL,"
	"  rule TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  protocol TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE iplist ("
	"  range TEXT NOT NULL, list TEXT NOT NULL,"
	"  comment TEXT NOT NULL DEFAULT '', created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (range, list));",
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

static sqlite3 *writer;
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;

int
db_writer_open(const char *path, const char **error_r)
{
	writer = db_open(path, 5000, error_r);
	return writer == NULL ? -1 : 0;
}

void
db_writer_close(void)
{
	db_close(&writer);
}

struct db_write_job {
	struct pool_job job;	/* first: the pool hands this back */
	char *sql;
	struct db_value params[DB_WRITE_PARAMS];
	char *copies[DB_WRITE_PARAMS];	/* owned text of the params */
	size_t n;
	int rc;
};

static void
db_write_work(struct pool_job *job)
{
	struct db_write_job *w = (struct db_write_job *)job;
	sqlite3_stmt *st;

	pthread_mutex_lock(&writer_lock);
	if (writer == NULL ||
	    sqlite3_prepare_v2(writer, w->sql, -1, &st, NULL) != SQLITE_OK) {
		w->rc = SQLITE_ERROR;
		pthread_mutex_unlock(&writer_lock);
		return;
	}
	for (size_t i = 0; i < w->n; i++) {
		if (w->params[i].is_int)
			sqlite3_bind_int64(st, (int)i + 1, w->params[i].i);
		else
			sqlite3_bind_text(st, (int)i + 1, w->params[i].s, -1,
			    SQLITE_STATIC);
	}
	w->rc = sqlite3_step(st);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&writer_lock);
}

static void
db_write_done(struct pool_job *job)
{
	struct db_write_job *w = (struct db_write_job *)job;

	if (w->rc != SQLITE_DONE && w->rc != SQLITE_ROW)
		log_err("db", 0, "event=write-failed rc=%d sql=\"%.60s\"",
		    w->rc, w->sql);
	for (size_t i = 0; i < w->n; i++)
		free(w->copies[i]);
	free(w->sql);
	free(w);
}

void
db_write_async(const char *sql, const struct db_value *params, size_t n)
{
	struct db_write_job *w = xcalloc(1, sizeof(*w));

	MW_ASSERT(n <= DB_WRITE_PARAMS);
	w->job.work = db_write_work;
	w->job.done = db_write_done;
	w->sql = xstrdup(sql);
	w->n = n;
	for (size_t i = 0; i < n; i++) {
		w->params[i] = params[i];
		if (!params[i].is_int)
			w->params[i].s = w->copies[i] =
			    xstrdup(params[i].s ? params[i].s : "");
	}
	pool_submit(&w->job);
}
