/* IMAP SEARCH: running a compiled program against one message. Metadata
 * keys read only struct imap_search_msg; header keys decode just the
 * fields they name; the body text (text parts, transfer encoding
 * undone, converted to UTF-8, case-folded) is built at most once per
 * message and only when a body key is reached.
 * SECURITY: reads stored messages, which anyone who can send mail
 * controls: every decoder is bounded by its input, charset names are
 * checked before they reach iconv, and scratch buffers have a hard
 * maximum (past it the text is matched as far as it got). */
#include "imap/imap_search.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "core/sasl.h"
#include "core/util.h"
#include "imap/imap_search_internal.h"
#include "store/mime.h"

#define SCRATCH_MAX (256u << 20)	/* decoded text of one message */
#define SCRATCH_KEEP (4u << 20)		/* larger buffers are released */
#define CHARSET_NAME_MAX 40

/* --- case folding ------------------------------------------------- */

/* The lower-case form of a code point between U+0080 and U+07FF, itself
 * two octets in UTF-8 like the upper-case one. */
static uint32_t
fold_cp(uint32_t c)
{
	if (c >= 0xc0 && c <= 0xde && c != 0xd7)
		return c + 0x20;
	if (c >= 0x100 && c <= 0x17f) {
		if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 ||
		    c == 0x17f)
			return c;
		if (c == 0x178)
			return 0xff;
		if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
			return (c & 1) ? c + 1 : c;
		return (c & 1) ? c : c + 1;
	}
	if (c >= 0x391 && c <= 0x3ab && c != 0x3a2)
		return c + 0x20;
	if (c == 0x3c2)			/* final sigma */
		return 0x3c3;
	if (c == 0x386)
		return 0x3ac;
	if (c >= 0x388 && c <= 0x38a)
		return c + 0x25;
	if (c == 0x38c)
		return 0x3cc;
	if (c == 0x38e || c == 0x38f)
		return c + 0x3f;
	if (c >= 0x400 && c <= 0x40f)
		return c + 0x50;
	if (c >= 0x410 && c <= 0x42f)
		return c + 0x20;
	if (c >= 0x48a && c <= 0x4bf)
		return (c & 1) ? c : c + 1;
	return c;
}

void
imap_search_fold(char *s, size_t len)
{
	unsigned char *p = (unsigned char *)s;

	for (size_t i = 0; i < len; i++) {
		unsigned c = p[i];
		uint32_t cp, f;

		if (c < 0x80) {
			if (c - 'A' < 26u)
				p[i] = (unsigned char)(c + 32);
			continue;
		}
		/* leads 0xc3-0xd2: U+00C0 to U+04BF */
		if (c < 0xc3 || c > 0xd2 || i + 1 == len ||
		    (p[i + 1] & 0xc0) != 0x80)
			continue;
		cp = ((uint32_t)(c & 0x1f) << 6) | (p[i + 1] & 0x3f);
		f = fold_cp(cp);
		if (f != cp) {
			p[i] = (unsigned char)(0xc0 | (f >> 6));
			p[i + 1] = (unsigned char)(0x80 | (f & 0x3f));
		}
		i++;
	}
}

static int
contains(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	if (nlen == 0)
		return 1;
	if (hlen < nlen)
		return 0;
	return memmem(hay, hlen, needle, nlen) != NULL;
}

/* --- dates -------------------------------------------------------- */

int64_t
imap_search_days(int y, int m, int d)
{
	/* years start in March, so that the leap day ends one */
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

int
imap_search_month_days(int y, int m)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (m < 1 || m > 12)
		return 0;
	if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
		return 29;
	return days[m - 1];
}

int
imap_search_month(const char *s)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	char l[3];

	for (int i = 0; i < 3; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
		l[i] = (char)(s[i] | 0x20);
	}
	for (int m = 0; m < 12; m++) {
		if (memcmp(names + 3 * m, l, 3) == 0)
			return m + 1;
	}
	return 0;
}

