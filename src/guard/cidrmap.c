/* CIDR map: open addressing with linear probing.
 * SECURITY: keys come from client addresses; the hash is keyed with a
 * random seed so that nobody can aim collisions at it. */
#include "guard/cidrmap.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

uint64_t
cidrmap_hash(uint64_t seed, const uint8_t a[16], unsigned prefix)
{
	uint64_t hi, lo;

	memcpy(&hi, a, 8);
	memcpy(&lo, a + 8, 8);
	return hash_mix64(hash_mix64(hi ^ seed) ^ lo ^
	    ((uint64_t)prefix << 56));
}

void
cidrmap_init(struct cidrmap *m)
{
	memset(m, 0, sizeof(*m));
	m->seed = random_u64();
}

void
cidrmap_release(struct cidrmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
	memset(m->prefix_uses, 0, sizeof(m->prefix_uses));
	m->nlengths = 0;
}

/* Rebuilds the list of prefix lengths in use (on first and last use). */
static void
update_lengths(struct cidrmap *m)
{
	m->nlengths = 0;
	for (int p = 128; p >= 0; p--)
		if (m->prefix_uses[p] > 0)
			m->lengths[m->nlengths++] = (uint8_t)p;
}

static size_t
find_slot(const struct cidrmap *m, const struct cidr *key)
{
	size_t i = cidrmap_hash(m->seed, key->addr.a, key->prefix) &
	    (m->cap - 1);

	while (m->slots[i].value != NULL && !cidr_equal(&m->slots[i].key, key))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void
grow(struct cidrmap *m)
{
	struct cidrmap_slot *old = m->slots;
	size_t oldcap = m->cap;

	m->cap = oldcap ? oldcap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].value != NULL)
			m->slots[find_slot(m, &old[i].key)] = old[i];
	free(old);
}

void *
cidrmap_put(struct cidrmap *m, const struct cidr *key, void *value)
{
	size_t i;
	void *prev;

	MW_ASSERT(value != NULL && key->prefix <= 128);
	if ((m->count + 1) * 4 > m->cap * 3)
		grow(m);
	i = find_slot(m, key);
	prev = m->slots[i].value;
	if (prev == NULL) {
		m->count++;
		if (m->prefix_uses[key->prefix]++ == 0)
			update_lengths(m);
	}
	m->slots[i].key = *key;
	m->slots[i].tag = 0;
	m->slots[i].value = value;
	return prev;
}

void *
cidrmap_get(const struct cidrmap *m, const struct cidr *key)
{
	if (m->count == 0)
		return NULL;
	return m->slots[find_slot(m, key)].value;
}

void
cidrmap_set_tag(struct cidrmap *m, const struct cidr *key, uint32_t tag)
{
	size_t i;

	if (m->count == 0)
		return;
	i = find_slot(m, key);
	if (m->slots[i].value != NULL)
		m->slots[i].tag = tag;
}

void *
cidrmap_get_tag(const struct cidrmap *m, const struct cidr *key,
    uint32_t *tag_r)
{
	size_t i;

	*tag_r = 0;
	if (m->count == 0)
		return NULL;
	i = find_slot(m, key);
	*tag_r = m->slots[i].tag;
	return m->slots[i].value;
}

void *
cidrmap_del(struct cidrmap *m, const struct cidr *key)
{
	size_t i, j;
	void *value;

	if (m->count == 0)
		return NULL;
	i = find_slot(m, key);
	value = m->slots[i].value;
	if (value == NULL)
		return NULL;
	m->slots[i].value = NULL;
	m->count--;
	if (--m->prefix_uses[key->prefix] == 0)
		update_lengths(m);
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (j = (i + 1) & (m->cap - 1); m->slots[j].value != NULL;
	    j = (j + 1) & (m->cap - 1)) {
		size_t home = cidrmap_hash(m->seed, m->slots[j].key.addr.a,
		    m->slots[j].key.prefix) & (m->cap - 1);

		if (((j - home) & (m->cap - 1)) >= ((j - i) & (m->cap - 1))) {
			m->slots[i] = m->slots[j];
			m->slots[j].value = NULL;
			i = j;
		}
	}
	return value;
}

void *
cidrmap_lookup(const struct cidrmap *m, const struct ipaddr *ip,
    int (*accept)(void *value, void *arg), void *arg)
{
	int v4 = ipaddr_is_v4(ip);

	if (m->count == 0)
		return NULL;
	for (unsigned li = 0; li < m->nlengths; li++) {
		unsigned p = m->lengths[li];
		struct cidr key;
		void *value;

		/* IPv4 is held mapped: only /96 and longer ranges (IPv4
		 * ranges) apply to it, never an IPv6 range such as ::/0. */
		if (v4 && p < 96)
			break;
		key.addr = *ip;
		key.prefix = p;
		for (unsigned i = 0; i < 16; i++) {
			unsigned keep = p > i * 8 ? p - i * 8 : 0;

			if (keep < 8)
				key.addr.a[i] &= (uint8_t)(0xff00 >> keep);
		}
		value = m->slots[find_slot(m, &key)].value;
		if (value != NULL && (accept == NULL || accept(value, arg)))
			return value;
	}
	return NULL;
}

void
cidrmap_foreach(struct cidrmap *m,
    void (*fn)(const struct cidr *key, void *value, void *arg), void *arg)
{
	/* A snapshot first: deletions move entries between slots. */
	struct cidrmap_slot *all = xmalloc((m->count + 1) * sizeof(*all));
	size_t n = 0;

	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].value != NULL)
			all[n++] = m->slots[i];
	for (size_t i = 0; i < n; i++)
		fn(&all[i].key, all[i].value, arg);
	free(all);
}
