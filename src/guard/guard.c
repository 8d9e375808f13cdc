/* The guard's core: per-address event logs, exact sliding windows,
 * blocks, black and white lists, and a bounded tracking table.
 * SECURITY: every input is a client address or an event about it; memory
 * is bounded by max_tracked, and hashing is keyed with a random seed. */
#include "guard/guard.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "guard/cidrmap.h"
#include "guard/guard_log.h"

#define NLOGS GUARD_EV_AUTH_VOLUME	/* per-address event kinds */
#define EVICT_SAMPLES 16
/* Stamps hold 30 bits of ms: rebase well before, keeping at least the
 * longest window (GUARD_WINDOW_MAX) of history. */
#define REBASE_AT ((1ULL << 30) - 86400000ULL)
#define REBASE_KEEP (GUARD_WINDOW_MAX + 60000ULL)

struct entry {
	struct ipaddr key;
	uint32_t last;			/* last activity, for eviction */
	uint16_t pending;		/* logins being checked */
	struct guard_log *log[NLOGS];
};

struct user_entry {
	char *name;
	struct guard_log *log;
	uint64_t quiet_until[GUARD_MAX_RULES];	/* fired: silent until */
	int held;
	uint64_t held_until;
	struct user_entry *next;
};

#define USER_BUCKETS 1024

struct guard {
	struct guard_hooks hooks;
	struct guard_rule rules[GUARD_MAX_RULES];
	size_t nrules;
	uint16_t log_cap[GUARD_EV_COUNT];	/* largest count per kind */
	unsigned counted[GUARD_EV_COUNT];	/* protocols counted per kind */
	unsigned ipv6_prefix;
	uint64_t epoch;
	uint64_t seed;
	uint64_t rng;			/* xorshift state for eviction samples */
	size_t log_bytes;		/* held by the entries' event logs */

	/* Tracked addresses: a dense array and an index of slots. */
	struct entry *entries;
	size_t nentries, max_entries, entries_cap;
	uint32_t *slots;		/* entry index + 1; 0: empty */
	size_t nslots;

	struct user_entry *users[USER_BUCKETS];
	size_t nusers;

	struct cidrmap blocks;		/* range -> struct guard_block */
	struct cidrmap allow, deny;	/* range -> struct guard_list_entry */
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

/* The tracking table. */

static uint64_t
key_hash(const struct guard *g, const struct ipaddr *key)
{
	return cidrmap_hash(g->seed, key->a, 0);
}

static size_t
slot_of(const struct guard *g, const struct ipaddr *key, int *found_r)
{
	size_t i = key_hash(g, key) & (g->nslots - 1);

	while (g->slots[i] != 0) {
		if (memcmp(g->entries[g->slots[i] - 1].key.a, key->a, 16) == 0) {
			*found_r = 1;
			return i;
		}
		i = (i + 1) & (g->nslots - 1);
	}
	*found_r = 0;
	return i;
}

static struct entry *
entry_find(const struct guard *g, const struct ipaddr *key)
{
	int found;
	size_t i;

	if (g->nentries == 0)
		return NULL;
	i = slot_of(g, key, &found);
	return found ? &g->entries[g->slots[i] - 1] : NULL;
}

static void
entry_free_logs(struct guard *g, struct entry *e)
{
	for (int k = 0; k < NLOGS; k++) {
		g->log_bytes -= guard_log_size(e->log[k]);
		free(e->log[k]);
		e->log[k] = NULL;
	}
}

/* Removes the entry at index idx: its slot is emptied with backward
 * shifting, and the last entry moves into its place. */
static void
entry_remove(struct guard *g, size_t idx)
{
	size_t mask = g->nslots - 1, i, j, last = g->nentries - 1;
	int found;

	i = slot_of(g, &g->entries[idx].key, &found);
	MW_ASSERT(found);
	g->slots[i] = 0;
	for (j = (i + 1) & mask; g->slots[j] != 0; j = (j + 1) & mask) {
		size_t home = key_hash(g, &g->entries[g->slots[j] - 1].key) &
		    mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			g->slots[i] = g->slots[j];
			g->slots[j] = 0;
			i = j;
		}
	}
	entry_free_logs(g, &g->entries[idx]);
	if (idx != last) {
		g->entries[idx] = g->entries[last];
		i = slot_of(g, &g->entries[idx].key, &found);
		MW_ASSERT(found);
		g->slots[i] = (uint32_t)idx + 1;
	}
	g->nentries--;
}

