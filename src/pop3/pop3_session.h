/* POP3 sessions (RFC 1939, CAPA RFC 2449, STLS RFC 2595, AUTH PLAIN
 * RFC 5034) for the pop3 (STLS) and pop3s (implicit TLS) listeners. */
#ifndef MW_POP3_POP3_SESSION_H
#define MW_POP3_POP3_SESSION_H

#include "core/listener.h"

enum { POP3_LISTENER_PLAIN, POP3_LISTENER_TLS, POP3_LISTENER_COUNT };

/* The two POP3 listeners; serve binds them from their settings. */
extern struct listener pop3_listeners[POP3_LISTENER_COUNT];

#endif
