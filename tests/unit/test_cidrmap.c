/* Unit tests for src/guard/cidrmap.c: the CIDR map with longest-prefix
 * lookup. The map is checked against a plain array model through long
 * random runs of inserts and deletions (backward-shift deletion must
 * keep every probe chain intact), in a small table where clusters are
 * long and in a large one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipaddr.h"
#include "guard/cidrmap.h"
#include "harness.h"
#include "harness_addr.h"

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static void
mask(struct ipaddr *ip, unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix > i * 8 ? prefix - i * 8 : 0;

		if (keep < 8)
			ip->a[i] &= (uint8_t)(0xff00 >> keep);
	}
}

/* ---- put, get, del ---- */

static void
test_put_get_del(void)
{
	static int v1, v2, v3;
	struct cidrmap m;
	struct cidr a = cidr_of("10.0.0.0/8"), b = cidr_of("10.0.0.0/16");
	struct cidr c = cidr_of("2001:db8::/32");

	cidrmap_init(&m);
	CHECK(m.count == 0);
	CHECK(cidrmap_get(&m, &a) == NULL);
	CHECK(cidrmap_del(&m, &a) == NULL);
	CHECK(cidrmap_put(&m, &a, &v1) == NULL);
	CHECK(m.count == 1);
	CHECK(cidrmap_get(&m, &a) == &v1);
	/* same address, other prefix: another key */
	CHECK(cidrmap_get(&m, &b) == NULL);
	CHECK(cidrmap_put(&m, &b, &v3) == NULL);
	CHECK(m.count == 2);
	/* replacing returns the old value and keeps the count */
	CHECK(cidrmap_put(&m, &a, &v2) == &v1);
	CHECK(m.count == 2);
	CHECK(cidrmap_get(&m, &a) == &v2);
	CHECK(cidrmap_put(&m, &c, &v1) == NULL);
	CHECK(cidrmap_get(&m, &c) == &v1);
	CHECK(m.count == 3);
	CHECK(m.prefix_uses[104] == 1 && m.prefix_uses[112] == 1 &&
	    m.prefix_uses[32] == 1);
	CHECK(cidrmap_del(&m, &a) == &v2);
	CHECK(cidrmap_del(&m, &a) == NULL);
	CHECK(cidrmap_get(&m, &a) == NULL);
	CHECK(cidrmap_get(&m, &b) == &v3);
	CHECK(m.count == 2);
	CHECK(m.prefix_uses[104] == 0);
	cidrmap_release(&m);
	CHECK(m.count == 0 && m.slots == NULL);
	/* a released map is empty and usable again */
	CHECK(cidrmap_get(&m, &b) == NULL);
	CHECK(cidrmap_del(&m, &b) == NULL);
	CHECK(cidrmap_put(&m, &b, &v3) == NULL);
	CHECK(cidrmap_get(&m, &b) == &v3);
	cidrmap_release(&m);
	cidrmap_release(&m);
}

static void
test_hash(void)
{
	struct cidr a = cidr_of("10.0.0.0/8");

	CHECK(cidrmap_hash(1, a.addr.a, 104) == cidrmap_hash(1, a.addr.a, 104));
	CHECK(cidrmap_hash(1, a.addr.a, 104) != cidrmap_hash(1, a.addr.a, 105));
	CHECK(cidrmap_hash(1, a.addr.a, 104) != cidrmap_hash(2, a.addr.a, 104));
}

/* ---- longest prefix ---- */

static const char *const lpm_keys[] = {
	"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24",
	"10.1.2.3/32", "10.1.2.128/25",
	"::/0", "2001:db8::/32", "2001:db8:1::/48", "2001:db8:1:2::/64",
	"2001:db8:1:2::5/128",
};

struct lpm_case {
	const char *ip;
	const char *want;	/* key text, NULL: no match */
};

