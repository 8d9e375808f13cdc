/* IMAP FETCH ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of a
 * message parsed by store/mime.h, written into a bounded buffer.
 *
 * Strings are quoted ("\"" and "\\" escaped) unless they hold CR, LF or
 * an 8-bit octet or are longer than IMAP_FETCH_MIME_QUOTED_MAX: then
 * they are literals "{n}\r\n...". NUL octets are dropped (IMAP allows
 * them nowhere). Type, subtype, encoding, parameter and disposition
 * names come out lower-cased, as store/mime.h keeps them. */
#ifndef MW_IMAP_IMAP_FETCH_MIME_H
#define MW_IMAP_IMAP_FETCH_MIME_H

#include <stddef.h>

struct buf;
struct mime_tree;
struct mime_part;

#define IMAP_FETCH_MIME_QUOTED_MAX 1024

/* Appends s[0..len) as an IMAP string, or NIL when s is NULL.
 * 0, or -1 when out is full (out then holds part of it). */
int imap_fetch_mime_nstring(struct buf *out, const char *s, size_t len);

/* Appends the ENVELOPE of msg, the root or a part's ->message (any part
 * flagged MIME_PART_MESSAGE); NULL gives ten NILs. Date, Subject,
 * In-Reply-To and Message-ID: the first such field, unfolded, raw
 * (encoded words stay encoded). From, Sender, Reply-To, To, Cc, Bcc:
 * the addresses of every such field, groups as RFC 3501 marks them;
 * Sender and Reply-To are From's when they give no address. A missing
 * local part or domain is "MISSING_MAILBOX" / "MISSING_DOMAIN", as in
 * Dovecot and UW-IMAP, so that host is NIL only for group markers.
 * 0, or -1 when out is full. */
int imap_fetch_mime_envelope(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *msg);

/* Appends BODYSTRUCTURE (extension data included) or BODY (without) of
 * part and everything under it. A multipart without any parsed part
 * shows one empty text/plain part, a message/rfc822 that was not parsed
 * a NIL envelope and that empty part, as the grammar needs at least
 * one (Dovecot does the same). A text part without a charset parameter
 * gets charset "us-ascii" (RFC 2046 4.1.2). 0, or -1 when out is full. */
int imap_fetch_mime_bodystructure(struct buf *out,
    const struct mime_tree *tree, const struct mime_part *part);
int imap_fetch_mime_body(struct buf *out, const struct mime_tree *tree,
    const struct mime_part *part);

#endif
