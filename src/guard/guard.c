/* The guard's core: per-address event logs, exact sliding windows,
 * blocks, black and white lists, and a bounded tracking table.
 * SECURITY: every input is a client address or an event about it; memory
 * is bounded by max_tracked, and hashing is keyed with a random seed. */
#include "guard/guard.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "guard/cidrmap.h"
#include "guard/guard_log.h"
#include "guard/guard_table.h"
#include "guard/rangeset.h"

#define NLOGS GUARD_EV_AUTH_VOLUME	/* per-address event kinds */
_Static_assert(NLOGS == GUARD_ELOG_KINDS, "one log per address event");
/* Stamps hold GUARD_TIME_BITS bits of ms: rebase before, keeping at
 * least the longest window (GUARD_WINDOW_MAX) of history. */
#define REBASE_AT ((1ULL << GUARD_TIME_BITS) - 60000ULL)
#define REBASE_KEEP (GUARD_WINDOW_MAX + 60000ULL)
/* How far out of time order calls may come and still see old stamps. */
#define KEEP_SLACK 60000u

struct user_entry {
	uint64_t hash;
	char *name;
	struct guard_log *log;
	uint64_t quiet_until[GUARD_MAX_RULES];	/* fired: silent until */
	int held;
	uint64_t held_until;
	struct user_entry *next;
};

#define USER_MIN_BUCKETS 1024	/* then one per user */


struct guard {
	struct guard_hooks hooks;
	struct guard_rule rules[GUARD_MAX_RULES];
	size_t nrules;
	uint8_t ev_rules[GUARD_EV_COUNT][GUARD_MAX_RULES];	/* by event */
	uint8_t ev_nrules[GUARD_EV_COUNT];
	uint16_t log_cap[GUARD_EV_COUNT];	/* largest count per kind */
	unsigned counted[GUARD_EV_COUNT];	/* protocols counted per kind */
	struct guard_elog_policy policy;
	unsigned ipv6_prefix;
	unsigned flood_after;		/* refusals; 0: no flooding hook */
	uint64_t epoch;

	struct guard_table t;		/* tracked addresses */

	uint64_t seed;			/* user table */
	struct user_entry **users;
	size_t nusers, nubuckets;	/* nubuckets: a power of two */

	struct rangeset blocks;		/* range -> struct guard_block */
	struct rangeset allow, deny;	/* range -> struct guard_list_entry */
	struct guard_stats stats;
};

static const char *const proto_names[GUARD_PROTO_COUNT] = {
	"smtp", "pop3", "imap", "http",
};

const char *
guard_proto_name(enum guard_proto p)
{
	return p < GUARD_PROTO_COUNT ? proto_names[p] : "?";
}

/* Rules. */

static int
rule_applies(const struct guard_rule *r, enum guard_event ev,
    enum guard_proto proto)
{
	return r->count > 0 && r->event == ev && (r->protocols & (1u << proto));
}

/* Does the rule block (rather than only alert or hold)? */
static int
rule_blocks(const struct guard_rule *r)
{
	return (r->kind == GUARD_BLOCK_LOGINS ||
	    r->kind == GUARD_BLOCK_CONNECTIONS) && r->block_ms > 0;
}

/* Time. */

static void maybe_rebase(struct guard *g, uint64_t now);

/* Milliseconds since the guard's epoch (set at the first event). */
static uint32_t
rel(struct guard *g, uint64_t now)
{
	if (g->epoch == 0)
		g->epoch = now > REBASE_KEEP ? now - REBASE_KEEP : 1;
	if (now < g->epoch)
		return 0;	/* the clock went back: the oldest time */
	if (now - g->epoch >= REBASE_AT)
		maybe_rebase(g, now);
	return (uint32_t)(now - g->epoch);
}

static uint32_t
window_start(struct guard *g, uint64_t now, uint64_t window_ms)
{
	uint64_t r = rel(g, now);

	/* An event exactly window_ms old is outside the window. */
	return r >= window_ms ? (uint32_t)(r - window_ms + 1) : 0;
}

/* Tells the evicted hook of the evictions since the count was before. */
static void
report_evictions(struct guard *g, uint64_t before)
{
	if (g->t.evictions != before && g->hooks.evicted != NULL)
		g->hooks.evicted(g->hooks.ctx, (size_t)(g->t.evictions -
		    before));
}