static const struct lpm_case lpm_cases[] = {
	{ "10.1.2.3", "10.1.2.3/32" },
	{ "10.1.2.4", "10.1.2.0/24" },
	{ "10.1.2.127", "10.1.2.0/24" },
	{ "10.1.2.128", "10.1.2.128/25" },
	{ "10.1.2.255", "10.1.2.128/25" },
	{ "10.1.3.1", "10.1.0.0/16" },
	{ "10.2.0.0", "10.0.0.0/8" },
	{ "10.255.255.255", "10.0.0.0/8" },
	{ "11.0.0.1", "0.0.0.0/0" },
	{ "0.0.0.0", "0.0.0.0/0" },
	{ "2001:db8:1:2::5", "2001:db8:1:2::5/128" },
	{ "2001:db8:1:2::6", "2001:db8:1:2::/64" },
	{ "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64" },
	{ "2001:db8:1:3::1", "2001:db8:1::/48" },
	{ "2001:db8:2::1", "2001:db8::/32" },
	{ "2001:dead::1", "::/0" },
	{ "::", "::/0" },
	{ "::1", "::/0" },
};

static size_t
lpm_index(const char *key)
{
	for (size_t i = 0; i < sizeof(lpm_keys) / sizeof(lpm_keys[0]); i++)
		if (strcmp(lpm_keys[i], key) == 0)
			return i;
	return (size_t)-1;
}

static void
test_lookup_longest_prefix(void)
{
	size_t nkeys = sizeof(lpm_keys) / sizeof(lpm_keys[0]);
	int vals[sizeof(lpm_keys) / sizeof(lpm_keys[0])];
	struct cidrmap m;

	cidrmap_init(&m);
	CHECK(cidrmap_lookup(&m, &(struct ipaddr){ { 0 } }, NULL, NULL) ==
	    NULL);
	/* insert in an order unrelated to prefix length */
	for (size_t k = nkeys; k-- > 0;) {
		struct cidr c = cidr_of(lpm_keys[k]);

		CHECK(cidrmap_put(&m, &c, &vals[k]) == NULL);
	}
	for (size_t i = 0; i < sizeof(lpm_cases) / sizeof(lpm_cases[0]); i++) {
		const struct lpm_case *c = &lpm_cases[i];
		struct ipaddr ip = ip_of(c->ip);
		void *got = cidrmap_lookup(&m, &ip, NULL, NULL);
		size_t want = lpm_index(c->want);

		if (want == (size_t)-1 || got != &vals[want]) {
			fprintf(stderr, "  lookup %s: want %s\n", c->ip,
			    c->want);
			CHECK(!"longest prefix");
		}
	}
	cidrmap_release(&m);
}

/* ::/0 and other ranges shorter than /96 are IPv6 ranges: they never
 * match an IPv4 address, while 0.0.0.0/0 (::ffff:0:0/96) does, and
 * never matches an IPv6 address. */
static void
test_lookup_families(void)
{
	static int v6all, v4all, v6short;
	struct cidrmap m;
	struct cidr all6 = cidr_of("::/0"), all4 = cidr_of("0.0.0.0/0");
	struct cidr short6 = cidr_of("::/8");
	struct ipaddr v4 = ip_of("192.0.2.1"), v6 = ip_of("2001:db8::1");
	struct ipaddr low6 = ip_of("::1");

	cidrmap_init(&m);
	cidrmap_put(&m, &all6, &v6all);
	cidrmap_put(&m, &short6, &v6short);
	CHECK(cidrmap_lookup(&m, &v4, NULL, NULL) == NULL);
	CHECK(cidrmap_lookup(&m, &v6, NULL, NULL) == &v6all);
	CHECK(cidrmap_lookup(&m, &low6, NULL, NULL) == &v6short);
	cidrmap_put(&m, &all4, &v4all);
	CHECK(cidrmap_lookup(&m, &v4, NULL, NULL) == &v4all);
	CHECK(cidrmap_lookup(&m, &v6, NULL, NULL) == &v6all);
	CHECK(cidrmap_del(&m, &all6) == &v6all);
	CHECK(cidrmap_lookup(&m, &v6, NULL, NULL) == NULL);
	CHECK(cidrmap_lookup(&m, &v4, NULL, NULL) == &v4all);
	cidrmap_release(&m);
}

