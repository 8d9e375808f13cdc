/* MIME structure of a message in memory: one pass over its lines builds
 * the tree of parts (RFC 2045, RFC 2046 section 5).
 * SECURITY: the message is untrusted. Every loop advances; recursion is
 * bounded by MIME_MAX_DEPTH, parts by MIME_MAX_PARTS, parameters by
 * MIME_MAX_PARAMS; memory grows with the header sizes only. */
#include "store/mime.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

#define ARENA_CHUNK 8192

struct mime_arena {
	struct mime_arena *next;
	size_t used, cap;
	max_align_t data[];
};

/* Zeroed memory that lives as long as the tree. */
static void *
arena_alloc(struct mime_tree *t, size_t n)
{
	const size_t al = alignof(max_align_t);
	struct mime_arena *a = t->arena;
	char *p;

	MW_ASSERT(n <= (size_t)-1 / 2);
	n = (n + al - 1) / al * al;
	if (a == NULL || a->cap - a->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;

		a = xmalloc(sizeof(*a) + cap);
		a->next = t->arena;
		a->used = 0;
		a->cap = cap;
		t->arena = a;
	}
	p = (char *)a->data + a->used;
	a->used += n;
	memset(p, 0, n);
	return p;
}

/* A NUL-terminated copy of p[0..n) without its NUL bytes. */
static char *
arena_str(struct mime_tree *t, const char *p, size_t n, bool lower)
{
	char *s = arena_alloc(t, n + 1), *o = s;

	for (size_t i = 0; i < n; i++) {
		char ch = p[i];

		if (ch == '\0')
			continue;
		if (lower && ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		*o++ = ch;
	}
	*o = '\0';
	return s;
}

static bool
is_wsp(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The unfolded, trimmed copy of an unstructured field value. */
static char *
arena_unfold(struct mime_tree *t, const char *p, size_t n)
{
	char *s = arena_alloc(t, n + 1), *o = s;

	while (n > 0 && is_wsp(*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\0' && p[i] != '\r' && p[i] != '\n')
			*o++ = p[i];
	}
	*o = '\0';
	return s;
}

static bool
name_eq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++) {
		char x = a[i], y = b[i];

		if (y == '\0')
			return false;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return b[i] == '\0';
}

/* --- header fields ------------------------------------------------ */

static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

static bool
is_blank(const char *p, const char *end)
{
	return (p < end && *p == '\n') ||
	    (end - p >= 2 && p[0] == '\r' && p[1] == '\n');
}

void
mime_header_init(struct mime_header_iter *it, const struct mime_tree *tree,
    const struct mime_part *part)
{
	it->p = tree->msg + part->header_off;
	it->end = it->p + part->header_len;
}

int
mime_header_next(struct mime_header_iter *it, struct mime_field *f)
{
	const char *p = it->p, *e, *ve, *first, *colon;

	if (p >= it->end || is_blank(p, it->end))
		return 0;
	e = line_end(p, it->end);
	while (e < it->end && (*e == ' ' || *e == '\t'))
		e = line_end(e, it->end);
	it->p = e;
	f->raw = p;
	f->raw_len = (size_t)(e - p);
	ve = e;
	if (ve > p && ve[-1] == '\n')
		ve--;
	if (ve > p && ve[-1] == '\r')
		ve--;
	first = memchr(p, '\n', (size_t)(ve - p));
	if (first == NULL)
		first = ve;
	colon = memchr(p, ':', (size_t)(first - p));
	f->name = p;
	if (colon == NULL || *p == ' ' || *p == '\t') {
		f->name_len = 0;
		f->value = p;
		f->value_len = (size_t)(ve - p);
		return 1;
	}
	f->name_len = (size_t)(colon - p);
	while (f->name_len > 0 && (p[f->name_len - 1] == ' ' ||
	    p[f->name_len - 1] == '\t'))
		f->name_len--;
	p = colon + 1;
	while (p < ve && is_wsp(*p))
		p++;
	f->value = p;
	f->value_len = (size_t)(ve - p);
	return 1;
}

int
mime_header_find(struct mime_header_iter *it, const char *name,
    struct mime_field *f)
{
	while (mime_header_next(it, f)) {
		if (f->name_len > 0 && name_eq(f->name, f->name_len, name))
			return 1;
	}
	return 0;
}

int
mime_unfold(struct buf *out, const char *p, size_t n)
{
	size_t i, run;

	while (n > 0 && is_wsp(*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_wsp(p[n - 1]))
		n--;
	for (i = 0; i < n; i += run + 1) {
		for (run = 0; i + run < n; run++) {
			char ch = p[i + run];

			if (ch == '\0' || ch == '\r' || ch == '\n')
				break;
		}
		if (buf_append(out, p + i, run) < 0)
			return -1;
	}
	return 0;
}

int
mime_header_get(const struct mime_tree *tree, const struct mime_part *part,
    const char *name, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;

	mime_header_init(&it, tree, part);
	if (!mime_header_find(&it, name, &f))
		return 0;
	return mime_unfold(out, f.value, f.value_len) < 0 ? -1 : 1;
}

int
mime_header_filter(const struct mime_tree *tree,
    const struct mime_part *part, const char *const *names, size_t n,
    int not, struct buf *out)
{
	struct mime_header_iter it;
	struct mime_field f;

	mime_header_init(&it, tree, part);
	while (mime_header_next(&it, &f)) {
		bool named = false;

		for (size_t i = 0; i < n && f.name_len > 0 && !named; i++)
			named = name_eq(f.name, f.name_len, names[i]);
		if (named == (not != 0))
			continue;
		if (mime_append_wire(out, tree, (size_t)(f.raw - tree->msg),
		    f.raw_len) < 0)
			return -1;
	}
	return buf_append(out, "\r\n", 2);
}

int
mime_append_wire(struct buf *out, const struct mime_tree *tree, size_t off,
    size_t len)
{
	const char *msg = tree->msg, *p, *end, *nl;

	if (off > tree->len || len > tree->len - off)
		return -1;
	p = msg + off;
	end = p + len;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			if (buf_append(out, p, (size_t)(end - p)) < 0)
				return -1;
			break;
		}
		if (nl == msg || nl[-1] != '\r') {
			if (buf_append(out, p, (size_t)(nl - p)) < 0 ||
			    buf_append(out, "\r\n", 2) < 0)
				return -1;
		} else if (buf_append(out, p, (size_t)(nl + 1 - p)) < 0) {
			return -1;
		}
		p = nl + 1;
	}
	return 0;
}

const char *
mime_param_get(const struct mime_part *part, const char *name)
{
	for (unsigned int i = 0; i < part->n_params; i++) {
		if (strcmp(part->params[i].name, name) == 0)
			return part->params[i].value;
	}
	return NULL;
}

/* --- structured field values (RFC 2045 5.1 lexical rules) --------- */

struct lex {
	const char *p, *end;
};

/* Skips whitespace, folds and (nested) comments. */
static void
lex_cfws(struct lex *l)
{
	size_t depth = 0;

	while (l->p < l->end) {
		char ch = *l->p;

		if (depth > 0) {
			if (ch == '\\' && l->end - l->p > 1)
				l->p++;
			else if (ch == '(')
				depth++;
			else if (ch == ')')
				depth--;
		} else if (ch == '(') {
			depth = 1;
		} else if (!is_wsp(ch)) {
			break;
		}
		l->p++;
	}
}

static bool
is_tchar(unsigned char ch)
{
	return ch > 0x20 && ch != 0x7f &&
	    strchr("()<>@,;:\\\"/[]?=", ch) == NULL;
}

/* A MIME token (8-bit octets tolerated); its length, 0 if none. */
static size_t
lex_token(struct lex *l, const char **s_r)
{
	*s_r = l->p;
	while (l->p < l->end && is_tchar((unsigned char)*l->p))
		l->p++;
	return (size_t)(l->p - *s_r);
}

/* A parameter value: a quoted string (unterminated runs to the end), or
 * leniently anything up to whitespace, ';', '"' or '('. A copy when
 * keep is set, else NULL. */
static const char *
lex_value(struct mime_tree *t, struct lex *l, bool keep)
{
	const char *s = l->p, *e;
	char *v, *o;

	if (l->p >= l->end || *l->p != '"') {
		while (l->p < l->end && !is_wsp(*l->p) && *l->p != ';' &&
		    *l->p != '"' && *l->p != '(')
			l->p++;
		return keep ? arena_str(t, s, (size_t)(l->p - s), false) : NULL;
	}
	s = ++l->p;
	while (l->p < l->end && *l->p != '"')
		l->p += *l->p == '\\' && l->end - l->p > 1 ? 2 : 1;
	e = l->p;
	if (l->p < l->end)
		l->p++;
	if (!keep)
		return NULL;
	v = o = arena_alloc(t, (size_t)(e - s) + 1);
	while (s < e) {
		char ch = *s++;

		if (ch == '\\' && s < e)
			ch = *s++;
		if (ch != '\0' && ch != '\r' && ch != '\n')
			*o++ = ch;
	}
	*o = '\0';
	return v;
}

/* The ";" name "=" value list after a Content-Type or -Disposition
 * value; junk is skipped up to the next ';'. */
static unsigned int
parse_params(struct mime_tree *t, struct lex *l, struct mime_param **out)
{
	struct mime_param tmp[MIME_MAX_PARAMS];
	unsigned int n = 0;

	for (;;) {
		const char *name, *value;
		size_t nlen;

		lex_cfws(l);
		if (l->p >= l->end)
			break;
		if (*l->p != ';') {
			while (l->p < l->end && *l->p != ';')
				l->p++;
			continue;
		}
		l->p++;
		lex_cfws(l);
		nlen = lex_token(l, &name);
		if (nlen == 0)
			continue;
		lex_cfws(l);
		if (l->p >= l->end || *l->p != '=')
			continue;
		l->p++;
		lex_cfws(l);
		value = lex_value(t, l, n < MIME_MAX_PARAMS);
		if (n < MIME_MAX_PARAMS) {
			tmp[n].name = arena_str(t, name, nlen, true);
			tmp[n].value = value;
			n++;
		}
	}
	if (n > 0) {
		*out = arena_alloc(t, n * sizeof(**out));
		memcpy(*out, tmp, n * sizeof(**out));
	}
	return n;
}

/* type "/" subtype params; an invalid value keeps the default. */
static void
parse_content_type(struct mime_tree *t, struct mime_part *part,
    const char *v, size_t n)
{
	struct lex l = { v, v + n };
	const char *type, *sub;
	size_t tlen, slen;

	lex_cfws(&l);
	tlen = lex_token(&l, &type);
	lex_cfws(&l);
	if (tlen == 0 || l.p >= l.end || *l.p != '/')
		return;
	l.p++;
	lex_cfws(&l);
	slen = lex_token(&l, &sub);
	if (slen == 0)
		return;
	part->type = arena_str(t, type, tlen, true);
	part->subtype = arena_str(t, sub, slen, true);
	part->n_params = parse_params(t, &l, &part->params);
}

static void
parse_disposition(struct mime_tree *t, struct mime_part *part,
    const char *v, size_t n)
{
	struct lex l = { v, v + n };
	const char *s;
	size_t len;

	lex_cfws(&l);
	len = lex_token(&l, &s);
	if (len == 0)
		return;
	part->disposition = arena_str(t, s, len, true);
	part->n_disp_params = parse_params(t, &l, &part->disp_params);
}

static void
parse_languages(struct mime_tree *t, struct mime_part *part,
    const char *v, size_t n)
{
	const char *tmp[MIME_MAX_LANGUAGES], *s;
	struct lex l = { v, v + n };
	unsigned int k = 0;
	size_t len;

	for (;;) {
		lex_cfws(&l);
		if (l.p >= l.end)
			break;
		len = lex_token(&l, &s);
		if (len == 0) {
			l.p++;	/* ',' or junk */
			continue;
		}
		if (k < MIME_MAX_LANGUAGES)
			tmp[k++] = arena_str(t, s, len, false);
	}
	if (k == 0)
		return;
	part->languages = arena_alloc(t, k * sizeof(*part->languages));
	memcpy(part->languages, tmp, k * sizeof(*part->languages));
	part->n_languages = k;
}

static const char *
parse_token_value(struct mime_tree *t, const char *v, size_t n)
{
	struct lex l = { v, v + n };
	const char *s;
	size_t len;

	lex_cfws(&l);
	len = lex_token(&l, &s);
	return len > 0 ? arena_str(t, s, len, true) : NULL;
}

/* The MIME fields of part's header; the first of each counts. */
static void
parse_fields(struct mime_tree *t, struct mime_part *part, bool in_digest)
{
	static const char *const names[] = {
		"content-type", "content-transfer-encoding", "content-id",
		"content-description", "content-md5", "content-location",
		"content-disposition", "content-language",
	};
	struct mime_header_iter it;
	struct mime_field f;
	unsigned int seen = 0, i;

	part->type = in_digest ? "message" : "text";
	part->subtype = in_digest ? "rfc822" : "plain";
	mime_header_init(&it, t, part);
	while (mime_header_next(&it, &f)) {
		if (f.name_len < 8 || !name_eq(f.name, 8, "content-"))
			continue;
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			if (name_eq(f.name, f.name_len, names[i]))
				break;
		}
		if (i == sizeof(names) / sizeof(names[0]) ||
		    (seen & (1u << i)) != 0)
			continue;
		seen |= 1u << i;
		switch (i) {
		case 0:
			parse_content_type(t, part, f.value, f.value_len);
			break;
		case 1:
			part->encoding = parse_token_value(t, f.value,
			    f.value_len);
			break;
		case 2:
			part->id = arena_unfold(t, f.value, f.value_len);
			break;
		case 3:
			part->description = arena_unfold(t, f.value,
			    f.value_len);
			break;
		case 4:
			part->md5 = arena_unfold(t, f.value, f.value_len);
			break;
		case 5:
			part->location = arena_unfold(t, f.value, f.value_len);
			break;
		case 6:
			parse_disposition(t, part, f.value, f.value_len);
			break;
		default:
			parse_languages(t, part, f.value, f.value_len);
			break;
		}
	}
}