/* Moves the epoch forward before the stamps' offsets run out. Events
 * older than every window no longer matter and become 0. */
static void
maybe_rebase(struct guard *g, uint64_t now)
{
	uint64_t shift64;
	uint32_t shift;

	if (g->epoch == 0 || now < g->epoch || now - g->epoch < REBASE_AT)
		return;
	/* After a long quiet spell the shift exceeds any stamp: all 0. */
	shift64 = now - g->epoch - REBASE_KEEP;
	shift = shift64 > UINT32_MAX ? UINT32_MAX : (uint32_t)shift64;
	guard_table_shift(&g->t, shift);
	for (size_t b = 0; b < g->nubuckets; b++)
		for (struct user_entry *u = g->users[b]; u; u = u->next)
			guard_log_shift(u->log, shift);
	g->epoch += shift64;
}

static void free_value(const struct cidr *key, void *value, void *arg);

/* Setup. */

struct guard *
guard_new(size_t max_tracked, const struct guard_hooks *hooks)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	if (hooks != NULL)
		g->hooks = *hooks;
	g->ipv6_prefix = 64;
	g->seed = random_u64();
	rangeset_init(&g->blocks);
	rangeset_init(&g->allow);
	rangeset_init(&g->deny);
	guard_table_init(&g->t, max_tracked);
	return g;
}

static void
free_value(const struct cidr *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
}

static void
free_users(struct guard *g)
{
	for (size_t b = 0; b < g->nubuckets; b++) {
		struct user_entry *u, *next;

		for (u = g->users[b]; u != NULL; u = next) {
			next = u->next;
			free(u->name);
			free(u->log);
			free(u);
		}
		g->users[b] = NULL;
	}
	g->nusers = 0;
	free(g->users);
	g->users = NULL;
	g->nubuckets = 0;
}

void
guard_free(struct guard **gp)
{
	struct guard *g = *gp;

	if (g == NULL)
		return;
	guard_table_free(&g->t);
	free_users(g);
	rangeset_free(&g->blocks, free_value, NULL);
	rangeset_free(&g->allow, free_value, NULL);
	rangeset_free(&g->deny, free_value, NULL);
	free(g);
	*gp = NULL;
}

void
guard_set_rules(struct guard *g, const struct guard_rule *rules, size_t n)
{
	if (n > GUARD_MAX_RULES)
		n = GUARD_MAX_RULES;
	if (n > 0)
		memcpy(g->rules, rules, n * sizeof(*rules));
	g->nrules = n;
	memset(g->log_cap, 0, sizeof(g->log_cap));
	memset(g->counted, 0, sizeof(g->counted));
	memset(g->ev_nrules, 0, sizeof(g->ev_nrules));
	for (size_t i = 0; i < n; i++) {
		struct guard_rule *r = &g->rules[i];
		unsigned need;

		if (r->count > GUARD_LOG_MAX)
			r->count = GUARD_LOG_MAX;
		if (r->window_ms > GUARD_WINDOW_MAX)
			r->window_ms = GUARD_WINDOW_MAX;
		if (r->count == 0)
			continue;
		/* Rules that fire without blocking fire when their count is
		 * first reached: one stamp more tells "first". auth-volume
		 * counts "more than count". */
		need = r->count + (!rule_blocks(r)) +
		    (r->event == GUARD_EV_AUTH_VOLUME);
		if (need > GUARD_LOG_MAX + 2)
			need = GUARD_LOG_MAX + 2;
		if (need > g->log_cap[r->event])
			g->log_cap[r->event] = (uint16_t)need;
		g->counted[r->event] |= r->protocols;
		if (r->event < GUARD_EV_COUNT)
			g->ev_rules[r->event][g->ev_nrules[r->event]++] =
			    (uint8_t)i;
	}
	for (int k = 0; k < NLOGS; k++) {
		g->policy.cap[k] = g->log_cap[k];
		g->policy.keep[k] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct guard_rule *r = &g->rules[i];

		if (r->count > 0 && r->event < NLOGS &&
		    r->window_ms + KEEP_SLACK > g->policy.keep[r->event])
			g->policy.keep[r->event] = (uint32_t)r->window_ms +
			    KEEP_SLACK;
	}
}

void
guard_set_max_tracked(struct guard *g, size_t max_tracked)
{
	uint64_t before = g->t.evictions;

	guard_table_set_max(&g->t, max_tracked);
	report_evictions(g, before);
}

