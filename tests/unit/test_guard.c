/* Unit tests for src/guard/guard.c: the guard's pure core. Time is a
 * parameter, so the tests move it; nothing sleeps. The hooks record
 * what they are told so that tests can check every block, lift,
 * deny-list hit and eviction. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ipaddr.h"
#include "guard/guard.h"
#include "guard/guard_table.h"
#include "harness.h"
#include "harness_addr.h"

#define T0 1000000ULL		/* a base time for most tests, ms */
#define SEC 1000ULL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define ALL_PROTOS ((1u << GUARD_SMTP) | (1u << GUARD_POP3) | \
	(1u << GUARD_IMAP) | (1u << GUARD_HTTP))
#define SMTP_ONLY (1u << GUARD_SMTP)

/* ---- helpers ---- */

struct rule_fires {
	char name[GUARD_RULE_NAME_MAX];
	unsigned n;
};

/* What the hooks were told. */
struct rec {
	unsigned fired;
	unsigned fired_with_block;
	unsigned max_count;		/* largest rule count fired */
	struct guard_rule rule;		/* of the last fired */
	struct guard_block block;	/* of the last fired with a block */
	char user[64];			/* of the last fired; "" if NULL */
	int user_null;
	struct rule_fires by_rule[GUARD_MAX_RULES];

	unsigned lifted, lifted_expired;
	struct guard_block lifted_block;
	int last_expired;

	unsigned denied;
	struct ipaddr denied_ip;
	struct guard_list_entry denied_entry;
	enum guard_proto denied_proto;

	unsigned evicted_calls;
	size_t evicted_n;

	unsigned flooding;
	struct cidr flooding_range;
	unsigned flooding_refused;
};

static struct rec rec;

static void
on_fired(void *ctx, const struct guard_rule *rule,
    const struct guard_block *block, const char *user)
{
	struct rec *r = ctx;
	size_t i;

	r->fired++;
	r->rule = *rule;
	if (rule->count > r->max_count)
		r->max_count = rule->count;
	if (block != NULL) {
		r->fired_with_block++;
		r->block = *block;
	}
	r->user_null = user == NULL;
	snprintf(r->user, sizeof(r->user), "%s", user ? user : "");
	for (i = 0; i < GUARD_MAX_RULES; i++) {
		if (r->by_rule[i].name[0] == '\0') {
			snprintf(r->by_rule[i].name, sizeof(r->by_rule[i].name),
			    "%s", rule->name);
			break;
		}
		if (strcmp(r->by_rule[i].name, rule->name) == 0)
			break;
	}
	if (i < GUARD_MAX_RULES)
		r->by_rule[i].n++;
}

static void
on_lifted(void *ctx, const struct guard_block *block, int expired)
{
	struct rec *r = ctx;

	r->lifted++;
	if (expired)
		r->lifted_expired++;
	r->lifted_block = *block;
	r->last_expired = expired;
}

static void
on_denied(void *ctx, const struct ipaddr *ip,
    const struct guard_list_entry *entry, enum guard_proto proto)
{
	struct rec *r = ctx;

	r->denied++;
	r->denied_ip = *ip;
	r->denied_entry = *entry;
	r->denied_proto = proto;
}

static void
on_evicted(void *ctx, size_t n)
{
	struct rec *r = ctx;

	r->evicted_calls++;
	r->evicted_n += n;
}

static unsigned
fires_of(const char *name)
{
	for (size_t i = 0; i < GUARD_MAX_RULES; i++)
		if (strcmp(rec.by_rule[i].name, name) == 0)
			return rec.by_rule[i].n;
	return 0;
}

static void
on_flooding(void *ctx, const struct cidr *range, unsigned refused)
{
	struct rec *r = ctx;

	r->flooding++;
	r->flooding_range = *range;
	r->flooding_refused = refused;
}

/* A guard whose hooks record into rec (cleared). */
static struct guard *
new_guard(size_t max_tracked)
{
	struct guard_hooks h;

	memset(&rec, 0, sizeof(rec));
	memset(&h, 0, sizeof(h));
	h.ctx = &rec;
	h.fired = on_fired;
	h.lifted = on_lifted;
	h.denied = on_denied;
	h.evicted = on_evicted;
	h.flooding = on_flooding;
	return guard_new(max_tracked, &h);
}

static int
cidr_eq(const struct cidr *a, const struct cidr *b)
{
	return a->prefix == b->prefix && memcmp(a->addr.a, b->addr.a, 16) == 0;
}

static struct guard_rule
rule_of(const char *name, enum guard_event ev, unsigned protocols,
    unsigned count, uint64_t window_ms, uint64_t block_ms,
    enum guard_kind kind)
{
	struct guard_rule r;

	memset(&r, 0, sizeof(r));
	snprintf(r.name, sizeof(r.name), "%s", name);
	r.event = ev;
	r.protocols = protocols;
	r.count = count;
	r.window_ms = window_ms;
	r.block_ms = block_ms;
	r.kind = kind;
	r.alert = 1;
	return r;
}

static void
set_one_rule(struct guard *g, struct guard_rule r)
{
	guard_set_rules(g, &r, 1);
}

/* The default rules of DESIGN.md section 8. */
static const struct guard_rule *
default_rules(size_t *n_r)
{
	static struct guard_rule rules[6];

	rules[0] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS,
	    5, 10 * MIN, 10 * MIN, GUARD_BLOCK_LOGINS);
	rules[1] = rule_of("brute-force", GUARD_EV_AUTH_FAIL, ALL_PROTOS,
	    50, 10 * MIN, 30 * MIN, GUARD_BLOCK_CONNECTIONS);
	rules[2] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS,
	    50, 5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS);
	rules[3] = rule_of("bad-sessions", GUARD_EV_BAD_SESSION, SMTP_ONLY,
	    20, 5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS);
	rules[4] = rule_of("harvest", GUARD_EV_UNKNOWN_RCPT, SMTP_ONLY,
	    20, 5 * MIN, 30 * MIN, GUARD_BLOCK_CONNECTIONS);
	rules[5] = rule_of("auth-volume", GUARD_EV_AUTH_VOLUME, SMTP_ONLY,
	    200, HOUR, 0, GUARD_BLOCK_NONE);
	*n_r = 6;
	return rules;
}

/* One whole login attempt. */
static enum guard_login_result
login(struct guard *g, const struct ipaddr *ip, int ok, uint64_t now)
{
	struct guard_login t;

	guard_login_begin(g, ip, GUARD_SMTP, now, &t);
	return guard_login_end(g, &t, ok, "user@example.com", now);
}

static struct guard_stats
stats(const struct guard *g)
{
	struct guard_stats st;

	guard_get_stats(g, &st);
	return st;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- counting keys ---- */

static void
test_key(void)
{
	struct guard *g = new_guard(100);
	struct ipaddr v4 = ip_of("192.0.2.55");
	struct ipaddr v6 = ip_of("2001:db8:1:2:3:4:5:6");
	struct cidr k;

	k = guard_key(g, &v4);
	CHECK(k.prefix == 128);
	CHECK(memcmp(k.addr.a, v4.a, 16) == 0);
	k = guard_key(g, &v6);
	CHECK(k.prefix == 64);
	{
		struct cidr want = cidr_of("2001:db8:1:2::/64");

		CHECK(cidr_eq(&k, &want));
	}
	guard_set_ipv6_prefix(g, 48);
	k = guard_key(g, &v6);
	{
		struct cidr want = cidr_of("2001:db8:1::/48");

		CHECK(cidr_eq(&k, &want));
	}
	/* IPv4 is never aggregated */
	k = guard_key(g, &v4);
	CHECK(k.prefix == 128);
	guard_set_ipv6_prefix(g, 56);
	CHECK(guard_key(g, &v6).prefix == 56);
	/* out of range: back to the default */
	guard_set_ipv6_prefix(g, 8);
	CHECK(guard_key(g, &v6).prefix == 64);
	guard_set_ipv6_prefix(g, 129);
	CHECK(guard_key(g, &v6).prefix == 64);
	guard_set_ipv6_prefix(g, 128);
	k = guard_key(g, &v6);
	CHECK(k.prefix == 128 && memcmp(k.addr.a, v6.a, 16) == 0);
	guard_free(&g);
	CHECK(g == NULL);
	guard_free(&g);
	CHECK(strcmp(guard_proto_name(GUARD_SMTP), "smtp") == 0);
	CHECK(strcmp(guard_proto_name(GUARD_HTTP), "http") == 0);
}

/* ---- sliding windows ---- */

/* The number of events in the window ending at an event, read through
 * the fired hook: WIN_RULES alert-only rules with counts 1..WIN_RULES
 * and one window. Whether an alert-only rule fires at every event that
 * reaches its count or only when the count is first reached, the
 * largest count fired at an event is the number of events in the
 * window, up to WIN_RULES. Above it: 0 (first reached) or WIN_RULES. */
#define WIN_RULES 15

static void
set_window_rules(struct guard *g, enum guard_event ev, uint64_t window)
{
	struct guard_rule rules[WIN_RULES];

	for (unsigned c = 1; c <= WIN_RULES; c++) {
		char name[16];

		snprintf(name, sizeof(name), "c%u", c);
		rules[c - 1] = rule_of(name, ev, ALL_PROTOS, c, window, 0,
		    GUARD_BLOCK_NONE);
	}
	guard_set_rules(g, rules, WIN_RULES);
}

/* Rule count N, window W: 'F' where the N-th event in the window ending
 * at that event is reached. */
struct window_case {
	unsigned count;
	uint64_t window;
	uint64_t t[16];		/* offsets from the base time, ascending */
	const char *want;	/* per event: 'F' reached, '.' not */
};

static const struct window_case window_cases[] = {
	/* the N-th inside the window: W - 1 after the first */
	{ 3, 1000, { 0, 500, 999 }, "..F" },
	/* the first is exactly W old: outside */
	{ 3, 1000, { 0, 500, 1000 }, "..." },
	{ 3, 1000, { 0, 500, 1000, 1001 }, "...F" },
	/* N - 1 in every window: never */
	{ 3, 1000, { 0, 500, 1000, 1500, 2000, 2500, 3000 }, "......." },
	{ 3, 1000, { 0, 499, 998 }, "..F" },
	/* straddling what a fixed bucket [0, 1000) [1000, 2000) would
	 * split: a sliding window sees all three */
	{ 3, 1000, { 900, 950, 1100 }, "..F" },
	{ 3, 1000, { 999, 1000, 1001 }, "..F" },
	/* the same millisecond */
	{ 3, 1000, { 7, 7, 7 }, "..F" },
	{ 1, 1000, { 0, 1, 5000 }, "FFF" },
	/* reached again when N fall in a later window */
	{ 3, 1000, { 0, 1, 2, 5000, 5001, 5002 }, "..F..F" },
	/* a 1 ms window: only events of the same millisecond */
	{ 2, 1, { 0, 0, 1, 1, 3 }, ".F.F." },
	{ 4, 1000, { 0, 1, 2, 999, 1000, 1001, 1002, 1003 }, "...FFFFF" },
	{ 4, 1000, { 0, 1, 2, 999, 1000, 1001, 1999, 2000 }, "...FFF.." },
	/* default-like: 5 in 10 minutes */
	{ 5, 10 * MIN, { 0, 100, 200, 300, 10 * MIN, 10 * MIN + 100,
	    10 * MIN + 200, 10 * MIN + 300, 10 * MIN + 301 }, "........F" },
	{ 5, 10 * MIN, { 0, 1, 2, 3, 10 * MIN - 1 }, "....F" },
	{ 5, 10 * MIN, { 0, 1, 2, 3, 10 * MIN }, "....." },
	/* more than the log's first allocation, with wrap-around */
	{ 6, 100, { 0, 10, 20, 30, 40, 200, 210, 220, 230, 240, 250 },
	    "..........F" },
};

enum win_event { WIN_CONNECT, WIN_AUTH_FAIL, WIN_BAD_SESSION,
	WIN_UNKNOWN_RCPT, WIN_COUNT };

static const enum guard_event win_events[WIN_COUNT] = {
	GUARD_EV_CONNECT, GUARD_EV_AUTH_FAIL, GUARD_EV_BAD_SESSION,
	GUARD_EV_UNKNOWN_RCPT,
};

/* One event; returns the number in the window as the rules tell. */
static unsigned
win_event(struct guard *g, enum win_event w, const struct ipaddr *ip,
    uint64_t now)
{
	rec.max_count = 0;
	switch (w) {
	case WIN_CONNECT:
		CHECK(guard_connect(g, ip, GUARD_SMTP, now) == GUARD_ACCEPT);
		break;
	case WIN_AUTH_FAIL:
		CHECK(login(g, ip, 0, now) == GUARD_LOGIN_FAILED);
		break;
	case WIN_BAD_SESSION:
		guard_session_end(g, ip, GUARD_SMTP, 0, now);
		break;
	case WIN_UNKNOWN_RCPT:
		guard_unknown_rcpt(g, ip, GUARD_SMTP, now);
		break;
	default:
		break;
	}
	return rec.max_count;
}

static void
test_window_table(void)
{
	struct ipaddr ip = ip_of("192.0.2.1");

	for (int w = 0; w < WIN_COUNT; w++) {
		for (size_t i = 0;
		    i < sizeof(window_cases) / sizeof(window_cases[0]); i++) {
			const struct window_case *c = &window_cases[i];
			struct guard *g = new_guard(1000);
			char got[17];
			size_t n = strlen(c->want);

			set_window_rules(g, win_events[w], c->window);
			for (size_t e = 0; e < n; e++) {
				unsigned in = win_event(g, (enum win_event)w,
				    &ip, T0 + c->t[e]);

				got[e] = in >= c->count ? 'F' : '.';
			}
			got[n] = '\0';
			if (strcmp(got, c->want) != 0) {
				fprintf(stderr, "  event %d case %zu: got %s "
				    "want %s\n", w, i, got, c->want);
				CHECK(!"window");
			}
			guard_free(&g);
		}
	}
}

/* Random event streams for several addresses against a brute-force
 * count of each window: the exact number in the window at every
 * event. The last mode has day-long windows over years of wall-clock
 * time, through many rebases of the guard's 30-bit time stamps. */
#define RM_EVENTS 20000
#define RM_ADDRS 3

struct rm_mode {
	uint64_t base;
	uint64_t window;
	uint64_t gap[3];	/* gaps up to these, and 0 */
};

static const struct rm_mode rm_modes[] = {
	{ T0, 1000, { 50, 400, 200 } },
	{ T0, 5000, { 100, 600, 300 } },
	{ T0, MIN, { 1000, 8000, 3000 } },
	{ 1700000000000ULL, 24 * HOUR, { HOUR, 12 * HOUR, 2 * HOUR } },
};

static void
test_window_random_model(void)
{
	static uint64_t times[RM_ADDRS][RM_EVENTS];

	for (size_t m = 0; m < sizeof(rm_modes) / sizeof(rm_modes[0]); m++) {
		const struct rm_mode *md = &rm_modes[m];
		struct ipaddr ips[RM_ADDRS];
		size_t nt[RM_ADDRS] = { 0 };
		struct guard *g = new_guard(1000);
		uint64_t now = md->base;
		size_t mismatches = 0;

		set_window_rules(g, GUARD_EV_CONNECT, md->window);
		ips[0] = ip_of("192.0.2.1");
		ips[1] = ip_of("192.0.2.2");
		ips[2] = ip_of("2001:db8::1");
		for (size_t e = 0; e < RM_EVENTS; e++) {
			uint64_t x = rng();
			size_t a = (size_t)(x % RM_ADDRS), in = 0;
			unsigned got;
			int ok;

			if ((x >> 8) % 4 != 0)
				now += (x >> 16) % (md->gap[(x >> 8) % 4 - 1] +
				    1);
			got = win_event(g, WIN_CONNECT, &ips[a], now);
			times[a][nt[a]++] = now;
			for (size_t k = nt[a]; k-- > 0;) {
				if (now - times[a][k] >= md->window)
					break;
				in++;
			}
			ok = in <= WIN_RULES ? got == in :
			    got == 0 || got == WIN_RULES;
			if (!ok && mismatches++ < 5)
				fprintf(stderr, "  mode %zu event %zu at "
				    "+%llu: %zu in the window, rules say "
				    "%u\n", m, e, (unsigned long long)(now -
				    md->base), in, got);
			if (e % 1000 == 0)
				guard_expire(g, now);
		}
		CHECK(mismatches == 0);
		guard_free(&g);
	}
}

/* An alert-only rule alerts once for a burst, not at every event. */
static void
test_alert_only_once_per_burst(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.3");

	set_one_rule(g, rule_of("dos-alert", GUARD_EV_CONNECT, ALL_PROTOS, 5,
	    MIN, 0, GUARD_BLOCK_NONE));
	for (int i = 0; i < 100; i++)
		CHECK(guard_connect(g, &a, GUARD_SMTP, T0) == GUARD_ACCEPT);
	CHECK(rec.fired == 1 && rec.fired_with_block == 0);
	CHECK(stats(g).blocked == 0);
	guard_free(&g);
}

/* ---- connection rule ---- */

static void
test_dos_connect(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("198.51.100.7"), b = ip_of("198.51.100.8");
	const struct guard_block *bl;
	struct cidr key_a = guard_key(g, &a);
	uint64_t t5 = T0 + 4 * SEC, until;
	struct guard_stats st;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 5,
	    5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS));
	for (unsigned i = 0; i < 5; i++) {
		CHECK(guard_block_find(g, &a, T0 + i * SEC) == NULL);
		CHECK(guard_connect(g, &a, i % 2 ? GUARD_IMAP : GUARD_SMTP,
		    T0 + i * SEC) == GUARD_ACCEPT);
		CHECK(rec.fired == (i == 4 ? 1u : 0u));
	}
	CHECK(guard_connect(g, &a, GUARD_SMTP, t5) == GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &a, GUARD_POP3, t5 + 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &b, GUARD_SMTP, t5 + 1) == GUARD_ACCEPT);
	/* the block as reported */
	CHECK(rec.fired == 1 && rec.fired_with_block == 1);
	CHECK(cidr_eq(&rec.block.range, &key_a));
	CHECK(rec.block.kind == GUARD_BLOCK_CONNECTIONS);
	CHECK(rec.block.created_ms == t5);
	CHECK(rec.block.until_ms == t5 + 5 * MIN);
	CHECK_STR(rec.block.rule, "dos");
	CHECK(rec.block.attempts == 5);
	CHECK(rec.block.proto == GUARD_SMTP);
	CHECK_STR(rec.rule.name, "dos");
	CHECK(rec.user_null);
	until = rec.block.until_ms;
	bl = guard_block_find(g, &a, t5);
	CHECK(bl != NULL && bl->until_ms == until &&
	    bl->kind == GUARD_BLOCK_CONNECTIONS);
	st = stats(g);
	CHECK(st.blocks == 1 && st.blocked == 1 && st.refused_blocked == 2);
	/* refused connections are not counted: no new block, no fire */
	for (int i = 0; i < 100; i++)
		CHECK(guard_connect(g, &a, GUARD_SMTP, t5 + 2 + (uint64_t)i) ==
		    GUARD_REFUSE_BLOCKED);
	CHECK(rec.fired == 1);
	/* expires exactly at until_ms */
	CHECK(guard_block_find(g, &a, until - 1) != NULL);
	CHECK(guard_block_find(g, &a, until) == NULL);
	guard_expire(g, until - 1);
	CHECK(rec.lifted == 0 && stats(g).blocked == 1);
	CHECK(guard_connect(g, &a, GUARD_SMTP, until - 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(rec.lifted == 0);
	guard_expire(g, until);
	CHECK(rec.lifted == 1 && rec.lifted_expired == 1 &&
	    rec.last_expired == 1);
	CHECK(guard_connect(g, &a, GUARD_SMTP, until) == GUARD_ACCEPT);
	CHECK(cidr_eq(&rec.lifted_block.range, &key_a));
	CHECK_STR(rec.lifted_block.rule, "dos");
	CHECK(stats(g).blocked == 0);
	guard_expire(g, until + HOUR);
	CHECK(rec.lifted == 1);
	/* counting after the block: test_block_end_recount */
	guard_free(&g);
}

/* Connection N+1 is refused for every N, all in the same millisecond. */
static void
test_dos_exact_counts(void)
{
	static const unsigned counts[] = { 1, 2, 3, 10, 50, 200, 1000 };
	struct ipaddr a = ip_of("203.0.113.9");

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct guard *g = new_guard(100);
		unsigned n = counts[i], accepted = 0;

		set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS,
		    n, MIN, MIN, GUARD_BLOCK_CONNECTIONS));
		for (unsigned k = 0; k < n + 10; k++)
			if (guard_connect(g, &a, GUARD_SMTP, T0) ==
			    GUARD_ACCEPT)
				accepted++;
		if (accepted != n)
			fprintf(stderr, "  count %u: %u accepted\n", n,
			    accepted);
		CHECK(accepted == n);
		CHECK(rec.fired == 1 && rec.block.attempts == n);
		guard_free(&g);
	}
}