/* Evicts the least recently active of a few sampled entries that has no
 * login in flight. Blocks live elsewhere, so none is ever evicted. */
/* A cheap PRNG: eviction samples need spread, not secrecy. */
static uint64_t
next_rand(struct guard *g)
{
	g->rng ^= g->rng << 13;
	g->rng ^= g->rng >> 7;
	g->rng ^= g->rng << 17;
	return g->rng;
}

static int
evict_one(struct guard *g)
{
	size_t best = (size_t)-1;

	for (int s = 0; s < EVICT_SAMPLES; s++) {
		size_t i = (size_t)(next_rand(g) % g->nentries);

		if (g->entries[i].pending > 0)
			continue;
		if (best == (size_t)-1 ||
		    g->entries[i].last < g->entries[best].last)
			best = i;
	}
	if (best == (size_t)-1)
		return -1;
	entry_remove(g, best);
	g->stats.evictions++;
	if (g->hooks.evicted != NULL)
		g->hooks.evicted(g->hooks.ctx, 1);
	return 0;
}

static void
table_grow(struct guard *g)
{
	size_t n = g->nslots ? g->nslots * 2 : 1024;

	free(g->slots);
	g->slots = xcalloc(n, sizeof(*g->slots));
	g->nslots = n;
	for (size_t e = 0; e < g->nentries; e++) {
		int found;
		size_t i = slot_of(g, &g->entries[e].key, &found);

		g->slots[i] = (uint32_t)e + 1;
	}
}

/* The entry of key, created if needed; NULL only if the table is full
 * of entries that cannot be evicted. */
static struct entry *
entry_get(struct guard *g, const struct ipaddr *key, uint64_t now)
{
	struct entry *e = entry_find(g, key);
	int found;
	size_t i;

	if (e != NULL) {
		e->last = rel(g, now);
		return e;
	}
	while (g->nentries >= g->max_entries)
		if (evict_one(g) < 0)
			return NULL;
	if ((g->nentries + 1) * 2 > g->nslots)
		table_grow(g);
	if (g->nentries == g->entries_cap) {
		g->entries_cap = g->entries_cap ? g->entries_cap * 2 : 1024;
		if (g->entries_cap > g->max_entries)
			g->entries_cap = g->max_entries;
		g->entries = xrealloc(g->entries,
		    g->entries_cap * sizeof(*g->entries));
	}
	e = &g->entries[g->nentries];
	memset(e, 0, sizeof(*e));
	e->key = *key;
	e->last = rel(g, now);
	i = slot_of(g, key, &found);
	g->slots[i] = (uint32_t)++g->nentries;
	return e;
}

/* Moves the epoch forward before the 30-bit offsets run out. Events
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
	for (size_t e = 0; e < g->nentries; e++) {
		struct entry *en = &g->entries[e];

		en->last = en->last > shift ? en->last - shift : 0;
		for (int k = 0; k < NLOGS; k++)
			guard_log_shift(en->log[k], shift);
	}
	for (size_t b = 0; b < USER_BUCKETS; b++)
		for (struct user_entry *u = g->users[b]; u; u = u->next)
			guard_log_shift(u->log, shift);
	g->epoch += shift64;
}

/* Setup. */

struct guard *
guard_new(size_t max_tracked, const struct guard_hooks *hooks)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	if (hooks != NULL)
		g->hooks = *hooks;
	g->max_entries = max_tracked ? max_tracked : 1;
	g->ipv6_prefix = 64;
	g->seed = random_u64();
	g->rng = random_u64() | 1;
	cidrmap_init(&g->blocks);
	cidrmap_init(&g->allow);
	cidrmap_init(&g->deny);
	table_grow(g);
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
	for (size_t b = 0; b < USER_BUCKETS; b++) {
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
}