/* --- the structure ------------------------------------------------ */

struct bound {
	const char *s;
	size_t len;
};

/* A position with the LFs, and the bare ones, before it. */
struct mark {
	size_t off;
	uint64_t lfs, bare;
};

/* Where a body ended: a delimiter line, or the end of the message. */
struct stop {
	size_t ls;	/* start of the delimiter line, or len */
	int level;	/* its boundary in the stack; -1 at the end */
	bool close;	/* "--boundary--" */
};

struct ctx {
	struct mime_tree *t;
	const char *msg;
	size_t len;
	struct bound bound[MIME_MAX_DEPTH + 1];	/* enclosing multiparts */
	int n_bound;
	size_t pos;		/* start of the current line */
	uint64_t lfs, bare;	/* before pos */
};

static struct mark
mark_here(const struct ctx *c)
{
	struct mark m = { c->pos, c->lfs, c->bare };

	return m;
}

static void
line_next(struct ctx *c)
{
	const char *nl = memchr(c->msg + c->pos, '\n', c->len - c->pos);
	size_t i;

	if (nl == NULL) {
		c->pos = c->len;
		return;
	}
	i = (size_t)(nl - c->msg);
	c->lfs++;
	if (i == 0 || c->msg[i - 1] != '\r')
		c->bare++;
	c->pos = i + 1;
}