void
guard_set_ipv6_prefix(struct guard *g, unsigned prefix)
{
	g->ipv6_prefix = prefix >= 32 && prefix <= 128 ? prefix : 64;
}

void
guard_set_flood(struct guard *g, unsigned refusals)
{
	g->flood_after = refusals;
}

struct cidr
guard_key(const struct guard *g, const struct ipaddr *ip)
{
	struct cidr c;
	uint64_t hi, lo;

	c.prefix = rangeset_is_v4(ip) ? 128 : g->ipv6_prefix;
	rangeset_masked(ip, c.prefix, &hi, &lo);
	memcpy(c.addr.a, &hi, 8);
	memcpy(c.addr.a + 8, &lo, 8);
	return c;
}

/* Lists. */

static int
list_live(void *value, void *arg)
{
	const struct guard_list_entry *e = value;
	uint64_t now = *(const uint64_t *)arg;

	return e->expires_ms == 0 || e->expires_ms > now;
}

void
guard_list_set(struct guard *g, const struct guard_list_entry *e)
{
	struct guard_list_entry *copy = xmalloc(sizeof(*copy));

	*copy = *e;
	free(rangeset_put(e->list == GUARD_ALLOW ? &g->allow : &g->deny,
	    &e->range, copy));
}

int
guard_list_del(struct guard *g, const struct cidr *range,
    enum guard_list list)
{
	void *v = rangeset_del(list == GUARD_ALLOW ? &g->allow : &g->deny, range);

	free(v);
	return v != NULL;
}

void
guard_list_clear(struct guard *g)
{
	cidrmap_foreach(&g->allow.map, free_value, NULL);
	cidrmap_foreach(&g->deny.map, free_value, NULL);
	rangeset_release(&g->allow);
	rangeset_release(&g->deny);
}

static struct guard_list_entry *
list_lookup(const struct guard *g, const struct ipaddr *ip, uint64_t now)
{
	struct guard_list_entry *a, *d;

	a = rangeset_lookup(&g->allow, ip, list_live, &now);
	d = rangeset_lookup(&g->deny, ip, list_live, &now);
	if (a == NULL)
		return d;
	if (d == NULL)
		return a;
	return a->range.prefix > d->range.prefix ? a : d;
}

const struct guard_list_entry *
guard_list_match(const struct guard *g, const struct ipaddr *ip,
    uint64_t now)
{
	return list_lookup(g, ip, now);
}

/* Blocks. */

/* A block's tag in the block map (cidrmap.h): its kind and its end in
 * whole seconds since TAG_BASE_S, rounded down (TAG_FOREVER: none), so
 * that a check reads no block while it is surely in force. */
#define TAG_CONNECTIONS 1u
#define TAG_BASE_S 1577836800ULL	/* 2020-01-01 */
#define TAG_FOREVER 0x7fffffffu

static uint32_t
block_tag(const struct guard_block *b)
{
	uint64_t s = b->until_ms / 1000;
	uint32_t until;

	if (b->until_ms == 0)
		until = TAG_FOREVER;
	else if (s <= TAG_BASE_S)
		until = 0;		/* never "surely in force" */
	else if (s - TAG_BASE_S >= TAG_FOREVER)
		until = TAG_FOREVER - 1;
	else
		until = (uint32_t)(s - TAG_BASE_S);
	return until << 1 | (b->kind == GUARD_BLOCK_CONNECTIONS ?
	    TAG_CONNECTIONS : 0);
}

/* 1 if the block of this tag is in force at now for sure; 0: read it. */
static int
tag_live(uint32_t tag, uint64_t now)
{
	uint32_t until = tag >> 1;
	uint64_t s = now / 1000;

	if (until == TAG_FOREVER)
		return 1;
	return s >= TAG_BASE_S && s - TAG_BASE_S < until;
}

void
guard_block_add(struct guard *g, const struct guard_block *b)
{
	struct guard_block *copy = xmalloc(sizeof(*copy));

	*copy = *b;
	free(rangeset_put(&g->blocks, &b->range, copy));
	rangeset_set_tag(&g->blocks, &b->range, block_tag(b));
}

