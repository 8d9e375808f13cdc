/* End of DATA: check the message, add the trace header, have it stored
 * (queue/submit.c: Maildir for local users, the queue for the others)
 * and answer 250 only once everything is on disk.
 * SECURITY: the client's HELO name was escaped before it enters a
 * header. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "smtp/smtp_internal.h"

struct smtp_delivery {
	uint64_t conn_id;
	char id[17];
	char sender[SMTP_PATH_MAX];
	size_t nrcpts, size;
};

static void
delivery_done(void *ctx, int ok, const char *queue_id)
{
	struct smtp_delivery *d = ctx;
	struct conn *c = conn_lookup(d->conn_id);

	log_info("smtp", d->conn_id, "event=%s id=%s from=<%s> rcpts=%zu "
	    "size=%zu%s%s", ok ? "stored" : "store-failed", d->id, d->sender,
	    d->nrcpts, d->size, queue_id[0] ? " queue=" : "", queue_id);
	if (c != NULL) {
		struct smtp_session *s = c->ctx;

		if (ok) {
			s->messages++;
			smtp_reply(s, "250 2.0.0 Ok: queued as %s", d->id);
		} else {
			smtp_reply(s, "451 4.3.0 Temporary failure storing "
			    "the message, try again later");
		}
		smtp_resume(s, SMTP_STATE_HELO);
	}
	free(d);
}

/* "from HELO ([IP]) by HOST (Mailwarden) with PROTO id ID for <rcpt>;
 * DATE" (RFC 5321 4.4, protocol names from RFC 3848). */
static void
build_received(struct smtp_session *s, const char *id, struct buf *b)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *proto;
	int tls = s->c->ssl != NULL, auth = s->auth_user[0] != '\0';

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (!s->esmtp)
		proto = "SMTP";
	else if (s->smtputf8)
		proto = tls ? (auth ? "UTF8SMTPSA" : "UTF8SMTPS") :
		    (auth ? "UTF8SMTPA" : "UTF8SMTP");
	else
		proto = tls ? (auth ? "ESMTPSA" : "ESMTPS") :
		    (auth ? "ESMTPA" : "ESMTP");
	buf_printf(b, "Received: from %s ([%s])\r\n\tby %s (Mailwarden) "
	    "with %s id %s", s->helo, s->c->peer_str,
	    settings_str(srv.set, SET_HOSTNAME), proto, id);
	if (s->nrcpt_accepted == 1 && s->nrcpts == 1)
		buf_printf(b, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(b, ";\r\n\t%s\r\n", date);
}

static void
reject_message(struct smtp_session *s, unsigned errors)
{
	if (errors & SMTP_DATA_TOO_BIG)
		smtp_reply(s, "552 5.3.4 Message size exceeds fixed maximum "
		    "message size");
	else if (errors & SMTP_DATA_BARE_NL)
		smtp_reply(s, "550 5.6.0 Message contains bare CR or LF "
		    "characters");
	else
		smtp_reply(s, "550 5.6.0 Message has lines longer than %d "
		    "octets", SMTP_DATA_LINE_MAX);
	log_info("smtp", s->c->id, "event=message-rejected ip=%s errors=%u "
	    "size=%zu", s->c->peer_str, errors, s->data.size);
	smtp_reset_transaction(s);
	smtp_resume(s, SMTP_STATE_HELO);
}

void
smtp_deliver(struct smtp_session *s)
{
	struct smtp_delivery *d;
	struct buf trace;
	int held;

	if (s->data.errors != 0) {
		reject_message(s, s->data.errors);
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->conn_id = s->c->id;
	snprintf(d->id, sizeof(d->id), "%016llx",
	    (unsigned long long)random_u64());
	str_copy(d->sender, sizeof(d->sender), s->from.addr);
	d->nrcpts = s->nrcpts;
	d->size = s->msg.len;
	buf_init(&trace, 4096);
	build_received(s, d->id, &trace);
	/* A user past the auth-volume rule with kind hold: accepted, and
	 * held in the queue for the administrator. */
	held = s->auth_user[0] != '\0' && guard_srv_user_message(s->auth_user,
	    &s->c->peer, GUARD_SMTP) == 1;
	if (held)
		log_warn("smtp", s->c->id, "event=held user=\"%s\"",
		    s->auth_user);
	smtp_enter_state(s, SMTP_STATE_BUSY);
	conn_pause(s->c);
	submit_message(s->from.addr, s->rcpts, s->nrcpts, held, &trace,
	    &s->msg, delivery_done, d);
	smtp_reset_transaction(s);
}