struct date822 {
	int year, month, day, hour, min, sec, zone;
};

struct dscan {
	const char *p, *end;
};

/* Skips whitespace and (nested) comments. */
static void
d_cfws(struct dscan *d)
{
	size_t depth = 0;

	while (d->p < d->end) {
		char c = *d->p;

		if (depth > 0) {
			if (c == '\\' && d->end - d->p > 1)
				d->p++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth = 1;
		} else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			return;
		}
		d->p++;
	}
}

/* Up to 9 digits; the count (more than 9 digits count as 10). */
static int
d_number(struct dscan *d, int *v)
{
	int n = 0;

	*v = 0;
	while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		if (n < 9)
			*v = *v * 10 + (*d->p - '0');
		if (n < 10)
			n++;
		d->p++;
	}
	return n;
}

static size_t
d_word(struct dscan *d, const char **w)
{
	*w = d->p;
	while (d->p < d->end && ((*d->p >= 'a' && *d->p <= 'z') ||
	    (*d->p >= 'A' && *d->p <= 'Z')))
		d->p++;
	return (size_t)(d->p - *w);
}

/* Zone names of RFC 5322 4.3; military letters and unknown names
 * mean -0000 there, which is 0 here. */
static int
d_zone_name(const char *w, size_t len)
{
	static const struct {
		const char *name;
		int minutes;
	} zones[] = {
		{ "UT", 0 }, { "UTC", 0 }, { "GMT", 0 },
		{ "EST", -300 }, { "EDT", -240 }, { "CST", -360 },
		{ "CDT", -300 }, { "MST", -420 }, { "MDT", -360 },
		{ "PST", -480 }, { "PDT", -420 },
	};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == len &&
		    strncasecmp(zones[i].name, w, len) == 0)
			return zones[i].minutes;
	}
	return 0;
}

static int
date822_parse(const char *s, size_t len, struct date822 *t)
{
	static const char days[] = "MonTueWedThuFriSatSun";
	struct dscan d = { s, s + len };
	const char *w;
	size_t wl;
	int n;

	memset(t, 0, sizeof(*t));
	d_cfws(&d);
	if ((wl = d_word(&d, &w)) > 0) {
		const char *hit = NULL;

		for (int i = 0; wl >= 3 && i < 7 && hit == NULL; i++) {
			if (strncasecmp(days + 3 * i, w, 3) == 0)
				hit = w;
		}
		if (hit == NULL)
			return -1;
		d_cfws(&d);
		if (d.p < d.end && *d.p == ',')
			d.p++;
		d_cfws(&d);
	}
	if ((n = d_number(&d, &t->day)) < 1 || n > 2)
		return -1;
	d_cfws(&d);
	if (d_word(&d, &w) < 3 || (t->month = imap_search_month(w)) == 0)
		return -1;
	d_cfws(&d);
	n = d_number(&d, &t->year);
	if (n == 2)
		t->year += t->year < 50 ? 2000 : 1900;
	else if (n == 3)
		t->year += 1900;
	else if (n != 4 || t->year < 1900)
		return -1;
	if (t->day < 1 || t->day > imap_search_month_days(t->year, t->month))
		return -1;
	d_cfws(&d);
	if (d.p == d.end)
		return 0;	/* no time: midnight, UTC */
	if ((n = d_number(&d, &t->hour)) < 1 || n > 2 || t->hour > 23)
		return -1;
	d_cfws(&d);
	if (d.p == d.end || *d.p++ != ':')
		return -1;
	d_cfws(&d);
	if ((n = d_number(&d, &t->min)) < 1 || n > 2 || t->min > 59)
		return -1;
	d_cfws(&d);
	if (d.p < d.end && *d.p == ':') {
		d.p++;
		d_cfws(&d);
		if ((n = d_number(&d, &t->sec)) < 1 || n > 2 || t->sec > 60)
			return -1;
		d_cfws(&d);
	}
	if (d.p < d.end && (*d.p == '+' || *d.p == '-')) {
		int sign = *d.p++ == '-' ? -1 : 1, v;

		if (d_number(&d, &v) != 4 || v % 100 > 59)
			return -1;
		t->zone = sign * (v / 100 * 60 + v % 100);
	} else if ((wl = d_word(&d, &w)) > 0) {
		t->zone = d_zone_name(w, wl);
	}
	return 0;
}

