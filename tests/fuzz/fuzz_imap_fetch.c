/* libFuzzer target: IMAP FETCH attribute lists (imap/imap_fetch.c) and
 * STORE/APPEND flag lists (imap/imap_flags.c). Byte 0 holds options:
 * bit 0 UID FETCH, bit 1 the second message, bit 2 flags parsed
 * paren_only, bit 3 write once more into a buffer of (byte 0 >> 4) * 61
 * octets. The rest is the text after FETCH's sequence set, written for a
 * fixed message: a multipart/mixed with an alternative and a
 * message/rfc822, or one with bare LFs, a lone CR, a NUL and no final
 * line end.
 *
 * Besides memory errors it aborts when: a parse that fails leaves a
 * list; writing fails with a large buffer; the response is not
 * "* 1 FETCH (" name SP value *(SP name SP value) ")\r\n" with balanced
 * lists, valid quoted strings and exact literal sizes, literals without
 * NUL; it has more than IMAP_FETCH_ITEMS_MAX + 2 items; a section's
 * value is not a literal or ""; a section's label, asked again as
 * BODY.PEEK[...] without the partial, does not parse or does not give
 * the whole of which the partial data is the slice at its origin; the
 * message stored with CRLF and with bare LFs gives different responses;
 * imap_fetch_needs() says 0 yet an item needs the tree (written with
 * none), or NEED_HEADER alone yet a tree of the header only answers
 * differently; a small buffer gives anything but -1 or the whole
 * response. The same input as a flag list: an accepted list has only
 * system flag bits and bits of named keywords, a refused one leaves the
 * keyword table as it was, added names are atoms of at most 64
 * octets. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "imap/imap_fetch.h"
#include "imap/imap_flags.h"
#include "imap/imap_parse.h"
#include "store/mime.h"
#include "store/uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)
#define OUT_MAX (16u << 20)

static const char nested[] =
	"From: Alice <alice@example.com>\r\n"
	"To: Bob <bob@example.org>, \"Smith, Carol\" <carol@example.org>\r\n"
	"Subject: nested\r\n"
	"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n"
	"Message-ID: <outer@example.com>\r\n"
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--outer\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"\r\n"
	"Part one.\r\n"
	"--outer\r\n"
	"Content-Type: multipart/alternative; boundary=alt\r\n"
	"\r\n"
	"--alt\r\n"
	"Content-Type: text/plain\r\n"
	"\r\n"
	"Plain\r\ntext\r\n"
	"--alt\r\n"
	"Content-Type: text/html\r\n"
	"\r\n"
	"<p>HTML</p>\r\n"
	"--alt--\r\n"
	"--outer\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: Carol <carol@example.net>\r\n"
	"Subject: inner\r\n"
	"Content-Type: multipart/mixed; boundary=in\r\n"
	"\r\n"
	"--in\r\n"
	"\r\n"
	"inner plain\r\n"
	"--in\r\n"
	"Content-Type: application/octet-stream\r\n"
	"\r\n"
	"AAEC\r\n"
	"--in--\r\n"
	"--outer--\r\n";

static const char odd[] =
	"Subject: odd\nX-A: 1\r\nContent-Type: multipart/mixed; boundary=b\n"
	"\n--b\n\none\r\n--b\nContent-Type: message/rfc822\n\nSubject: s\n\n"
	"three\rx\0y\n--b--\nend";

/* A message in a heap block of exactly its size, and its trees. */
struct msg {
	char *data;
	size_t len;
	struct mime_tree *t, *hdr;
};

static struct msg msgs[2][2];	/* [which][bare LF] */
static struct imap_args args;
static struct imap_args args2;

static void
msg_init(struct msg *m, const char *s, size_t len)
{
	m->data = malloc(len + 1);
	REQUIRE(m->data != NULL);
	memcpy(m->data, s, len);
	m->data[len] = '\0';
	m->len = len;
	m->t = mime_parse(m->data, len);
	m->hdr = mime_parse(m->data, m->t->root->header_len);
}