/* Is the current line a delimiter of an enclosing multipart? A line
 * that starts with "--" and a boundary is one, whatever follows: RFC
 * 2046 5.1.1 forbids content lines that start so, and Dovecot matches
 * the same way. The longest boundary wins, then the innermost. */
static bool
line_delim(const struct ctx *c, struct stop *st)
{
	const char *p = c->msg + c->pos;
	size_t avail = c->len - c->pos, best = 0;
	int level = -1;

	if (c->n_bound == 0 || avail < 3 || p[0] != '-' || p[1] != '-')
		return false;
	for (int i = c->n_bound - 1; i >= 0; i--) {
		const struct bound *b = &c->bound[i];

		if (b->len > best && b->len <= avail - 2 &&
		    memcmp(p + 2, b->s, b->len) == 0) {
			best = b->len;
			level = i;
		}
	}
	if (level < 0)
		return false;
	st->ls = c->pos;
	st->level = level;
	st->close = avail - 2 - best >= 2 && p[2 + best] == '-' &&
	    p[3 + best] == '-';
	return true;
}

/* Moves to the next delimiter line, or the end of the message. */
static void
scan_body(struct ctx *c, struct stop *st)
{
	while (c->pos < c->len) {
		if (line_delim(c, st))
			return;
		line_next(c);
	}
	st->ls = c->len;
	st->level = -1;
	st->close = false;
}