/* A block on range ended: the address it covered starts afresh. */
static void
block_ended(struct guard *g, const struct cidr *range)
{
	struct guard_entry *e = guard_table_find(&g->t, &range->addr);

	if (e != NULL && guard_key(g, &range->addr).prefix == range->prefix)
		guard_table_clear_logs(&g->t, e);
}

int
guard_unblock(struct guard *g, const struct cidr *range, uint64_t now)
{
	struct guard_block *b = rangeset_del(&g->blocks, range);

	if (b == NULL)
		return 0;
	(void)now;
	block_ended(g, range);
	if (g->hooks.lifted != NULL)
		g->hooks.lifted(g->hooks.ctx, b, 0);
	free(b);
	return 1;
}

void
guard_block_clear(struct guard *g)
{
	cidrmap_foreach(&g->blocks.map, free_value, NULL);
	rangeset_release(&g->blocks);
}

struct block_query {
	uint64_t now;
	struct guard_block *logins;	/* a logins block seen */
};

/* Accepts the longest live connections block, noting the longest live
 * logins block on the way: one pass finds the strongest block. */
static int
block_pick(void *value, void *arg)
{
	struct guard_block *b = value;
	struct block_query *q = arg;

	if (b->until_ms != 0 && b->until_ms <= q->now)
		return 0;
	if (b->kind == GUARD_BLOCK_CONNECTIONS)
		return 1;
	if (q->logins == NULL)
		q->logins = b;
	return 0;
}

const struct guard_block *
guard_block_find(struct guard *g, const struct ipaddr *ip, uint64_t now)
{
	struct block_query q = { now, NULL };
	const struct guard_block *b;

	b = rangeset_lookup(&g->blocks, ip, block_pick, &q);
	return b != NULL ? b : q.logins;
}

static int
overlaps(const struct cidr *a, const struct cidr *b)
{
	return a->prefix <= b->prefix ? cidr_match(a, &b->addr) :
	    cidr_match(b, &a->addr);
}

struct overlap_query {
	const struct cidr *range;
	uint64_t now;
	int found;
};

static void
allow_overlap(const struct cidr *key, void *value, void *arg)
{
	struct overlap_query *q = arg;

	if (list_live(value, &q->now) && overlaps(key, q->range))
		q->found = 1;
}

int
guard_refuses_range(struct guard *g, const struct cidr *range, uint64_t now)
{
	const struct guard_block *b = rangeset_get(&g->blocks, range);
	const struct guard_list_entry *d = rangeset_get(&g->deny, range);
	struct overlap_query q = { range, now, 0 };

	if (!(b != NULL && b->kind == GUARD_BLOCK_CONNECTIONS &&
	    b->range.prefix == range->prefix &&
	    (b->until_ms == 0 || b->until_ms > now)) &&
	    !(d != NULL && d->range.prefix == range->prefix &&
	    list_live((void *)(uintptr_t)d, &now)))
		return 0;
	cidrmap_foreach(&g->allow.map, allow_overlap, &q);
	return !q.found;
}

struct foreach_arg {
	struct guard *g;
	uint64_t now;
	void (*fn)(const struct guard_block *b, void *arg);
	void *arg;
};

static void
foreach_live(const struct cidr *key, void *value, void *arg)
{
	struct foreach_arg *fa = arg;
	const struct guard_block *b = value;

	(void)key;
	if (b->until_ms == 0 || b->until_ms > fa->now)
		fa->fn(b, fa->arg);
}

void
guard_block_foreach(struct guard *g, uint64_t now,
    void (*fn)(const struct guard_block *b, void *arg), void *arg)
{
	struct foreach_arg fa = { g, now, fn, arg };

	cidrmap_foreach(&g->blocks.map, foreach_live, &fa);
}

static void
expire_one(const struct cidr *key, void *value, void *arg)
{
	struct foreach_arg *fa = arg;
	struct guard_block *b = value;

	if (b->until_ms == 0 || b->until_ms > fa->now)
		return;
	rangeset_del(&fa->g->blocks, key);
	block_ended(fa->g, key);
	if (fa->g->hooks.lifted != NULL)
		fa->g->hooks.lifted(fa->g->hooks.ctx, b, 1);
	free(b);
}

static void
expire_list(const struct cidr *key, void *value, void *arg)
{
	struct foreach_arg *fa = arg;
	struct guard_list_entry *e = value;

	if (e->expires_ms == 0 || e->expires_ms > fa->now)
		return;
	rangeset_del(e->list == GUARD_ALLOW ? &fa->g->allow : &fa->g->deny, key);
	free(e);
}