/* After a block ends, the address is counted afresh (guard.h): exactly
 * count connections again, however the end is noticed, and also when
 * they all come in the millisecond the block ends. The block is
 * shorter than the window, so the old connections are still inside
 * it. */
enum end_how { END_BY_CONNECT, END_BY_EXPIRE, END_BY_LATE_EXPIRE,
	END_BY_UNBLOCK, END_BY_UNBLOCK_NEXT_MS };

static void
test_block_end_recount(void)
{
	static const char *const names[] = {
		"connect at until", "guard_expire at until",
		"guard_expire 100 ms late", "guard_unblock, same ms",
		"guard_unblock, next ms",
	};
	struct ipaddr a = ip_of("198.51.100.20");

	for (int how = END_BY_CONNECT; how <= END_BY_UNBLOCK_NEXT_MS; how++) {
		struct guard *g = new_guard(100);
		struct cidr key = guard_key(g, &a);
		uint64_t until, at;
		unsigned accepted = 0;

		set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS,
		    5, 5 * MIN, MIN, GUARD_BLOCK_CONNECTIONS));
		for (uint64_t i = 0; i < 5; i++)
			guard_connect(g, &a, GUARD_SMTP, T0 + i);
		until = T0 + 4 + MIN;
		CHECK(rec.fired == 1 && rec.block.until_ms == until);
		switch (how) {
		case END_BY_EXPIRE:
			at = until;
			guard_expire(g, at);
			break;
		case END_BY_LATE_EXPIRE:
			at = until + 100;
			guard_expire(g, at);
			break;
		case END_BY_UNBLOCK:
			at = T0 + 1000;
			CHECK(guard_unblock(g, &key, at) == 1);
			break;
		case END_BY_UNBLOCK_NEXT_MS:
			CHECK(guard_unblock(g, &key, T0 + 1000) == 1);
			at = T0 + 1001;
			break;
		default:
			at = until;
			break;
		}
		/* twenty in one millisecond: five accepted */
		for (int i = 0; i < 20; i++)
			if (guard_connect(g, &a, GUARD_SMTP, at) ==
			    GUARD_ACCEPT)
				accepted++;
		if (accepted != 5)
			fprintf(stderr, "  block ended by %s: %u of 20 "
			    "connections accepted in that ms\n", names[how],
			    accepted);
		CHECK(accepted == 5);
		CHECK(rec.lifted == 1);
		CHECK(rec.last_expired == (how == END_BY_UNBLOCK ||
		    how == END_BY_UNBLOCK_NEXT_MS ? 0 : 1));
		guard_free(&g);
	}
}

/* The same for logins: 5 failures in the millisecond a login block
 * ends block again; the right password is then refused. */
static void
test_login_block_end_recount(void)
{
	struct guard *g = new_guard(100);
	struct ipaddr a = ip_of("198.51.100.21");
	uint64_t until;
	enum guard_login_result r;

	set_one_rule(g, rule_of("invalid-login", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, 5, 10 * MIN, MIN, GUARD_BLOCK_LOGINS));
	for (int i = 0; i < 5; i++)
		CHECK(login(g, &a, 0, T0) == GUARD_LOGIN_FAILED);
	until = T0 + MIN;
	CHECK(login(g, &a, 1, until - 1) == GUARD_LOGIN_BLOCKED);
	for (int i = 0; i < 5; i++)
		CHECK(login(g, &a, 0, until) == GUARD_LOGIN_FAILED);
	r = login(g, &a, 1, until);
	if (r != GUARD_LOGIN_BLOCKED)
		fprintf(stderr, "  5 failures at until_ms, then the right "
		    "password at until_ms: %d, fired %u\n", r, rec.fired);
	CHECK(r == GUARD_LOGIN_BLOCKED);
	CHECK(rec.fired == 2);
	guard_free(&g);
}

static void
count_block(const struct guard_block *b, void *arg)
{
	(void)b;
	(*(unsigned *)arg)++;
}

static void
test_block_foreach(void)
{
	struct guard *g = new_guard(100);
	struct guard_block b;
	unsigned n = 0;

	memset(&b, 0, sizeof(b));
	b.kind = GUARD_BLOCK_CONNECTIONS;
	b.range = cidr_of("192.0.2.0/24");
	b.until_ms = T0 + 10;
	guard_block_add(g, &b);
	b.range = cidr_of("2001:db8::/32");
	b.until_ms = 0;
	guard_block_add(g, &b);
	b.range = cidr_of("198.51.100.1");
	b.kind = GUARD_BLOCK_LOGINS;
	b.until_ms = T0 + 20;
	guard_block_add(g, &b);
	guard_block_foreach(g, T0, count_block, &n);
	CHECK(n == 3);
	n = 0;
	guard_block_foreach(g, T0 + 10, count_block, &n);
	CHECK(n == 2);
	n = 0;
	guard_block_foreach(g, T0 + 20, count_block, &n);
	CHECK(n == 1);
	/* no hook for blocks added by the admin */
	CHECK(rec.fired == 0);
	guard_expire(g, T0 + 20);
	CHECK(rec.lifted == 2 && rec.lifted_expired == 2);
	CHECK(stats(g).blocked == 1);
	guard_block_clear(g);
	CHECK(stats(g).blocked == 0);
	n = 0;
	guard_block_foreach(g, T0, count_block, &n);
	CHECK(n == 0);
	/* usable after clearing */
	guard_block_add(g, &b);
	CHECK(guard_block_find(g, &(struct ipaddr){ { 0 } }, T0) == NULL);
	{
		struct ipaddr ip = ip_of("198.51.100.1");

		CHECK(guard_block_find(g, &ip, T0) != NULL);
	}
	guard_free(&g);
}

/* ---- login rules ---- */

static struct guard *
login_guard(void)
{
	struct guard *g = new_guard(1000);

	set_one_rule(g, rule_of("invalid-login", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, 5, 10 * MIN, 10 * MIN, GUARD_BLOCK_LOGINS));
	return g;
}

/* k failures, then the right password. */
static void
test_login_sequential(void)
{
	struct ipaddr a = ip_of("192.0.2.10");

	for (unsigned k = 0; k <= 7; k++) {
		struct guard *g = login_guard();
		enum guard_login_result want = k < 5 ? GUARD_LOGIN_OK :
		    GUARD_LOGIN_BLOCKED;

		for (unsigned i = 0; i < k; i++) {
			enum guard_login_result r = login(g, &a, 0, T0 + i);

			/* the 5th failure fails normally; after it, the
			 * address is blocked */
			CHECK(r == (i < 5 ? GUARD_LOGIN_FAILED :
			    GUARD_LOGIN_BLOCKED));
		}
		CHECK(login(g, &a, 1, T0 + 100) == want);
		CHECK(rec.fired == (k >= 5 ? 1u : 0u));
		guard_free(&g);
	}
}

static void
test_login_block_and_expiry(void)
{
	struct guard *g = login_guard();
	struct ipaddr a = ip_of("192.0.2.10"), b = ip_of("192.0.2.11");
	uint64_t t = T0, until;

	for (int i = 0; i < 5; i++)
		CHECK(login(g, &a, 0, t += SEC) == GUARD_LOGIN_FAILED);
	CHECK(rec.fired == 1 && rec.block.kind == GUARD_BLOCK_LOGINS);
	CHECK(rec.block.attempts == 5);
	CHECK(rec.block.until_ms == t + 10 * MIN);
	until = rec.block.until_ms;
	CHECK(login(g, &a, 1, t) == GUARD_LOGIN_BLOCKED);
	CHECK(login(g, &a, 1, until - 1) == GUARD_LOGIN_BLOCKED);
	CHECK(stats(g).logins_pretended == 2);
	/* another address is not affected */
	CHECK(login(g, &b, 1, t) == GUARD_LOGIN_OK);
	/* login-blocked addresses still connect */
	CHECK(guard_connect(g, &a, GUARD_SMTP, t) == GUARD_ACCEPT);
	CHECK(guard_block_find(g, &a, until - 1) != NULL);
	CHECK(guard_block_find(g, &a, until) == NULL);
	CHECK(login(g, &a, 1, until) == GUARD_LOGIN_OK);
	guard_expire(g, until);
	CHECK(rec.lifted_expired == 1);
	CHECK(login(g, &a, 1, until + 1) == GUARD_LOGIN_OK);
	guard_free(&g);
}

/* Attempts all begun before any ends (same millisecond); one has the
 * right password and ends at position pos. */
static void
parallel(unsigned wrong, size_t pos, enum guard_login_result *right_r,
    unsigned *fired_r)
{
	struct guard *g = login_guard();
	struct ipaddr a = ip_of("192.0.2.20");
	struct guard_login t[32], tr;
	size_t w = 0;

	for (unsigned i = 0; i < wrong; i++)
		guard_login_begin(g, &a, GUARD_SMTP, T0, &t[i]);
	guard_login_begin(g, &a, GUARD_SMTP, T0, &tr);
	for (size_t end = 0; end <= wrong; end++) {
		if (end == pos) {
			*right_r = guard_login_end(g, &tr, 1, "u", T0);
		} else {
			enum guard_login_result r;

			/* reverse begin order, to mix things up */
			r = guard_login_end(g, &t[wrong - 1 - w++], 0, "u",
			    T0);
			CHECK(r != GUARD_LOGIN_OK);
		}
	}
	*fired_r = rec.fired;
	guard_free(&g);
}

static void
test_login_parallel(void)
{
	static const struct {
		unsigned wrong;
		enum guard_login_result want;
	} cases[] = {
		{ 0, GUARD_LOGIN_OK },
		{ 3, GUARD_LOGIN_OK },
		{ 4, GUARD_LOGIN_OK },
		/* N failures in flight: the (N+1)-th is refused */
		{ 5, GUARD_LOGIN_BLOCKED },
		{ 6, GUARD_LOGIN_BLOCKED },
		{ 20, GUARD_LOGIN_BLOCKED },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (size_t pos = 0; pos <= cases[c].wrong; pos++) {
			enum guard_login_result r = GUARD_LOGIN_FAILED;
			unsigned fired;

			parallel(cases[c].wrong, pos, &r, &fired);
			if (r != cases[c].want)
				fprintf(stderr, "  %u wrong, right ends at "
				    "%zu: %d\n", cases[c].wrong, pos, r);
			CHECK(r == cases[c].want);
			CHECK(fired == (cases[c].wrong >= 5 ? 1u : 0u));
		}
	}
}

static struct ipaddr growth_ip(unsigned i);

/* The in-flight table against a model: random begins and ends over keys
 * that collide often (few slots for many keys at the start), checking
 * every count the table returns. */
static void
test_flight_table_model(void)
{
	enum { KEYS = 700, OPS = 300000 };
	static unsigned model[KEYS];
	struct guard_table tt;
	unsigned bad = 0;

	guard_table_init(&tt, 1000);
	for (unsigned op = 0; op < OPS; op++) {
		unsigned k = (unsigned)(rng() % KEYS);
		struct ipaddr ip = growth_ip(k);

		/* Ends a little more often than begins: keys come and go. */
		if (model[k] > 0 && rng() % 100 < 52) {
			model[k]--;
			bad += guard_table_flight_end(&tt, ip.a) != model[k];
		} else {
			guard_table_flight_begin(&tt, ip.a, 0);
			model[k]++;
		}
	}
	CHECK(bad == 0);
	for (unsigned k = 0; k < KEYS; k++) {
		struct ipaddr ip = growth_ip(k);

		while (model[k] > 0) {
			model[k]--;
			bad += guard_table_flight_end(&tt, ip.a) != model[k];
		}
		/* Never begun (or all ended): 0, nothing changes. */
		bad += guard_table_flight_end(&tt, ip.a) != 0;
	}
	CHECK(bad == 0);
	CHECK(tt.fl_n == 0);
	guard_table_free(&tt);
}

/* Each login's begin fetches, a few begins later, what the ends of the
 * logins begun before it need, from slots it found then. Logins begun
 * and ended while the table shrinks, grows and moves entries under them
 * end as they would have anyway; under ASan, no stale slot is read. */
