/* Guard event logs.
 * SECURITY: bounded by the cap the caller passes (the largest rule
 * count), whatever the number of events. */
#include "guard/guard_log.h"

#include <stdlib.h>

#include "core/util.h"

static uint32_t
when(uint32_t stamp)
{
	return stamp & GUARD_STAMP_MASK;
}

static unsigned
proto_of(uint32_t stamp)
{
	return stamp >> GUARD_STAMP_BITS;
}

/* The k-th newest stamp (k = 0: newest). */
static uint32_t
nth_newest(const struct guard_log *l, unsigned k)
{
	return l->t[(l->head + l->len - 1 - k) % l->cap];
}

size_t
guard_log_size(const struct guard_log *l)
{
	return l == NULL ? 0 : sizeof(*l) + l->cap * sizeof(l->t[0]);
}

size_t
guard_log_add(struct guard_log **lp, uint32_t t, unsigned proto,
    uint16_t max)
{
	struct guard_log *l = *lp;
	uint32_t stamp = (t & GUARD_STAMP_MASK) | (uint32_t)proto <<
	    GUARD_STAMP_BITS;
	size_t before = guard_log_size(l);

	if (max == 0)
		return 0;
	if (l == NULL) {
		uint16_t cap = max < 2 ? max : 2;

		l = xmalloc(sizeof(*l) + cap * sizeof(l->t[0]));
		l->cap = cap;
		l->len = l->head = 0;
		*lp = l;
	}
	if (l->len == l->cap && l->cap < max) {
		uint16_t cap = l->cap * 2 < max ? l->cap * 2 : max;
		struct guard_log *n = xmalloc(sizeof(*n) + cap * sizeof(n->t[0]));

		for (uint16_t i = 0; i < l->len; i++)	/* unroll, oldest first */
			n->t[i] = l->t[(l->head + i) % l->cap];
		n->cap = cap;
		n->len = l->len;
		n->head = 0;
		free(l);
		*lp = l = n;
	}
	if (l->len < l->cap) {
		l->t[(l->head + l->len) % l->cap] = stamp;
		l->len++;
	} else {
		l->t[l->head] = stamp;	/* overwrite the oldest */
		l->head = (uint16_t)((l->head + 1) % l->cap);
	}
	return guard_log_size(l) - before;
}

int
guard_log_reached(const struct guard_log *l, unsigned count, uint32_t since,
    unsigned mask, unsigned all_mask)
{
	if (l == NULL || count == 0 || l->len < count)
		return 0;
	if ((mask & all_mask) == all_mask)
		return when(nth_newest(l, count - 1)) >= since;
	return guard_log_count(l, since, count, mask) >= count;
}

unsigned
guard_log_count(const struct guard_log *l, uint32_t since, unsigned limit,
    unsigned mask)
{
	unsigned n = 0;

	if (l == NULL)
		return 0;
	for (unsigned k = 0; k < l->len && n < limit; k++) {
		uint32_t s = nth_newest(l, k);

		if (when(s) < since)
			break;
		if (mask & (1u << proto_of(s)))
			n++;
	}
	return n;
}

void
guard_log_shift(struct guard_log *l, uint32_t shift)
{
	for (uint16_t i = 0; l != NULL && i < l->cap; i++) {
		uint32_t t = when(l->t[i]);

		l->t[i] = (t > shift ? t - shift : 0) |
		    (l->t[i] & ~GUARD_STAMP_MASK);
	}
}
