/* Event logs of the guard (internal).
 *
 * struct guard_log: for one key and one kind of event, the times of the
 * newest events, each tagged with its protocol. A ring that grows on
 * demand up to a cap, so that a key seen once costs a few bytes and one
 * under attack at most cap stamps.
 *
 * union guard_elog: all the event kinds of one tracked address in 40
 * bytes, so that they share the address's cache line. Up to
 * GUARD_ELOG_INLINE stamps of any kind are held inline; an address that
 * needs more switches to one struct guard_log per kind. */
#ifndef MW_GUARD_GUARD_LOG_H
#define MW_GUARD_GUARD_LOG_H

#include <stddef.h>
#include <stdint.h>

/* A ring stamp: protocol in the top 2 bits, milliseconds since the
 * guard's epoch in the low 30. The guard rebases before its times reach
 * GUARD_TIME_BITS bits. */
#define GUARD_STAMP_BITS 30
#define GUARD_STAMP_MASK ((1u << GUARD_STAMP_BITS) - 1)
#define GUARD_TIME_BITS 28	/* what every stamp holds: 74 hours */

struct guard_log {
	uint16_t cap, len, head;	/* head: index of the oldest */
	uint32_t t[];
};

/* Appends an event at time t (ms since epoch) for protocol proto; the
 * ring grows up to max stamps, then the oldest is overwritten. Returns
 * the bytes the log grew by. */
size_t guard_log_add(struct guard_log **lp, uint32_t t, unsigned proto,
    uint16_t max);
/* Starts fetching l: its header and the lines its newest stamps and
 * those a count checks (up to 64 back) are in. */
void guard_log_prefetch(const struct guard_log *l);
/* Bytes held by l (0 for NULL). */
size_t guard_log_size(const struct guard_log *l);
/* 1 if at least count events of the protocols in mask happened at or
 * after since. all_mask is every protocol that can be in the log: when
 * mask covers it, the answer is O(1). */
int guard_log_reached(const struct guard_log *l, unsigned count,
    uint32_t since, unsigned mask, unsigned all_mask);
/* Events of mask at or after since, counting at most limit. */
unsigned guard_log_count(const struct guard_log *l, uint32_t since,
    unsigned limit, unsigned mask);
/* Moves every stamp back by shift ms (older ones become 0). */
void guard_log_shift(struct guard_log *l, uint32_t shift);

/* The logs of one address. Its stamp count lives beside it (the caller's
 * uint8_t n): 0..GUARD_ELOG_INLINE inline stamps, or GUARD_ELOG_RINGS.
 * Inline stamps are kept oldest first: kind in the top 2 bits, protocol
 * in the next 2, time in the low GUARD_TIME_BITS. */
#define GUARD_ELOG_KINDS 4
#define GUARD_ELOG_INLINE 10
#define GUARD_ELOG_RINGS 0xff

union guard_elog {
	uint32_t t[GUARD_ELOG_INLINE];
	struct guard_log *ring[GUARD_ELOG_KINDS];
};

/* What the rules need, per kind: cap, the newest stamps that matter (0:
 * the kind is not counted), and keep, how old a stamp may be and still
 * matter (the longest window, plus slack for calls that come a little
 * out of time order). Older stamps are dropped when room is needed. */
struct guard_elog_policy {
	uint16_t cap[GUARD_ELOG_KINDS];
	uint32_t keep[GUARD_ELOG_KINDS];
};

/* Appends an event of kind at time t; returns the bytes of rings it
 * allocated (switching to rings, or growing one). */
size_t guard_elog_add(union guard_elog *l, uint8_t *n, unsigned kind,
    uint32_t t, unsigned proto, const struct guard_elog_policy *p);
/* Empties the logs; returns the bytes freed. */
size_t guard_elog_clear(union guard_elog *l, uint8_t *n);
/* As guard_log_reached() and guard_log_count(), for one kind. */
int guard_elog_reached(const union guard_elog *l, uint8_t n, unsigned kind,
    unsigned count, uint32_t since, unsigned mask, unsigned all_mask);
unsigned guard_elog_count(const union guard_elog *l, uint8_t n,
    unsigned kind, uint32_t since, unsigned limit, unsigned mask);
/* As guard_log_shift(). */
void guard_elog_shift(union guard_elog *l, uint8_t n, uint32_t shift);

#endif
