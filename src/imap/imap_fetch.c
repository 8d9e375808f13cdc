/* IMAP FETCH: the attribute list and the response for one message.
 * SECURITY: parses client input (attribute names, sections, header name
 * lists, partial ranges) within fixed bounds; writes message octets
 * only through bounded buffers, with literal sizes computed from the
 * MIME tree and checked against what was written. */
#include "imap/imap_fetch.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/imap_fetch_mime.h"
#include "imap/imap_flags.h"
#include "imap/imap_parse.h"
#include "store/mime.h"

enum item_kind {
	ITEM_FLAGS,
	ITEM_UID,
	ITEM_INTERNALDATE,
	ITEM_SIZE,
	ITEM_ENVELOPE,
	ITEM_BODY,
	ITEM_BODYSTRUCTURE,
	ITEM_SECTION,		/* BODY[...], RFC822, RFC822.HEADER/TEXT */
};

/* What follows the part numbers of a section. */
enum sec_text {
	SEC_WHOLE,		/* "" or numbers only: message or part */
	SEC_HEADER,
	SEC_FIELDS,
	SEC_FIELDS_NOT,
	SEC_TEXT,
	SEC_MIME,
};

struct item {
	enum item_kind kind;
	/* ITEM_SECTION */
	enum sec_text text;
	char *part;		/* part numbers "1.2", "" for the message */
	char **names;		/* HEADER.FIELDS: n_names names */
	size_t n_names;
	int partial;
	uint32_t p_off, p_len;
	char *label;		/* as written back: "BODY[1.MIME]<0>" */
};

struct imap_fetch {
	/* one spare: UID FETCH's UID, or an item being parsed */
	struct item items[IMAP_FETCH_ITEMS_MAX + 1];
	size_t n;
	int needs;
	int sets_seen;
	int has_flags;
};

/* --- parsing ------------------------------------------------------- */

/* RFC 3501 9: ATOM-CHAR. */
static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}

/* RFC 5322 2.2: ftext, what a header field name is made of. */
static int
ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static int
word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* Starts with word (case-insensitive). */
static int
word_starts(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);

	return len >= n && strncasecmp(s, word, n) == 0;
}

static void
item_clear(struct item *it)
{
	for (size_t i = 0; i < it->n_names; i++)
		free(it->names[i]);
	free(it->names);
	free(it->part);
	free(it->label);
	memset(it, 0, sizeof(*it));
}

/* A decimal number of at most 32 bits at s[*i..len): 0 and *v, or -1.
 * nz: the first digit must not be 0 (RFC 3501 nz-number). */
static int
number32(const char *s, size_t len, size_t *i, int nz, uint32_t *v)
{
	uint64_t n = 0;
	size_t start = *i;

	if (*i >= len || s[*i] < '0' || s[*i] > '9' || (nz && s[*i] == '0'))
		return -1;
	while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
		n = n * 10 + (uint64_t)(s[(*i)++] - '0');
		if (*i - start > 10 || n > UINT32_MAX)
			return -1;
	}
	*v = (uint32_t)n;
	return 0;
}

/* Appends a header name for the label: an atom when it can be one, else
 * a quoted string. */
static int
label_name(struct buf *b, const char *name)
{
	size_t n = strlen(name);
	int atom = 1;

	for (size_t i = 0; i < n && atom; i++)
		atom = atom_char((unsigned char)name[i]);
	if (atom)
		return buf_append(b, name, n);
	if (buf_append(b, "\"", 1) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if ((name[i] == '"' || name[i] == '\\') &&
		    buf_append(b, "\\", 1) < 0)
			return -1;
		if (buf_append(b, &name[i], 1) < 0)
			return -1;
	}
	return buf_append(b, "\"", 1);
}

/* The header list "(" name *(SP name) ")" that is all of s[0..len);
 * names are atoms (ASTRING-CHAR) or quoted strings, of ftext. */
