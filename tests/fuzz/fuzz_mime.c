/* libFuzzer target: the MIME tree (store/mime.c) and IMAP's ENVELOPE,
 * BODY and BODYSTRUCTURE of it (imap/imap_fetch_mime.c). The input is
 * the message; its first line, cut to 64 octets, is also tried as a
 * section.
 *
 * Besides memory errors it aborts when: a part's ranges leave the
 * message or its parent's body, or header and body are not adjacent;
 * sizes and line counts differ from what mime_append_wire() writes; a
 * limit is passed; the section of any part (derived from the tree)
 * does not find that part, or any section finds a part not in the
 * tree; header fields leave the header; HEADER.FIELDS output has a bare
 * CR or LF or does not end with CRLF; rendering fails; a rendered
 * string breaks RFC 3501 7.4.2's grammar (parentheses, quoting, literal
 * sizes, NUL, the shape of body, envelope and address); or the message
 * stored with bare LFs made CRLF renders differently. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "imap/imap_fetch_mime.h"
#include "store/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

#define OUT_MAX (64u << 20)

/* --- the tree ----------------------------------------------------- */

static size_t
count_lfs(const struct buf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

static void
check_header(const struct mime_tree *t, const struct mime_part *p)
{
	static const char *const names[] = { "content-type", "subject" };
	struct mime_header_iter it;
	struct mime_field f;
	const char *start = t->msg + p->header_off;
	const char *end = start + p->header_len;
	struct buf b;

	mime_header_init(&it, t, p);
	while (mime_header_next(&it, &f)) {
		REQUIRE(f.raw >= start && f.raw + f.raw_len <= end);
		REQUIRE(f.raw_len > 0);
		REQUIRE(f.name == f.raw && f.name_len <= f.raw_len);
		REQUIRE(f.value >= f.raw &&
		    f.value + f.value_len <= f.raw + f.raw_len);
	}
	buf_init(&b, OUT_MAX);
	REQUIRE(mime_header_filter(t, p, names, 2, p->depth & 1, &b) == 0);
	REQUIRE(b.len >= 2 && memcmp(b.data + b.len - 2, "\r\n", 2) == 0);
	for (size_t i = 0; i < b.len; i++) {
		if (b.data[i] == '\n')
			REQUIRE(i > 0 && b.data[i - 1] == '\r');
	}
	buf_release(&b, 0);
}

static size_t
check_part(const struct mime_tree *t, const struct mime_part *p,
    const struct mime_part *parent, unsigned int depth)
{
	const struct mime_part *c;
	size_t n = 1, kids = 0;
	struct buf b;

	REQUIRE(p->parent == parent && p->depth == depth);
	REQUIRE(depth <= MIME_MAX_DEPTH);
	REQUIRE(p->header_off <= t->len &&
	    p->header_len <= t->len - p->header_off);
	REQUIRE(p->header_off + p->header_len == p->body_off);
	REQUIRE(p->body_len <= t->len - p->body_off);
	if (parent != NULL) {
		REQUIRE(p->header_off >= parent->body_off);
		REQUIRE(p->body_off + p->body_len <=
		    parent->body_off + parent->body_len);
	}
	REQUIRE(p->type != NULL && p->subtype != NULL);
	REQUIRE(p->n_params <= MIME_MAX_PARAMS &&
	    p->n_disp_params <= MIME_MAX_PARAMS);
	REQUIRE(p->n_languages <= MIME_MAX_LANGUAGES);
	buf_init(&b, OUT_MAX);
	REQUIRE(mime_append_wire(&b, t, p->body_off, p->body_len) == 0);
	REQUIRE(b.len == p->body_size && count_lfs(&b) == p->body_lines);
	buf_reset(&b);
	REQUIRE(mime_append_wire(&b, t, p->header_off, p->header_len) == 0);
	REQUIRE(b.len == p->header_size && count_lfs(&b) == p->header_lines);
	buf_release(&b, 0);
	check_header(t, p);
	for (c = p->children; c != NULL; c = c->next) {
		REQUIRE((p->flags & MIME_PART_MULTIPART) != 0);
		REQUIRE(c->next == NULL || c->next->header_off >=
		    c->body_off + c->body_len);
		n += check_part(t, c, p, depth + 1);
		kids++;
	}
	REQUIRE(kids == p->n_children);
	if (p->message != NULL) {
		REQUIRE((p->flags & MIME_PART_RFC822) != 0);
		REQUIRE(p->children == NULL);
		REQUIRE(p->message->header_off == p->body_off);
		REQUIRE(p->message->body_off + p->message->body_len ==
		    p->body_off + p->body_len);
		REQUIRE((p->message->flags & MIME_PART_MESSAGE) != 0);
		n += check_part(t, p->message, p, depth + 1);
	}
	return n;
}

/* --- sections ----------------------------------------------------- */

static void walk_part(const struct mime_tree *t, const struct mime_part *p,
    char *sec, size_t len);

static void
expect(const struct mime_tree *t, const char *sec, size_t len,
    const struct mime_part *want)
{
	const struct mime_part *got = NULL;

	REQUIRE(mime_section_find(t, sec, len, &got) == 0 && got == want);
}

/* Appends ".n" (or "n") to sec[0..len); the new length. */
static size_t
sec_add(char *sec, size_t len, unsigned int n)
{
	char num[16];
	size_t k = 0;

	do {
		num[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	if (len > 0)
		sec[len++] = '.';
	while (k > 0)
		sec[len++] = num[--k];
	return len;
}

/* The parts under message m, whose section is sec[0..len). */
static void
walk_message(const struct mime_tree *t, const struct mime_part *m,
    char *sec, size_t len)
{
	size_t l;

	if ((m->flags & MIME_PART_MULTIPART) == 0) {
		l = sec_add(sec, len, 1);
		expect(t, sec, l, m);
		walk_part(t, m, sec, l);
		return;
	}
	walk_part(t, m, sec, len);
}

static void
walk_part(const struct mime_tree *t, const struct mime_part *p, char *sec,
    size_t len)
{
	const struct mime_part *none;
	unsigned int i = 1;
	size_t l;

	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		for (const struct mime_part *c = p->children; c != NULL;
		    c = c->next, i++) {
			l = sec_add(sec, len, i);
			expect(t, sec, l, c);
			walk_part(t, c, sec, l);
		}
		l = sec_add(sec, len, i);
		REQUIRE(mime_section_find(t, sec, l, &none) < 0);
	} else if (p->message != NULL) {
		walk_message(t, p->message, sec, len);
	}
}

static bool
in_tree(const struct mime_part *p, const struct mime_part *want)
{
	if (p == want)
		return true;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		if (in_tree(c, want))
			return true;
	}
	return p->message != NULL && in_tree(p->message, want);
}

/* --- the rendered strings (RFC 3501 9) ---------------------------- */

enum { N_NIL, N_STR, N_NUM, N_LIST };

struct node {
	int kind;
	const char *s;		/* N_STR: raw (quoted: escapes kept) */
	size_t len;
	struct node *kids;	/* N_LIST */
	size_t n;
};

struct reader {
	const char *p, *end;
};

static void
node_free(struct node *x)
{
	for (size_t i = 0; i < x->n; i++)
		node_free(&x->kids[i]);
	free(x->kids);
}

/* Reads one item, checking quoting, literal sizes and parentheses. */
static void
read_node(struct reader *r, struct node *x, unsigned int depth)
{
	memset(x, 0, sizeof(*x));
	REQUIRE(depth < 4 * MIME_MAX_DEPTH + 16);
	REQUIRE(r->p < r->end);
	if (*r->p == '(') {
		size_t cap = 0;

		x->kind = N_LIST;
		r->p++;
		while (r->p < r->end && *r->p != ')') {
			if (x->n > 0 && *r->p == ' ')
				r->p++;
			if (x->n == cap) {
				cap = cap ? 2 * cap : 8;
				x->kids = realloc(x->kids,
				    cap * sizeof(*x->kids));
				REQUIRE(x->kids != NULL);
			}
			read_node(r, &x->kids[x->n++], depth + 1);
		}
		REQUIRE(r->p < r->end && x->n > 0);
		r->p++;
	} else if (*r->p == '"') {
		x->kind = N_STR;
		x->s = ++r->p;
		while (r->p < r->end && *r->p != '"') {
			unsigned char ch = (unsigned char)*r->p;

			REQUIRE(ch != 0 && ch < 0x80 && ch != '\r' &&
			    ch != '\n');
			if (ch == '\\') {
				r->p++;
				REQUIRE(r->p < r->end &&
				    (*r->p == '"' || *r->p == '\\'));
			}
			r->p++;
		}
		REQUIRE(r->p < r->end);
		x->len = (size_t)(r->p++ - x->s);
	} else if (*r->p == '{') {
		char *e;
		unsigned long n = strtoul(r->p + 1, &e, 10);

		REQUIRE(e > r->p + 1 && e + 3 <= r->end && e[0] == '}' &&
		    e[1] == '\r' && e[2] == '\n');
		REQUIRE(n <= (size_t)(r->end - (e + 3)));
		x->kind = N_STR;
		x->s = e + 3;
		x->len = n;
		REQUIRE(memchr(x->s, '\0', n) == NULL);
		r->p = x->s + n;
	} else if (r->end - r->p >= 3 && memcmp(r->p, "NIL", 3) == 0) {
		x->kind = N_NIL;
		r->p += 3;
	} else {
		x->kind = N_NUM;
		x->s = r->p;
		while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
			r->p++;
		x->len = (size_t)(r->p - x->s);
		REQUIRE(x->len > 0);
	}
	REQUIRE(r->p == r->end || *r->p == ' ' || *r->p == ')' ||
	    *r->p == '(');
}

static bool
is_str(const struct node *x, const char *s)
{
	return x->kind == N_STR && x->len == strlen(s) &&
	    strncasecmp(x->s, s, x->len) == 0;
}

#define NSTRING(x) REQUIRE((x)->kind == N_NIL || (x)->kind == N_STR)

static void
check_params(const struct node *x)
{
	if (x->kind == N_NIL)
		return;
	REQUIRE(x->kind == N_LIST && x->n % 2 == 0);
	for (size_t i = 0; i < x->n; i++)
		REQUIRE(x->kids[i].kind == N_STR);
}

static void
check_dsp_lang_loc(const struct node *x)
{
	if (x[0].kind == N_LIST) {
		REQUIRE(x[0].n == 2 && x[0].kids[0].kind == N_STR);
		check_params(&x[0].kids[1]);
	} else {
		REQUIRE(x[0].kind == N_NIL);
	}
	if (x[1].kind == N_LIST) {
		for (size_t i = 0; i < x[1].n; i++)
			REQUIRE(x[1].kids[i].kind == N_STR);
	} else {
		NSTRING(&x[1]);
	}
	NSTRING(&x[2]);
}

static void
check_addresses(const struct node *x)
{
	int group = 0;

	if (x->kind == N_NIL)
		return;
	REQUIRE(x->kind == N_LIST);
	for (size_t i = 0; i < x->n; i++) {
		const struct node *a = &x->kids[i];

		REQUIRE(a->kind == N_LIST && a->n == 4);
		for (size_t k = 0; k < 4; k++)
			NSTRING(&a->kids[k]);
		if (a->kids[3].kind == N_NIL) {
			/* group start (mailbox is its name) or end */
			REQUIRE(a->kids[0].kind == N_NIL &&
			    a->kids[1].kind == N_NIL);
			if (a->kids[2].kind == N_STR) {
				REQUIRE(!group);
				group = 1;
			} else {
				REQUIRE(group);
				group = 0;
			}
		} else {
			REQUIRE(a->kids[2].kind == N_STR);
		}
	}
	REQUIRE(!group);
}

static void
check_envelope(const struct node *x)
{
	REQUIRE(x->kind == N_LIST && x->n == 10);
	NSTRING(&x->kids[0]);
	NSTRING(&x->kids[1]);
	for (size_t i = 2; i < 8; i++)
		check_addresses(&x->kids[i]);
	NSTRING(&x->kids[8]);
	NSTRING(&x->kids[9]);
}

static void
check_body(const struct node *x, bool ext)
{
	size_t i = 0, n;

	REQUIRE(x->kind == N_LIST && x->n > 0);
	if (x->kids[0].kind == N_LIST) {
		while (i < x->n && x->kids[i].kind == N_LIST)
			check_body(&x->kids[i++], ext);
		REQUIRE(i < x->n && x->kids[i++].kind == N_STR);
		if (ext) {
			REQUIRE(x->n == i + 4);
			check_params(&x->kids[i]);
			check_dsp_lang_loc(&x->kids[i + 1]);
		} else {
			REQUIRE(x->n == i);
		}
		return;
	}
	REQUIRE(x->n >= 7);
	REQUIRE(x->kids[0].kind == N_STR && x->kids[1].kind == N_STR);
	check_params(&x->kids[2]);
	NSTRING(&x->kids[3]);
	NSTRING(&x->kids[4]);
	REQUIRE(x->kids[5].kind == N_STR && x->kids[6].kind == N_NUM);
	n = 7;
	if (is_str(&x->kids[0], "message") && is_str(&x->kids[1], "rfc822")) {
		REQUIRE(x->n >= 10);
		check_envelope(&x->kids[7]);
		check_body(&x->kids[8], ext);
		REQUIRE(x->kids[9].kind == N_NUM);
		n = 10;
	} else if (is_str(&x->kids[0], "text")) {
		REQUIRE(x->n >= 8 && x->kids[7].kind == N_NUM);
		n = 8;
	}
	if (ext) {
		REQUIRE(x->n == n + 4);
		NSTRING(&x->kids[n]);
		check_dsp_lang_loc(&x->kids[n + 1]);
	} else {
		REQUIRE(x->n == n);
	}
}

/* Parses out as one item and checks it with fn. */
static void
check_rendered(const struct buf *out, void (*fn)(const struct node *, bool),
    bool ext)
{
	struct reader r = { out->data, out->data + out->len };
	struct node x;

	read_node(&r, &x, 0);
	REQUIRE(r.p == r.end);
	fn(&x, ext);
	node_free(&x);
}

static void
envelope_fn(const struct node *x, bool ext)
{
	(void)ext;
	check_envelope(x);
}

/* BODYSTRUCTURE, BODY and ENVELOPE of the root and of every message
 * under it, all into one buffer (returned for comparison). */
static void
render_all(const struct mime_tree *t, const struct mime_part *p,
    struct buf *all)
{
	struct buf b;

	buf_init(&b, OUT_MAX);
	if ((p->flags & MIME_PART_MESSAGE) != 0) {
		REQUIRE(imap_fetch_mime_envelope(&b, t, p) == 0);
		check_rendered(&b, envelope_fn, false);
		REQUIRE(buf_append(all, b.data, b.len) == 0);
		buf_reset(&b);
	}
	REQUIRE(imap_fetch_mime_bodystructure(&b, t, p) == 0);
	check_rendered(&b, check_body, true);
	REQUIRE(buf_append(all, b.data, b.len) == 0);
	buf_reset(&b);
	REQUIRE(imap_fetch_mime_body(&b, t, p) == 0);
	check_rendered(&b, check_body, false);
	REQUIRE(buf_append(all, b.data, b.len) == 0);
	buf_release(&b, 0);
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		render_all(t, c, all);
	if (p->message != NULL)
		render_all(t, p->message, all);
}

static void
run(const char *msg, size_t len, struct buf *all)
{
	struct mime_tree *t = mime_parse(msg, len);
	const struct mime_part *p = NULL;
	const char *nl = memchr(msg, '\n', len);
	size_t slen = nl != NULL ? (size_t)(nl - msg) : len;
	char *sec;

	REQUIRE(t->root->header_off == 0 &&
	    t->root->body_off + t->root->body_len == len);
	REQUIRE(check_part(t, t->root, NULL, 0) == t->n_parts);
	REQUIRE(t->n_parts <= MIME_MAX_PARTS);

	/* a section is at most 11 octets per level, two levels a part */
	sec = malloc(2 * 11 * (MIME_MAX_DEPTH + 2));
	REQUIRE(sec != NULL);
	expect(t, "", 0, t->root);
	walk_message(t, t->root, sec, 0);
	free(sec);
	if (mime_section_find(t, msg, slen < 64 ? slen : 64, &p) == 0)
		REQUIRE(in_tree(t->root, p));

	render_all(t, t->root, all);
	mime_free(&t);
	REQUIRE(t == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *msg = malloc(size + 1), *crlf = malloc(2 * size + 1);
	struct buf a, b;
	size_t n = 0;

	REQUIRE(msg != NULL && crlf != NULL);
	memcpy(msg, data, size);
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			crlf[n++] = '\r';
		crlf[n++] = (char)data[i];
	}
	buf_init(&a, OUT_MAX);
	buf_init(&b, OUT_MAX);
	run(msg, size, &a);
	run(crlf, n, &b);
	/* sizes and lines are of the wire form: storing it changes nothing */
	REQUIRE(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	buf_release(&a, 0);
	buf_release(&b, 0);
	free(msg);
	free(crlf);
	return 0;
}
