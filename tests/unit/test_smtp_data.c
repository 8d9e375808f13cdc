/* Unit tests for src/smtp/smtp_data.c: the DATA reader.
 *
 * Every case is fed whole, one byte at a time and in many random splits
 * (with empty feeds mixed in), each chunk in a heap block of exactly its
 * size, and every way must give the same result. A small reference model
 * of RFC 5321 4.1.1.4 and 4.5.2 is also checked against the reader on
 * every string of up to 8 bytes over { '.', CR, LF, 'a' }. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp_data.h"
#include "harness.h"

#define BIG (1024 * 1024)

enum feed_mode {
	FEED_WHOLE,
	FEED_BYTES,
	FEED_RANDOM,
};

struct result {
	int done;
	size_t used;		/* bytes consumed in all */
	unsigned errors;
	size_t size;
	struct buf out;
};

static uint64_t
rng_next(uint64_t *s)
{
	/* xorshift64*: deterministic, so a failure can be replayed */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

/* Feeds in[0..len) as the mode says; stops at the end of data. The
 * caller releases r->out. Returns 0 if the reader broke the feeding
 * contract (used beyond the chunk, or not all of a chunk without end). */
static int
run_feed(const char *in, size_t len, size_t max, enum feed_mode mode,
    uint64_t seed, size_t bufmax, struct result *r)
{
	struct smtp_data d;
	size_t off = 0;
	int ok = 1;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, bufmax);
	buf_append_str(&r->out, "stale");	/* init must empty it */
	smtp_data_init(&d, &r->out, max);
	if (r->out.len != 0)
		ok = 0;
	seed = seed * 2 + 1;
	while (off < len || mode == FEED_RANDOM) {
		size_t n, used = SIZE_MAX;
		char *chunk;
		int rc;

		if (mode == FEED_WHOLE)
			n = len - off;
		else if (mode == FEED_BYTES)
			n = 1;
		else {
			uint64_t x = rng_next(&seed);

			/* mostly short chunks, some empty, some long */
			n = x % 4 == 0 ? (size_t)(x >> 8) % 2000 :
			    (size_t)(x >> 8) % 8;
			if (n > len - off)
				n = len - off;
		}
		chunk = malloc(n ? n : 1);
		if (chunk == NULL)
			abort();
		memcpy(chunk, in + off, n);
		rc = smtp_data_feed(&d, chunk, n, &used);
		free(chunk);
		if (rc == 1) {
			if (used > n || used == 0)
				ok = 0;
			r->done = 1;
			off += used <= n ? used : n;
			break;
		}
		if (rc != 0 || used != n)
			ok = 0;
		off += n;
		if (mode == FEED_RANDOM && off >= len)
			break;
	}
	r->used = off;
	r->errors = d.errors;
	r->size = d.size;
	return ok;
}

/* ---- the reference model ---- */

struct model {
	int done;
	size_t used;
	unsigned errors;	/* BARE_NL and LONG_LINE; TOO_BIG see below */
	size_t size;		/* unstuffed size when done */
	char *out;		/* unstuffed message when done */
};

/* The end of data is the first "." CRLF at the start of the input or
 * right after a CRLF. Before it, every CR must be followed by LF and
 * every LF preceded by CR; lines (split after CRLF) are at most 1000
 * octets; a line's leading dot is removed. */
static void
model_run(const char *in, size_t len, struct model *m)
{
	size_t end = len, line = 0;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i + 3 <= len; i++)
		if ((i == 0 || (i >= 2 && in[i - 2] == '\r' &&
		    in[i - 1] == '\n')) && in[i] == '.' && in[i + 1] == '\r' &&
		    in[i + 2] == '\n') {
			m->done = 1;
			end = i;
			break;
		}
	m->used = m->done ? end + 3 : len;
	m->out = malloc(end + 1);
	if (m->out == NULL)
		abort();
	for (size_t i = 0; i < end; i++) {
		if (in[i] == '\r' && i + 1 < end && in[i + 1] != '\n')
			m->errors |= SMTP_DATA_BARE_NL;
		if (in[i] == '\r' && i + 1 == end && m->done)
			m->errors |= SMTP_DATA_BARE_NL;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			m->errors |= SMTP_DATA_BARE_NL;
		if (++line > SMTP_DATA_LINE_MAX)
			m->errors |= SMTP_DATA_LONG_LINE;
		if (!(line == 1 && in[i] == '.'))
			m->out[m->size++] = in[i];
		if (in[i] == '\n' && i > 0 && in[i - 1] == '\r')
			line = 0;
	}
}