static int
parse_names(struct item *it, const char *s, size_t len)
{
	size_t i = 1, cap = 0;

	if (len < 3 || s[0] != '(' || s[len - 1] != ')')
		return -1;
	len--;
	for (;;) {
		char name[IMAP_FETCH_NAME_MAX + 1];
		size_t n = 0;

		if (i < len && s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++) {
				if (s[i] == '\\' && (++i == len ||
				    (s[i] != '"' && s[i] != '\\')))
					return -1;
				if (n == IMAP_FETCH_NAME_MAX ||
				    !ftext((unsigned char)s[i]))
					return -1;
				name[n++] = s[i];
			}
			if (i++ == len)
				return -1;
		} else {
			for (; i < len && (atom_char((unsigned char)s[i]) ||
			    s[i] == ']'); i++) {
				if (n == IMAP_FETCH_NAME_MAX ||
				    !ftext((unsigned char)s[i]))
					return -1;
				name[n++] = s[i];
			}
		}
		if (n == 0 || it->n_names == IMAP_FETCH_NAMES_MAX)
			return -1;
		name[n] = '\0';
		if (it->n_names == cap) {
			cap = cap ? 2 * cap : 8;
			it->names = xrealloc(it->names,
			    cap * sizeof(*it->names));
		}
		it->names[it->n_names++] = xstrndup(name, n);
		if (i == len)
			return 0;
		if (s[i] != ' ' || ++i == len)
			return -1;
	}
}

/* The section spec s[0..len), between the brackets, into it. */
static int
parse_section(struct item *it, const char *s, size_t len)
{
	size_t i = 0, part_len;
	const char *t;

	while (i < len && s[i] >= '0' && s[i] <= '9') {
		uint32_t v;

		if (number32(s, len, &i, 1, &v) < 0)
			return -1;
		if (i + 1 < len && s[i] == '.' && s[i + 1] >= '0' &&
		    s[i + 1] <= '9')
			i++;
		else
			break;
	}
	part_len = i;
	it->part = xstrndup(s, part_len);
	if (i == len) {
		it->text = SEC_WHOLE;
		return 0;
	}
	if (part_len > 0 && s[i++] != '.')
		return -1;
	t = s + i;
	len -= i;
	if (word_is(t, len, "HEADER"))
		it->text = SEC_HEADER;
	else if (word_is(t, len, "TEXT"))
		it->text = SEC_TEXT;
	else if (word_is(t, len, "MIME") && part_len > 0)
		it->text = SEC_MIME;
	else if (word_starts(t, len, "HEADER.FIELDS.NOT ")) {
		it->text = SEC_FIELDS_NOT;
		return parse_names(it, t + 18, len - 18);
	} else if (word_starts(t, len, "HEADER.FIELDS ")) {
		it->text = SEC_FIELDS;
		return parse_names(it, t + 14, len - 14);
	} else
		return -1;
	return 0;
}

static const char *const text_names[] = {
	[SEC_WHOLE] = "",
	[SEC_HEADER] = "HEADER",
	[SEC_FIELDS] = "HEADER.FIELDS",
	[SEC_FIELDS_NOT] = "HEADER.FIELDS.NOT",
	[SEC_TEXT] = "TEXT",
	[SEC_MIME] = "MIME",
};

/* The label of a BODY[...] item, rebuilt in a normal form. */
static void
section_label(struct item *it)
{
	struct buf b;
	int rc = 0;

	buf_init(&b, (size_t)-1);
	rc |= buf_append_str(&b, "BODY[");
	rc |= buf_append_str(&b, it->part);
	if (it->part[0] != '\0' && it->text != SEC_WHOLE)
		rc |= buf_append(&b, ".", 1);
	rc |= buf_append_str(&b, text_names[it->text]);
	if (it->n_names > 0) {
		rc |= buf_append(&b, " (", 2);
		for (size_t i = 0; i < it->n_names; i++) {
			if (i > 0)
				rc |= buf_append(&b, " ", 1);
			rc |= label_name(&b, it->names[i]);
		}
		rc |= buf_append(&b, ")", 1);
	}
	rc |= buf_append(&b, "]", 1);
	if (it->partial)
		rc |= buf_printf(&b, "<%" PRIu32 ">", it->p_off);
	MW_ASSERT(rc == 0);
	it->label = xstrdup(b.data);
	buf_release(&b, 0);
}

