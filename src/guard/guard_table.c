/* The guard's tracking table.
 * SECURITY: keys are client addresses; hashing is keyed with a random
 * seed, so nobody can aim keys at one bucket, and size is capped. */
#include "guard/guard_table.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/util.h"

/* The tracking table: bucketed cuckoo hashing. A key lives in one of two
 * buckets of BUCKET slots; a slot is a 64-byte entry holding the key and
 * its event logs inline, so an event on a known address reads one cache
 * line of entries and nothing else. Beside the entries, a 16-bit
 * fingerprint per slot (0: empty), 2 bytes a slot: a lookup compares the
 * key of a matching slot only. Each key has a preferred pair of slots in
 * each bucket, where it is put when they are free (8 keys in 10 are), and
 * whose lines a lookup fetches at once, alongside the fingerprints: a
 * lookup waits about one memory latency, not two in a row. At most LOAD
 * of each BUCKET slots are used: two choices of 8 slots rarely need to
 * move an entry at that load. About 66 bytes a slot, 75 per address. */
#define BUCKET 8
#define LOAD 7
#define MIN_BUCKETS 128
#define MAX_KICKS 500
#define HUGE_PAGE (2u << 20)
#define NO_SLOT ((size_t)-1)
#define MOVED_SLOT ((size_t)-2)

#define EVICT_SAMPLES 16
#define FLIGHT_MIN 64		/* slots of the in-flight table at first */

static int in_flight(const struct guard_table *tt, const uint8_t key[16]);


/* A cheap PRNG: samples and moves need spread, not secrecy. */
static uint64_t
next_rand(struct guard_table *tt)
{
	tt->rng ^= tt->rng << 13;
	tt->rng ^= tt->rng >> 7;
	tt->rng ^= tt->rng << 17;
	return tt->rng;
}

static inline void
probe_of(const struct guard_slots *t, const uint8_t key[16],
    struct guard_probe *p)
{
	uint64_t hi, lo, h, h2;

	/* Keyed: nobody can aim keys at one pair of buckets. */
	memcpy(&hi, key, 8);
	memcpy(&lo, key + 8, 8);
	h = hash_mix64(hash_mix64(hi ^ t->seed) ^ lo);
	h2 = (h ^ (h >> 29)) * 0x9e3779b97f4a7c15ULL;

	/* Buckets by multiplying (no power of two needed), from the high
	 * bits; the fingerprint from the low ones. */
	p->b[0] = (size_t)(((h >> 32) * (uint64_t)t->nb) >> 32);
	p->b[1] = (size_t)(((h2 >> 32) * (uint64_t)t->nb) >> 32);
	p->fp = (uint16_t)h != 0 ? (uint16_t)h : 1;
	p->nb = t->nb;
	p->seed = t->seed;
	p->home[0] = 2 * (p->fp % (BUCKET / 2));
	p->home[1] = 2 * ((p->fp / (BUCKET / 2)) % (BUCKET / 2));
}

/* As probe_of(), for a lookup: the fingerprints and the entry lines of
 * the preferred slots, where most keys are, are fetched now, all at
 * once. Events make their probe first, so that the other work they do
 * (lists, blocks) overlaps with the fetch. */
static void
probe_key(const struct guard_slots *t, const uint8_t key[16],
    struct guard_probe *p)
{
	const struct guard_entry *h0, *h1;

	probe_of(t, key, p);
	h0 = &t->e[p->b[0] * BUCKET + p->home[0]];
	h1 = &t->e[p->b[1] * BUCKET + p->home[1]];
	__builtin_prefetch(&t->fp[p->b[0] * BUCKET]);
	__builtin_prefetch(&t->fp[p->b[1] * BUCKET]);
	__builtin_prefetch(h0);
	__builtin_prefetch(h0 + 1);
	__builtin_prefetch(h1);
	__builtin_prefetch(h1 + 1);
}

/* Is p, made earlier, still good for t? */
static int
probe_valid(const struct guard_slots *t, const struct guard_probe *p)
{
	return p->nb == t->nb && p->seed == t->seed;
}

