/* Counts in use by key: a chained hash table that grows with its
 * entries and frees each entry at zero. */
#include "core/tally.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct tally_entry {
	struct tally_entry *next;
	unsigned count;
	size_t len;
	unsigned char key[];
};

struct tally {
	struct tally_entry **buckets;
	size_t nbuckets;	/* a power of two */
	size_t n;
};

static uint64_t
hash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h ^ (h >> 29);
}

struct tally *
tally_new(void)
{
	struct tally *t = xcalloc(1, sizeof(*t));

	t->nbuckets = 64;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	return t;
}

void
tally_free(struct tally **tp)
{
	struct tally *t = *tp;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->buckets[i] != NULL) {
			struct tally_entry *e = t->buckets[i];

			t->buckets[i] = e->next;
			free(e);
		}
	free(t->buckets);
	free(t);
	*tp = NULL;
}

static struct tally_entry **
find(const struct tally *t, const void *key, size_t len)
{
	struct tally_entry **pp = &t->buckets[hash(key, len) &
	    (t->nbuckets - 1)];

	for (; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->len == len && memcmp((*pp)->key, key, len) == 0)
			break;
	return pp;
}

static void
grow(struct tally *t)
{
	size_t n = t->nbuckets * 2;
	struct tally_entry **b = xcalloc(n, sizeof(*b));

	for (size_t i = 0; i < t->nbuckets; i++)
		while (t->buckets[i] != NULL) {
			struct tally_entry *e = t->buckets[i];
			size_t h = hash(e->key, e->len) & (n - 1);

			t->buckets[i] = e->next;
			e->next = b[h];
			b[h] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

unsigned
tally_take(struct tally *t, const void *key, size_t len, unsigned max)
{
	struct tally_entry **pp, *e;

	if (len > TALLY_KEY_MAX || max == 0)
		return 0;
	pp = find(t, key, len);
	if (*pp != NULL) {
		if ((*pp)->count >= max)
			return 0;
		return ++(*pp)->count;
	}
	e = xmalloc(sizeof(*e) + len);
	e->next = NULL;
	e->count = 1;
	e->len = len;
	memcpy(e->key, key, len);
	*pp = e;
	if (++t->n > t->nbuckets)
		grow(t);
	return 1;
}

void
tally_give(struct tally *t, const void *key, size_t len)
{
	struct tally_entry **pp = find(t, key, len), *e = *pp;

	if (e == NULL)
		return;
	if (--e->count == 0) {
		*pp = e->next;
		free(e);
		t->n--;
	}
}

unsigned
tally_get(const struct tally *t, const void *key, size_t len)
{
	struct tally_entry *e = *find(t, key, len);

	return e != NULL ? e->count : 0;
}