int
imap_search_date822(const char *s, size_t len, int64_t *utc_r, int *zone_r)
{
	struct date822 t;

	if (date822_parse(s, len, &t) < 0)
		return -1;
	*utc_r = imap_search_days(t.year, t.month, t.day) * 86400 +
	    t.hour * 3600 + t.min * 60 + t.sec - (int64_t)t.zone * 60;
	*zone_r = t.zone;
	return 0;
}

static int64_t
utc_day(int64_t t)
{
	int64_t q = t / 86400;

	return t % 86400 < 0 ? q - 1 : q;
}

/* --- scratch and charsets ----------------------------------------- */

struct search_scratch *
imap_search_scratch_new(void)
{
	struct search_scratch *sc = xcalloc(1, sizeof(*sc));

	buf_init(&sc->unfold, SCRATCH_MAX);
	buf_init(&sc->dec, SCRATCH_MAX);
	buf_init(&sc->raw, SCRATCH_MAX);
	buf_init(&sc->text, SCRATCH_MAX);
	buf_init(&sc->body, SCRATCH_MAX);
	return sc;
}

void
imap_search_scratch_free(struct search_scratch *sc)
{
	for (int i = 0; i < SEARCH_ICONV_CACHE; i++) {
		if (sc->iconv[i].name[0] != '\0' &&
		    sc->iconv[i].cd != (void *)(iconv_t)-1)
			iconv_close((iconv_t)sc->iconv[i].cd);
	}
	buf_release(&sc->unfold, 0);
	buf_release(&sc->dec, 0);
	buf_release(&sc->raw, 0);
	buf_release(&sc->text, 0);
	buf_release(&sc->body, 0);
	free(sc);
}

enum { CS_RAW, CS_LATIN1, CS_ICONV };

/* A charset name lower-cased into out, its RFC 2231 language cut off;
 * the kind of conversion it needs. Names with characters no charset
 * name has are left raw: they never reach iconv_open(). */
static int
charset_norm(const char *s, size_t len, char out[CHARSET_NAME_MAX + 1])
{
	static const char *const raw[] = { "utf-8", "utf8", "us-ascii",
	    "ascii", "ansi_x3.4-1968", "us" };
	static const char *const latin1[] = { "iso-8859-1", "iso8859-1",
	    "iso_8859-1", "latin1", "l1" };
	size_t n = 0;

	for (size_t i = 0; i < len && s[i] != '*'; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == ':' ||
		    c == '+') || n == CHARSET_NAME_MAX)
			return CS_RAW;
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == 0)
		return CS_RAW;
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		if (strcmp(out, raw[i]) == 0)
			return CS_RAW;
	}
	for (size_t i = 0; i < sizeof(latin1) / sizeof(latin1[0]); i++) {
		if (strcmp(out, latin1[i]) == 0)
			return CS_LATIN1;
	}
	return CS_ICONV;
}

/* The converter from name to UTF-8, opened once per program and name;
 * (iconv_t)-1 when iconv does not know the name. */
static iconv_t
iconv_get(struct search_scratch *sc, const char *name)
{
	struct search_iconv *slot;

	for (int i = 0; i < SEARCH_ICONV_CACHE; i++) {
		if (strcmp(sc->iconv[i].name, name) == 0)
			return (iconv_t)sc->iconv[i].cd;
	}
	slot = &sc->iconv[sc->iconv_next++ % SEARCH_ICONV_CACHE];
	if (slot->name[0] != '\0' && slot->cd != (void *)(iconv_t)-1)
		iconv_close((iconv_t)slot->cd);
	(void)str_copy(slot->name, sizeof(slot->name), name);
	slot->cd = (void *)iconv_open("UTF-8", name);
	return (iconv_t)slot->cd;
}

