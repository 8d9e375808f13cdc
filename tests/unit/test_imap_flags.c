/* IMAP flag lists (imap/imap_flags.c): writing system flags, \Recent
 * and keywords in order; parsing STORE and APPEND flag lists, keyword
 * matching and allocation, and leaving the keyword table alone when a
 * list is refused. */
#include "harness.h"

#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_flags.h"
#include "imap/imap_parse.h"
#include "store/uidlist.h"

static struct imap_args args;	/* 64 KiB: not on the stack */

static const char *
write_flags(unsigned flags, uint32_t kw, const char keywords[][65])
{
	static char out[4096];
	struct buf b;

	buf_init(&b, sizeof(out) - 1);
	CHECK(imap_flags_write(&b, flags, kw, keywords) == 0);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	buf_release(&b, 0);
	return out;
}

static void
test_write(void)
{
	char kw[UIDLIST_KEYWORDS][65] = { "$Forwarded", "", "Junk" };

	CHECK_STR(write_flags(0, 0, NULL), "()");
	CHECK_STR(write_flags(UIDLIST_SEEN, 0, NULL), "(\\Seen)");
	CHECK_STR(write_flags(UIDLIST_SEEN | UIDLIST_ANSWERED |
	    UIDLIST_FLAGGED | UIDLIST_DELETED | UIDLIST_DRAFT |
	    IMAP_FLAG_RECENT, 0, NULL),
	    "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent)");
	CHECK_STR(write_flags(UIDLIST_DRAFT | IMAP_FLAG_RECENT, 0, NULL),
	    "(\\Draft \\Recent)");
	/* keywords after the system flags, by bit; empty slots skipped */
	CHECK_STR(write_flags(UIDLIST_SEEN, 0x7, kw),
	    "(\\Seen $Forwarded Junk)");
	CHECK_STR(write_flags(0, 0x4, kw), "(Junk)");
	/* bits past the table, or without names, are not written */
	CHECK_STR(write_flags(0, 0xffffffffu, NULL), "()");
	CHECK_STR(write_flags(0, 0xfc000002u, kw), "()");
	/* unknown flag bits are ignored */
	CHECK_STR(write_flags(0x80, 0, NULL), "()");
}

static void
test_write_full_buffer(void)
{
	char kw[UIDLIST_KEYWORDS][65] = { "a", "bb" };
	const char *want = "(\\Answered \\Seen a bb)";

	for (size_t max = 0; max < strlen(want); max++) {
		struct buf b;

		buf_init(&b, max);
		CHECK(imap_flags_write(&b, UIDLIST_SEEN | UIDLIST_ANSWERED,
		    3, kw) < 0);
		buf_release(&b, 0);
	}
	CHECK_STR(write_flags(UIDLIST_SEEN | UIDLIST_ANSWERED, 3, kw), want);
}

/* Parses s; the keyword table is kw. */
static int
parse(const char *s, int paren_only, char kw[][65], int add_new,
    unsigned *flags, uint32_t *bits, int *added, const char **error)
{
	*flags = 0xdead;
	*bits = 0xdead;
	*added = -1;
	*error = NULL;
	imap_args_init(&args, s, strlen(s));
	return imap_flags_parse(&args, paren_only, kw, add_new, flags, bits,
	    added, error);
}

static void
test_parse_system(void)
{
	static const struct {
		const char *s;
		int paren_only;
		unsigned flags;
	} rows[] = {
		{ "()", 1, 0 },
		{ "(\\Seen)", 1, UIDLIST_SEEN },
		{ "(\\seen \\ANSWERED)", 1, UIDLIST_SEEN | UIDLIST_ANSWERED },
		{ "(\\Flagged \\Deleted \\Draft \\Seen \\Answered)", 1,
		    UIDLIST_FLAGGED | UIDLIST_DELETED | UIDLIST_DRAFT |
		    UIDLIST_SEEN | UIDLIST_ANSWERED },
		{ "(\\Seen \\Seen)", 1, UIDLIST_SEEN },
		/* STORE: a single flag, or several without parentheses */
		{ "\\Deleted", 0, UIDLIST_DELETED },
		{ "\\Deleted \\Flagged", 0, UIDLIST_DELETED | UIDLIST_FLAGGED },
		{ "(\\Draft)", 0, UIDLIST_DRAFT },
	};
	char kw[UIDLIST_KEYWORDS][65] = { "" };
	unsigned flags;
	uint32_t bits;
	int added;
	const char *error;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = parse(rows[i].s, rows[i].paren_only, kw, 1, &flags,
		    &bits, &added, &error);

		if (rc != 0 || flags != rows[i].flags)
			fprintf(stderr, "  flags \"%s\"\n", rows[i].s);
		CHECK(rc == 0 && flags == rows[i].flags);
		CHECK(bits == 0 && added == 0);
		/* the cursor is at the end of the command */
		CHECK(imap_args_done(&args));
	}
}