/* Deleting keys one by one: lookups fall back to the next longest. */
static void
test_lookup_after_deletes(void)
{
	static const char *const chain[] = {
		"10.1.2.3/32", "10.1.2.0/24", "10.1.0.0/16", "10.0.0.0/8",
		"0.0.0.0/0",
	};
	size_t n = sizeof(chain) / sizeof(chain[0]);
	int vals[sizeof(chain) / sizeof(chain[0])];
	struct ipaddr ip = ip_of("10.1.2.3");
	struct cidrmap m;

	cidrmap_init(&m);
	for (size_t i = 0; i < n; i++) {
		struct cidr c = cidr_of(chain[i]);

		cidrmap_put(&m, &c, &vals[i]);
	}
	for (size_t i = 0; i < n; i++) {
		struct cidr c = cidr_of(chain[i]);

		CHECK(cidrmap_lookup(&m, &ip, NULL, NULL) == &vals[i]);
		CHECK(cidrmap_del(&m, &c) == &vals[i]);
	}
	CHECK(cidrmap_lookup(&m, &ip, NULL, NULL) == NULL);
	CHECK(m.count == 0);
	cidrmap_release(&m);
}

/* accept() can reject a match: the next longer one that it accepts
 * wins. */
static int
accept_positive(void *value, void *arg)
{
	(void)arg;
	return *(int *)value > 0;
}

static void
test_lookup_accept(void)
{
	static int vals[] = { 1, -1, 2, -1 };
	static const char *const keys[] = {
		"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32",
	};
	struct ipaddr ip = ip_of("10.1.2.3"), other = ip_of("10.1.9.9");
	struct cidrmap m;

	cidrmap_init(&m);
	for (size_t i = 0; i < 4; i++) {
		struct cidr c = cidr_of(keys[i]);

		cidrmap_put(&m, &c, &vals[i]);
	}
	CHECK(cidrmap_lookup(&m, &ip, NULL, NULL) == &vals[3]);
	CHECK(cidrmap_lookup(&m, &ip, accept_positive, NULL) == &vals[2]);
	CHECK(cidrmap_lookup(&m, &other, NULL, NULL) == &vals[1]);
	CHECK(cidrmap_lookup(&m, &other, accept_positive, NULL) == &vals[0]);
	cidrmap_release(&m);
}

/* ---- random runs against an array model ---- */

#define POOL_MAX 4096

struct model {
	struct cidr pool[POOL_MAX];	/* candidate keys, distinct */
	int val[POOL_MAX];		/* the values stored (addresses) */
	int present[POOL_MAX];
	size_t npool, nmodel;
};

static int
cidr_same(const struct cidr *a, const struct cidr *b)
{
	return a->prefix == b->prefix && memcmp(a->addr.a, b->addr.a, 16) == 0;
}

/* A random key in a small region, so that ranges nest and lookups of
 * random addresses often match several of them. */
static struct cidr
random_key(void)
{
	struct cidr c;
	uint64_t r = rng();

	memset(&c, 0, sizeof(c));
	if (r & 1) {
		c.addr.a[10] = c.addr.a[11] = 0xff;
		c.addr.a[12] = 10;
		c.addr.a[13] = (uint8_t)(r >> 8 & 3);
		c.addr.a[14] = (uint8_t)(r >> 16);
		c.addr.a[15] = (uint8_t)(r >> 24);
		c.prefix = 96 + 8 + (unsigned)(r >> 32) % 25;
	} else {
		c.addr.a[0] = 0x20;
		c.addr.a[1] = 0x01;
		c.addr.a[2] = 0x0d;
		c.addr.a[3] = 0xb8;
		c.addr.a[6] = (uint8_t)(r >> 8 & 3);
		c.addr.a[7] = (uint8_t)(r >> 16);
		c.addr.a[15] = (uint8_t)(r >> 24);
		c.prefix = 32 + (unsigned)(r >> 32) % 97;
	}
	mask(&c.addr, c.prefix);
	return c;
}

static void
model_fill(struct model *md, size_t npool)
{
	memset(md, 0, sizeof(*md));
	while (md->npool < npool) {
		struct cidr c = random_key();
		int dup = 0;

		for (size_t i = 0; i < md->npool && !dup; i++)
			dup = cidr_same(&md->pool[i], &c);
		if (!dup)
			md->pool[md->npool++] = c;
	}
}

