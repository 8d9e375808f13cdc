/* A map of address ranges with a bit filter in front of it (the
 * guard's blocks and black/white lists): most addresses are in no range,
 * and the filter says so without touching the map. */
#ifndef MW_GUARD_RANGESET_H
#define MW_GUARD_RANGESET_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "guard/cidrmap.h"

/* Bits of removed ranges stay set until the next rebuild. */
struct rangeset {
	struct cidrmap map;
	uint64_t *bits;
	unsigned log2;			/* 1 << log2 bits */
	size_t stale;			/* removals since the rebuild */
	uint64_t seed;
};

void rangeset_init(struct rangeset *rs);
/* Empties rs (values are the caller's to free first); it stays usable. */
void rangeset_release(struct rangeset *rs);
/* Calls fn on every value, then frees rs's memory. */
void rangeset_free(struct rangeset *rs,
    void (*fn)(const struct cidr *key, void *value, void *arg), void *arg);
/* As cidrmap_put(), cidrmap_del(). */
void *rangeset_put(struct rangeset *rs, const struct cidr *range,
    void *value);
void *rangeset_del(struct rangeset *rs, const struct cidr *range);
/* As cidrmap_get() of range with its host bits cleared, the filter
 * first. */
void *rangeset_get(const struct rangeset *rs, const struct cidr *range);
/* As rangeset_get(), with the value's tag (cidrmap.h), and setting it. */
void *rangeset_get_tag(const struct rangeset *rs, const struct cidr *range,
    uint32_t *tag_r);
void rangeset_set_tag(struct rangeset *rs, const struct cidr *range,
    uint32_t tag);
/* Starts fetching where rangeset_get() will look for range, if the
 * filter says it may be there. */
void rangeset_prefetch(const struct rangeset *rs, const struct cidr *range);
/* The value of the longest range holding ip that accept() takes (NULL:
 * any), the map probed only where the filter says a range may be. */
void *rangeset_lookup(const struct rangeset *rs, const struct ipaddr *ip,
    int (*accept)(void *value, void *arg), void *arg);

/* Inline: every guard event calls them. */

/* 1 if ip is an IPv4 address (held IPv4-mapped). */
static inline int
rangeset_is_v4(const struct ipaddr *ip)
{
	uint64_t hi;
	uint32_t mid;

	memcpy(&hi, ip->a, 8);
	memcpy(&mid, ip->a + 8, 4);
	return hi == 0 && mid == htobe32(0xffff);
}

/* The first n (0..64) bits of a 64-bit word in network order. */
static inline uint64_t
rangeset_be_mask(unsigned n)
{
	return n == 0 ? 0 : n >= 64 ? ~0ULL : htobe64(~0ULL << (64 - n));
}

/* ip with the bits past prefix cleared, as two words. */
static inline void
rangeset_masked(const struct ipaddr *ip, unsigned prefix, uint64_t *hi_r,
    uint64_t *lo_r)
{
	memcpy(hi_r, ip->a, 8);
	memcpy(lo_r, ip->a + 8, 8);
	*hi_r &= rangeset_be_mask(prefix);
	*lo_r &= rangeset_be_mask(prefix > 64 ? prefix - 64 : 0);
}

#endif