static void
test_fetch_pipeline_under_table_changes(void)
{
	enum { N = 2000, COUNT = 30, LAG = 8 };
	static struct guard_login t[LAG];
	struct guard *g = new_guard(16 * N);
	unsigned fresh = 100000, failed = 0, pretended = 0;

	set_one_rule(g, rule_of("invalid-login", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, COUNT, 10 * MIN, 10 * MIN, GUARD_BLOCK_LOGINS));
	/* Every address fails COUNT + 1 times, LAG logins in flight. */
	for (unsigned k = 0; k < (COUNT + 1) * N + LAG; k++) {
		if (k >= LAG) {
			enum guard_login_result r = guard_login_end(g,
			    &t[k % LAG], 0, "u", T0 + k);

			failed += r == GUARD_LOGIN_FAILED;
			pretended += r == GUARD_LOGIN_BLOCKED;
		}
		if (k < (COUNT + 1) * N) {
			struct ipaddr ip = growth_ip(k % N);

			guard_login_begin(g, &ip, GUARD_IMAP, T0 + k,
			    &t[k % LAG]);
		}
		/* New addresses move entries. The cap shrinks to a little
		 * over what is tracked (every address has failed once by
		 * then), rebuilding the table smaller, then
		 * grows back, and the table with it: nothing is evicted. */
		if (k % 7 == 0) {
			struct ipaddr ip = growth_ip(fresh++);

			guard_connect(g, &ip, GUARD_SMTP, T0 + k);
		}
		if (k >= N && k % 701 == 0)
			guard_set_max_tracked(g, stats(g).tracked + 200);
		if (k % 701 == 350)
			guard_set_max_tracked(g, 16 * N);
	}
	/* Failures pile up to COUNT per address: the COUNT-th blocks, the
	 * one after it is pretended. */
	CHECK(failed == COUNT * N);
	CHECK(pretended == N);
	CHECK(stats(g).blocked == N);
	CHECK(stats(g).evictions == 0);
	guard_free(&g);
}

/* guard_connect_prefetch() only fetches: a guard told of each batch of
 * connections before deciding it answers exactly as one that is not,
 * while blocks, list entries, expiry and the table's growth change what
 * the fetched lines hold. Some batches end early: their last prefetched
 * address is never decided. (Evictions pick by hash, so two guards
 * evict alike only without them: the cap is out of reach here.) */
static void
test_connect_prefetch_is_only_a_hint(void)
{
	enum { POOL = 3000, HOT = 40, BATCH = 8, ROUNDS = 4000 };
	struct guard *g[2];
	struct guard_stats st[2];
	uint64_t now = T0;
	unsigned bad = 0, refused = 0, decided = 0;

	for (int k = 0; k < 2; k++) {
		struct guard_list_entry e;

		g[k] = new_guard(4 * POOL);
		set_one_rule(g[k], rule_of("dos", GUARD_EV_CONNECT,
		    ALL_PROTOS, 6, 10 * SEC, 20 * SEC,
		    GUARD_BLOCK_CONNECTIONS));
		memset(&e, 0, sizeof(e));
		e.range = cidr_of("10.0.1.0/24");
		e.list = GUARD_DENY;
		guard_list_set(g[k], &e);
		e.range = cidr_of("10.0.1.128/25");
		e.list = GUARD_ALLOW;
		guard_list_set(g[k], &e);
	}
	for (unsigned r = 0; r < ROUNDS; r++) {
		struct ipaddr ip[BATCH];
		unsigned n = BATCH - (r % 5 == 0);

		for (unsigned i = 0; i < BATCH; i++) {
			uint64_t x = rng();
			unsigned pool = x & 1 ? HOT : POOL;

			ip[i] = growth_ip((unsigned)((x >> 1) % pool));
			guard_connect_prefetch(g[0], &ip[i], GUARD_SMTP);
		}
		for (unsigned i = 0; i < n; i++) {
			enum guard_verdict v = guard_connect(g[0], &ip[i],
			    GUARD_SMTP, now);

			bad += v != guard_connect(g[1], &ip[i], GUARD_SMTP,
			    now);
			refused += v != GUARD_ACCEPT;
			decided++;
		}
		now += 37;
		if (r % 50 == 0) {
			guard_expire(g[0], now);
			guard_expire(g[1], now);
		}
	}
	CHECK(bad == 0);
	CHECK(refused > 0 && refused < decided);
	st[0] = stats(g[0]);
	st[1] = stats(g[1]);
	CHECK(st[0].blocks > 0 && st[0].blocks == st[1].blocks);
	CHECK(st[0].refused_blocked > 0 &&
	    st[0].refused_blocked == st[1].refused_blocked);
	CHECK(st[0].refused_denied > 0 &&
	    st[0].refused_denied == st[1].refused_denied);
	CHECK(st[0].evictions == 0 && st[1].evictions == 0);
	CHECK(st[0].tracked > 2000 && st[0].tracked == st[1].tracked);
	CHECK(st[0].blocked == st[1].blocked);
	guard_free(&g[0]);
	guard_free(&g[1]);
}

/* Many addresses with logins in flight at once, begun and ended
 * interleaved: each address's count is its own (the in-flight table
 * grows and deletes without losing one). */
static void
test_login_flights_many_addresses(void)
{
	enum { N = 3000, K = 5 };
	static struct guard_login t[N][K + 1];
	struct guard *g = new_guard(100000);
	unsigned ok = 0, blocked = 0;

	set_one_rule(g, rule_of("invalid-login", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, K, MIN, MIN, GUARD_BLOCK_LOGINS));
	/* Address i has K - 1 + (i % 2) wrong passwords in flight, then a
	 * right one. */
	for (unsigned j = 0; j <= K; j++)
		for (unsigned i = 0; i < N; i++) {
			struct ipaddr ip = growth_ip(i);

			if (j < K - 1 + i % 2 || j == K)
				guard_login_begin(g, &ip, GUARD_IMAP, T0,
				    &t[i][j]);
		}
	/* The right ones end first: allowed only with K - 1 in flight. */
	for (unsigned i = 0; i < N; i++) {
		enum guard_login_result r = guard_login_end(g, &t[i][K], 1,
		    "u", T0);

		CHECK(r == (i % 2 ? GUARD_LOGIN_BLOCKED : GUARD_LOGIN_OK));
		ok += r == GUARD_LOGIN_OK;
		blocked += r == GUARD_LOGIN_BLOCKED;
	}
	CHECK(ok == N / 2 && blocked == N / 2);
	/* Then the wrong ones, from the last address to the first. */
	for (unsigned i = N; i-- > 0;)
		for (unsigned j = 0; j < K - 1 + i % 2; j++)
			CHECK(guard_login_end(g, &t[i][j], 0, "u", T0) !=
			    GUARD_LOGIN_OK);
	CHECK(stats(g).blocked == N / 2);
	/* Nothing is left in flight: a right password from an unblocked
	 * address, with its K - 1 failures made, still gets in. */
	for (unsigned i = 0; i < N; i += 2) {
		struct ipaddr ip = growth_ip(i);

		CHECK(login(g, &ip, 1, T0 + 1) == GUARD_LOGIN_OK);
	}
	guard_free(&g);
}

/* Mixed: some failures already made, some in flight. */
static void
test_login_made_plus_in_flight(void)
{
	struct ipaddr a = ip_of("192.0.2.21");

	for (unsigned made = 0; made <= 5; made++) {
		for (unsigned flight = 0; made + flight <= 6; flight++) {
			struct guard *g = login_guard();
			struct guard_login t[8], tr;
			enum guard_login_result r, want;

			for (unsigned i = 0; i < made; i++)
				CHECK(login(g, &a, 0, T0 + i) ==
				    GUARD_LOGIN_FAILED);
			for (unsigned i = 0; i < flight; i++)
				guard_login_begin(g, &a, GUARD_IMAP, T0 + 10,
				    &t[i]);
			guard_login_begin(g, &a, GUARD_IMAP, T0 + 10, &tr);
			r = guard_login_end(g, &tr, 1, "u", T0 + 11);
			want = made + flight < 5 ? GUARD_LOGIN_OK :
			    GUARD_LOGIN_BLOCKED;
			if (r != want)
				fprintf(stderr, "  made %u flight %u: %d\n",
				    made, flight, r);
			CHECK(r == want);
			for (unsigned i = 0; i < flight; i++)
				guard_login_end(g, &t[i], 1, "u", T0 + 12);
			guard_free(&g);
		}
	}
}

/* A right password that ends while the others are in flight does not
 * count as a failure: the in-flight ones that then fail still leave
 * room for a later right one. */
static void
test_login_success_not_counted(void)
{
	struct guard *g = login_guard();
	struct ipaddr a = ip_of("192.0.2.22");

	for (int i = 0; i < 20; i++)
		CHECK(login(g, &a, 1, T0 + (uint64_t)i) == GUARD_LOGIN_OK);
	for (int i = 0; i < 4; i++)
		CHECK(login(g, &a, 0, T0 + 100) == GUARD_LOGIN_FAILED);
	CHECK(login(g, &a, 1, T0 + 101) == GUARD_LOGIN_OK);
	CHECK(rec.fired == 0);
	guard_free(&g);
}

/* invalid-login then brute-force: failures keep counting while
 * login-blocked, and the 50th blocks connections. */
static void
test_escalation(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.30");
	const struct guard_rule *rules;
	size_t n;
	uint64_t t = T0;

	rules = default_rules(&n);
	guard_set_rules(g, rules, n);
	for (int i = 1; i <= 50; i++) {
		enum guard_login_result r = login(g, &a, 0, t += 100);

		CHECK(r == (i <= 5 ? GUARD_LOGIN_FAILED :
		    GUARD_LOGIN_BLOCKED));
		if (i == 5)
			CHECK(fires_of("invalid-login") == 1);
		if (i < 50) {
			CHECK(guard_connect(g, &a, GUARD_SMTP, t) ==
			    GUARD_ACCEPT);
			CHECK(fires_of("brute-force") == 0);
		}
	}
	CHECK(fires_of("invalid-login") == 1);
	CHECK(fires_of("brute-force") == 1);
	CHECK(rec.block.kind == GUARD_BLOCK_CONNECTIONS);
	CHECK(rec.block.until_ms == t + 30 * MIN);
	CHECK(rec.block.attempts == 50);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t) == GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &a, GUARD_HTTP, t + 30 * MIN - 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(login(g, &a, 1, t + 1) == GUARD_LOGIN_BLOCKED);
	/* further failures do not fire again */
	for (int i = 0; i < 20; i++)
		login(g, &a, 0, t + 2);
	CHECK(rec.fired == 2);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t + 30 * MIN) == GUARD_ACCEPT);
	guard_free(&g);
}

/* A brute-force rule alone: 50 failures refuse connect. */
static void
test_brute_force_refuses_connect(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("2001:db8:99::1");

	set_one_rule(g, rule_of("brute-force", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, 50, 10 * MIN, 30 * MIN, GUARD_BLOCK_CONNECTIONS));
	for (int i = 0; i < 49; i++)
		CHECK(login(g, &a, 0, T0 + (uint64_t)i) == GUARD_LOGIN_FAILED);
	CHECK(guard_connect(g, &a, GUARD_IMAP, T0 + 49) == GUARD_ACCEPT);
	CHECK(login(g, &a, 0, T0 + 49) == GUARD_LOGIN_FAILED);
	CHECK(guard_connect(g, &a, GUARD_IMAP, T0 + 50) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(login(g, &a, 1, T0 + 50) == GUARD_LOGIN_BLOCKED);
	guard_free(&g);
}

/* A login rule of kind NONE only alerts (guard.h): it never makes a
 * right password fail. */
static void
test_login_alert_only_rule(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.35");
	enum guard_login_result r;

	set_one_rule(g, rule_of("login-alert", GUARD_EV_AUTH_FAIL,
	    ALL_PROTOS, 3, 10 * MIN, 0, GUARD_BLOCK_NONE));
	for (int i = 0; i < 3; i++)
		CHECK(login(g, &a, 0, T0) == GUARD_LOGIN_FAILED);
	CHECK(rec.fired == 1 && rec.fired_with_block == 0);
	CHECK(stats(g).blocked == 0);
	r = login(g, &a, 1, T0 + 1);
	if (r != GUARD_LOGIN_OK)
		fprintf(stderr, "  alert-only rule, 3 failures, right "
		    "password: %d\n", r);
	CHECK(r == GUARD_LOGIN_OK);
	CHECK(stats(g).logins_pretended == 0);
	guard_free(&g);
}

/* fired once per block, with its contents; not again while in force;
 * again after the block ended. */
static void
test_hook_once_per_block(void)
{
	struct guard *g = login_guard();
	struct ipaddr a = ip_of("192.0.2.40");
	struct cidr key = guard_key(g, &a);
	uint64_t t = T0, until;

	for (int i = 0; i < 5; i++)
		login(g, &a, 0, t += 10);
	CHECK(rec.fired == 1 && rec.fired_with_block == 1);
	CHECK_STR(rec.rule.name, "invalid-login");
	CHECK(rec.rule.count == 5);
	CHECK(cidr_eq(&rec.block.range, &key));
	CHECK(rec.block.kind == GUARD_BLOCK_LOGINS);
	CHECK(rec.block.created_ms == t);
	CHECK(rec.block.until_ms == t + 10 * MIN);
	CHECK_STR(rec.block.rule, "invalid-login");
	CHECK(rec.block.attempts == 5);
	CHECK(rec.block.proto == GUARD_SMTP);
	CHECK(rec.user_null);
	until = rec.block.until_ms;
	/* 100 more failures inside the block: no new fire */
	for (int i = 0; i < 100; i++)
		CHECK(login(g, &a, 0, t + 1 + (uint64_t)i) ==
		    GUARD_LOGIN_BLOCKED);
	CHECK(rec.fired == 1);
	CHECK(stats(g).blocks == 1);
	/* after the block: 5 more failures fire again, once */
	for (int i = 0; i < 5; i++)
		login(g, &a, 0, until + 10 * MIN + (uint64_t)i);
	CHECK(rec.fired == 2);
	CHECK(rec.block.created_ms == until + 10 * MIN + 4);
	guard_free(&g);
}

/* ---- lists ---- */

static void
test_allow_never_counted(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.50"), v6 = ip_of("2001:db8:7::9");
	struct guard_list_entry e;
	const struct guard_rule *rules;
	size_t n;

	rules = default_rules(&n);
	guard_set_rules(g, rules, n);
	memset(&e, 0, sizeof(e));
	e.range = cidr_of("192.0.2.50/32");
	e.list = GUARD_ALLOW;
	snprintf(e.comment, sizeof(e.comment), "monitoring");
	guard_list_set(g, &e);
	e.range = cidr_of("2001:db8:7::/48");
	guard_list_set(g, &e);
	for (int i = 0; i < 500; i++) {
		CHECK(guard_connect(g, &a, GUARD_SMTP, T0) == GUARD_ACCEPT);
		CHECK(guard_connect(g, &v6, GUARD_SMTP, T0) == GUARD_ACCEPT);
		CHECK(login(g, &a, 0, T0) == GUARD_LOGIN_FAILED);
		CHECK(login(g, &v6, 0, T0) == GUARD_LOGIN_FAILED);
		guard_session_end(g, &a, GUARD_SMTP, 0, T0);
		guard_unknown_rcpt(g, &a, GUARD_SMTP, T0);
	}
	CHECK(login(g, &a, 1, T0) == GUARD_LOGIN_OK);
	CHECK(login(g, &v6, 1, T0) == GUARD_LOGIN_OK);
	CHECK(rec.fired == 0);
	CHECK(stats(g).tracked == 0);
	CHECK(stats(g).blocked == 0);
	CHECK(guard_block_find(g, &a, T0) == NULL);
	/* an allow-listed address is not refused by a block either */
	{
		struct guard_block b;

		memset(&b, 0, sizeof(b));
		b.range = cidr_of("192.0.2.0/24");
		b.kind = GUARD_BLOCK_CONNECTIONS;
		guard_block_add(g, &b);
		CHECK(guard_connect(g, &a, GUARD_SMTP, T0) == GUARD_ACCEPT);
		CHECK(login(g, &a, 1, T0) == GUARD_LOGIN_OK);
	}
	guard_free(&g);
}

static void
test_deny_hook(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("203.0.113.9");
	struct guard_list_entry e;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS));
	memset(&e, 0, sizeof(e));
	e.range = cidr_of("203.0.113.0/24");
	e.list = GUARD_DENY;
	snprintf(e.comment, sizeof(e.comment), "spam source");
	guard_list_set(g, &e);
	for (int i = 0; i < 10; i++)
		CHECK(guard_connect(g, &a, GUARD_IMAP, T0) ==
		    GUARD_REFUSE_DENIED);
	CHECK(rec.denied == 10);
	CHECK(memcmp(rec.denied_ip.a, a.a, 16) == 0);
	CHECK(cidr_eq(&rec.denied_entry.range, &e.range));
	CHECK(rec.denied_entry.list == GUARD_DENY);
	CHECK_STR(rec.denied_entry.comment, "spam source");
	CHECK(rec.denied_proto == GUARD_IMAP);
	CHECK(stats(g).refused_denied == 10);
	CHECK(stats(g).refused_blocked == 0);
	/* denied connections are not counted, so no block */
	CHECK(rec.fired == 0 && stats(g).tracked == 0);
	CHECK(guard_list_del(g, &e.range, GUARD_DENY) == 1);
	CHECK(guard_list_del(g, &e.range, GUARD_DENY) == 0);
	CHECK(guard_connect(g, &a, GUARD_IMAP, T0) == GUARD_ACCEPT);
	guard_free(&g);
}

