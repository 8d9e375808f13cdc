/* IMAP command syntax: literal announcements, tag and name, argument
 * tokens (atoms with brackets, quoted strings, literals, lists), and
 * sequence sets. */
#include "harness.h"
#include "imap/imap_parse.h"

static void
test_literal_announcements(void)
{
	struct imap_literal l;

	CHECK(imap_line_literal("a APPEND x {12}", 15, &l) == 1 &&
	    l.size == 12 && l.sync);
	CHECK(imap_line_literal("a APPEND x {0+}", 15, &l) == 1 &&
	    l.size == 0 && !l.sync);
	CHECK(imap_line_literal("a LOGIN x y", 11, &l) == 0);
	CHECK(imap_line_literal("a FETCH 1 (BODY[]<0.5>)", 23, &l) == 0);
	CHECK(imap_line_literal("a X {}", 6, &l) == -1);
	CHECK(imap_line_literal("a X {99999999999999999999}", 26, &l) == -1);
}

static void
test_head(void)
{
	char tag[IMAP_TAG_MAX], name[32];
	const char *rest;

	CHECK(imap_parse_head("a1 login bob pw", 15, tag, name, &rest) == 0);
	CHECK_STR(tag, "a1");
	CHECK_STR(name, "LOGIN");
	CHECK_STR(rest, "bob pw");
	CHECK(imap_parse_head("x NOOP", 6, tag, name, &rest) == 0);
	CHECK_STR(rest, "");
	CHECK(imap_parse_head("a+b NOOP", 8, tag, name, &rest) < 0);
	CHECK(imap_parse_head("tagonly", 7, tag, name, &rest) < 0);
	CHECK_STR(tag, "tagonly");
	CHECK(imap_parse_head("", 0, tag, name, &rest) < 0);
	CHECK_STR(tag, "*");
	CHECK(imap_parse_head("t N0OP", 6, tag, name, &rest) < 0);
}

static void
test_args(void)
{
	static const char cmd[] = "1 (BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.100> "
	    "FLAGS) \"a \\\"q\\\"\" {3}\r\nx\0y NIL";
	struct imap_args a;

	imap_args_init(&a, cmd, sizeof(cmd) - 1);
	CHECK(imap_args_next(&a) == IMAP_ARG_ATOM && a.len == 1);
	CHECK(imap_args_next(&a) == IMAP_ARG_LIST_OPEN);
	CHECK(imap_args_next(&a) == IMAP_ARG_ATOM);
	CHECK(a.len == 41 && memcmp(a.val, "BODY.PEEK[HEADER.FIELDS (FROM TO)]"
	    "<0.100>", 41) == 0);
	CHECK(imap_args_next(&a) == IMAP_ARG_ATOM && a.len == 5);
	CHECK(imap_args_next(&a) == IMAP_ARG_LIST_CLOSE);
	CHECK(imap_args_next(&a) == IMAP_ARG_STRING && !a.literal);
	CHECK(a.len == 5 && memcmp(a.val, "a \"q\"", 5) == 0);
	CHECK(imap_args_next(&a) == IMAP_ARG_STRING && a.literal);
	CHECK(a.len == 3 && memcmp(a.val, "x\0y", 3) == 0);
	CHECK(imap_args_next(&a) == IMAP_ARG_ATOM && a.len == 3);
	CHECK(imap_args_next(&a) == IMAP_ARG_END);
}

static void
test_bad_args(void)
{
	static const char *const bad[] = {
		"(a", "a)", "a  b", "\"open", "{5}\r\nab", "{x}\r\n", "a ",
		"\"bad\\n\"", "BODY[unclosed",
	};
	struct imap_args a;
	char out[16];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum imap_arg_type t;

		imap_args_init(&a, bad[i], strlen(bad[i]));
		while ((t = imap_args_next(&a)) != IMAP_ARG_END &&
		    t != IMAP_ARG_ERROR)
			;
		if (t != IMAP_ARG_ERROR)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(t == IMAP_ARG_ERROR);
	}
	imap_args_init(&a, "{3}\r\na\0b", 8);
	CHECK(imap_args_astring(&a, out, sizeof(out)) < 0);	/* NUL */
	imap_args_init(&a, "averylongatomthatdoesnotfit", 27);
	CHECK(imap_args_astring(&a, out, sizeof(out)) < 0);
}

static void
test_seqsets(void)
{
	struct imap_seqset s;

	CHECK(imap_seqset_parse("1:3,7,9:*", 9, 12, &s) == 0 && s.n == 3);
	CHECK(imap_seqset_has(&s, 2) && imap_seqset_has(&s, 7) &&
	    imap_seqset_has(&s, 12) && !imap_seqset_has(&s, 8));
	imap_seqset_free(&s);
	CHECK(imap_seqset_parse("5:2", 3, 9, &s) == 0 && s.r[0].lo == 2 &&
	    s.r[0].hi == 5);
	imap_seqset_free(&s);
	CHECK(imap_seqset_parse("0", 1, 9, &s) < 0);
	CHECK(imap_seqset_parse("1,", 2, 9, &s) < 0);
	CHECK(imap_seqset_parse("4294967296", 10, 9, &s) < 0);
	CHECK(imap_seqset_parse("", 0, 9, &s) < 0);
}

static const struct harness_test tests[] = {
	TEST(test_literal_announcements),
	TEST(test_head),
	TEST(test_args),
	TEST(test_bad_args),
	TEST(test_seqsets),
};

HARNESS_MAIN("imap_parse", tests)
