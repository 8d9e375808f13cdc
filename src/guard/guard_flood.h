/* Flood drops: a blocked or denied range that keeps connecting is no
 * longer refused with a reply but dropped in the kernel, by a socket
 * filter on the listeners (core/sockfilter.h), until it is no longer
 * refused. Its SYNs go unanswered: no accept, no socket, no reply, no
 * CPU on the event loop. Runs on the event loop. */
#ifndef MW_GUARD_GUARD_FLOOD_H
#define MW_GUARD_GUARD_FLOOD_H

#include <stddef.h>
#include <stdint.h>

#include "guard/guard.h"

/* range has refused `refused` connections (a multiple of
 * guard.flood-drop): dropped from now on, if g still refuses all of it
 * and there is room (SOCKFILTER_MAX_RANGES). */
void guard_flood_add(struct guard *g, const struct cidr *range,
    unsigned refused, uint64_t now);
/* Ends the drops of ranges g no longer refuses (expired, lifted, allowed
 * since); cheap when there are none. */
void guard_flood_check(struct guard *g, uint64_t now);
/* Ranges dropped now; ranges dropped since the start. */
size_t guard_flood_count(void);
uint64_t guard_flood_total(void);
/* Ends every drop and removes the filter (guard.flood-drop 0, stop);
 * after a kernel refusal, drops are tried again from now on. */
void guard_flood_clear(void);

#endif
