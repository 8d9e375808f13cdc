/* IMAP FETCH (RFC 3501 6.4.5, 7.4.2): the attribute list a client asks
 * for, parsed once per command, and the "* n FETCH (...)" response for
 * one message, written from its flags and its MIME tree (store/mime.h).
 *
 * Section data and sizes are those of the wire form (bare LF sent as
 * CRLF), whatever the stored form; a
 * NUL octet goes out as 0x80, as literals cannot carry NUL. */
#ifndef MW_IMAP_IMAP_FETCH_H
#define MW_IMAP_IMAP_FETCH_H

#include <stdint.h>

struct buf;
struct imap_args;
struct mime_tree;

#define IMAP_FETCH_ITEMS_MAX 100	/* attributes in one FETCH */
#define IMAP_FETCH_NAMES_MAX 100	/* names in one HEADER.FIELDS list */
#define IMAP_FETCH_NAME_MAX 256		/* octets in a header name */

/* The parsed attribute list; owned by the caller of imap_fetch_parse(). */
struct imap_fetch;

/* What the message data given to imap_fetch_write() must hold. */
enum {
	IMAP_FETCH_NEED_HEADER = 1,	/* the header (and its blank line) */
	IMAP_FETCH_NEED_BODY = 2,	/* the whole message */
};

/* Parses the attributes after FETCH's sequence set, up to the end of the
 * command: one attribute, "(" attribute *(SP attribute) ")", or one of
 * the macros ALL, FAST, FULL (not inside a list). Names are
 * case-insensitive. Attributes: FLAGS UID INTERNALDATE RFC822.SIZE
 * ENVELOPE BODY BODYSTRUCTURE RFC822 RFC822.HEADER RFC822.TEXT and
 * BODY[section]<a.b>, BODY.PEEK[section]<a.b> with section "", HEADER,
 * HEADER.FIELDS (names), HEADER.FIELDS.NOT (names), TEXT, or part
 * numbers "1.2" optionally followed by "." and one of those or MIME;
 * partial b > 0; header names are atoms or quoted strings. uid_cmd (UID
 * FETCH) adds UID when it is not asked for. At most
 * IMAP_FETCH_ITEMS_MAX attributes (a macro counts its members) and
 * IMAP_FETCH_NAMES_MAX names per list. 0 and *f_r (free it with
 * imap_fetch_free()), or -1 with *error_r (static text). */
int imap_fetch_parse(struct imap_args *a, int uid_cmd, struct imap_fetch **f_r,
    const char **error_r);

/* IMAP_FETCH_NEED_* bits: 0 when flags, UID, date and size are enough;
 * NEED_HEADER alone when ENVELOPE, RFC822.HEADER, BODY[HEADER] and
 * BODY[HEADER.FIELDS ...] without part numbers are the only items that
 * need the message; NEED_BODY (possibly with NEED_HEADER) otherwise. */
int imap_fetch_needs(const struct imap_fetch *f);

/* 1 when the list has BODY[...] without PEEK, RFC822 or RFC822.TEXT: the
 * caller sets \Seen (unless the folder is read-only) before writing. */
int imap_fetch_sets_seen(const struct imap_fetch *f);

/* 1 when the list asks for INTERNALDATE (the caller then looks up the
 * file's date even when imap_fetch_needs() is 0). */
int imap_fetch_needs_date(const struct imap_fetch *f);

/* One message, as imap_fetch_write() reads it. */
struct imap_fetch_msg {
	uint32_t seq, uid;
	unsigned flags;			/* UIDLIST_*, IMAP_FLAG_RECENT */
	uint32_t keywords;		/* bit i: keyword_names[i] */
	const char (*keyword_names)[65];	/* the folder's, or NULL */
	uint64_t size;			/* RFC822.SIZE (wire form) */
	int64_t internal_date;		/* unix seconds */
	/* NULL when imap_fetch_needs() is 0; when it is NEED_HEADER alone,
	 * it may be the tree of the header and its blank line only */
	const struct mime_tree *tree;
	/* this FETCH has just set \Seen: FLAGS is added at the end of the
	 * response when the list does not ask for it (RFC 3501 6.4.5) */
	int seen_changed;
};

/* Appends "* seq FETCH (...)\r\n": the items in the order asked (UID
 * first when only uid_cmd added it), each once; BODY[...] items name
 * the section as asked (keywords upper-cased, PEEK dropped, header
 * names as given) and "<a>" for a partial. Section data is a literal
 * "{n}\r\n" and n octets, or "" when empty: a part that does not exist,
 * HEADER/TEXT of a part that is not message/rfc822, or a partial past
 * the end. <a.b> takes octets a .. a+b-1 of the section. RFC822,
 * RFC822.HEADER and RFC822.TEXT are BODY[], BODY.PEEK[HEADER] and
 * BODY[TEXT] under their own names. INTERNALDATE is written in UTC.
 * 0, or -1 when out is full (out then holds part of the response: the
 * caller sizes out, about the message size + 64 KiB). */
int imap_fetch_write(struct buf *out, const struct imap_fetch *f,
    const struct imap_fetch_msg *m);

/* Frees *f (NULL is fine) and clears it. */
void imap_fetch_free(struct imap_fetch **f);

#endif