/* The bits of bucket_match() for the home pair at slot h. */
static unsigned
pair_bits(unsigned h)
{
	return 0x5u << (2 * h);
}

/* Bit 2s set for each slot s of the bucket at fp whose value is v. */
static inline unsigned
bucket_match(const uint16_t *fp, uint16_t v)
{
#ifdef __SSE2__
	__m128i x = _mm_loadu_si128((const __m128i *)(const void *)fp);

	return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(x,
	    _mm_set1_epi16((short)v))) & 0x5555u;
#else
	unsigned bits = 0;

	for (unsigned s = 0; s < BUCKET; s++)
		bits |= (unsigned)(fp[s] == v) << (2 * s);
	return bits;
#endif
}

static size_t
first_slot(size_t bucket, unsigned bits)
{
	return bucket * BUCKET + (unsigned)__builtin_ctz(bits) / 2;
}

static inline struct guard_entry *
table_find(const struct guard_slots *t, const uint8_t key[16],
    const struct guard_probe *p)
{
	for (int k = 0; k < 2; k++) {
		unsigned bits = bucket_match(t->fp + p->b[k] * BUCKET, p->fp);

		for (; bits != 0; bits &= bits - 1) {
			struct guard_entry *e;

			e = &t->e[first_slot(p->b[k], bits)];
			if (memcmp(e->key, key, 16) == 0)
				return e;
		}
	}
	return NULL;
}

/* Stores *e (whose key is not in t) in a preferred slot if one is free,
 * else in the emptier of its buckets. When both are full, makes room by
 * moving entries to their other bucket, a random walk. Returns e's slot,
 * MOVED_SLOT when it is stored but moves followed, or NO_SLOT when the
 * walk failed: *e is then the entry left without a slot (another one,
 * perhaps) and t holds all the others. */
static size_t
table_place(struct guard_table *tt, struct guard_slots *t,
    struct guard_entry *e)
{
	struct guard_probe p;
	unsigned f0, f1;
	size_t b;
	uint16_t fp;

	probe_of(t, e->key, &p);
	f0 = bucket_match(t->fp + p.b[0] * BUCKET, 0);
	f1 = bucket_match(t->fp + p.b[1] * BUCKET, 0);
	if ((f0 | f1) != 0) {
		size_t s;

		if (f0 & pair_bits(p.home[0]))
			s = first_slot(p.b[0], f0 & pair_bits(p.home[0]));
		else if (f1 & pair_bits(p.home[1]))
			s = first_slot(p.b[1], f1 & pair_bits(p.home[1]));
		else if (__builtin_popcount(f1) > __builtin_popcount(f0))
			s = first_slot(p.b[1], f1);
		else
			s = first_slot(p.b[0], f0);

		t->e[s] = *e;
		t->fp[s] = p.fp;
		return s;
	}
	b = p.b[next_rand(tt) & 1];
	fp = p.fp;
	for (int kick = 0; kick < MAX_KICKS; kick++) {
		size_t s = b * BUCKET + next_rand(tt) % BUCKET;
		struct guard_entry out = t->e[s];
		uint16_t out_fp = t->fp[s];
		unsigned room;

		t->e[s] = *e;
		t->fp[s] = fp;
		*e = out;
		fp = out_fp;
		probe_of(t, e->key, &p);
		b = p.b[0] == b ? p.b[1] : p.b[0];
		room = bucket_match(t->fp + b * BUCKET, 0);
		if (room != 0) {
			s = first_slot(b, room);
			t->e[s] = *e;
			t->fp[s] = fp;
			return MOVED_SLOT;
		}
	}
	return NO_SLOT;
}

/* Entries are cache-line aligned. A large table is aligned to huge pages
 * and asks for them: its lines are touched at random, so 4 KiB pages
 * would cost a TLB miss and, the first time, a page fault each. */
