/* IMAP message flags (RFC 3501 2.3.2): the system flags kept as Maildir
 * info letters (UIDLIST_* in store/uidlist.h), \Recent, which only the
 * session knows, and up to UIDLIST_KEYWORDS keywords per folder, bit i
 * naming keywords[i] (an "" entry is a free slot). */
#ifndef MW_IMAP_IMAP_FLAGS_H
#define MW_IMAP_IMAP_FLAGS_H

#include <stdint.h>

struct buf;
struct imap_args;

#define IMAP_FLAG_RECENT 0x100	/* \Recent beside the UIDLIST_* bits */

/* Appends "(\Answered \Flagged \Deleted \Seen \Draft \Recent kw ...)":
 * the flags set in flags in that order, then keywords[i] for each bit i
 * of kw, lowest first. Bits past UIDLIST_KEYWORDS, bits of "" entries
 * and, when keywords is NULL, all keyword bits are skipped. 0, or -1
 * when out is full (out then holds part of the list). */
int imap_flags_write(struct buf *out, unsigned flags, uint32_t kw,
    const char keywords[][65]);

/* Parses a flag list at the cursor a: "(" [flag *(SP flag)] ")", or,
 * unless paren_only (APPEND), also flags without parentheses up to the
 * end of the command (STORE: "flag *(SP flag)"). System flags match
 * case-insensitively; \Recent is refused ("cannot set \Recent"), as is
 * any other "\" name. A keyword is an atom of at most 64 octets without
 * "\" and matches keywords[] case-insensitively; one not there takes the
 * first free ("") slot when add_new (*added_r = 1; the name is stored as
 * the client wrote it), else the parse fails ("unknown keyword").
 * On success: 0, *flags_r (UIDLIST_*), *kw_r (keyword bits), *added_r.
 * On failure keywords[] is left as it was: -1 with *error_r (static
 * text) for a syntax error, \Recent or an unknown keyword; -2 with
 * *error_r "too many keywords" when no slot is free. */
int imap_flags_parse(struct imap_args *a, int paren_only,
    char keywords[][65], int add_new, unsigned *flags_r, uint32_t *kw_r,
    int *added_r, const char **error_r);

#endif