/* BODY[...]<a.b> or BODY.PEEK[...]<a.b>, the whole token s[0..len). */
static int
parse_body_section(struct imap_fetch *f, struct item *it, const char *s,
    size_t len)
{
	const char *open = memchr(s, '[', len), *close;
	size_t i;
	int peek;

	if (open == NULL)
		return -1;
	if (word_is(s, (size_t)(open - s), "BODY"))
		peek = 0;
	else if (word_is(s, (size_t)(open - s), "BODY.PEEK"))
		peek = 1;
	else
		return -1;
	close = memchr(open, ']', len - (size_t)(open - s));
	if (close == NULL)
		return -1;
	it->kind = ITEM_SECTION;
	if (parse_section(it, open + 1, (size_t)(close - open - 1)) < 0)
		return -1;
	i = (size_t)(close + 1 - s);
	if (i < len) {
		if (s[i++] != '<' || number32(s, len, &i, 0, &it->p_off) < 0 ||
		    i == len || s[i++] != '.' ||
		    number32(s, len, &i, 1, &it->p_len) < 0 ||
		    i + 1 != len || s[i] != '>')
			return -1;
		it->partial = 1;
	}
	if (!peek)
		f->sets_seen = 1;
	if (it->part[0] == '\0' && (it->text == SEC_HEADER ||
	    it->text == SEC_FIELDS || it->text == SEC_FIELDS_NOT))
		f->needs |= IMAP_FETCH_NEED_HEADER;
	else
		f->needs |= IMAP_FETCH_NEED_BODY;
	section_label(it);
	return 0;
}

static const struct {
	const char *name;
	enum item_kind kind;
	int needs;
} simple_items[] = {
	{ "FLAGS", ITEM_FLAGS, 0 },
	{ "UID", ITEM_UID, 0 },
	{ "INTERNALDATE", ITEM_INTERNALDATE, 0 },
	{ "RFC822.SIZE", ITEM_SIZE, 0 },
	{ "ENVELOPE", ITEM_ENVELOPE, IMAP_FETCH_NEED_HEADER },
	{ "BODY", ITEM_BODY, IMAP_FETCH_NEED_BODY },
	{ "BODYSTRUCTURE", ITEM_BODYSTRUCTURE, IMAP_FETCH_NEED_BODY },
};

/* RFC822, RFC822.HEADER and RFC822.TEXT: BODY sections by old names. */
static const struct {
	const char *name;
	enum sec_text text;
	int seen;
	int needs;
} rfc822_items[] = {
	{ "RFC822", SEC_WHOLE, 1, IMAP_FETCH_NEED_BODY },
	{ "RFC822.HEADER", SEC_HEADER, 0, IMAP_FETCH_NEED_HEADER },
	{ "RFC822.TEXT", SEC_TEXT, 1, IMAP_FETCH_NEED_BODY },
};

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

/* Adds the item a simple attribute names, once. */
static int
add_simple(struct imap_fetch *f, enum item_kind kind, int needs)
{
	for (size_t i = 0; i < f->n; i++) {
		if (f->items[i].kind == kind)
			return 0;
	}
	if (f->n == IMAP_FETCH_ITEMS_MAX)
		return -1;
	f->items[f->n++].kind = kind;
	f->needs |= needs;
	if (kind == ITEM_FLAGS)
		f->has_flags = 1;
	return 0;
}

/* Keeps the new last item unless an equal one (same label) is there. */
static void
dedup_last(struct imap_fetch *f)
{
	struct item *last = &f->items[f->n - 1];

	for (size_t i = 0; i + 1 < f->n; i++) {
		if (f->items[i].kind == ITEM_SECTION &&
		    strcmp(f->items[i].label, last->label) == 0) {
			item_clear(last);
			f->n--;
			return;
		}
	}
}

/* One attribute token s[0..len). */
static int
parse_item(struct imap_fetch *f, const char *s, size_t len,
    const char **error_r)
{
	struct item *it;

	for (size_t i = 0; i < NELEM(simple_items); i++) {
		if (!word_is(s, len, simple_items[i].name))
			continue;
		if (add_simple(f, simple_items[i].kind,
		    simple_items[i].needs) < 0)
			goto too_many;
		return 0;
	}
	/* the spare slot takes the item while it may be a repeat */
	it = &f->items[f->n++];
	for (size_t i = 0; i < NELEM(rfc822_items); i++) {
		if (!word_is(s, len, rfc822_items[i].name))
			continue;
		it->kind = ITEM_SECTION;
		it->text = rfc822_items[i].text;
		it->part = xstrdup("");
		it->label = xstrdup(rfc822_items[i].name);
		f->sets_seen |= rfc822_items[i].seen;
		f->needs |= rfc822_items[i].needs;
		goto added;
	}
	if (parse_body_section(f, it, s, len) < 0) {
		item_clear(it);
		f->n--;
		*error_r = memchr(s, '[', len) != NULL ?
		    "Invalid BODY[section]" : "Invalid fetch attribute";
		return -1;
	}
added:
	dedup_last(f);
	if (f->n <= IMAP_FETCH_ITEMS_MAX)
		return 0;
	item_clear(&f->items[--f->n]);
too_many:
	*error_r = "Too many fetch attributes";
	return -1;
}