/* Where a body that stopped at st ends: the line end before a
 * delimiter belongs to the delimiter (RFC 2046 5.1.1). Never before
 * min, so that a part contains what was parsed inside it. */
static struct mark
mark_end(const struct ctx *c, const struct stop *st, struct mark min)
{
	struct mark m = mark_here(c);

	if (st->level >= 0 && m.off > 0 && c->msg[m.off - 1] == '\n') {
		m.off--;
		m.lfs--;
		if (m.off > 0 && c->msg[m.off - 1] == '\r')
			m.off--;
		else
			m.bare--;
	}
	return m.off < min.off ? min : m;
}

static void
set_range(struct mark a, struct mark b, size_t *off, size_t *len,
    uint64_t *size, uint64_t *lines)
{
	*off = a.off;
	*len = b.off - a.off;
	*size = *len + (b.bare - a.bare);
	*lines = b.lfs - a.lfs;

}

static bool
plain_encoding(const char *enc)
{
	return enc == NULL || strcmp(enc, "7bit") == 0 ||
	    strcmp(enc, "8bit") == 0 || strcmp(enc, "binary") == 0;
}

static struct mime_part *parse_entity(struct ctx *c, struct mime_part *parent,
    unsigned int depth, bool in_digest, struct stop *st, struct mark *end_r);

