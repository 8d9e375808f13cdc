/* A map from CIDR ranges to values, and longest-prefix lookup of an
 * address: one hash probe per prefix length in use, so lookups cost
 * O(distinct prefix lengths), a handful in practice. */
#ifndef MW_GUARD_CIDRMAP_H
#define MW_GUARD_CIDRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/ipaddr.h"

struct cidrmap_slot {
	struct cidr key;
	uint32_t tag;		/* the owner's summary of value (see below) */
	void *value;		/* NULL: empty slot */
};

struct cidrmap {
	struct cidrmap_slot *slots;
	size_t cap;		/* power of two */
	size_t count;
	uint64_t seed;
	unsigned prefix_uses[129];	/* entries per prefix length */
	uint8_t lengths[129];		/* prefix lengths in use, longest first */
	unsigned nlengths;
};

void cidrmap_init(struct cidrmap *m);
/* Frees the table, not the values. */
void cidrmap_release(struct cidrmap *m);
/* Stores value (not NULL) for key; returns the value it replaced. */
void *cidrmap_put(struct cidrmap *m, const struct cidr *key, void *value);
void *cidrmap_get(const struct cidrmap *m, const struct cidr *key);
/* A tag is 32 bits the owner keeps beside a value, in the slot itself,
 * so that a lookup can decide without reading the value (a cache miss
 * saved). 0 when stored; set_tag does nothing if key is not there. */
void cidrmap_set_tag(struct cidrmap *m, const struct cidr *key,
    uint32_t tag);
/* As cidrmap_get(), with the tag in *tag_r (0 when not found). */
void *cidrmap_get_tag(const struct cidrmap *m, const struct cidr *key,
    uint32_t *tag_r);
/* Removes key; returns its value or NULL. */
void *cidrmap_del(struct cidrmap *m, const struct cidr *key);
/* The value of the longest range containing ip for which accept(value,
 * arg) is true (accept may be NULL), or NULL. */
void *cidrmap_lookup(const struct cidrmap *m, const struct ipaddr *ip,
    int (*accept)(void *value, void *arg), void *arg);
/* Calls fn for each entry; fn may delete the entry it is given. */
void cidrmap_foreach(struct cidrmap *m,
    void (*fn)(const struct cidr *key, void *value, void *arg), void *arg);

/* Keyed hash of 16 address bytes and a prefix (also used by guard.c). */
uint64_t cidrmap_hash(uint64_t seed, const uint8_t a[16], unsigned prefix);

#endif
