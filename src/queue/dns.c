/* c-ares on libevent: one channel, an event per socket c-ares opens,
 * one timer for its timeouts.
 * SECURITY: answers come from the network; c-ares parses them, and only
 * host names and addresses leave this file, bounded. */
#include "queue/dns.h"

#include <ares.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"

#define DNS_TIMEOUT_MS 3000
#define DNS_TRIES 2

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dns_sock *next;
};

static struct {
	struct event_base *base;
	ares_channel channel;
	int up;
	struct dns_sock *socks;
	struct event *timer;
} dns;

static void dns_rearm(void);

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)arg;
	ares_process_fd(dns.channel,
	    (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	dns_rearm();
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ares_process_fd(dns.channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_rearm();
}

/* c-ares tells which sockets to watch. */
static void
sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns_sock **pp, *s;

	(void)data;
	for (pp = &dns.socks; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	s = *pp;
	if (s != NULL) {
		event_free(s->ev);
		if (!readable && !writable) {
			*pp = s->next;
			free(s);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = dns.socks;
		dns.socks = s;
	}
	s->ev = event_new(dns.base, fd, EV_PERSIST | (readable ? EV_READ : 0) |
	    (writable ? EV_WRITE : 0), sock_cb, NULL);
	event_add(s->ev, NULL);
}

static void
dns_rearm(void)
{
	struct timeval tv, *t;

	if (!dns.up)
		return;
	t = ares_timeout(dns.channel, NULL, &tv);
	if (t != NULL)
		event_add(dns.timer, t);
	else
		event_del(dns.timer);
}

void
dns_stop(void)
{
	if (!dns.up)
		return;
	dns.up = 0;
	ares_destroy(dns.channel);	/* pending callbacks run now */
	while (dns.socks != NULL) {
		struct dns_sock *s = dns.socks;

		dns.socks = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(dns.timer);
	dns.timer = NULL;
}

int
dns_start(struct event_base *base, const char *servers, const char **error_r)
{
	struct ares_options o;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS |
	    ARES_OPT_TRIES | ARES_OPT_LOOKUPS, rc;
	static int lib_ready;

	dns_stop();
	if (!lib_ready) {
		if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
			*error_r = "cannot initialise c-ares";
			return -1;
		}
		lib_ready = 1;
	}
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state_cb;
	o.timeout = DNS_TIMEOUT_MS;
	o.tries = DNS_TRIES;
	o.lookups = (char *)(uintptr_t)"b";	/* DNS only, never /etc/hosts */
	dns.base = base;
	if ((rc = ares_init_options(&dns.channel, &o, mask)) != ARES_SUCCESS) {
		*error_r = ares_strerror(rc);
		return -1;
	}
	if (servers[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(dns.channel, servers)) !=
	    ARES_SUCCESS) {
		ares_destroy(dns.channel);
		*error_r = ares_strerror(rc);
		return -1;
	}
	dns.timer = evtimer_new(base, timer_cb, NULL);
	dns.up = 1;
	return 0;
}

static enum dns_status
status_of(int rc)
{
	switch (rc) {
	case ARES_SUCCESS:
		return DNS_OK;
	case ARES_ENODATA:
		return DNS_NODATA;
	case ARES_ENOTFOUND:
		return DNS_NXDOMAIN;
	default:
		return DNS_TEMPFAIL;
	}
}

struct mx_query {
	dns_mx_fn *fn;
	void *arg;
};

static int
cmp_mx(const void *a, const void *b)
{
	const struct dns_mx *x = a, *y = b;

	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

static void
mx_cb(void *arg, int rc, int timeouts, unsigned char *abuf, int alen)
{
	struct mx_query *q = arg;
	struct dns_mx mx[DNS_MAX_MX];
	struct ares_mx_reply *reply = NULL;
	enum dns_status st = status_of(rc);
	size_t n = 0;

	(void)timeouts;
	if (st == DNS_OK) {
		rc = ares_parse_mx_reply(abuf, alen, &reply);
		st = rc == ARES_SUCCESS ? DNS_OK : status_of(rc);
	}
	for (struct ares_mx_reply *r = reply; st == DNS_OK && r != NULL &&
	    n < DNS_MAX_MX; r = r->next) {
		if (r->host[0] == '\0' || strcmp(r->host, ".") == 0) {
			st = DNS_NULLMX;
			break;
		}
		if (str_copy(mx[n].host, sizeof(mx[n].host), r->host) < 0)
			continue;
		mx[n++].pref = r->priority;
	}
	if (reply != NULL)
		ares_free_data(reply);
	if (st == DNS_OK && n == 0)
		st = DNS_NODATA;
	if (n > 1)
		qsort(mx, n, sizeof(mx[0]), cmp_mx);	/* ties: any order */
	q->fn(q->arg, st, mx, n);
	free(q);
}

void
dns_lookup_mx(const char *domain, dns_mx_fn *fn, void *arg)
{
	struct mx_query *q = xcalloc(1, sizeof(*q));

	q->fn = fn;
	q->arg = arg;
	if (!dns.up) {
		mx_cb(q, ARES_ECONNREFUSED, 0, NULL, 0);
		return;
	}
	ares_query(dns.channel, domain, ns_c_in, ns_t_mx, mx_cb, q);
	dns_rearm();
}

struct addr_query {
	dns_addr_fn *fn;
	void *arg;
};

static void
addr_cb(void *arg, int rc, int timeouts, struct ares_addrinfo *res)
{
	struct addr_query *q = arg;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	enum dns_status st = status_of(rc);
	size_t n = 0;

	(void)timeouts;
	for (struct ares_addrinfo_node *a = res ? res->nodes : NULL;
	    a != NULL && n < DNS_MAX_ADDRS; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof(addrs[0]))
			continue;
		memset(&addrs[n], 0, sizeof(addrs[n]));
		memcpy(&addrs[n++], a->ai_addr, a->ai_addrlen);
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	if (st == DNS_OK && n == 0)
		st = DNS_NODATA;
	q->fn(q->arg, st, addrs, n);
	free(q);
}

void
dns_lookup_addrs(const char *host, uint16_t port, dns_addr_fn *fn, void *arg)
{
	struct addr_query *q = xcalloc(1, sizeof(*q));
	struct ares_addrinfo_hints hints;
	char service[8];

	q->fn = fn;
	q->arg = arg;
	if (!dns.up) {
		addr_cb(q, ARES_ECONNREFUSED, 0, NULL);
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = ARES_AI_NOSORT | ARES_AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned)port);
	ares_getaddrinfo(dns.channel, host, service, &hints, addr_cb, q);
	dns_rearm();
}