/* Compares a reader result with the model; max is the size limit. */
static int
model_agrees(const struct model *m, const struct result *r, size_t max)
{
	unsigned other = r->errors & ~(unsigned)SMTP_DATA_TOO_BIG;

	if (r->done != m->done || r->used != m->used || other != m->errors)
		return 0;
	/* TOO_BIG means more than the limit, whatever else was wrong */
	if (((r->errors & SMTP_DATA_TOO_BIG) != 0) != (r->size > max))
		return 0;
	if (r->out.len > max)
		return 0;
	if (!m->done)
		return 1;
	if (r->size != m->size)
		return 0;
	if (r->errors == 0 && (r->out.len != m->size ||
	    memcmp(r->out.data ? r->out.data : "", m->out, m->size) != 0))
		return 0;
	return 1;
}

/* ---- table ---- */

struct data_case {
	const char *in;
	size_t len;
	size_t max;
	int done;
	size_t used;		/* when done; else all of in */
	const char *out;	/* when errors == 0 */
	size_t outlen;
	unsigned errors;
};

#define S(x) x, sizeof(x) - 1
#define BARE SMTP_DATA_BARE_NL
#define LONG SMTP_DATA_LONG_LINE
#define TOOBIG SMTP_DATA_TOO_BIG
#define SMUGGLED "MAIL FROM:<evil@attacker.example>\r\n" \
	"RCPT TO:<victim@example.com>\r\nDATA\r\nforged\r\n"

