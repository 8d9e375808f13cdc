/* IMAP ENVELOPE, BODY and BODYSTRUCTURE of a parsed message: RFC 3501
 * 7.4.2, with addresses parsed per RFC 5322 3.4 (obsolete forms and
 * junk tolerated).
 * SECURITY: header values are untrusted. Every string goes out quoted
 * or as a literal with its exact size; output is bounded by out's
 * maximum; the address parser consumes a token on every step. */
#include "imap/imap_fetch_mime.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "core/buf.h"
#include "store/mime.h"

#define EMPTY_BODY "(\"text\" \"plain\" (\"charset\" \"us-ascii\") " \
	"NIL NIL \"7bit\" 0 0"

int
imap_fetch_mime_nstring(struct buf *out, const char *s, size_t len)
{
	bool literal = len > IMAP_FETCH_MIME_QUOTED_MAX;
	size_t n = 0, i, run;

	if (s == NULL)
		return buf_append(out, "NIL", 3);
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\0')
			continue;
		n++;
		if (ch >= 0x80 || ch == '\r' || ch == '\n')
			literal = true;
	}
	if (literal ? buf_printf(out, "{%zu}\r\n", n) < 0 :
	    buf_append(out, "\"", 1) < 0)
		return -1;
	for (i = 0; i < len; i += run + 1) {
		for (run = 0; i + run < len; run++) {
			char ch = s[i + run];

			if (ch == '\0' ||
			    (!literal && (ch == '"' || ch == '\\')))
				break;
		}
		if (buf_append(out, s + i, run) < 0)
			return -1;
		if (i + run < len && s[i + run] != '\0' &&
		    (buf_append(out, "\\", 1) < 0 ||
		    buf_append(out, s + i + run, 1) < 0))
			return -1;
	}
	return literal ? 0 : buf_append(out, "\"", 1);
}

static int
put_string(struct buf *out, const char *s)
{
	return imap_fetch_mime_nstring(out, s, s != NULL ? strlen(s) : 0);
}

/* --- addresses ---------------------------------------------------- */

enum { TOK_END, TOK_ATOM, TOK_QUOTED, TOK_DLIT, TOK_JUNK };

struct atok {
	int kind;		/* TOK_*, or one of < > @ , ; : . */
	const char *s;		/* TOK_QUOTED: inside the quotes */
	size_t len;
	bool space;		/* whitespace or a comment before it */
	const char *comment;	/* the first comment before it, inside */
	size_t comment_len;
};

struct aparse {
	const char *p, *end;
	struct atok tok;
	bool have;		/* tok is peeked */
	struct buf *out;	/* NULL: count only */
	size_t count;
	bool err;
	struct buf name, local, domain, route;
};

static void
skip_cfws(struct aparse *a, struct atok *t)
{
	while (a->p < a->end) {
		const char *s;
		size_t depth = 1;

		if (*a->p == ' ' || *a->p == '\t' || *a->p == '\r' ||
		    *a->p == '\n') {
			a->p++;
			t->space = true;
			continue;
		}
		if (*a->p != '(')
			break;
		s = ++a->p;
		while (a->p < a->end && depth > 0) {
			if (*a->p == '\\' && a->end - a->p > 1)
				a->p++;
			else if (*a->p == '(')
				depth++;
			else if (*a->p == ')')
				depth--;
			a->p++;
		}
		if (t->comment == NULL) {
			t->comment = s;
			t->comment_len = (size_t)(a->p - s) - (depth == 0);
		}
		t->space = true;
	}
}

