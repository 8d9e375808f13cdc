/* The POP3 wire format: command lines, numbers, and the stuffer that
 * turns stored messages into RETR and TOP responses. */
#include "harness.h"
#include "core/dotstuff.h"
#include "pop3/pop3_parse.h"

static int
parse(const char *line, char *verb, const char **args)
{
	char *l = exact(line, strlen(line));
	int rc = pop3_parse_command(l, strlen(l), verb, args);

	/* args points into l: copy what the test needs before freeing */
	static char keep[300];
	if (rc == 0) {
		snprintf(keep, sizeof(keep), "%s", *args);
		*args = keep;
	}
	free(l);
	return rc;
}

static void
test_commands(void)
{
	char verb[5];
	const char *args;

	CHECK(parse("user alice@example.test", verb, &args) == 0);
	CHECK_STR(verb, "USER");
	CHECK_STR(args, "alice@example.test");
	CHECK(parse("QUIT", verb, &args) == 0);
	CHECK_STR(verb, "QUIT");
	CHECK_STR(args, "");
	CHECK(parse("TOP 1 10", verb, &args) == 0);
	CHECK_STR(verb, "TOP");
	CHECK_STR(args, "1 10");
	CHECK(parse("PASS two words", verb, &args) == 0);
	CHECK_STR(args, "two words");
	CHECK(parse("", verb, &args) < 0);
	CHECK(parse("NO", verb, &args) < 0);		/* too short */
	CHECK(parse("RETRX 1", verb, &args) < 0);	/* too long */
	CHECK(parse("RE1R", verb, &args) < 0);
	CHECK(parse(" LIST", verb, &args) < 0);
	CHECK(parse("LIST\t1", verb, &args) < 0);
}

static void
test_nul_in_line(void)
{
	char line[] = "USER a\0b", verb[5];
	const char *args;

	CHECK(pop3_parse_command(line, sizeof(line) - 1, verb, &args) < 0);
}

static void
test_numbers(void)
{
	uint32_t n[2] = { 0, 0 };

	CHECK(pop3_parse_numbers("", 0, 1, n) == 0);
	CHECK(pop3_parse_numbers("", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("7", 0, 1, n) == 1 && n[0] == 7);
	CHECK(pop3_parse_numbers("3 0", 2, 2, n) == 2 && n[0] == 3 &&
	    n[1] == 0);
	CHECK(pop3_parse_numbers("4294967295", 1, 1, n) == 1 &&
	    n[0] == 4294967295u);
	CHECK(pop3_parse_numbers("4294967296", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("00000000001", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("1 2", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("1  2", 2, 2, n) == -1);
	CHECK(pop3_parse_numbers("1 ", 1, 2, n) == -1);
	CHECK(pop3_parse_numbers("-1", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("1x", 1, 1, n) == -1);
	CHECK(pop3_parse_numbers("1", 2, 2, n) == -1);
}

/* Runs msg through the stuffer in pieces of step octets. */
static char *
stuff(const char *msg, int64_t lines, size_t step)
{
	struct dotstuff st;
	size_t n = strlen(msg), o = 0, used;
	char *out = malloc(2 * n + 8);

	dotstuff_init(&st, lines);
	for (size_t i = 0; i < n && !st.done; i += step) {
		size_t k = n - i < step ? n - i : step;

		o += dotstuff_run(&st, msg + i, k, out + o, &used);
	}
	o += dotstuff_end(&st, out + o);
	out[o] = '\0';
	return out;
}

static void
check_stuff(const char *msg, int64_t lines, const char *want)
{
	for (size_t step = 1; step <= strlen(msg) + 1; step++) {
		char *got = stuff(msg, lines, step);

		CHECK_STR(got, want);
		free(got);
	}
}

static void
test_retr_stuffing(void)
{
	check_stuff("A: b\r\n\r\n.x\r\n..\r\n.\r\nend\r\n", -1,
	    "A: b\r\n\r\n..x\r\n...\r\n..\r\nend\r\n.\r\n");
	check_stuff("", -1, ".\r\n");
	/* bare LF made CRLF; a missing final line end added */
	check_stuff("A: b\n\nbody\n.dot", -1,
	    "A: b\r\n\r\nbody\r\n..dot\r\n.\r\n");
	check_stuff("x\r", -1, "x\r\n.\r\n");
}

static void
test_top(void)
{
	const char *msg = "A: 1\r\nB: 2\r\n\r\nl1\r\n.l2\r\nl3\r\n";

	check_stuff(msg, 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
	check_stuff(msg, 1, "A: 1\r\nB: 2\r\n\r\nl1\r\n.\r\n");
	check_stuff(msg, 2, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\n.\r\n");
	check_stuff(msg, 99, "A: 1\r\nB: 2\r\n\r\nl1\r\n..l2\r\nl3\r\n.\r\n");
	/* no body at all: the whole header */
	check_stuff("A: 1\r\n", 0, "A: 1\r\n.\r\n");
	check_stuff("A: 1\n\nx\ny\n", 1, "A: 1\r\n\r\nx\r\n.\r\n");
}

static const struct harness_test tests[] = {
	TEST(test_commands),
	TEST(test_nul_in_line),
	TEST(test_numbers),
	TEST(test_retr_stuffing),
	TEST(test_top),
};

HARNESS_MAIN("pop3_parse", tests)
