/* The settings database DATA/mailwarden.db: settings, domains, users,
 * aliases. One schema, created or upgraded on open. */
#ifndef MW_CORE_DB_H
#define MW_CORE_DB_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* Opens (creating if needed) the database at path and brings its schema
 * up to date. busy_ms bounds how long a statement waits for a lock held
 * by another process. Returns NULL and sets *error_r on failure. */
sqlite3 *db_open(const char *path, int busy_ms, const char **error_r);
void db_close(sqlite3 **db);
/* Runs SQL with no result rows; -1 and a log line on error. */
int db_exec(sqlite3 *db, const char *sql);
/* Prepares a statement; aborts on failure (the SQL is ours). */
sqlite3_stmt *db_prepare(sqlite3 *db, const char *sql);
/* Returns SQLite's data_version: it changes whenever another connection
 * commits, which is how a running server notices CLI changes. */
int db_data_version(sqlite3 *db);

/* Writes by the running server go through a second connection on the
 * worker pool, so the loop never waits for a lock or an fsync. Open it
 * before dropping privileges (SQLite opens files by absolute path). */
int db_writer_open(const char *path, const char **error_r);
void db_writer_close(void);

#define DB_WRITE_PARAMS 8

struct db_value {
	int is_int;
	int64_t i;
	const char *s;	/* copied */
};

/* Queues one statement with up to DB_WRITE_PARAMS parameters; runs in
 * order with other queued writes only as far as the pool allows, so use
 * it for independent rows. Failures are logged. */
void db_write_async(const char *sql, const struct db_value *params,
    size_t n);

#endif
