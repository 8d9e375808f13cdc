/* IMAP FETCH (imap/imap_fetch.c): attribute parsing (items, macros,
 * sections, partials, limits, syntax errors) and the response for one
 * message: every item and section kind on a nested multipart message,
 * stored with CRLF and with bare LFs, partials at every offset compared
 * with slices of the whole section, header-only trees, and full output
 * buffers. Every message sits in a heap block of exactly its size. */
#include "harness.h"

#include <inttypes.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_fetch.h"
#include "imap/imap_fetch_mime.h"
#include "imap/imap_flags.h"
#include "imap/imap_parse.h"
#include "store/mime.h"
#include "store/uidlist.h"

/* multipart/mixed: 1 text/plain, 2 multipart/alternative (2.1, 2.2),
 * 3 message/rfc822 holding a multipart/mixed (3.1 alternative with
 * 3.1.1 and 3.1.2, 3.2 base64) */
#define NESTED \
	"From: Alice <alice@example.com>\r\n" \
	"To: Bob <bob@example.org>, \"Smith, Carol\" <carol@example.org>\r\n" \
	"Subject: nested\r\n" \
	"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n" \
	"Message-ID: <outer@example.com>\r\n" \
	"MIME-Version: 1.0\r\n" \
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n" \
	"\r\n" \
	"This is a preamble.\r\n" \
	"--outer\r\n" \
	"Content-Type: text/plain; charset=utf-8\r\n" \
	"\r\n" \
	"Part one.\r\n" \
	"--outer\r\n" \
	"Content-Type: multipart/alternative; boundary=alt\r\n" \
	"\r\n" \
	"--alt\r\n" \
	"Content-Type: text/plain\r\n" \
	"\r\n" \
	"Plain\r\n" \
	"text\r\n" \
	"--alt\r\n" \
	"Content-Type: text/html\r\n" \
	"\r\n" \
	"<p>HTML</p>\r\n" \
	"--alt--\r\n" \
	"--outer\r\n" \
	"Content-Type: message/rfc822\r\n" \
	"Content-Disposition: attachment; filename=\"fwd.eml\"\r\n" \
	"\r\n" \
	"From: Carol <carol@example.net>\r\n" \
	"Subject: inner\r\n" \
	"Content-Type: multipart/mixed; boundary=in\r\n" \
	"\r\n" \
	"--in\r\n" \
	"Content-Type: multipart/alternative; boundary=in2\r\n" \
	"\r\n" \
	"--in2\r\n" \
	"\r\n" \
	"inner plain\r\n" \
	"--in2\r\n" \
	"Content-Type: text/html\r\n" \
	"\r\n" \
	"<b>inner</b>\r\n" \
	"--in2--\r\n" \
	"--in\r\n" \
	"Content-Type: application/octet-stream\r\n" \
	"Content-Transfer-Encoding: base64\r\n" \
	"\r\n" \
	"AAEC\r\n" \
	"--in--\r\n" \
	"--outer--\r\n" \
	"epilogue\r\n"

static struct imap_args args;	/* 64 KiB: not on the stack */

struct msg {
	char *data;
	size_t len;
	struct mime_tree *t;
};

static struct msg
msg_n(const char *s, size_t len)
{
	struct msg m;

	m.len = len;
	m.data = exact(s, len);
	m.t = mime_parse(m.data, m.len);
	return m;
}

static struct msg
msg_new(const char *s)
{
	return msg_n(s, strlen(s));
}

static void
msg_done(struct msg *m)
{
	mime_free(&m->t);
	free(m->data);
}

/* s with every CRLF made a bare LF. */
static char *
to_lf(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *r = malloc(n + 1);

	if (r == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n')
			continue;
		r[o++] = s[i];
	}
	r[o] = '\0';
	return r;
}

/* The text between two markers of NESTED: from the start of a to the
 * start of b (b NULL: the end), a static copy. */
static const char *
span(const char *a, const char *b)
{
	static char out[2][4096];
	static int k;
	const char *s = strstr(NESTED, a);
	const char *e = b != NULL ? strstr(s, b) : s + strlen(s);

	k ^= 1;
	snprintf(out[k], sizeof(out[k]), "%.*s", (int)(e - s), s);
	return out[k];
}

static struct imap_fetch *
parse(const char *attrs, int uid_cmd, const char **error)
{
	struct imap_fetch *f = NULL;

	*error = NULL;
	imap_args_init(&args, attrs, strlen(attrs));
	if (imap_fetch_parse(&args, uid_cmd, &f, error) < 0) {
		CHECK(f == NULL && *error != NULL);
		return NULL;
	}
	CHECK(f != NULL);
	return f;
}

static struct buf out;

static struct imap_fetch_msg
fmsg(const struct mime_tree *t)
{
	struct imap_fetch_msg m = {
		.seq = 1, .uid = 7, .flags = UIDLIST_SEEN, .size = 1234,
		.internal_date = 1136239445, .tree = t,
	};

	return m;
}

/* The response to attrs for message m (NUL-free in these tests). */
static const char *
fetch_m(const char *attrs, int uid_cmd, const struct imap_fetch_msg *m)
{
	const char *error;
	struct imap_fetch *f = parse(attrs, uid_cmd, &error);

	if (f == NULL) {
		fprintf(stderr, "  \"%s\": %s\n", attrs, error);
		return "(refused)";
	}
	buf_release(&out, 0);
	buf_init(&out, 1 << 20);
	CHECK(imap_fetch_write(&out, f, m) == 0);
	imap_fetch_free(&f);
	CHECK(f == NULL);
	return out.data != NULL ? out.data : "";
}

