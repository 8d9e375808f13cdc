/* IMAP SEARCH: every key against a small folder of five messages (flags,
 * keywords, sizes, dates at day boundaries, encoded words in B and Q,
 * ISO-8859-1, UTF-8, KOI8-R and unknown charsets, base64 and
 * quoted-printable bodies, multipart with an attachment and a nested
 * message), OR/NOT nesting, syntax errors, the RFC 5322 date parser,
 * case folding, and the speed of a SUBJECT search. Every program is
 * also checked to touch no tree when it needs none, and to match the
 * same on a header-only tree when it needs no body. */
#include <time.h>

#include "harness.h"
#include "core/buf.h"
#include "core/util.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "store/mime.h"
#include "store/uidlist.h"

#define R IMAP_SEARCH_RECENT

static const char msg1[] =
    "From: \"Alice Example\" <alice@example.com>\r\n"
    "To: bob@example.org\r\n"
    "Cc: carol@example.net\r\n"
    "Subject: Hello World\r\n"
    "Date: Tue, 14 Mar 2023 23:30:00 -0700\r\n"
    "Message-ID: <1@x>\r\n"
    "\r\n"
    "Plain body with Zebra text.\r\n";

static const char msg2[] =
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\n"
    "To: =?UTF-8?B?w5xiZXI=?= <u@example.de>\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9_cr=C3=A8me?=\n"
    "  =?UTF-8?Q?_br=C3=BBl=C3=A9e?=\n"
    "Bcc: secret@example.com\n"
    "X-Custom: Alpha\n"
    " Beta\n"
    "Date: 1 Jan 70 00:00 GMT\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Gr=FC=DFe aus M=FCnchen, soft=\n"
    "break here.\n";

static const char msg3[] =
    "From: dave@example.com\r\n"
    "Subject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\n"
    "Date: (comment) Sat, 29 Feb 2020 10:00:00 +0000\r\n"
    "Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--XX\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "w5xuw69jw7Zkw6kgQm9keSBUZXh0DQo=\r\n"
    "--XX\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SElEREVOV09SRA==\r\n"
    "--XX\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "From: x@y\r\n"
    "\r\n"
    "Inner body says Quokka.\r\n"
    "--XX--\r\n";

static const char msg4[] =
    "From: eve@example.com\r\n"
    "To: first@example.com\r\n"
    "To: second@example.com\r\n"
    "Subject: =?x-unknown?q?Bad=FFword?= and =?koi8-r?b?8NLJ18XU?=\r\n"
    "Content-Type: text/html; charset=windows-1252\r\n"
    "\r\n"
    "<p>Price: 10 \x80</p>\r\n";

static const char msg5[] =
    "From: frank@example.com\r\n"
    "Subject: Re: 1 Jan\r\n"
    "Date: garbage here\r\n"
    "Content-Type: text/plain; charset=bogus-charset\r\n"
    "\r\n"
    "fallback body \xC4 raw\r\n";

static const char kw[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1] = {
	"$Forwarded", "", "Work",
};

#define N_MSGS 5

static struct imap_search_msg msgs[N_MSGS];
static struct mime_tree *full[N_MSGS], *head[N_MSGS];
static struct imap_args args;

static int64_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm = { 0 };

	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return (int64_t)timegm(&tm);
}

static void
setup(void)
{
	static const char *const texts[N_MSGS] = { msg1, msg2, msg3, msg4,
	    msg5 };
	static const size_t lens[N_MSGS] = { sizeof(msg1) - 1,
	    sizeof(msg2) - 1, sizeof(msg3) - 1, sizeof(msg4) - 1,
	    sizeof(msg5) - 1 };
	static const unsigned flags[N_MSGS] = {
		UIDLIST_SEEN | UIDLIST_ANSWERED,
		UIDLIST_SEEN | UIDLIST_FLAGGED,
		0,
		UIDLIST_DELETED | UIDLIST_DRAFT | UIDLIST_FLAGGED | R,
		R,
	};
	static const uint32_t kws[N_MSGS] = { 1, 0, 0, 4, 0 };

	if (full[0] != NULL)
		return;
	for (int i = 0; i < N_MSGS; i++) {
		full[i] = mime_parse(texts[i], lens[i]);
		head[i] = mime_parse(texts[i], full[i]->root->body_off);
		msgs[i].seq = (uint32_t)i + 1;
		msgs[i].uid = 10 * ((uint32_t)i + 1);
		msgs[i].flags = flags[i];
		msgs[i].keywords = kws[i];
		msgs[i].size = 100 * ((uint64_t)i + 1);
	}
	msgs[0].internal_date = utc(2023, 3, 15, 0, 0, 0);
	msgs[1].internal_date = utc(2023, 3, 14, 23, 59, 59);
	msgs[2].internal_date = utc(2020, 2, 29, 12, 0, 0);
	msgs[3].internal_date = -1;	/* 1969-12-31 23:59:59 */
	msgs[4].internal_date = utc(2024, 12, 31, 8, 0, 0);
}