static void
latin1_append(struct buf *out, const char *in, size_t n)
{
	char chunk[4096];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		if (k + 2 > sizeof(chunk)) {
			if (buf_append(out, chunk, k) < 0)
				return;
			k = 0;
		}
		if (c < 0x80) {
			chunk[k++] = (char)c;
		} else {
			chunk[k++] = (char)(0xc0 | (c >> 6));
			chunk[k++] = (char)(0x80 | (c & 0x3f));
		}
	}
	(void)buf_append(out, chunk, k);
}

/* Converts in[0..n) with cd; an octet that cannot be converted is kept
 * as it is and conversion goes on after it. */
static void
iconv_append(iconv_t cd, char *in, size_t n, struct buf *out)
{
	char chunk[4096], *o;
	size_t left;

	iconv(cd, NULL, NULL, NULL, NULL);
	while (n > 0) {
		size_t r;

		o = chunk;
		left = sizeof(chunk);
		r = iconv(cd, &in, &n, &o, &left);
		if (o > chunk &&
		    buf_append(out, chunk, (size_t)(o - chunk)) < 0)
			return;
		if (r != (size_t)-1 || errno == E2BIG)
			continue;
		if (buf_append(out, in, 1) < 0)
			return;
		in++;
		n--;
	}
	o = chunk;
	left = sizeof(chunk);
	if (iconv(cd, NULL, NULL, &o, &left) != (size_t)-1 && o > chunk)
		(void)buf_append(out, chunk, (size_t)(o - chunk));
}

/* Appends in[0..n), text in charset cs[0..cs_len) (NULL: US-ASCII), to
 * out in UTF-8; what cannot be converted stays raw. */
static void
convert_append(struct search_scratch *sc, const char *cs, size_t cs_len,
    char *in, size_t n, struct buf *out)
{
	char name[CHARSET_NAME_MAX + 1];
	iconv_t cd;

	if (n == 0)
		return;
	switch (cs == NULL ? CS_RAW : charset_norm(cs, cs_len, name)) {
	case CS_LATIN1:
		latin1_append(out, in, n);
		return;
	case CS_ICONV:
		if ((cd = iconv_get(sc, name)) != (iconv_t)-1) {
			iconv_append(cd, in, n, out);
			return;
		}
		break;
	}
	(void)buf_append(out, in, n);
}

/* --- transfer encodings ------------------------------------------- */

/* Base64, leniently: characters outside the alphabet are skipped, "="
 * ends a group (so concatenated blocks decode). */
static void
b64_append(struct buf *out, const char *in, size_t n)
{
	char chunk[4096];
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		int v = sasl_b64_value((unsigned char)in[i], '/');

		if (v < 0) {
			if (in[i] == '=')
				bits = 0;
			continue;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			chunk[k++] = (char)(acc >> bits);
			if (k == sizeof(chunk)) {
				if (buf_append(out, chunk, k) < 0)
					return;
				k = 0;
			}
		}
	}
	(void)buf_append(out, chunk, k);
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Quoted-printable (RFC 2045 6.7), or RFC 2047's Q when q is set (then
 * "_" is a space and there are no soft line breaks). A malformed "="
 * is kept as it is. */