static void
setup(void)
{
	static bool done;
	const char *src[2] = { nested, odd };
	const size_t srclen[2] = { sizeof(nested) - 1, sizeof(odd) - 1 };

	if (done)
		return;
	done = true;
	for (int k = 0; k < 2; k++) {
		size_t n = srclen[k], o = 0;
		char *lf = malloc(n + 1);

		REQUIRE(lf != NULL);
		for (size_t i = 0; i < n; i++) {
			if (src[k][i] == '\r' && src[k][i + 1] == '\n')
				continue;
			lf[o++] = src[k][i];
		}
		msg_init(&msgs[k][0], src[k], n);
		msg_init(&msgs[k][1], lf, o);
		free(lf);
	}
}

static void
write_resp(struct buf *out, const struct imap_fetch *f,
    const struct mime_tree *t)
{
	struct imap_fetch_msg m = {
		.seq = 1, .uid = 9, .flags = UIDLIST_SEEN | IMAP_FLAG_RECENT,
		.size = 123, .internal_date = 1136239445, .tree = t,
		.seen_changed = imap_fetch_sets_seen(f),
	};

	buf_init(out, OUT_MAX);
	REQUIRE(imap_fetch_write(out, f, &m) == 0);
}

/* --- the response grammar ----------------------------------------- */

struct reader {
	const char *p, *end;
};

/* One value. A string's octets go to *s_r and *len_r, and *string_r
 * is 1 for a quoted string, 2 for a literal, else 0. */
static void
read_value(struct reader *r, unsigned depth, const char **s_r,
    size_t *len_r, int *string_r)
{
	*string_r = 0;
	REQUIRE(depth < 200 && r->p < r->end);
	if (*r->p == '(') {
		const char *s;
		size_t l;
		int str;

		r->p++;
		while (r->p < r->end && *r->p != ')') {
			read_value(r, depth + 1, &s, &l, &str);
			if (r->p < r->end && *r->p == ' ')
				r->p++;
		}
		REQUIRE(r->p < r->end);
		r->p++;
	} else if (*r->p == '"') {
		*s_r = ++r->p;
		while (r->p < r->end && *r->p != '"') {
			REQUIRE(*r->p != '\r' && *r->p != '\n' && *r->p != 0);
			if (*r->p == '\\') {
				r->p++;
				REQUIRE(r->p < r->end &&
				    (*r->p == '"' || *r->p == '\\'));
			}
			r->p++;
		}
		REQUIRE(r->p < r->end);
		*len_r = (size_t)(r->p - *s_r);
		*string_r = 1;
		r->p++;
	} else if (*r->p == '{') {
		char *e;
		unsigned long n = strtoul(r->p + 1, &e, 10);

		REQUIRE(e > r->p + 1 && e + 3 <= r->end && e[0] == '}' &&
		    e[1] == '\r' && e[2] == '\n');
		REQUIRE(n > 0 && n <= (size_t)(r->end - (e + 3)));
		REQUIRE(memchr(e + 3, '\0', n) == NULL);
		*s_r = e + 3;
		*len_r = n;
		*string_r = 2;
		r->p = e + 3 + n;
	} else {
		const char *s = r->p;

		while (r->p < r->end && *r->p != ' ' && *r->p != ')' &&
		    *r->p != '(') {
			REQUIRE(*r->p > 0x20 && *r->p < 0x7f);
			r->p++;
		}
		REQUIRE(r->p > s);
	}
	REQUIRE(r->p < r->end &&
	    (*r->p == ' ' || *r->p == ')' || *r->p == '('));
}

struct section {
	const char *name;
	size_t name_len;
	const char *data;
	size_t len;
};