/* What own_block() and strongest_block() found for an address. */
struct block_state {
	struct guard_block *strongest;	/* in force for ip */
	struct guard_block *own;	/* of exactly the counting key */
	enum guard_kind own_kind;	/* of own, if any (in force) */
	uint32_t own_tag;
};

/* As block_pick(), from b's tag while it is surely in force. */
static int
pick(struct guard_block *b, uint32_t tag, struct block_query *q)
{
	if (!tag_live(tag, q->now))
		return block_pick(b, q);
	if (tag & TAG_CONNECTIONS)
		return 1;
	if (q->logins == NULL)
		q->logins = b;
	return 0;
}

/* Finds the block of exactly the counting key, ending it if its time is
 * up, so that a block is over at until_ms sharp, not at the next
 * guard_expire(). st->own: the block in force, or NULL. All that
 * counting an event needs; st->strongest is left NULL. */
static void
own_block(struct guard *g, const struct cidr *key, uint64_t now,
    struct block_state *st)
{
	st->strongest = NULL;
	st->own = NULL;
	if (g->blocks.map.count == 0)
		return;
	st->own = rangeset_get_tag(&g->blocks, key, &st->own_tag);
	if (st->own != NULL && tag_live(st->own_tag, now)) {
		st->own_kind = st->own_tag & TAG_CONNECTIONS ?
		    GUARD_BLOCK_CONNECTIONS : GUARD_BLOCK_LOGINS;
	} else if (st->own != NULL && st->own->until_ms != 0 &&
	    st->own->until_ms <= now) {
		struct foreach_arg fa = { g, now, NULL, NULL };

		expire_one(key, st->own, &fa);
		st->own = NULL;
	} else if (st->own != NULL) {
		st->own_kind = st->own->kind;
	}
}

/* After own_block(): st->strongest, the block in force for ip, as
 * guard_block_find() finds it, reusing the key's own. */
static void
strongest_block(struct guard *g, const struct ipaddr *ip,
    const struct cidr *key, uint64_t now, struct block_state *st)
{
	const struct cidrmap *m = &g->blocks.map;
	struct block_query q = { now, NULL };
	int v4 = rangeset_is_v4(ip);

	for (unsigned i = 0; i < m->nlengths; i++) {
		unsigned p = m->lengths[i];
		struct guard_block *b;
		uint32_t tag;
		struct cidr c;

		if (v4 && p < 96)
			break;
		if (p == key->prefix) {
			b = st->own;
			tag = st->own_tag;
		} else {
			c.addr = *ip;
			c.prefix = p;
			b = rangeset_get_tag(&g->blocks, &c, &tag);
		}
		if (b != NULL && pick(b, tag, &q)) {
			st->strongest = b;
			return;
		}
	}
	st->strongest = q.logins;
}

void
guard_expire(struct guard *g, uint64_t now)
{
	struct foreach_arg fa = { g, now, NULL, NULL };

	cidrmap_foreach(&g->blocks.map, expire_one, &fa);
	cidrmap_foreach(&g->allow.map, expire_list, &fa);
	cidrmap_foreach(&g->deny.map, expire_list, &fa);
	maybe_rebase(g, now);
}

/* Firing. */

/* Blocks key for rule r, unless a block at least as strong is in force.
 * st->own, key's block in force (NULL: none), is kept up to date. */
static void
fire_block(struct guard *g, const struct guard_rule *r,
    const struct cidr *key, enum guard_proto proto, uint64_t now,
    struct block_state *st)
{
	struct guard_block b;

	if (st->own != NULL && (st->own_kind == GUARD_BLOCK_CONNECTIONS ||
	    st->own_kind == r->kind))
		return;
	memset(&b, 0, sizeof(b));
	b.range = *key;
	b.kind = r->kind;
	b.created_ms = now;
	b.until_ms = now + r->block_ms;
	b.attempts = r->count;
	b.proto = proto;
	str_copy(b.rule, sizeof(b.rule), r->name);
	guard_block_add(g, &b);
	g->stats.blocks++;
	if (g->hooks.fired != NULL)
		g->hooks.fired(g->hooks.ctx, r, &b, NULL);
	st->own = rangeset_get(&g->blocks, key);
	st->own_kind = b.kind;
}

