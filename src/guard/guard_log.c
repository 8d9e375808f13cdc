/* Guard event logs: rings per kind, and the inline logs of an address.
 * SECURITY: bounded by the caps the caller passes (the largest rule
 * count per kind), whatever the number of events. */
#include "guard/guard_log.h"

#include <stdlib.h>
#include <string.h>

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

/* i + j modulo the ring's size, for i, j below it (no division). */
static unsigned
wrap(const struct guard_log *l, unsigned i, unsigned j)
{
	return i + j >= l->cap ? i + j - l->cap : i + j;
}

/* The k-th newest stamp (k = 0: newest; k < len). */
static uint32_t
nth_newest(const struct guard_log *l, unsigned k)
{
	return l->t[wrap(l, l->head, l->len - 1 - k)];
}

void
guard_log_prefetch(const struct guard_log *l)
{
	/* A prefetch never faults: lines past the ring cost nothing. */
	for (int i = 0; i < 4; i++)
		__builtin_prefetch((const char *)l + 64 * i);
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
			n->t[i] = l->t[wrap(l, l->head, i)];
		n->cap = cap;
		n->len = l->len;
		n->head = 0;
		free(l);
		*lp = l = n;
	}
	if (l->len < l->cap) {
		l->t[wrap(l, l->head, l->len)] = stamp;
		l->len++;
	} else {
		l->t[l->head] = stamp;	/* overwrite the oldest */
		l->head = (uint16_t)wrap(l, l->head, 1);
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
	for (unsigned k = 0, i = wrap(l, l->head, l->len - 1u);
	    k < l->len && n < limit; k++, i = i == 0 ? l->cap - 1u : i - 1) {
		uint32_t s = l->t[i];

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

/* Inline logs. */

#define TIME_MASK ((1u << GUARD_TIME_BITS) - 1)

static unsigned
ikind(uint32_t s)
{
	return s >> 30;
}

static unsigned
iproto(uint32_t s)
{
	return (s >> GUARD_TIME_BITS) & 3;
}

static uint32_t
itime(uint32_t s)
{
	return s & TIME_MASK;
}

/* No rule can count s any more at time t. */
static int
dead(uint32_t s, uint32_t t, const struct guard_elog_policy *p)
{
	unsigned k = ikind(s);

	return p->cap[k] == 0 || itime(s) + p->keep[k] < t;
}

/* Moves the inline stamps into one ring per kind, oldest first, so that
 * each ring ends as if it had been a ring all along. */
static size_t
to_rings(union guard_elog *l, uint8_t *n, const struct guard_elog_policy *p)
{
	uint32_t old[GUARD_ELOG_INLINE];
	unsigned len = *n;
	size_t bytes = 0;

	memcpy(old, l->t, len * sizeof(old[0]));
	for (unsigned k = 0; k < GUARD_ELOG_KINDS; k++)
		l->ring[k] = NULL;
	*n = GUARD_ELOG_RINGS;
	for (unsigned i = 0; i < len; i++) {
		unsigned k = ikind(old[i]);

		bytes += guard_log_add(&l->ring[k], itime(old[i]),
		    iproto(old[i]), p->cap[k]);
	}
	return bytes;
}

size_t
guard_elog_add(union guard_elog *l, uint8_t *n, unsigned kind, uint32_t t,
    unsigned proto, const struct guard_elog_policy *p)
{
	unsigned len = *n, same = 0, j = 0;
	size_t bytes = 0;

	if (p->cap[kind] == 0)
		return 0;
	if (len == GUARD_ELOG_RINGS)
		return guard_log_add(&l->ring[kind], t, proto, p->cap[kind]);
	for (unsigned i = 0; i < len; i++)
		same += ikind(l->t[i]) == kind;
	if (same >= p->cap[kind]) {
		/* As a full ring: the oldest of this kind makes room. */
		unsigned drop = same - p->cap[kind] + 1;

		for (unsigned i = 0; i < len; i++) {
			if (drop > 0 && ikind(l->t[i]) == kind) {
				drop--;
				continue;
			}
			l->t[j++] = l->t[i];
		}
		len = j;
	} else if (len == GUARD_ELOG_INLINE) {
		for (unsigned i = 0; i < len; i++)
			if (!dead(l->t[i], t, p))
				l->t[j++] = l->t[i];
		len = j;
	}
	*n = (uint8_t)len;
	if (len == GUARD_ELOG_INLINE) {
		bytes = to_rings(l, n, p);
		return bytes + guard_log_add(&l->ring[kind], t, proto,
		    p->cap[kind]);
	}
	l->t[len] = (uint32_t)kind << 30 | (uint32_t)proto << GUARD_TIME_BITS |
	    (t & TIME_MASK);
	*n = (uint8_t)(len + 1);
	return 0;
}

size_t
guard_elog_clear(union guard_elog *l, uint8_t *n)
{
	size_t bytes = 0;

	if (*n == GUARD_ELOG_RINGS)
		for (unsigned k = 0; k < GUARD_ELOG_KINDS; k++) {
			bytes += guard_log_size(l->ring[k]);
			free(l->ring[k]);
		}
	*n = 0;
	return bytes;
}

unsigned
guard_elog_count(const union guard_elog *l, uint8_t n, unsigned kind,
    uint32_t since, unsigned limit, unsigned mask)
{
	unsigned c = 0;

	if (n == GUARD_ELOG_RINGS)
		return guard_log_count(l->ring[kind], since, limit, mask);
	for (unsigned i = n; i-- > 0 && c < limit;) {
		uint32_t s = l->t[i];

		if (ikind(s) != kind)
			continue;
		if (itime(s) < since)
			break;
		if (mask & (1u << iproto(s)))
			c++;
	}
	return c;
}

int
guard_elog_reached(const union guard_elog *l, uint8_t n, unsigned kind,
    unsigned count, uint32_t since, unsigned mask, unsigned all_mask)
{
	unsigned c = 0;

	if (n == GUARD_ELOG_RINGS)
		return guard_log_reached(l->ring[kind], count, since, mask,
		    all_mask);
	if (count == 0 || count > n)
		return 0;
	if ((mask & all_mask) != all_mask)
		return guard_elog_count(l, n, kind, since, count, mask) >=
		    count;
	/* Every stamp of the kind counts: the count-th newest decides. */
	for (unsigned i = n; i-- > 0;)
		if (ikind(l->t[i]) == kind && ++c == count)
			return itime(l->t[i]) >= since;
	return 0;
}

void
guard_elog_shift(union guard_elog *l, uint8_t n, uint32_t shift)
{
	if (n == GUARD_ELOG_RINGS) {
		for (unsigned k = 0; k < GUARD_ELOG_KINDS; k++)
			guard_log_shift(l->ring[k], shift);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t t = itime(l->t[i]);

		l->t[i] = (t > shift ? t - shift : 0) | (l->t[i] & ~TIME_MASK);
	}
}