/* The body of a multipart: preamble, parts, epilogue. Called with the
 * current line the first of the body; leaves it at st. */
static void
parse_multipart(struct ctx *c, struct mime_part *part, const char *boundary,
    struct stop *st, struct mark *end_r)
{
	struct mime_part **tail = &part->children, *child;
	struct mark last = mark_here(c);
	bool digest = strcmp(part->subtype, "digest") == 0;
	int own = c->n_bound++;

	c->bound[own].s = boundary;
	c->bound[own].len = strlen(boundary);
	scan_body(c, st);
	while (st->level == own && !st->close) {
		line_next(c);
		if (c->t->n_parts >= MIME_MAX_PARTS) {
			part->flags |= MIME_PART_LIMITED;
			scan_body(c, st);
			continue;
		}
		child = parse_entity(c, part, part->depth + 1, digest, st,
		    &last);
		*tail = child;
		tail = &child->next;
		part->n_children++;
	}
	c->n_bound--;
	if (st->level == own) {
		/* the epilogue runs to an enclosing delimiter */
		line_next(c);
		scan_body(c, st);
	}
	*end_r = mark_end(c, st, last);
}

/* A part (or message) from the current line: header, then body. */
static struct mime_part *
parse_entity(struct ctx *c, struct mime_part *parent, unsigned int depth,
    bool in_digest, struct stop *st, struct mark *end_r)
{
	struct mime_part *part = arena_alloc(c->t, sizeof(*part));
	struct mark h = mark_here(c), b, end;
	bool stopped = false;
	const char *boundary;

	c->t->n_parts++;
	part->parent = parent;
	part->depth = depth;
	if (parent == NULL || (parent->flags & MIME_PART_RFC822) != 0)
		part->flags |= MIME_PART_MESSAGE;
	while (c->pos < c->len) {
		bool blank = is_blank(c->msg + c->pos, c->msg + c->len);

		if (line_delim(c, st)) {
			stopped = true;
			break;
		}
		line_next(c);
		if (blank)
			break;
	}
	b = mark_here(c);
	set_range(h, b, &part->header_off, &part->header_len,
	    &part->header_size, &part->header_lines);
	parse_fields(c->t, part, in_digest);
	if (strcmp(part->type, "multipart") == 0)
		part->flags |= MIME_PART_MULTIPART;
	else if (strcmp(part->type, "message") == 0 &&
	    strcmp(part->subtype, "rfc822") == 0)
		part->flags |= MIME_PART_RFC822;

	boundary = mime_param_get(part, "boundary");
	if (boundary != NULL && (boundary[0] == '\0' ||
	    strlen(boundary) > MIME_MAX_BOUNDARY))
		boundary = NULL;
	if (stopped) {
		end = b;
	} else if ((part->flags & MIME_PART_MULTIPART) != 0 &&
	    boundary != NULL && depth < MIME_MAX_DEPTH) {
		parse_multipart(c, part, boundary, st, &end);
	} else if ((part->flags & MIME_PART_RFC822) != 0 &&
	    plain_encoding(part->encoding) && depth < MIME_MAX_DEPTH &&
	    c->t->n_parts < MIME_MAX_PARTS) {
		part->message = parse_entity(c, part, depth + 1, false, st,
		    &end);
	} else {
		/* only the limits stop a multipart or message here */
		if (((part->flags & MIME_PART_MULTIPART) != 0 &&
		    boundary != NULL) ||
		    ((part->flags & MIME_PART_RFC822) != 0 &&
		    plain_encoding(part->encoding)))
			part->flags |= MIME_PART_LIMITED;
		scan_body(c, st);
		end = mark_end(c, st, b);
	}
	set_range(b, end, &part->body_off, &part->body_len,
	    &part->body_size, &part->body_lines);
	*end_r = end;
	return part;
}

