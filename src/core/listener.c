/* Listeners.
 * SECURITY: binds sockets (as root at startup; later binds rely on
 * CAP_NET_BIND_SERVICE kept by privdrop for ports below 1024). */
#include "core/listener.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/filterd.h"
#include "core/log.h"
#include "core/proxy.h"
#include "core/settings.h"
#include "core/sockfilter.h"
#include "core/util.h"

#define LISTEN_BACKLOG 511
#define ACCEPT_PAUSE_S 1	/* after accept() fails, e.g. EMFILE */

static struct event_base *listen_base;
static struct listener *open_list;

/* The ranges dropped on listeners without PROXY headers; gen counts
 * their changes, so that each listener is brought up to date once. */
static struct {
	struct cidr ranges[SOCKFILTER_MAX_RANGES];
	size_t n;
	unsigned gen;
} drop = { .gen = 1 };

void
listener_init(struct event_base *base)
{
	listen_base = base;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (l->ev != NULL)
		event_add(l->ev, NULL);
}

/* EMFILE and friends would fire again at once: pause accepting for a
 * moment instead of spinning. */
static void
accept_failed(struct listener *l)
{
	struct timeval tv = { .tv_sec = ACCEPT_PAUSE_S };

	log_warn("listener", 0, "event=accept-error listener=%s "
	    "error=\"%s\"", l->name, strerror(errno));
	event_del(l->ev);
	if (l->retry == NULL)
		l->retry = evtimer_new(listen_base, on_retry, l);
	if (l->retry != NULL)
		evtimer_add(l->retry, &tv);
}

/* Accepts at most LISTENER_ACCEPT_BATCH connections per loop iteration:
 * the listening socket stays readable, so the rest wait for the next turn
 * while established sessions (higher priority) go first. */
static void
on_readable(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;
	struct sockaddr_storage ss[LISTENER_ACCEPT_BATCH];
	int fd[LISTENER_ACCEPT_BATCH];
	int n;

	(void)what;
	for (n = 0; n < LISTENER_ACCEPT_BATCH; n++) {
		socklen_t sl = sizeof(ss[n]);

		fd[n] = accept4(lfd, (struct sockaddr *)&ss[n], &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd[n] < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				accept_failed(l);
			break;
		}
		l->accepted++;
	}
	if (l->peek != NULL && !l->proxy)
		for (int i = 0; i < n; i++)
			l->peek((struct sockaddr *)&ss[i]);
	for (int i = 0; i < n; i++) {
		if (l->proxy)
			proxy_accept(listen_base, l, fd[i],
			    (struct sockaddr *)&ss[i]);
		else
			l->accept(l, fd[i], (struct sockaddr *)&ss[i]);
	}
}

static int
open_socket(const char *host, uint16_t port, const char **error_r)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char portstr[8];
	int fd = -1, one = 1, zero = 0, wildcard;

	wildcard = host[0] == '\0' || strcmp(host, "*") == 0;
	snprintf(portstr, sizeof(portstr), "%u", port);
	if (wildcard) {
		/* One dual-stack socket, or IPv4 only without IPv6. */
		hints.ai_family = AF_INET6;
		if (getaddrinfo(NULL, portstr, &hints, &res) != 0 ||
		    (fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) < 0) {
			if (res != NULL)
				freeaddrinfo(res);
			res = NULL;
			hints.ai_family = AF_INET;
		} else {
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
			    sizeof(zero));
		}
	} else {
		hints.ai_family = AF_UNSPEC;
	}
	if (res == NULL) {
		int rc = getaddrinfo(wildcard ? NULL : host, portstr, &hints,
		    &res);

		if (rc != 0) {
			*error_r = gai_strerror(rc);
			return -1;
		}
		fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof(one));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0)
		goto fail;
	freeaddrinfo(res);
	return fd;
fail:
	*error_r = strerror(errno);
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return -1;
}

/* Gives l the drop filter it should have: none behind a proxy. 0, or
 * the errno of a failure (logged). */
static int
filter_update(struct listener *l)
{
	int want = !l->proxy && drop.n > 0, err = 0;

	if (l->filter_gen == drop.gen * 2 + (unsigned)want)
		return 0;
	if (filterd_attach(l->fd, drop.ranges, want ? drop.n : 0) < 0) {
		err = errno != 0 ? errno : EIO;
		log_warn("listener", 0, "event=filter-failed listener=%s "
		    "error=\"%s\"", l->name, strerror(err));
	}
	l->filter_gen = drop.gen * 2 + (unsigned)want;
	return err;
}

int
listener_set_drops(const struct cidr *ranges, size_t n)
{
	int err = 0;

	if (n > SOCKFILTER_MAX_RANGES)
		n = SOCKFILTER_MAX_RANGES;
	if (n > 0)
		memcpy(drop.ranges, ranges, n * sizeof(*ranges));
	drop.n = n;
	drop.gen++;
	for (struct listener *l = open_list; l != NULL; l = l->next_open) {
		int e = filter_update(l);

		if (err == 0)
			err = e;
	}
	return err;
}

static void
open_list_remove(struct listener *l)
{
	for (struct listener **p = &open_list; *p != NULL;
	    p = &(*p)->next_open)
		if (*p == l) {
			*p = l->next_open;
			break;
		}
	l->next_open = NULL;
}

void
listener_close(struct listener *l)
{
	if (l->ev != NULL) {
		open_list_remove(l);
		event_free(l->ev);
		close(l->fd);
		log_info("listener", 0, "event=closed listener=%s address=%s",
		    l->name, l->address);
	}
	l->ev = NULL;
	l->fd = -1;
	if (l->retry != NULL)
		event_free(l->retry);
	l->retry = NULL;
	l->address[0] = '\0';
}

int
listener_apply(struct listener *l, int enabled, const char *address,
    const char **error_r)
{
	char host[256];
	uint16_t port;
	int fd;

	if (!enabled) {
		listener_close(l);
		return 0;
	}
	if (l->ev != NULL && strcmp(l->address, address) == 0) {
		(void)filter_update(l);	/* L.proxy-protocol may have changed */
		return 0;
	}
	if (settings_split_address(address, host, sizeof(host), &port) < 0) {
		*error_r = "bad address";
		return -1;
	}
	listener_close(l);
	fd = open_socket(host, port, error_r);
	if (fd < 0) {
		log_err("listener", 0, "event=bind-failed listener=%s "
		    "address=%s error=\"%s\"", l->name, address, *error_r);
		return -1;
	}
	l->ev = event_new(listen_base, fd, EV_READ | EV_PERSIST, on_readable,
	    l);
	if (l->ev == NULL || event_add(l->ev, NULL) < 0) {
		if (l->ev != NULL)
			event_free(l->ev);
		l->ev = NULL;
		close(fd);
		*error_r = "cannot create a listener";
		return -1;
	}
	l->fd = fd;
	l->filter_gen = 0;
	(void)filter_update(l);
	l->next_open = open_list;
	open_list = l;
	str_copy(l->address, sizeof(l->address), address);
	log_info("listener", 0, "event=listening listener=%s address=%s",
	    l->name, address);
	return 0;
}
