/* End of DATA: check the message, add the trace header, store it durably
 * on a worker (Maildir for local users, the queue for relayed mail) and
 * answer 250 only once everything is on disk.
 * SECURITY: the client's HELO name is escaped before it enters a header;
 * Maildir paths come from stored accounts. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/server.h"
#include "core/util.h"
#include "queue/spool.h"
#include "smtp/smtp_internal.h"
#include "store/maildir.h"

struct smtp_delivery {
	struct pool_job job;	/* first: the pool hands this back */
	uint64_t conn_id;
	char id[17];
	char host[256];
	char sender[SMTP_PATH_MAX];
	struct buf received;	/* the Received: header */
	struct buf msg;		/* the message, taken from the session */
	struct smtp_rcpt *rcpts;
	size_t nrcpts;
	int failed;		/* a copy could not be stored */
	char queue_id[SPOOL_ID_LEN + 1];
};

static void
delivery_free(struct smtp_delivery *d)
{
	buf_release(&d->received, 0);
	buf_release(&d->msg, 0);
	free(d->rcpts);
	free(d);
}

static void
delivery_work(struct pool_job *job)
{
	struct smtp_delivery *d = (struct smtp_delivery *)job;
	const char *remote[ACCOUNT_MAX_TARGETS * 4];
	char rpath[SMTP_PATH_MAX + 32], dir[PATH_MAX],
	    name[MAILDIR_NAME_MAX];
	struct iovec iov[3];
	size_t nremote = 0;
	int rlen;

	rlen = snprintf(rpath, sizeof(rpath), "Return-Path: <%s>\r\n",
	    d->sender);
	iov[0].iov_base = rpath;
	iov[0].iov_len = (size_t)rlen;
	iov[1].iov_base = d->received.data;
	iov[1].iov_len = d->received.len;
	iov[2].iov_base = d->msg.data;
	iov[2].iov_len = d->msg.len;
	for (size_t i = 0; i < d->nrcpts; i++) {
		if (!d->rcpts[i].local) {
			if (nremote < sizeof(remote) / sizeof(remote[0]))
				remote[nremote++] = d->rcpts[i].addr;
			continue;
		}
		if (account_maildir(d->rcpts[i].addr, dir, sizeof(dir)) < 0 ||
		    maildir_deliver(dir, d->host, iov, 3, iov[0].iov_len +
		    iov[1].iov_len + iov[2].iov_len, name) < 0)
			d->failed = 1;
	}
	if (nremote > 0 && spool_write(d->sender, remote, nremote, iov + 1, 2,
	    d->queue_id) < 0)
		d->failed = 1;
}

static void
delivery_done(struct pool_job *job)
{
	struct smtp_delivery *d = (struct smtp_delivery *)job;
	struct conn *c = conn_lookup(d->conn_id);

	log_info("smtp", d->conn_id, "event=%s id=%s from=<%s> rcpts=%zu "
	    "size=%zu%s%s", d->failed ? "store-failed" : "stored", d->id,
	    d->sender, d->nrcpts, d->msg.len, d->queue_id[0] ? " queue=" : "",
	    d->queue_id);
	if (c != NULL) {
		struct smtp_session *s = c->ctx;

		if (d->failed)
			smtp_reply(s, "451 4.3.0 Temporary failure storing "
			    "the message, try again later");
		else
			smtp_reply(s, "250 2.0.0 Ok: queued as %s", d->id);
		smtp_resume(s, SMTP_STATE_HELO);
	}
	delivery_free(d);
}

/* "from HELO ([IP]) by HOST (Mailwarden) with PROTO id ID for <rcpt>;
 * DATE" (RFC 5321 4.4, protocol names from RFC 3848). */
static void
build_received(struct smtp_session *s, struct smtp_delivery *d)
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
	buf_init(&d->received, 4096);
	buf_printf(&d->received, "Received: from %s ([%s])\r\n\tby %s "
	    "(Mailwarden) with %s id %s", s->helo, s->c->peer_str, d->host,
	    proto, d->id);
	if (s->nrcpt_accepted == 1 && s->nrcpts == 1)
		buf_printf(&d->received, "\r\n\tfor <%s>", s->rcpts[0].addr);
	buf_printf(&d->received, ";\r\n\t%s\r\n", date);
}

void
smtp_deliver(struct smtp_session *s)
{
	struct smtp_delivery *d;
	unsigned errors = s->data.errors;

	if (errors != 0) {
		if (errors & SMTP_DATA_TOO_BIG)
			smtp_reply(s, "552 5.3.4 Message size exceeds fixed "
			    "maximum message size");
		else if (errors & SMTP_DATA_BARE_NL)
			smtp_reply(s, "550 5.6.0 Message contains bare CR or "
			    "LF characters");
		else
			smtp_reply(s, "550 5.6.0 Message has lines longer "
			    "than %d octets", SMTP_DATA_LINE_MAX);
		log_info("smtp", s->c->id, "event=message-rejected ip=%s "
		    "errors=%u size=%zu", s->c->peer_str, errors, s->data.size);
		smtp_reset_transaction(s);
		smtp_enter_state(s, SMTP_STATE_HELO);
		conn_set_timeout(s->c, (unsigned)settings_num(srv.set,
		    SET_SMTP_TIMEOUT));
		return;
	}
	d = xcalloc(1, sizeof(*d));
	d->job.work = delivery_work;
	d->job.done = delivery_done;
	d->conn_id = s->c->id;
	snprintf(d->id, sizeof(d->id), "%016llx",
	    (unsigned long long)random_u64());
	str_copy(d->host, sizeof(d->host), settings_str(srv.set, SET_HOSTNAME));
	str_copy(d->sender, sizeof(d->sender), s->from.addr);
	build_received(s, d);
	d->msg = s->msg;	/* the session starts a fresh buffer */
	buf_init(&s->msg, 0);
	d->rcpts = xmalloc(s->nrcpts * sizeof(*d->rcpts));
	memcpy(d->rcpts, s->rcpts, s->nrcpts * sizeof(*d->rcpts));
	d->nrcpts = s->nrcpts;
	smtp_reset_transaction(s);
	smtp_enter_state(s, SMTP_STATE_BUSY);
	conn_pause(s->c);
	pool_submit(&d->job);
}
