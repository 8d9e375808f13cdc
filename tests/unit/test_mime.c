/* The MIME tree (store/mime.c) and IMAP's ENVELOPE, BODY and
 * BODYSTRUCTURE of it (imap/imap_fetch_mime.c). Expected strings were
 * checked against RFC 3501's grammar and against Dovecot 2.3's output
 * for the same messages; where they differ on purpose, a comment says
 * so. Every message sits in a heap block of exactly its size. */
#include "harness.h"

#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_fetch_mime.h"
#include "store/mime.h"

/* A message with its own copy, freed with done(). */
struct msg {
	char *data;
	size_t len;
	struct mime_tree *t;
};

static struct msg
parse(const char *s)
{
	struct msg m;

	m.len = strlen(s);
	m.data = exact(s, m.len);
	m.t = mime_parse(m.data, m.len);
	return m;
}

static struct msg
parse_n(const char *s, size_t len)
{
	struct msg m;

	m.len = len;
	m.data = exact(s, len);
	m.t = mime_parse(m.data, m.len);
	return m;
}

static void
done(struct msg *m)
{
	mime_free(&m->t);
	CHECK(m->t == NULL);
	free(m->data);
}

/* Bare LFs of s made CRLF... and back: the same message stored both
 * ways must give the same sizes. */
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

/* Checks what must hold for every part of every tree: ranges inside
 * the message and inside the parent's body, header and body adjacent,
 * sizes and line counts those of mime_append_wire()'s output, limits. */
static size_t
check_part(const struct mime_tree *t, const struct mime_part *p,
    const struct mime_part *parent, unsigned int depth)
{
	struct buf b;
	size_t n = 1, lfs = 0, kids = 0;

	CHECK(p->parent == parent);
	CHECK(p->depth == depth && depth <= MIME_MAX_DEPTH);
	CHECK(p->header_off + p->header_len == p->body_off);
	CHECK(p->body_off <= t->len && p->body_len <= t->len - p->body_off);
	if (parent != NULL) {
		CHECK(p->header_off >= parent->body_off);
		CHECK(p->body_off + p->body_len <=
		    parent->body_off + parent->body_len);
	}
	CHECK(p->type != NULL && p->subtype != NULL);
	buf_init(&b, (size_t)-1);
	CHECK(mime_append_wire(&b, t, p->body_off, p->body_len) == 0);
	CHECK(b.len == p->body_size);
	for (size_t i = 0; i < b.len; i++)
		lfs += b.data[i] == '\n';
	CHECK(lfs == p->body_lines);
	buf_reset(&b);
	CHECK(mime_append_wire(&b, t, p->header_off, p->header_len) == 0);
	CHECK(b.len == p->header_size);
	buf_release(&b, 0);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		CHECK((p->flags & MIME_PART_MULTIPART) != 0);
		n += check_part(t, c, p, depth + 1);
		kids++;
	}
	CHECK(kids == p->n_children);
	if (p->message != NULL) {
		CHECK((p->flags & MIME_PART_RFC822) != 0);
		CHECK((p->message->flags & MIME_PART_MESSAGE) != 0);
		CHECK(p->message->header_off == p->body_off);
		CHECK(p->message->body_off + p->message->body_len ==
		    p->body_off + p->body_len);
		n += check_part(t, p->message, p, depth + 1);
	}
	return n;
}

static void
check_tree(const struct mime_tree *t)
{
	CHECK(t->root->header_off == 0);
	CHECK(t->root->body_off + t->root->body_len == t->len);
	CHECK((t->root->flags & MIME_PART_MESSAGE) != 0);
	CHECK(check_part(t, t->root, NULL, 0) == t->n_parts);
	CHECK(t->n_parts <= MIME_MAX_PARTS);
}

static const struct mime_part *
find(const struct mime_tree *t, const char *sec)
{
	const struct mime_part *p = NULL;

	if (mime_section_find(t, sec, strlen(sec), &p) < 0)
		return NULL;
	return p;
}

/* The part's body (or header) as stored equals s. */
static int
is_body(const struct msg *m, const struct mime_part *p, const char *s)
{
	return p != NULL && p->body_len == strlen(s) &&
	    memcmp(m->data + p->body_off, s, p->body_len) == 0;
}

static int
is_header(const struct msg *m, const struct mime_part *p, const char *s)
{
	return p != NULL && p->header_len == strlen(s) &&
	    memcmp(m->data + p->header_off, s, p->header_len) == 0;
}

static char *
render(const struct mime_tree *t, const struct mime_part *p, char what)
{
	static char out[8192];
	struct buf b;
	int rc;

	buf_init(&b, sizeof(out) - 1);
	if (what == 'E')
		rc = imap_fetch_mime_envelope(&b, t, p);
	else if (what == 'S')
		rc = imap_fetch_mime_bodystructure(&b, t, p);
	else
		rc = imap_fetch_mime_body(&b, t, p);
	CHECK(rc == 0);
	snprintf(out, sizeof(out), "%s", b.data != NULL ? b.data : "");
	buf_release(&b, 0);
	return out;
}

/* --- the nested message ------------------------------------------- */

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

/* Dovecot gives the message/rfc822 part 330 octets and 21 lines: it
 * counts the CRLF after "--in--" into it. RFC 2046's grammar gives that
 * CRLF to the "--outer--" delimiter that follows (delimiter := CRLF
 * dash-boundary; the epilogue is empty), hence 328 and 20. */