static int
compile(const char *prog, size_t len, struct imap_search **s,
    const char **error)
{
	imap_args_init(&args, prog, len);
	return imap_search_parse(&args, kw, N_MSGS, 10 * N_MSGS, s, error);
}

/* The sequence numbers prog matches, "1 3 5", or "rc=N error". */
static void
run(const char *prog, size_t len, char *out, size_t outsize)
{
	static const struct mime_tree poison;	/* any use crashes */
	struct imap_search *s;
	const char *error = NULL;
	size_t o = 0;
	int rc, needs;

	out[0] = '\0';
	rc = compile(prog, len, &s, &error);
	if (rc != 0) {
		snprintf(out, outsize, "rc=%d %s", rc, error);
		return;
	}
	needs = imap_search_needs(s);
	for (int i = 0; i < N_MSGS; i++) {
		struct imap_search_msg m = msgs[i];
		int r;

		m.tree = full[i];
		r = imap_search_match(s, &m);
		if (needs == 0) {
			m.tree = &poison;
			CHECK(imap_search_match(s, &m) == r);
			m.tree = NULL;
			CHECK(imap_search_match(s, &m) == r);
		} else if ((needs & IMAP_SEARCH_NEED_BODY) == 0) {
			m.tree = head[i];
			CHECK(imap_search_match(s, &m) == r);
		}
		if (r)
			o += (size_t)snprintf(out + o, outsize - o, "%s%d",
			    o ? " " : "", i + 1);
	}
	imap_search_free(&s);
	CHECK(s == NULL);
}

/* 1/0: whether prog matches the message msg[0..len) (a heap copy of
 * exactly that size); -9 if prog does not compile. */
static int
match_one(const char *prog, size_t plen, const char *msg, size_t len)
{
	char *copy = exact(msg, len);
	struct mime_tree *t = mime_parse(copy, len);
	struct imap_search_msg m = { 0 };
	struct imap_search *s;
	const char *error;
	int r = -9;

	m.tree = t;
	if (compile(prog, plen, &s, &error) == 0) {
		r = imap_search_match(s, &m);
		imap_search_free(&s);
	}
	mime_free(&t);
	free(copy);
	return r;
}

struct row {
	const char *prog;
	const char *want;
};

static void
run_table(const struct row *rows, size_t n)
{
	char got[256];

	setup();
	for (size_t i = 0; i < n; i++) {
		run(rows[i].prog, strlen(rows[i].prog), got, sizeof(got));
		if (strcmp(got, rows[i].want) != 0) {
			fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n",
			    rows[i].prog, got, rows[i].want);
			harness_failed = 1;
		}
	}
}

#define TABLE(rows) run_table(rows, sizeof(rows) / sizeof(rows[0]))

static void
test_flags(void)
{
	static const struct row rows[] = {
		{ "ALL", "1 2 3 4 5" },
		{ "all", "1 2 3 4 5" },
		{ "ANSWERED", "1" },
		{ "UNANSWERED", "2 3 4 5" },
		{ "DELETED", "4" },
		{ "UNDELETED", "1 2 3 5" },
		{ "DRAFT", "4" },
		{ "UNDRAFT", "1 2 3 5" },
		{ "FLAGGED", "2 4" },
		{ "UNFLAGGED", "1 3 5" },
		{ "SEEN", "1 2" },
		{ "UNSEEN", "3 4 5" },
		{ "RECENT", "4 5" },
		{ "NEW", "4 5" },
		{ "OLD", "1 2 3" },
		{ "KEYWORD $Forwarded", "1" },
		{ "keyword $FORWARDED", "1" },
		{ "KEYWORD Work", "4" },
		{ "KEYWORD \"Work\"", "4" },
		{ "KEYWORD Nope", "" },
		{ "UNKEYWORD Nope", "1 2 3 4 5" },
		{ "UNKEYWORD Work", "1 2 3 5" },
		{ "KEYWORD \"\\\\Seen\"", "1 2" },
		{ "UNKEYWORD \"\\\\Deleted\"", "1 2 3 5" },
		{ "SEEN UNSEEN", "" },
		{ "DELETED DRAFT FLAGGED RECENT KEYWORD work", "4" },
	};

	TABLE(rows);
}