/* Checks the response and collects its section items. */
static size_t
read_response(const struct buf *out, struct section *secs, size_t max)
{
	static const char head[] = "* 1 FETCH (";
	struct reader r = { out->data, out->data + out->len };
	size_t n = 0, items = 0;

	REQUIRE(out->len > sizeof(head) + 3 &&
	    memcmp(out->data, head, sizeof(head) - 1) == 0);
	REQUIRE(memcmp(r.end - 3, ")\r\n", 3) == 0);
	r.p += sizeof(head) - 1;
	r.end -= 2;
	for (;;) {
		const char *name = r.p, *s = NULL;
		size_t len = 0, name_len;
		int str, bracket = 0;

		while (r.p < r.end && (bracket || *r.p != ' ')) {
			REQUIRE(*r.p >= 0x20 && *r.p < 0x7f);
			if (*r.p == '[')
				bracket = 1;
			else if (*r.p == ']')
				bracket = 0;
			r.p++;
		}
		REQUIRE(r.p < r.end && r.p > name);
		name_len = (size_t)(r.p - name);
		r.p++;
		read_value(&r, 0, &s, &len, &str);
		items++;
		if ((name_len > 5 && memcmp(name, "BODY[", 5) == 0) ||
		    (name_len >= 6 && memcmp(name, "RFC822", 6) == 0 &&
		    (name_len != 11 || memcmp(name, "RFC822.SIZE", 11) != 0))) {
			REQUIRE(str == 2 || (str == 1 && len == 0));
			REQUIRE(n < max);
			secs[n].name = name;
			secs[n].name_len = name_len;
			secs[n].data = s;
			secs[n].len = len;
			n++;
		}
		if (*r.p == ')') {
			REQUIRE(r.p + 1 == r.end);
			break;
		}
		REQUIRE(*r.p == ' ');
		r.p++;
	}
	REQUIRE(items <= IMAP_FETCH_ITEMS_MAX + 2);
	return n;
}

/* BODY[spec]<a> or RFC822*: refetches the whole section by its label
 * and checks that the data is the slice at a. */
static void
check_section(const struct section *sec, const struct mime_tree *t)
{
	char attrs[2 * IMAP_LINE_MAX];
	const char *name = sec->name, *close = NULL;
	size_t len = sec->name_len, alen;
	unsigned long origin = 0;
	int partial = 0;
	struct imap_fetch *f = NULL;
	const char *error;
	struct buf out;
	struct section whole;

	if (name[4] != '[') {
		/* RFC822, RFC822.HEADER, RFC822.TEXT */
		static const char *const as[][2] = {
			{ "RFC822", "BODY.PEEK[]" },
			{ "RFC822.HEADER", "BODY.PEEK[HEADER]" },
			{ "RFC822.TEXT", "BODY.PEEK[TEXT]" },
		};
		size_t k = 0;

		while (k < 3 && (strlen(as[k][0]) != len ||
		    memcmp(as[k][0], name, len) != 0))
			k++;
		REQUIRE(k < 3);
		alen = (size_t)snprintf(attrs, sizeof(attrs), "%s", as[k][1]);
	} else {
		close = memchr(name, ']', len);
		REQUIRE(close != NULL);
		if (close + 1 < name + len) {
			char *e;

			REQUIRE(close[1] == '<' && name[len - 1] == '>');
			partial = 1;
			origin = strtoul(close + 2, &e, 10);
			REQUIRE(e == name + len - 1);
		}
		alen = (size_t)snprintf(attrs, sizeof(attrs), "BODY.PEEK%.*s",
		    (int)(close + 1 - (name + 4)), name + 4);
	}
	REQUIRE(alen < sizeof(attrs));
	imap_args_init(&args2, attrs, alen);
	REQUIRE(imap_fetch_parse(&args2, 0, &f, &error) == 0);
	write_resp(&out, f, t);
	REQUIRE(read_response(&out, &whole, 1) == 1);
	if (!partial)
		REQUIRE(sec->len == whole.len &&
		    memcmp(sec->data, whole.data, whole.len) == 0);
	else if (origin >= whole.len)
		REQUIRE(sec->len == 0);
	else
		REQUIRE(sec->len <= whole.len - origin &&
		    memcmp(sec->data, whole.data + origin, sec->len) == 0);
	buf_release(&out, 0);
	imap_fetch_free(&f);
}

/* --- flag lists ---------------------------------------------------- */

