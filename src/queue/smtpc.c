/* The outbound SMTP client session.
 * SECURITY: talks to servers on the Internet: replies are bounded and
 * parsed by smtpc_parse.c; a relay host password is only ever sent after
 * STARTTLS; certificates are not verified (opportunistic TLS). */
#include "queue/smtpc.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ipaddr.h"
#include "core/log.h"
#include "core/sasl.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/util.h"

#define QUIT_TIMEOUT 5	/* seconds we wait for QUIT's reply */

enum smtpc_state {
	ST_CONNECT, ST_GREETING, ST_EHLO, ST_HELO, ST_STARTTLS, ST_HANDSHAKE,
	ST_AUTH, ST_MAIL, ST_RCPT, ST_DATA, ST_BODY, ST_QUIT,
};

struct smtpc {
	struct smtpc *prev, *next;	/* every live session */
	void (*on_close)(void *arg);
	void *close_arg;
	const struct smtpc_params *p;
	smtpc_done_fn *done;
	void *arg;
	struct bufferevent *bev;
	enum smtpc_state state;
	unsigned ext;			/* EHLO keywords */
	int tls;			/* TLS is active */
	int pipelining;
	int mail_code;			/* MAIL's reply, 0 before */
	char mail_text[SMTPC_TEXT_MAX];
	size_t next_rcpt;		/* next RCPT to send */
	size_t nreplied;		/* RCPT replies received */
	size_t naccepted;
	struct smtpc_reply reply;
	struct smtpc_result r;
};

static struct smtpc *sessions;

static void smtpc_read_cb(struct bufferevent *bev, void *arg);
static void sendf(struct smtpc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail_soft(struct smtpc *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void smtpc_event_cb(struct bufferevent *bev, short what, void *arg);

static void
smtpc_free(struct smtpc *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		sessions = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	if (c->on_close != NULL)
		c->on_close(c->close_arg);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c->r.codes);
	free(c->r.texts);
	free(c);
}

static void
sendf(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
}

/* The outcome is known: report it, then say QUIT politely. */
static void
finish(struct smtpc *c, int definitive)
{
	c->r.definitive = definitive;
	c->r.tls_used = c->tls;
	c->done(c->arg, &c->r);
	c->p = NULL;	/* the caller's memory may be gone now */
	if (c->bev == NULL || c->state == ST_CONNECT ||
	    c->state == ST_HANDSHAKE) {
		smtpc_free(c);
		return;
	}
	c->state = ST_QUIT;
	sendf(c, "QUIT\r\n");
	{
		struct timeval tv = { QUIT_TIMEOUT, 0 };

		bufferevent_set_timeouts(c->bev, &tv, &tv);
	}
}

/* Nothing decided: the caller may try another address. */
static void
fail_soft(struct smtpc *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->r.error, sizeof(c->r.error), fmt, ap);
	va_end(ap);
	finish(c, 0);
}

/* Every recipient without a final answer gets code and text: those not
 * answered yet, and those RCPT accepted (their fate is the message's). */
static void
decide_rest(struct smtpc *c, int code, const char *text)
{
	for (size_t i = 0; i < c->p->nrcpts; i++)
		if (c->r.codes[i] == 0 || c->r.codes[i] / 100 == 2) {
			c->r.codes[i] = code;
			str_copy(c->r.texts[i], sizeof(c->r.texts[i]), text);
		}
}

static void
send_rcpt(struct smtpc *c)
{
	sendf(c, "RCPT TO:<%s>\r\n", c->p->rcpts[c->next_rcpt++]);
}

static void
start_mail(struct smtpc *c)
{
	c->state = ST_MAIL;
	c->pipelining = (c->ext & SMTPC_EXT_PIPELINING) != 0;
	if (c->ext & SMTPC_EXT_SIZE)
		sendf(c, "MAIL FROM:<%s> SIZE=%llu\r\n", c->p->sender,
		    (unsigned long long)c->p->size);
	else
		sendf(c, "MAIL FROM:<%s>\r\n", c->p->sender);
	if (c->pipelining)
		while (c->next_rcpt < c->p->nrcpts)
			send_rcpt(c);
}