void
guard_free(struct guard **gp)
{
	struct guard *g = *gp;

	if (g == NULL)
		return;
	for (size_t e = 0; e < g->nentries; e++)
		entry_free_logs(g, &g->entries[e]);
	free(g->entries);
	free(g->slots);
	free_users(g);
	cidrmap_foreach(&g->blocks, free_value, NULL);
	cidrmap_foreach(&g->allow, free_value, NULL);
	cidrmap_foreach(&g->deny, free_value, NULL);
	cidrmap_release(&g->blocks);
	cidrmap_release(&g->allow);
	cidrmap_release(&g->deny);
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
	}
}

void
guard_set_max_tracked(struct guard *g, size_t max_tracked)
{
	g->max_entries = max_tracked ? max_tracked : 1;
	while (g->nentries > g->max_entries && evict_one(g) == 0)
		;
}

void
guard_set_ipv6_prefix(struct guard *g, unsigned prefix)
{
	g->ipv6_prefix = prefix >= 32 && prefix <= 128 ? prefix : 64;
}

struct cidr
guard_key(const struct guard *g, const struct ipaddr *ip)
{
	struct cidr c;
	unsigned p = ipaddr_is_v4(ip) ? 128 : g->ipv6_prefix;

	c.addr = *ip;
	c.prefix = p;
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = p > i * 8 ? p - i * 8 : 0;

		if (keep < 8)
			c.addr.a[i] &= (uint8_t)(0xff00 >> keep);
	}
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
	free(cidrmap_put(e->list == GUARD_ALLOW ? &g->allow : &g->deny,
	    &e->range, copy));
}

int
guard_list_del(struct guard *g, const struct cidr *range,
    enum guard_list list)
{
	void *v = cidrmap_del(list == GUARD_ALLOW ? &g->allow : &g->deny,
	    range);

	free(v);
	return v != NULL;
}

void
guard_list_clear(struct guard *g)
{
	cidrmap_foreach(&g->allow, free_value, NULL);
	cidrmap_foreach(&g->deny, free_value, NULL);
	cidrmap_release(&g->allow);
	cidrmap_release(&g->deny);
}

const struct guard_list_entry *
guard_list_match(const struct guard *g, const struct ipaddr *ip,
    uint64_t now)
{
	const struct guard_list_entry *a, *d;

	a = cidrmap_lookup(&g->allow, ip, list_live, &now);
	d = cidrmap_lookup(&g->deny, ip, list_live, &now);
	if (a == NULL)
		return d;
	if (d == NULL)
		return a;
	return a->range.prefix > d->range.prefix ? a : d;
}

/* Blocks. */

void
guard_block_add(struct guard *g, const struct guard_block *b)
{
	struct guard_block *copy = xmalloc(sizeof(*copy));

	*copy = *b;
	free(cidrmap_put(&g->blocks, &b->range, copy));
}

/* A block on range ended: the address it covered starts afresh. */
static void
block_ended(struct guard *g, const struct cidr *range)
{
	struct entry *e = entry_find(g, &range->addr);

	if (e != NULL && guard_key(g, &range->addr).prefix == range->prefix)
		entry_free_logs(g, e);
}

int
guard_unblock(struct guard *g, const struct cidr *range, uint64_t now)
{
	struct guard_block *b = cidrmap_del(&g->blocks, range);

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
	cidrmap_foreach(&g->blocks, free_value, NULL);
	cidrmap_release(&g->blocks);
}

struct block_query {
	uint64_t now;
	const struct guard_block *logins;	/* a logins block seen */
};

/* Accepts the longest live connections block, noting the longest live
 * logins block on the way: one pass finds the strongest block. */
static int
block_pick(void *value, void *arg)
{
	const struct guard_block *b = value;
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

	if (g->blocks.count == 0)
		return NULL;
	b = cidrmap_lookup(&g->blocks, ip, block_pick, &q);
	return b != NULL ? b : q.logins;
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

	cidrmap_foreach(&g->blocks, foreach_live, &fa);
}