static struct atok *
peek(struct aparse *a)
{
	struct atok *t = &a->tok;
	const char *s;

	if (a->have)
		return t;
	a->have = true;
	memset(t, 0, sizeof(*t));
	skip_cfws(a, t);
	if (a->p >= a->end) {
		t->kind = TOK_END;
		return t;
	}
	s = a->p;
	if (*s == '"') {
		t->kind = TOK_QUOTED;
		t->s = ++a->p;
		while (a->p < a->end && *a->p != '"')
			a->p += *a->p == '\\' && a->end - a->p > 1 ? 2 : 1;
		t->len = (size_t)(a->p - t->s);
		if (a->p < a->end)
			a->p++;
	} else if (*s == '[') {
		t->kind = TOK_DLIT;
		t->s = s;
		while (a->p < a->end && *a->p != ']')
			a->p++;
		if (a->p < a->end)
			a->p++;
		t->len = (size_t)(a->p - s);
	} else if (*s != '\0' && strchr("<>@,;:.", *s) != NULL) {
		t->kind = (unsigned char)*s;
		t->s = s;
		t->len = 1;
		a->p++;
	} else if (*s != '\0' && strchr(")]\\", *s) != NULL) {
		t->kind = TOK_JUNK;
		t->s = s;
		t->len = 1;
		a->p++;
	} else {
		t->kind = TOK_ATOM;
		t->s = s;
		/* NUL is an atom octet here; it is dropped on output */
		while (a->p < a->end && (*a->p == '\0' ||
		    strchr(" \t\r\n()<>[]:;@\\,.\"", *a->p) == NULL))
			a->p++;
		t->len = (size_t)(a->p - s);
	}
	return t;
}

static void
next(struct aparse *a)
{
	a->have = false;
}

/* Appends s[0..len) to b, undoing quoted pairs if unquote is set, CR,
 * LF and NUL dropped. */
static void
add(struct aparse *a, struct buf *b, const char *s, size_t len, bool unquote)
{
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];

		if (unquote && ch == '\\' && i + 1 < len)
			ch = s[++i];
		if (ch == '\0' || ch == '\r' || ch == '\n')
			continue;
		if (buf_append(b, &ch, 1) < 0)
			a->err = true;
	}
}

static void
add_tok(struct aparse *a, struct buf *b, const struct atok *t)
{
	add(a, b, t->s, t->len, t->kind == TOK_QUOTED);
}

static bool
is_word(const struct atok *t)
{
	return t->kind == TOK_ATOM || t->kind == TOK_QUOTED || t->kind == '.';
}

/* One address structure; a NULL field is NIL, an empty name too. */
static void
emit(struct aparse *a, const struct buf *name, const struct buf *adl,
    const char *mailbox, size_t mlen, const char *host, size_t hlen)
{
	struct buf *o = a->out;

	a->count++;
	if (o == NULL)
		return;
	if (buf_append(o, "(", 1) < 0 ||
	    imap_fetch_mime_nstring(o, name != NULL && name->len > 0 ?
	    name->data : NULL, name != NULL ? name->len : 0) < 0 ||
	    buf_append(o, " ", 1) < 0 ||
	    imap_fetch_mime_nstring(o, adl != NULL && adl->len > 0 ?
	    adl->data : NULL, adl != NULL ? adl->len : 0) < 0 ||
	    buf_append(o, " ", 1) < 0 ||
	    imap_fetch_mime_nstring(o, mailbox, mlen) < 0 ||
	    buf_append(o, " ", 1) < 0 ||
	    imap_fetch_mime_nstring(o, host, hlen) < 0 ||
	    buf_append(o, ")", 1) < 0)
		a->err = true;
}

static void
emit_mailbox(struct aparse *a, const struct buf *name, const struct buf *adl)
{
	static const char nm[] = "MISSING_MAILBOX", nd[] = "MISSING_DOMAIN";
	const struct buf *l = &a->local, *d = &a->domain;

	emit(a, name, adl, l->len > 0 ? l->data : nm,
	    l->len > 0 ? l->len : sizeof(nm) - 1,
	    d->len > 0 ? d->data : nd, d->len > 0 ? d->len : sizeof(nd) - 1);
}

/* A domain: atoms and literals joined by dots, blanks allowed around
 * the dots only (obs-domain), so "a@b c@d" ends at "b". */