struct list_item {
	const char *range;
	enum guard_list list;
	uint64_t expires;	/* offset from T0; 0: never */
	const char *comment;
};

struct list_query {
	const char *ip;
	uint64_t at;		/* offset from T0 */
	enum guard_verdict want;
	const char *entry;	/* comment of the deciding entry, or NULL */
};

struct list_case {
	struct list_item items[4];
	struct list_query q[6];
};

static const struct list_case list_cases[] = {
	/* an allowed /32 inside a denied /16 */
	{ { { "10.0.0.0/16", GUARD_DENY, 0, "d16" },
	    { "10.0.1.5/32", GUARD_ALLOW, 0, "a32" } },
	  { { "10.0.1.5", 0, GUARD_ACCEPT, "a32" },
	    { "10.0.1.6", 0, GUARD_REFUSE_DENIED, "d16" },
	    { "10.1.0.1", 0, GUARD_ACCEPT, NULL } } },
	/* a denied /32 inside an allowed /16 */
	{ { { "10.1.0.0/16", GUARD_ALLOW, 0, "a16" },
	    { "10.1.2.3", GUARD_DENY, 0, "d32" } },
	  { { "10.1.2.3", 0, GUARD_REFUSE_DENIED, "d32" },
	    { "10.1.2.4", 0, GUARD_ACCEPT, "a16" } } },
	/* equal prefixes: deny wins */
	{ { { "10.2.0.0/24", GUARD_ALLOW, 0, "a24" },
	    { "10.2.0.0/24", GUARD_DENY, 0, "d24" } },
	  { { "10.2.0.9", 0, GUARD_REFUSE_DENIED, "d24" } } },
	/* expiry: in force until expires_ms, exclusive */
	{ { { "10.3.0.0/24", GUARD_DENY, 5000, "d-exp" } },
	  { { "10.3.0.1", 0, GUARD_REFUSE_DENIED, "d-exp" },
	    { "10.3.0.1", 4999, GUARD_REFUSE_DENIED, "d-exp" },
	    { "10.3.0.1", 5000, GUARD_ACCEPT, NULL },
	    { "10.3.0.1", 9999999, GUARD_ACCEPT, NULL } } },
	/* an expired allowed /32 no longer shadows the denied /16 */
	{ { { "10.4.0.0/16", GUARD_DENY, 0, "d16" },
	    { "10.4.0.7", GUARD_ALLOW, 100, "a-exp" } },
	  { { "10.4.0.7", 99, GUARD_ACCEPT, "a-exp" },
	    { "10.4.0.7", 100, GUARD_REFUSE_DENIED, "d16" } } },
	/* an expired longer deny: the allow beneath decides */
	{ { { "10.5.0.0/16", GUARD_ALLOW, 0, "a16" },
	    { "10.5.0.0/24", GUARD_DENY, 100, "d-exp" } },
	  { { "10.5.0.1", 0, GUARD_REFUSE_DENIED, "d-exp" },
	    { "10.5.0.1", 100, GUARD_ACCEPT, "a16" } } },
	/* IPv6 ranges */
	{ { { "2001:db8::/32", GUARD_DENY, 0, "d32" },
	    { "2001:db8:1::/48", GUARD_ALLOW, 0, "a48" },
	    { "2001:db8:1:2::7/128", GUARD_DENY, 0, "d128" } },
	  { { "2001:db8:1::1", 0, GUARD_ACCEPT, "a48" },
	    { "2001:db8:2::1", 0, GUARD_REFUSE_DENIED, "d32" },
	    { "2001:db8:1:2::7", 0, GUARD_REFUSE_DENIED, "d128" },
	    { "2001:db8:1:2::8", 0, GUARD_ACCEPT, "a48" },
	    { "2001:db9::1", 0, GUARD_ACCEPT, NULL },
	    { "10.0.0.1", 0, GUARD_ACCEPT, NULL } } },
	/* ::/0 is every IPv6 address, no IPv4 one */
	{ { { "::/0", GUARD_DENY, 0, "all6" } },
	  { { "2001:db8::1", 0, GUARD_REFUSE_DENIED, "all6" },
	    { "::1", 0, GUARD_REFUSE_DENIED, "all6" },
	    { "192.0.2.1", 0, GUARD_ACCEPT, NULL },
	    { "127.0.0.1", 0, GUARD_ACCEPT, NULL } } },
	/* 0.0.0.0/0 is every IPv4 address, no IPv6 one */
	{ { { "0.0.0.0/0", GUARD_DENY, 0, "all4" } },
	  { { "192.0.2.1", 0, GUARD_REFUSE_DENIED, "all4" },
	    { "0.0.0.0", 0, GUARD_REFUSE_DENIED, "all4" },
	    { "2001:db8::1", 0, GUARD_ACCEPT, NULL },
	    { "::", 0, GUARD_ACCEPT, NULL } } },
	/* deny all IPv4 but allow a /8, deny all IPv6 but allow a /64 */
	{ { { "0.0.0.0/0", GUARD_DENY, 0, "all4" },
	    { "127.0.0.0/8", GUARD_ALLOW, 0, "lo" },
	    { "::/0", GUARD_DENY, 0, "all6" },
	    { "2001:db8:5:6::/64", GUARD_ALLOW, 0, "net64" } },
	  { { "127.1.2.3", 0, GUARD_ACCEPT, "lo" },
	    { "128.0.0.1", 0, GUARD_REFUSE_DENIED, "all4" },
	    { "2001:db8:5:6::abcd", 0, GUARD_ACCEPT, "net64" },
	    { "2001:db8:5:7::1", 0, GUARD_REFUSE_DENIED, "all6" } } },
};

static void
test_list_table(void)
{
	for (size_t c = 0; c < sizeof(list_cases) / sizeof(list_cases[0]);
	    c++) {
		const struct list_case *lc = &list_cases[c];
		struct guard *g = new_guard(1000);

		set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS,
		    1000, MIN, MIN, GUARD_BLOCK_CONNECTIONS));
		for (size_t i = 0; i < 4 && lc->items[i].range != NULL; i++) {
			const struct list_item *it = &lc->items[i];
			struct guard_list_entry e;

			memset(&e, 0, sizeof(e));
			e.range = cidr_of(it->range);
			e.list = it->list;
			e.expires_ms = it->expires ? T0 + it->expires : 0;
			snprintf(e.comment, sizeof(e.comment), "%s",
			    it->comment);
			guard_list_set(g, &e);
		}
		for (size_t i = 0; i < 6 && lc->q[i].ip != NULL; i++) {
			const struct list_query *q = &lc->q[i];
			struct ipaddr ip = ip_of(q->ip);
			const struct guard_list_entry *m;
			enum guard_verdict v;

			m = guard_list_match(g, &ip, T0 + q->at);
			v = guard_connect(g, &ip, GUARD_SMTP, T0 + q->at);
			if (v != q->want || (m == NULL) != (q->entry == NULL) ||
			    (m != NULL && strcmp(m->comment, q->entry) != 0)) {
				fprintf(stderr, "  case %zu %s at +%llu: "
				    "verdict %d, entry %s\n", c, q->ip,
				    (unsigned long long)q->at, v,
				    m ? m->comment : "none");
				CHECK(!"list decision");
			}
		}
		guard_free(&g);
	}
}

static void
test_list_replace_del_clear_expire(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("10.9.0.1");
	struct guard_list_entry e;

	memset(&e, 0, sizeof(e));
	e.range = cidr_of("10.9.0.0/16");
	e.list = GUARD_DENY;
	snprintf(e.comment, sizeof(e.comment), "first");
	guard_list_set(g, &e);
	snprintf(e.comment, sizeof(e.comment), "second");
	e.expires_ms = T0 + 10;
	guard_list_set(g, &e);
	CHECK(guard_list_match(g, &a, T0) != NULL);
	CHECK_STR(guard_list_match(g, &a, T0)->comment, "second");
	CHECK(guard_list_match(g, &a, T0 + 10) == NULL);
	/* guard_expire drops expired list entries */
	guard_expire(g, T0 + 10);
	CHECK(guard_list_del(g, &e.range, GUARD_DENY) == 0);
	e.expires_ms = 0;
	guard_list_set(g, &e);
	/* the other list's range of the same text is another entry */
	CHECK(guard_list_del(g, &e.range, GUARD_ALLOW) == 0);
	CHECK(guard_list_match(g, &a, T0) != NULL);
	guard_list_clear(g);
	CHECK(guard_list_match(g, &a, T0) == NULL);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0) == GUARD_ACCEPT);
	/* usable after clearing */
	guard_list_set(g, &e);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0) == GUARD_REFUSE_DENIED);
	guard_free(&g);
}

/* ---- IPv6 aggregation ---- */

static void
test_ipv6_aggregation(void)
{
	struct guard *g = new_guard(1000);
	char s[64];
	struct ipaddr other = ip_of("2001:db8:1:3::1");
	struct cidr net = cidr_of("2001:db8:1:2::/64");

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 5, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS));
	/* five different addresses of one /64 */
	for (int i = 1; i <= 5; i++) {
		struct ipaddr ip;

		snprintf(s, sizeof(s), "2001:db8:1:2:%x::%x", i * 7, i);
		ip = ip_of(s);
		CHECK(guard_connect(g, &ip, GUARD_SMTP, T0) == GUARD_ACCEPT);
	}
	CHECK(rec.fired == 1);
	CHECK(cidr_eq(&rec.block.range, &net));
	CHECK(stats(g).tracked == 1);
	/* rotating within the /64 does not help */
	for (int i = 100; i < 120; i++) {
		struct ipaddr ip;

		snprintf(s, sizeof(s), "2001:db8:1:2:ffff:%x::1", i);
		ip = ip_of(s);
		CHECK(guard_connect(g, &ip, GUARD_SMTP, T0 + 1) ==
		    GUARD_REFUSE_BLOCKED);
	}
	/* the next /64 is separate */
	CHECK(guard_connect(g, &other, GUARD_SMTP, T0 + 1) == GUARD_ACCEPT);
	guard_free(&g);
}

static void
test_ipv6_prefix_48(void)
{
	struct guard *g = new_guard(1000);
	char s[64];
	struct ipaddr other = ip_of("2001:db8:2::1");
	struct cidr net = cidr_of("2001:db8:1::/48");

	guard_set_ipv6_prefix(g, 48);
	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 5, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS));
	/* five different /64s of one /48 */
	for (int i = 1; i <= 5; i++) {
		struct ipaddr ip;

		snprintf(s, sizeof(s), "2001:db8:1:%x::1", i * 0x1111);
		ip = ip_of(s);
		CHECK(guard_connect(g, &ip, GUARD_SMTP, T0) == GUARD_ACCEPT);
	}
	CHECK(rec.fired == 1);
	CHECK(cidr_eq(&rec.block.range, &net));
	{
		struct ipaddr ip = ip_of("2001:db8:1:ffff::2");

		CHECK(guard_connect(g, &ip, GUARD_SMTP, T0) ==
		    GUARD_REFUSE_BLOCKED);
	}
	CHECK(guard_connect(g, &other, GUARD_SMTP, T0) == GUARD_ACCEPT);
	guard_free(&g);
}

/* Logins from one /64 count together and are blocked together. */
static void
test_ipv6_login_aggregation(void)
{
	struct guard *g = login_guard();
	char s[64];

	for (int i = 1; i <= 5; i++) {
		struct ipaddr ip;

		snprintf(s, sizeof(s), "2001:db8:aa:bb::%x", i);
		ip = ip_of(s);
		CHECK(login(g, &ip, 0, T0) == GUARD_LOGIN_FAILED);
	}
	{
		struct ipaddr ip = ip_of("2001:db8:aa:bb:1:2:3:4");
		struct ipaddr ip2 = ip_of("2001:db8:aa:bc::1");

		CHECK(login(g, &ip, 1, T0) == GUARD_LOGIN_BLOCKED);
		CHECK(login(g, &ip2, 1, T0) == GUARD_LOGIN_OK);
	}
	guard_free(&g);
}

/* ---- admin blocks ---- */

static void
test_admin_block_cidr(void)
{
	struct guard *g = new_guard(1000);
	struct guard_block b;
	struct ipaddr in = ip_of("10.200.3.4"), out = ip_of("11.0.0.1");
	const struct guard_block *f;

	memset(&b, 0, sizeof(b));
	b.range = cidr_of("10.0.0.0/8");
	b.kind = GUARD_BLOCK_CONNECTIONS;
	b.created_ms = T0;
	b.until_ms = T0 + HOUR;
	snprintf(b.reason, sizeof(b.reason), "abuse report");
	guard_block_add(g, &b);
	CHECK(rec.fired == 0);
	CHECK(guard_connect(g, &in, GUARD_SMTP, T0) == GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &out, GUARD_SMTP, T0) == GUARD_ACCEPT);
	CHECK(login(g, &in, 1, T0) == GUARD_LOGIN_BLOCKED);
	f = guard_block_find(g, &in, T0);
	CHECK(f != NULL && f->rule[0] == '\0');
	CHECK(f != NULL && strcmp(f->reason, "abuse report") == 0);
	/* a longer one inside it: replaced, not added, for the same range */
	b.until_ms = T0 + 2 * HOUR;
	guard_block_add(g, &b);
	CHECK(stats(g).blocked == 1);
	CHECK(guard_connect(g, &in, GUARD_SMTP, T0 + HOUR) ==
	    GUARD_REFUSE_BLOCKED);
	/* lifting a range that is not blocked */
	{
		struct cidr none = cidr_of("10.0.0.0/16");

		CHECK(guard_unblock(g, &none, T0) == 0);
		CHECK(rec.lifted == 0);
	}
	CHECK(guard_unblock(g, &b.range, T0) == 1);
	CHECK(rec.lifted == 1 && rec.last_expired == 0 &&
	    rec.lifted_expired == 0);
	CHECK(cidr_eq(&rec.lifted_block.range, &b.range));
	CHECK_STR(rec.lifted_block.reason, "abuse report");
	CHECK(guard_unblock(g, &b.range, T0) == 0);
	CHECK(guard_connect(g, &in, GUARD_SMTP, T0 + 1) == GUARD_ACCEPT);
	CHECK(login(g, &in, 1, T0 + 1) == GUARD_LOGIN_OK);
	guard_free(&g);
}

/* Blocks at today's clock, where the block map's tags decide while a
 * block is surely in force (most tests run at 1970, where they never
 * do): exact to the millisecond at both ends, one firing per block,
 * escalation from logins to connections, blocks without an end. */
