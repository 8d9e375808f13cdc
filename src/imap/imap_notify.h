/* Change notices for selected mailboxes: one inotify instance for the
 * whole server, one watch per Maildir however many sessions have it
 * selected. A change (delivery, another session, a Maildir tool) bumps
 * the watch's generation and wakes the sessions on it. */
#ifndef MW_IMAP_IMAP_NOTIFY_H
#define MW_IMAP_IMAP_NOTIFY_H

#include <stdint.h>

struct imap_session;
struct imap_watch;

/* Sets up the inotify instance on the server's loop (once). */
void imap_notify_init(void);
/* Frees the instance at server stop (every watch is gone by then). */
void imap_notify_stop(void);
/* Watches maildir's new/ and cur/ and puts s on the watch's list;
 * NULL when inotify cannot watch it (then every command syncs). */
struct imap_watch *imap_notify_add(const char *maildir,
    struct imap_session *s);
/* Takes s off the watch's list; the last one frees the watch. */
void imap_notify_remove(struct imap_watch *w, struct imap_session *s);
/* Reads waiting notices now, so that a change made before the call is
 * counted; cheap (one read on a non-blocking fd). */
void imap_notify_poll(void);
/* Increases with every change seen under the watch. */
uint64_t imap_notify_gen(const struct imap_watch *w);

#endif