#define NESTED_BODYSTRUCTURE \
	"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 9 0 " \
	"NIL NIL NIL NIL)" \
	"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 1 NIL NIL NIL NIL)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"alt\") " \
	"NIL NIL NIL)" \
	"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 328 " \
	"(NIL \"inner\" ((\"Carol\" NIL \"carol\" \"example.net\")) " \
	"((\"Carol\" NIL \"carol\" \"example.net\")) " \
	"((\"Carol\" NIL \"carol\" \"example.net\")) NIL NIL NIL NIL NIL) " \
	"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 0 NIL NIL NIL NIL)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"12 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"in2\") " \
	"NIL NIL NIL)" \
	"(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4 " \
	"NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"in\") NIL NIL NIL) 20 " \
	"NIL (\"attachment\" (\"filename\" \"fwd.eml\")) NIL NIL) " \
	"\"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)"

#define NESTED_BODY \
	"((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 9 0)" \
	"((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 1)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 0) \"alternative\")" \
	"(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 328 " \
	"(NIL \"inner\" ((\"Carol\" NIL \"carol\" \"example.net\")) " \
	"((\"Carol\" NIL \"carol\" \"example.net\")) " \
	"((\"Carol\" NIL \"carol\" \"example.net\")) NIL NIL NIL NIL NIL) " \
	"(((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"11 0)" \
	"(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" " \
	"12 0) \"alternative\")" \
	"(\"application\" \"octet-stream\" NIL NIL NIL \"base64\" 4) " \
	"\"mixed\") 20) \"mixed\")"

#define NESTED_ENVELOPE \
	"(\"Mon, 2 Jan 2006 15:04:05 -0700\" \"nested\" " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((\"Alice\" NIL \"alice\" \"example.com\")) " \
	"((\"Bob\" NIL \"bob\" \"example.org\")" \
	"(\"Smith, Carol\" NIL \"carol\" \"example.org\")) " \
	"NIL NIL NIL \"<outer@example.com>\")"

static void
test_nested_parts(void)
{
	struct msg m = parse(NESTED);
	const struct mime_part *r = m.t->root, *p;

	check_tree(m.t);
	CHECK(m.t->n_parts == 11);
	CHECK(r->flags == (MIME_PART_MULTIPART | MIME_PART_MESSAGE));
	CHECK_STR(r->type, "multipart");
	CHECK_STR(r->subtype, "mixed");
	CHECK(r->n_params == 1);
	CHECK_STR(r->params[0].name, "boundary");
	CHECK_STR(r->params[0].value, "outer");
	CHECK(r->n_children == 3);
	CHECK(r->header_len == (size_t)(strstr(NESTED, "This is") - NESTED));
	CHECK(r->body_len == m.len - r->header_len);

	p = find(m.t, "1");
	CHECK(p == r->children);
	CHECK(is_header(&m, p, "Content-Type: text/plain; charset=utf-8\r\n"
	    "\r\n"));
	CHECK(is_body(&m, p, "Part one."));
	CHECK(p->body_size == 9 && p->body_lines == 0);
	CHECK_STR(mime_param_get(p, "charset"), "utf-8");
	CHECK(p->encoding == NULL && p->id == NULL);

	p = find(m.t, "2");
	CHECK(p != NULL && p->flags == MIME_PART_MULTIPART);
	CHECK(p != NULL && p->n_children == 2);
	CHECK_STR(p->subtype, "alternative");
	CHECK(is_body(&m, p, "--alt\r\nContent-Type: text/plain\r\n\r\n"
	    "Plain\r\ntext\r\n--alt\r\nContent-Type: text/html\r\n\r\n"
	    "<p>HTML</p>\r\n--alt--"));
	p = find(m.t, "2.1");
	CHECK(is_body(&m, p, "Plain\r\ntext"));
	CHECK(p != NULL && p->body_size == 11 && p->body_lines == 1);
	CHECK(p != NULL && p->n_params == 0);
	p = find(m.t, "2.2");
	CHECK(is_body(&m, p, "<p>HTML</p>"));
	CHECK_STR(p->subtype, "html");

	p = find(m.t, "3");
	CHECK(p != NULL && p->flags == MIME_PART_RFC822);
	CHECK_STR(p->disposition, "attachment");
	CHECK(p->n_disp_params == 1);
	CHECK_STR(p->disp_params[0].value, "fwd.eml");
	CHECK(p->body_size == 328 && p->body_lines == 20);
	CHECK(p->message != NULL);
	CHECK(is_header(&m, p->message, "From: Carol <carol@example.net>\r\n"
	    "Subject: inner\r\nContent-Type: multipart/mixed; boundary=in\r\n"
	    "\r\n"));
	CHECK(p->message->flags == (MIME_PART_MULTIPART | MIME_PART_MESSAGE));
	CHECK(find(m.t, "3.1") == p->message->children);
	p = find(m.t, "3.1.1");
	CHECK(is_body(&m, p, "inner plain"));
	CHECK(is_header(&m, p, "\r\n"));
	p = find(m.t, "3.1.2");
	CHECK(is_body(&m, p, "<b>inner</b>"));
	CHECK(p != NULL && p->depth == 4);
	CHECK(p != NULL && p->body_size == 12 && p->body_lines == 0);
	p = find(m.t, "3.2");
	CHECK(is_body(&m, p, "AAEC"));
	CHECK_STR(p->encoding, "base64");
	CHECK_STR(p->type, "application");
	done(&m);
}

static void
test_nested_render(void)
{
	struct msg m = parse(NESTED);
	const struct mime_part *p = find(m.t, "3");

	CHECK_STR(render(m.t, m.t->root, 'S'), NESTED_BODYSTRUCTURE);
	CHECK_STR(render(m.t, m.t->root, 'B'), NESTED_BODY);
	CHECK_STR(render(m.t, m.t->root, 'E'), NESTED_ENVELOPE);
	CHECK_STR(render(m.t, p->message, 'E'),
	    "(NIL \"inner\" ((\"Carol\" NIL \"carol\" \"example.net\")) "
	    "((\"Carol\" NIL \"carol\" \"example.net\")) "
	    "((\"Carol\" NIL \"carol\" \"example.net\")) "
	    "NIL NIL NIL NIL NIL)");
	/* a part on its own, as FETCH BODYSTRUCTURE never asks but a
	 * caller may */
	CHECK_STR(render(m.t, find(m.t, "2.1"), 'B'),
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 11 1)");
	done(&m);
}

/* The same message stored with bare LFs: other offsets, same wire
 * sizes, same output. */
static void
test_nested_bare_lf(void)
{
	char *lf = to_lf(NESTED);
	struct msg m = parse(lf), c = parse(NESTED);
	static const char *const secs[] = {
		"", "1", "2", "2.1", "2.2", "3", "3.1", "3.1.1", "3.1.2", "3.2",
	};

	check_tree(m.t);
	CHECK(m.len < c.len);
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		const struct mime_part *a = find(m.t, secs[i]);
		const struct mime_part *b = find(c.t, secs[i]);

		CHECK(a != NULL && b != NULL);
		if (a == NULL || b == NULL)
			continue;
		CHECK(a->header_size == b->header_size);
		CHECK(a->body_size == b->body_size);
		CHECK(a->body_lines == b->body_lines);
		CHECK(a->header_lines == b->header_lines);
	}
	CHECK_STR(render(m.t, m.t->root, 'S'), NESTED_BODYSTRUCTURE);
	done(&m);
	done(&c);
	free(lf);
}

static void
test_sections(void)
{
	static const struct {
		const char *sec;
		int ok;
	} rows[] = {
		{ "", 1 }, { "1", 1 }, { "2", 1 }, { "3", 1 }, { "2.1", 1 },
		{ "3.1", 1 }, { "3.1.2", 1 }, { "3.2", 1 },
		{ "0", 0 }, { "4", 0 }, { "01", 0 }, { "1.1", 0 },
		{ "2.3", 0 }, { "3.3", 0 }, { "3.1.3", 0 }, { "3.1.2.1", 0 },
		{ "1.", 0 }, { ".1", 0 }, { "1..2", 0 }, { "a", 0 },
		{ "2.1 ", 0 }, { "4294967297", 0 }, { "3.1.2.", 0 },
	};
	struct msg m = parse(NESTED), one;
	const struct mime_part *p;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int ok = find(m.t, rows[i].sec) != NULL;

		if (ok != rows[i].ok)
			fprintf(stderr, "  section \"%s\"\n", rows[i].sec);
		CHECK(ok == rows[i].ok);
	}
	/* the length bounds the section, not a NUL */
	CHECK(mime_section_find(m.t, "2.1.9", 3, &p) == 0 &&
	    p == find(m.t, "2.1"));
	CHECK(find(m.t, "") == m.t->root);
	done(&m);

	/* part 1 of a message that is not multipart is the message */
	one = parse("Subject: one\r\n\r\nbody\r\n");
	CHECK(find(one.t, "1") == one.t->root);
	CHECK(find(one.t, "2") == NULL && find(one.t, "1.1") == NULL);
	done(&one);

	/* a message that is a message/rfc822: 1 is its body, the message
	 * inside, and 1.1 that message's (single) part */
	one = parse("Content-Type: message/rfc822\r\n\r\n"
	    "Subject: in\r\n\r\ntext\r\n");
	check_tree(one.t);
	CHECK(find(one.t, "1") == one.t->root);
	CHECK(find(one.t, "1.1") == one.t->root->message);
	CHECK(find(one.t, "1.2") == NULL);
	CHECK(is_body(&one, one.t->root->message, "text\r\n"));
	done(&one);
}

/* --- headers ------------------------------------------------------ */

#define HDRS \
	"Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 +0000\r\n" \
	"Subject :  Hello\r\n  folded  world \r\n" \
	"not a field\r\n" \
	"X-Empty:\r\n" \
	"received: second\r\n" \
	"To: x@y\n" \
	"\r\n" \
	"Body: not a header\r\n"

static void
test_header_fields(void)
{
	struct msg m = parse(HDRS);
	struct mime_header_iter it;
	struct mime_field f;
	struct buf b;
	int n = 0;

	buf_init(&b, 1024);
	mime_header_init(&it, m.t, m.t->root);
	while (mime_header_next(&it, &f))
		n++;
	CHECK(n == 6);

	mime_header_init(&it, m.t, m.t->root);
	CHECK(mime_header_find(&it, "RECEIVED", &f) == 1);
	CHECK(f.raw == m.data && f.raw_len ==
	    strlen("Received: from a\r\n\tby b; Mon, 1 Jan 2024 00:00:00 "
	    "+0000\r\n"));
	CHECK(mime_unfold(&b, f.value, f.value_len) == 0);
	CHECK_STR(b.data, "from a\tby b; Mon, 1 Jan 2024 00:00:00 +0000");
	CHECK(mime_header_find(&it, "received", &f) == 1);
	CHECK(f.value_len == 6 && memcmp(f.value, "second", 6) == 0);
	CHECK(mime_header_find(&it, "received", &f) == 0);

	buf_reset(&b);
	CHECK(mime_header_get(m.t, m.t->root, "subject", &b) == 1);
	CHECK_STR(b.data, "Hello  folded  world");
	buf_reset(&b);
	CHECK(mime_header_get(m.t, m.t->root, "x-empty", &b) == 1);
	CHECK(b.len == 0);
	CHECK(mime_header_get(m.t, m.t->root, "not a field", &b) == 0);
	CHECK(mime_header_get(m.t, m.t->root, "body", &b) == 0);
	CHECK(mime_header_get(m.t, m.t->root, "to", &b) == 1);
	buf_release(&b, 0);
	done(&m);
}

static void
test_header_filter(void)
{
	static const char *const names[] = { "subject", "TO", "x-none" };
	struct msg m = parse(HDRS);
	struct buf b;

	buf_init(&b, 4096);
	CHECK(mime_header_filter(m.t, m.t->root, names, 3, 0, &b) == 0);
	CHECK_STR(b.data, "Subject :  Hello\r\n  folded  world \r\n"
	    "To: x@y\r\n\r\n");
	buf_reset(&b);
	CHECK(mime_header_filter(m.t, m.t->root, names, 3, 1, &b) == 0);
	CHECK_STR(b.data, "Received: from a\r\n\tby b; Mon, 1 Jan 2024 "
	    "00:00:00 +0000\r\nnot a field\r\nX-Empty:\r\n"
	    "received: second\r\n\r\n");
	buf_reset(&b);
	CHECK(mime_header_filter(m.t, m.t->root, names, 0, 0, &b) == 0);
	CHECK_STR(b.data, "\r\n");
	buf_release(&b, 0);

	/* a full buffer is an error, not a truncated success */
	buf_init(&b, 10);
	CHECK(mime_header_filter(m.t, m.t->root, names, 3, 0, &b) < 0);
	buf_release(&b, 0);
	done(&m);
}

static void
test_append_wire(void)
{
	struct msg m = parse("A: b\nC: d\r\n\nx\ny");
	struct buf b;

	check_tree(m.t);
	buf_init(&b, 1024);
	CHECK(mime_append_wire(&b, m.t, 0, m.len) == 0);
	CHECK_STR(b.data, "A: b\r\nC: d\r\n\r\nx\r\ny");
	CHECK(m.t->root->header_size == 14);
	/* a last line without its line end stays so */
	CHECK(m.t->root->body_size == 4 && m.t->root->body_lines == 1);
	buf_reset(&b);
	CHECK(mime_append_wire(&b, m.t, 3, 3) == 0);
	CHECK_STR(b.data, "b\r\nC");
	CHECK(mime_append_wire(&b, m.t, m.len, 1) < 0);
	CHECK(mime_append_wire(&b, m.t, m.len + 1, 0) < 0);
	buf_release(&b, 0);
	done(&m);
}

/* --- structure edge cases ----------------------------------------- */

static void
test_malformed_structure(void)
{
	struct msg m;
	const struct mime_part *p;

	/* no boundary parameter: an opaque multipart */
	m = parse("Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n"
	    "--b--\r\n");
	check_tree(m.t);
	CHECK(m.t->n_parts == 1 && m.t->root->children == NULL);
	CHECK((m.t->root->flags & MIME_PART_LIMITED) == 0);
	CHECK(find(m.t, "1") == NULL);
	CHECK_STR(render(m.t, m.t->root, 'S'), "((\"text\" \"plain\" "
	    "(\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL) "
	    "\"mixed\" NIL NIL NIL NIL)");
	done(&m);

	/* the inner close delimiter is missing: the outer one ends it;
	 * delimiters match as prefixes ("--ox", "--o \t") */
	m = parse("Content-Type: multipart/mixed; boundary=o\r\n\r\n"
	    "--ox\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
	    "--i\r\n\r\nA\r\n--o \t\r\n\r\nB\r\n--o--\r\n");
	check_tree(m.t);
	CHECK(m.t->root->n_children == 2);
	CHECK(is_body(&m, find(m.t, "1.1"), "A"));
	CHECK(is_body(&m, find(m.t, "2"), "B"));
	done(&m);

	/* truncated: no close delimiter, no final line end */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: text/plain\r\n\r\nunfinish");
	check_tree(m.t);
	p = find(m.t, "1");
	CHECK(is_body(&m, p, "unfinish"));
	CHECK(p != NULL && p->body_size == 8 && p->body_lines == 0);
	done(&m);

	/* a delimiter inside a part's header ends the part there */
	m = parse("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
	    "Content-Type: text/html\r\n--b\r\n\r\nB\r\n--b--");
	check_tree(m.t);
	p = find(m.t, "1");
	CHECK(is_header(&m, p, "Content-Type: text/html\r\n"));
	CHECK(p != NULL && p->body_len == 0 && p->body_size == 0);
	CHECK_STR(p->subtype, "html");
	CHECK(is_body(&m, find(m.t, "2"), "B"));
	done(&m);

	/* nothing at all, a header without a body, a body-only message */
	m = parse("");
	check_tree(m.t);
	CHECK(m.t->root->header_len == 0 && m.t->root->body_size == 0);
	CHECK_STR(render(m.t, m.t->root, 'E'),
	    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	done(&m);
	m = parse("Subject: x");
	check_tree(m.t);
	CHECK(m.t->root->header_len == 10 && m.t->root->header_size == 10);
	CHECK(m.t->root->body_len == 0 && m.t->root->body_size == 0);
	done(&m);
	m = parse("\r\njust a body\r\n");
	check_tree(m.t);
	CHECK(m.t->root->header_len == 2);
	CHECK(is_body(&m, m.t->root, "just a body\r\n"));
	done(&m);

	/* message/rfc822 with base64 is not parsed */
	m = parse("Content-Type: message/rfc822\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "U3ViamVjdDogeA0KDQp4\r\n");
	check_tree(m.t);
	CHECK(m.t->root->message == NULL);
	CHECK((m.t->root->flags & MIME_PART_LIMITED) == 0);
	CHECK_STR(render(m.t, m.t->root, 'S'), "(\"message\" \"rfc822\" NIL "
	    "NIL NIL \"base64\" 22 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" "
	    "0 0 NIL NIL NIL NIL) 1 NIL NIL NIL NIL)");
	done(&m);

	/* multipart/digest: parts are message/rfc822 by default */
	m = parse("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n"
	    "\r\nSubject: in digest\r\n\r\nbody\r\n--d\r\n"
	    "Content-Type: text/plain\r\n\r\nt\r\n--d--\r\n");
	check_tree(m.t);
	CHECK_STR(render(m.t, m.t->root, 'B'), "((\"message\" \"rfc822\" NIL "
	    "NIL NIL \"7bit\" 26 (NIL \"in digest\" NIL NIL NIL NIL NIL NIL "
	    "NIL NIL) (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 4 0) 2)(\"text\" \"plain\" (\"charset\" \"us-ascii\") "
	    "NIL NIL \"7bit\" 1 0) \"digest\")");
	done(&m);
}

static void
test_nul_and_long_lines(void)
{
	static const char raw[] = "Subject: a\0b\r\nContent-Type: text/"
	    "plain; name=\"x\0y\"\r\n\r\nbo\0dy\r\n";
	struct msg m = parse_n(raw, sizeof(raw) - 1);
	size_t big = 1 << 20;
	char *s;

	check_tree(m.t);
	CHECK_STR(mime_param_get(m.t->root, "name"), "xy");
	CHECK(m.t->root->body_len == 7);
	CHECK_STR(render(m.t, m.t->root, 'E'),
	    "(NIL \"ab\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	done(&m);

	/* one 1 MiB line of header, then one of body */
	s = malloc(2 * big + 64);
	if (s == NULL)
		abort();
	memcpy(s, "X-Long: ", 8);
	memset(s + 8, 'a', big);
	memcpy(s + 8 + big, "\r\n\r\n", 4);
	memset(s + 12 + big, 'b', big);
	m = parse_n(s, 12 + 2 * big);
	check_tree(m.t);
	CHECK(m.t->root->header_len == 12 + big);
	CHECK(m.t->root->body_size == big);
	done(&m);
	free(s);
}

/* Every prefix of the nested message parses into a sound tree. */
static void
test_every_truncation(void)
{
	size_t len = strlen(NESTED);
	struct buf b;

	buf_init(&b, 1 << 16);
	for (size_t n = 0; n <= len; n++) {
		struct msg m = parse_n(NESTED, n);

		check_tree(m.t);
		buf_reset(&b);
		CHECK(imap_fetch_mime_bodystructure(&b, m.t, m.t->root) == 0);
		buf_reset(&b);
		CHECK(imap_fetch_mime_envelope(&b, m.t, m.t->root) == 0);
		done(&m);
	}
	buf_release(&b, 0);
}

static void
test_depth_limit(void)
{
	struct buf in, out;
	struct msg m;
	const struct mime_part *p;
	int depth = 0;

	/* 40 nested multiparts (no boundary a prefix of another: "--b1"
	 * would end "b10") */
	buf_init(&in, 1 << 20);
	for (int i = 0; i < 40; i++)
		buf_printf(&in, "Content-Type: multipart/mixed; boundary=b%02dx"
		    "\r\n\r\n--b%02dx\r\n", i, i);
	buf_append_str(&in, "\r\ndeep\r\n");
	m = parse_n(in.data, in.len);
	check_tree(m.t);
	CHECK(m.t->n_parts == MIME_MAX_DEPTH + 1);
	for (p = m.t->root; p->children != NULL; p = p->children)
		depth++;
	CHECK(depth == MIME_MAX_DEPTH);
	CHECK((p->flags & MIME_PART_LIMITED) != 0);
	buf_init(&out, 1 << 20);
	CHECK(imap_fetch_mime_bodystructure(&out, m.t, m.t->root) == 0);
	buf_release(&out, 0);
	done(&m);

	/* 40 nested messages */
	buf_reset(&in);
	for (int i = 0; i < 40; i++)
		buf_append_str(&in, "Content-Type: message/rfc822\r\n\r\n");
	buf_append_str(&in, "Subject: deep\r\n\r\nx\r\n");
	m = parse_n(in.data, in.len);
	check_tree(m.t);
	CHECK(m.t->n_parts == MIME_MAX_DEPTH + 1);
	for (p = m.t->root; p->message != NULL; p = p->message)
		;
	CHECK(p->depth == MIME_MAX_DEPTH);
	CHECK((p->flags & MIME_PART_LIMITED) != 0);
	done(&m);
	buf_release(&in, 0);
}

static void
test_part_limit(void)
{
	struct buf in, out;
	struct msg m;

	buf_init(&in, 1 << 20);
	buf_append_str(&in, "Content-Type: multipart/mixed; boundary=b\r\n"
	    "\r\n");
	for (int i = 0; i < 1500; i++)
		buf_printf(&in, "--b\r\n\r\npart %d\r\n", i);
	buf_append_str(&in, "--b--\r\n");
	m = parse_n(in.data, in.len);
	check_tree(m.t);
	CHECK(m.t->n_parts == MIME_MAX_PARTS);
	CHECK(m.t->root->n_children == MIME_MAX_PARTS - 1);
	CHECK((m.t->root->flags & MIME_PART_LIMITED) != 0);
	CHECK(find(m.t, "999") != NULL && find(m.t, "1000") == NULL);
	CHECK(is_body(&m, find(m.t, "999"), "part 998"));
	buf_init(&out, 1 << 20);
	CHECK(imap_fetch_mime_bodystructure(&out, m.t, m.t->root) == 0);
	buf_release(&out, 0);
	/* a small buffer fails cleanly */
	buf_init(&out, 100);
	CHECK(imap_fetch_mime_bodystructure(&out, m.t, m.t->root) < 0);
	buf_release(&out, 0);
	done(&m);
	buf_release(&in, 0);
}

/* --- fields and strings ------------------------------------------- */

/* Parameters past the limit are skipped, and cost no memory: 300,000
 * quoted ones in a 3 MB field (each used to reserve the rest of it). */
static void
test_many_params(void)
{
	struct buf in;
	struct msg m;

	buf_init(&in, 1 << 23);
	buf_append_str(&in, "Content-Type: text/plain");
	for (int i = 0; i < 300000; i++)
		buf_append_str(&in, "; a=\"b\"");
	buf_append_str(&in, "\r\nContent-Disposition: inline");
	for (int i = 0; i < 300000; i++)
		buf_append_str(&in, "; a=\"b\"");
	buf_append_str(&in, "\r\n\r\n");
	m = parse_n(in.data, in.len);
	CHECK(m.t->root->n_params == MIME_MAX_PARAMS);
	CHECK(m.t->root->n_disp_params == MIME_MAX_PARAMS);
	CHECK_STR(m.t->root->params[MIME_MAX_PARAMS - 1].value, "b");
	done(&m);
	buf_release(&in, 0);
}

static void
test_content_fields(void)
{
	struct msg m = parse(
	    "Content-Type: Text/HTML (a (nested) comment); CharSet=\"UTF-8\";"
	    "\r\n\tNAME=\"a \\\"b\\\".html\" ; junk ; empty=; b=x=y\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Transfer-Encoding: (c) Quoted-Printable\r\n"
	    "Content-ID:  <id@x> \r\n"
	    "Content-Description: a\r\n  folded =?utf-8?q?d?=\r\n"
	    "Content-MD5: abc\r\n"
	    "Content-Language: en, (c) fr-CA\r\n"
	    "Content-Location: http://x/\r\n y\r\n"
	    "Content-Disposition: ATTACHMENT; filename=f.txt; size=3\r\n"
	    "\r\nx\r\n");
	const struct mime_part *p = m.t->root;

	CHECK_STR(p->type, "text");
	CHECK_STR(p->subtype, "html");
	CHECK(p->n_params == 4);
	CHECK_STR(mime_param_get(p, "charset"), "UTF-8");
	CHECK_STR(mime_param_get(p, "name"), "a \"b\".html");
	CHECK_STR(mime_param_get(p, "empty"), "");
	CHECK_STR(mime_param_get(p, "b"), "x=y");
	CHECK_STR(p->encoding, "quoted-printable");
	CHECK_STR(p->id, "<id@x>");
	CHECK_STR(p->description, "a  folded =?utf-8?q?d?=");
	CHECK_STR(p->md5, "abc");
	CHECK_STR(p->location, "http://x/ y");
	CHECK(p->n_languages == 2);
	CHECK_STR(p->languages[1], "fr-CA");
	CHECK_STR(p->disposition, "attachment");
	CHECK(p->n_disp_params == 2);
	/* Dovecot keeps the case of type, subtype, parameter names and
	 * encoding, and trailing blanks of Content-ID; otherwise the same */
	CHECK_STR(render(m.t, p, 'S'), "(\"text\" \"html\" (\"charset\" "
	    "\"UTF-8\" \"name\" \"a \\\"b\\\".html\" \"empty\" \"\" \"b\" "
	    "\"x=y\") \"<id@x>\" \"a  folded =?utf-8?q?d?=\" "
	    "\"quoted-printable\" 3 1 \"abc\" (\"attachment\" (\"filename\" "
	    "\"f.txt\" \"size\" \"3\")) (\"en\" \"fr-CA\") \"http://x/ y\")");
	done(&m);

	/* invalid Content-Type values keep the default (RFC 2045 5.2) */
	static const char *const bad[] = {
		"text", "/plain", "text/", "\"text\"/plain", "", "(x)",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char in[128];

		snprintf(in, sizeof(in), "Content-Type: %s; a=b\r\n\r\n",
		    bad[i]);
		m = parse(in);
		CHECK_STR(m.t->root->type, "text");
		CHECK_STR(m.t->root->subtype, "plain");
		CHECK(m.t->root->n_params == 0);
		done(&m);
	}
}

static void
test_nstring(void)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} rows[] = {
		{ NULL, 0, "NIL" },
		{ "", 0, "\"\"" },
		{ "plain", 5, "\"plain\"" },
		{ "a \"q\" \\ b", 9, "\"a \\\"q\\\" \\\\ b\"" },
		{ "tab\there", 8, "\"tab\there\"" },
		{ "\xc3\xa9t\xc3\xa9", 5, "{5}\r\n\xc3\xa9t\xc3\xa9" },
		{ "a\r\nb", 4, "{4}\r\na\r\nb" },
		{ "a\0b", 3, "\"ab\"" },
		{ "\"\0\xff", 3, "{2}\r\n\"\xff" },
	};
	struct buf b;
	char *big;

	buf_init(&b, 4096);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		buf_reset(&b);
		CHECK(imap_fetch_mime_nstring(&b, rows[i].in,
		    rows[i].len) == 0);
		CHECK_STR(b.data, rows[i].out);
	}
	/* long values become literals */
	big = malloc(IMAP_FETCH_MIME_QUOTED_MAX + 1);
	if (big == NULL)
		abort();
	memset(big, 'x', IMAP_FETCH_MIME_QUOTED_MAX + 1);
	buf_reset(&b);
	CHECK(imap_fetch_mime_nstring(&b, big,
	    IMAP_FETCH_MIME_QUOTED_MAX) == 0);
	CHECK(b.data[0] == '"');
	buf_reset(&b);
	CHECK(imap_fetch_mime_nstring(&b, big,
	    IMAP_FETCH_MIME_QUOTED_MAX + 1) == 0);
	CHECK(strncmp(b.data, "{1025}\r\nxxx", 11) == 0);
	CHECK(b.len == 8 + IMAP_FETCH_MIME_QUOTED_MAX + 1);
	free(big);
	buf_release(&b, 0);
}

/* --- ENVELOPE ----------------------------------------------------- */

static void
test_envelopes(void)
{
	static const struct {
		const char *msg, *env;
	} rows[] = {
		/* RFC 5322 A.1.2 and A.1.3 style; Dovecot's values, though it
		 * sends the name with quotes as a literal */
		{ "From: \"Joe Q. Public\" <john.q.public@example.com>\r\n"
		  "To: Mary Smith <mary@x.test>, jdoe@example.org, "
		  "Who? <one@y.test>\r\n"
		  "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" "
		  "<sysservices@example.net>\r\n"
		  "Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n"
		  "Message-ID: <5678.21-Nov-1997@example.com>\r\n"
		  "Subject: =?utf-8?q?hi?= there\r\n\r\nHi.\r\n",
		  "(\"Tue, 1 Jul 2003 10:52:37 +0200\" "
		  "\"=?utf-8?q?hi?= there\" "
		  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		  "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\")) "
		  "((\"Mary Smith\" NIL \"mary\" \"x.test\")"
		  "(NIL NIL \"jdoe\" \"example.org\")"
		  "(\"Who?\" NIL \"one\" \"y.test\")) "
		  "((NIL NIL \"boss\" \"nil.test\")"
		  "(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" "
		  "\"example.net\")) NIL NIL "
		  "\"<5678.21-Nov-1997@example.com>\")" },
		/* groups, an empty group, a route, Reply-To empty */
		{ "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
		  "Subject: a\r\n b\r\n"
		  "From: undisclosed\r\n"
		  "To: Group: a@b, \"Q\" <c@d>;, x@y\r\n"
		  "Cc: Empty:;\r\n"
		  "Bcc: <@r1,@r2:u@h>\r\n"
		  "Reply-To:\r\n"
		  "In-Reply-To:  <a@b> (c)\r\n"
		  "Message-ID: <m@x>\r\n\r\n",
		  "(\"Mon, 1 Jan 2024 00:00:00 +0000\" \"a b\" "
		  "((NIL NIL \"undisclosed\" \"MISSING_DOMAIN\")) "
		  "((NIL NIL \"undisclosed\" \"MISSING_DOMAIN\")) "
		  "((NIL NIL \"undisclosed\" \"MISSING_DOMAIN\")) "
		  "((NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b\")"
		  "(\"Q\" NIL \"c\" \"d\")(NIL NIL NIL NIL)"
		  "(NIL NIL \"x\" \"y\")) "
		  "((NIL NIL \"Empty\" NIL)(NIL NIL NIL NIL)) "
		  "((NIL \"@r1,@r2\" \"u\" \"h\")) \"<a@b> (c)\" \"<m@x>\")" },
		/* RFC 5322 A.5: comments everywhere */
		{ "From: Pete(A nice \\) chap) <pete(his account)@silly.test"
		  "(his host)>\r\n"
		  "To: A Group(Some people):Chris Jones <c@(Chris's host.)"
		  "public.example>, joe@example.org, John <jdoe@one.test> "
		  "(my dear friend); (the end of the group)\r\n"
		  "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I "
		  "know))  ;\r\n"
		  "Subject: \xc3\xa9t\xc3\xa9\r\n\r\n",
		  "(NIL {5}\r\n\xc3\xa9t\xc3\xa9 "
		  "((\"Pete\" NIL \"pete\" \"silly.test\")) "
		  "((\"Pete\" NIL \"pete\" \"silly.test\")) "
		  "((\"Pete\" NIL \"pete\" \"silly.test\")) "
		  "((NIL NIL \"A Group\" NIL)"
		  "(\"Chris Jones\" NIL \"c\" \"public.example\")"
		  "(NIL NIL \"joe\" \"example.org\")"
		  "(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL)) "
		  "((NIL NIL \"Hidden recipients\" NIL)(NIL NIL NIL NIL)) "
		  "NIL NIL NIL)" },
		/* several From fields add up; Sender given; To empty. The
		 * first Subject counts (Dovecot takes the last; we take the
		 * first of every field, as for Content-Type) */
		{ "From: a@b, c@d\r\nFrom: e@f\r\nSender: s@t\r\nTo: \r\n"
		  "Subject: one\r\nSubject: two\r\n\r\n",
		  "(NIL \"one\" ((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")"
		  "(NIL NIL \"e\" \"f\")) ((NIL NIL \"s\" \"t\")) "
		  "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")"
		  "(NIL NIL \"e\" \"f\")) NIL NIL NIL NIL NIL)" },
		/* odd addresses: quoting, empty names, missing parts, a
		 * comment as the name, domain literal. Dovecot gives up on
		 * the obsolete "a . b @ c . d" and makes an address of each
		 * empty list element; RFC 5322 4.4 allows the one and says to
		 * ignore the other */
		{ "From: jdoe@example.org (John Doe)\r\n"
		  "To: \"a\\\"b\" <a@b>, \"\" <x@y>, <>, @b, "
		  "\"quoted local\"@h.test, Mary . Smith <m@x>, x@[1.2.3.4]\r\n"
		  "Cc: a . b @ c . d, ,,e@f,,\r\n"
		  "Bcc: (only a comment)\r\n\r\n",
		  "(NIL NIL ((\"John Doe\" NIL \"jdoe\" \"example.org\")) "
		  "((\"John Doe\" NIL \"jdoe\" \"example.org\")) "
		  "((\"John Doe\" NIL \"jdoe\" \"example.org\")) "
		  "((\"a\\\"b\" NIL \"a\" \"b\")(NIL NIL \"x\" \"y\")"
		  "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")"
		  "(NIL NIL \"MISSING_MAILBOX\" \"b\")"
		  "(NIL NIL \"quoted local\" \"h.test\")"
		  "(\"Mary . Smith\" NIL \"m\" \"x\")"
		  "(NIL NIL \"x\" \"[1.2.3.4]\")) "
		  "((NIL NIL \"a.b\" \"c.d\")(NIL NIL \"e\" \"f\")) "
		  "NIL NIL NIL)" },
		/* junk: unterminated quote, angle and group, stray
		 * specials, a group in a group. Dovecot stops at the first
		 * error (and says SYNTAX_ERROR); we skip to the next comma */
		{ "From: \"unterminated <a@b>\r\n"
		  "To: Name <a@b\r\n"
		  "Cc: G: a@b\r\n"
		  "Bcc: > ] \\ a@b c@d, G1: G2: x@y;;, z@w\r\n\r\n",
		  "(NIL NIL ((NIL NIL \"unterminated <a@b>\" "
		  "\"MISSING_DOMAIN\")) "
		  "((NIL NIL \"unterminated <a@b>\" \"MISSING_DOMAIN\")) "
		  "((NIL NIL \"unterminated <a@b>\" \"MISSING_DOMAIN\")) "
		  "((\"Name\" NIL \"a\" \"b\")) "
		  "((NIL NIL \"G\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)) "
		  "((NIL NIL \"a\" \"b\")(NIL NIL \"G1\" NIL)"
		  "(NIL NIL \"x\" \"y\")(NIL NIL NIL NIL)"
		  "(NIL NIL \"z\" \"w\")) "
		  "NIL NIL)" },
		/* folded Message-ID and In-Reply-To; empty From. Dovecot
		 * keeps the blank that starts " <long@id>" */
		{ "Message-ID:\r\n <long@id>\r\n"
		  "In-Reply-To: <a@b>\r\n\t<c@d>\r\n"
		  "From:\r\nReply-To: r@s\r\nSubject:\r\n\r\n",
		  "(NIL \"\" NIL NIL ((NIL NIL \"r\" \"s\")) NIL NIL NIL "
		  "\"<a@b>\t<c@d>\" \"<long@id>\")" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct msg m = parse(rows[i].msg);

		check_tree(m.t);
		CHECK_STR(render(m.t, m.t->root, 'E'), rows[i].env);
		done(&m);
	}
}