static void
table_alloc(struct guard_slots *t, size_t nb)
{
	size_t n = nb * BUCKET;
	size_t size = n * (sizeof(struct guard_entry) + sizeof(*t->fp));
	size_t align = size >= 2 * HUGE_PAGE ? HUGE_PAGE : 64;

	t->nb = nb;
	t->mem = xmalloc(size + align - 1);
	t->e = (struct guard_entry *)(((uintptr_t)t->mem + align - 1) &
	    ~(uintptr_t)(align - 1));
	t->fp = (uint16_t *)(t->e + n);
#ifdef MADV_HUGEPAGE
	if (align == HUGE_PAGE)
		(void)madvise(t->e, size & ~(size_t)(HUGE_PAGE - 1),
		    MADV_HUGEPAGE);
#endif
	memset(t->fp, 0, n * sizeof(*t->fp));
}

static void
table_release(struct guard_slots *t)
{
	free(t->mem);
	t->mem = NULL;
	t->e = NULL;
	t->fp = NULL;
	t->nb = 0;
}

/* Doubles the table. With buckets chosen by multiplying, a key of bucket
 * b goes to bucket 2b or 2b + 1: both tables are walked in order, and
 * the 8 entries of a bucket always fit in its two successors. */
static void
table_double(struct guard_table *tt)
{
	struct guard_slots old = tt->s, t;

	table_alloc(&t, old.nb * 2);
	t.seed = old.seed;
	for (size_t b = 0; b < old.nb; b++) {
		unsigned used[2] = { 0, 0 };

		for (size_t s = b * BUCKET; s < (b + 1) * BUCKET; s++) {
			struct guard_probe p;
			unsigned k, slot, *u;

			if (old.fp[s] == 0)
				continue;
			probe_of(&t, old.e[s].key, &p);
			k = p.b[0] / 2 == b ? 0 : 1;
			MW_ASSERT(p.b[k] / 2 == b);
			u = &used[p.b[k] % 2];
			slot = !(*u & (1u << p.home[k])) ? p.home[k] :
			    !(*u & (2u << p.home[k])) ? p.home[k] + 1 :
			    (unsigned)__builtin_ctz(~*u);
			*u |= 1u << slot;
			t.e[p.b[k] * BUCKET + slot] = old.e[s];
			t.fp[p.b[k] * BUCKET + slot] = old.fp[s];
		}
	}
	table_release(&old);
	tt->s = t;
}

/* Moves every entry (and extra, if not NULL) into a table of nb buckets.
 * Should the moves fail (they practically never do), it starts again
 * with another hash seed; the old table is freed only after success. */
static void
table_rebuild(struct guard_table *tt, size_t nb,
    const struct guard_entry *extra)
{
	struct guard_slots old = tt->s, t;
	uint64_t seed = old.seed;

	for (;;) {
		int ok = 1;

		table_alloc(&t, nb);
		t.seed = seed;
		for (size_t s = 0; ok && s < old.nb * BUCKET; s++) {
			struct guard_entry e;

			if (old.fp[s] == 0)
				continue;
			e = old.e[s];
			ok = table_place(tt, &t, &e) != NO_SLOT;
		}
		if (ok && extra != NULL) {
			struct guard_entry e = *extra;

			ok = table_place(tt, &t, &e) != NO_SLOT;
		}
		if (ok)
			break;
		table_release(&t);
		seed = random_u64();
	}
	table_release(&old);
	tt->s = t;
}

/* Buckets for max_entries at the highest load. */
static size_t
max_buckets(const struct guard_table *tt)
{
	return (tt->max + LOAD - 1) / LOAD;
}

/* The first size: doubling it reaches max_buckets() or a little more
 * (under 1/64 more), so that the table only ever grows by doubling. */
static size_t
start_buckets(const struct guard_table *tt)
{
	size_t nb = max_buckets(tt);

	while (nb > MIN_BUCKETS)
		nb = (nb + 1) / 2;
	return nb;
}