static void
after_ehlo(struct smtpc *c)
{
	char b64[2 * SASL_FIELD_MAX * 4 / 3 + 16], plain[2 * SASL_FIELD_MAX + 4];
	size_t ul, pl;

	if (!c->tls && c->p->tls && (c->ext & SMTPC_EXT_STARTTLS)) {
		c->state = ST_STARTTLS;
		sendf(c, "STARTTLS\r\n");
		return;
	}
	if (c->p->auth_user == NULL) {
		start_mail(c);
		return;
	}
	if (!c->tls || !(c->ext & SMTPC_EXT_AUTH_PLAIN)) {
		c->state = ST_MAIL;	/* a decision for every recipient */
		decide_rest(c, 451, c->tls ? "451 4.7.0 the relay host does "
		    "not offer AUTH PLAIN" : "451 4.7.0 the relay host offers "
		    "no TLS: the password is not sent");
		finish(c, 1);
		return;
	}
	ul = strlen(c->p->auth_user);
	pl = strlen(c->p->auth_pass);
	if (ul >= SASL_FIELD_MAX || pl >= SASL_FIELD_MAX) {
		c->state = ST_MAIL;
		decide_rest(c, 451, "451 4.7.0 relay host credentials too long");
		finish(c, 1);
		return;
	}
	plain[0] = '\0';
	memcpy(plain + 1, c->p->auth_user, ul);
	plain[ul + 1] = '\0';
	memcpy(plain + ul + 2, c->p->auth_pass, pl);
	if (sasl_b64_encode(plain, ul + pl + 2, b64, sizeof(b64)) < 0)
		b64[0] = '\0';
	sendf(c, "AUTH PLAIN %s\r\n", b64);
	mem_wipe(plain, sizeof(plain));
	mem_wipe(b64, sizeof(b64));
	c->state = ST_AUTH;
}

