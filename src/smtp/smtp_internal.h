/* State shared by the files of the SMTP session machine
 * (smtp_session.c, smtp_auth.c, smtp_deliver.c). Not for other modules. */
#ifndef MW_SMTP_SMTP_INTERNAL_H
#define MW_SMTP_SMTP_INTERNAL_H

#include <stddef.h>

#include "core/account.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/linereader.h"
#include "core/listener.h"
#include "queue/submit.h"
#include "smtp/smtp_data.h"
#include "smtp/smtp_parse.h"

/* AUTH lines may be longer than commands (RFC 4954 4). */
#define SMTP_AUTH_LINE_MAX 12288

enum smtp_state {
	SMTP_STATE_CONNECTED,	/* greeted; waiting for EHLO/HELO */
	SMTP_STATE_HELO,	/* no transaction */
	SMTP_STATE_MAIL,	/* MAIL accepted */
	SMTP_STATE_RCPT,	/* at least one recipient accepted */
	SMTP_STATE_DATA,	/* reading the message */
	SMTP_STATE_AUTH,	/* waiting for a SASL response line */
	SMTP_STATE_BUSY,	/* waiting for a worker (AUTH or delivery) */
	SMTP_STATE_TLS,		/* STARTTLS handshake */
	SMTP_STATE_QUIT,	/* closing */
	SMTP_STATE_COUNT
};

struct smtp_listener_conf {
	int set_auth;		/* L.auth setting id */
	int auth_required;	/* MAIL needs AUTH first (submission) */
};


struct smtp_session {
	struct conn *c;
	const struct listener *l;
	const struct smtp_listener_conf *conf;
	enum smtp_state state;
	struct line_reader lr;
	char line[SMTP_AUTH_LINE_MAX];
	char helo[256];
	int esmtp;
	char auth_user[ACCOUNT_ADDR_MAX + 1];	/* "" until authenticated */
	int sasl_mech;		/* AUTH in progress: SMTP_SASL_* */
	char sasl_user[ACCOUNT_ADDR_MAX + 1];	/* LOGIN: the username */
	unsigned ncommands;
	unsigned nerrors;
	int close_after_reply;	/* shutting down: close once answered */
	unsigned messages;	/* accepted in this session */

	/* The mail transaction. */
	struct smtp_path from;
	int smtputf8;
	size_t nrcpt_accepted;		/* RCPT commands accepted */
	struct submit_rcpt *rcpts;	/* distinct final targets */
	size_t nrcpts, rcpts_cap;
	struct buf msg;
	struct smtp_data data;
};

enum { SMTP_SASL_NONE, SMTP_SASL_PLAIN, SMTP_SASL_LOGIN };

void smtp_enter_state(struct smtp_session *s, enum smtp_state state);
/* Sends one reply line (CRLF added) and logs it. */
void smtp_reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counts a client error; closes the session past smtp.max-errors. */
void smtp_client_error(struct smtp_session *s);
void smtp_reset_transaction(struct smtp_session *s);
/* Back to reading commands after a worker answered. */
void smtp_resume(struct smtp_session *s, enum smtp_state state);
/* smtp_quota.c: when a recipient added from index before on is a local
 * user with a quota, checks it on a worker and answers RCPT (250, or
 * 452 4.2.2 dropping them); returns 1 then, else 0. */
int smtp_rcpt_quota(struct smtp_session *s, size_t before,
    const char *addr);
void smtp_close(struct smtp_session *s);

/* smtp_auth.c */
void smtp_cmd_auth(struct smtp_session *s, const char *args);
void smtp_auth_line(struct smtp_session *s, const char *line);
int smtp_auth_offered(const struct smtp_session *s);

/* smtp_deliver.c: stores the message read by DATA, then replies. */
void smtp_deliver(struct smtp_session *s);

#endif
