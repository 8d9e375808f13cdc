/* The settings database DATA/mailwarden.db: settings, domains, users,
 * aliases. One schema, created or upgraded on open. */
#ifndef MW_CORE_DB_H
#define MW_CORE_DB_H

#include <sqlite3.h>

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

#endif