static void
qp_append(struct buf *out, const char *in, size_t n, int q)
{
	char chunk[4096];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (k == sizeof(chunk)) {
			if (buf_append(out, chunk, k) < 0)
				return;
			k = 0;
		}
		if (c == '_' && q) {
			c = ' ';
		} else if (c == '=' && n - i > 2 &&
		    hex_value((unsigned char)in[i + 1]) >= 0 &&
		    hex_value((unsigned char)in[i + 2]) >= 0) {
			c = (char)(hex_value((unsigned char)in[i + 1]) * 16 +
			    hex_value((unsigned char)in[i + 2]));
			i += 2;
		} else if (c == '=' && !q) {
			/* soft line break: "=", blanks, end of line */
			size_t j = i + 1;

			while (j < n && (in[j] == ' ' || in[j] == '\t'))
				j++;
			if (j < n && in[j] == '\r')
				j++;
			if (j == n || in[j] == '\n') {
				i = j;
				continue;
			}
		}
		chunk[k++] = c;
	}
	(void)buf_append(out, chunk, k);
}

/* --- RFC 2047 encoded words ---------------------------------------- */

struct eword {
	const char *cs, *text;
	size_t cs_len, text_len, len;
	char enc;		/* 'b' or 'q' */
};

/* An encoded word =?charset?e?text?= at p (no blanks inside). */
static int
eword_parse(const char *p, const char *end, struct eword *w)
{
	const char *q = p + 2;

	w->cs = q;
	while (q < end && *q != '?') {
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return -1;
		q++;
	}
	if (end - q < 3 || q == w->cs || q[2] != '?')
		return -1;
	w->cs_len = (size_t)(q - w->cs);
	w->enc = (char)(q[1] | 0x20);
	if (w->enc != 'b' && w->enc != 'q')
		return -1;
	w->text = q += 3;
	while (q < end && *q != '?') {
		if ((unsigned char)*q <= ' ' || *q == 0x7f)
			return -1;
		q++;
	}
	if (end - q < 2 || q[1] != '=')
		return -1;
	w->text_len = (size_t)(q - w->text);
	w->len = (size_t)(q + 2 - p);
	return 0;
}

static int
blank_only(const char *p, const char *end)
{
	for (; p < end; p++) {
		if (*p != ' ' && *p != '\t')
			return 0;
	}
	return 1;
}

/* Converts the octets of adjacent encoded words in one charset. */
static void
eword_flush(struct search_scratch *sc, const char *cs, size_t cs_len,
    struct buf *out)
{
	if (sc->raw.len > 0)
		convert_append(sc, cs, cs_len, sc->raw.data, sc->raw.len, out);
	buf_reset(&sc->raw);
}

/* Decodes the encoded words of an unfolded value s[0..n) into out.
 * Blanks between two encoded words go; adjacent words in the same
 * charset are converted together, as a character may be split between
 * them. Anything that is not a valid encoded word stays as it is. */
static void
decode_2047(struct search_scratch *sc, const char *s, size_t n,
    struct buf *out)
{
	const char *p = s, *end = s + n, *text = s, *q, *cs = NULL;
	size_t cs_len = 0;
	struct eword w;

	buf_reset(&sc->raw);
	while (p < end && (q = memmem(p, (size_t)(end - p), "=?", 2)) != NULL) {
		if (eword_parse(q, end, &w) < 0) {
			p = q + 1;
			continue;
		}
		if (cs == NULL || !blank_only(text, q)) {
			eword_flush(sc, cs, cs_len, out);
			(void)buf_append(out, text, (size_t)(q - text));
		} else if (cs_len != w.cs_len ||
		    strncasecmp(cs, w.cs, cs_len) != 0) {
			eword_flush(sc, cs, cs_len, out);
		}
		cs = w.cs;
		cs_len = w.cs_len;
		if (w.enc == 'b')
			b64_append(&sc->raw, w.text, w.text_len);
		else
			qp_append(&sc->raw, w.text, w.text_len, 1);
		p = text = q + w.len;
	}
	eword_flush(sc, cs, cs_len, out);
	(void)buf_append(out, text, (size_t)(end - text));
}

/* --- matching ----------------------------------------------------- */