static const char *
fetch(const char *attrs, const struct mime_tree *t)
{
	struct imap_fetch_msg m = fmsg(t);

	return fetch_m(attrs, 0, &m);
}

/* "* 1 FETCH (label {n}\r\ndata)\r\n", or "" for empty data. */
static const char *
one(const char *label, const char *data)
{
	static char want[8192];

	if (data[0] == '\0')
		snprintf(want, sizeof(want), "* 1 FETCH (%s \"\")\r\n", label);
	else
		snprintf(want, sizeof(want), "* 1 FETCH (%s {%zu}\r\n%s)\r\n",
		    label, strlen(data), data);
	return want;
}

/* The data of the single section item in a response: the literal's
 * octets, or "" for "" (a static copy; len in *len_r). */
static const char *
data_of(const char *resp, size_t *len_r)
{
	static char d[8192];
	const char *p = strchr(resp, '{');
	char *e;
	unsigned long n;

	*len_r = 0;
	d[0] = '\0';
	if (p == NULL || strstr(resp, " \"\")") != NULL) {
		CHECK(strstr(resp, " \"\")\r\n") != NULL);
		return d;
	}
	n = strtoul(p + 1, &e, 10);
	CHECK(e[0] == '}' && e[1] == '\r' && e[2] == '\n');
	CHECK(n < sizeof(d) && strlen(e + 3) == n + 3);
	CHECK(strcmp(e + 3 + n, ")\r\n") == 0);
	memcpy(d, e + 3, n);
	d[n] = '\0';
	*len_r = n;
	return d;
}

/* --- parsing ------------------------------------------------------ */

static void
test_parse_needs_and_seen(void)
{
	static const struct {
		const char *attrs;
		int needs, seen;
	} rows[] = {
		{ "FLAGS", 0, 0 },
		{ "(UID FLAGS INTERNALDATE RFC822.SIZE)", 0, 0 },
		{ "FAST", 0, 0 },
		{ "ALL", IMAP_FETCH_NEED_HEADER, 0 },
		{ "FULL", IMAP_FETCH_NEED_HEADER | IMAP_FETCH_NEED_BODY, 0 },
		{ "ENVELOPE", IMAP_FETCH_NEED_HEADER, 0 },
		{ "RFC822.HEADER", IMAP_FETCH_NEED_HEADER, 0 },
		{ "BODY.PEEK[HEADER]", IMAP_FETCH_NEED_HEADER, 0 },
		{ "BODY[HEADER]", IMAP_FETCH_NEED_HEADER, 1 },
		{ "(BODY.PEEK[HEADER.FIELDS (From)] ENVELOPE)",
		    IMAP_FETCH_NEED_HEADER, 0 },
		{ "BODY.PEEK[HEADER.FIELDS.NOT (From)]",
		    IMAP_FETCH_NEED_HEADER, 0 },
		{ "BODY", IMAP_FETCH_NEED_BODY, 0 },
		{ "BODYSTRUCTURE", IMAP_FETCH_NEED_BODY, 0 },
		{ "RFC822", IMAP_FETCH_NEED_BODY, 1 },
		{ "RFC822.TEXT", IMAP_FETCH_NEED_BODY, 1 },
		{ "BODY[]", IMAP_FETCH_NEED_BODY, 1 },
		{ "BODY.PEEK[]", IMAP_FETCH_NEED_BODY, 0 },
		{ "BODY.PEEK[TEXT]", IMAP_FETCH_NEED_BODY, 0 },
		{ "BODY.PEEK[1]", IMAP_FETCH_NEED_BODY, 0 },
		{ "BODY.PEEK[1.MIME]", IMAP_FETCH_NEED_BODY, 0 },
		/* HEADER of a part needs the body that holds it */
		{ "BODY.PEEK[3.HEADER]", IMAP_FETCH_NEED_BODY, 0 },
		{ "BODY[1]<0.10>", IMAP_FETCH_NEED_BODY, 1 },
		{ "(BODY.PEEK[1] BODY[1])", IMAP_FETCH_NEED_BODY, 1 },
		{ "(ENVELOPE BODY.PEEK[TEXT])",
		    IMAP_FETCH_NEED_HEADER | IMAP_FETCH_NEED_BODY, 0 },
		{ "body.peek[header]", IMAP_FETCH_NEED_HEADER, 0 },
		{ "fast", 0, 0 },
	};
	const char *error;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct imap_fetch *f = parse(rows[i].attrs, 0, &error);

		CHECK(f != NULL);
		if (f == NULL) {
			fprintf(stderr, "  \"%s\": %s\n", rows[i].attrs, error);
			continue;
		}
		if (imap_fetch_needs(f) != rows[i].needs ||
		    imap_fetch_sets_seen(f) != rows[i].seen)
			fprintf(stderr, "  \"%s\"\n", rows[i].attrs);
		CHECK(imap_fetch_needs(f) == rows[i].needs);
		CHECK(imap_fetch_sets_seen(f) == rows[i].seen);
		imap_fetch_free(&f);
	}
	/* free takes NULL */
	{
		struct imap_fetch *none = NULL;

		imap_fetch_free(&none);
		CHECK(none == NULL);
	}
}