static int
parse_macro(struct imap_fetch *f, const char *s, size_t len)
{
	static const char *const members[] = {
		"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY",
	};
	size_t n;
	const char *error;

	if (word_is(s, len, "FAST"))
		n = 3;
	else if (word_is(s, len, "ALL"))
		n = 4;
	else if (word_is(s, len, "FULL"))
		n = 5;
	else
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (parse_item(f, members[i], strlen(members[i]), &error) < 0)
			return -1;
	}
	return 1;
}

int
imap_fetch_parse(struct imap_args *a, int uid_cmd, struct imap_fetch **f_r,
    const char **error_r)
{
	struct imap_fetch *f = xcalloc(1, sizeof(*f));
	enum imap_arg_type t = imap_args_next(a);
	int has_uid = 0;

	*error_r = "Invalid fetch attributes";
	if (t == IMAP_ARG_ATOM) {
		int rc = parse_macro(f, a->val, a->len);

		if (rc < 0 ||
		    (rc == 0 && parse_item(f, a->val, a->len, error_r) < 0))
			goto fail;
	} else if (t == IMAP_ARG_LIST_OPEN) {
		while ((t = imap_args_next(a)) == IMAP_ARG_ATOM) {
			if (parse_item(f, a->val, a->len, error_r) < 0)
				goto fail;
		}
		if (t != IMAP_ARG_LIST_CLOSE || f->n == 0)
			goto fail;
	} else {
		*error_r = "Missing fetch attributes";
		goto fail;
	}
	if (!imap_args_done(a)) {
		*error_r = "Unexpected arguments after fetch attributes";
		goto fail;
	}
	for (size_t i = 0; i < f->n; i++)
		has_uid |= f->items[i].kind == ITEM_UID;
	if (uid_cmd && !has_uid) {
		/* UID first, as Dovecot and most servers answer */
		memmove(&f->items[1], &f->items[0], f->n * sizeof(f->items[0]));
		memset(&f->items[0], 0, sizeof(f->items[0]));
		f->items[0].kind = ITEM_UID;
		f->n++;
	}
	*f_r = f;
	return 0;
fail:
	imap_fetch_free(&f);
	return -1;
}

int
imap_fetch_needs(const struct imap_fetch *f)
{
	return f->needs;
}

int
imap_fetch_sets_seen(const struct imap_fetch *f)
{
	return f->sets_seen;
}

int
imap_fetch_needs_date(const struct imap_fetch *f)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->items[i].kind == ITEM_INTERNALDATE)
			return 1;
	return 0;
}

void
imap_fetch_free(struct imap_fetch **fp)
{
	struct imap_fetch *f = *fp;

	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n; i++)
		item_clear(&f->items[i]);
	free(f);
	*fp = NULL;
}

/* --- writing ------------------------------------------------------- */

/* Appends octets [from, from + n) of the wire form of msg[off..off+len)
 * as mime_append_wire() writes it (bare LF as CRLF, a final CRLF when
 * the range ends a message without one), without building the octets
 * before from: a partial fetch costs about what it returns. The caller
 * keeps from + n within the wire size. 0, or -1 when out is full. */