static void
test_envelope_full_buffer(void)
{
	struct msg m = parse(NESTED);
	size_t need;
	struct buf b;

	buf_init(&b, 4096);
	CHECK(imap_fetch_mime_envelope(&b, m.t, m.t->root) == 0);
	need = b.len;
	buf_release(&b, 0);
	for (size_t max = 0; max < need; max += 7) {
		buf_init(&b, max);
		CHECK(imap_fetch_mime_envelope(&b, m.t, m.t->root) < 0);
		buf_release(&b, 0);
	}
	buf_init(&b, need);
	CHECK(imap_fetch_mime_envelope(&b, m.t, m.t->root) == 0);
	buf_release(&b, 0);
	done(&m);
}

static const struct harness_test tests[] = {
	TEST(test_nested_parts),
	TEST(test_nested_render),
	TEST(test_nested_bare_lf),
	TEST(test_sections),
	TEST(test_header_fields),
	TEST(test_header_filter),
	TEST(test_append_wire),
	TEST(test_malformed_structure),
	TEST(test_nul_and_long_lines),
	TEST(test_every_truncation),
	TEST(test_depth_limit),
	TEST(test_part_limit),
	TEST(test_content_fields),
	TEST(test_many_params),
	TEST(test_nstring),
	TEST(test_envelopes),
	TEST(test_envelope_full_buffer),
};

HARNESS_MAIN("mime", tests)