/* Stores a new address's entry; evictions are reported. With every
 * entry holding logins in flight (no room), its events are forgotten. */
static void
store_fresh(struct guard *g, struct guard_entry *fresh,
    const struct guard_probe *pr)
{
	uint64_t before = g->t.evictions;

	if (guard_table_add(&g->t, fresh, pr) < 0)
		g->t.log_bytes -= guard_elog_clear(&fresh->log, &fresh->nlog);
	report_evictions(g, before);
}

/* Counts an event for key and fires every rule whose count it reaches.
 * The caller has run own_block(): st->own is key's live block. */
static void
count_event(struct guard *g, const struct cidr *key, enum guard_event ev,
    enum guard_proto proto, uint64_t now, struct guard_entry *e,
    struct block_state *st, const struct guard_probe *pr)
{
	struct guard_entry fresh;
	uint32_t t;

	g->stats.events++;
	if (!(g->counted[ev] & (1u << proto)))
		return;
	t = rel(g, now);
	if (e == NULL)
		e = guard_table_lookup(&g->t, &key->addr, t, pr);
	if (e == NULL) {
		/* A new address: its entry is made and judged here, then
		 * stored, so that no rule waits for the table's line. */
		memset(&fresh, 0, sizeof(fresh));
		memcpy(fresh.key, key->addr.a, 16);
		fresh.last = t;
		e = &fresh;
	}
	g->t.log_bytes += guard_elog_add(&e->log, &e->nlog, ev, t, proto,
	    &g->policy);
	for (unsigned i = 0; i < g->ev_nrules[ev]; i++) {
		const struct guard_rule *r = &g->rules[g->ev_rules[ev][i]];
		uint32_t since;

		if (!rule_applies(r, ev, proto))
			continue;
		/* An event exactly window_ms old is outside the window. */
		since = t >= r->window_ms ? t - (uint32_t)r->window_ms + 1 : 0;
		if (!guard_elog_reached(&e->log, e->nlog, ev, r->count, since,
		    r->protocols, g->counted[ev]))
			continue;
		if (rule_blocks(r)) {
			fire_block(g, r, key, proto, now, st);
		} else if (!guard_elog_reached(&e->log, e->nlog, ev,
		    r->count + 1, since, r->protocols, g->counted[ev]) &&
		    g->hooks.fired != NULL) {
			/* Alert only: once, as the count is first reached. */
			g->hooks.fired(g->hooks.ctx, r, NULL, NULL);
		}
	}
	if (e == &fresh)
		store_fresh(g, &fresh, pr);
}

/* Events. */

/* The first thing an event does: if it is counted, start fetching the
 * entry of its counting key; returns p, or NULL. */
static struct guard_probe *
start_probe(const struct guard *g, const struct cidr *key, enum guard_event ev,
    enum guard_proto proto, struct guard_probe *p)
{
	if (!(g->counted[ev] & (1u << proto)))
		return NULL;
	guard_table_probe(&g->t, key->addr.a, p);
	return p;
}

/* The list entry deciding ip, or NULL; quick when the lists are empty. */
static struct guard_list_entry *
list_match(const struct guard *g, const struct ipaddr *ip, uint64_t now)
{
	if (g->allow.map.count == 0 && g->deny.map.count == 0)
		return NULL;
	return list_lookup(g, ip, now);
}

/* One more connection refused by what covers range: at every multiple
 * of the flood threshold the caller hears of it (again, in case the
 * threshold was off or the caller could not act before). */
static void
count_refusal(struct guard *g, unsigned *refused, const struct cidr *range)
{
	if (*refused < UINT_MAX)
		(*refused)++;
	if (g->flood_after != 0 && *refused % g->flood_after == 0 &&
	    g->hooks.flooding != NULL)
		g->hooks.flooding(g->hooks.ctx, range, *refused);
}

void
guard_connect_prefetch(const struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto)
{
	struct cidr key = guard_key(g, ip);
	struct guard_probe pr;

	(void)start_probe(g, &key, GUARD_EV_CONNECT, proto, &pr);
}

