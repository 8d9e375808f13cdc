/* SMTP sessions (RFC 5321) for the smtp (MX), submission and smtps
 * listeners. */
#ifndef MW_SMTP_SMTP_SESSION_H
#define MW_SMTP_SMTP_SESSION_H

#include "core/listener.h"

enum { SMTP_LISTENER_MX, SMTP_LISTENER_SUBMISSION, SMTP_LISTENER_SMTPS,
	SMTP_LISTENER_COUNT };

/* The three SMTP listeners; serve binds them from their settings. */
extern struct listener smtp_listeners[SMTP_LISTENER_COUNT];

#endif
