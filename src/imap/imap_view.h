/* The selected mailbox of an IMAP session (struct imap_view in
 * imap_internal.h): loading it, keeping it in step with the Maildir and
 * telling the client what changed (RFC 3501 7.3, 7.4). Functions marked
 * "worker" block and run in the session's job; the rest run on the loop. */
#ifndef MW_IMAP_IMAP_VIEW_H
#define MW_IMAP_IMAP_VIEW_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct imap_session;

/* Loop: makes the folder at path the selected one (closing any other)
 * and starts watching it; empty until imap_view_load(). */
void imap_view_open(struct imap_session *s, const char *name,
    const char *path, int readonly);
/* Loop: unselects (frees the view, stops watching). */
void imap_view_close(struct imap_session *s);
/* Loop: takes s off its watch (the connection went). */
void imap_view_unwatch(struct imap_session *s);
/* Loop: 1 if a sync may find changes (a notice came since the last one,
 * or the folder is not watched); records the generation for the sync. */
int imap_view_dirty(struct imap_session *s);
/* Loop: after a sync job, the generation it covered. */
void imap_view_synced(struct imap_session *s);

/* Worker: reads the folder's UIDs; read-write views claim the messages
 * in new/ as \Recent (moving them to cur/). 0, or -1 with errno. */
int imap_view_load(struct imap_session *s);
/* Worker: re-reads the folder and writes what changed since the client
 * last heard into s->out: EXPUNGE (highest first), FLAGS, EXISTS,
 * RECENT, FETCH (UID FLAGS). 0, or -1 with errno. */
int imap_view_sync(struct imap_session *s);

/* Loop or worker: drops the file names of an idle view (an IDLE session
 * then costs 8 octets per message); imap_view_expand() (worker) reads
 * them back, keeping the client's numbering. Jobs expand on their own. */
void imap_view_compact(struct imap_session *s);
int imap_view_expand(struct imap_session *s);
/* Flags and keywords in one word, as view.known holds them. */
uint32_t imap_view_pack(unsigned flags, uint32_t kw);

/* Message i's flags (UIDLIST_* | IMAP_SESSION_FLAG_RECENT), keywords. */
unsigned imap_view_flags(const struct imap_session *s, size_t i,
    uint32_t *kw_r);
/* Worker: gives message i these flags and keywords on disk. 0 or -1
 * (errno ENOENT: the message is gone). */
int imap_view_set_flags(struct imap_session *s, size_t i, unsigned flags,
    uint32_t kw);
/* 1 if the folder's keyword names changed since the client heard them. */
int imap_view_keywords_changed(const struct imap_session *s);
/* "* FLAGS" and "* OK [PERMANENTFLAGS]" lines for the view. */
void imap_view_write_flags(struct imap_session *s, struct buf *out);
/* Loop: reads the next argument as a sequence set (uid: a UID set), "*"
 * being the last message the client knows. -1 with *error_r (for tag
 * BAD) when malformed or naming a sequence number beyond the mailbox. */
struct imap_args;
struct imap_seqset;
int imap_view_parse_set(struct imap_session *s, struct imap_args *a,
    int uid, struct imap_seqset *set, const char **error_r);
/* The messages of the view that set names (UIDs not in the view are
 * skipped): a new array of view.ul.box.n + 1 bytes, 1 per message
 * named, *count_r of them. Call after any sync; the caller frees. */
uint8_t *imap_view_mark(struct imap_session *s,
    const struct imap_seqset *set, int uid, size_t *count_r);
/* Index of the message with uid, or -1. */
long imap_view_find(const struct imap_session *s, uint32_t uid);

#endif