static void
test_parse_errors(void)
{
	static const struct {
		const char *s;
		int paren_only;
		const char *error;	/* NULL: any */
	} rows[] = {
		{ "(\\Recent)", 1, "cannot set \\Recent" },
		{ "\\Recent", 0, "cannot set \\Recent" },
		{ "(\\Seen \\recent)", 1, "cannot set \\Recent" },
		{ "(\\Foo)", 1, "invalid system flag" },
		{ "(\\)", 1, NULL },
		{ "(\\*)", 1, NULL },
		{ "\\Seen", 1, "flag list expected" },
		{ "", 0, "flag list expected" },
		{ "", 1, "flag list expected" },
		{ "(\\Seen", 1, NULL },
		{ "\\Seen)", 0, NULL },
		{ "((\\Seen))", 1, NULL },
		{ "(\\Seen  \\Draft)", 1, NULL },
		{ "(\\Seen\\Draft)", 1, NULL },
		{ "( \\Seen)", 1, NULL },
		{ "(\"\\Seen\")", 1, NULL },
		{ "({5}\r\n\\Seen)", 1, NULL },
		{ "(NIL*)", 1, "invalid keyword" },
		{ "(a%b)", 1, "invalid keyword" },
		{ "(a]b)", 1, "invalid keyword" },
		{ "(a[b])", 1, "invalid keyword" },
		{ "(x" "0123456789012345678901234567890123456789"
		    "012345678901234567890123)", 1, "keyword too long" },
		{ "\"str\"", 0, "flag list expected" },
	};
	char kw[UIDLIST_KEYWORDS][65] = { "" };
	unsigned flags;
	uint32_t bits;
	int added;
	const char *error;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc = parse(rows[i].s, rows[i].paren_only, kw, 1, &flags,
		    &bits, &added, &error);

		if (rc != -1)
			fprintf(stderr, "  accepted \"%s\"\n", rows[i].s);
		CHECK(rc == -1 && error != NULL);
		if (rows[i].error != NULL)
			CHECK_STR(error, rows[i].error);
	}
	/* what follows a list is the caller's to check */
	CHECK(parse("(\\Seen))", 1, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(!imap_args_done(&args));
	/* nothing was allocated by the refused lists */
	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		CHECK(kw[k][0] == '\0');
}

static void
test_keywords(void)
{
	char kw[UIDLIST_KEYWORDS][65] = { "$Forwarded", "", "Junk" };
	char longest[UIDLIST_KEYWORD_MAX + 3];
	unsigned flags;
	uint32_t bits;
	int added;
	const char *error;

	/* known keywords, case-insensitively; nothing added */
	CHECK(parse("(junk \\Seen $FORWARDED)", 1, kw, 1, &flags, &bits,
	    &added, &error) == 0);
	CHECK(flags == UIDLIST_SEEN && bits == 0x5 && added == 0);

	/* a new one takes the first free slot, as written */
	CHECK(parse("(NonJunk \\Flagged)", 1, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(flags == UIDLIST_FLAGGED && bits == 0x2 && added == 1);
	CHECK_STR(kw[1], "NonJunk");
	/* the same new name twice in one list takes one slot */
	CHECK(parse("(x-a X-A)", 1, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(bits == 0x8 && added == 1);
	CHECK_STR(kw[3], "x-a");
	CHECK(kw[4][0] == '\0');

	/* unknown without add_new: refused, table unchanged */
	CHECK(parse("(\\Seen other)", 1, kw, 0, &flags, &bits, &added,
	    &error) == -1);
	CHECK_STR(error, "unknown keyword");
	CHECK(kw[4][0] == '\0');
	CHECK(parse("nonjunk", 0, kw, 0, &flags, &bits, &added,
	    &error) == 0);
	CHECK(bits == 0x2 && flags == 0 && added == 0);

	/* a keyword added before a syntax error is taken back */
	CHECK(parse("(newkw \\Bogus)", 1, kw, 1, &flags, &bits, &added,
	    &error) == -1);
	CHECK(kw[4][0] == '\0');
	CHECK(parse("(newkw", 1, kw, 1, &flags, &bits, &added,
	    &error) == -1);
	CHECK(kw[4][0] == '\0');

	/* 64 octets fit, 65 do not */
	memset(longest, 'k', sizeof(longest));
	longest[0] = '(';
	longest[UIDLIST_KEYWORD_MAX + 1] = ')';
	longest[UIDLIST_KEYWORD_MAX + 2] = '\0';
	CHECK(parse(longest, 1, kw, 1, &flags, &bits, &added, &error) == 0);
	CHECK(bits == 0x10 && strlen(kw[4]) == UIDLIST_KEYWORD_MAX);
}

static void
test_keyword_table_full(void)
{
	char kw[UIDLIST_KEYWORDS][65];
	char list[64];
	unsigned flags;
	uint32_t bits;
	int added;
	const char *error;

	memset(kw, 0, sizeof(kw));
	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		snprintf(list, sizeof(list), "(\\Seen kw%d)", k);
		CHECK(parse(list, 1, kw, 1, &flags, &bits, &added,
		    &error) == 0);
		CHECK(bits == UINT32_C(1) << k && added == 1);
	}
	/* full: -2, and the earlier new name of the list is taken back */
	kw[20][0] = '\0';
	CHECK(parse("(fresh1 fresh2)", 1, kw, 1, &flags, &bits, &added,
	    &error) == -2);
	CHECK_STR(error, "too many keywords");
	CHECK(kw[20][0] == '\0');
	/* known names still work when the table is full */
	CHECK(parse("(KW0 kw25)", 1, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(bits == (1u | 1u << 25) && added == 0);
	/* the freed slot is reused */
	CHECK(parse("fresh1", 0, kw, 1, &flags, &bits, &added, &error) == 0);
	CHECK(bits == 1u << 20 && added == 1);
	CHECK_STR(kw[20], "fresh1");
	CHECK(parse("fresh2", 0, kw, 1, &flags, &bits, &added, &error) == -2);
}

/* The cursor after a flag list, as APPEND continues with a date and a
 * literal. */
static void
test_cursor_after_list(void)
{
	static const char cmd[] = "(\\Seen) \"01-Jan-2024 00:00:00 +0000\" x";
	char kw[UIDLIST_KEYWORDS][65] = { "" };
	unsigned flags;
	uint32_t bits;
	int added;
	const char *error;

	imap_args_init(&args, cmd, strlen(cmd));
	CHECK(imap_flags_parse(&args, 1, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(flags == UIDLIST_SEEN);
	CHECK(imap_args_next(&args) == IMAP_ARG_STRING);
	CHECK(imap_args_next(&args) == IMAP_ARG_ATOM);
	CHECK(imap_args_done(&args));

	/* STORE: "FLAGS.SILENT" read by the caller, then the flags */
	imap_args_init(&args, "1:* +FLAGS.SILENT \\Seen kw", 26);
	CHECK(imap_args_next(&args) == IMAP_ARG_ATOM);
	CHECK(imap_args_next(&args) == IMAP_ARG_ATOM);
	CHECK(imap_flags_parse(&args, 0, kw, 1, &flags, &bits, &added,
	    &error) == 0);
	CHECK(flags == UIDLIST_SEEN && bits == 1 && added == 1);
	CHECK_STR(kw[0], "kw");
}

static const struct harness_test tests[] = {
	TEST(test_write),
	TEST(test_write_full_buffer),
	TEST(test_parse_system),
	TEST(test_parse_errors),
	TEST(test_keywords),
	TEST(test_keyword_table_full),
	TEST(test_cursor_after_list),
};

HARNESS_MAIN("imap_flags", tests)