static void
test_blocks_at_a_real_clock(void)
{
	const uint64_t t0 = 1795000000123ULL;	/* 2026, not a whole second */
	struct guard *g = new_guard(1000);
	struct guard_rule rules[3];
	struct ipaddr a = ip_of("198.51.100.20"), b = ip_of("198.51.100.21");
	struct ipaddr c = ip_of("198.51.100.22");
	struct guard_block blk;

	rules[0] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3, MIN, MIN,
	    GUARD_BLOCK_CONNECTIONS);
	rules[1] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS, 3,
	    HOUR, 10 * MIN, GUARD_BLOCK_LOGINS);
	rules[2] = rule_of("brute-force", GUARD_EV_AUTH_FAIL, ALL_PROTOS, 6,
	    HOUR, 30 * MIN, GUARD_BLOCK_CONNECTIONS);
	guard_set_rules(g, rules, 3);
	for (int i = 0; i < 3; i++)
		CHECK(guard_connect(g, &a, GUARD_SMTP, t0) == GUARD_ACCEPT);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t0) == GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t0 + 30 * SEC) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t0 + MIN - 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t0 + MIN) == GUARD_ACCEPT);
	CHECK(rec.fired == 1);

	/* Logins: blocked at the 3rd failure, fired once however many
	 * more; the right password pretends to fail throughout. */
	for (int i = 0; i < 3; i++)
		CHECK(login(g, &b, 0, t0 + (uint64_t)i) != GUARD_LOGIN_OK);
	CHECK(rec.fired == 2 && rec.block.kind == GUARD_BLOCK_LOGINS);
	CHECK(login(g, &b, 1, t0 + 10) == GUARD_LOGIN_BLOCKED);
	CHECK(login(g, &b, 0, t0 + 11) == GUARD_LOGIN_BLOCKED);
	CHECK(login(g, &b, 0, t0 + 12) == GUARD_LOGIN_BLOCKED);
	CHECK(rec.fired == 2);
	CHECK(guard_connect(g, &b, GUARD_SMTP, t0 + 13) == GUARD_ACCEPT);
	/* The 6th failure: connections blocked for 30 min from then. */
	CHECK(login(g, &b, 0, t0 + 14) == GUARD_LOGIN_BLOCKED);
	CHECK(rec.fired == 3 && rec.block.kind == GUARD_BLOCK_CONNECTIONS);
	CHECK(login(g, &b, 0, t0 + 15) == GUARD_LOGIN_BLOCKED);
	CHECK(rec.fired == 3);
	CHECK(guard_connect(g, &b, GUARD_SMTP, t0 + 14 + 30 * MIN - 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &b, GUARD_SMTP, t0 + 14 + 30 * MIN) ==
	    GUARD_ACCEPT);
	CHECK(login(g, &b, 1, t0 + 14 + 30 * MIN) == GUARD_LOGIN_OK);

	/* An admin block without an end, and one replaced by a shorter. */
	memset(&blk, 0, sizeof(blk));
	blk.range = cidr_of("198.51.100.22/32");
	blk.kind = GUARD_BLOCK_CONNECTIONS;
	guard_block_add(g, &blk);
	CHECK(guard_connect(g, &c, GUARD_SMTP, t0 + 3650 * 24 * HOUR) ==
	    GUARD_REFUSE_BLOCKED);
	blk.until_ms = t0 + 2 * SEC;
	guard_block_add(g, &blk);
	CHECK(guard_connect(g, &c, GUARD_SMTP, t0 + 2 * SEC - 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &c, GUARD_SMTP, t0 + 2 * SEC) == GUARD_ACCEPT);

	/* A logins block on the address inside a connections block on its
	 * /24: the stronger decides, from either side. */
	blk.range = cidr_of("203.0.113.30/32");
	blk.kind = GUARD_BLOCK_LOGINS;
	blk.until_ms = t0 + HOUR;
	guard_block_add(g, &blk);
	blk.range = cidr_of("203.0.113.0/24");
	blk.kind = GUARD_BLOCK_CONNECTIONS;
	guard_block_add(g, &blk);
	{
		struct ipaddr d = ip_of("203.0.113.30");

		CHECK(guard_connect(g, &d, GUARD_SMTP, t0 + MIN) ==
		    GUARD_REFUSE_BLOCKED);
		CHECK(guard_unblock(g, &blk.range, t0 + MIN) == 1);
		CHECK(guard_connect(g, &d, GUARD_SMTP, t0 + MIN) ==
		    GUARD_ACCEPT);
		CHECK(login(g, &d, 1, t0 + MIN) == GUARD_LOGIN_BLOCKED);
	}
	guard_free(&g);
}

/* The flooding hook: at every multiple of the threshold of refusals by
 * one block or deny entry; and which ranges are refused whole. */
static void
test_flooding(void)
{
	struct guard *g = new_guard(1000);
	struct guard_block b;
	struct guard_list_entry d, a;
	struct ipaddr in = ip_of("10.1.2.3"), other = ip_of("10.1.2.4");
	struct ipaddr den = ip_of("192.0.2.77"), den2 = ip_of("192.0.2.1");
	struct cidr host = cidr_of("10.1.2.3/32");

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS));
	/* Off by default: no hook however many refusals. */
	for (int i = 0; i < 3; i++)
		CHECK(guard_connect(g, &in, GUARD_SMTP, T0) == GUARD_ACCEPT);
	for (int i = 0; i < 20; i++)
		CHECK(guard_connect(g, &in, GUARD_SMTP, T0) ==
		    GUARD_REFUSE_BLOCKED);
	CHECK(rec.flooding == 0);
	CHECK(guard_refuses_range(g, &host, T0) == 1);
	/* 20 refusals so far: with a threshold of 8, the 24th and 32nd. */
	guard_set_flood(g, 8);
	for (int i = 0; i < 3; i++)
		CHECK(guard_connect(g, &in, GUARD_POP3, T0) ==
		    GUARD_REFUSE_BLOCKED);
	CHECK(rec.flooding == 0);
	CHECK(guard_connect(g, &in, GUARD_POP3, T0) == GUARD_REFUSE_BLOCKED);
	CHECK(rec.flooding == 1 && cidr_eq(&rec.flooding_range, &host));
	CHECK(rec.flooding_refused == 24);
	for (int i = 0; i < 8; i++)
		(void)guard_connect(g, &in, GUARD_POP3, T0);
	CHECK(rec.flooding == 2 && rec.flooding_refused == 32);
	/* Another address has its own count. */
	CHECK(guard_connect(g, &other, GUARD_SMTP, T0) == GUARD_ACCEPT);
	/* The block ends: nothing refused, range no longer refused whole. */
	CHECK(guard_refuses_range(g, &host, T0 + MIN - 1) == 1);
	CHECK(guard_refuses_range(g, &host, T0 + MIN) == 0);
	CHECK(guard_refuses_range(g, &(struct cidr){ in, 127 }, T0) == 0);

	/* A deny entry: counted per entry, for its whole range. */
	memset(&d, 0, sizeof(d));
	d.range = cidr_of("192.0.2.0/24");
	d.list = GUARD_DENY;
	guard_list_set(g, &d);
	rec.flooding = 0;
	for (int i = 0; i < 8; i++)
		CHECK(guard_connect(g, i % 2 ? &den : &den2, GUARD_IMAP,
		    T0) == GUARD_REFUSE_DENIED);
	CHECK(rec.flooding == 1 && cidr_eq(&rec.flooding_range, &d.range));
	CHECK(guard_refuses_range(g, &d.range, T0) == 1);
	/* An allowed address inside, or around, it: not refused whole. */
	memset(&a, 0, sizeof(a));
	a.range = cidr_of("192.0.2.7/32");
	a.list = GUARD_ALLOW;
	guard_list_set(g, &a);
	CHECK(guard_refuses_range(g, &d.range, T0) == 0);
	CHECK(guard_list_del(g, &a.range, GUARD_ALLOW) == 1);
	a.range = cidr_of("192.0.0.0/16");
	guard_list_set(g, &a);
	CHECK(guard_refuses_range(g, &d.range, T0) == 0);
	CHECK(guard_list_del(g, &a.range, GUARD_ALLOW) == 1);
	/* An allow entry elsewhere changes nothing. */
	a.range = cidr_of("198.51.100.0/24");
	guard_list_set(g, &a);
	CHECK(guard_refuses_range(g, &d.range, T0) == 1);
	CHECK(guard_list_del(g, &d.range, GUARD_DENY) == 1);
	CHECK(guard_refuses_range(g, &d.range, T0) == 0);

	/* A logins block is not a refusal at connect. */
	memset(&b, 0, sizeof(b));
	b.range = cidr_of("10.9.0.0/16");
	b.kind = GUARD_BLOCK_LOGINS;
	b.until_ms = T0 + HOUR;
	guard_block_add(g, &b);
	CHECK(guard_refuses_range(g, &b.range, T0) == 0);
	b.kind = GUARD_BLOCK_CONNECTIONS;
	guard_block_add(g, &b);
	CHECK(guard_refuses_range(g, &b.range, T0) == 1);
	guard_free(&g);
}

static void
test_admin_block_forever(void)
{
	struct guard *g = new_guard(1000);
	struct guard_block b;
	struct ipaddr v6 = ip_of("2001:db8:ff::1");

	memset(&b, 0, sizeof(b));
	b.range = cidr_of("2001:db8::/32");
	b.kind = GUARD_BLOCK_CONNECTIONS;
	b.until_ms = 0;
	guard_block_add(g, &b);
	CHECK(guard_connect(g, &v6, GUARD_SMTP, T0) == GUARD_REFUSE_BLOCKED);
	guard_expire(g, T0 + 1000 * HOUR);
	CHECK(rec.lifted == 0);
	CHECK(guard_connect(g, &v6, GUARD_SMTP, T0 + 1000 * HOUR) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_block_find(g, &v6, UINT64_MAX) != NULL);
	CHECK(guard_unblock(g, &b.range, T0) == 1);
	CHECK(guard_connect(g, &v6, GUARD_SMTP, T0) == GUARD_ACCEPT);
	guard_free(&g);
}

static void
test_admin_block_logins(void)
{
	struct guard *g = new_guard(1000);
	struct guard_block b;
	struct ipaddr in = ip_of("192.0.2.77"), out = ip_of("192.0.2.78");

	memset(&b, 0, sizeof(b));
	b.range = cidr_of("192.0.2.77");
	b.kind = GUARD_BLOCK_LOGINS;
	b.until_ms = T0 + MIN;
	guard_block_add(g, &b);
	CHECK(guard_connect(g, &in, GUARD_SMTP, T0) == GUARD_ACCEPT);
	CHECK(login(g, &in, 1, T0) == GUARD_LOGIN_BLOCKED);
	CHECK(login(g, &in, 0, T0) == GUARD_LOGIN_BLOCKED);
	CHECK(login(g, &out, 1, T0) == GUARD_LOGIN_OK);
	CHECK(login(g, &in, 1, T0 + MIN) == GUARD_LOGIN_OK);
	guard_free(&g);
}

/* A logins-only block of one IPv6 address (or any range longer than
 * the counting prefix) must apply to logins from that address. */
static void
test_admin_block_logins_ipv6_host(void)
{
	static const char *const ranges[] = {
		"2001:db8:1:2:abcd::5/128", "2001:db8:1:2:abcd::/80",
		"2001:db8:1:2::/64", "2001:db8::/32",
	};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		struct guard *g = new_guard(1000);
		struct guard_block b;
		struct ipaddr in = ip_of("2001:db8:1:2:abcd::5");
		enum guard_login_result r;

		memset(&b, 0, sizeof(b));
		b.range = cidr_of(ranges[i]);
		b.kind = GUARD_BLOCK_LOGINS;
		guard_block_add(g, &b);
		CHECK(guard_block_find(g, &in, T0) != NULL);
		r = login(g, &in, 1, T0);
		if (r != GUARD_LOGIN_BLOCKED)
			fprintf(stderr, "  logins block %s: right password "
			    "from 2001:db8:1:2:abcd::5 gives %d\n", ranges[i],
			    r);
		CHECK(r == GUARD_LOGIN_BLOCKED);
		guard_free(&g);
	}
}

/* ---- bad sessions, unknown recipients ---- */

static void
test_bad_sessions(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.90");
	uint64_t t = T0;

	set_one_rule(g, rule_of("bad-sessions", GUARD_EV_BAD_SESSION,
	    SMTP_ONLY, 3, 5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS));
	/* other protocols and good sessions do not count */
	for (int i = 0; i < 10; i++) {
		guard_session_end(g, &a, GUARD_POP3, 0, t++);
		guard_session_end(g, &a, GUARD_IMAP, 0, t++);
		guard_session_end(g, &a, GUARD_SMTP, 1, t++);
	}
	CHECK(rec.fired == 0);
	guard_session_end(g, &a, GUARD_SMTP, 0, t++);
	guard_session_end(g, &a, GUARD_SMTP, 0, t++);
	guard_session_end(g, &a, GUARD_HTTP, 0, t++);
	CHECK(rec.fired == 0);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t) == GUARD_ACCEPT);
	guard_session_end(g, &a, GUARD_SMTP, 0, t);
	CHECK(rec.fired == 1);
	CHECK_STR(rec.block.rule, "bad-sessions");
	CHECK(rec.block.until_ms == t + 5 * MIN);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t) == GUARD_REFUSE_BLOCKED);
	/* a connections block refuses every protocol */
	CHECK(guard_connect(g, &a, GUARD_IMAP, t) == GUARD_REFUSE_BLOCKED);
	guard_free(&g);
}

static void
test_unknown_rcpt(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.91"), b = ip_of("192.0.2.92");
	uint64_t t = T0;

	set_one_rule(g, rule_of("harvest", GUARD_EV_UNKNOWN_RCPT, SMTP_ONLY,
	    4, 5 * MIN, 30 * MIN, GUARD_BLOCK_CONNECTIONS));
	for (int i = 0; i < 10; i++)
		guard_unknown_rcpt(g, &a, GUARD_IMAP, t++);
	for (int i = 0; i < 3; i++) {
		guard_unknown_rcpt(g, &a, GUARD_SMTP, t++);
		guard_unknown_rcpt(g, &b, GUARD_SMTP, t++);
	}
	CHECK(rec.fired == 0);
	/* the 4th, exactly 5 minutes after the 1st: outside */
	guard_unknown_rcpt(g, &a, GUARD_SMTP, T0 + 10 + 5 * MIN);
	CHECK(rec.fired == 0);
	guard_unknown_rcpt(g, &a, GUARD_SMTP, T0 + 10 + 5 * MIN + 1);
	CHECK(rec.fired == 1);
	CHECK_STR(rec.block.rule, "harvest");
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0 + 10 + 5 * MIN + 1) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &b, GUARD_SMTP, T0 + 10 + 5 * MIN + 1) ==
	    GUARD_ACCEPT);
	guard_free(&g);
}

/* Two rules on one event with different protocols: each counts only
 * the events of its own protocols. */
static void
test_rule_protocols_separate(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.93");
	struct guard_rule rules[2];

	rules[0] = rule_of("smtp-bad", GUARD_EV_BAD_SESSION, SMTP_ONLY, 3,
	    5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS);
	rules[1] = rule_of("pop3-bad", GUARD_EV_BAD_SESSION,
	    1u << GUARD_POP3, 100, 5 * MIN, 5 * MIN,
	    GUARD_BLOCK_CONNECTIONS);
	guard_set_rules(g, rules, 2);
	guard_session_end(g, &a, GUARD_POP3, 0, T0);
	guard_session_end(g, &a, GUARD_POP3, 0, T0 + 1);
	guard_session_end(g, &a, GUARD_SMTP, 0, T0 + 2);
	/* one SMTP bad session: smtp-bad (3) must not fire */
	if (rec.fired != 0)
		fprintf(stderr, "  1 smtp + 2 pop3 bad sessions fired %s\n",
		    rec.rule.name);
	CHECK(fires_of("smtp-bad") == 0);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0 + 3) == GUARD_ACCEPT);
	guard_free(&g);
}

/* The same for login rules and the decision of a login. */
static void
test_login_rule_protocols_separate(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.94");
	struct guard_rule rules[2];
	struct guard_login t;
	enum guard_login_result r;

	rules[0] = rule_of("smtp-login", GUARD_EV_AUTH_FAIL, SMTP_ONLY, 3,
	    10 * MIN, 10 * MIN, GUARD_BLOCK_LOGINS);
	rules[1] = rule_of("imap-login", GUARD_EV_AUTH_FAIL,
	    1u << GUARD_IMAP, 10, 10 * MIN, 10 * MIN, GUARD_BLOCK_LOGINS);
	guard_set_rules(g, rules, 2);
	for (int i = 0; i < 3; i++) {
		guard_login_begin(g, &a, GUARD_IMAP, T0, &t);
		CHECK(guard_login_end(g, &t, 0, "u", T0) ==
		    GUARD_LOGIN_FAILED);
	}
	/* no SMTP failure yet: the right SMTP password succeeds */
	guard_login_begin(g, &a, GUARD_SMTP, T0 + 1, &t);
	r = guard_login_end(g, &t, 1, "u", T0 + 1);
	if (r != GUARD_LOGIN_OK)
		fprintf(stderr, "  3 imap failures, right smtp login: %d\n",
		    r);
	CHECK(r == GUARD_LOGIN_OK);
	/* one SMTP failure must not complete the SMTP rule's 3 */
	guard_login_begin(g, &a, GUARD_SMTP, T0 + 2, &t);
	guard_login_end(g, &t, 0, "u", T0 + 2);
	CHECK(fires_of("smtp-login") == 0);
	guard_free(&g);
}

