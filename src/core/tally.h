/* Counts of things in use, by key: sessions per client address, sessions
 * per user, a user's maildrop lock. Loop only. Keys are bytes (an address,
 * a user name); an entry exists only while its count is above zero, so the
 * table is as large as what is in use now. */
#ifndef MW_CORE_TALLY_H
#define MW_CORE_TALLY_H

#include <stddef.h>

#define TALLY_KEY_MAX 300

struct tally;

struct tally *tally_new(void);
void tally_free(struct tally **t);
/* Adds one to key unless it is already at max: returns the new count, or
 * 0 (nothing changed) when max is reached or the key is too long. */
unsigned tally_take(struct tally *t, const void *key, size_t len,
    unsigned max);
/* Takes one back; the entry goes at zero. */
void tally_give(struct tally *t, const void *key, size_t len);
unsigned tally_get(const struct tally *t, const void *key, size_t len);

#endif