static void
test_sets_and_sizes(void)
{
	static const struct row rows[] = {
		{ "1", "1" },
		{ "2:4", "2 3 4" },
		{ "*", "5" },
		{ "4:*", "4 5" },
		{ "1,3,5", "1 3 5" },
		{ "5:3", "3 4 5" },
		{ "1:2,2:3", "1 2 3" },
		{ "3,1:1,2", "1 2 3" },
		{ "6:100", "" },
		{ "1:4294967295", "1 2 3 4 5" },
		{ "UID 20:40", "2 3 4" },
		{ "UID *", "5" },
		{ "UID 45:*", "5" },
		{ "UID 60:*", "5" },
		{ "UID 11:19", "" },
		{ "UID 10,50", "1 5" },
		{ "uid 1:*", "1 2 3 4 5" },
		{ "LARGER 200", "3 4 5" },
		{ "SMALLER 200", "1" },
		{ "LARGER 0", "1 2 3 4 5" },
		{ "SMALLER 0", "" },
		{ "LARGER 199 SMALLER 201", "2" },
		{ "SMALLER 9223372036854775807", "1 2 3 4 5" },
	};

	TABLE(rows);
}

static void
test_dates(void)
{
	static const struct row rows[] = {
		/* internal dates: 15-Mar-2023 00:00:00, 14-Mar-2023
		 * 23:59:59, 29-Feb-2020, 31-Dec-1969 23:59:59,
		 * 31-Dec-2024 (UTC) */
		{ "ON 15-Mar-2023", "1" },
		{ "ON 14-Mar-2023", "2" },
		{ "BEFORE 15-Mar-2023", "2 3 4" },
		{ "SINCE 15-Mar-2023", "1 5" },
		{ "SINCE 14-Mar-2023", "1 2 5" },
		{ "BEFORE 14-Mar-2023", "3 4" },
		{ "BEFORE 1-Jan-1970", "4" },
		{ "ON 31-Dec-1969", "4" },
		{ "SINCE 1-Jan-1970", "1 2 3 5" },
		{ "SINCE 29-Feb-2020", "1 2 3 5" },
		{ "ON \"29-Feb-2020\"", "3" },
		{ "ON {11}\r\n29-feb-2020", "3" },
		{ "ON 29-FEB-2020", "3" },
		{ "ON 01-Jan-2000", "" },
		{ "SINCE 31-Dec-2024 BEFORE 1-Jan-2025", "5" },
		/* Date: as written, zone and time disregarded: 14-Mar-2023
		 * (-0700), 1-Jan-70, 29-Feb-2020; no Date: and an
		 * unreadable one fall back to the internal date */
		{ "SENTON 14-Mar-2023", "1" },
		{ "SENTBEFORE 14-Mar-2023", "2 3 4" },
		{ "SENTBEFORE 15-Mar-2023", "1 2 3 4" },
		{ "SENTSINCE 14-Mar-2023", "1 5" },
		{ "SENTSINCE 15-Mar-2023", "5" },
		{ "SENTON 1-Jan-1970", "2" },
		{ "SENTON 31-Dec-1969", "4" },
		{ "SENTON 29-Feb-2020", "3" },
		{ "SENTON 31-Dec-2024", "5" },
	};

	TABLE(rows);
}

static void
test_headers(void)
{
	static const struct row rows[] = {
		{ "FROM alice", "1" },
		{ "FROM ALICE", "1" },
		{ "FROM \"Alice Example\"", "1" },
		{ "FROM example", "1 2 3 4 5" },
		{ "FROM \"andré\"", "2" },
		{ "FROM \"ANDRÉ\"", "2" },
		{ "FROM \"=?ISO\"", "" },
		{ "TO \"über\"", "2" },
		{ "TO \"ÜBER\"", "2" },
		{ "TO second", "4" },
		{ "TO first", "4" },
		{ "CC carol", "1" },
		{ "CC bob", "" },
		{ "BCC secret", "2" },
		{ "SUBJECT hello", "1" },
		{ "SUBJECT \"hello world\"", "1" },
		{ "SUBJECT \"café crème brûlée\"", "2" },
		{ "SUBJECT \"CAFÉ CRÈME BRÛLÉE\"", "2" },
		{ "SUBJECT \"привет\"", "3 4" },
		{ "SUBJECT {12}\r\nПРИВЕТ", "3 4" },
		{ "SUBJECT \"word and\"", "4" },
		{ "SUBJECT inner", "" },
		{ "SUBJECT \"\"", "1 2 3 4 5" },
		{ "CC \"\"", "1" },
		{ "HEADER X-Custom \"\"", "2" },
		{ "HEADER message-id \"\"", "1" },
		{ "HEADER X-Custom \"alpha beta\"", "2" },
		{ "HEADER x-custom gamma", "" },
		{ "HEADER \"\" \"\"", "" },
		{ "HEADER Content-Type html", "4" },
		{ "HEADER {4}\r\nDATE {4}\r\n2020", "3" },
	};

	TABLE(rows);
}

/* The raw fallback for an unknown charset: a literal with octet 0xff. */
static void
test_unknown_charset_raw(void)
{
	static const char prog[] = "SUBJECT {8}\r\nbad\xffword";
	char got[64];

	setup();
	run(prog, sizeof(prog) - 1, got, sizeof(got));
	CHECK_STR(got, "4");
}