static struct ipaddr
random_ip_near_pool(const struct model *md)
{
	struct ipaddr ip = md->pool[rng() % md->npool].addr;
	uint64_t r = rng();

	/* keep the family and region, randomize the low bits */
	if (ipaddr_is_v4(&ip)) {
		ip.a[14] ^= (uint8_t)(r & (r >> 8) & (r >> 16));
		ip.a[15] = (uint8_t)(r >> 24);
	} else {
		ip.a[15] = (uint8_t)r;
		if (r & 0x100)
			ip.a[8] = (uint8_t)(r >> 16);
	}
	return ip;
}

/* The model's longest match: IPv4 addresses match only ranges of /96
 * and longer (IPv4 ranges). */
static int *
model_lookup(struct model *md, const struct ipaddr *ip)
{
	int v4 = ipaddr_is_v4(ip);
	size_t best = (size_t)-1;

	for (size_t i = 0; i < md->npool; i++) {
		if (!md->present[i] || (v4 && md->pool[i].prefix < 96) ||
		    !cidr_match(&md->pool[i], ip))
			continue;
		if (best == (size_t)-1 ||
		    md->pool[i].prefix > md->pool[best].prefix)
			best = i;
	}
	return best == (size_t)-1 ? NULL : &md->val[best];
}

/* Every key of the pool: found with its value if present, not found
 * otherwise; the count and the per-prefix counts agree. */
static int
model_verify(struct model *md, struct cidrmap *m)
{
	unsigned uses[129];
	int ok = 1;

	memset(uses, 0, sizeof(uses));
	for (size_t i = 0; i < md->npool; i++) {
		void *got = cidrmap_get(m, &md->pool[i]);

		if (md->present[i])
			uses[md->pool[i].prefix]++;
		if (got != (md->present[i] ? &md->val[i] : NULL)) {
			fprintf(stderr, "  key %zu: present %d, got %p\n", i,
			    md->present[i], got);
			ok = 0;
		}
	}
	if (m->count != md->nmodel) {
		fprintf(stderr, "  count %zu, model %zu\n", m->count,
		    md->nmodel);
		ok = 0;
	}
	if (memcmp(uses, m->prefix_uses, sizeof(uses)) != 0) {
		fprintf(stderr, "  prefix_uses differ from the model\n");
		ok = 0;
	}
	return ok;
}

struct random_run {
	size_t npool;		/* distinct candidate keys */
	size_t target;		/* the model size hovers around this */
	size_t ops;
	size_t verify_every;
};

static const struct random_run random_runs[] = {
	/* tiny tables: long clusters, many wrap-arounds */
	{ 24, 11, 200000, 1 },
	{ 64, 40, 200000, 97 },
	/* larger tables with growth */
	{ 4096, 3000, 300000, 5000 },
	{ 4096, 600, 300000, 5000 },
};

static void
run_random(const struct random_run *rr)
{
	static struct model md;
	struct cidrmap m;
	int ok = 1;

	model_fill(&md, rr->npool);
	cidrmap_init(&m);
	for (size_t op = 0; op < rr->ops && ok; op++) {
		size_t k = (size_t)(rng() % md.npool);
		/* insert more often below the target, delete above it */
		int put = (rng() % (2 * rr->target + 1)) >= md.nmodel;

		if (put) {
			void *prev = cidrmap_put(&m, &md.pool[k], &md.val[k]);

			if (prev != (md.present[k] ? &md.val[k] : NULL))
				ok = 0;
			if (!md.present[k])
				md.nmodel++;
			md.present[k] = 1;
		} else {
			void *got = cidrmap_del(&m, &md.pool[k]);

			if (got != (md.present[k] ? &md.val[k] : NULL))
				ok = 0;
			if (md.present[k])
				md.nmodel--;
			md.present[k] = 0;
		}
		if (!ok)
			fprintf(stderr, "  op %zu on key %zu (%s) wrong\n", op,
			    k, put ? "put" : "del");
		if (ok && op % rr->verify_every == 0)
			ok = model_verify(&md, &m);
		if (ok && op % (rr->verify_every > 997 ? rr->verify_every :
		    997) == 0) {
			for (int q = 0; q < 200 && ok; q++) {
				struct ipaddr ip = random_ip_near_pool(&md);

				if (cidrmap_lookup(&m, &ip, NULL, NULL) !=
				    model_lookup(&md, &ip)) {
					fprintf(stderr, "  lookup differs at "
					    "op %zu\n", op);
					ok = 0;
				}
			}
		}
	}
	if (ok)
		ok = model_verify(&md, &m);
	CHECK(ok);
	/* delete everything that is left */
	for (size_t k = 0; k < md.npool; k++) {
		void *got = cidrmap_del(&m, &md.pool[k]);

		CHECK(got == (md.present[k] ? &md.val[k] : NULL));
		md.present[k] = 0;
	}
	md.nmodel = 0;
	CHECK(m.count == 0);
	CHECK(model_verify(&md, &m));
	cidrmap_release(&m);
}

