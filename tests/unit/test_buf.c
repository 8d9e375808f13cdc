/* Unit tests for src/core/buf.c: the bounded buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "harness.h"

/* The fields are checked here only to test the contract; callers of
 * buf never write them. */
static int
buf_is(const struct buf *b, const char *data, size_t len)
{
	if (b->len != len)
		return 0;
	if (len == 0)
		return b->data == NULL || b->data[0] == '\0';
	return b->data != NULL && memcmp(b->data, data, len) == 0 &&
	    b->data[len] == '\0';
}

static void
test_init_empty(void)
{
	struct buf b;

	buf_init(&b, 100);
	CHECK(b.len == 0);
	CHECK(b.max == 100);
	CHECK(buf_is(&b, "", 0));
	buf_release(&b, 0);
	CHECK(b.data == NULL && b.len == 0 && b.cap == 0);
}

/* A table of append sequences against one maximum: each step appends
 * its text and expects rc; the final contents are checked. */
struct append_case {
	size_t max;
	const char *steps[6];
	int rc[6];
	const char *want;
};

static const struct append_case append_cases[] = {
	{ 10, { "abc", "def", NULL }, { 0, 0 }, "abcdef" },
	{ 10, { "0123456789", NULL }, { 0 }, "0123456789" },
	{ 10, { "01234567890", NULL }, { -1 }, "" },
	{ 10, { "01234", "56789", "x", NULL }, { 0, 0, -1 }, "0123456789" },
	/* a failed append appends nothing, not the part that fits */
	{ 10, { "0123456", "7890", "789", NULL }, { 0, -1, 0 },
	    "0123456789" },
	{ 10, { "", "", NULL }, { 0, 0 }, "" },
	{ 0, { "", "a", "", NULL }, { 0, -1, 0 }, "" },
	{ 1, { "a", "b", NULL }, { 0, -1 }, "a" },
};

static void
test_append_table(void)
{
	for (size_t i = 0; i < sizeof(append_cases) / sizeof(append_cases[0]);
	    i++) {
		const struct append_case *c = &append_cases[i];
		struct buf b;

		buf_init(&b, c->max);
		for (size_t s = 0; s < 6 && c->steps[s] != NULL; s++) {
			int rc = buf_append(&b, c->steps[s],
			    strlen(c->steps[s]));

			if (rc != c->rc[s])
				fprintf(stderr, "  case %zu step %zu: rc %d\n",
				    i, s, rc);
			CHECK(rc == c->rc[s]);
			CHECK(b.len <= c->max);
		}
		CHECK(buf_is(&b, c->want, strlen(c->want)));
		buf_release(&b, 0);
	}
}

static void
test_append_str(void)
{
	struct buf b;

	buf_init(&b, 5);
	CHECK(buf_append_str(&b, "ab") == 0);
	CHECK(buf_append_str(&b, "cde") == 0);
	CHECK(buf_append_str(&b, "f") == -1);
	CHECK(buf_is(&b, "abcde", 5));
	buf_release(&b, 1);
}

/* Binary data, NULs included, is kept byte for byte. */
static void
test_append_binary(void)
{
	static const char bin[] = { 'a', '\0', 'b', '\0', '\xff' };
	struct buf b;

	buf_init(&b, 64);
	CHECK(buf_append(&b, bin, sizeof(bin)) == 0);
	CHECK(b.len == sizeof(bin));
	CHECK(memcmp(b.data, bin, sizeof(bin)) == 0);
	CHECK(b.data[b.len] == '\0');
	buf_release(&b, 0);
}

/* Sizes near SIZE_MAX must fail without wrapping. */
static void
test_append_huge(void)
{
	struct buf b;

	buf_init(&b, SIZE_MAX);
	CHECK(buf_append(&b, "abc", 3) == 0);
	CHECK(buf_append(&b, "x", SIZE_MAX) == -1);
	CHECK(buf_append(&b, "x", SIZE_MAX - 1) == -1);
	CHECK(buf_is(&b, "abc", 3));
	buf_release(&b, 0);

	buf_init(&b, 100);
	CHECK(buf_append(&b, "x", SIZE_MAX) == -1);
	CHECK(buf_append(&b, "x", SIZE_MAX - 2) == -1);
	CHECK(b.len == 0);
	buf_release(&b, 0);
}

