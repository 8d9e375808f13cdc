/* The IMAP server (RFC 3501): its two listeners. */
#ifndef MW_IMAP_IMAP_SESSION_H
#define MW_IMAP_IMAP_SESSION_H

#include "core/listener.h"

enum { IMAP_LISTENER_PLAIN, IMAP_LISTENER_TLS, IMAP_LISTENER_COUNT };

extern struct listener imap_listeners[IMAP_LISTENER_COUNT];

/* At server stop, after the sessions: frees the IMAP server's state. */
void imap_session_stop(void);

#endif
