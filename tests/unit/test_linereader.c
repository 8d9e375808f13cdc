/* Unit tests for src/core/linereader.c: the bounded line reader.
 *
 * Each case is added to the evbuffer whole, one byte at a time and in
 * random splits; after every add the reader is called until it wants
 * more. Every way must report the same lines, and the reader must never
 * hold a partial line of max bytes or more. */
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/linereader.h"
#include "harness.h"

#define MAX_EVENTS 8

struct event {
	enum line_result r;	/* LINE_OK or LINE_TOO_LONG */
	const char *s;		/* the line, for LINE_OK */
	size_t n;
};

struct lr_case {
	size_t max;
	const char *in;
	size_t len;
	size_t nevents;
	struct event ev[MAX_EVENTS];
};

#define S(x) x, sizeof(x) - 1
#define OK(x) { LINE_OK, x, sizeof(x) - 1 }
#define TL { LINE_TOO_LONG, NULL, 0 }
#define X30 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const struct lr_case cases[] = {
	{ 10, S(""), 0, { { 0, NULL, 0 } } },
	{ 10, S("abc\r\n"), 1, { OK("abc") } },
	{ 10, S("abc\n"), 1, { OK("abc") } },
	{ 10, S("a\r\nb\nc\r\n"), 3, { OK("a"), OK("b"), OK("c") } },
	{ 10, S("\r\n\n"), 2, { OK(""), OK("") } },
	{ 10, S("abc"), 0, { { 0, NULL, 0 } } },
	{ 10, S("abc\r"), 0, { { 0, NULL, 0 } } },
	{ 10, S("abc\r\ndef"), 1, { OK("abc") } },
	{ 10, S("a\0b\r\n"), 1, { OK("a\0b") } },
	{ 10, S("\0\n"), 1, { OK("\0") } },
	{ 10, S("a\rb\r\n"), 1, { OK("a\rb") } },
	{ 10, S("\r\r\n"), 1, { OK("\r") } },
	{ 10, S("\xff\x80\n"), 1, { OK("\xff\x80") } },
	/* the limit includes the line end */
	{ 10, S("12345678\r\n"), 1, { OK("12345678") } },
	{ 10, S("123456789\n"), 1, { OK("123456789") } },
	{ 10, S("123456789\r\n"), 1, { TL } },
	{ 10, S("1234567890\n"), 1, { TL } },
	{ 10, S("1234567890\r\n"), 1, { TL } },
	/* an over-long line is reported once, then reading goes on */
	{ 10, S("abc\r\n" X30 "\r\nok\r\n"), 3, { OK("abc"), TL, OK("ok") } },
	{ 10, S(X30 "\n" X30 "\nz\n"), 3, { TL, TL, OK("z") } },
	{ 10, S(X30 X30 X30 "\r\n12345678\r\n"), 2, { TL, OK("12345678") } },
	{ 10, S(X30), 0, { { 0, NULL, 0 } } },
	{ 10, S(X30 "\r"), 0, { { 0, NULL, 0 } } },
	{ 10, S("123456789\r\n\r\n"), 2, { TL, OK("") } },
	/* tiny limits */
	{ 1, S("\n"), 1, { OK("") } },
	{ 1, S("\r\n"), 1, { TL } },
	{ 1, S("a\n\n"), 2, { TL, OK("") } },
	{ 2, S("\r\na\nab\n"), 3, { OK(""), OK("a"), TL } },
};

enum feed_mode {
	FEED_WHOLE,
	FEED_BYTES,
	FEED_RANDOM,
};

static uint64_t
rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

struct got {
	size_t n;
	struct event ev[MAX_EVENTS];
	char *lines[MAX_EVENTS];
	int bad;		/* a contract broken on the way */
};

static void
got_free(struct got *g)
{
	for (size_t i = 0; i < g->n && i < MAX_EVENTS; i++)
		free(g->lines[i]);
}

/* Reads until LINE_MORE, recording what comes out. */
static void
drain(struct line_reader *lr, struct evbuffer *in, char *line,
    struct got *g)
{
	for (int guard = 0; guard < 10000; guard++) {
		size_t len = SIZE_MAX;
		enum line_result r = line_read(lr, in, line, &len);

		if (r == LINE_MORE) {
			if (evbuffer_get_length(in) >= lr->max)
				g->bad = 1;
			return;
		}
		if (g->n < MAX_EVENTS) {
			g->ev[g->n].r = r;
			g->lines[g->n] = NULL;
			if (r == LINE_OK) {
				if (len >= lr->max || line[len] != '\0') {
					g->bad = 1;
				} else {
					g->lines[g->n] = malloc(len + 1);
					if (g->lines[g->n] == NULL)
						abort();
					memcpy(g->lines[g->n], line, len + 1);
					g->ev[g->n].s = g->lines[g->n];
					g->ev[g->n].n = len;
				}
			} else if (r != LINE_TOO_LONG) {
				g->bad = 1;
			}
		}
		g->n++;
	}
	g->bad = 1;
}

