/* One domain of one message: find the route (relay host, or MX hosts in
 * preference order, or the domain's own addresses), take a connection
 * slot (delivery.max-connections, delivery.max-per-domain), and try each
 * address until a server decides. */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/server.h"
#include "core/tally.h"
#include "core/util.h"
#include "queue/deliver_internal.h"

static struct {
	unsigned max_total, max_domain, active;
	struct tally *per_domain;
	struct dtask *wait_head, *wait_tail;
} rs;

static void try_ip(struct dtask *t);
static void next_host(struct dtask *t);

static size_t
domain_key(const struct dtask *t, char *key)
{
	size_t n = 0;

	for (; t->domain[n] != '\0' && n < 255; n++)
		key[n] = (char)tolower((unsigned char)t->domain[n]);
	return n;
}

static int
take_slot(struct dtask *t)
{
	char key[256];

	if (rs.per_domain == NULL)
		rs.per_domain = tally_new();
	if (rs.active >= rs.max_total ||
	    tally_take(rs.per_domain, key, domain_key(t, key),
	    rs.max_domain) == 0)
		return 0;
	rs.active++;
	t->has_slot = 1;
	return 1;
}

static void connect_ip(struct dtask *t);

/* Starts waiting tasks that fit now, in the order they came. */
static void
wake(void)
{
	struct dtask **pp = &rs.wait_head, *prev = NULL;

	while (*pp != NULL && !deliver_stopping() && rs.active < rs.max_total) {
		struct dtask *t = *pp;

		if (!take_slot(t)) {
			prev = t;
			pp = &t->next_wait;
			continue;
		}
		*pp = t->next_wait;
		if (rs.wait_tail == t)
			rs.wait_tail = prev;
		t->next_wait = NULL;
		connect_ip(t);
	}
}

static void
release(const char *key, size_t len)
{
	rs.active--;
	if (rs.per_domain != NULL)
		tally_give(rs.per_domain, key, len);
	wake();
}

/* A slot not handed to a session (the task stops waiting). */
static void
give_slot(struct dtask *t)
{
	char key[256];

	if (!t->has_slot)
		return;
	t->has_slot = 0;
	release(key, domain_key(t, key));
}

/* A session's connection closed: its slot is free. */
static void
slot_closed(void *arg)
{
	char *key = arg;

	release(key, strlen(key));
	free(key);
}

void
route_set_limits(unsigned max_total, unsigned max_per_domain)
{
	rs.max_total = max_total;
	rs.max_domain = max_per_domain;
	wake();
}

void
route_slots_free(void)
{
	tally_free(&rs.per_domain);
	rs.wait_head = rs.wait_tail = NULL;
	rs.active = 0;
}

static void
fail_all(struct dtask *t, int code, const char *text)
{
	for (size_t k = 0; k < t->n; k++)
		deliver_record(t, k, code, text, "none");
	deliver_task_done(t);
}

static void
session_done(void *arg, const struct smtpc_result *r)
{
	struct dtask *t = arg;

	t->session = NULL;
	if (deliver_stopping())
		return;
	if (r->definitive) {
		for (size_t k = 0; k < t->n; k++)
			deliver_record(t, k, r->codes[k], r->texts[k], r->relay);
		deliver_task_done(t);
		return;
	}
	if (r->tls_failed && !t->plain) {
		log_info("delivery", 0, "event=tls-failed id=%s relay=%s "
		    "retry=plaintext", t->m->id, r->relay);
		t->plain = 1;
		try_ip(t);
		return;
	}
	if (strncmp(r->error, "4", 1) == 0 || strncmp(r->error, "5", 1) == 0)
		snprintf(t->error, sizeof(t->error), "451 4.4.1 %.200s said: %.280s",
		    r->relay, r->error);
	else
		snprintf(t->error, sizeof(t->error), "451 4.4.1 %.480s", r->error);
	t->ip_i++;
	t->plain = 0;
	try_ip(t);
}

static void
connect_ip(struct dtask *t)
{
	char key[256];

	/* The slot goes with the connection: it is free again when the
	 * socket closes, after QUIT, not when the outcome is known. */
	key[domain_key(t, key)] = '\0';
	t->has_slot = 0;
	t->params.on_close = slot_closed;
	t->params.close_arg = xstrdup(key);
	t->params.addr = t->ips[t->ip_i];
	t->params.host = t->hosts[t->host_i - 1].host;
	t->params.tls = !t->plain;
	t->session = smtpc_start(&t->params, session_done, t);
}

static void
try_ip(struct dtask *t)
{
	if (t->ip_i >= t->nips) {
		next_host(t);
		return;
	}
	if (!take_slot(t)) {
		t->next_wait = NULL;
		if (rs.wait_tail != NULL)
			rs.wait_tail->next_wait = t;
		else
			rs.wait_head = t;
		rs.wait_tail = t;
		return;
	}
	connect_ip(t);
}

static void
addrs_done(void *arg, enum dns_status st, const struct sockaddr_storage *a,
    size_t n)
{
	struct dtask *t = arg;
	char text[SMTPC_TEXT_MAX];

	if (deliver_stopping())
		return;
	if (st != DNS_OK) {
		if (t->implicit_mx && (st == DNS_NXDOMAIN || st == DNS_NODATA)) {
			snprintf(text, sizeof(text), "550 5.1.2 <%s>: no MX and "
			    "no address records", t->domain);
			fail_all(t, 550, text);
			return;
		}
		snprintf(t->error, sizeof(t->error), "451 4.4.3 %s: host %s",
		    t->hosts[t->host_i - 1].host, st == DNS_TEMPFAIL ?
		    "lookup failed" : "not found");
		next_host(t);
		return;
	}
	memcpy(t->ips, a, n * sizeof(*a));
	t->nips = n;
	t->ip_i = 0;
	t->plain = 0;
	try_ip(t);
}