static void
test_parse_errors(void)
{
	static const char *const bad[] = {
		"", "()", "(FLAGS", "FLAGS)", "FLAGS UID", "(FLAGS  UID)",
		"( FLAGS)", "(FLAGS (UID))", "(ALL)", "(FAST FLAGS)",
		"ALL FLAGS", "FOO", "\"FLAGS\"", "{5}\r\nFLAGS", "FLAGS.SILENT",
		"RFC822.SIZE[]", "BODY.PEEK", "BODYX", "BODY[", "BODY[TEXT",
		"BODY]", "BINARY[1]", "BODY[MIME]", "BODY[TEXT.MIME]",
		"BODY[1.]", "BODY[.1]", "BODY[1..2]", "BODY[0]", "BODY[01]",
		"BODY[1.0]", "BODY[1.02]", "BODY[4294967296]",
		"BODY[1.MIME.HEADER]", "BODY[1.HEADER.TEXT]", "BODY[HEADER.]",
		"BODY[HEADERS]", "BODY[ HEADER]", "BODY[HEADER ]", "BODY[1 ]",
		"BODY[1MIME]", "BODY[header.fields]", "BODY[HEADER.FIELDS ()]",
		"BODY[HEADER.FIELDS (A  B)]", "BODY[HEADER.FIELDS ( A)]",
		"BODY[HEADER.FIELDS (A )]", "BODY[HEADER.FIELDS A]",
		"BODY[HEADER.FIELDS (A]", "BODY[HEADER.FIELDS  (A)]",
		"BODY[HEADER.FIELDS(A)]", "BODY[HEADER.FIELDS (A:B)]",
		"BODY[HEADER.FIELDS (\"\")]", "BODY[HEADER.FIELDS (e%f)]",
		"BODY[HEADER.FIELDS (a*)]", "BODY[HEADER.FIELDS (\"a b\")]",
		"BODY[HEADER.FIELDS (\"a\"b)]",
		"BODY[HEADER.FIELDS (\"a\\nb\")]", "BODY[HEADER.FIELDS (\"a)]",
		"BODY[HEADER.FIELDS.NOT]", "BODY[HEADER.FIELDS.NOT. (A)]",
		"BODY[MIME.FIELDS (A)]", "BODY[1.MIME (A)]", "BODY[]<",
		"BODY[]<>", "BODY[]<0>", "BODY[]<0.>", "BODY[]<.1>",
		"BODY[]<0.0>", "BODY[]<0.1", "BODY[]<a.1>", "BODY[]<0.1>x",
		"BODY[]<0.1><0.1>", "BODY[]<4294967296.1>",
		"BODY[]<0.4294967296>", "BODY[]<-1.1>", "BODY[]<0,1>",
		"BODY[]x", "BODY[][]", "BODY<0.1>", "RFC822<0.1>",
		"BODY.PEEK<0.1>", "BODY.PEEK.PEEK[]", "(FLAGS) UID", "FLAGS X",
	};
	const char *error;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct imap_fetch *f = parse(bad[i], 0, &error);

		if (f != NULL)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(f == NULL && error != NULL);
		imap_fetch_free(&f);
	}
	CHECK(parse("", 0, &error) == NULL);
	CHECK_STR(error, "Missing fetch attributes");
	CHECK(parse("BODY[0]", 0, &error) == NULL);
	CHECK_STR(error, "Invalid BODY[section]");
	CHECK(parse("FOO", 0, &error) == NULL);
	CHECK_STR(error, "Invalid fetch attribute");
}

static void
test_parse_limits(void)
{
	struct buf b;
	struct imap_fetch *f;
	const char *error;
	char name[IMAP_FETCH_NAME_MAX + 2];

	/* 100 distinct items; a 101st is refused; repeats do not count */
	buf_init(&b, 1 << 20);
	CHECK(buf_append_str(&b, "(FLAGS") == 0);
	for (int i = 1; i < IMAP_FETCH_ITEMS_MAX; i++)
		CHECK(buf_printf(&b, " BODY.PEEK[]<%d.1>", i) == 0);
	CHECK(buf_append_str(&b, " FLAGS BODY.PEEK[]<1.1>)") == 0);
	f = parse(b.data, 0, &error);
	CHECK(f != NULL);
	imap_fetch_free(&f);
	/* with UID FETCH's UID there are 101 */
	f = parse(b.data, 1, &error);
	CHECK(f != NULL);
	imap_fetch_free(&f);
	buf_reset(&b);
	CHECK(buf_append_str(&b, "(FLAGS UID") == 0);
	for (int i = 1; i < IMAP_FETCH_ITEMS_MAX; i++)
		CHECK(buf_printf(&b, " BODY.PEEK[]<%d.1>", i) == 0);
	CHECK(buf_append_str(&b, ")") == 0);
	CHECK(parse(b.data, 0, &error) == NULL);
	CHECK_STR(error, "Too many fetch attributes");
	buf_reset(&b);

	/* 100 header names; 101 refused */
	CHECK(buf_append_str(&b, "BODY.PEEK[HEADER.FIELDS (") == 0);
	for (int i = 0; i < IMAP_FETCH_NAMES_MAX; i++)
		CHECK(buf_printf(&b, "%sX-%d", i ? " " : "", i) == 0);
	CHECK(buf_append_str(&b, ")]") == 0);
	f = parse(b.data, 0, &error);
	CHECK(f != NULL);
	imap_fetch_free(&f);
	buf_reset(&b);
	CHECK(buf_append_str(&b, "BODY.PEEK[HEADER.FIELDS (") == 0);
	for (int i = 0; i <= IMAP_FETCH_NAMES_MAX; i++)
		CHECK(buf_printf(&b, "%sX-%d", i ? " " : "", i) == 0);
	CHECK(buf_append_str(&b, ")]") == 0);
	CHECK(parse(b.data, 0, &error) == NULL);
	buf_reset(&b);

	/* names up to IMAP_FETCH_NAME_MAX octets */
	memset(name, 'n', sizeof(name));
	name[IMAP_FETCH_NAME_MAX] = '\0';
	CHECK(buf_printf(&b, "BODY[HEADER.FIELDS (%s)]", name) == 0);
	f = parse(b.data, 0, &error);
	CHECK(f != NULL);
	imap_fetch_free(&f);
	buf_reset(&b);
	name[IMAP_FETCH_NAME_MAX] = 'n';
	name[IMAP_FETCH_NAME_MAX + 1] = '\0';
	CHECK(buf_printf(&b, "BODY[HEADER.FIELDS (%s)]", name) == 0);
	CHECK(parse(b.data, 0, &error) == NULL);
	buf_reset(&b);
	CHECK(buf_printf(&b, "BODY[HEADER.FIELDS (\"%s\")]", name) == 0);
	CHECK(parse(b.data, 0, &error) == NULL);
	buf_release(&b, 0);

	/* the largest numbers */
	f = parse("BODY[4294967295.4294967295]<4294967295.4294967295>", 0,
	    &error);
	CHECK(f != NULL);
	imap_fetch_free(&f);
}