static void
expire_one(const struct cidr *key, void *value, void *arg)
{
	struct foreach_arg *fa = arg;
	struct guard_block *b = value;

	if (b->until_ms == 0 || b->until_ms > fa->now)
		return;
	cidrmap_del(&fa->g->blocks, key);
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
	cidrmap_del(e->list == GUARD_ALLOW ? &fa->g->allow : &fa->g->deny, key);
	free(e);
}

/* Ends the block of exactly key if its time is up, so that a block is
 * over at until_ms sharp, not at the next guard_expire(). */
static void
expire_key(struct guard *g, const struct cidr *key, uint64_t now)
{
	struct guard_block *b;
	struct foreach_arg fa = { g, now, NULL, NULL };

	if (g->blocks.count == 0 || (b = cidrmap_get(&g->blocks, key)) == NULL)
		return;
	expire_one(key, b, &fa);
}

void
guard_expire(struct guard *g, uint64_t now)
{
	struct foreach_arg fa = { g, now, NULL, NULL };

	cidrmap_foreach(&g->blocks, expire_one, &fa);
	cidrmap_foreach(&g->allow, expire_list, &fa);
	cidrmap_foreach(&g->deny, expire_list, &fa);
	maybe_rebase(g, now);
}

/* Firing. */

/* Blocks key for rule r, unless a block at least as strong is in force. */
static void
fire_block(struct guard *g, const struct guard_rule *r,
    const struct cidr *key, enum guard_proto proto, uint64_t now)
{
	struct guard_block b, *old = cidrmap_get(&g->blocks, key);

	if (old != NULL && (old->until_ms == 0 || old->until_ms > now) &&
	    (old->kind == GUARD_BLOCK_CONNECTIONS || old->kind == r->kind))
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
}

/* Counts an event for key and fires every rule whose count it reaches.
 * The caller has ended key's block if its time was up (expire_key). */
static void
count_event(struct guard *g, const struct cidr *key, enum guard_event ev,
    enum guard_proto proto, uint64_t now, struct entry *e)
{
	uint32_t t;

	g->stats.events++;
	if (!(g->counted[ev] & (1u << proto)))
		return;
	if (e == NULL && (e = entry_get(g, &key->addr, now)) == NULL)
		return;
	t = rel(g, now);
	g->log_bytes += guard_log_add(&e->log[ev], t, proto, g->log_cap[ev]);
	for (size_t i = 0; i < g->nrules; i++) {
		const struct guard_rule *r = &g->rules[i];
		uint32_t since;

		if (!rule_applies(r, ev, proto))
			continue;
		since = window_start(g, now, r->window_ms);
		if (!guard_log_reached(e->log[ev], r->count, since,
		    r->protocols, g->counted[ev]))
			continue;
		if (rule_blocks(r)) {
			fire_block(g, r, key, proto, now);
		} else if (!guard_log_reached(e->log[ev], r->count + 1, since,
		    r->protocols, g->counted[ev]) && g->hooks.fired != NULL) {
			/* Alert only: once, as the count is first reached. */
			g->hooks.fired(g->hooks.ctx, r, NULL, NULL);
		}
	}
}

/* Events. */

enum guard_verdict
guard_connect(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now)
{
	const struct guard_list_entry *l = guard_list_match(g, ip, now);
	const struct guard_block *b;
	struct cidr key;

	if (l != NULL && l->list == GUARD_DENY) {
		g->stats.refused_denied++;
		if (g->hooks.denied != NULL)
			g->hooks.denied(g->hooks.ctx, ip, l, proto);
		return GUARD_REFUSE_DENIED;
	}
	if (l != NULL)
		return GUARD_ACCEPT;
	key = guard_key(g, ip);
	expire_key(g, &key, now);
	b = guard_block_find(g, ip, now);
	if (b != NULL && b->kind == GUARD_BLOCK_CONNECTIONS) {
		g->stats.refused_blocked++;
		return GUARD_REFUSE_BLOCKED;
	}
	count_event(g, &key, GUARD_EV_CONNECT, proto, now, NULL);
	return GUARD_ACCEPT;
}

