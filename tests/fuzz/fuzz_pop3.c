/* libFuzzer target: the POP3 wire format. Each input line goes through
 * pop3_parse_command and pop3_parse_numbers; the whole input, taken as a
 * stored message, goes through the stuffer twice (in one piece and cut
 * at a point the input chooses) with a line limit the input chooses.
 *
 * Besides memory errors it aborts when: a keyword is not 3-4 upper-case
 * letters; numbers are out of their count; the two stuffer runs differ
 * (the output must not depend on chunking); the output has a bare LF or
 * CR, a line that starts with a single "." before the end, or does not
 * end with CRLF "." CRLF; or RETR output is not exactly the message with
 * line ends made CRLF and dots doubled. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/dotstuff.h"
#include "pop3/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static void
check_line(const uint8_t *p, size_t len)
{
	char *line = malloc(len + 1), verb[5];
	const char *args;
	uint32_t nums[2];
	int n;

	REQUIRE(line != NULL);
	memcpy(line, p, len);
	line[len] = '\0';
	if (pop3_parse_command(line, len, verb, &args) == 0) {
		size_t v = strlen(verb);

		REQUIRE(v >= 3 && v <= 4);
		for (size_t i = 0; i < v; i++)
			REQUIRE(verb[i] >= 'A' && verb[i] <= 'Z');
		REQUIRE(args >= line && args <= line + len);
		n = pop3_parse_numbers(args, 0, 2, nums);
		REQUIRE(n >= -1 && n <= 2);
		n = pop3_parse_numbers(args, 1, 1, nums);
		REQUIRE(n == -1 || n == 1);
	}
	free(line);
}

/* Runs the stuffer over msg in two pieces cut at cut. */
static size_t
stuff(const uint8_t *msg, size_t size, size_t cut, int64_t lines, char *out)
{
	struct dotstuff st;
	size_t o = 0, used;

	dotstuff_init(&st, lines);
	o += dotstuff_run(&st, (const char *)msg, cut, out + o, &used);
	REQUIRE(used == cut || st.done);
	if (!st.done)
		o += dotstuff_run(&st, (const char *)msg + cut, size - cut,
		    out + o, &used);
	o += dotstuff_end(&st, out + o);
	return o;
}

static void
check_stuffer(const uint8_t *data, size_t size)
{
	size_t cut = size > 0 ? data[0] % (size + 1) : 0, a, b;
	int64_t lines = size > 1 ? (int64_t)(data[1] % 8) - 1 : -1;
	char *o1 = malloc(2 * size + 8), *o2 = malloc(2 * size + 8);

	REQUIRE(o1 != NULL && o2 != NULL);
	a = stuff(data, size, size, lines, o1);
	b = stuff(data, size, cut, lines, o2);
	REQUIRE(a == b && memcmp(o1, o2, a) == 0);
	REQUIRE(a >= 3 && memcmp(o1 + a - 3, ".\r\n", 3) == 0);
	REQUIRE(a == 3 || (a >= 5 && o1[a - 5] == '\r' && o1[a - 4] == '\n'));
	for (size_t i = 0; i < a; i++) {
		if (o1[i] == '\n')
			REQUIRE(i > 0 && o1[i - 1] == '\r');
		/* a line starting with "." is stuffed, but for the end */
		if (o1[i] == '.' && (i == 0 || o1[i - 1] == '\n') && i + 3 != a)
			REQUIRE(i + 1 < a && o1[i + 1] == '.');
	}
	if (lines < 0) {
		/* RETR: undoing the stuffing gives the message with its
		 * line ends made CRLF and a final line end added. */
		char *want = malloc(2 * size + 4), *got = malloc(a);
		size_t w = 0, g = 0;

		REQUIRE(want != NULL && got != NULL);
		for (size_t i = 0; i < size; i++) {
			if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
				want[w++] = '\r';
			want[w++] = (char)data[i];
		}
		if (size > 0 && data[size - 1] != '\n') {
			if (data[size - 1] != '\r')
				want[w++] = '\r';
			want[w++] = '\n';
		}
		for (size_t i = 0; i < a - 3; i++) {
			if (o1[i] == '.' && (i == 0 || o1[i - 1] == '\n'))
				i++;
			got[g++] = o1[i];
		}
		REQUIRE(g == w && memcmp(got, want, w) == 0);
		free(want);
		free(got);
	}
	free(o1);
	free(o2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t len = end - start;

		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		if (len <= POP3_SASL_LINE_MAX)
			check_line(data + start, len);
		start = end + 1;
	}
	check_stuffer(data, size);
	return 0;
}