/* --- responses ---------------------------------------------------- */

static void
test_simple_items(void)
{
	struct msg n = msg_new(NESTED);
	char kw[UIDLIST_KEYWORDS][65] = { "$Forwarded", "", "Junk" };
	struct imap_fetch_msg m = fmsg(NULL);

	CHECK_STR(fetch("FLAGS", NULL), "* 1 FETCH (FLAGS (\\Seen))\r\n");
	CHECK_STR(fetch("UID", NULL), "* 1 FETCH (UID 7)\r\n");
	CHECK_STR(fetch("RFC822.SIZE", NULL),
	    "* 1 FETCH (RFC822.SIZE 1234)\r\n");
	CHECK_STR(fetch("INTERNALDATE", NULL),
	    "* 1 FETCH (INTERNALDATE \"02-Jan-2006 22:04:05 +0000\")\r\n");
	CHECK_STR(fetch("FAST", NULL), "* 1 FETCH (FLAGS (\\Seen) "
	    "INTERNALDATE \"02-Jan-2006 22:04:05 +0000\" RFC822.SIZE 1234)"
	    "\r\n");
	/* request order, each once */
	CHECK_STR(fetch("(rfc822.size uid Flags UID FLAGS)", NULL),
	    "* 1 FETCH (RFC822.SIZE 1234 UID 7 FLAGS (\\Seen))\r\n");

	m.seq = 4294967295u;
	m.uid = 4294967294u;
	m.size = UINT64_C(18446744073709551615);
	m.flags = UIDLIST_FLAGGED | IMAP_FLAG_RECENT | UIDLIST_DELETED;
	m.keywords = 0x5;
	m.keyword_names = kw;
	CHECK_STR(fetch_m("(FLAGS UID RFC822.SIZE)", 0, &m),
	    "* 4294967295 FETCH (FLAGS (\\Flagged \\Deleted \\Recent "
	    "$Forwarded Junk) UID 4294967294 RFC822.SIZE "
	    "18446744073709551615)\r\n");
	msg_done(&n);
}