static void
test_bodies(void)
{
	static const struct row rows[] = {
		{ "BODY zebra", "1" },
		{ "BODY \"grüße aus münchen\"", "2" },
		{ "BODY \"GRÜßE AUS MÜNCHEN\"", "2" },
		{ "BODY softbreak", "2" },
		{ "BODY \"=FC\"", "" },
		{ "BODY \"ünïcödé body\"", "3" },
		{ "BODY \"ÜNÏCÖDÉ\"", "3" },
		{ "BODY w5xuw69j", "" },
		{ "BODY hiddenword", "" },
		{ "BODY quokka", "3" },
		{ "BODY preamble", "" },
		{ "BODY \"10 €\"", "4" },
		{ "BODY price", "4" },
		{ "BODY fallback", "5" },
		{ "BODY hello", "" },
		{ "BODY \"\"", "1 2 3 4 5" },
		{ "TEXT hello", "1" },
		{ "TEXT zebra", "1" },
		{ "TEXT quokka", "3" },
		{ "TEXT \"subject: hello\"", "1" },
		{ "TEXT \"café\"", "2" },
		{ "TEXT \"\"", "1 2 3 4 5" },
		{ "TEXT nowhere", "" },
	};

	TABLE(rows);
}

static void
test_or_not(void)
{
	static const struct row rows[] = {
		{ "OR SEEN FLAGGED", "1 2 4" },
		{ "NOT SEEN", "3 4 5" },
		{ "NOT NOT SEEN", "1 2" },
		{ "OR (SEEN FLAGGED) DELETED", "2 4" },
		{ "NOT (OR SEEN DELETED)", "3 5" },
		{ "OR OR 1 2 3", "1 2 3" },
		{ "OR 1 OR 2 OR 3 4", "1 2 3 4" },
		{ "(SEEN) (FLAGGED)", "2" },
		{ "SEEN FLAGGED", "2" },
		{ "NOT (NOT (FROM alice))", "1" },
		{ "OR FROM alice SUBJECT \"привет\"", "1 3 4" },
		{ "NOT KEYWORD nope", "1 2 3 4 5" },
		{ "NOT UNKEYWORD nope", "" },
		{ "OR KEYWORD nope SEEN", "1 2" },
		{ "OR UNKEYWORD nope SEEN", "1 2 3 4 5" },
		{ "((((SEEN))))", "1 2" },
		{ "OR NOT SEEN BODY zebra", "1 3 4 5" },
		{ "NOT (SEEN OR BODY zebra FLAGGED)", "3 4 5" },
		{ "OR (NOT SEEN LARGER 300) (UID 10:20 NOT ANSWERED)",
		    "2 4 5" },
		{ "(OR ON 15-Mar-2023 SENTON 1-Jan-1970) NOT 1", "2" },
		{ "CHARSET UTF-8 SUBJECT {5}\r\ncafé", "2" },
		{ "charset us-ascii ALL", "1 2 3 4 5" },
		{ "CHARSET \"utf-8\" FROM alice", "1" },
	};

	TABLE(rows);
}

