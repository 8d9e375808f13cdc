/* IMAP SEARCH (RFC 3501 6.4.4): the command's search keys compiled into
 * a program once, then matched against one message at a time. Pure: no
 * I/O and no session state. The caller supplies each message's metadata
 * and, when imap_search_needs() asks for it, its MIME tree.
 *
 * String keys are case-insensitive substring matches on UTF-8 (ASCII,
 * Latin-1, Latin Extended-A, Greek and Cyrillic letters folded). Header
 * keys see field values unfolded and RFC 2047 decoded; BODY sees the
 * text parts after Content-Transfer-Encoding decoding; both are
 * converted to UTF-8 (iconv), raw bytes when conversion fails. */
#ifndef MW_IMAP_IMAP_SEARCH_H
#define MW_IMAP_IMAP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

struct imap_args;
struct mime_tree;
struct imap_search;

enum { IMAP_SEARCH_NEED_HEADER = 1, IMAP_SEARCH_NEED_BODY = 2 };
/* Flag bit beside UIDLIST_SEEN.. (store/uidlist.h) for \Recent. */
#define IMAP_SEARCH_RECENT 0x100

#define IMAP_SEARCH_DEPTH_MAX 256	/* nested OR, NOT and lists */
#define IMAP_SEARCH_NODES_MAX 4096	/* keys in one program */

/* Compiles the arguments of SEARCH. a is positioned after "SEARCH "
 * (imap_args_init() on the rest of the command). keywords are the
 * folder's keyword names (uidlist.h: [UIDLIST_KEYWORDS][65], "" for an
 * unused slot), case-insensitive. max_seq and max_uid are what "*"
 * means in sequence sets and UID sets.
 *
 * Accepts an optional leading "CHARSET x" (UTF-8 or US-ASCII, any case),
 * then one or more search keys: every key of RFC 3501 6.4.4, sequence
 * sets, parenthesised lists, OR and NOT, nested up to
 * IMAP_SEARCH_DEPTH_MAX with at most IMAP_SEARCH_NODES_MAX keys.
 *
 * Returns 0 and *s_r (free with imap_search_free()); -1 on a syntax
 * error, *error_r then a short static text for "tag BAD <text>"; -2 for
 * an unknown charset (the caller answers NO [BADCHARSET (UTF-8
 * US-ASCII)]). The arguments are copied: a may go once this returns. */
int imap_search_parse(struct imap_args *a, const char keywords[][65],
    uint32_t max_seq, uint32_t max_uid, struct imap_search **s_r,
    const char **error_r);

/* IMAP_SEARCH_NEED_* bits. 0: only the metadata is looked at, and
 * m->tree may be NULL. NEED_HEADER alone: a tree parsed from the
 * message's header is enough. NEED_BODY: the tree of the whole
 * message. */
int imap_search_needs(const struct imap_search *s);

/* One message. tree may be NULL when imap_search_needs() said 0; keys
 * that need it then match nothing (SENT* fall back to internal_date). */
struct imap_search_msg {
	uint32_t seq, uid;
	unsigned flags;			/* UIDLIST_* | IMAP_SEARCH_RECENT */
	uint32_t keywords;		/* bit i = keywords[i] */
	uint64_t size;			/* RFC822.SIZE */
	int64_t internal_date;		/* unix seconds */
	const struct mime_tree *tree;	/* parsed message, or NULL */
};

/* 1 match, 0 no match. The program keeps scratch buffers and charset
 * converters between calls: one thread at a time per program. */
int imap_search_match(const struct imap_search *s,
    const struct imap_search_msg *m);

/* Frees the program (NULL is fine) and clears *s. */
void imap_search_free(struct imap_search **s);

/* An RFC 5322 date-time (obsolete forms included: two- and three-digit
 * years, missing seconds, comments, alphabetic zones) from s[0..len).
 * 0 and the instant in unix seconds (*utc_r) and the zone offset in
 * minutes east of UTC (*zone_r); -1 when no date can be read. Text
 * after the zone is ignored. */
int imap_search_date822(const char *s, size_t len, int64_t *utc_r,
    int *zone_r);

#endif