static void
start_tls(struct smtpc *c)
{
	SSL *ssl = tls_new_client_ssl(c->p->host);
	struct bufferevent *tb;

	if (ssl == NULL) {
		c->r.tls_failed = 1;
		fail_soft(c, "cannot set up TLS");
		return;
	}
	tb = bufferevent_openssl_filter_new(srv.base, c->bev, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (tb == NULL) {
		SSL_free(ssl);
		c->r.tls_failed = 1;
		fail_soft(c, "cannot set up TLS");
		return;
	}
	c->bev = tb;
	c->state = ST_HANDSHAKE;
	bufferevent_setcb(tb, smtpc_read_cb, NULL, smtpc_event_cb, c);
	{
		struct timeval tv = { c->p->timeout, 0 };

		bufferevent_set_timeouts(tb, &tv, &tv);
	}
	bufferevent_enable(tb, EV_READ | EV_WRITE);
}

static void
rcpt_reply(struct smtpc *c, const struct smtpc_reply *rp)
{
	size_t i = c->nreplied++;

	if (c->mail_code / 100 != 2) {
		c->r.codes[i] = c->mail_code;
		str_copy(c->r.texts[i], sizeof(c->r.texts[i]), c->mail_text);
	} else {
		c->r.codes[i] = rp->code;
		str_copy(c->r.texts[i], sizeof(c->r.texts[i]), rp->text);
		c->naccepted += rp->code / 100 == 2;
	}
	if (c->nreplied < c->p->nrcpts) {
		if (!c->pipelining)
			send_rcpt(c);
		return;
	}
	if (c->naccepted == 0) {
		finish(c, 1);
		return;
	}
	c->state = ST_DATA;
	sendf(c, "DATA\r\n");
}

static void
handle_reply(struct smtpc *c, const struct smtpc_reply *rp)
{
	int ok = rp->code / 100 == 2;

	switch (c->state) {
	case ST_GREETING:
		if (!ok) {
			fail_soft(c, "%s", rp->text);
			return;
		}
		c->state = ST_EHLO;
		sendf(c, "EHLO %s\r\n", c->p->helo);
		return;
	case ST_EHLO:
		if (ok) {
			c->ext = rp->ext;
			after_ehlo(c);
		} else if (rp->code / 100 == 5 && !c->tls) {
			c->state = ST_HELO;
			sendf(c, "HELO %s\r\n", c->p->helo);
		} else {
			fail_soft(c, "%s", rp->text);
		}
		return;
	case ST_HELO:
		if (!ok) {
			fail_soft(c, "%s", rp->text);
			return;
		}
		c->ext = 0;
		after_ehlo(c);
		return;
	case ST_STARTTLS:
		if (rp->code == 220) {
			start_tls(c);
			return;
		}
		c->ext &= ~(unsigned)SMTPC_EXT_STARTTLS;
		after_ehlo(c);	/* go on in plaintext */
		return;
	case ST_AUTH:
		if (rp->code == 235) {
			start_mail(c);
			return;
		}
		{
			char t[SMTPC_TEXT_MAX];

			snprintf(t, sizeof(t), "451 4.7.0 the relay host "
			    "refused our credentials: %.400s", rp->text);
			c->state = ST_MAIL;
			decide_rest(c, 451, t);
			finish(c, 1);
		}
		return;
	case ST_MAIL:
		c->mail_code = rp->code;
		str_copy(c->mail_text, sizeof(c->mail_text), rp->text);
		c->state = ST_RCPT;
		if (!ok && !c->pipelining) {
			decide_rest(c, rp->code, rp->text);
			finish(c, 1);
			return;
		}
		if (!c->pipelining)
			send_rcpt(c);
		return;
	case ST_RCPT:
		rcpt_reply(c, rp);
		return;
	case ST_DATA:
		if (rp->code == 354) {
			struct timeval tv = { c->p->timeout, 0 };

			c->state = ST_BODY;
			bufferevent_set_timeouts(c->bev, &tv, &tv);
			bufferevent_write(c->bev, c->p->data, c->p->data_len);
			return;
		}
		decide_rest(c, rp->code, rp->text);
		finish(c, 1);
		return;
	case ST_BODY:
		decide_rest(c, rp->code, rp->text);
		finish(c, 1);
		return;
	case ST_QUIT:
		smtpc_free(c);
		return;
	default:
		return;
	}
}

/* The connection broke or timed out in the current state. */
static void
broken(struct smtpc *c, const char *why)
{
	char t[SMTPC_TEXT_MAX];

	switch (c->state) {
	case ST_QUIT:
		smtpc_free(c);
		return;
	case ST_MAIL:
	case ST_RCPT:
	case ST_DATA:
	case ST_BODY:
		snprintf(t, sizeof(t), "421 4.4.2 %s with %s", why, c->r.relay);
		decide_rest(c, 421, t);
		finish(c, 1);
		return;
	case ST_HANDSHAKE:
		c->r.tls_failed = 1;
		fail_soft(c, "TLS handshake with %s failed", c->r.relay);
		return;
	default:
		fail_soft(c, "%s with %s", why, c->r.relay);
		return;
	}
}

static void
smtpc_read_cb(struct bufferevent *bev, void *arg)
{
	struct smtpc *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char line[SMTPC_LINE_MAX + 1];

	for (;;) {
		size_t eol_len, len;
		struct evbuffer_ptr e = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_CRLF);
		int rc;

		if (e.pos < 0) {
			if (evbuffer_get_length(in) > SMTPC_LINE_MAX)
				broken(c, "over-long reply line");
			return;
		}
		len = (size_t)e.pos;
		if (len > SMTPC_LINE_MAX) {
			broken(c, "over-long reply line");
			return;
		}
		evbuffer_remove(in, line, len);
		evbuffer_drain(in, eol_len);
		line[len] = '\0';
		if (c->state == ST_CONNECT || c->state == ST_HANDSHAKE)
			continue;	/* nothing is expected yet */
		rc = smtpc_reply_line(&c->reply, line, len);
		if (rc < 0) {
			broken(c, "malformed reply");
			return;
		}
		if (rc == 1) {
			struct smtpc_reply rp = c->reply;
			enum smtpc_state before = c->state;

			smtpc_reply_init(&c->reply);
			handle_reply(c, &rp);
			/* Freed (a reply to QUIT), the bufferevent replaced
			 * (STARTTLS), or finished: stop here. */
			if (before == ST_QUIT || before == ST_STARTTLS ||
			    c->p == NULL)
				return;
		}
	}
}