static void
test_errors(void)
{
	static const struct row rows[] = {
		{ "", "rc=-1 Missing search key" },
		{ "CHARSET KOI8-R ALL", "rc=-2 Unknown charset" },
		{ "CHARSET ISO-8859-1 FROM x", "rc=-2 Unknown charset" },
		{ "CHARSET", "rc=-1 Missing charset" },
		{ "CHARSET UTF-8", "rc=-1 Missing search key" },
		{ "FOO", "rc=-1 Unknown search key" },
		{ "\"ALL\"", "rc=-1 Unknown search key" },
		{ "ALL FOO", "rc=-1 Unknown search key" },
		{ "FROM", "rc=-1 Missing argument" },
		{ "HEADER X", "rc=-1 Missing argument" },
		{ "OR SEEN", "rc=-1 Missing search key" },
		{ "NOT", "rc=-1 Missing search key" },
		{ "KEYWORD", "rc=-1 Missing argument" },
		{ "UID", "rc=-1 Missing UID set" },
		{ "LARGER", "rc=-1 Missing number" },
		{ "FROM (", "rc=-1 Missing argument" },
		{ "(SEEN", "rc=-1 Unbalanced parentheses" },
		{ "SEEN)", "rc=-1 Unbalanced parentheses" },
		{ "(SEEN))", "rc=-1 Unbalanced parentheses" },
		{ "((SEEN)", "rc=-1 Unbalanced parentheses" },
		{ "NOT )", "rc=-1 Unbalanced parentheses" },
		{ "(NOT)", "rc=-1 Missing search key" },
		{ "(OR SEEN)", "rc=-1 Missing search key" },
		{ "()", "rc=-1 Empty search key list" },
		{ "BEFORE 32-Jan-2023", "rc=-1 Invalid date" },
		{ "BEFORE 29-Feb-2023", "rc=-1 Invalid date" },
		{ "BEFORE 31-Apr-2023", "rc=-1 Invalid date" },
		{ "BEFORE 1-Foo-2023", "rc=-1 Invalid date" },
		{ "BEFORE 1-Jan-23", "rc=-1 Invalid date" },
		{ "BEFORE 2023-01-01", "rc=-1 Invalid date" },
		{ "BEFORE 001-Jan-2023", "rc=-1 Invalid date" },
		{ "ON 0-Jan-2023", "rc=-1 Invalid date" },
		{ "ON 1-Jan-2023x", "rc=-1 Invalid date" },
		{ "SENTON x", "rc=-1 Invalid date" },
		{ "SINCE", "rc=-1 Missing argument" },
		{ "LARGER abc", "rc=-1 Invalid number" },
		{ "LARGER -1", "rc=-1 Invalid number" },
		{ "SMALLER 12345678901234567890", "rc=-1 Invalid number" },
		{ "LARGER \"10\"", "rc=-1 Invalid number" },
		{ "UID \"1\"", "rc=-1 Invalid sequence set" },
		{ "LARGER )", "rc=-1 Unbalanced parentheses" },
		{ "0", "rc=-1 Invalid sequence set" },
		{ "1:0", "rc=-1 Invalid sequence set" },
		{ "1,", "rc=-1 Invalid sequence set" },
		{ "1:x", "rc=-1 Invalid sequence set" },
		{ "UID 0", "rc=-1 Invalid sequence set" },
		{ "UID x", "rc=-1 Invalid sequence set" },
		{ "UID 1:", "rc=-1 Invalid sequence set" },
		{ "UID 4294967296", "rc=-1 Invalid sequence set" },
		{ "SEEN  FLAGGED", "rc=-1 Invalid search arguments" },
		{ "SEEN ", "rc=-1 Invalid search arguments" },
		{ "FROM \"open", "rc=-1 Invalid search arguments" },
		{ "FROM andré", "rc=-1 Invalid search arguments" },
		{ "FROM {5}\r\nab", "rc=-1 Invalid search arguments" },
	};

	TABLE(rows);
}

static void
test_limits(void)
{
	static const char nul[] = "FROM {3}\r\na\0b";
	struct imap_search *s = NULL;
	const char *error = NULL;
	struct buf b;
	char got[64];

	setup();
	run(nul, sizeof(nul) - 1, got, sizeof(got));
	CHECK_STR(got, "rc=-1 NUL in search string");

	/* NOT nested 200 deep is fine (even: SEEN), 300 is too deep */
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		CHECK(buf_append_str(&b, "NOT ") == 0);
	CHECK(buf_append_str(&b, "SEEN") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "1 2");
	buf_reset(&b);
	for (int i = 0; i < 300; i++)
		CHECK(buf_append_str(&b, "NOT ") == 0);
	CHECK(buf_append_str(&b, "SEEN") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "rc=-1 Search program too complex");

	/* an OR chain 250 deep, as mutt builds them */
	buf_reset(&b);
	for (int i = 0; i < 250; i++)
		CHECK(buf_append_str(&b, "OR FROM nobody ") == 0);
	CHECK(buf_append_str(&b, "FROM frank") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "5");

	/* 4,000 keys fit, 5,000 do not */
	buf_reset(&b);
	for (int i = 0; i < 4000; i++)
		CHECK(buf_append_str(&b, i ? " 1:*" : "1:*") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "1 2 3 4 5");
	buf_reset(&b);
	for (int i = 0; i < 5000; i++)
		CHECK(buf_append_str(&b, i ? " SEEN" : "SEEN") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "rc=-1 Search program too complex");

	/* parentheses deeper than the argument cursor allows */
	buf_reset(&b);
	for (int i = 0; i < 20; i++)
		CHECK(buf_append_str(&b, "(") == 0);
	CHECK(buf_append_str(&b, "SEEN") == 0);
	for (int i = 0; i < 20; i++)
		CHECK(buf_append_str(&b, ")") == 0);
	run(b.data, b.len, got, sizeof(got));
	CHECK_STR(got, "rc=-1 Search program too complex");
	buf_release(&b, 0);

	/* an empty folder: "*" is 0 and matches nothing real */
	imap_args_init(&args, "1:* UID *", 9);
	CHECK(imap_search_parse(&args, kw, 0, 0, &s, &error) == 0);
	CHECK(imap_search_needs(s) == 0);
	CHECK(imap_search_match(s, &msgs[0]) == 0);
	imap_search_free(&s);
	imap_search_free(&s);
}

