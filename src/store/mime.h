/* MIME structure of a message held in memory (RFC 2045, 2046, 5322):
 * a tree of parts that points into the message instead of copying it,
 * what IMAP FETCH BODY, BODYSTRUCTURE and BODY[section] are built on.
 *
 * Sizes and line counts are those of the wire form that IMAP sends:
 * every bare LF becomes CRLF, and nothing else changes, so a message
 * APPENDed with CRLF line ends comes back byte for byte (a last line
 * without a line end stays so; lines are line ends). Offsets and
 * lengths are those of the stored bytes.
 *
 * Parsing never fails: malformed input (no boundary, a header line
 * without a colon, NUL bytes, endless lines, a truncated message) gives
 * a sensible tree, and past the depth or part-count limits the rest of
 * a part is an opaque body. */
#ifndef MW_STORE_MIME_H
#define MW_STORE_MIME_H

#include <stddef.h>
#include <stdint.h>

struct buf;

#define MIME_MAX_DEPTH 32	/* nesting of multiparts and messages */
#define MIME_MAX_PARTS 1000	/* parts in one tree, the root included */
#define MIME_MAX_PARAMS 64	/* parameters kept per header field */
#define MIME_MAX_LANGUAGES 16	/* Content-Language tags kept */
#define MIME_MAX_BOUNDARY 256	/* longer boundaries are not used */

/* A parameter of Content-Type or Content-Disposition. */
struct mime_param {
	const char *name;	/* lower-cased */
	const char *value;	/* quotes and backslash escapes removed */
};

enum {
	MIME_PART_MULTIPART = 0x01,	/* multipart/ type: see children */
	MIME_PART_RFC822 = 0x02,	/* message/rfc822: see message */
	MIME_PART_MESSAGE = 0x04,	/* a whole message: root, embedded */
	MIME_PART_LIMITED = 0x08,	/* a limit cut what is under it */
};

/* One part. All strings are NUL-terminated, live in the tree and have
 * NUL bytes of the message dropped; a field that is absent is NULL.
 * Values of unstructured fields are unfolded and trimmed. */
struct mime_part {
	struct mime_part *parent;
	struct mime_part *children;	/* multipart: the first body part */
	struct mime_part *next;		/* next sibling */
	struct mime_part *message;	/* message/rfc822: the message in it,
					   NULL when not parsed (encoded,
					   or past a limit) */
	unsigned int n_children;
	unsigned int depth;		/* root 0 */
	unsigned int flags;		/* MIME_PART_* */

	size_t header_off, header_len;	/* the blank line after it included */
	size_t body_off, body_len;	/* body_off: header_off + header_len */
	uint64_t header_size, header_lines;	/* wire form */
	uint64_t body_size, body_lines;		/* wire form, LFs counted */

	const char *type, *subtype;	/* lower-cased; text/plain, or
					   message/rfc822 in a digest, when
					   absent or invalid */
	struct mime_param *params;
	unsigned int n_params;
	const char *encoding;		/* Content-Transfer-Encoding, lower */
	const char *id, *description, *md5, *location;
	const char *disposition;	/* lower-cased type */
	struct mime_param *disp_params;
	unsigned int n_disp_params;
	const char **languages;
	unsigned int n_languages;
};

struct mime_arena;

struct mime_tree {
	const char *msg;		/* the caller's, not copied */
	size_t len;
	struct mime_part *root;
	size_t n_parts;
	struct mime_arena *arena;	/* parts and strings */
};

/* Parses msg[0..len). The tree points into msg, which must outlive it.
 * Never fails (allocation failure aborts); free with mime_free(). */
struct mime_tree *mime_parse(const char *msg, size_t len);
/* Frees the tree (NULL is fine) and clears *tree. */
void mime_free(struct mime_tree **tree);

/* Finds the part that an IMAP section's part numbers name: sec[0..len)
 * is "" (the whole message, the root) or nz-numbers joined by dots
 * (RFC 3501 6.4.5). A number walks into a multipart's children, or,
 * under a message/rfc822 part, into the message it holds; part 1 of a
 * message that is not multipart is that message. The caller applies
 * HEADER, HEADER.FIELDS and TEXT to part_r's ->message after numbers
 * (valid only for message/rfc822), to the root without any, and MIME to
 * part_r's own header. 0, or -1 when no such part exists. */
int mime_section_find(const struct mime_tree *tree, const char *sec,
    size_t len, const struct mime_part **part_r);

/* A header field as stored. */
struct mime_field {
	const char *name;	/* not NUL-terminated; name_len 0 for a line
				   without a colon, which no name matches */
	size_t name_len;	/* whitespace before the colon dropped */
	const char *value;	/* after the colon and leading whitespace,
				   folded lines included, line end not */
	size_t value_len;
	const char *raw;	/* the whole field with its line ends */
	size_t raw_len;
};

struct mime_header_iter {
	const char *p, *end;
};

/* Iterates the fields of part's header, in order, up to the blank line. */
void mime_header_init(struct mime_header_iter *it,
    const struct mime_tree *tree, const struct mime_part *part);
/* The next field into *f_r: 1, or 0 at the end of the header. */
int mime_header_next(struct mime_header_iter *it, struct mime_field *f_r);
/* The next field whose name is name (ASCII case-insensitive): 1 or 0. */
int mime_header_find(struct mime_header_iter *it, const char *name,
    struct mime_field *f_r);
/* Appends value[0..len) unfolded: CR, LF and NUL dropped, leading and
 * trailing whitespace trimmed. 0, or -1 when out is full. */
int mime_unfold(struct buf *out, const char *value, size_t len);
/* Appends the unfolded value of part's first field called name.
 * 1 found, 0 absent, -1 out full. */
int mime_header_get(const struct mime_tree *tree,
    const struct mime_part *part, const char *name, struct buf *out);

/* HEADER.FIELDS (not == 0) or HEADER.FIELDS.NOT (not != 0) of part's
 * header: appends, in wire form, every field whose name is (or is not)
 * one of names[0..n) (case-insensitive), then the blank line "\r\n".
 * Lines without a colon count as not named. 0, or -1 when out is full. */
int mime_header_filter(const struct mime_tree *tree,
    const struct mime_part *part, const char *const *names, size_t n,
    int not, struct buf *out);

/* Appends msg[off..off+len) in wire form (bare LF made CRLF), exactly
 * as many octets as the sizes above count. 0, or -1 when out is full or the range is
 * outside the message. */
int mime_append_wire(struct buf *out, const struct mime_tree *tree,
    size_t off, size_t len);

/* part's parameter called name (lower-case), or NULL. */
const char *mime_param_get(const struct mime_part *part, const char *name);

#endif