static void
test_random_against_model(void)
{
	for (size_t i = 0; i < sizeof(random_runs) / sizeof(random_runs[0]);
	    i++) {
		/* each map draws a new hash seed: several rounds */
		for (int round = 0; round < 3; round++)
			run_random(&random_runs[i]);
	}
}

/* ---- foreach ---- */

#define FE_N 1000

struct fe_state {
	struct cidrmap *m;
	struct cidr keys[FE_N];
	int vals[FE_N];
	unsigned seen[FE_N];
	int delete_mod;		/* delete keys whose index % this == 0 */
};

static void
fe_visit(const struct cidr *key, void *value, void *arg)
{
	struct fe_state *st = arg;
	size_t i = (size_t)((int *)value - st->vals);

	if (i >= FE_N || !cidr_same(key, &st->keys[i])) {
		CHECK(!"foreach gave a key with another value");
		return;
	}
	st->seen[i]++;
	if (st->delete_mod > 0 && i % (size_t)st->delete_mod == 0)
		CHECK(cidrmap_del(st->m, key) == value);
}

static void
test_foreach_delete(void)
{
	static struct fe_state st;
	struct cidrmap m;

	memset(&st, 0, sizeof(st));
	cidrmap_init(&m);
	st.m = &m;
	/* empty map */
	cidrmap_foreach(&m, fe_visit, &st);
	for (size_t i = 0; i < FE_N; i++) {
		struct cidr c;

		memset(&c, 0, sizeof(c));
		c.addr.a[10] = c.addr.a[11] = 0xff;
		c.addr.a[12] = 192;
		c.addr.a[13] = (uint8_t)(i >> 8);
		c.addr.a[14] = (uint8_t)i;
		c.prefix = 120 + (unsigned)(i % 9);
		mask(&c.addr, c.prefix);
		st.keys[i] = c;
		CHECK(cidrmap_put(&m, &c, &st.vals[i]) == NULL);
	}
	CHECK(m.count == FE_N);
	/* delete every third entry from inside the walk */
	st.delete_mod = 3;
	cidrmap_foreach(&m, fe_visit, &st);
	for (size_t i = 0; i < FE_N; i++) {
		CHECK(st.seen[i] == 1);
		CHECK(cidrmap_get(&m, &st.keys[i]) ==
		    (i % 3 == 0 ? NULL : &st.vals[i]));
	}
	CHECK(m.count == FE_N - (FE_N + 2) / 3);
	/* delete all the rest from inside the walk */
	memset(st.seen, 0, sizeof(st.seen));
	st.delete_mod = 1;
	cidrmap_foreach(&m, fe_visit, &st);
	for (size_t i = 0; i < FE_N; i++) {
		CHECK(st.seen[i] == (i % 3 == 0 ? 0u : 1u));
		CHECK(cidrmap_get(&m, &st.keys[i]) == NULL);
	}
	CHECK(m.count == 0);
	cidrmap_release(&m);
	/* a released map */
	cidrmap_foreach(&m, fe_visit, &st);
}

static const struct harness_test tests[] = {
	TEST(test_put_get_del),
	TEST(test_hash),
	TEST(test_lookup_longest_prefix),
	TEST(test_lookup_families),
	TEST(test_lookup_after_deletes),
	TEST(test_lookup_accept),
	TEST(test_random_against_model),
	TEST(test_foreach_delete),
};

HARNESS_MAIN("cidrmap", tests)