static void
test_needs(void)
{
	static const struct {
		const char *prog;
		int needs;
	} rows[] = {
		{ "ALL", 0 },
		{ "SEEN UID 1:* LARGER 5 ON 1-Jan-2020 KEYWORD x", 0 },
		{ "SUBJECT x", IMAP_SEARCH_NEED_HEADER },
		{ "SENTON 1-Jan-2020", IMAP_SEARCH_NEED_HEADER },
		{ "HEADER x \"\"", IMAP_SEARCH_NEED_HEADER },
		{ "BODY x", IMAP_SEARCH_NEED_BODY },
		{ "TEXT x", IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY },
		{ "OR FROM x BODY y", IMAP_SEARCH_NEED_HEADER |
		    IMAP_SEARCH_NEED_BODY },
		{ "BODY \"\" TEXT \"\"", 0 },
		{ "KEYWORD nope BODY x", 0 },
		{ "OR UNKEYWORD nope SUBJECT x", 0 },
		{ "NOT NOT FROM x", IMAP_SEARCH_NEED_HEADER },
	};
	struct imap_search *s;
	const char *error;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK(compile(rows[i].prog, strlen(rows[i].prog), &s,
		    &error) == 0);
		if (s == NULL)
			continue;
		if (imap_search_needs(s) != rows[i].needs) {
			fprintf(stderr, "  %s: needs %d\n", rows[i].prog,
			    imap_search_needs(s));
			harness_failed = 1;
		}
		imap_search_free(&s);
	}
}

static void
test_date822(void)
{
	static const struct {
		const char *s;
		int64_t utc;
		int zone;
	} good[] = {
		{ "Tue, 14 Mar 2023 23:30:00 -0700", 1678861800, -420 },
		{ "14 Mar 2023 23:30 +0000", 1678836600, 0 },
		{ "1 Jan 70 00:00 GMT", 0, 0 },
		{ "1 Jan 49 00:00 UT", 2493072000, 0 },
		{ "1 Jan 50 00:00 UT", -631152000, 0 },
		{ "1 Jan 103 00:00 +0000", 1041379200, 0 },
		{ " (c (nested)) Sat (x) , 29 Feb 2020 10:00:00 (y) EST",
		    1582988400, -300 },
		{ "Mon, 1 Jan 2024 10:00:00 PDT", 1704128400, -420 },
		{ "Mon, 1 Jan 2024 10:00:00 Z", 1704103200, 0 },
		{ "Mon, 1 Jan 2024 10:00:00 +0530 (IST)", 1704083400, 330 },
		{ "monday, 01 january 2024 10 : 00 : 00 cdt", 1704121200,
		    -300 },
		{ "1 Jan 2024", 1704067200, 0 },
		{ "31 Dec 1969 23:59:59 +0000", -1, 0 },
		{ "30 Jun 2015 23:59:60 +0000", 1435708800, 0 },
	};
	static const char *const bad[] = {
		"", "garbage", "32 Jan 2024 10:00", "29 Feb 2023 10:00",
		"1 Foo 2024 10:00", "1 Jan 2024 24:00", "1 Jan 2024 10:60",
		"1 Jan 2024 10:00 +01", "Xyz, 1 Jan 2024", "1 Jan 12345 10:00",
		"1 Jan 2024 10", "1 Jan 2024 10:00:61", "100 Jan 2024",
		"1 Jan 2024 10:00 +0199", "(unclosed", "1 Jan 1899 00:00",
		"1 Jan 0001 00:00 +0000",
	};
	int64_t t;
	int zone;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *s = exact(good[i].s, strlen(good[i].s));

		t = 0;
		zone = 99;
		CHECK(imap_search_date822(s, strlen(s), &t, &zone) == 0);
		if (t != good[i].utc || zone != good[i].zone) {
			fprintf(stderr, "  %s: %lld %d\n", s, (long long)t,
			    zone);
			harness_failed = 1;
		}
		free(s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *s = exact(bad[i], strlen(bad[i]));

		if (imap_search_date822(s, strlen(s), &t, &zone) == 0) {
			fprintf(stderr, "  accepted: %s\n", s);
			harness_failed = 1;
		}
		free(s);
	}
}

/* Folding through a search: each upper-case letter matches its
 * lower-case form and the other way round; some pairs stay apart. */
