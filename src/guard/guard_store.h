/* The guard's rows in the settings database: blocks (so they survive a
 * restart) and the allow/deny lists. The CLI writes them directly; the
 * server reads them at start and whenever meta.guard_gen changes, and
 * writes the blocks its rules create through the async writer. */
#ifndef MW_GUARD_GUARD_STORE_H
#define MW_GUARD_GUARD_STORE_H

#include <sqlite3.h>
#include <stdint.h>

#include "guard/guard.h"

/* Wall-clock milliseconds. */
uint64_t guard_store_now(void);

const char *guard_kind_name(enum guard_kind k);

/* The generation the CLI bumps on every ban or list change. */
int64_t guard_store_gen(sqlite3 *db);
int guard_store_bump_gen(sqlite3 *db);

/* Brings g's blocks and lists in line with the database: blocks in the
 * database are added or replaced, lifted ones (until in the past) are
 * removed; blocks only in memory stay (their write may be in flight);
 * the lists are replaced. */
int guard_store_load(sqlite3 *db, struct guard *g, uint64_t now);

/* The server's writes, queued on the async writer. */
void guard_store_save_block_async(const struct guard_block *b);
void guard_store_forget_block_async(const struct cidr *range);

/* CLI writes (synchronous). Return -1 with *error_r. */
int guard_store_ban(sqlite3 *db, const struct guard_block *b,
    const char **error_r);
int guard_store_unban(sqlite3 *db, const struct cidr *range,
    const char **error_r);
int guard_store_list_add(sqlite3 *db, const struct guard_list_entry *e,
    const char **error_r);
int guard_store_list_del(sqlite3 *db, const struct cidr *range,
    enum guard_list list, const char **error_r);

#endif