static void
check_flags(const char *s, size_t len, int paren_only)
{
	char kw[UIDLIST_KEYWORDS][65] = { "$Forwarded", "", "Junk", "" };
	char before[UIDLIST_KEYWORDS][65];
	unsigned flags;
	uint32_t bits;
	int added, rc;
	const char *error = NULL;

	memcpy(before, kw, sizeof(kw));
	imap_args_init(&args, s, len);
	rc = imap_flags_parse(&args, paren_only, kw, len & 1, &flags, &bits,
	    &added, &error);
	if (rc < 0) {
		REQUIRE(rc == -1 || rc == -2);
		REQUIRE(error != NULL);
		REQUIRE(memcmp(kw, before, sizeof(kw)) == 0);
		return;
	}
	REQUIRE((flags & ~(unsigned)(UIDLIST_SEEN | UIDLIST_ANSWERED |
	    UIDLIST_FLAGGED | UIDLIST_DELETED | UIDLIST_DRAFT)) == 0);
	REQUIRE(added == 0 || added == 1);
	REQUIRE(added == 1 || memcmp(kw, before, sizeof(kw)) == 0);
	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		size_t n = strnlen(kw[k], sizeof(kw[k]));

		REQUIRE(n <= UIDLIST_KEYWORD_MAX);
		if ((bits & (UINT32_C(1) << k)) != 0)
			REQUIRE(n > 0);
		if (before[k][0] != '\0') {
			REQUIRE(strcmp(kw[k], before[k]) == 0);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)kw[k][i];

			REQUIRE(c > 0x20 && c < 0x7f && c != '(' && c != ')' &&
			    c != '{' && c != '%' && c != '*' && c != '"' &&
			    c != '\\' && c != ']');
		}
		if (n > 0)
			REQUIRE((bits & (UINT32_C(1) << k)) != 0);
	}
	REQUIRE((bits >> UIDLIST_KEYWORDS) == 0);
}

/* --- the target ---------------------------------------------------- */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct section secs[IMAP_FETCH_ITEMS_MAX + 2];
	struct imap_fetch *f = NULL;
	const char *error = NULL;
	struct buf a, b, c;
	unsigned opt;
	const struct msg *m;
	char *text;
	size_t len, n;
	int needs, rc;

	if (size < 1 || size > IMAP_LINE_MAX)
		return 0;
	setup();
	opt = data[0];
	len = size - 1;
	text = malloc(len + 1);
	REQUIRE(text != NULL);
	memcpy(text, data + 1, len);
	text[len] = '\0';
	m = msgs[(opt >> 1) & 1];

	check_flags(text, len, (opt >> 2) & 1);

	imap_args_init(&args, text, len);
	rc = imap_fetch_parse(&args, opt & 1, &f, &error);
	if (rc < 0) {
		REQUIRE(rc == -1 && f == NULL && error != NULL);
		free(text);
		return 0;
	}
	REQUIRE(f != NULL);
	needs = imap_fetch_needs(f);
	REQUIRE((needs & ~(IMAP_FETCH_NEED_HEADER | IMAP_FETCH_NEED_BODY)) ==
	    0);

	/* CRLF and bare LF give the same octets; tree only when needed */
	write_resp(&a, f, needs != 0 ? m[0].t : NULL);
	write_resp(&b, f, needs != 0 ? m[1].t : NULL);
	REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	if (needs == IMAP_FETCH_NEED_HEADER) {
		buf_release(&b, 0);
		write_resp(&b, f, m[0].hdr);
		REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		buf_release(&b, 0);
		write_resp(&b, f, m[1].hdr);
		REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	}

	n = read_response(&a, secs, sizeof(secs) / sizeof(secs[0]));
	for (size_t i = 0; i < n; i++)
		check_section(&secs[i], m[0].t);

	if ((opt & 8) != 0) {
		struct imap_fetch_msg fm = {
			.seq = 1, .uid = 9,
			.flags = UIDLIST_SEEN | IMAP_FLAG_RECENT, .size = 123,
			.internal_date = 1136239445,
			.tree = needs != 0 ? m[0].t : NULL,
			.seen_changed = imap_fetch_sets_seen(f),
		};

		buf_init(&c, (opt >> 4) * 61u);
		rc = imap_fetch_write(&c, f, &fm);
		REQUIRE(rc == 0 || rc == -1);
		if (rc == 0)
			REQUIRE(c.len == a.len &&
			    memcmp(c.data, a.data, a.len) == 0);
		else
			REQUIRE(a.len > (opt >> 4) * 61u);
		buf_release(&c, 0);
	}
	buf_release(&a, 0);
	buf_release(&b, 0);
	imap_fetch_free(&f);
	REQUIRE(f == NULL);
	free(text);
	return 0;
}