static void
test_folding(void)
{
	static const char *const pairs[][2] = {
		{ "ÀÉÎÕÜÞ", "àéîõüþ" }, { "ĀĹŁŊŽŸ", "āĺłŋžÿ" },
		{ "ΑΩΆΏΪ", "αωάώϊ" }, { "АЯЁЏ", "аяёџ" }, { "ҐҮ", "ґү" },
		{ "ABCXYZ", "abcxyz" }, { "ς", "Σ" },
	};
	static const char *const apart[][2] = {
		{ "×", "÷" }, { "İ", "i" }, { "ß", "ss" }, { "[", "{" },
		{ "@", "`" },
	};
	char prog[128], msg[256];
	size_t n;

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		for (int dir = 0; dir < 2; dir++) {
			snprintf(prog, sizeof(prog), "SUBJECT \"%s\"",
			    pairs[i][dir]);
			n = (size_t)snprintf(msg, sizeof(msg),
			    "Subject: x%sx\r\n\r\n", pairs[i][!dir]);
			CHECK(match_one(prog, strlen(prog), msg, n) == 1);
		}
	}
	for (size_t i = 0; i < sizeof(apart) / sizeof(apart[0]); i++) {
		snprintf(prog, sizeof(prog), "SUBJECT \"%s\"", apart[i][0]);
		n = (size_t)snprintf(msg, sizeof(msg), "Subject: %s\r\n\r\n",
		    apart[i][1]);
		CHECK(match_one(prog, strlen(prog), msg, n) == 0);
	}
}

/* Encoded-word corner cases, each a Subject against a needle. */
static void
test_encoded_words(void)
{
	static const struct {
		const char *subject, *needle;
		int want;
	} rows[] = {
		/* blanks between words go, those next to text stay */
		{ "=?utf-8?q?a?= =?utf-8?q?b?=", "ab", 1 },
		{ "=?utf-8?q?a?=  \t =?utf-8?q?b?=", "ab", 1 },
		{ "x =?utf-8?q?a?= y", "x a y", 1 },
		/* a UTF-8 character split between two words */
		{ "=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé", 1 },
		{ "=?utf-8?q?=C3?= =?utf-8?q?=A9?=", "é", 1 },
		/* RFC 2231 language, lower-case encoding letter */
		{ "=?ISO-8859-1*fr?q?=E9t=E9?=", "été", 1 },
		/* charsets through iconv */
		{ "=?windows-1252?q?=80uro?=", "€uro", 1 },
		{ "=?iso-8859-15?q?=A4?=", "€", 1 },
		{ "=?iso-8859-2?q?=A3=F3d=BC?=", "łódź", 1 },
		{ "=?koi8-r?q?=F0=D2=C9=D7=C5=D4?=", "привет", 1 },
		/* not encoded words: left as they are */
		{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=", 1 },
		{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=", 1 },
		{ "=?utf-8?q?abc", "=?utf-8?q?abc", 1 },
		{ "=??q?abc?=", "=??q?abc?=", 1 },
		{ "=?=?utf-8?q?ok?=", "=?ok", 1 },
		/* a name iconv must never see, and one it does not know */
		{ "=?../../x?q?raw=41?=", "rawa", 1 },
		{ "=?no-such-charset?q?raw=41?=", "rawa", 1 },
		/* Q details: underscore, bad escape */
		{ "=?utf-8?q?a_b=2Gc?=", "a b=2gc", 1 },
		{ "=?utf-8?b?!!aGk=?=", "hi", 1 },
		{ "=?utf-8?q?hello?=", "=?", 0 },
	};
	char msg[256], prog[128];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = (size_t)snprintf(msg, sizeof(msg),
		    "Subject: %s\r\n\r\n", rows[i].subject);
		int r;

		snprintf(prog, sizeof(prog), "SUBJECT \"%s\"", rows[i].needle);
		r = match_one(prog, strlen(prog), msg, n);
		if (r != rows[i].want) {
			fprintf(stderr, "  %s / %s: %d\n", rows[i].subject,
			    rows[i].needle, r);
			harness_failed = 1;
		}
	}
}

/* Bodies: transfer encodings and multipart shapes. */
static void
test_body_encodings(void)
{
	static const struct {
		const char *msg, *needle;
		int want;
	} rows[] = {
		{ "Content-Transfer-Encoding: base64\n\n"
		    "aGVs\nbG8g\nd29y\nbGQ=\n", "hello world", 1 },
		/* concatenated base64 blocks, junk characters */
		{ "Content-Transfer-Encoding: BASE64\n\naGk=aGk=\n*!\n",
		    "hihi", 1 },
		{ "Content-Transfer-Encoding: quoted-printable\n\n"
		    "a=3Db =\r\nc=\n  d =XY e=", "a=b c  d =xy e", 1 },
		{ "Content-Transfer-Encoding: quoted-printable\n\nsoft= \t\nx",
		    "softx", 1 },
		{ "Content-Type: text/plain; charset=\"UTF-16LE\"\n"
		    "Content-Transfer-Encoding: base64\n\nSABpAA==\n", "hi",
		    1 },
		{ "Content-Type: text/plain; charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n\nSTRASSE Ärger\n",
		    "ärger", 1 },
		{ "Content-Type: image/png\n\nvisible?\n", "visible", 0 },
		/* parts do not run into each other */
		{ "Content-Type: multipart/alternative; boundary=b\n\n--b\n\n"
		    "one\n--b\nContent-Type: text/html\n\ntwo\n--b--\n",
		    "two", 1 },
		{ "Content-Type: multipart/alternative; boundary=b\n\n--b\n\n"
		    "one\n--b\nContent-Type: text/html\n\ntwo\n--b--\n",
		    "onetwo", 0 },
		{ "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
		    "Content-Type: multipart/related; boundary=c\n\n--c\n\n"
		    "deep inside\n--c--\n--b--\n", "deep inside", 1 },
		/* an encoded message/rfc822 is not parsed: not searched */
		{ "Content-Type: message/rfc822\n"
		    "Content-Transfer-Encoding: base64\n\naGk=\n", "hi", 0 },
		{ "\nbody only", "body only", 1 },
		{ "", "x", 0 },
	};
	char prog[128];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r;

		snprintf(prog, sizeof(prog), "BODY {%zu}\r\n%s",
		    strlen(rows[i].needle), rows[i].needle);
		r = match_one(prog, strlen(prog), rows[i].msg,
		    strlen(rows[i].msg));
		if (r != rows[i].want) {
			fprintf(stderr, "  row %zu: %d\n", i, r);
			harness_failed = 1;
		}
	}
}