struct match {
	const struct imap_search_msg *m;
	struct search_scratch *sc;
	int sent_ready, body_ready;
	int64_t sent_day;
};

/* A field value unfolded, decoded and case-folded, in a scratch buffer
 * valid until the next call. */
static const struct buf *
field_text(struct search_scratch *sc, const char *v, size_t len)
{
	struct buf *b = &sc->unfold;

	buf_reset(&sc->unfold);
	(void)mime_unfold(&sc->unfold, v, len);
	if (sc->unfold.len >= 8 &&
	    memmem(sc->unfold.data, sc->unfold.len, "=?", 2) != NULL) {
		buf_reset(&sc->dec);
		decode_2047(sc, sc->unfold.data, sc->unfold.len, &sc->dec);
		b = &sc->dec;
	}
	imap_search_fold(b->data, b->len);
	return b;
}

static int
match_field(struct match *c, const struct search_node *n)
{
	const struct mime_tree *t = c->m->tree;
	struct mime_header_iter it;
	struct mime_field f;
	const struct buf *b;

	if (t == NULL)
		return 0;
	mime_header_init(&it, t, t->root);
	while (mime_header_find(&it, n->field, &f)) {
		if (n->len == 0)
			return 1;
		b = field_text(c->sc, f.value, f.value_len);
		if (contains(b->data, b->len, n->str, n->len))
			return 1;
	}
	return 0;
}

/* TEXT in the header: each field as "name: value", decoded. */
static int
match_header_text(struct match *c, const struct search_node *n)
{
	const struct mime_tree *t = c->m->tree;
	struct search_scratch *sc = c->sc;
	struct mime_header_iter it;
	struct mime_field f;
	const struct buf *b;

	if (t == NULL)
		return 0;
	mime_header_init(&it, t, t->root);
	while (mime_header_next(&it, &f)) {
		if (f.name_len == 0)
			continue;
		b = field_text(sc, f.value, f.value_len);
		buf_reset(&sc->text);
		(void)buf_append(&sc->text, f.name, f.name_len);
		(void)buf_append(&sc->text, ": ", 2);
		(void)buf_append(&sc->text, b->data, b->len);
		imap_search_fold(sc->text.data, f.name_len);
		if (contains(sc->text.data, sc->text.len, n->str, n->len))
			return 1;
	}
	return 0;
}

/* One text part's body into sc->body, then a NUL so that no match
 * spans two parts (search strings hold no NUL). */
static void
body_part(struct search_scratch *sc, const struct mime_tree *t,
    const struct mime_part *p)
{
	const char *raw = t->msg + p->body_off;
	const char *cs = mime_param_get(p, "charset");
	const char *enc = p->encoding != NULL ? p->encoding : "7bit";
	char name[CHARSET_NAME_MAX + 1];
	int b64 = strcmp(enc, "base64") == 0;
	int qp = strcmp(enc, "quoted-printable") == 0;

	if (!b64 && !qp &&
	    (cs == NULL || charset_norm(cs, strlen(cs), name) == CS_RAW)) {
		(void)buf_append(&sc->body, raw, p->body_len);
	} else {
		buf_reset(&sc->dec);
		if (b64)
			b64_append(&sc->dec, raw, p->body_len);
		else if (qp)
			qp_append(&sc->dec, raw, p->body_len, 0);
		else
			(void)buf_append(&sc->dec, raw, p->body_len);
		convert_append(sc, cs, cs != NULL ? strlen(cs) : 0,
		    sc->dec.data, sc->dec.len, &sc->body);
	}
	(void)buf_append(&sc->body, "", 1);
}

/* The text parts under p, nested messages included. */
static void
body_collect(struct search_scratch *sc, const struct mime_tree *t,
    const struct mime_part *p)
{
	const struct mime_part *k;

	if ((p->flags & MIME_PART_MULTIPART) != 0) {
		for (k = p->children; k != NULL; k = k->next)
			body_collect(sc, t, k);
	} else if (p->message != NULL) {
		body_collect(sc, t, p->message);
	} else if (strcmp(p->type, "text") == 0) {
		body_part(sc, t, p);
	}
}