static void
collect_domain(struct aparse *a)
{
	struct atok *t;
	bool dot = true;

	while ((t = peek(a))->kind == TOK_ATOM || t->kind == '.' ||
	    t->kind == TOK_DLIT) {
		if (t->space && !dot && t->kind != '.')
			break;
		dot = t->kind == '.';
		add_tok(a, &a->domain, t);
		next(a);
	}
}

/* Skips what is left of an address, up to ',', ';' or the end. */
static void
skip_junk(struct aparse *a)
{
	struct atok *t;

	while ((t = peek(a))->kind != TOK_END && t->kind != ',' &&
	    t->kind != ';')
		next(a);
}

/* After '<': [route ':'] local-part ['@' domain] ['>']. */
static void
parse_angle(struct aparse *a)
{
	struct atok *t;

	buf_reset(&a->local);
	if (peek(a)->kind == '@') {
		while ((t = peek(a))->kind != ':' && t->kind != '>' &&
		    t->kind != TOK_END) {
			add_tok(a, &a->route, t);
			next(a);
		}
		if (t->kind == ':')
			next(a);
	}
	while (is_word(t = peek(a))) {
		add_tok(a, &a->local, t);
		next(a);
	}
	if (t->kind == '@') {
		next(a);
		collect_domain(a);
	}
	if (peek(a)->kind == '>')
		next(a);
	emit_mailbox(a, &a->name, &a->route);
	skip_junk(a);
}

/* A mailbox or a group. Called on a token other than ',', ';' or the
 * end, and consumes at least one. */
static void
parse_address(struct aparse *a, bool in_group)
{
	struct atok *t;
	bool words = false, dot = false;

	buf_reset(&a->name);
	buf_reset(&a->local);
	buf_reset(&a->domain);
	buf_reset(&a->route);
	while (is_word(t = peek(a))) {
		/* the local part is the last words joined by dots */
		if (t->space && words && !dot && t->kind != '.')
			buf_reset(&a->local);
		dot = t->kind == '.';
		words = true;
		if (t->space && a->name.len > 0)
			add(a, &a->name, " ", 1, false);
		add_tok(a, &a->name, t);
		add_tok(a, &a->local, t);
		next(a);
	}
	switch (t->kind) {
	case ':':
		next(a);
		if (in_group)
			return;	/* a group in a group: members join ours */
		emit(a, NULL, NULL, a->name.len > 0 ? a->name.data : "",
		    a->name.len, NULL, 0);
		while ((t = peek(a))->kind != TOK_END) {
			if (t->kind == ';') {
				next(a);
				break;
			}
			if (t->kind == ',')
				next(a);
			else
				parse_address(a, true);
		}
		emit(a, NULL, NULL, NULL, 0, NULL, 0);
		return;
	case '<':
		next(a);
		parse_angle(a);
		return;
	case '@':
		next(a);
		collect_domain(a);
		t = peek(a);
		buf_reset(&a->name);
		/* "addr (Name)": the comment is the only name there is */
		if (t->comment != NULL && (t->kind == TOK_END ||
		    t->kind == ',' || t->kind == ';'))
			(void)mime_unfold(&a->name, t->comment, t->comment_len);
		emit_mailbox(a, &a->name, NULL);
		skip_junk(a);
		return;
	default:
		if (!words) {
			next(a);	/* a stray '>', ']', ... */
			return;
		}
		if (a->local.len > 0)
			emit_mailbox(a, NULL, NULL);
		skip_junk(a);
		return;
	}
}

/* Parses the addresses of every field called name in msg's header,
 * writing them to a->out unless that is NULL; returns how many. */
static size_t
parse_fields(struct aparse *a, const struct mime_tree *tree,
    const struct mime_part *msg, const char *name)
{
	struct mime_header_iter it;
	struct mime_field f;

	a->count = 0;
	mime_header_init(&it, tree, msg);
	while (mime_header_find(&it, name, &f)) {
		a->p = f.value;
		a->end = f.value + f.value_len;
		a->have = false;
		for (;;) {
			struct atok *t = peek(a);

			if (t->kind == TOK_END)
				break;
			if (t->kind == ',' || t->kind == ';')
				next(a);
			else
				parse_address(a, false);
		}
	}
	return a->count;
}