/* Makes room for one more entry, if the cap allows it. */
static void
table_grow(struct guard_table *tt)
{
	size_t max = max_buckets(tt);

	if (tt->n + 1 <= tt->s.nb * LOAD || tt->s.nb >= max)
		return;
	if (tt->s.nb * 2 <= max + max / 32)
		table_double(tt);
	else
		table_rebuild(tt, max, NULL);	/* the cap was changed */
}

struct guard_entry *
guard_table_find(const struct guard_table *tt, const struct ipaddr *key)
{
	struct guard_probe p;

	if (tt->n == 0)
		return NULL;
	probe_of(&tt->s, key->a, &p);
	return table_find(&tt->s, key->a, &p);
}

void
guard_table_clear_logs(struct guard_table *tt, struct guard_entry *e)
{
	tt->log_bytes -= guard_elog_clear(&e->log, &e->nlog);
}

static void
evict_slot(struct guard_table *tt, size_t s)
{
	guard_table_clear_logs(tt, &tt->s.e[s]);
	tt->s.fp[s] = 0;
	tt->n--;
	tt->evictions++;
}

/* Evicts the least recently active of the candidate slots that has no
 * login in flight. Blocks live elsewhere, so none is ever evicted. */
static int
evict_least_active(struct guard_table *tt, const size_t *cand, unsigned n)
{
	size_t best = NO_SLOT;

	for (unsigned i = 0; i < n; i++) {
		const struct guard_entry *e = &tt->s.e[cand[i]];

		if (!in_flight(tt, e->key) && (best == NO_SLOT ||
		    e->last < tt->s.e[best].last))
			best = cand[i];
	}
	if (best == NO_SLOT)
		return -1;
	evict_slot(tt, best);
	return 0;
}

/* Evicts from the two buckets where a new key goes, making room for it:
 * a random sample of up to 16 entries, since where an entry lives has
 * nothing to do with its activity. */
static int
evict_for(struct guard_table *tt, const struct guard_probe *p)
{
	size_t cand[2 * BUCKET];
	unsigned n = 0;

	for (int k = 0; k < 2; k++) {
		unsigned bits = bucket_match(tt->s.fp + p->b[k] * BUCKET, 0) ^
		    0x5555u;

		if (k == 1 && p->b[1] == p->b[0])
			break;
		for (; bits != 0; bits &= bits - 1)
			cand[n++] = first_slot(p->b[k], bits);
	}
	return evict_least_active(tt, cand, n);
}

/* Evicts from a random sample of the table. */
static int
evict_one(struct guard_table *tt)
{
	size_t n = tt->s.nb * BUCKET, cand[EVICT_SAMPLES], s = 0;
	unsigned seen = 0;

	for (int i = 0; i < 4 * EVICT_SAMPLES && seen < EVICT_SAMPLES; i++) {
		s = (size_t)(next_rand(tt) % n);
		if (tt->s.fp[s] != 0)
			cand[seen++] = s;
	}
	if (seen == EVICT_SAMPLES && evict_least_active(tt, cand, seen) == 0)
		return 0;
	/* A sparse table, or logins in flight everywhere: go on in order
	 * from there, so that whatever can be evicted is found. */
	for (size_t i = 0; i < n; i++) {
		s = s + 1 < n ? s + 1 : 0;
		if (tt->s.fp[s] != 0 && !in_flight(tt, tt->s.e[s].key)) {
			evict_slot(tt, s);
			return 0;
		}
	}
	return -1;
}

struct guard_entry *
guard_table_lookup(struct guard_table *tt, const struct ipaddr *key,
    uint32_t r, const struct guard_probe *pr)
{
	struct guard_entry *e;
	struct guard_probe p;

	if (pr != NULL && probe_valid(&tt->s, pr))
		p = *pr;
	else
		probe_key(&tt->s, key->a, &p);
	if ((e = table_find(&tt->s, key->a, &p)) != NULL)
		e->last = r;
	return e;
}