static int
match_body(struct match *c, const struct search_node *n)
{
	struct search_scratch *sc = c->sc;

	if (c->m->tree == NULL)
		return 0;
	if (!c->body_ready) {
		buf_reset(&sc->body);
		body_collect(sc, c->m->tree, c->m->tree->root);
		imap_search_fold(sc->body.data, sc->body.len);
		c->body_ready = 1;
	}
	return contains(sc->body.data, sc->body.len, n->str, n->len);
}

/* The day the Date: header names, as written (RFC 3501: disregarding
 * time and zone); the internal date's day when there is none. */
static int64_t
sent_day(struct match *c)
{
	const struct mime_tree *t = c->m->tree;
	struct search_scratch *sc = c->sc;
	struct date822 d;

	if (c->sent_ready)
		return c->sent_day;
	c->sent_ready = 1;
	c->sent_day = utc_day(c->m->internal_date);
	if (t == NULL)
		return c->sent_day;
	buf_reset(&sc->unfold);
	if (mime_header_get(t, t->root, "date", &sc->unfold) == 1 &&
	    date822_parse(sc->unfold.data, sc->unfold.len, &d) == 0)
		c->sent_day = imap_search_days(d.year, d.month, d.day);
	return c->sent_day;
}

static int
in_ranges(const struct search_node *n, uint32_t v)
{
	size_t lo = 0, hi = n->n_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v < n->ranges[mid].lo)
			hi = mid;
		else if (v > n->ranges[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

static int
eval(struct match *c, const struct search_node *n)
{
	const struct imap_search_msg *m = c->m;
	const struct search_node *k;

	switch (n->op) {
	case SEARCH_ALL:
		return 1;
	case SEARCH_NONE:
		return 0;
	case SEARCH_AND:
		for (k = n->kids; k != NULL; k = k->next) {
			if (!eval(c, k))
				return 0;
		}
		return 1;
	case SEARCH_OR:
		for (k = n->kids; k != NULL; k = k->next) {
			if (eval(c, k))
				return 1;
		}
		return 0;
	case SEARCH_NOT:
		return !eval(c, n->kids);
	case SEARCH_FLAGS:
		return (m->flags & n->mask) == n->want &&
		    (m->keywords & n->kw_mask) == n->kw_want;
	case SEARCH_SEQ:
		return in_ranges(n, m->seq);
	case SEARCH_UID:
		return in_ranges(n, m->uid);
	case SEARCH_LARGER:
		return m->size > n->num;
	case SEARCH_SMALLER:
		return m->size < n->num;
	case SEARCH_BEFORE:
		return utc_day(m->internal_date) < n->day;
	case SEARCH_ON:
		return utc_day(m->internal_date) == n->day;
	case SEARCH_SINCE:
		return utc_day(m->internal_date) >= n->day;
	case SEARCH_SENTBEFORE:
		return sent_day(c) < n->day;
	case SEARCH_SENTON:
		return sent_day(c) == n->day;
	case SEARCH_SENTSINCE:
		return sent_day(c) >= n->day;
	case SEARCH_HEADER:
		return match_field(c, n);
	case SEARCH_BODY:
		return match_body(c, n);
	case SEARCH_TEXT:
		return match_header_text(c, n) || match_body(c, n);
	}
	return 0;
}

int
imap_search_match(const struct imap_search *s,
    const struct imap_search_msg *m)
{
	struct match c = { m, s->scratch, 0, 0, 0 };
	int r = eval(&c, s->root);

	if (c.body_ready && s->scratch->body.cap > SCRATCH_KEEP) {
		buf_release(&s->scratch->body, 0);
		buf_release(&s->scratch->dec, 0);
	}
	return r;
}