enum guard_verdict
guard_connect(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now)
{
	struct guard_list_entry *l;
	struct block_state st;
	struct cidr key = guard_key(g, ip);
	struct guard_probe pr, *prp = start_probe(g, &key, GUARD_EV_CONNECT, proto,
	    &pr);

	l = list_match(g, ip, now);
	if (l != NULL && l->list == GUARD_DENY) {
		g->stats.refused_denied++;
		if (g->hooks.denied != NULL)
			g->hooks.denied(g->hooks.ctx, ip, l, proto);
		count_refusal(g, &l->refused, &l->range);
		return GUARD_REFUSE_DENIED;
	}
	if (l != NULL)
		return GUARD_ACCEPT;
	own_block(g, &key, now, &st);
	strongest_block(g, ip, &key, now, &st);
	if (st.strongest != NULL &&
	    st.strongest->kind == GUARD_BLOCK_CONNECTIONS) {
		g->stats.refused_blocked++;
		count_refusal(g, &st.strongest->refused,
		    &st.strongest->range);
		return GUARD_REFUSE_BLOCKED;
	}
	count_event(g, &key, GUARD_EV_CONNECT, proto, now, NULL, &st, prp);
	return GUARD_ACCEPT;
}

void
guard_login_begin(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now, struct guard_login *t)
{
	const struct guard_list_entry *l;

	memset(t, 0, sizeof(*t));
	t->key = guard_key(g, ip);
	t->ip = *ip;
	t->proto = proto;
	l = list_match(g, ip, now);
	if (l != NULL && l->list == GUARD_ALLOW) {
		t->listed_allow = 1;
		return;
	}
	/* Counted in flight at once, in a small table apart from the
	 * entries. The end needs the key's block, entry and failure ring:
	 * they are fetched while the password is checked (much slower than
	 * this), the entry and ring in steps by the begins that follow. */
	guard_table_flight_begin(&g->t, t->key.addr.a, GUARD_EV_AUTH_FAIL);
	rangeset_prefetch(&g->blocks, &t->key);
}

enum guard_login_result
guard_login_end(struct guard *g, const struct guard_login *t,
    int password_ok, const char *user, uint64_t now)
{
	struct guard_entry *e;
	struct block_state st;
	unsigned pending;
	int doomed = 0;

	(void)user;
	if (t->listed_allow)
		return password_ok ? GUARD_LOGIN_OK : GUARD_LOGIN_FAILED;
	pending = guard_table_flight_end(&g->t, t->key.addr.a);
	e = guard_table_find(&g->t, &t->key.addr);
	/* A failure is added to the ring: fetch it while the block is
	 * checked. */
	if (!password_ok && e != NULL && e->nlog == GUARD_ELOG_RINGS &&
	    e->log.ring[GUARD_EV_AUTH_FAIL] != NULL)
		guard_log_prefetch(e->log.ring[GUARD_EV_AUTH_FAIL]);
	/* A block of the key itself fails the login: wider ranges are
	 * looked at only without one. */
	own_block(g, &t->key, now, &st);
	if (st.own == NULL)
		strongest_block(g, &t->ip, &t->key, now, &st);
	if (st.own != NULL || st.strongest != NULL) {
		doomed = 1;
	} else if (password_ok) {
		/* Failures made plus attempts still in flight (counted as
		 * failures until they say otherwise) must stay below every
		 * blocking login rule's count for this attempt to be one
		 * allowed. */
		for (unsigned i = 0; i < g->ev_nrules[GUARD_EV_AUTH_FAIL] &&
		    !doomed; i++) {
			const struct guard_rule *r =
			    &g->rules[g->ev_rules[GUARD_EV_AUTH_FAIL][i]];

			if (rule_applies(r, GUARD_EV_AUTH_FAIL, t->proto) &&
			    rule_blocks(r) && (e != NULL ?
			    guard_elog_count(&e->log, e->nlog,
			    GUARD_EV_AUTH_FAIL, window_start(g, now,
			    r->window_ms), r->count, r->protocols) : 0) +
			    pending >= r->count)
				doomed = 1;
		}
	}
	if (!password_ok)
		count_event(g, &t->key, GUARD_EV_AUTH_FAIL, t->proto, now, e,
		    &st, NULL);
	if (doomed) {
		g->stats.logins_pretended++;
		return GUARD_LOGIN_BLOCKED;
	}
	return password_ok ? GUARD_LOGIN_OK : GUARD_LOGIN_FAILED;
}

static int
listed_allow(const struct guard *g, const struct ipaddr *ip, uint64_t now)
{
	const struct guard_list_entry *l = list_match(g, ip, now);

	return l != NULL && l->list == GUARD_ALLOW;
}