static void
test_internaldate(void)
{
	static const struct {
		int64_t t;
		const char *s;
	} rows[] = {
		{ 0, "01-Jan-1970 00:00:00 +0000" },
		{ -1, "31-Dec-1969 23:59:59 +0000" },
		{ 1709164800, "29-Feb-2024 00:00:00 +0000" },
		{ 1136239445, "02-Jan-2006 22:04:05 +0000" },
		{ 253402300799, "31-Dec-9999 23:59:59 +0000" },
		/* years the syntax cannot hold */
		{ 253402300800, "01-Jan-1970 00:00:00 +0000" },
		{ INT64_MAX, "01-Jan-1970 00:00:00 +0000" },
		{ INT64_MIN, "01-Jan-1970 00:00:00 +0000" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct imap_fetch_msg m = fmsg(NULL);
		char want[128];

		m.internal_date = rows[i].t;
		snprintf(want, sizeof(want),
		    "* 1 FETCH (INTERNALDATE \"%s\")\r\n", rows[i].s);
		CHECK_STR(fetch_m("INTERNALDATE", 0, &m), want);
	}
}

static const char *
render(const struct mime_tree *t, char what)
{
	static char s[8192];
	struct buf b;

	buf_init(&b, sizeof(s) - 1);
	if (what == 'E')
		CHECK(imap_fetch_mime_envelope(&b, t, t->root) == 0);
	else if (what == 'S')
		CHECK(imap_fetch_mime_bodystructure(&b, t, t->root) == 0);
	else
		CHECK(imap_fetch_mime_body(&b, t, t->root) == 0);
	snprintf(s, sizeof(s), "%s", b.data);
	buf_release(&b, 0);
	return s;
}

static void
test_structure_items(void)
{
	struct msg n = msg_new(NESTED);
	char want[16384];

	snprintf(want, sizeof(want), "* 1 FETCH (ENVELOPE %s)\r\n",
	    render(n.t, 'E'));
	CHECK_STR(fetch("ENVELOPE", n.t), want);
	CHECK(strstr(want, "\"nested\"") != NULL);
	snprintf(want, sizeof(want), "* 1 FETCH (BODY %s)\r\n",
	    render(n.t, 'B'));
	CHECK_STR(fetch("BODY", n.t), want);
	snprintf(want, sizeof(want), "* 1 FETCH (BODYSTRUCTURE %s)\r\n",
	    render(n.t, 'S'));
	CHECK_STR(fetch("BODYSTRUCTURE", n.t), want);

	/* the macros */
	snprintf(want, sizeof(want), "* 1 FETCH (FLAGS (\\Seen) INTERNALDATE "
	    "\"02-Jan-2006 22:04:05 +0000\" RFC822.SIZE 1234 ENVELOPE %s)\r\n",
	    render(n.t, 'E'));
	CHECK_STR(fetch("ALL", n.t), want);
	want[strlen(want) - 3] = '\0';
	snprintf(want + strlen(want), sizeof(want) - strlen(want),
	    " BODY %s)\r\n", render(n.t, 'B'));
	CHECK_STR(fetch("full", n.t), want);
	msg_done(&n);
}

/* Every section of the nested message: label and data. */
static const struct {
	const char *attrs, *label;
	const char *from, *to;	/* data: NESTED from..to, or literal */
	const char *data;
} sections[] = {
	{ "BODY[]", "BODY[]", "From: Alice", NULL, NULL },
	{ "RFC822", "RFC822", "From: Alice", NULL, NULL },
	{ "BODY.PEEK[HEADER]", "BODY[HEADER]", "From: Alice", "This is",
	    NULL },
	{ "RFC822.HEADER", "RFC822.HEADER", "From: Alice", "This is", NULL },
	{ "BODY[TEXT]", "BODY[TEXT]", "This is", NULL, NULL },
	{ "RFC822.TEXT", "RFC822.TEXT", "This is", NULL, NULL },
	{ "BODY[HEADER.FIELDS (FROM subject)]",
	    "BODY[HEADER.FIELDS (FROM subject)]", NULL, NULL,
	    "From: Alice <alice@example.com>\r\nSubject: nested\r\n\r\n" },
	{ "BODY[HEADER.FIELDS (X-None)]", "BODY[HEADER.FIELDS (X-None)]",
	    NULL, NULL, "\r\n" },
	{ "BODY.PEEK[header.fields.not (From To Subject Date Message-ID "
	    "MIME-Version)]", "BODY[HEADER.FIELDS.NOT (From To Subject Date "
	    "Message-ID MIME-Version)]", NULL, NULL,
	    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" },
	{ "BODY[1]", "BODY[1]", NULL, NULL, "Part one." },
	{ "BODY[1.MIME]", "BODY[1.MIME]", NULL, NULL,
	    "Content-Type: text/plain; charset=utf-8\r\n\r\n" },
	{ "BODY[2]", "BODY[2]", "--alt\r\n", "\r\n--outer\r\nContent-Type: "
	    "message", NULL },
	{ "BODY[2.MIME]", "BODY[2.MIME]", NULL, NULL,
	    "Content-Type: multipart/alternative; boundary=alt\r\n\r\n" },
	{ "BODY[2.1]", "BODY[2.1]", NULL, NULL, "Plain\r\ntext" },
	{ "BODY[2.2]", "BODY[2.2]", NULL, NULL, "<p>HTML</p>" },
	{ "BODY[2.2.MIME]", "BODY[2.2.MIME]", NULL, NULL,
	    "Content-Type: text/html\r\n\r\n" },
	{ "BODY[3]", "BODY[3]", "From: Carol", "\r\n--outer--", NULL },
	{ "BODY[3.MIME]", "BODY[3.MIME]", "Content-Type: message/rfc822",
	    "From: Carol", NULL },
	{ "BODY[3.HEADER]", "BODY[3.HEADER]", "From: Carol", "--in\r\n",
	    NULL },
	{ "BODY[3.TEXT]", "BODY[3.TEXT]", "--in\r\n", "\r\n--outer--", NULL },
	{ "BODY[3.HEADER.FIELDS (Subject)]",
	    "BODY[3.HEADER.FIELDS (Subject)]", NULL, NULL,
	    "Subject: inner\r\n\r\n" },
	{ "BODY[3.HEADER.FIELDS.NOT (Subject Content-Type)]",
	    "BODY[3.HEADER.FIELDS.NOT (Subject Content-Type)]", NULL, NULL,
	    "From: Carol <carol@example.net>\r\n\r\n" },
	{ "BODY[3.1]", "BODY[3.1]", "--in2\r\n\r\ninner", "\r\n--in\r\n",
	    NULL },
	{ "BODY[3.1.MIME]", "BODY[3.1.MIME]", NULL, NULL,
	    "Content-Type: multipart/alternative; boundary=in2\r\n\r\n" },
	{ "BODY[3.1.1]", "BODY[3.1.1]", NULL, NULL, "inner plain" },
	{ "BODY[3.1.1.MIME]", "BODY[3.1.1.MIME]", NULL, NULL, "\r\n" },
	{ "BODY[3.1.2]", "BODY[3.1.2]", NULL, NULL, "<b>inner</b>" },
	{ "BODY[3.2]", "BODY[3.2]", NULL, NULL, "AAEC" },
	{ "BODY[3.2.MIME]", "BODY[3.2.MIME]", NULL, NULL,
	    "Content-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n" },
	/* parts that do not exist, HEADER/TEXT of parts that are not
	 * message/rfc822: empty */
	{ "BODY[4]", "BODY[4]", NULL, NULL, "" },
	{ "BODY[4.MIME]", "BODY[4.MIME]", NULL, NULL, "" },
	{ "BODY[2.3]", "BODY[2.3]", NULL, NULL, "" },
	{ "BODY[1.1]", "BODY[1.1]", NULL, NULL, "" },
	{ "BODY[3.3]", "BODY[3.3]", NULL, NULL, "" },
	{ "BODY[3.1.1.1]", "BODY[3.1.1.1]", NULL, NULL, "" },
	{ "BODY[1.HEADER]", "BODY[1.HEADER]", NULL, NULL, "" },
	{ "BODY[2.TEXT]", "BODY[2.TEXT]", NULL, NULL, "" },
	{ "BODY[2.HEADER.FIELDS (A)]", "BODY[2.HEADER.FIELDS (A)]", NULL,
	    NULL, "" },
	{ "BODY[3.1.HEADER]", "BODY[3.1.HEADER]", NULL, NULL, "" },
	{ "BODY[4294967295]", "BODY[4294967295]", NULL, NULL, "" },
};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

static void
test_sections_each(const struct mime_tree *t)
{
	for (size_t i = 0; i < N_SECTIONS; i++) {
		const char *data = sections[i].data;
		const char *got = fetch(sections[i].attrs, t);
		const char *want;

		if (data == NULL)
			data = span(sections[i].from, sections[i].to);
		want = one(sections[i].label, data);
		if (strcmp(got, want) != 0)
			fprintf(stderr, "  \"%s\"\n", sections[i].attrs);
		CHECK_STR(got, want);
	}
}

static void
test_sections_nested(void)
{
	struct msg n = msg_new(NESTED);
	char *lf = to_lf(NESTED);
	struct msg l = msg_new(lf);

	test_sections_each(n.t);
	/* stored with bare LFs: the same octets go out */
	CHECK(l.len < n.len);
	test_sections_each(l.t);
	msg_done(&n);
	msg_done(&l);
	free(lf);
}

/* Every item gives the same response for the CRLF and the bare-LF
 * message, the structure items included. */
static void
test_bare_lf_same(void)
{
	static const char *const attrs[] = {
		"FULL", "BODYSTRUCTURE", "(BODY[] BODY[1.MIME] BODY[3.TEXT])",
		"(RFC822.HEADER RFC822.TEXT RFC822)",
		"BODY[HEADER.FIELDS.NOT (subject)]",
	};
	struct msg n = msg_new(NESTED);
	char *lf = to_lf(NESTED);
	struct msg l = msg_new(lf);
	char want[16384];

	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
		snprintf(want, sizeof(want), "%s", fetch(attrs[i], n.t));
		CHECK_STR(fetch(attrs[i], l.t), want);
	}
	msg_done(&n);
	msg_done(&l);
	free(lf);
}

/* Messages that are not multipart, or are a message/rfc822, or end
 * without a line end. */
static void
test_single_part_messages(void)
{
	struct msg m = msg_new("Subject: one\r\n\r\nbody\r\n");

	CHECK_STR(fetch("BODY[1]", m.t), one("BODY[1]", "body\r\n"));
	CHECK_STR(fetch("BODY[TEXT]", m.t), one("BODY[TEXT]", "body\r\n"));
	CHECK_STR(fetch("BODY[1.MIME]", m.t),
	    one("BODY[1.MIME]", "Subject: one\r\n\r\n"));
	CHECK_STR(fetch("BODY[1.HEADER]", m.t), one("BODY[1.HEADER]", ""));
	CHECK_STR(fetch("BODY[2]", m.t), one("BODY[2]", ""));
	CHECK_STR(fetch("BODY[1.1]", m.t), one("BODY[1.1]", ""));
	msg_done(&m);

	m = msg_new("Content-Type: message/rfc822\r\n\r\n"
	    "Subject: in\r\n\r\ntext\r\n");
	CHECK_STR(fetch("BODY[HEADER]", m.t),
	    one("BODY[HEADER]", "Content-Type: message/rfc822\r\n\r\n"));
	CHECK_STR(fetch("BODY[1]", m.t),
	    one("BODY[1]", "Subject: in\r\n\r\ntext\r\n"));
	CHECK_STR(fetch("BODY[1.HEADER]", m.t),
	    one("BODY[1.HEADER]", "Subject: in\r\n\r\n"));
	CHECK_STR(fetch("BODY[1.TEXT]", m.t),
	    one("BODY[1.TEXT]", "text\r\n"));
	CHECK_STR(fetch("BODY[1.1]", m.t), one("BODY[1.1]", "text\r\n"));
	msg_done(&m);

	/* no final line end: bare LFs become CRLF, nothing is added */
	m = msg_new("Subject: x\nX: y\n\nline1\nline2");
	CHECK_STR(fetch("BODY[]", m.t), one("BODY[]",
	    "Subject: x\r\nX: y\r\n\r\nline1\r\nline2"));
	CHECK_STR(fetch("BODY[TEXT]", m.t),
	    one("BODY[TEXT]", "line1\r\nline2"));
	CHECK_STR(fetch("BODY[1]<10.5>", m.t), one("BODY[1]<10>", "e2"));
	CHECK_STR(fetch("BODY[1]<6.2>", m.t), one("BODY[1]<6>", "\nl"));
	CHECK_STR(fetch("BODY[1]<5.1>", m.t), one("BODY[1]<5>", "\r"));
	CHECK_STR(fetch("BODY[1]<12.5>", m.t), one("BODY[1]<12>", ""));
	CHECK_STR(fetch("BODY[HEADER.FIELDS (x)]", m.t),
	    one("BODY[HEADER.FIELDS (x)]", "X: y\r\n\r\n"));
	msg_done(&m);

	/* only a header, no blank line, no line end */
	m = msg_new("Subject: x");
	CHECK_STR(fetch("BODY[]", m.t), one("BODY[]", "Subject: x"));
	CHECK_STR(fetch("BODY[HEADER]", m.t),
	    one("BODY[HEADER]", "Subject: x"));
	CHECK_STR(fetch("BODY[TEXT]", m.t), one("BODY[TEXT]", ""));
	msg_done(&m);

	/* NUL octets go out as 0x80, the size kept */
	m = msg_n("X-A: a\0b\n\nbo\0dy\0\n", 17);
	CHECK_STR(fetch("BODY[TEXT]", m.t),
	    one("BODY[TEXT]", "bo\x80" "dy\x80\r\n"));
	CHECK_STR(fetch("BODY[TEXT]<3.3>", m.t),
	    one("BODY[TEXT]<3>", "dy\x80"));
	CHECK_STR(fetch("BODY[HEADER.FIELDS (x-a)]", m.t),
	    one("BODY[HEADER.FIELDS (x-a)]", "X-A: a\x80" "b\r\n\r\n"));
	CHECK_STR(fetch("BODY[]<2.5>", m.t), one("BODY[]<2>", "A: a\x80"));
	msg_done(&m);

	/* an empty message */
	m = msg_n("", 0);
	CHECK_STR(fetch("BODY[]", m.t), one("BODY[]", ""));
	CHECK_STR(fetch("BODY[HEADER]", m.t), one("BODY[HEADER]", ""));
	CHECK_STR(fetch("BODY[1]", m.t), one("BODY[1]", ""));
	CHECK_STR(fetch("BODY[1]<0.1>", m.t), one("BODY[1]<0>", ""));
	msg_done(&m);
}

static void
test_labels(void)
{
	struct msg n = msg_new(NESTED);

	/* names as given, PEEK dropped, keywords upper-cased, partial
	 * origin only */
	CHECK_STR(fetch("body.peek[header.fields (from \"X-y\")]<5.10>", n.t),
	    one("BODY[HEADER.FIELDS (from X-y)]<5>", " Alice <al"));
	CHECK_STR(fetch("BODY.PEEK[3.header.FIELDS.not (\"subject\")]<0.6>",
	    n.t), one("BODY[3.HEADER.FIELDS.NOT (subject)]<0>", "From: "));
	/* names that cannot be atoms come back quoted */
	CHECK_STR(fetch("BODY[HEADER.FIELDS (\"a(b\" \"c\\\"d\" \"e%f\")]",
	    n.t),
	    one("BODY[HEADER.FIELDS (\"a(b\" \"c\\\"d\" \"e%f\")]", "\r\n"));
	CHECK_STR(fetch("body[1.mime]<0.7>", n.t),
	    one("BODY[1.MIME]<0>", "Content"));
	CHECK_STR(fetch("BODY[]<007.3>", n.t), one("BODY[]<7>", "lic"));
	msg_done(&n);
}

static void
test_order_uid_seen(void)
{
	struct msg n = msg_new(NESTED);
	struct imap_fetch_msg m = fmsg(n.t);

	/* UID FETCH: UID first unless asked for */
	CHECK_STR(fetch_m("FLAGS", 1, &m),
	    "* 1 FETCH (UID 7 FLAGS (\\Seen))\r\n");
	CHECK_STR(fetch_m("(FLAGS uid)", 1, &m),
	    "* 1 FETCH (FLAGS (\\Seen) UID 7)\r\n");
	CHECK_STR(fetch_m("BODY.PEEK[1]", 1, &m),
	    "* 1 FETCH (UID 7 BODY[1] {9}\r\nPart one.)\r\n");
	/* repeats once; BODY[1] and BODY.PEEK[1] are one item that sets
	 * \Seen */
	CHECK_STR(fetch_m("(FLAGS FLAGS BODY.PEEK[1] UID BODY[1] "
	    "RFC822.SIZE)", 0, &m), "* 1 FETCH (FLAGS (\\Seen) BODY[1] "
	    "{9}\r\nPart one. UID 7 RFC822.SIZE 1234)\r\n");
	/* \Seen just set: FLAGS at the end unless asked for */
	m.seen_changed = 1;
	CHECK_STR(fetch_m("BODY[1]", 0, &m),
	    "* 1 FETCH (BODY[1] {9}\r\nPart one. FLAGS (\\Seen))\r\n");
	CHECK_STR(fetch_m("BODY[1]", 1, &m),
	    "* 1 FETCH (UID 7 BODY[1] {9}\r\nPart one. FLAGS (\\Seen))\r\n");
	CHECK_STR(fetch_m("(BODY[1] FLAGS)", 0, &m),
	    "* 1 FETCH (BODY[1] {9}\r\nPart one. FLAGS (\\Seen))\r\n");
	CHECK(strstr(fetch_m("ALL", 0, &m), "FLAGS (\\Seen) INTERNALDATE") !=
	    NULL);
	CHECK(strstr(strstr(fetch_m("ALL", 0, &m), "FLAGS") + 1, "FLAGS") ==
	    NULL);
	msg_done(&n);
}

/* Partials: <a.b> of every section, at every origin and several
 * lengths, equals the slice of the whole section. */
static void
check_partials(const struct mime_tree *t)
{
	static const char *const secs[] = {
		"", "HEADER", "TEXT", "HEADER.FIELDS (From Subject)",
		"HEADER.FIELDS.NOT (To)", "1", "1.MIME", "2", "2.1", "2.2.MIME",
		"3", "3.HEADER", "3.TEXT", "3.MIME", "3.1", "3.1.1", "3.2",
		"3.HEADER.FIELDS (subject)", "4",
	};
	char attrs[256], label[256], whole[8192];
	size_t len, got_len;

	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		const char *d;

		snprintf(attrs, sizeof(attrs), "BODY.PEEK[%s]", secs[i]);
		d = data_of(fetch(attrs, t), &len);
		memcpy(whole, d, len);
		for (size_t a = 0; a <= len + 2; a++) {
			const uint64_t bs[] = { 1, 2, 3, 5, len + 1,
				4294967295u };

			for (size_t k = 0; k < sizeof(bs) / sizeof(bs[0]);
			    k++) {
				uint64_t b = bs[k];
				size_t want = a >= len ? 0 :
				    (len - a < b ? len - a : (size_t)b);
				const char *resp;

				snprintf(attrs, sizeof(attrs),
				    "BODY.PEEK[%s]<%zu.%" PRIu64 ">", secs[i],
				    a, b);
				snprintf(label, sizeof(label),
				    "* 1 FETCH (BODY[%s]<%zu> ", secs[i], a);
				resp = fetch(attrs, t);
				CHECK(strncmp(resp, label,
				    strlen(label)) == 0);
				d = data_of(resp, &got_len);
				if (got_len != want || memcmp(d,
				    whole + a, want) != 0) {
					fprintf(stderr, "  %s\n", attrs);
					CHECK(0);
					return;
				}
			}
		}
	}
}