/* Growth past the first allocation, one byte at a time, up to the max. */
static void
test_grow_byte_at_a_time(void)
{
	struct buf b;
	size_t max = 5000;

	buf_init(&b, max);
	for (size_t i = 0; i < max; i++) {
		char c = (char)('a' + i % 26);

		CHECK(buf_append(&b, &c, 1) == 0);
	}
	CHECK(buf_append(&b, "z", 1) == -1);
	CHECK(b.len == max);
	CHECK(b.cap > max);
	for (size_t i = 0; i < max; i++)
		if (b.data[i] != (char)('a' + i % 26)) {
			CHECK(!"content changed while growing");
			break;
		}
	CHECK(b.data[max] == '\0');
	buf_release(&b, 0);
}

static void
test_reset(void)
{
	struct buf b;
	size_t cap;

	buf_init(&b, 100);
	buf_reset(&b);		/* on a buffer with no storage yet */
	CHECK(b.len == 0);
	CHECK(buf_append_str(&b, "hello") == 0);
	cap = b.cap;
	buf_reset(&b);
	CHECK(buf_is(&b, "", 0));
	CHECK(b.cap == cap);
	CHECK(buf_append_str(&b, "world") == 0);
	CHECK(buf_is(&b, "world", 5));
	buf_release(&b, 1);
	CHECK(b.data == NULL && b.len == 0);
	/* release twice is harmless; the buffer is reusable */
	buf_release(&b, 1);
	CHECK(buf_append_str(&b, "again") == 0);
	CHECK(buf_is(&b, "again", 5));
	buf_release(&b, 0);
}

struct printf_case {
	size_t max;
	const char *prefix;
	int n;
	const char *s;
	int rc;
	const char *want;
};

static const struct printf_case printf_cases[] = {
	{ 100, "", 42, "x", 0, "42 x" },
	{ 100, "ab", 7, "cd", 0, "ab7 cd" },
	{ 6, "ab", 7, "cd", 0, "ab7 cd" },	/* exactly at the max */
	{ 5, "ab", 7, "cd", -1, "ab" },		/* one over: unchanged */
	{ 4, "", 12345, "", -1, "" },
	{ 5, "", -1, "", 0, "-1 " },
};

static void
test_printf_table(void)
{
	for (size_t i = 0; i < sizeof(printf_cases) / sizeof(printf_cases[0]);
	    i++) {
		const struct printf_case *c = &printf_cases[i];
		struct buf b;

		buf_init(&b, c->max);
		CHECK(buf_append_str(&b, c->prefix) == 0);
		CHECK(buf_printf(&b, "%d %s", c->n, c->s) == c->rc);
		CHECK(buf_is(&b, c->want, strlen(c->want)));
		buf_release(&b, 0);
	}
}

/* printf output longer than the first allocation. */
static void
test_printf_long(void)
{
	char big[1001];
	struct buf b;

	memset(big, 'q', 1000);
	big[1000] = '\0';
	buf_init(&b, 2000);
	CHECK(buf_append_str(&b, "<") == 0);
	CHECK(buf_printf(&b, "%s>", big) == 0);
	CHECK(b.len == 1002);
	CHECK(b.data[0] == '<' && b.data[1000] == 'q' && b.data[1001] == '>');
	CHECK(b.data[1002] == '\0');
	CHECK(buf_printf(&b, "%s", big) == -1);
	CHECK(b.len == 1002);
	buf_release(&b, 1);
}

static const struct harness_test tests[] = {
	TEST(test_init_empty),
	TEST(test_append_table),
	TEST(test_append_str),
	TEST(test_append_binary),
	TEST(test_append_huge),
	TEST(test_grow_byte_at_a_time),
	TEST(test_reset),
	TEST(test_printf_table),
	TEST(test_printf_long),
};

HARNESS_MAIN("buf", tests)