int
guard_table_add(struct guard_table *tt, const struct guard_entry *fresh,
    const struct guard_probe *pr)
{
	struct guard_entry e = *fresh;
	struct guard_probe p;
	size_t s;

	if (tt->n >= tt->max) {
		if (pr != NULL && probe_valid(&tt->s, pr))
			p = *pr;
		else
			probe_of(&tt->s, e.key, &p);
		if (evict_for(tt, &p) < 0)
			while (tt->n >= tt->max)
				if (evict_one(tt) < 0)
					return -1;
	}
	table_grow(tt);
	tt->n++;
	s = table_place(tt, &tt->s, &e);
	if (s == NO_SLOT)
		table_rebuild(tt, tt->s.nb, &e);
	return 0;
}

void
guard_table_init(struct guard_table *tt, size_t max)
{
	memset(tt, 0, sizeof(*tt));
	tt->max = max ? max : 1;
	tt->rng = random_u64() | 1;
	table_alloc(&tt->s, start_buckets(tt));
	tt->s.seed = random_u64();
	tt->fl_seed = random_u64();
}

/* The in-flight table: linear probing, at most half full. */

static size_t
flight_home(const struct guard_table *tt, const uint8_t key[16])
{
	uint64_t hi, lo;

	memcpy(&hi, key, 8);
	memcpy(&lo, key + 8, 8);
	return (size_t)hash_mix64(hash_mix64(hi ^ tt->fl_seed) ^ lo) &
	    (tt->fl_cap - 1);
}

/* The slot of key, or the empty slot where it would go. */
static size_t
flight_slot(const struct guard_table *tt, const uint8_t key[16])
{
	size_t i = flight_home(tt, key);

	while (tt->fl[i].n != 0 && memcmp(tt->fl[i].key, key, 16) != 0)
		i = (i + 1) & (tt->fl_cap - 1);
	return i;
}

static int
in_flight(const struct guard_table *tt, const uint8_t key[16])
{
	return tt->fl_n != 0 && tt->fl[flight_slot(tt, key)].n != 0;
}

static void
flight_grow(struct guard_table *tt)
{
	struct guard_flight *old = tt->fl;
	size_t cap = tt->fl_cap;

	tt->fl_cap = cap ? 2 * cap : FLIGHT_MIN;
	tt->fl = xcalloc(tt->fl_cap, sizeof(*tt->fl));
	for (size_t i = 0; i < cap; i++)
		if (old[i].n != 0)
			tt->fl[flight_slot(tt, old[i].key)] = old[i];
	free(old);
}

/* The login pipeline. A login's end needs the key's fingerprints, its
 * entry, and the ring its failure goes to: three memory latencies in a
 * row, as each shows where the next is. Fetching all a key's candidate
 * lines at once instead costs six lines for the one used. So each begin
 * fetches its key's fingerprints, and moves the logins begun before it
 * one step: FETCH_ENTRY begins later the fingerprints (in cache by then)
 * show the slot, whose line is fetched; FETCH_RING begins later the
 * entry shows the ring. The end, a password check later, finds all of
 * it in cache. Only fetches: a key moved or evicted meanwhile costs a
 * wait at the end, never a wrong answer. */
#define FETCH_ENTRY 2
#define FETCH_RING 5

_Static_assert(FETCH_RING < GUARD_FETCH_QUEUE &&
    (GUARD_FETCH_QUEUE & (GUARD_FETCH_QUEUE - 1)) == 0,
    "the queue holds every step");