static void
test_partials(void)
{
	char *lf = to_lf(NESTED);
	struct msg n = msg_new(NESTED), l = msg_new(lf);
	struct msg odd;

	check_partials(n.t);
	check_partials(l.t);
	/* mixed line ends, a lone CR, no final line end */
	odd = msg_new("A: b\r\nC: d\n\nx\r\ny\n\nz\r");
	check_partials(odd.t);
	msg_done(&odd);
	odd = msg_new("\n\n\n");
	check_partials(odd.t);
	msg_done(&odd);
	odd = msg_new("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n"
	    "one\n--b\nContent-Type: multipart/alternative; boundary=c\n\n"
	    "--c\n\ntwo\n--c--\n--b\nContent-Type: message/rfc822\n\n"
	    "Subject: s\n\nthree\n--b--");
	check_partials(odd.t);
	msg_done(&odd);
	msg_done(&n);
	msg_done(&l);
	free(lf);
}

/* The caller may parse only the header (and its blank line) when the
 * items need no more: the same responses. */
static void
test_header_only(void)
{
	static const char *const attrs[] = {
		"ENVELOPE", "RFC822.HEADER", "BODY.PEEK[HEADER]", "ALL",
		"BODY[HEADER.FIELDS (Subject To)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (Subject)]<3.20>",
		"(FLAGS ENVELOPE RFC822.HEADER UID)", "BODY[HEADER]<0.10000>",
	};
	static const char *const msgs[] = {
		NESTED,
		"Subject: no body\r\nTo: a@b\r\n",
		"Subject: lf\nTo: a@b\n\nbody\n",
		"Subject: x",
	};
	char want[16384];
	const char *error;

	for (size_t k = 0; k < sizeof(msgs) / sizeof(msgs[0]); k++) {
		struct msg full = msg_new(msgs[k]);
		struct msg hdr = msg_n(msgs[k], full.t->root->header_len);

		CHECK(hdr.t->root->body_len == 0);
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++) {
			struct imap_fetch *f = parse(attrs[i], 0, &error);

			CHECK(f != NULL && imap_fetch_needs(f) ==
			    IMAP_FETCH_NEED_HEADER);
			imap_fetch_free(&f);
			snprintf(want, sizeof(want), "%s",
			    fetch(attrs[i], full.t));
			CHECK_STR(fetch(attrs[i], hdr.t), want);
		}
		msg_done(&full);
		msg_done(&hdr);
	}
}

