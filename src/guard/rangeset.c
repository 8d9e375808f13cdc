/* Address ranges with a bit filter in front: one bit per range, set at
 * hash(range). Bits of removed ranges stay set until the next rebuild.
 * SECURITY: hashing is keyed with a random seed. */
#include "guard/rangeset.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define FILTER_MIN_LOG2 12
#define FILTER_BITS_PER_RANGE 16

static size_t
filter_bit(const struct rangeset *rs, uint64_t hi, uint64_t lo,
    unsigned prefix)
{
	uint64_t h = (hi ^ rs->seed) * 0x9e3779b97f4a7c15ULL;

	h = (h ^ (h >> 32) ^ lo) * 0xd6e8feb86659fd93ULL;
	h = (h ^ (h >> 32) ^ prefix) * 0xc2b2ae3d27d4eb4fULL;
	return (size_t)(h >> (64 - rs->log2));
}

static void
filter_set(struct rangeset *rs, const struct cidr *range)
{
	uint64_t hi, lo;
	size_t bit;

	rangeset_masked(&range->addr, range->prefix, &hi, &lo);
	bit = filter_bit(rs, hi, lo, range->prefix);
	rs->bits[bit / 64] |= 1ULL << (bit % 64);
}

static void
filter_set_cb(const struct cidr *key, void *value, void *arg)
{
	(void)value;
	filter_set(arg, key);
}

/* Sizes the filter for the ranges in the map and sets their bits. */
static void
filter_rebuild(struct rangeset *rs)
{
	unsigned log2 = FILTER_MIN_LOG2;

	while ((1ULL << log2) < rs->map.count * FILTER_BITS_PER_RANGE)
		log2++;
	free(rs->bits);
	rs->log2 = log2;
	rs->bits = xcalloc((1ULL << log2) / 64, sizeof(*rs->bits));
	rs->stale = 0;
	cidrmap_foreach(&rs->map, filter_set_cb, rs);
}

void
rangeset_init(struct rangeset *rs)
{
	memset(rs, 0, sizeof(*rs));
	cidrmap_init(&rs->map);
	rs->seed = random_u64();
	filter_rebuild(rs);
}

void
rangeset_release(struct rangeset *rs)
{
	cidrmap_release(&rs->map);
	filter_rebuild(rs);
}

void
rangeset_free(struct rangeset *rs,
    void (*fn)(const struct cidr *key, void *value, void *arg), void *arg)
{
	cidrmap_foreach(&rs->map, fn, arg);
	cidrmap_release(&rs->map);
	free(rs->bits);
	rs->bits = NULL;
}

/* As cidrmap_put(). */
void *
rangeset_put(struct rangeset *rs, const struct cidr *range, void *value)
{
	void *old = cidrmap_put(&rs->map, range, value);

	if ((1ULL << rs->log2) < rs->map.count * FILTER_BITS_PER_RANGE)
		filter_rebuild(rs);
	else
		filter_set(rs, range);
	return old;
}

/* As cidrmap_del(). */
void *
rangeset_del(struct rangeset *rs, const struct cidr *range)
{
	void *v = cidrmap_del(&rs->map, range);

	if (v != NULL && ++rs->stale > rs->map.count + 64)
		filter_rebuild(rs);
	return v;
}

static int
filter_has(const struct rangeset *rs, uint64_t hi, uint64_t lo,
    unsigned prefix)
{
	size_t bit = filter_bit(rs, hi, lo, prefix);

	return (rs->bits[bit / 64] >> (bit % 64)) & 1;
}

/* The range of masked words hi and lo under prefix. */
static struct cidr
cidr_of(uint64_t hi, uint64_t lo, unsigned prefix)
{
	struct cidr c;

	memcpy(c.addr.a, &hi, 8);
	memcpy(c.addr.a + 8, &lo, 8);
	c.prefix = prefix;
	return c;
}

/* As cidrmap_get() of range with its host bits cleared, the filter
 * first. */
void *
rangeset_get_tag(const struct rangeset *rs, const struct cidr *range,
    uint32_t *tag_r)
{
	struct cidr c;
	uint64_t hi, lo;

	*tag_r = 0;
	if (rs->map.count == 0)
		return NULL;
	rangeset_masked(&range->addr, range->prefix, &hi, &lo);
	if (!filter_has(rs, hi, lo, range->prefix))
		return NULL;
	c = cidr_of(hi, lo, range->prefix);
	return cidrmap_get_tag(&rs->map, &c, tag_r);
}

void *
rangeset_get(const struct rangeset *rs, const struct cidr *range)
{
	uint32_t tag;

	return rangeset_get_tag(rs, range, &tag);
}

void
rangeset_set_tag(struct rangeset *rs, const struct cidr *range, uint32_t tag)
{
	struct cidr c;
	uint64_t hi, lo;

	rangeset_masked(&range->addr, range->prefix, &hi, &lo);
	c = cidr_of(hi, lo, range->prefix);
	cidrmap_set_tag(&rs->map, &c, tag);
}

/* Starts fetching where cidrmap_get() will look for range (its hash and
 * slot layout are public), if the filter says range may be there. */
void
rangeset_prefetch(const struct rangeset *rs, const struct cidr *range)
{
	uint64_t hi, lo;

	if (rs->map.count == 0)
		return;
	rangeset_masked(&range->addr, range->prefix, &hi, &lo);
	if (filter_has(rs, hi, lo, range->prefix))
		__builtin_prefetch(&rs->map.slots[cidrmap_hash(rs->map.seed,
		    range->addr.a, range->prefix) & (rs->map.cap - 1)]);
}

/* As cidrmap_lookup(): the value of the longest range holding ip that
 * accept() takes (NULL: any), the map probed only where the filter says
 * a range may be. */
void *
rangeset_lookup(const struct rangeset *rs, const struct ipaddr *ip,
    int (*accept)(void *value, void *arg), void *arg)
{
	const struct cidrmap *m = &rs->map;
	int v4;

	if (m->count == 0)
		return NULL;
	v4 = rangeset_is_v4(ip);
	for (unsigned i = 0; i < m->nlengths; i++) {
		unsigned p = m->lengths[i];
		struct cidr c;
		uint64_t hi, lo;
		void *v;

		/* IPv4 is held mapped: IPv6 ranges (shorter than /96),
		 * such as ::/0, never hold it. */
		if (v4 && p < 96)
			break;
		rangeset_masked(ip, p, &hi, &lo);
		if (!filter_has(rs, hi, lo, p))
			continue;
		c = cidr_of(hi, lo, p);
		v = cidrmap_get(m, &c);
		if (v != NULL && (accept == NULL || accept(v, arg)))
			return v;
	}
	return NULL;
}

