/* Event logs of the guard (internal): for one address and one kind of
 * event, the times of the newest events, each tagged with its protocol.
 * A ring that grows on demand up to a cap, so that an address seen once
 * costs a few bytes and one under attack at most cap stamps. */
#ifndef MW_GUARD_GUARD_LOG_H
#define MW_GUARD_GUARD_LOG_H

#include <stddef.h>
#include <stdint.h>

/* A stamp: protocol in the top 2 bits, milliseconds since the guard's
 * epoch in the low 30 (12 days; the guard rebases well before). */
#define GUARD_STAMP_BITS 30
#define GUARD_STAMP_MASK ((1u << GUARD_STAMP_BITS) - 1)

struct guard_log {
	uint16_t cap, len, head;	/* head: index of the oldest */
	uint32_t t[];
};

/* Appends an event at time t (ms since epoch) for protocol proto; the
 * ring grows up to max stamps, then the oldest is overwritten. Returns
 * the bytes the log grew by. */
size_t guard_log_add(struct guard_log **lp, uint32_t t, unsigned proto,
    uint16_t max);
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

#endif