static void
fetch_steps(struct guard_table *tt, const uint8_t key[16], unsigned kind)
{
	const struct guard_slots *t = &tt->s;
	unsigned i = tt->fq_i++;
	struct guard_fetch *f = &tt->fq[i % GUARD_FETCH_QUEUE];
	const struct guard_entry *e;

	probe_of(t, key, &f->p);
	memcpy(f->key, key, 16);
	f->slot = NO_SLOT;
	__builtin_prefetch(&t->fp[f->p.b[0] * BUCKET]);
	__builtin_prefetch(&t->fp[f->p.b[1] * BUCKET]);

	f = &tt->fq[(i - FETCH_ENTRY) % GUARD_FETCH_QUEUE];
	if (f->p.nb != 0 && probe_valid(t, &f->p)) {
		for (int k = 0; k < 2 && f->slot == NO_SLOT; k++) {
			unsigned bits = bucket_match(t->fp + f->p.b[k] * BUCKET,
			    f->p.fp);

			if (bits != 0) {
				f->slot = first_slot(f->p.b[k], bits);
				__builtin_prefetch(&t->e[f->slot]);
			}
		}
	}

	f = &tt->fq[(i - FETCH_RING) % GUARD_FETCH_QUEUE];
	if (f->slot != NO_SLOT && probe_valid(t, &f->p) &&
	    t->fp[f->slot] == f->p.fp &&
	    memcmp((e = &t->e[f->slot])->key, f->key, 16) == 0 &&
	    e->nlog == GUARD_ELOG_RINGS && e->log.ring[kind] != NULL)
		guard_log_prefetch(e->log.ring[kind]);
}

void
guard_table_flight_begin(struct guard_table *tt, const uint8_t key[16],
    unsigned kind)
{
	size_t i;

	fetch_steps(tt, key, kind);

	if (2 * (tt->fl_n + 1) > tt->fl_cap)
		flight_grow(tt);
	i = flight_slot(tt, key);
	if (tt->fl[i].n == 0) {
		memcpy(tt->fl[i].key, key, 16);
		tt->fl_n++;
	}
	if (tt->fl[i].n < UINT32_MAX)
		tt->fl[i].n++;
}

unsigned
guard_table_flight_end(struct guard_table *tt, const uint8_t key[16])
{
	size_t i, j;

	if (tt->fl_n == 0)
		return 0;
	i = flight_slot(tt, key);
	if (tt->fl[i].n == 0)
		return 0;	/* not begun: a broken contract, tolerated */
	if (--tt->fl[i].n != 0)
		return tt->fl[i].n;
	tt->fl_n--;
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (j = (i + 1) & (tt->fl_cap - 1); tt->fl[j].n != 0;
	    j = (j + 1) & (tt->fl_cap - 1)) {
		size_t home = flight_home(tt, tt->fl[j].key);

		if (((j - home) & (tt->fl_cap - 1)) >=
		    ((j - i) & (tt->fl_cap - 1))) {
			tt->fl[i] = tt->fl[j];
			tt->fl[j].n = 0;
			i = j;
		}
	}
	return 0;
}

void
guard_table_free(struct guard_table *tt)
{
	for (size_t s = 0; s < tt->s.nb * BUCKET; s++)
		if (tt->s.fp[s] != 0)
			guard_table_clear_logs(tt, &tt->s.e[s]);
	table_release(&tt->s);
	free(tt->fl);
	tt->fl = NULL;
	tt->fl_cap = tt->fl_n = 0;
}

void
guard_table_set_max(struct guard_table *tt, size_t max)
{
	size_t need;

	tt->max = max ? max : 1;
	while (tt->n > tt->max && evict_one(tt) == 0)
		;
	/* A smaller cap: a smaller table, big enough for what is left. */
	need = (tt->n + LOAD - 1) / LOAD;
	if (need < max_buckets(tt))
		need = max_buckets(tt);
	if (tt->s.nb > need)
		table_rebuild(tt, need, NULL);
}

void
guard_table_probe(const struct guard_table *tt, const uint8_t key[16],
    struct guard_probe *p)
{
	probe_key(&tt->s, key, p);
}

void
guard_table_shift(struct guard_table *tt, uint32_t shift)
{
	for (size_t s = 0; s < tt->s.nb * BUCKET; s++) {
		struct guard_entry *en = &tt->s.e[s];

		if (tt->s.fp[s] == 0)
			continue;
		en->last = en->last > shift ? en->last - shift : 0;
		guard_elog_shift(&en->log, en->nlog, shift);
	}
}

size_t
guard_table_memory(const struct guard_table *tt)
{
	return tt->s.nb * BUCKET * (sizeof(struct guard_entry) +
	    sizeof(*tt->s.fp)) + tt->log_bytes;
}