/* A full output buffer is -1 at every size below what it takes. */
static void
test_full_buffer(void)
{
	static const char attrs[] = "(UID FLAGS INTERNALDATE RFC822.SIZE "
	    "ENVELOPE BODYSTRUCTURE BODY[1] "
	    "BODY.PEEK[HEADER.FIELDS (From)]<2.5>"
	    " BODY[3]<10.20> BODY[4])";
	struct msg n = msg_new(NESTED);
	struct imap_fetch_msg m = fmsg(n.t);
	const char *error;
	struct imap_fetch *f = parse(attrs, 0, &error);
	struct buf b;
	size_t need;

	m.seen_changed = 1;
	buf_init(&b, 1 << 20);
	CHECK(f != NULL && imap_fetch_write(&b, f, &m) == 0);
	need = b.len;
	buf_release(&b, 0);
	for (size_t max = 0; max < need; max++) {
		buf_init(&b, max);
		CHECK(imap_fetch_write(&b, f, &m) == -1);
		buf_release(&b, 0);
	}
	buf_init(&b, need);
	CHECK(imap_fetch_write(&b, f, &m) == 0 && b.len == need);
	buf_release(&b, 0);
	imap_fetch_free(&f);
	msg_done(&n);
}

/* The parser leaves nothing behind on any refusal, and the cursor as
 * FETCH's caller set it up: "seqset attributes". */