static void
smtpc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpc *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		struct timeval tv = { c->p->timeout, 0 };
		int one = 1;

		/* Commands and the message go out whole: no Nagle delays. */
		(void)setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP,
		    TCP_NODELAY, &one, sizeof(one));

		bufferevent_set_timeouts(c->bev, &tv, &tv);
		if (c->state == ST_HANDSHAKE) {
			c->tls = 1;
			c->ext = 0;
			c->state = ST_EHLO;
			sendf(c, "EHLO %s\r\n", c->p->helo);
		} else {
			c->state = ST_GREETING;
		}
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		broken(c, c->state == ST_CONNECT ? "connection timed out" :
		    "timeout");
	else if (c->state == ST_CONNECT)
		broken(c, "connection refused");
	else
		broken(c, "lost connection");
}

struct smtpc *
smtpc_start(const struct smtpc_params *p, smtpc_done_fn *done, void *arg)
{
	struct smtpc *c = xcalloc(1, sizeof(*c));
	struct timeval ct = { p->connect_timeout, 0 };
	const struct sockaddr *sa = (const struct sockaddr *)&p->addr;
	socklen_t sl = sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	struct ipaddr ip;
	char ipstr[IPADDR_STRLEN];
	uint16_t port = ntohs(sa->sa_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)sa)->sin6_port :
	    ((const struct sockaddr_in *)sa)->sin_port);

	c->p = p;
	c->done = done;
	c->arg = arg;
	c->on_close = p->on_close;
	c->close_arg = p->close_arg;
	c->next = sessions;
	if (sessions != NULL)
		sessions->prev = c;
	sessions = c;
	c->r.codes = xcalloc(p->nrcpts + 1, sizeof(*c->r.codes));
	c->r.texts = xcalloc(p->nrcpts + 1, sizeof(*c->r.texts));
	smtpc_reply_init(&c->reply);
	if (ipaddr_from_sockaddr(sa, &ip) < 0)
		snprintf(ipstr, sizeof(ipstr), "?");
	else
		ipaddr_str(&ip, ipstr);
	snprintf(c->r.relay, sizeof(c->r.relay), "%s[%s]:%u", p->host, ipstr,
	    (unsigned)port);
	c->bev = bufferevent_socket_new(srv.base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		fatal("cannot create a bufferevent");
	bufferevent_setcb(c->bev, smtpc_read_cb, NULL, smtpc_event_cb, c);
	bufferevent_set_max_single_write(c->bev, 128 * 1024);
	bufferevent_set_timeouts(c->bev, &ct, &ct);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = ST_CONNECT;
	if (bufferevent_socket_connect(c->bev, sa, (int)sl) < 0) {
		/* Reported from the loop, never before returning. */
		bufferevent_free(c->bev);
		c->bev = bufferevent_socket_new(srv.base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(c->bev, smtpc_read_cb, NULL, smtpc_event_cb,
		    c);
		bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR,
		    BEV_TRIG_DEFER_CALLBACKS);
	}
	return c;
}

void
smtpc_abort(struct smtpc *c)
{
	smtpc_free(c);
}

void
smtpc_abort_all(void)
{
	while (sessions != NULL)
		smtpc_free(sessions);
}