static int
append_wire_slice(struct buf *out, const struct mime_tree *t, size_t off,
    size_t len, uint64_t from, uint64_t n)
{
	static const char crlf[] = "\r\n";
	const char *msg = t->msg, *nl;
	size_t p = off, end = off + len, stop, k;
	uint64_t w = 0;		/* wire offset of msg[p] */
	int half_lf = 0;	/* from falls inside an added CRLF */

	/* skip to from */
	while (p < end && w < from) {
		nl = memchr(msg + p, '\n', end - p);
		stop = nl != NULL ? (size_t)(nl - msg) : end;
		if (from - w <= stop - p) {
			p += (size_t)(from - w);
			w = from;
			break;
		}
		w += stop - p;
		p = stop;
		if (p == end)
			break;
		if (p > 0 && msg[p - 1] == '\r') {
			w++;
		} else if (w + 2 <= from) {
			w += 2;
		} else {
			half_lf = 1;
			w = from;
		}
		p++;
	}
	if (half_lf && n > 0) {
		if (buf_append(out, "\n", 1) < 0)
			return -1;
		n--;
	}
	while (n > 0 && p < end) {
		nl = memchr(msg + p, '\n', end - p);
		stop = nl != NULL ? (size_t)(nl - msg) : end;
		k = stop - p < n ? stop - p : (size_t)n;
		if (buf_append(out, msg + p, k) < 0)
			return -1;
		p += k;
		n -= k;
		if (n == 0 || p == end)
			break;
		/* msg[p] is a LF */
		if (p > 0 && msg[p - 1] == '\r') {
			if (buf_append(out, "\n", 1) < 0)
				return -1;
			n--;
		} else if (buf_append(out, "\r\n", n >= 2 ? 2 : 1) < 0) {
			return -1;
		} else {
			n -= n >= 2 ? 2 : 1;
		}
		p++;
	}
	/* the final CRLF of a message that ends without one */
	if (n > 0 && len > 0 && end == t->len && msg[t->len - 1] != '\n') {
		uint64_t skip = w < from ? from - w : 0;

		if (skip < 2 && buf_append(out, crlf + skip,
		    n < 2 - skip ? (size_t)n : (size_t)(2 - skip)) < 0)
			return -1;
	}
	return 0;
}

/* The octets [from, from + n) of a section of size octets for a partial
 * <a.b> (from = n = 0 past the end), or all of it. */
static void
partial_range(const struct item *it, uint64_t size, uint64_t *from,
    uint64_t *n)
{
	*from = 0;
	*n = size;
	if (!it->partial)
		return;
	*from = it->p_off < size ? it->p_off : size;
	*n = size - *from < it->p_len ? size - *from : it->p_len;
}

/* A literal header "{n}\r\n", or "" for no octets (then 1). */
static int
literal_head(struct buf *out, uint64_t n)
{
	if (n == 0)
		return buf_append(out, "\"\"", 2) < 0 ? -1 : 1;
	return buf_printf(out, "{%" PRIu64 "}\r\n", n) < 0 ? -1 : 0;
}

/* RFC 3501's literals carry CHAR8, which excludes NUL: a NUL stored in
 * a message goes out as 0x80 (as Dovecot does), keeping the size. */
static void
replace_nuls(struct buf *out, size_t from)
{
	char *p = out->data + from, *end = out->data + out->len;

	while (p < end && (p = memchr(p, '\0', (size_t)(end - p))) != NULL)
		*p++ = (char)0x80;
}

/* Section data from the stored range msg[off..off+len), size octets in
 * wire form. */
static int
write_range(struct buf *out, const struct item *it, const struct mime_tree *t,
    size_t off, size_t len, uint64_t size)
{
	uint64_t from, n;
	size_t before;
	int rc;

	partial_range(it, size, &from, &n);
	if ((rc = literal_head(out, n)) != 0)
		return rc < 0 ? -1 : 0;
	before = out->len;
	if (from == 0 && n == size)
		rc = mime_append_wire(out, t, off, len);
	else
		rc = append_wire_slice(out, t, off, len, from, n);
	if (rc < 0)
		return -1;
	/* a wrong literal size would desynchronise the client */
	MW_ASSERT(out->len - before == n);
	replace_nuls(out, before);
	return 0;
}

static int
write_fields(struct buf *out, const struct item *it, const struct mime_tree *t,
    const struct mime_part *msg)
{
	struct buf tmp;
	uint64_t from, n;
	int rc = -1;

	buf_init(&tmp, out->max);
	if (mime_header_filter(t, msg, (const char *const *)it->names,
	    it->n_names, it->text == SEC_FIELDS_NOT, &tmp) < 0)
		goto out;
	partial_range(it, tmp.len, &from, &n);
	if ((rc = literal_head(out, n)) != 0) {
		rc = rc < 0 ? -1 : 0;
		goto out;
	}
	if ((rc = buf_append(out, tmp.data + from, (size_t)n)) == 0)
		replace_nuls(out, out->len - (size_t)n);
out:
	buf_release(&tmp, 0);
	return rc;
}