static void
test_after_seqset(void)
{
	static const char cmd[] = "1:*,3 (UID BODY.PEEK[HEADER.FIELDS (DATE "
	    "FROM)] FLAGS)";
	struct imap_fetch *f = NULL;
	const char *error;

	imap_args_init(&args, cmd, strlen(cmd));
	CHECK(imap_args_next(&args) == IMAP_ARG_ATOM);
	CHECK(imap_fetch_parse(&args, 0, &f, &error) == 0 && f != NULL);
	imap_fetch_free(&f);
}

static const struct harness_test tests[] = {
	TEST(test_parse_needs_and_seen),
	TEST(test_parse_errors),
	TEST(test_parse_limits),
	TEST(test_simple_items),
	TEST(test_internaldate),
	TEST(test_structure_items),
	TEST(test_sections_nested),
	TEST(test_bare_lf_same),
	TEST(test_single_part_messages),
	TEST(test_labels),
	TEST(test_order_uid_seen),
	TEST(test_partials),
	TEST(test_header_only),
	TEST(test_full_buffer),
	TEST(test_after_seqset),
};

static void
cleanup(void)
{
	buf_release(&out, 0);
}

int
main(void)
{
	int rc = harness_run("imap_fetch", tests,
	    sizeof(tests) / sizeof(tests[0]));

	cleanup();
	return rc;
}