/* 10,000 messages of 4 KB, one in a hundred with the word in its
 * (sometimes encoded) subject: SUBJECT over header-only trees. */
static void
test_speed(void)
{
	enum { N = 10000 };
	struct buf b;
	char **texts = xcalloc(N, sizeof(*texts));
	size_t *lens = xcalloc(N, sizeof(*lens));
	struct mime_tree **trees = xcalloc(N, sizeof(*trees));
	struct imap_search *s;
	const char *error;
	uint64_t t0, t1, t2;
	int hits = 0;

	buf_init(&b, 1 << 20);
	for (int i = 0; i < N; i++) {
		buf_reset(&b);
		buf_printf(&b, "Return-Path: <a%d@example.com>\r\n"
		    "Received: from mx.example.com by mail.example.org "
		    "with ESMTPS id %d; Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		    "From: Sender %d <s%d@example.com>\r\n"
		    "To: rcpt@example.org\r\nDate: Mon, 1 Jan 2024 10:00:00 "
		    "+0000\r\nMessage-ID: <%d@example.com>\r\n", i, i, i, i,
		    i);
		if (i % 100 == 0)
			buf_printf(&b, "Subject: =?utf-8?q?the_Quarterly_"
			    "report_=E2=9C=93?= %d\r\n", i);
		else if (i % 100 == 1)
			buf_printf(&b, "Subject: Re: QUARTERLY numbers %d\r\n",
			    i);
		else
			buf_printf(&b, "Subject: =?utf-8?q?weekly_"
			    "update_=E2=9C=93?= %d\r\n", i);
		buf_append_str(&b, "Content-Type: text/plain\r\n\r\n");
		while (b.len < 4096)
			buf_append_str(&b, "Lorem ipsum dolor sit amet, "
			    "consectetur adipiscing elit.\r\n");
		texts[i] = xstrndup(b.data, b.len);
		lens[i] = b.len;
	}
	buf_release(&b, 0);
	CHECK(compile("SUBJECT quarterly", 17, &s, &error) == 0);
	CHECK(imap_search_needs(s) == IMAP_SEARCH_NEED_HEADER);
	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		const char *end = strstr(texts[i], "\r\n\r\n");

		trees[i] = mime_parse(texts[i], (size_t)(end + 4 - texts[i]));
	}
	t1 = now_ms();
	for (int i = 0; i < N; i++) {
		struct imap_search_msg m = { 0 };

		m.tree = trees[i];
		hits += imap_search_match(s, &m);
	}
	t2 = now_ms();
	CHECK(hits == 2 * N / 100);
	printf("  speed: 10,000 x 4 KB: header parse %llu ms, "
	    "SUBJECT match %llu ms\n", (unsigned long long)(t1 - t0),
	    (unsigned long long)(t2 - t1));
	CHECK(t2 - t1 < 2000);
	imap_search_free(&s);
	for (int i = 0; i < N; i++) {
		mime_free(&trees[i]);
		free(texts[i]);
	}
	free(trees);
	free(texts);
	free(lens);
}

static void
free_folder(void)
{
	for (int i = 0; i < N_MSGS; i++) {
		mime_free(&full[i]);
		mime_free(&head[i]);
	}
}

static const struct harness_test tests[] = {
	TEST(test_flags),
	TEST(test_sets_and_sizes),
	TEST(test_dates),
	TEST(test_headers),
	TEST(test_unknown_charset_raw),
	TEST(test_bodies),
	TEST(test_or_not),
	TEST(test_errors),
	TEST(test_limits),
	TEST(test_needs),
	TEST(test_date822),
	TEST(test_folding),
	TEST(test_encoded_words),
	TEST(test_body_encodings),
	TEST(test_speed),
	TEST(free_folder),
};

HARNESS_MAIN("imap_search", tests)