/* ---- auth-volume ---- */

static void
test_auth_volume_alert(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr ip = ip_of("192.0.2.100");
	uint64_t t = T0;

	set_one_rule(g, rule_of("auth-volume", GUARD_EV_AUTH_VOLUME,
	    SMTP_ONLY, 3, HOUR, 0, GUARD_BLOCK_NONE));
	for (int i = 0; i < 3; i++)
		CHECK(guard_user_message(g, "alice", &ip, GUARD_SMTP,
		    t += SEC) == 0);
	CHECK(rec.fired == 0);
	/* the 4th (more than 3) fires */
	CHECK(guard_user_message(g, "alice", &ip, GUARD_SMTP, t += SEC) == 0);
	CHECK(rec.fired == 1);
	CHECK_STR(rec.rule.name, "auth-volume");
	CHECK(!rec.user_null && strcmp(rec.user, "alice") == 0);
	CHECK(rec.fired_with_block == 0);
	CHECK(stats(g).blocked == 0 && stats(g).blocks == 0);
	/* not again within the window */
	for (int i = 0; i < 50; i++)
		guard_user_message(g, "alice", &ip, GUARD_SMTP, t += SEC);
	CHECK(rec.fired == 1);
	/* another user is counted apart; other protocols are not */
	for (int i = 0; i < 3; i++)
		guard_user_message(g, "bob", &ip, GUARD_SMTP, t);
	for (int i = 0; i < 10; i++)
		guard_user_message(g, "bob", &ip, GUARD_IMAP, t);
	CHECK(rec.fired == 1);
	guard_user_message(g, "bob", &ip, GUARD_SMTP, t);
	CHECK(rec.fired == 2 && strcmp(rec.user, "bob") == 0);
	/* alice is not blocked from anything: no address block */
	CHECK(guard_connect(g, &ip, GUARD_SMTP, t) == GUARD_ACCEPT);
	guard_free(&g);
}

/* The window boundary for "more than count": count + 1 messages with
 * the first exactly W old do not fire. */
static void
test_auth_volume_window(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr ip = ip_of("192.0.2.100");

	set_one_rule(g, rule_of("auth-volume", GUARD_EV_AUTH_VOLUME,
	    SMTP_ONLY, 3, HOUR, 0, GUARD_BLOCK_NONE));
	guard_user_message(g, "carol", &ip, GUARD_SMTP, T0);
	guard_user_message(g, "carol", &ip, GUARD_SMTP, T0 + SEC);
	guard_user_message(g, "carol", &ip, GUARD_SMTP, T0 + 2 * SEC);
	guard_user_message(g, "carol", &ip, GUARD_SMTP, T0 + HOUR);
	CHECK(rec.fired == 0);
	guard_user_message(g, "carol", &ip, GUARD_SMTP, T0 + HOUR + 1);
	CHECK(rec.fired == 1);
	/* one ms earlier, the 4th is inside */
	guard_user_message(g, "dan", &ip, GUARD_SMTP, T0);
	guard_user_message(g, "dan", &ip, GUARD_SMTP, T0 + SEC);
	guard_user_message(g, "dan", &ip, GUARD_SMTP, T0 + 2 * SEC);
	CHECK(rec.fired == 1);
	guard_user_message(g, "dan", &ip, GUARD_SMTP, T0 + HOUR - 1);
	CHECK(rec.fired == 2 && strcmp(rec.user, "dan") == 0);
	guard_free(&g);
}

static void
test_auth_volume_hold(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr ip = ip_of("192.0.2.101");
	uint64_t t = T0, fired_at;

	set_one_rule(g, rule_of("auth-volume", GUARD_EV_AUTH_VOLUME,
	    SMTP_ONLY, 3, HOUR, 0, GUARD_BLOCK_HOLD));
	for (int i = 0; i < 3; i++)
		CHECK(guard_user_message(g, "mallory", &ip, GUARD_SMTP,
		    t += SEC) == 0);
	CHECK(guard_user_message(g, "mallory", &ip, GUARD_SMTP,
	    t += SEC) == 1);
	fired_at = t;
	CHECK(rec.fired == 1 && strcmp(rec.user, "mallory") == 0);
	CHECK(guard_user_message(g, "mallory", &ip, GUARD_SMTP, t + 1) == 1);
	CHECK(guard_user_message(g, "trent", &ip, GUARD_SMTP, t + 1) == 0);
	CHECK(rec.fired == 1);
	/* an hour later with a quiet user: released */
	CHECK(guard_user_message(g, "mallory", &ip, GUARD_SMTP,
	    fired_at + 2 * HOUR) == 0);
	guard_free(&g);
}

/* Two auth-volume rules: an alert at more than 3, a hold at more than
 * 6, in the same hour. The alert must not silence the hold. */
static void
test_auth_volume_two_rules(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr ip = ip_of("192.0.2.102");
	struct guard_rule rules[2];
	int held = 0;

	rules[0] = rule_of("volume-alert", GUARD_EV_AUTH_VOLUME, SMTP_ONLY,
	    3, HOUR, 0, GUARD_BLOCK_NONE);
	rules[1] = rule_of("volume-hold", GUARD_EV_AUTH_VOLUME, SMTP_ONLY,
	    6, HOUR, 0, GUARD_BLOCK_HOLD);
	guard_set_rules(g, rules, 2);
	for (int i = 1; i <= 7; i++)
		held = guard_user_message(g, "dave", &ip, GUARD_SMTP,
		    T0 + (uint64_t)i * SEC);
	CHECK(fires_of("volume-alert") == 1);
	if (fires_of("volume-hold") != 1 || held != 1)
		fprintf(stderr, "  7 messages: volume-hold fired %u, held "
		    "%d\n", fires_of("volume-hold"), held);
	CHECK(fires_of("volume-hold") == 1);
	CHECK(held == 1);
	guard_free(&g);
}

/* ---- rules ---- */

static void
test_rules_reload_keeps_counts(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.110"), b = ip_of("192.0.2.111");
	struct guard_rule r = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 5,
	    MIN, MIN, GUARD_BLOCK_CONNECTIONS);

	set_one_rule(g, r);
	for (int i = 0; i < 3; i++)
		guard_connect(g, &a, GUARD_SMTP, T0 + (uint64_t)i);
	/* the same rule again, then one with a larger count and window:
	 * the three connections are kept */
	set_one_rule(g, r);
	guard_connect(g, &a, GUARD_SMTP, T0 + 3);
	CHECK(rec.fired == 0);
	r.count = 8;
	r.window_ms = 10 * MIN;
	set_one_rule(g, r);
	for (int i = 4; i < 7; i++)
		guard_connect(g, &a, GUARD_SMTP, T0 + (uint64_t)i);
	CHECK(rec.fired == 0);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0 + 7) == GUARD_ACCEPT);
	CHECK(rec.fired == 1 && rec.block.attempts == 8);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0 + 8) ==
	    GUARD_REFUSE_BLOCKED);
	/* a lower count takes effect at the next event */
	for (int i = 0; i < 3; i++)
		guard_connect(g, &b, GUARD_SMTP, T0 + (uint64_t)i);
	r.count = 4;
	set_one_rule(g, r);
	CHECK(guard_connect(g, &b, GUARD_SMTP, T0 + 10) == GUARD_ACCEPT);
	CHECK(rec.fired == 2);
	CHECK(guard_connect(g, &b, GUARD_SMTP, T0 + 11) ==
	    GUARD_REFUSE_BLOCKED);
	/* rule off (count 0): nothing counted, nothing fires */
	r.count = 0;
	set_one_rule(g, r);
	{
		struct ipaddr c = ip_of("192.0.2.112");

		for (int i = 0; i < 100; i++)
			CHECK(guard_connect(g, &c, GUARD_SMTP, T0 + 20) ==
			    GUARD_ACCEPT);
	}
	CHECK(rec.fired == 2);
	guard_set_rules(g, &r, 0);
	CHECK(guard_connect(g, &a, GUARD_SMTP, T0 + 30) ==
	    GUARD_REFUSE_BLOCKED);
	guard_free(&g);
}

/* Counts above GUARD_LOG_MAX are clamped (guard.h): such a rule must
 * still fire. */
static void
test_rule_count_above_log_max(void)
{
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.120"), ip = ip_of("192.0.2.121");
	unsigned accepted = 0;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 2000,
	    HOUR, HOUR, GUARD_BLOCK_CONNECTIONS));
	for (unsigned i = 0; i < 2100; i++)
		if (guard_connect(g, &a, GUARD_SMTP, T0 + i) == GUARD_ACCEPT)
			accepted++;
	if (rec.fired != 1)
		fprintf(stderr, "  count 2000: %u of 2100 accepted, fired %u\n",
		    accepted, rec.fired);
	CHECK(rec.fired == 1);
	CHECK(accepted == GUARD_LOG_MAX || accepted == 2000);
	guard_free(&g);

	g = new_guard(1000);
	set_one_rule(g, rule_of("auth-volume", GUARD_EV_AUTH_VOLUME,
	    SMTP_ONLY, 1500, HOUR, 0, GUARD_BLOCK_NONE));
	for (unsigned i = 0; i < 1600; i++)
		guard_user_message(g, "erin", &ip, GUARD_SMTP, T0 + i);
	if (rec.fired != 1)
		fprintf(stderr, "  auth-volume 1500: 1600 messages, fired "
		    "%u\n", rec.fired);
	CHECK(rec.fired == 1);
	guard_free(&g);
}

/* ---- the table and the event logs behind the rules ---- */

/* Random streams of all four per-address event kinds, interleaved, for
 * a few addresses, against a brute-force count of each kind's window:
 * the kinds share each address's inline stamps until these overflow
 * into rings, and stamps too old for every window make room. The last
 * mode runs for weeks, through many rebases, with windows of hours. */
#define MK_RULES 4		/* per kind: counts 1..MK_RULES */
#define MK_EVENTS 20000
#define MK_ADDRS 3

struct mk_mode {
	uint64_t base;
	uint64_t window[WIN_COUNT];
	uint64_t gap;		/* gaps up to this, or 0 */
};

static const struct mk_mode mk_modes[] = {
	{ T0, { 1000, 5000, 300, 2000 }, 200 },
	{ T0, { 100, 100, 100, 100 }, 60 },
	{ T0, { MIN, 10 * MIN, 5 * MIN, 30 * SEC }, 20 * SEC },
	{ T0, { HOUR, 2 * HOUR, 30 * MIN, 3 * HOUR }, 40 * MIN },
};

static void
test_kinds_random_model(void)
{
	static uint64_t times[MK_ADDRS][WIN_COUNT][MK_EVENTS];

	for (size_t m = 0; m < sizeof(mk_modes) / sizeof(mk_modes[0]); m++) {
		const struct mk_mode *md = &mk_modes[m];
		struct guard_rule rules[WIN_COUNT * MK_RULES];
		size_t nt[MK_ADDRS][WIN_COUNT];
		struct ipaddr ips[MK_ADDRS];
		struct guard *g = new_guard(1000);
		uint64_t now = md->base;
		size_t mismatches = 0;

		memset(nt, 0, sizeof(nt));
		for (int w = 0; w < WIN_COUNT; w++)
			for (unsigned c = 1; c <= MK_RULES; c++) {
				char name[16];

				snprintf(name, sizeof(name), "k%dc%u", w, c);
				rules[w * MK_RULES + c - 1] = rule_of(name,
				    win_events[w], ALL_PROTOS, c,
				    md->window[w], 0, GUARD_BLOCK_NONE);
			}
		guard_set_rules(g, rules, WIN_COUNT * MK_RULES);
		ips[0] = ip_of("192.0.2.21");
		ips[1] = ip_of("2001:db8:21::1");
		ips[2] = ip_of("192.0.2.22");
		for (size_t e = 0; e < MK_EVENTS; e++) {
			uint64_t x = rng();
			size_t a = (size_t)(x % MK_ADDRS), in = 0;
			int w = (int)((x >> 8) % WIN_COUNT);
			uint64_t *ts = times[a][w];
			unsigned got;

			if ((x >> 16) % 3 != 0)
				now += (x >> 24) % (md->gap + 1);
			got = win_event(g, (enum win_event)w, &ips[a], now);
			ts[nt[a][w]++] = now;
			for (size_t k = nt[a][w]; k-- > 0;) {
				if (now - ts[k] >= md->window[w])
					break;
				in++;
			}
			if ((in <= MK_RULES ? got != in : got != 0) &&
			    mismatches++ < 5)
				fprintf(stderr, "  mode %zu event %zu (kind "
				    "%d) at +%llu: %zu in the window, rules "
				    "say %u\n", m, e, w,
				    (unsigned long long)(now - md->base), in,
				    got);
			if (e % 500 == 0)
				guard_expire(g, now);
		}
		CHECK(mismatches == 0);
		guard_free(&g);
	}
}

/* The i-th address of a growth test: IPv4, or IPv6 in a /64 of its own. */
static struct ipaddr
growth_ip(unsigned i)
{
	struct ipaddr ip;

	memset(&ip, 0, sizeof(ip));
	if (i % 3 == 0) {
		ip.a[0] = 0x20;
		ip.a[1] = 0x01;
		ip.a[4] = (uint8_t)(i >> 24);
		ip.a[5] = (uint8_t)(i >> 16);
		ip.a[6] = (uint8_t)(i >> 8);
		ip.a[7] = (uint8_t)i;
		ip.a[15] = (uint8_t)(i * 7);	/* host part: same /64 */
	} else {
		ip.a[10] = ip.a[11] = 0xff;
		ip.a[12] = 10;
		ip.a[13] = (uint8_t)(i >> 16);
		ip.a[14] = (uint8_t)(i >> 8);
		ip.a[15] = (uint8_t)i;
	}
	return ip;
}

/* The table grows from its first size to 100,000 entries, moving every
 * entry many times: each keeps its counts, and a login in flight from
 * before the growth ends as it should. */
static void
test_table_growth_keeps_counts(void)
{
	enum { N = 100000 };
	struct guard *g = new_guard(2 * N);
	struct ipaddr pin = ip_of("198.51.100.30");
	struct guard_login t1, t2;
	struct guard_rule rules[2];
	unsigned refused = 0, accepted = 0;

	rules[0] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3, HOUR, HOUR,
	    GUARD_BLOCK_CONNECTIONS);
	rules[1] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS, 3,
	    HOUR, HOUR, GUARD_BLOCK_LOGINS);
	guard_set_rules(g, rules, 2);
	/* one failure and two logins in flight: 1 + 2 reach the count, so
	 * neither may succeed until one ends */
	CHECK(login(g, &pin, 0, T0) == GUARD_LOGIN_FAILED);
	guard_login_begin(g, &pin, GUARD_SMTP, T0, &t1);
	guard_login_begin(g, &pin, GUARD_SMTP, T0, &t2);
	for (unsigned i = 0; i < N; i++) {
		struct ipaddr ip = growth_ip(i);

		guard_connect(g, &ip, GUARD_SMTP, T0 + 1);
		if (i % 2)
			guard_connect(g, &ip, GUARD_IMAP, T0 + 2);
	}
	CHECK(stats(g).tracked == N + 1);
	/* the tickets' entries have moved: both end as right passwords */
	CHECK(guard_login_end(g, &t1, 1, "u", T0 + 3) == GUARD_LOGIN_OK);
	CHECK(guard_login_end(g, &t2, 1, "u", T0 + 3) == GUARD_LOGIN_OK);
	CHECK(login(g, &pin, 1, T0 + 3) == GUARD_LOGIN_OK);
	CHECK(login(g, &pin, 0, T0 + 4) == GUARD_LOGIN_FAILED);
	CHECK(login(g, &pin, 0, T0 + 4) == GUARD_LOGIN_FAILED);
	CHECK(login(g, &pin, 1, T0 + 5) == GUARD_LOGIN_BLOCKED);
	/* two connections made: the third blocks; one made: it does not */
	for (unsigned i = 0; i < N; i++) {
		struct ipaddr ip = growth_ip(i);

		CHECK(guard_connect(g, &ip, GUARD_POP3, T0 + 6) ==
		    GUARD_ACCEPT);
		if (guard_connect(g, &ip, GUARD_POP3, T0 + 7) == GUARD_ACCEPT)
			accepted++;
		else
			refused++;
	}
	if (refused != N / 2 || accepted != N / 2)
		fprintf(stderr, "  after growth: %u refused, %u accepted\n",
		    refused, accepted);
	CHECK(refused == N / 2 && accepted == N / 2);
	CHECK(stats(g).evictions == 0);
	guard_free(&g);
}