static int
write_section(struct buf *out, const struct item *it,
    const struct mime_tree *t)
{
	const struct mime_part *p = t->root, *msg;
	size_t plen = strlen(it->part);

	if (plen > 0 && mime_section_find(t, it->part, plen, &p) < 0)
		return literal_head(out, 0) < 0 ? -1 : 0;
	if (it->text == SEC_WHOLE) {
		if (plen == 0)
			return write_range(out, it, t, 0, t->len,
			    p->header_size + p->body_size);
		return write_range(out, it, t, p->body_off, p->body_len,
		    p->body_size);
	}
	if (it->text == SEC_MIME)
		return write_range(out, it, t, p->header_off, p->header_len,
		    p->header_size);
	/* HEADER, HEADER.FIELDS and TEXT are of a message: the root, or
	 * the one a message/rfc822 part holds */
	msg = plen == 0 ? p : p->message;
	if (msg == NULL)
		return literal_head(out, 0) < 0 ? -1 : 0;
	if (it->text == SEC_HEADER)
		return write_range(out, it, t, msg->header_off,
		    msg->header_len, msg->header_size);
	if (it->text == SEC_TEXT)
		return write_range(out, it, t, msg->body_off, msg->body_len,
		    msg->body_size);
	return write_fields(out, it, t, msg);
}

/* RFC 3501 date-time "dd-Mon-yyyy hh:mm:ss +0000", quoted. */
static int
write_date(struct buf *out, int64_t when)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	time_t tt = (time_t)when;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900) {
		tt = 0;		/* a year the syntax cannot hold */
		gmtime_r(&tt, &tm);
	}
	return buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d +0000\"",
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
}

static int
write_item(struct buf *out, const struct item *it,
    const struct imap_fetch_msg *m)
{
	switch (it->kind) {
	case ITEM_FLAGS:
		return buf_append_str(out, "FLAGS ") < 0 ? -1 :
		    imap_flags_write(out, m->flags, m->keywords,
		    m->keyword_names);
	case ITEM_UID:
		return buf_printf(out, "UID %" PRIu32, m->uid) < 0 ? -1 : 0;
	case ITEM_INTERNALDATE:
		return buf_append_str(out, "INTERNALDATE ") < 0 ? -1 :
		    write_date(out, m->internal_date) < 0 ? -1 : 0;
	case ITEM_SIZE:
		return buf_printf(out, "RFC822.SIZE %" PRIu64, m->size) < 0 ?
		    -1 : 0;
	case ITEM_ENVELOPE:
		return buf_append_str(out, "ENVELOPE ") < 0 ? -1 :
		    imap_fetch_mime_envelope(out, m->tree, m->tree->root);
	case ITEM_BODY:
		return buf_append_str(out, "BODY ") < 0 ? -1 :
		    imap_fetch_mime_body(out, m->tree, m->tree->root);
	case ITEM_BODYSTRUCTURE:
		return buf_append_str(out, "BODYSTRUCTURE ") < 0 ? -1 :
		    imap_fetch_mime_bodystructure(out, m->tree,
		    m->tree->root);
	case ITEM_SECTION:
		if (buf_append_str(out, it->label) < 0 ||
		    buf_append(out, " ", 1) < 0)
			return -1;
		return write_section(out, it, m->tree);
	}
	return -1;
}

int
imap_fetch_write(struct buf *out, const struct imap_fetch *f,
    const struct imap_fetch_msg *m)
{
	MW_ASSERT(f->needs == 0 || m->tree != NULL);
	if (buf_printf(out, "* %" PRIu32 " FETCH (", m->seq) < 0)
		return -1;
	for (size_t i = 0; i < f->n; i++) {
		if ((i > 0 && buf_append(out, " ", 1) < 0) ||
		    write_item(out, &f->items[i], m) < 0)
			return -1;
	}
	if (m->seen_changed && !f->has_flags) {
		if (buf_append_str(out, f->n > 0 ? " FLAGS " : "FLAGS ") < 0 ||
		    imap_flags_write(out, m->flags, m->keywords,
		    m->keyword_names) < 0)
			return -1;
	}
	return buf_append(out, ")\r\n", 3);
}