struct mime_tree *
mime_parse(const char *msg, size_t len)
{
	struct mime_tree *t = xcalloc(1, sizeof(*t));
	struct ctx *c = xcalloc(1, sizeof(*c));
	struct stop st;
	struct mark end;

	t->msg = msg;
	t->len = len;
	c->t = t;
	c->msg = msg;
	c->len = len;
	t->root = parse_entity(c, NULL, 0, false, &st, &end);
	MW_ASSERT(c->pos == len && c->n_bound == 0);
	free(c);
	return t;
}

void
mime_free(struct mime_tree **tree)
{
	struct mime_tree *t = *tree;

	if (t == NULL)
		return;
	while (t->arena != NULL) {
		struct mime_arena *a = t->arena;

		t->arena = a->next;
		free(a);
	}
	free(t);
	*tree = NULL;
}

int
mime_section_find(const struct mime_tree *tree, const char *sec, size_t len,
    const struct mime_part **part_r)
{
	const struct mime_part *cur = tree->root;
	bool at_message = true;
	size_t i = 0;

	while (i < len) {
		uint64_t n = 0;

		if (sec[i] < '1' || sec[i] > '9')
			return -1;
		while (i < len && sec[i] >= '0' && sec[i] <= '9') {
			n = n * 10 + (uint64_t)(sec[i++] - '0');
			if (n > UINT32_MAX)
				return -1;
		}
		for (;;) {
			if (at_message &&
			    (cur->flags & MIME_PART_MULTIPART) == 0) {
				if (n != 1)
					return -1;
				at_message = false;
				break;
			}
			if ((cur->flags & MIME_PART_MULTIPART) != 0) {
				cur = cur->children;
				while (cur != NULL && --n > 0)
					cur = cur->next;
				if (cur == NULL)
					return -1;
				at_message = false;
				break;
			}
			if (cur->message == NULL)
				return -1;
			cur = cur->message;
			at_message = true;
		}
		if (i < len && (sec[i] != '.' || ++i == len))
			return -1;
	}
	*part_r = cur;
	return 0;
}