void
guard_session_end(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, int accepted_message, uint64_t now)
{
	struct block_state st;
	struct guard_probe pr, *prp;
	struct cidr key;

	if (accepted_message)
		return;
	key = guard_key(g, ip);
	prp = start_probe(g, &key, GUARD_EV_BAD_SESSION, proto, &pr);
	if (listed_allow(g, ip, now))
		return;
	own_block(g, &key, now, &st);
	count_event(g, &key, GUARD_EV_BAD_SESSION, proto, now, NULL, &st,
	    prp);
}

void
guard_unknown_rcpt(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now)
{
	struct block_state st;
	struct cidr key = guard_key(g, ip);
	struct guard_probe pr, *prp = start_probe(g, &key, GUARD_EV_UNKNOWN_RCPT,
	    proto, &pr);

	if (listed_allow(g, ip, now))
		return;
	own_block(g, &key, now, &st);
	count_event(g, &key, GUARD_EV_UNKNOWN_RCPT, proto, now, NULL, &st,
	    prp);
}

/* Doubles the buckets of users (or makes the first ones): chains stay
 * short, whatever the number of users. */
static void
users_grow(struct guard *g)
{
	size_t n = g->nubuckets ? g->nubuckets * 2 : USER_MIN_BUCKETS;
	struct user_entry **nb = xcalloc(n, sizeof(*nb));

	for (size_t b = 0; b < g->nubuckets; b++) {
		struct user_entry *u, *next;

		for (u = g->users[b]; u != NULL; u = next) {
			next = u->next;
			u->next = nb[u->hash & (n - 1)];
			nb[u->hash & (n - 1)] = u;
		}
	}
	free(g->users);
	g->users = nb;
	g->nubuckets = n;
}

static struct user_entry *
user_get(struct guard *g, const char *user)
{
	uint64_t h = g->seed;
	struct user_entry *u;
	size_t b;

	for (const char *p = user; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	h = hash_mix64(h);
	if (g->nubuckets == 0 || g->nusers >= g->nubuckets)
		users_grow(g);
	b = (size_t)(h & (g->nubuckets - 1));
	for (u = g->users[b]; u != NULL; u = u->next)
		if (u->hash == h && strcmp(u->name, user) == 0)
			return u;
	if (g->nusers >= g->t.max)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->hash = h;
	u->name = xstrdup(user);
	u->next = g->users[b];
	g->users[b] = u;
	g->nusers++;
	return u;
}

int
guard_user_message(struct guard *g, const char *user,
    const struct ipaddr *ip, enum guard_proto proto, uint64_t now)
{
	struct user_entry *u;
	uint32_t t;

	(void)ip;
	g->stats.events++;
	if (!(g->counted[GUARD_EV_AUTH_VOLUME] & (1u << proto)) ||
	    (u = user_get(g, user)) == NULL)
		return 0;
	t = rel(g, now);
	guard_log_add(&u->log, t, proto, g->log_cap[GUARD_EV_AUTH_VOLUME]);
	if (u->held && u->held_until <= now)
		u->held = 0;
	for (size_t i = 0; i < g->nrules; i++) {
		const struct guard_rule *r = &g->rules[i];

		/* "More than count messages in the window", once per
		 * window and rule. */
		if (!rule_applies(r, GUARD_EV_AUTH_VOLUME, proto) ||
		    u->quiet_until[i] > now ||
		    !guard_log_reached(u->log, r->count + 1,
		    window_start(g, now, r->window_ms), r->protocols,
		    g->counted[GUARD_EV_AUTH_VOLUME]))
			continue;
		u->quiet_until[i] = now + r->window_ms;
		if (r->kind == GUARD_BLOCK_HOLD) {
			u->held = 1;
			u->held_until = now + (r->block_ms ? r->block_ms :
			    r->window_ms);
		}
		if (g->hooks.fired != NULL)
			g->hooks.fired(g->hooks.ctx, r, NULL, user);
	}
	return u->held;
}

void
guard_get_stats(const struct guard *g, struct guard_stats *st)
{
	*st = g->stats;
	st->evictions = g->t.evictions;
	st->tracked = g->t.n;
	st->blocked = g->blocks.map.count;
}

size_t
guard_memory(const struct guard *g)
{
	return guard_table_memory(&g->t);
}
