/* The guard's tracking table (internal to src/guard): one entry per
 * counting key, holding its event logs, in a bounded hash table that
 * evicts the least recently active entries when full. */
#ifndef MW_GUARD_GUARD_TABLE_H
#define MW_GUARD_GUARD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/ipaddr.h"
#include "guard/guard_log.h"

struct guard_entry {
	_Alignas(64) uint8_t key[16];
	uint32_t last;			/* last activity, for eviction */
	uint8_t nlog;			/* see union guard_elog */
	uint8_t spare[3];
	union guard_elog log;
};

_Static_assert(sizeof(struct guard_entry) == 64,
    "an entry is one cache line");

struct guard_slots {
	struct guard_entry *e;		/* nb * BUCKET slots */
	uint16_t *fp;			/* per slot; 0: empty */
	void *mem;			/* e and fp, before alignment */
	size_t nb;			/* buckets */
	uint64_t seed;
};

/* Where a key may be: its two buckets, its preferred pair of slots in
 * each (home, home + 1: 128 aligned bytes), and its fingerprint. */
struct guard_probe {
	size_t b[2];
	unsigned home[2];
	uint16_t fp;
	size_t nb;			/* of the table it was made for */
	uint64_t seed;
};

/* Logins being checked for one key. */
struct guard_flight {
	uint8_t key[16];
	uint32_t n;			/* 0: empty slot */
};

#define GUARD_FETCH_QUEUE 8	/* logins the fetch pipeline follows: 2^n */

struct guard_table {
	struct guard_slots s;
	size_t n, max;			/* entries; at most */
	uint64_t rng;			/* xorshift: samples, moves */
	size_t log_bytes;		/* held by the entries' rings */
	uint64_t evictions;		/* since the start */
	/* Logins in flight, by key: a small table apart from the entries
	 * (as many keys as logins being checked), so that starting a login
	 * touches no entry and its entry is fetched while the password is
	 * checked. An entry with logins in flight is never evicted. */
	struct guard_flight *fl;
	size_t fl_cap, fl_n;		/* fl_cap: a power of two */
	uint64_t fl_seed;
	/* The latest logins begun: see guard_table_flight_begin(). */
	struct guard_fetch {
		struct guard_probe p;	/* p.nb == 0: none */
		uint8_t key[16];
		size_t slot;		/* where the key seems to be */
	} fq[GUARD_FETCH_QUEUE];
	unsigned fq_i;
};

/* An empty table for at most max entries (0: 1). */
void guard_table_init(struct guard_table *tt, size_t max);
/* Frees the entries' logs and the table. */
void guard_table_free(struct guard_table *tt);
/* A smaller cap evicts down to it (never entries with logins in flight)
 * and shrinks the table. */
void guard_table_set_max(struct guard_table *tt, size_t max);

/* Makes key's probe and starts fetching where the entry may be: an
 * event does this first, so that its other work overlaps the fetch. */
void guard_table_probe(const struct guard_table *tt, const uint8_t key[16],
    struct guard_probe *p);
/* The entry of key, or NULL. */
struct guard_entry *guard_table_find(const struct guard_table *tt,
    const struct ipaddr *key);
/* The entry of key with its last activity set to r, or NULL. pr: key's
 * probe, or NULL. */
struct guard_entry *guard_table_lookup(struct guard_table *tt,
    const struct ipaddr *key, uint32_t r, const struct guard_probe *pr);
/* Stores a copy of *fresh, whose key is not in the table, evicting one
 * entry if at the cap; -1 only if every entry has logins in flight.
 * pr: the key's probe, or NULL. Entries may move: pointers into the
 * table last until the next call that stores one. */
int guard_table_add(struct guard_table *tt, const struct guard_entry *fresh,
    const struct guard_probe *pr);
/* A login for key starts / ends; the end returns how many others are
 * still in flight. The begin also moves the fetch of what the ends of
 * the logins begun before it will need one step on: their entries, and
 * their rings of kind (a failure is added to it). */
void guard_table_flight_begin(struct guard_table *tt, const uint8_t key[16],
    unsigned kind);
unsigned guard_table_flight_end(struct guard_table *tt,
    const uint8_t key[16]);
/* Forgets e's events. */
void guard_table_clear_logs(struct guard_table *tt, struct guard_entry *e);
/* Takes shift off every entry's stamps (the guard's epoch moved). */
void guard_table_shift(struct guard_table *tt, uint32_t shift);
/* Bytes held: slots, fingerprints and logs. */
size_t guard_table_memory(const struct guard_table *tt);

#endif