/* The cap lowered and raised again: the table shrinks and grows, and
 * the entries kept keep their counts. */
static void
test_cap_shrink_and_grow(void)
{
	struct guard *g = new_guard(50000);
	struct guard_login pins[20];
	struct guard_rule rules[2];
	unsigned blocked = 0;

	rules[0] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 50, HOUR, HOUR,
	    GUARD_BLOCK_CONNECTIONS);
	rules[1] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS, 3,
	    HOUR, HOUR, GUARD_BLOCK_LOGINS);
	guard_set_rules(g, rules, 2);
	for (unsigned i = 0; i < 20; i++) {
		struct ipaddr ip = growth_ip(1000000 + i);

		CHECK(login(g, &ip, 0, T0) == GUARD_LOGIN_FAILED);
		CHECK(login(g, &ip, 0, T0) == GUARD_LOGIN_FAILED);
		guard_login_begin(g, &ip, GUARD_SMTP, T0, &pins[i]);
	}
	for (unsigned i = 0; i < 40000; i++) {
		struct ipaddr ip = growth_ip(i);

		guard_connect(g, &ip, GUARD_SMTP, T0 + 1);
	}
	CHECK(stats(g).tracked == 40020);
	guard_set_max_tracked(g, 30);
	CHECK(stats(g).tracked == 30);
	CHECK(stats(g).evictions == 40020 - 30);
	guard_set_max_tracked(g, 60000);
	for (unsigned i = 0; i < 50000; i++) {
		struct ipaddr ip = growth_ip(i);

		guard_connect(g, &ip, GUARD_SMTP, T0 + 2);
	}
	CHECK(stats(g).tracked == 50020);
	for (unsigned i = 0; i < 20; i++) {
		struct ipaddr ip = growth_ip(1000000 + i);

		CHECK(guard_login_end(g, &pins[i], 0, "u", T0 + 3) ==
		    GUARD_LOGIN_FAILED);
		if (login(g, &ip, 1, T0 + 3) == GUARD_LOGIN_BLOCKED)
			blocked++;
	}
	CHECK(blocked == 20);
	guard_free(&g);
}

/* Thousands of blocks and list entries of every prefix length, IPv4 and
 * IPv6, added and removed: guard_block_find() and guard_list_match()
 * agree with a brute-force search at every step (the filter in front of
 * the maps never hides a range). */
#define RS_RANGES 3000
#define RS_PROBES 20000

struct rs_range {
	struct cidr c;
	enum guard_kind kind;
	enum guard_list list;
	int live;
};

static struct cidr
random_range(void)
{
	struct cidr c;
	uint64_t x = rng(), y = rng();
	int v4 = x % 2;

	memset(&c, 0, sizeof(c));
	if (v4) {
		c.addr.a[10] = c.addr.a[11] = 0xff;
		/* few first octets: ranges nest */
		c.addr.a[12] = (uint8_t)(10 + (x >> 8) % 4);
		c.addr.a[13] = (uint8_t)((x >> 16) % 8);
		c.addr.a[14] = (uint8_t)(x >> 24);
		c.addr.a[15] = (uint8_t)(x >> 32);
		c.prefix = 96 + 8 + (unsigned)((x >> 40) % 25);
	} else {
		c.addr.a[0] = 0x20;
		c.addr.a[1] = 0x01;
		c.addr.a[2] = (uint8_t)((x >> 8) % 4);
		for (int k = 3; k < 16; k++)
			c.addr.a[k] = (uint8_t)(y >> (8 * (k % 8)));
		c.prefix = 16 + (unsigned)((x >> 40) % 113);
	}
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = c.prefix > i * 8 ? c.prefix - i * 8 : 0;

		if (keep < 8)
			c.addr.a[i] &= (uint8_t)(0xff00 >> keep);
	}
	return c;
}

/* An address inside r, or near it. */
static struct ipaddr
probe_addr(const struct rs_range *r, size_t n)
{
	struct ipaddr ip = r[rng() % n].c.addr;
	uint64_t x = rng();
	unsigned from = ipaddr_is_v4(&ip) ? 14 : 6;

	for (unsigned i = from; i < 16; i++)
		ip.a[i] ^= (uint8_t)(x >> (8 * (i % 8)));
	return ip;
}

static const struct guard_block *
brute_block(const struct rs_range *r, size_t n, const struct ipaddr *ip)
{
	static struct guard_block out;
	const struct rs_range *conn = NULL, *lg = NULL;
	int v4 = ipaddr_is_v4(ip);

	for (size_t i = 0; i < n; i++) {
		const struct rs_range *x = &r[i];

		if (!x->live || (v4 && x->c.prefix < 96) ||
		    !cidr_match(&x->c, ip))
			continue;
		if (x->kind == GUARD_BLOCK_CONNECTIONS) {
			if (conn == NULL || x->c.prefix > conn->c.prefix)
				conn = x;
		} else if (lg == NULL || x->c.prefix > lg->c.prefix) {
			lg = x;
		}
	}
	if (conn == NULL)
		conn = lg;
	if (conn == NULL)
		return NULL;
	out.range = conn->c;
	out.kind = conn->kind;
	return &out;
}

static const struct rs_range *
brute_list(const struct rs_range *r, size_t n, const struct ipaddr *ip)
{
	const struct rs_range *best = NULL;
	int v4 = ipaddr_is_v4(ip);

	for (size_t i = 0; i < n; i++) {
		const struct rs_range *x = &r[i];

		if (!x->live || (v4 && x->c.prefix < 96) ||
		    !cidr_match(&x->c, ip))
			continue;
		if (best == NULL || x->c.prefix > best->c.prefix ||
		    (x->c.prefix == best->c.prefix &&
		    x->list == GUARD_DENY))
			best = x;
	}
	return best;
}

static size_t
rs_check(struct guard *g, const struct rs_range *blk,
    const struct rs_range *lst, size_t n)
{
	size_t bad = 0;

	for (unsigned i = 0; i < RS_PROBES; i++) {
		struct ipaddr ip = probe_addr(i % 2 ? blk : lst, n);
		const struct guard_block *want = brute_block(blk, n, &ip);
		const struct guard_block *got = guard_block_find(g, &ip, T0);
		const struct rs_range *lw = brute_list(lst, n, &ip);
		const struct guard_list_entry *lg = guard_list_match(g, &ip,
		    T0);
		int ok = (want == NULL) == (got == NULL) &&
		    (want == NULL || (cidr_eq(&want->range, &got->range) &&
		    want->kind == got->kind));

		/* same prefix, both lists: deny; else the range decides */
		ok = ok && (lw == NULL) == (lg == NULL) && (lw == NULL ||
		    (cidr_eq(&lw->c, &lg->range) && lw->list == lg->list));
		if (!ok && bad++ < 5) {
			char buf[IPADDR_STRLEN];

			fprintf(stderr, "  %s: block %s/%s, list %s/%s\n",
			    ipaddr_str(&ip, buf), want ? "yes" : "no",
			    got ? "yes" : "no", lw ? "yes" : "no",
			    lg ? "yes" : "no");
		}
	}
	return bad;
}

static void
test_ranges_many(void)
{
	static struct rs_range blk[RS_RANGES], lst[RS_RANGES];
	struct guard *g = new_guard(1000);

	for (size_t i = 0; i < RS_RANGES; i++) {
		struct guard_block b;
		struct guard_list_entry l;

		blk[i].c = random_range();
		blk[i].kind = rng() % 3 ? GUARD_BLOCK_LOGINS :
		    GUARD_BLOCK_CONNECTIONS;
		blk[i].live = 1;
		for (size_t k = 0; k < i; k++)	/* one block per range */
			if (blk[k].live && cidr_eq(&blk[k].c, &blk[i].c))
				blk[k].live = 0;
		memset(&b, 0, sizeof(b));
		b.range = blk[i].c;
		b.kind = blk[i].kind;
		guard_block_add(g, &b);

		lst[i].c = random_range();
		lst[i].list = rng() % 2 ? GUARD_ALLOW : GUARD_DENY;
		lst[i].live = 1;
		for (size_t k = 0; k < i; k++)
			if (lst[k].live && lst[k].list == lst[i].list &&
			    cidr_eq(&lst[k].c, &lst[i].c))
				lst[k].live = 0;
		memset(&l, 0, sizeof(l));
		l.range = lst[i].c;
		l.list = lst[i].list;
		guard_list_set(g, &l);
	}
	CHECK(rs_check(g, blk, lst, RS_RANGES) == 0);
	/* remove most of them, one by one */
	for (size_t i = 0; i < RS_RANGES; i++) {
		if (i % 5 == 0)
			continue;
		if (blk[i].live) {
			CHECK(guard_unblock(g, &blk[i].c, T0) == 1);
			blk[i].live = 0;
		}
		if (lst[i].live) {
			CHECK(guard_list_del(g, &lst[i].c, lst[i].list) == 1);
			lst[i].live = 0;
		}
	}
	CHECK(rs_check(g, blk, lst, RS_RANGES) == 0);
	guard_block_clear(g);
	guard_list_clear(g);
	for (size_t i = 0; i < RS_RANGES; i++)
		blk[i].live = lst[i].live = 0;
	CHECK(rs_check(g, blk, lst, RS_RANGES) == 0);
	CHECK(stats(g).blocked == 0);
	guard_free(&g);
}

/* ---- time: wall clock, 32-bit offsets, rebasing ---- */

/* The contract's times are wall-clock ms. Events counted before the
 * first guard_expire() must survive it. */
static void
test_wall_clock_first_expire(void)
{
	const uint64_t tw = 1700000000000ULL;	/* Nov 2023 */
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.130");

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, MIN, GUARD_BLOCK_CONNECTIONS));
	guard_connect(g, &a, GUARD_SMTP, tw);
	guard_connect(g, &a, GUARD_SMTP, tw + 1);
	guard_expire(g, tw + 2);
	guard_connect(g, &a, GUARD_SMTP, tw + 3);
	if (rec.fired != 1)
		fprintf(stderr, "  3 connections in 3 ms around the first "
		    "guard_expire: fired %u\n", rec.fired);
	CHECK(rec.fired == 1);
	CHECK(guard_connect(g, &a, GUARD_SMTP, tw + 4) ==
	    GUARD_REFUSE_BLOCKED);
	guard_free(&g);
}

/* Wall-clock times that cross a multiple of 2^32 ms (no guard_expire
 * yet): two events 5 s apart are not in one 1 s window. */
static void
test_wall_clock_2_32_boundary(void)
{
	const uint64_t tb = 396ULL << 32;	/* 1700807049216, Nov 2023 */
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.131");

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 2,
	    SEC, MIN, GUARD_BLOCK_CONNECTIONS));
	guard_connect(g, &a, GUARD_SMTP, tb - 5 * SEC);
	CHECK(guard_connect(g, &a, GUARD_SMTP, tb + 10) == GUARD_ACCEPT);
	if (rec.fired != 0)
		fprintf(stderr, "  events at 2^32*396 - 5000 and + 10 ms, "
		    "window 1000 ms: fired\n");
	CHECK(rec.fired == 0);
	CHECK(guard_connect(g, &a, GUARD_SMTP, tb + 11) == GUARD_ACCEPT);
	CHECK(rec.fired == 1);
	guard_free(&g);
}

/* With guard_expire() called at start and then now and then (as a
 * server does), wall-clock times work, across the 32-bit rebase. */
static void
test_wall_clock_periodic_expire(void)
{
	const uint64_t tw = 1700000000000ULL;
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.132"), b = ip_of("192.0.2.133");
	uint64_t t = tw;

	set_one_rule(g, rule_of("w", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, 0, GUARD_BLOCK_NONE));
	guard_expire(g, t);
	guard_connect(g, &a, GUARD_SMTP, t + 1);
	guard_connect(g, &a, GUARD_SMTP, t + 2);
	guard_expire(g, t + 3);
	guard_connect(g, &a, GUARD_SMTP, t + 4);
	CHECK(rec.fired == 1);
	/* 30 days of hourly guard_expire calls (crosses 2^31 ms) with
	 * events on both sides of every call */
	for (int h = 0; h < 30 * 24; h++) {
		unsigned before = rec.fired;

		t += HOUR;
		guard_connect(g, &b, GUARD_SMTP, t - 9998);
		guard_connect(g, &a, GUARD_SMTP, t - 10000);
		guard_connect(g, &a, GUARD_SMTP, t - 1);
		guard_connect(g, &b, GUARD_SMTP, t - 1);
		guard_expire(g, t);
		/* a: first one exactly 10 s old at t: outside */
		guard_connect(g, &a, GUARD_SMTP, t);
		CHECK(rec.fired == before);
		/* b: first one 9999 ms old at t + 1: inside */
		guard_connect(g, &b, GUARD_SMTP, t + 1);
		if (rec.fired != before + 1) {
			fprintf(stderr, "  hour %d: fired %u\n", h,
			    rec.fired - before);
			CHECK(!"window across guard_expire");
			break;
		}
	}
	guard_free(&g);
}

/* A server calls guard_expire() on a timer, which may well run before
 * the first event: windows must be exact afterwards. Calls need not
 * come in time order (events of different connections; the clock may
 * step back): b's events are reported before a's older one. */
static void
test_expire_before_first_event(void)
{
	const uint64_t tw = 1700000000000ULL;
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.138"), b = ip_of("192.0.2.139");
	uint64_t t = tw + HOUR;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, MIN, GUARD_BLOCK_CONNECTIONS));
	guard_expire(g, tw);
	guard_connect(g, &a, GUARD_SMTP, t - 9998);
	/* b: the first of three is exactly 10 s old: not blocked */
	guard_connect(g, &b, GUARD_SMTP, t - 10000);
	guard_connect(g, &b, GUARD_SMTP, t - 1);
	CHECK(guard_connect(g, &b, GUARD_SMTP, t) == GUARD_ACCEPT);
	CHECK(rec.fired == 0);
	/* a: three inside 10 s: blocked */
	guard_connect(g, &a, GUARD_SMTP, t - 1);
	guard_connect(g, &a, GUARD_SMTP, t + 1);
	if (rec.fired != 1)
		fprintf(stderr, "  guard_expire(%llu) first, then 3 "
		    "connections within 10 s an hour later (one call 2 ms "
		    "out of order before): fired %u\n",
		    (unsigned long long)tw, rec.fired);
	CHECK(rec.fired == 1);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t + 2) ==
	    GUARD_REFUSE_BLOCKED);
	guard_free(&g);
}

/* The cost of an event must not depend on whether guard_expire() ran
 * before the first event: 20,000 connections from distinct addresses,
 * timed both ways. The bound is loose (20 times the first, plus half a
 * second): it only catches work proportional to the table per event. */
static double
time_distinct_connects(int expire_first)
{
	const uint64_t tw = 1700000000000ULL;
	struct guard *g = new_guard(100000);
	struct timespec t0, t1;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 50,
	    5 * MIN, 5 * MIN, GUARD_BLOCK_CONNECTIONS));
	if (expire_first)
		guard_expire(g, tw);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < 20000; i++) {
		struct ipaddr ip = ip_of("10.0.0.0");

		ip.a[13] = (uint8_t)(i >> 16);
		ip.a[14] = (uint8_t)(i >> 8);
		ip.a[15] = (uint8_t)i;
		guard_connect(g, &ip, GUARD_SMTP, tw + 1 + i / 10);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	guard_free(&g);
	return (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
test_expire_first_event_cost(void)
{
	double plain = time_distinct_connects(0);
	double after = time_distinct_connects(1);

	if (after > 20 * plain + 0.5)
		fprintf(stderr, "  20000 connects: %.3f s, %.3f s after an "
		    "early guard_expire()\n", plain, after);
	CHECK(after <= 20 * plain + 0.5);
}

/* 60 days without any event or guard_expire() (more than 2^32 ms),
 * then a burst: counted exactly. */
static void
test_long_idle_gap(void)
{
	const uint64_t tw = 1700000000000ULL, t = tw + 60 * 24 * HOUR;
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.140"), b = ip_of("192.0.2.141");

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, MIN, GUARD_BLOCK_CONNECTIONS));
	guard_connect(g, &b, GUARD_SMTP, tw);
	guard_connect(g, &a, GUARD_SMTP, t + 1);
	guard_connect(g, &a, GUARD_SMTP, t + 2);
	/* one reported late, 2 ms out of order */
	guard_connect(g, &a, GUARD_SMTP, t);
	if (rec.fired != 1)
		fprintf(stderr, "  after 60 idle days, 3 connections in 3 ms "
		    "(the last reported 2 ms late): fired %u\n", rec.fired);
	CHECK(rec.fired == 1);
	CHECK(guard_connect(g, &a, GUARD_SMTP, t + 3) ==
	    GUARD_REFUSE_BLOCKED);
	/* and b's old connection is not in a 10 s window now */
	guard_connect(g, &b, GUARD_SMTP, t + 3);
	guard_connect(g, &b, GUARD_SMTP, t + 4);
	CHECK(rec.fired == 1);
	guard_free(&g);
}

