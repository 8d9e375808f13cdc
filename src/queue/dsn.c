/* Delivery status notifications (RFC 3464): bounces for failed
 * recipients and delay warnings, from MAILER-DAEMON with a null
 * envelope sender so that they can never loop. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "queue/deliver_internal.h"
#include "queue/submit.h"

#define DSN_MAX (256 * 1024)

/* The enhanced status code in reply ("5.1.1"), or a general one. */
static void
status_of(const char *reply, int delay, char *out, size_t size)
{
	const char *p = reply ? strchr(reply, ' ') : NULL;
	unsigned a, b, c;
	int n = 0;

	if (p != NULL && sscanf(p + 1, "%1u.%3u.%3u%n", &a, &b, &c, &n) == 3 &&
	    (a == 4 || a == 5) && (p[1 + n] == ' ' || p[1 + n] == '\0')) {
		snprintf(out, size, "%u.%u.%u", delay ? 4 : a, b, c);
		return;
	}
	snprintf(out, size, "%s", delay ? "4.0.0" : "5.0.0");
}

static int
wanted(const struct queue_rcpt *r, int delay)
{
	return delay ? r->state == QUEUE_PENDING :
	    r->state == QUEUE_FAILED && !r->bounced;
}

void
dsn_send(const struct queue_env *env, const char *headers, int delay)
{
	const char *host = settings_str(srv.set, SET_HOSTNAME);
	const char *sender = env->sender;
	struct submit_rcpt rcpts[ACCOUNT_MAX_TARGETS];
	char date[64], arrival[64], boundary[64], status[16];
	time_t now = time(NULL), created = (time_t)env->created;
	struct buf msg, trace;
	struct tm tm;
	size_t n;

	n = submit_resolve(&sender, 1, rcpts, ACCOUNT_MAX_TARGETS);
	if (n == 0) {
		log_warn("delivery", 0, "event=dsn-undeliverable id=%s to=%s",
		    env->id, sender);
		return;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	localtime_r(&created, &tm);
	strftime(arrival, sizeof(arrival), "%a, %d %b %Y %H:%M:%S %z", &tm);
	snprintf(boundary, sizeof(boundary), "%016llx/%s",
	    (unsigned long long)random_u64(), host);
	buf_init(&msg, DSN_MAX + 64 * 1024 + 8192);
	buf_init(&trace, 0);
	buf_printf(&msg, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%s.%016llx.dsn@%s>\r\nAuto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n\r\n"
	    "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
	    "This is the mail system at host %s.\r\n\r\n", host, sender,
	    delay ? "Delayed Mail (still being retried)" :
	    "Undelivered Mail Returned to Sender", date, env->id,
	    (unsigned long long)random_u64(), host, boundary, boundary, host);
	buf_printf(&msg, delay ? "Your message could not be delivered yet "
	    "to the recipients below. It stays in the queue and\r\ndelivery "
	    "will be tried again; you need not send it again.\r\n\r\n" :
	    "I'm sorry to have to inform you that your message could not\r\n"
	    "be delivered to one or more recipients. The reasons follow.\r\n"
	    "\r\n");
	for (size_t i = 0; i < env->nrcpts && msg.len < DSN_MAX; i++)
		if (wanted(&env->rcpts[i], delay))
			buf_printf(&msg, "<%s>: %s\r\n\r\n", env->rcpts[i].addr,
			    env->rcpts[i].reply ? env->rcpts[i].reply :
			    "no reply");
	buf_printf(&msg, "--%s\r\nContent-Type: message/delivery-status\r\n"
	    "\r\nReporting-MTA: dns; %s\r\nX-Mailwarden-Queue-ID: %s\r\n"
	    "Arrival-Date: %s\r\n", boundary, host, env->id, arrival);
	for (size_t i = 0; i < env->nrcpts && msg.len < DSN_MAX; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];

		if (!wanted(r, delay))
			continue;
		status_of(r->reply, delay, status, sizeof(status));
		buf_printf(&msg, "\r\nFinal-Recipient: rfc822; %s\r\n"
		    "Action: %s\r\nStatus: %s\r\n", r->addr,
		    delay ? "delayed" : "failed", status);
		if (r->remote_mta[0] != '\0')
			buf_printf(&msg, "Remote-MTA: dns; %s\r\n",
			    r->remote_mta);
		if (r->reply != NULL && (r->reply[0] == '4' ||
		    r->reply[0] == '5'))
			buf_printf(&msg, "Diagnostic-Code: smtp; %s\r\n",
			    r->reply);
		else if (r->reply != NULL)
			buf_printf(&msg, "Diagnostic-Code: X-Mailwarden; %s\r\n",
			    r->reply);
	}
	buf_printf(&msg, "\r\n--%s\r\nContent-Type: text/rfc822-headers\r\n"
	    "\r\n%s\r\n--%s--\r\n", boundary, headers ? headers : "",
	    boundary);
	submit_message("", rcpts, n, 0, &trace, &msg, NULL, NULL);
	buf_release(&msg, 0);
	buf_release(&trace, 0);
	log_info("delivery", 0, "event=%s id=%s to=%s", delay ? "delay-warning" :
	    "bounce", env->id, sender);
}