static void
run_case(const struct lr_case *c, enum feed_mode mode, uint64_t seed,
    struct got *g)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	char *line = malloc(c->max);	/* exactly the documented size */
	size_t off = 0;

	if (in == NULL || line == NULL)
		abort();
	memset(g, 0, sizeof(*g));
	line_reader_init(&lr, c->max);
	seed = seed * 2 + 1;
	drain(&lr, in, line, g);	/* nothing there yet */
	while (off < c->len) {
		size_t n;

		if (mode == FEED_WHOLE)
			n = c->len;
		else if (mode == FEED_BYTES)
			n = 1;
		else
			n = (size_t)(rng_next(&seed) % 13);
		if (n > c->len - off)
			n = c->len - off;
		evbuffer_add(in, c->in + off, n);
		off += n;
		drain(&lr, in, line, g);
	}
	free(line);
	evbuffer_free(in);
}

static int
same_events(const struct lr_case *c, const struct got *g)
{
	if (g->bad || g->n != c->nevents)
		return 0;
	for (size_t i = 0; i < g->n; i++) {
		if (g->ev[i].r != c->ev[i].r)
			return 0;
		if (c->ev[i].r == LINE_OK && (g->ev[i].n != c->ev[i].n ||
		    memcmp(g->ev[i].s, c->ev[i].s, c->ev[i].n) != 0))
			return 0;
	}
	return 1;
}

static void
test_table(void)
{
	static const char *const names[] = { "whole", "bytes", "random" };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int mode = FEED_WHOLE; mode <= FEED_RANDOM; mode++) {
			int seeds = mode == FEED_RANDOM ? 30 : 1;

			for (int seed = 0; seed < seeds; seed++) {
				struct got g;

				run_case(&cases[i], mode, (uint64_t)seed, &g);
				if (!same_events(&cases[i], &g)) {
					fprintf(stderr, "  case %zu (%s, seed "
					    "%d): %zu events%s\n", i,
					    names[mode], seed, g.n,
					    g.bad ? ", contract broken" : "");
					CHECK(!"line case");
					seed = seeds;
				}
				got_free(&g);
			}
		}
	}
}

/* An over-long line arriving in many small adds, with the reader asked
 * after each: it keeps no more than max, says nothing until the line
 * ends, then reports it once; the next line is read normally. */
static void
test_long_line_many_adds(void)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	char line[64], chunk[100];
	size_t len;

	if (in == NULL)
		abort();
	memset(chunk, 'x', sizeof(chunk));
	line_reader_init(&lr, sizeof(line));
	for (int i = 0; i < 100; i++) {
		evbuffer_add(in, chunk, sizeof(chunk));
		CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
		CHECK(evbuffer_get_length(in) < sizeof(line));
	}
	evbuffer_add(in, "x\r", 2);
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	evbuffer_add(in, "\nnext\r\n", 7);
	CHECK(line_read(&lr, in, line, &len) == LINE_TOO_LONG);
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK(len == 4 && strcmp(line, "next") == 0);
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	CHECK(evbuffer_get_length(in) == 0);
	evbuffer_free(in);
}

/* The same, with the tail of the long line and the next line in one
 * add, and with the limit reached exactly at an add boundary. */
static void
test_long_line_boundary(void)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	char line[8];
	size_t len;

	if (in == NULL)
		abort();
	line_reader_init(&lr, sizeof(line));
	evbuffer_add(in, "1234567", 7);	/* max - 1: could still fit */
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	CHECK(evbuffer_get_length(in) == 7);
	evbuffer_add(in, "8", 1);		/* now it cannot */
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	CHECK(evbuffer_get_length(in) == 0);
	evbuffer_add(in, "\nab\r\ncd\n", 8);
	CHECK(line_read(&lr, in, line, &len) == LINE_TOO_LONG);
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK_STR(line, "ab");
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK_STR(line, "cd");
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);

	/* "1234567" + LF is exactly max: fine */
	evbuffer_add(in, "1234567", 7);
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	evbuffer_add(in, "\n", 1);
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK(len == 7);
	CHECK_STR(line, "1234567");
	evbuffer_free(in);
}

/* The SMTP command limit: 512 octets with the CRLF. */
static void
test_smtp_limit(void)
{
	struct evbuffer *in = evbuffer_new();
	struct line_reader lr;
	char line[512], text[512];
	size_t len;

	if (in == NULL)
		abort();
	memset(text, 'a', sizeof(text));
	line_reader_init(&lr, sizeof(line));
	evbuffer_add(in, text, 510);
	evbuffer_add(in, "\r\n", 2);
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK(len == 510 && line[510] == '\0');
	evbuffer_add(in, text, 511);
	evbuffer_add(in, "\r\n", 2);
	CHECK(line_read(&lr, in, line, &len) == LINE_TOO_LONG);
	evbuffer_add(in, text, 511);
	evbuffer_add(in, "\n", 1);
	CHECK(line_read(&lr, in, line, &len) == LINE_OK);
	CHECK(len == 511);
	CHECK(line_read(&lr, in, line, &len) == LINE_MORE);
	evbuffer_free(in);
}

static const struct harness_test tests[] = {
	TEST(test_table),
	TEST(test_long_line_many_adds),
	TEST(test_long_line_boundary),
	TEST(test_smtp_limit),
};

HARNESS_MAIN("linereader", tests)