/* From a small base time (epoch 0) through the rebase at 2^31 ms. */
static void
test_rebase(void)
{
	const uint64_t r = 1ULL << 31;
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.134"), b = ip_of("192.0.2.135");
	struct ipaddr c = ip_of("192.0.2.136");

	set_one_rule(g, rule_of("w", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, 0, GUARD_BLOCK_NONE));
	guard_expire(g, T0);
	guard_connect(g, &a, GUARD_SMTP, r - 9998);
	guard_connect(g, &a, GUARD_SMTP, r - 1);
	guard_connect(g, &b, GUARD_SMTP, r - 9999);
	guard_connect(g, &b, GUARD_SMTP, r - 1);
	/* c: its events long before: must not count */
	guard_connect(g, &c, GUARD_SMTP, T0);
	guard_connect(g, &c, GUARD_SMTP, T0 + 1);
	guard_expire(g, r);
	guard_connect(g, &a, GUARD_SMTP, r + 1);
	CHECK(fires_of("w") == 1);
	guard_connect(g, &b, GUARD_SMTP, r + 1);
	CHECK(fires_of("w") == 1);
	guard_connect(g, &c, GUARD_SMTP, r + 1);
	CHECK(fires_of("w") == 1);
	guard_free(&g);
}

/* A block that ended before the rebase: its address is counted again
 * after it. */
static void
test_rebase_after_block(void)
{
	const uint64_t r = 1ULL << 31;
	struct guard *g = new_guard(1000);
	struct ipaddr a = ip_of("192.0.2.137");
	uint64_t t1 = r - 100 * SEC;
	unsigned accepted = 0;

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 3,
	    10 * SEC, MIN, GUARD_BLOCK_CONNECTIONS));
	guard_expire(g, T0);
	for (int i = 0; i < 3; i++)
		guard_connect(g, &a, GUARD_SMTP, t1);
	CHECK(rec.fired == 1);
	guard_expire(g, t1 + MIN);
	CHECK(rec.lifted == 1);
	guard_expire(g, r);
	for (int i = 0; i < 10; i++)
		if (guard_connect(g, &a, GUARD_SMTP, r + 1 +
		    (uint64_t)i) == GUARD_ACCEPT)
			accepted++;
	if (accepted != 3)
		fprintf(stderr, "  after a block ended and a rebase: %u of 10 "
		    "accepted, fired %u\n", accepted, rec.fired);
	CHECK(accepted == 3);
	CHECK(rec.fired == 2);
	guard_free(&g);
}

/* ---- bounded memory ---- */

/* Entries with a login in flight are never evicted, and the table
 * keeps finding them while other entries are evicted around them
 * (backward-shift deletion, the last entry moved into the hole). */
static void
test_table_integrity_under_eviction(void)
{
	enum { MAXT = 2000, PINNED = 900, FLOOD = 200000 };
	static struct guard_login pins[PINNED];
	struct guard *g = new_guard(MAXT);
	struct guard_rule rules[2];
	unsigned ok = 0;

	rules[0] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS,
	    3, HOUR, HOUR, GUARD_BLOCK_LOGINS);
	rules[1] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 1000, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS);
	guard_set_rules(g, rules, 2);
	for (unsigned i = 0; i < PINNED; i++) {
		struct ipaddr ip = ip_of("10.0.0.0");

		ip.a[13] = (uint8_t)(i >> 8);
		ip.a[14] = (uint8_t)i;
		CHECK(login(g, &ip, 0, T0) == GUARD_LOGIN_FAILED);
		CHECK(login(g, &ip, 0, T0) == GUARD_LOGIN_FAILED);
		guard_login_begin(g, &ip, GUARD_SMTP, T0, &pins[i]);
	}
	for (unsigned i = 0; i < FLOOD; i++) {
		struct ipaddr ip = ip_of("172.16.0.0");

		ip.a[13] = (uint8_t)(i >> 16);
		ip.a[14] = (uint8_t)(i >> 8);
		ip.a[15] = (uint8_t)i;
		guard_connect(g, &ip, GUARD_SMTP, T0 + 1 + i / 100);
		if (i % 1024 == 0)
			CHECK(stats(g).tracked <= MAXT);
	}
	CHECK(stats(g).evictions > 0);
	CHECK(stats(g).evictions == rec.evicted_n);
	CHECK(stats(g).tracked <= MAXT);
	/* each pinned address still has its two failures: the third
	 * blocks it */
	for (unsigned i = 0; i < PINNED; i++) {
		CHECK(guard_login_end(g, &pins[i], 0, "u", T0 + HOUR / 2) ==
		    GUARD_LOGIN_FAILED);
	}
	for (unsigned i = 0; i < PINNED; i++) {
		struct ipaddr ip = ip_of("10.0.0.0");

		ip.a[13] = (uint8_t)(i >> 8);
		ip.a[14] = (uint8_t)i;
		if (login(g, &ip, 1, T0 + HOUR / 2) == GUARD_LOGIN_BLOCKED)
			ok++;
	}
	if (ok != PINNED)
		fprintf(stderr, "  %u of %u pinned addresses kept their "
		    "count\n", ok, PINNED);
	CHECK(ok == PINNED);
	CHECK(fires_of("invalid-login") == PINNED);
	guard_free(&g);
}

static void
test_set_max_tracked(void)
{
	struct guard *g = new_guard(1000);

	set_one_rule(g, rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 10, MIN,
	    MIN, GUARD_BLOCK_CONNECTIONS));
	for (unsigned i = 0; i < 1000; i++) {
		struct ipaddr ip = ip_of("10.0.0.0");

		ip.a[14] = (uint8_t)(i >> 8);
		ip.a[15] = (uint8_t)i;
		guard_connect(g, &ip, GUARD_SMTP, T0 + i);
	}
	CHECK(stats(g).tracked == 1000 && stats(g).evictions == 0);
	guard_set_max_tracked(g, 100);
	CHECK(stats(g).tracked == 100);
	CHECK(stats(g).evictions == 900 && rec.evicted_n == 900);
	guard_set_max_tracked(g, 0);
	CHECK(stats(g).tracked <= 1);
	guard_set_max_tracked(g, 5000);
	for (unsigned i = 0; i < 3000; i++) {
		struct ipaddr ip = ip_of("10.1.0.0");

		ip.a[14] = (uint8_t)(i >> 8);
		ip.a[15] = (uint8_t)i;
		guard_connect(g, &ip, GUARD_SMTP, T0 + 2000);
	}
	CHECK(stats(g).tracked == 3001 || stats(g).tracked == 3000);
	guard_free(&g);
}

/* A bijection on 32 bits (Wellons' lowbias32): distinct inputs give
 * distinct, random-looking addresses. */
static uint32_t
mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/* A bijection on 64 bits (splitmix64's finalizer). */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* The i-th flood address: even i IPv4, odd i IPv6 (each in its own
 * /64, so each its own counting key), all distinct. Returns 0 for the
 * few that fall in 198.51.100.0/24, 203.0.113.0/24 or 2001:db8::/32,
 * where the test's blocks are: those are skipped. */
static int
flood_ip(uint64_t i, struct ipaddr *ip_r)
{
	struct ipaddr *ip = ip_r;

	memset(ip, 0, sizeof(*ip));
	if (i % 2 == 0) {
		uint32_t v = mix32((uint32_t)(i / 2));

		ip->a[10] = ip->a[11] = 0xff;
		ip->a[12] = (uint8_t)(v >> 24);
		ip->a[13] = (uint8_t)(v >> 16);
		ip->a[14] = (uint8_t)(v >> 8);
		ip->a[15] = (uint8_t)v;
		return !((v >> 8) == 0xc63364 || (v >> 8) == 0xcb0071);
	} else {
		uint64_t hi = mix64(i / 2), lo = rng();

		for (int k = 0; k < 8; k++) {
			ip->a[k] = (uint8_t)(hi >> (56 - 8 * k));
			ip->a[8 + k] = (uint8_t)(lo >> (56 - 8 * k));
		}
		ip->a[8] |= 1;		/* never IPv4-mapped */
		return (hi >> 32) != 0x20010db8;
	}
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Heap bytes in use (malloc's own view, headers and rounding
 * included); 0 under ASan, which replaces malloc. */
static size_t
heap_in_use(void)
{
#ifdef __SANITIZE_ADDRESS__
	return 0;
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

/* 10 million as the issue asks (about 20 s, 35 s under ASan);
 * -DFLOOD_N=... overrides it for quick local runs. */
#ifndef FLOOD_N
#define FLOOD_N 10000000ULL
#endif
#define FLOOD_MAX 1000000ULL

static void
test_memory_cap_flood(void)
{
	struct guard *g = new_guard(FLOOD_MAX);
	struct ipaddr blocked4 = ip_of("198.51.100.77");
	struct ipaddr blocked6 = ip_of("2001:db8:77::1");
	struct ipaddr admin_in = ip_of("203.0.113.200");
	struct ipaddr pinned = ip_of("198.51.100.78");
	struct guard_rule rules[2];
	struct guard_block b;
	struct guard_login pin;
	struct guard_stats st;
	struct timespec t0;
	uint64_t distinct = 0, now = T0;
	size_t max_seen = 0, heap0 = heap_in_use();
	double secs, at_cap = 0;

	rules[0] = rule_of("dos", GUARD_EV_CONNECT, ALL_PROTOS, 50, 5 * MIN,
	    24 * HOUR, GUARD_BLOCK_CONNECTIONS);
	rules[1] = rule_of("invalid-login", GUARD_EV_AUTH_FAIL, ALL_PROTOS,
	    5, HOUR, HOUR, GUARD_BLOCK_LOGINS);
	guard_set_rules(g, rules, 2);
	/* blocks in force before the flood: two by the rule, one admin */
	for (int i = 0; i < 50; i++) {
		CHECK(guard_connect(g, &blocked4, GUARD_SMTP, now) ==
		    GUARD_ACCEPT);
		CHECK(guard_connect(g, &blocked6, GUARD_SMTP, now) ==
		    GUARD_ACCEPT);
	}
	distinct += 2;
	memset(&b, 0, sizeof(b));
	b.range = cidr_of("203.0.113.0/24");
	b.kind = GUARD_BLOCK_CONNECTIONS;
	guard_block_add(g, &b);
	CHECK(stats(g).blocked == 3);
	/* a login in flight across the flood, after 4 failures */
	for (int i = 0; i < 4; i++)
		CHECK(login(g, &pinned, 0, now) == GUARD_LOGIN_FAILED);
	guard_login_begin(g, &pinned, GUARD_SMTP, now, &pin);
	distinct++;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 0; i < FLOOD_N; i++) {
		struct ipaddr ip;

		if (!flood_ip(i, &ip))
			continue;
		now = T0 + 1 + i / 8;
		if (guard_connect(g, &ip, GUARD_SMTP, now) != GUARD_ACCEPT) {
			CHECK(!"flood address refused");
			break;
		}
		distinct++;
		if ((i & 1023) == 0 || i + 1 == FLOOD_N) {
			guard_get_stats(g, &st);
			if (st.tracked > max_seen)
				max_seen = st.tracked;
		}
		if (distinct == FLOOD_MAX) {
			guard_get_stats(g, &st);
			CHECK(st.tracked == FLOOD_MAX);
			CHECK(st.evictions == 0);
			printf("  bytes per tracked address at %zu tracked: "
			    "%.1f by guard_memory (%zu)", st.tracked,
			    (double)guard_memory(g) / (double)st.tracked,
			    guard_memory(g));
			if (heap0 != 0)
				printf(", %.1f by malloc",
				    (double)(heap_in_use() - heap0) /
				    (double)st.tracked);
			printf("\n");
			at_cap = seconds_since(&t0);
		}
	}
	secs = seconds_since(&t0);
	guard_get_stats(g, &st);
	printf("  flood: %llu distinct addresses, cap %llu: %.2f s (%.2f s "
	    "to fill, %.0f connects/s after), tracked %zu, max seen %zu, "
	    "evictions %llu\n", (unsigned long long)FLOOD_N,
	    (unsigned long long)FLOOD_MAX, secs, at_cap,
	    (double)(FLOOD_N - FLOOD_MAX) / (secs - at_cap), st.tracked,
	    max_seen, (unsigned long long)st.evictions);
	printf("  bytes per tracked address at the end: %.1f\n",
	    (double)guard_memory(g) / (double)st.tracked);
	CHECK(max_seen <= FLOOD_MAX);
	CHECK(st.tracked == FLOOD_MAX);
	CHECK(st.evictions == distinct - st.tracked);
	CHECK(rec.evicted_n == st.evictions);
	CHECK(rec.evicted_calls > 0);
	CHECK((double)guard_memory(g) / (double)st.tracked <= 128.0);
	/* no flood address was blocked; the blocks made before are all
	 * there and still refuse */
	CHECK(st.blocks == 2 && st.blocked == 3);
	CHECK(guard_connect(g, &blocked4, GUARD_SMTP, now) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &blocked6, GUARD_IMAP, now) ==
	    GUARD_REFUSE_BLOCKED);
	CHECK(guard_connect(g, &admin_in, GUARD_SMTP, now) ==
	    GUARD_REFUSE_BLOCKED);
	/* the login in flight kept its entry: its failure is the 5th */
	CHECK(guard_login_end(g, &pin, 0, "u", now) == GUARD_LOGIN_FAILED);
	CHECK(fires_of("invalid-login") == 1);
	CHECK(login(g, &pinned, 1, now) == GUARD_LOGIN_BLOCKED);
	guard_free(&g);
}

static const struct harness_test tests[] = {
	TEST(test_key),
	TEST(test_window_table),
	TEST(test_window_random_model),
	TEST(test_alert_only_once_per_burst),
	TEST(test_dos_connect),
	TEST(test_dos_exact_counts),
	TEST(test_block_end_recount),
	TEST(test_login_block_end_recount),
	TEST(test_block_foreach),
	TEST(test_login_sequential),
	TEST(test_login_block_and_expiry),
	TEST(test_login_parallel),
	TEST(test_login_made_plus_in_flight),
	TEST(test_login_flights_many_addresses),
	TEST(test_flight_table_model),
	TEST(test_fetch_pipeline_under_table_changes),
	TEST(test_connect_prefetch_is_only_a_hint),
	TEST(test_login_success_not_counted),
	TEST(test_escalation),
	TEST(test_brute_force_refuses_connect),
	TEST(test_login_alert_only_rule),
	TEST(test_hook_once_per_block),
	TEST(test_allow_never_counted),
	TEST(test_deny_hook),
	TEST(test_list_table),
	TEST(test_list_replace_del_clear_expire),
	TEST(test_ipv6_aggregation),
	TEST(test_ipv6_prefix_48),
	TEST(test_ipv6_login_aggregation),
	TEST(test_admin_block_cidr),
	TEST(test_blocks_at_a_real_clock),
	TEST(test_flooding),
	TEST(test_admin_block_forever),
	TEST(test_admin_block_logins),
	TEST(test_admin_block_logins_ipv6_host),
	TEST(test_bad_sessions),
	TEST(test_unknown_rcpt),
	TEST(test_rule_protocols_separate),
	TEST(test_login_rule_protocols_separate),
	TEST(test_auth_volume_alert),
	TEST(test_auth_volume_window),
	TEST(test_auth_volume_hold),
	TEST(test_auth_volume_two_rules),
	TEST(test_rules_reload_keeps_counts),
	TEST(test_rule_count_above_log_max),
	TEST(test_kinds_random_model),
	TEST(test_table_growth_keeps_counts),
	TEST(test_cap_shrink_and_grow),
	TEST(test_ranges_many),
	TEST(test_wall_clock_first_expire),
	TEST(test_wall_clock_2_32_boundary),
	TEST(test_wall_clock_periodic_expire),
	TEST(test_expire_before_first_event),
	TEST(test_long_idle_gap),
	TEST(test_expire_first_event_cost),
	TEST(test_rebase),
	TEST(test_rebase_after_block),
	TEST(test_table_integrity_under_eviction),
	TEST(test_set_max_tracked),
	TEST(test_memory_cap_flood),
};

HARNESS_MAIN("guard", tests)