/* An address list: NIL when it has no address. */
static int
put_addresses(struct aparse *a, struct buf *out, const struct mime_tree *tree,
    const struct mime_part *msg, const char *name, const char *fallback)
{
	a->out = NULL;
	if (parse_fields(a, tree, msg, name) == 0) {
		if (fallback == NULL || parse_fields(a, tree, msg,
		    fallback) == 0)
			return a->err ? -1 : buf_append(out, "NIL", 3);
		name = fallback;
	}
	a->out = out;
	if (buf_append(out, "(", 1) < 0)
		return -1;
	parse_fields(a, tree, msg, name);
	if (a->err)
		return -1;
	return buf_append(out, ")", 1);
}

/* --- ENVELOPE ----------------------------------------------------- */

static int
put_unstructured(struct buf *out, struct buf *tmp,
    const struct mime_tree *tree, const struct mime_part *msg,
    const char *name)
{
	int rc;

	buf_reset(tmp);
	rc = mime_header_get(tree, msg, name, tmp);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return buf_append(out, "NIL", 3);
	return imap_fetch_mime_nstring(out, tmp->len > 0 ? tmp->data : "",
	    tmp->len);
}

int
imap_fetch_mime_envelope(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *msg)
{
	static const char *const addr[][2] = {
		{ "from", NULL }, { "sender", "from" },
		{ "reply-to", "from" }, { "to", NULL }, { "cc", NULL },
		{ "bcc", NULL },
	};
	struct aparse a;
	struct buf tmp;
	int rc = -1;

	if (msg == NULL)
		return buf_append_str(out,
		    "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	memset(&a, 0, sizeof(a));
	buf_init(&tmp, out->max);
	buf_init(&a.name, out->max);
	buf_init(&a.local, out->max);
	buf_init(&a.domain, out->max);
	buf_init(&a.route, out->max);
	if (buf_append(out, "(", 1) < 0 ||
	    put_unstructured(out, &tmp, tree, msg, "date") < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_unstructured(out, &tmp, tree, msg, "subject") < 0)
		goto out;
	for (size_t i = 0; i < sizeof(addr) / sizeof(addr[0]); i++) {
		if (buf_append(out, " ", 1) < 0 || put_addresses(&a, out,
		    tree, msg, addr[i][0], addr[i][1]) < 0)
			goto out;
	}
	if (buf_append(out, " ", 1) < 0 ||
	    put_unstructured(out, &tmp, tree, msg, "in-reply-to") < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_unstructured(out, &tmp, tree, msg, "message-id") < 0 ||
	    buf_append(out, ")", 1) < 0)
		goto out;
	rc = 0;
out:
	buf_release(&tmp, 0);
	buf_release(&a.name, 0);
	buf_release(&a.local, 0);
	buf_release(&a.domain, 0);
	buf_release(&a.route, 0);
	return rc;
}

/* --- BODY and BODYSTRUCTURE --------------------------------------- */

static int
put_params(struct buf *out, const struct mime_param *params, unsigned int n,
    bool add_charset)
{
	if (n == 0 && !add_charset)
		return buf_append(out, "NIL", 3);
	if (buf_append(out, "(", 1) < 0)
		return -1;
	for (unsigned int i = 0; i < n; i++) {
		if ((i > 0 && buf_append(out, " ", 1) < 0) ||
		    put_string(out, params[i].name) < 0 ||
		    buf_append(out, " ", 1) < 0 ||
		    put_string(out, params[i].value) < 0)
			return -1;
	}
	if (add_charset && buf_append_str(out, n > 0 ?
	    " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"") < 0)
		return -1;
	return buf_append(out, ")", 1);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static int
put_dsp_lang_loc(struct buf *out, const struct mime_part *p)
{
	if (p->disposition == NULL) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else if (buf_append(out, "(", 1) < 0 ||
	    put_string(out, p->disposition) < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_params(out, p->disp_params, p->n_disp_params, false) < 0 ||
	    buf_append(out, ")", 1) < 0) {
		return -1;
	}
	if (buf_append(out, " ", 1) < 0)
		return -1;
	if (p->n_languages == 0) {
		if (buf_append(out, "NIL", 3) < 0)
			return -1;
	} else {
		for (unsigned int i = 0; i < p->n_languages; i++) {
			if (buf_append(out, i == 0 ? "(" : " ", 1) < 0 ||
			    put_string(out, p->languages[i]) < 0)
				return -1;
		}
		if (buf_append(out, ")", 1) < 0)
			return -1;
	}
	if (buf_append(out, " ", 1) < 0)
		return -1;
	return put_string(out, p->location);
}

static int
put_empty_body(struct buf *out, bool ext)
{
	if (buf_append_str(out, EMPTY_BODY) < 0 ||
	    (ext && buf_append_str(out, " NIL NIL NIL NIL") < 0))
		return -1;
	return buf_append(out, ")", 1);
}

static int put_body(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *p, bool ext);

static int
put_multipart(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *p, bool ext)
{
	const struct mime_part *c;

	if (buf_append(out, "(", 1) < 0)
		return -1;
	if (p->children == NULL && put_empty_body(out, ext) < 0)
		return -1;
	for (c = p->children; c != NULL; c = c->next) {
		if (put_body(out, tree, c, ext) < 0)
			return -1;
	}
	if (buf_append(out, " ", 1) < 0 || put_string(out, p->subtype) < 0)
		return -1;
	if (ext && (buf_append(out, " ", 1) < 0 ||
	    put_params(out, p->params, p->n_params, false) < 0 ||
	    buf_append(out, " ", 1) < 0 || put_dsp_lang_loc(out, p) < 0))
		return -1;
	return buf_append(out, ")", 1);
}

static int
put_body(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *p, bool ext)
{
	bool text = strcmp(p->type, "text") == 0;

	if ((p->flags & MIME_PART_MULTIPART) != 0)
		return put_multipart(out, tree, p, ext);
	if (buf_append(out, "(", 1) < 0 || put_string(out, p->type) < 0 ||
	    buf_append(out, " ", 1) < 0 || put_string(out, p->subtype) < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_params(out, p->params, p->n_params,
	    text && mime_param_get(p, "charset") == NULL) < 0 ||
	    buf_append(out, " ", 1) < 0 || put_string(out, p->id) < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_string(out, p->description) < 0 ||
	    buf_append(out, " ", 1) < 0 ||
	    put_string(out, p->encoding != NULL ? p->encoding : "7bit") < 0 ||
	    buf_printf(out, " %" PRIu64, p->body_size) < 0)
		return -1;
	if ((p->flags & MIME_PART_RFC822) != 0) {
		if (buf_append(out, " ", 1) < 0 ||
		    imap_fetch_mime_envelope(out, tree, p->message) < 0 ||
		    buf_append(out, " ", 1) < 0 ||
		    (p->message != NULL ? put_body(out, tree, p->message, ext) :
		    put_empty_body(out, ext)) < 0 ||
		    buf_printf(out, " %" PRIu64, p->body_lines) < 0)
			return -1;
	} else if (text && buf_printf(out, " %" PRIu64, p->body_lines) < 0) {
		return -1;
	}
	if (ext && (buf_append(out, " ", 1) < 0 ||
	    put_string(out, p->md5) < 0 || buf_append(out, " ", 1) < 0 ||
	    put_dsp_lang_loc(out, p) < 0))
		return -1;
	return buf_append(out, ")", 1);
}

int
imap_fetch_mime_bodystructure(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *part)
{
	return put_body(out, tree, part, true);
}

int
imap_fetch_mime_body(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *part)
{
	return put_body(out, tree, part, false);
}