static const struct data_case data_cases[] = {
	/* plain messages and dot-unstuffing */
	{ S("Hello\r\n.\r\n"), BIG, 1, 10, S("Hello\r\n"), 0 },
	{ S(".\r\n"), BIG, 1, 3, S(""), 0 },
	{ S(".\r\nMAIL FROM:<a@b.example>\r\n"), BIG, 1, 3, S(""), 0 },
	{ S("a\r\n.\r\nQUIT\r\n"), BIG, 1, 6, S("a\r\n"), 0 },
	{ S("a\r\n.\r\n.\r\n"), BIG, 1, 6, S("a\r\n"), 0 },
	{ S("\r\n.\r\n"), BIG, 1, 5, S("\r\n"), 0 },
	{ S("\r\n\r\n.\r\n"), BIG, 1, 7, S("\r\n\r\n"), 0 },
	{ S("a\r\n..b\r\n.\r\n"), BIG, 1, 11, S("a\r\n.b\r\n"), 0 },
	{ S("a\r\n...\r\n.\r\n"), BIG, 1, 11, S("a\r\n..\r\n"), 0 },
	{ S("..\r\n.\r\n"), BIG, 1, 7, S(".\r\n"), 0 },
	{ S("a\r\n.b\r\n.\r\n"), BIG, 1, 10, S("a\r\nb\r\n"), 0 },
	{ S("a\r\n. \r\n.\r\n"), BIG, 1, 10, S("a\r\n \r\n"), 0 },
	{ S("x.\r\n.\r\n"), BIG, 1, 7, S("x.\r\n"), 0 },
	{ S(" .\r\n.\r\n"), BIG, 1, 7, S(" .\r\n"), 0 },
	{ S("a.\r\n.b.\r\n.\r\n"), BIG, 1, 12, S("a.\r\nb.\r\n"), 0 },
	{ S("a\0b\r\n.\r\n"), BIG, 1, 8, S("a\0b\r\n"), 0 },
	{ S("\x80\xff\t\x7f\r\n.\r\n"), BIG, 1, 9, S("\x80\xff\t\x7f\r\n"),
	    0 },
	/* not finished yet: everything consumed, nothing decided */
	{ S(""), BIG, 0, 0, S(""), 0 },
	{ S("abc"), BIG, 0, 3, S("abc"), 0 },
	{ S("a\r\n."), BIG, 0, 4, S("a\r\n"), 0 },
	{ S("a\r\n.\r"), BIG, 0, 5, S("a\r\n"), 0 },
	{ S("a\r\n..\r\n"), BIG, 0, 7, S("a\r\n.\r\n"), 0 },
	{ S("."), BIG, 0, 1, S(""), 0 },
	{ S(".\r"), BIG, 0, 2, S(""), 0 },
	{ S("a\r"), BIG, 0, 2, S("a"), 0 },
	/* SMTP smuggling: no bare-LF or bare-CR variant ends the data;
	 * the message goes on to the real CRLF "." CRLF and is flagged */
	{ S("a\n.\n" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\n.\r\n" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r\n.\n" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r.\r\n" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r\n.\r" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r.\r" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\n.\r" SMUGGLED "\r\n.\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r\n.\r\r\n" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\n\n.\n\n" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\r\r.\r\r" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("\n.\n" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S(".\n" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S(".\r" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("\r.\r\n" SMUGGLED ".\r\n"), BIG, 1, 0, NULL, 0, BARE },
	{ S("a\n.\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S("a\n.\r\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S("a\r\n.\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S("a\r.\r\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S("a\r\n.\rX"), BIG, 0, 0, NULL, 0, BARE },
	{ S("a\r\n.\r.\r\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S("\n.\n"), BIG, 0, 0, NULL, 0, BARE },
	{ S(".\n"), BIG, 0, 0, NULL, 0, BARE },
	/* a bare CR or LF just before a real end: flagged, and it ends */
	{ S("a\r\r\n.\r\n"), BIG, 1, 7, NULL, 0, BARE },
	{ S("a\n\r\n.\r\n"), BIG, 1, 7, NULL, 0, BARE },
	/* after an error the rest still belongs to the next command */
	{ S("a\nb\r\n.\r\nNOOP\r\n"), BIG, 1, 8, NULL, 0, BARE },
	/* size limit: the message with its line ends, not the final dot */
	{ S("01234567\r\n.\r\n"), 10, 1, 13, S("01234567\r\n"), 0 },
	{ S("012345678\r\n.\r\n"), 10, 1, 14, NULL, 0, TOOBIG },
	{ S("0123\r\n..\r\n.\r\n"), 9, 1, 13, S("0123\r\n.\r\n"), 0 },
	{ S("0123\r\n...\r\n.\r\n"), 9, 1, 14, NULL, 0, TOOBIG },
	{ S(".\r\n"), 0, 1, 3, S(""), 0 },
	{ S("\r\n.\r\n"), 0, 1, 5, NULL, 0, TOOBIG },
	{ S("0123456789abc\r\nmore\r\n.\r\nNOOP\r\n"), 10, 1, 24, NULL, 0,
	    TOOBIG },
	{ S("0123456789abc"), 10, 0, 13, NULL, 0, TOOBIG },
};

static int
check_result(const struct data_case *c, const struct result *r)
{
	size_t used = c->done ? c->used : c->len;

	if (c->done && c->used == 0)
		used = c->len;		/* "ends at the very end" */
	if (r->done != c->done || r->used != used || r->errors != c->errors)
		return 0;
	if (r->out.len > c->max)
		return 0;
	if (c->errors == 0 && c->out != NULL && (r->out.len != c->outlen ||
	    memcmp(r->out.data ? r->out.data : "", c->out, c->outlen) != 0))
		return 0;
	if (c->errors == 0 && c->done && r->size != c->outlen)
		return 0;
	return 1;
}

static void
test_data_table(void)
{
	static const char *const names[] = { "whole", "bytes", "random" };

	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]);
	    i++) {
		const struct data_case *c = &data_cases[i];

		for (int mode = FEED_WHOLE; mode <= FEED_RANDOM; mode++) {
			int seeds = mode == FEED_RANDOM ? 50 : 1;

			for (int seed = 0; seed < seeds; seed++) {
				struct result r;
				int ok = run_feed(c->in, c->len, c->max, mode,
				    (uint64_t)seed, BIG, &r);

				if (!ok || !check_result(c, &r)) {
					fprintf(stderr, "  data case %zu (%s, "
					    "seed %d): done %d used %zu errors "
					    "%#x out %zu\n", i, names[mode],
					    seed, r.done, r.used, r.errors,
					    r.out.len);
					CHECK(!"data case");
					seed = seeds;
				}
				buf_release(&r.out, 0);
			}
		}
	}
}

/* The table agrees with the model too (it checks the model). */
static void
test_model_on_table(void)
{
	for (size_t i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]);
	    i++) {
		const struct data_case *c = &data_cases[i];
		struct model m;
		struct result r;

		model_run(c->in, c->len, &m);
		run_feed(c->in, c->len, c->max, FEED_WHOLE, 0, BIG, &r);
		if (!model_agrees(&m, &r, c->max)) {
			fprintf(stderr, "  data case %zu: model done %d used "
			    "%zu errors %#x\n", i, m.done, m.used, m.errors);
			CHECK(!"model");
		}
		buf_release(&r.out, 0);
		free(m.out);
	}
}

/* Line limit: 1000 octets with the CRLF, so 998 characters. */
static void
test_line_limit(void)
{
	static const struct {
		size_t first, second;
		unsigned errors;
	} cases[] = {
		{ 998, 0, 0 },
		{ 999, 0, LONG },
		{ 1000, 0, LONG },
		{ 5000, 0, LONG },
		{ 998, 998, 0 },	/* the count starts again per line */
		{ 10, 999, LONG },
		{ 0, 998, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = cases[i].first + 2 + cases[i].second + 2 + 3;
		char *in = malloc(len), *p = in;

		if (in == NULL)
			abort();
		memset(p, 'x', cases[i].first);
		p += cases[i].first;
		memcpy(p, "\r\n", 2);
		p += 2;
		memset(p, 'y', cases[i].second);
		p += cases[i].second;
		memcpy(p, "\r\n.\r\n", 5);
		for (int mode = FEED_WHOLE; mode <= FEED_RANDOM; mode++) {
			struct result r;

			CHECK(run_feed(in, len, len, mode, i, BIG, &r));
			if (r.done != 1 || r.used != len ||
			    r.errors != cases[i].errors) {
				fprintf(stderr, "  line case %zu mode %d: done "
				    "%d used %zu errors %#x\n", i, mode,
				    r.done, r.used, r.errors);
				CHECK(!"line limit");
			}
			if (cases[i].errors == 0)
				CHECK(r.out.len == len - 3 &&
				    memcmp(r.out.data, in, len - 3) == 0);
			buf_release(&r.out, 0);
		}
		free(in);
	}
}

/* A stuffed dot line of 998 characters after unstuffing: the dot is on
 * the wire, so this is only checked to end at the right place. */
static void
test_line_limit_stuffed(void)
{
	size_t len = 1 + 998 + 2 + 3;
	char *in = malloc(len);
	struct result r;

	if (in == NULL)
		abort();
	in[0] = '.';
	memset(in + 1, '.', 998);
	memcpy(in + 999, "\r\n.\r\n", 5);
	CHECK(run_feed(in, len, BIG, FEED_BYTES, 0, BIG, &r));
	CHECK(r.done == 1 && r.used == len);
	CHECK((r.errors & ~(unsigned)LONG) == 0);
	buf_release(&r.out, 0);
	free(in);
}

/* The output buffer's own maximum below max_size also gives TOO_BIG. */
static void
test_buffer_max(void)
{
	static const char in[] = "0123456789\r\n.\r\n";
	struct result r;

	for (int mode = FEED_WHOLE; mode <= FEED_RANDOM; mode++) {
		CHECK(run_feed(in, sizeof(in) - 1, BIG, mode, 7, 8, &r));
		CHECK(r.done == 1 && r.used == sizeof(in) - 1);
		CHECK(r.errors == TOOBIG);
		CHECK(r.out.len <= 8);
		buf_release(&r.out, 0);
	}
}

/* smtp_data.h: "Incremental: fed any split of the input". With more
 * than one error the flags must not depend on how the bytes arrived
 * (they choose the reply: 552 for TOO_BIG, else 550). */
static void
test_errors_independent_of_split(void)
{
	static const struct {
		size_t max;
		const char *head;	/* then fill bytes of 'x' */
		size_t fill;
		const char *tail;
	} cases[] = {
		{ 10, "", 1001, "\r\n.\r\n" },	/* long line, too big */
		{ 10, "", 2000, "" },
		{ 10, "ab\r\n", 1500, "\r\n.\r\n" },
		{ 100, "", 1001, "\r\n.\r\n" },
		{ 1000, "", 1001, "\r\n.\r\n" },
		{ 10, "a\n", 20, "\r\n.\r\n" },	/* bare LF, too big */
		{ 10, "a\r", 20, "\r\n.\r\n" },	/* bare CR, too big */
		{ 10, "a\n", 1001, "\r\n.\r\n" },
		{ 5000, "", 3000, "\r\n.\r\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t hl = strlen(cases[i].head), tl = strlen(cases[i].tail);
		size_t len = hl + cases[i].fill + tl;
		char *in = malloc(len);
		struct result whole;
		int differ = 0;

		if (in == NULL)
			abort();
		memcpy(in, cases[i].head, hl);
		memset(in + hl, 'x', cases[i].fill);
		memcpy(in + hl + cases[i].fill, cases[i].tail, tl);
		CHECK(run_feed(in, len, cases[i].max, FEED_WHOLE, 0, BIG,
		    &whole));
		for (int seed = 0; seed <= 30 && !differ; seed++) {
			struct result r;

			CHECK(run_feed(in, len, cases[i].max, seed == 0 ?
			    FEED_BYTES : FEED_RANDOM, (uint64_t)seed, BIG, &r));
			if (r.errors != whole.errors || r.done != whole.done ||
			    r.used != whole.used || r.size != whole.size) {
				fprintf(stderr, "  split case %zu (max %zu): "
				    "whole gives errors %#x, %s seed %d gives "
				    "%#x\n", i, cases[i].max, whole.errors,
				    seed == 0 ? "byte at a time" : "random",
				    seed, r.errors);
				differ = 1;
			}
			buf_release(&r.out, 0);
		}
		CHECK(!differ);
		buf_release(&whole.out, 0);
		free(in);
	}
}

/* Every string of up to 8 bytes over { '.', CR, LF, 'a' }, whole and
 * byte at a time, against the model; with two size limits. */
static void
test_exhaustive_small(void)
{
	static const char alpha[] = { '.', '\r', '\n', 'a' };
	char in[8];
	size_t bad = 0;

	for (size_t len = 0; len <= sizeof(in); len++) {
		size_t total = 1;

		for (size_t k = 0; k < len; k++)
			total *= 4;
		for (size_t code = 0; code < total; code++) {
			struct model m;
			size_t x = code;

			for (size_t k = 0; k < len; k++, x /= 4)
				in[k] = alpha[x % 4];
			model_run(in, len, &m);
			for (int mode = FEED_WHOLE; mode <= FEED_BYTES;
			    mode++) {
				for (size_t max = 3; max <= BIG; max += BIG -
				    3) {
					struct result r;

					if (!run_feed(in, len, max, mode, 0,
					    BIG, &r) || !model_agrees(&m, &r,
					    max)) {
						if (bad++ < 5)
							fprintf(stderr, "  "
							    "exhaustive: len "
							    "%zu code %zu mode "
							    "%d max %zu\n", len,
							    code, mode, max);
					}
					buf_release(&r.out, 0);
				}
			}
			free(m.out);
		}
	}
	CHECK(bad == 0);
}

/* A large random message with many dot lines, in random splits. */
static void
test_large_random(void)
{
	size_t cap = 300000, len = 0;
	char *in = malloc(cap + 32);
	uint64_t s = 12345;
	struct model m;

	if (in == NULL)
		abort();
	while (len < cap) {
		uint64_t x = rng_next(&s);
		size_t n = (size_t)(x % 120);

		if (x % 5 == 0) {
			in[len++] = '.';	/* stuffed: never "." alone */
			if (n == 0)
				n = 1;
		}
		for (size_t k = 0; k < n && len < cap; k++) {
			char c = (char)(' ' + (rng_next(&s) % 95));

			/* an unstuffed line never starts with a dot */
			if (c == '.' && len > 0 && in[len - 1] == '\n')
				c = ',';
			in[len++] = c;
		}
		if (x % 7 == 0) {
			in[len++] = '.';
			in[len++] = '.';
		}
		in[len++] = '\r';
		in[len++] = '\n';
	}
	memcpy(in + len, ".\r\nQUIT\r\n", 9);
	len += 9;
	model_run(in, len, &m);
	CHECK(m.done && m.errors == 0 && m.used == len - 6);
	for (int seed = 0; seed < 20; seed++) {
		struct result r;

		CHECK(run_feed(in, len, BIG, seed == 0 ? FEED_WHOLE :
		    FEED_RANDOM, (uint64_t)seed, BIG, &r));
		CHECK(model_agrees(&m, &r, BIG));
		CHECK(r.errors == 0);
		buf_release(&r.out, 0);
	}
	free(m.out);
	free(in);
}

static const struct harness_test tests[] = {
	TEST(test_data_table),
	TEST(test_model_on_table),
	TEST(test_line_limit),
	TEST(test_line_limit_stuffed),
	TEST(test_buffer_max),
	TEST(test_errors_independent_of_split),
	TEST(test_exhaustive_small),
	TEST(test_large_random),
};

HARNESS_MAIN("smtp_data", tests)