void
guard_login_begin(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now, struct guard_login *t)
{
	const struct guard_list_entry *l = guard_list_match(g, ip, now);
	struct entry *e;

	memset(t, 0, sizeof(*t));
	t->key = guard_key(g, ip);
	t->ip = *ip;
	t->proto = proto;
	if (l != NULL && l->list == GUARD_ALLOW) {
		t->listed_allow = 1;
		return;
	}
	e = entry_get(g, &t->key.addr, now);
	if (e != NULL && e->pending < UINT16_MAX)
		e->pending++;
}

enum guard_login_result
guard_login_end(struct guard *g, const struct guard_login *t,
    int password_ok, const char *user, uint64_t now)
{
	struct entry *e;
	const struct guard_block *b;
	int doomed = 0;

	(void)user;
	if (t->listed_allow)
		return password_ok ? GUARD_LOGIN_OK : GUARD_LOGIN_FAILED;
	e = entry_find(g, &t->key.addr);
	if (e != NULL && e->pending > 0)
		e->pending--;
	expire_key(g, &t->key, now);
	b = guard_block_find(g, &t->ip, now);
	if (b != NULL) {
		doomed = 1;
	} else if (password_ok && e != NULL) {
		/* Failures made plus attempts still in flight (counted as
		 * failures until they say otherwise) must stay below every
		 * blocking login rule's count for this attempt to be one
		 * allowed. */
		for (size_t i = 0; i < g->nrules && !doomed; i++) {
			const struct guard_rule *r = &g->rules[i];

			if (rule_applies(r, GUARD_EV_AUTH_FAIL, t->proto) &&
			    rule_blocks(r) &&
			    guard_log_count(e->log[GUARD_EV_AUTH_FAIL],
			    window_start(g, now, r->window_ms), r->count,
			    r->protocols) + e->pending >= r->count)
				doomed = 1;
		}
	}
	if (!password_ok)
		count_event(g, &t->key, GUARD_EV_AUTH_FAIL, t->proto, now, e);
	if (doomed) {
		g->stats.logins_pretended++;
		return GUARD_LOGIN_BLOCKED;
	}
	return password_ok ? GUARD_LOGIN_OK : GUARD_LOGIN_FAILED;
}

static int
listed_allow(const struct guard *g, const struct ipaddr *ip, uint64_t now)
{
	const struct guard_list_entry *l = guard_list_match(g, ip, now);

	return l != NULL && l->list == GUARD_ALLOW;
}

void
guard_session_end(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, int accepted_message, uint64_t now)
{
	struct cidr key;

	if (accepted_message || listed_allow(g, ip, now))
		return;
	key = guard_key(g, ip);
	expire_key(g, &key, now);
	count_event(g, &key, GUARD_EV_BAD_SESSION, proto, now, NULL);
}

void
guard_unknown_rcpt(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now)
{
	struct cidr key;

	if (listed_allow(g, ip, now))
		return;
	key = guard_key(g, ip);
	expire_key(g, &key, now);
	count_event(g, &key, GUARD_EV_UNKNOWN_RCPT, proto, now, NULL);
}

static struct user_entry *
user_get(struct guard *g, const char *user)
{
	uint64_t h = g->seed;
	struct user_entry *u;
	size_t b;

	for (const char *p = user; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	b = (size_t)(h % USER_BUCKETS);
	for (u = g->users[b]; u != NULL; u = u->next)
		if (strcmp(u->name, user) == 0)
			return u;
	if (g->nusers >= g->max_entries)
		return NULL;
	u = xcalloc(1, sizeof(*u));
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
	st->tracked = g->nentries;
	st->blocked = g->blocks.count;
}

size_t
guard_memory(const struct guard *g)
{
	return g->entries_cap * sizeof(struct entry) +
	    g->nslots * sizeof(uint32_t) + g->log_bytes;
}
