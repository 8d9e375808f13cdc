/* Classic BPF programs that drop packets by source address range.
 * SECURITY: the ranges come from the guard (blocked and denied client
 * ranges); a program only ever drops, never alters, what it sees. */
#include "core/sockfilter.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define DROP 0
#define KEEP 0xffffffffu	/* the whole packet */
#define V4_SRC 12		/* offsets in the IP headers */
#define V6_SRC 8

struct emit {
	struct sock_filter *p;
	int n;
};

static void
op(struct emit *e, uint16_t code, uint8_t jt, uint8_t jf, uint32_t k)
{
	e->p[e->n++] = (struct sock_filter){ code, jt, jf, k };
}

static uint32_t
word(const struct cidr *c, unsigned i)
{
	const uint8_t *a = c->addr.a + 4 * i;

	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 |
	    (uint32_t)a[2] << 8 | a[3];
}

/* The mask of 32-bit word i (0..3) under prefix. */
static uint32_t
word_mask(unsigned prefix, unsigned i)
{
	unsigned bits = prefix > 32 * i ? prefix - 32 * i : 0;

	if (bits >= 32)
		return 0xffffffffu;
	return bits == 0 ? 0 : ~(0xffffffffu >> bits);
}

static int
is_v4(const struct cidr *c)
{
	return ipaddr_is_v4(&c->addr) && c->prefix >= 96;
}

/* IPv4: the source is in X. Exact addresses compare A, kept loaded. */
static void
emit_v4(struct emit *e, const struct cidr *r, size_t n)
{
	op(e, BPF_LD | BPF_W | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF + V4_SRC);
	op(e, BPF_MISC | BPF_TAX, 0, 0, 0);
	for (size_t i = 0; i < n; i++) {
		if (!is_v4(&r[i]) || r[i].prefix != 128)
			continue;
		op(e, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, word(&r[i], 3));
		op(e, BPF_RET | BPF_K, 0, 0, DROP);
	}
	for (size_t i = 0; i < n; i++) {
		if (!is_v4(&r[i]) || r[i].prefix == 128)
			continue;
		op(e, BPF_MISC | BPF_TXA, 0, 0, 0);
		op(e, BPF_ALU | BPF_AND | BPF_K, 0, 0,
		    word_mask(r[i].prefix, 3));
		op(e, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, word(&r[i], 3));
		op(e, BPF_RET | BPF_K, 0, 0, DROP);
	}
	op(e, BPF_RET | BPF_K, 0, 0, KEEP);
}

/* IPv6: per range, each word its prefix covers, the first mismatch
 * skipping to the next range. */
static void
emit_v6(struct emit *e, const struct cidr *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned words = (r[i].prefix + 31) / 32, len = 0;

		if (is_v4(&r[i]))
			continue;
		for (unsigned w = 0; w < words; w++)
			len += word_mask(r[i].prefix, w) == 0xffffffffu ? 2 : 3;
		for (unsigned w = 0; w < words; w++) {
			uint32_t m = word_mask(r[i].prefix, w);

			op(e, BPF_LD | BPF_W | BPF_ABS, 0, 0,
			    (uint32_t)SKF_NET_OFF + V6_SRC + 4 * w);
			len--;
			if (m != 0xffffffffu) {
				op(e, BPF_ALU | BPF_AND | BPF_K, 0, 0, m);
				len--;
			}
			/* A mismatch skips the rest and the DROP. */
			op(e, BPF_JMP | BPF_JEQ | BPF_K, 0, (uint8_t)len,
			    word(&r[i], w) & m);
			len--;
		}
		op(e, BPF_RET | BPF_K, 0, 0, DROP);
	}
	op(e, BPF_RET | BPF_K, 0, 0, KEEP);
}

int
sockfilter_build(const struct cidr *ranges, size_t n,
    struct sock_filter *prog)
{
	struct emit e = { prog, 0 };
	int v6_at;

	if (n > SOCKFILTER_MAX_RANGES)
		return -1;
	/* The IP version: 6 jumps to the IPv6 part, all else is IPv4. */
	op(&e, BPF_LD | BPF_B | BPF_ABS, 0, 0, (uint32_t)SKF_NET_OFF);
	op(&e, BPF_ALU | BPF_RSH | BPF_K, 0, 0, 4);
	op(&e, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 6);
	op(&e, BPF_JMP | BPF_JA, 0, 0, 0);	/* to the IPv6 part, below */
	emit_v4(&e, ranges, n);
	v6_at = e.n;
	prog[3].k = (uint32_t)(v6_at - 4);
	emit_v6(&e, ranges, n);
	return e.n;
}

int
sockfilter_attach(int fd, const struct sock_filter *prog, size_t n)
{
	struct sock_fprog fp;
	int zero = 0;

	if (n == 0) {
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, &zero,
		    sizeof(zero)) < 0 && errno != ENOENT)
			return -1;
		return 0;
	}
	fp.len = (unsigned short)n;
	fp.filter = (struct sock_filter *)(uintptr_t)prog;
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp));
}