/* Fills ips from a literal address; 0 if host is one. */
static int
literal(struct dtask *t, const char *host)
{
	struct sockaddr_in *v4 = (struct sockaddr_in *)&t->ips[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&t->ips[0];
	char buf[256];
	size_t n = strlen(host);

	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		snprintf(buf, sizeof(buf), "%.*s", (int)(n - 2), host + 1);
		if (strncasecmp(buf, "IPv6:", 5) == 0)
			memmove(buf, buf + 5, strlen(buf + 5) + 1);
		host = buf;
	}
	memset(&t->ips[0], 0, sizeof(t->ips[0]));
	if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons(t->port);
	} else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons(t->port);
	} else {
		return -1;
	}
	t->nips = 1;
	t->ip_i = 0;
	t->plain = 0;
	return 0;
}

static void
next_host(struct dtask *t)
{
	const char *host;

	if (t->host_i >= t->nhosts) {
		fail_all(t, 451, t->error[0] ? t->error :
		    "451 4.4.1 no mail host answered");
		return;
	}
	host = t->hosts[t->host_i++].host;
	if (literal(t, host) == 0) {
		try_ip(t);
		return;
	}
	dns_lookup_addrs(host, t->port, addrs_done, t);
}

static void
mx_done(void *arg, enum dns_status st, const struct dns_mx *mx, size_t n)
{
	struct dtask *t = arg;
	char text[SMTPC_TEXT_MAX];

	if (deliver_stopping())
		return;
	switch (st) {
	case DNS_OK:
		memcpy(t->hosts, mx, n * sizeof(*mx));
		t->nhosts = n;
		break;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain is its own mail host. */
		str_copy(t->hosts[0].host, sizeof(t->hosts[0].host), t->domain);
		t->nhosts = 1;
		t->implicit_mx = 1;
		break;
	case DNS_NXDOMAIN:
		snprintf(text, sizeof(text), "550 5.1.2 <%s>: Host or domain "
		    "name not found", t->domain);
		fail_all(t, 550, text);
		return;
	case DNS_NULLMX:
		snprintf(text, sizeof(text), "556 5.1.10 <%s>: the domain "
		    "accepts no mail (null MX)", t->domain);
		fail_all(t, 556, text);
		return;
	case DNS_TEMPFAIL:
		snprintf(text, sizeof(text), "451 4.4.3 <%s>: DNS lookup "
		    "failed, will retry", t->domain);
		fail_all(t, 451, text);
		return;
	}
	next_host(t);
}

void
route_start(struct dtask *t)
{
	struct smtpc_params *p = &t->params;
	const char *relay = settings_str(srv.set, SET_DELIVERY_RELAYHOST);
	struct settings_hostport hp;

	/* Copies: the settings may be reloaded during the session. */
	str_copy(t->helo, sizeof(t->helo), settings_str(srv.set,
	    SET_HOSTNAME));
	p->helo = t->helo;
	p->sender = t->m->env.sender;
	p->rcpts = t->addrs;
	p->nrcpts = t->n;
	p->data = t->m->data;
	p->data_len = t->m->data_len;
	p->size = t->m->env.size;
	p->connect_timeout = (unsigned)settings_num(srv.set,
	    SET_DELIVERY_CONNECT_TIMEOUT);
	p->timeout = (unsigned)settings_num(srv.set, SET_DELIVERY_TIMEOUT);
	t->port = (uint16_t)settings_num(srv.set, SET_DELIVERY_PORT);
	if (settings_hostports(relay, &hp, 1) == 1) {
		t->port = hp.port;
		str_copy(t->hosts[0].host, sizeof(t->hosts[0].host), hp.host);
		t->nhosts = 1;
		if (settings_str(srv.set, SET_DELIVERY_RELAYHOST_USER)[0]) {
			str_copy(t->auth_user, sizeof(t->auth_user),
			    settings_str(srv.set, SET_DELIVERY_RELAYHOST_USER));
			str_copy(t->auth_pass, sizeof(t->auth_pass),
			    settings_str(srv.set,
			    SET_DELIVERY_RELAYHOST_PASSWORD));
			p->auth_user = t->auth_user;
			p->auth_pass = t->auth_pass;
		}
		next_host(t);
		return;
	}
	if (t->domain[0] == '[') {
		str_copy(t->hosts[0].host, sizeof(t->hosts[0].host), t->domain);
		t->nhosts = 1;
		next_host(t);
		return;
	}
	dns_lookup_mx(t->domain, mx_done, t);
}

void
route_abort(struct dtask *t)
{
	struct dtask **pp = &rs.wait_head, *prev = NULL;

	for (; *pp != NULL; prev = *pp, pp = &(*pp)->next_wait)
		if (*pp == t) {
			*pp = t->next_wait;
			if (rs.wait_tail == t)
				rs.wait_tail = prev;
			break;
		}
	if (t->session != NULL) {
		smtpc_abort(t->session);
		t->session = NULL;
	}
	give_slot(t);
}
