/* Client connections over libevent bufferevents, plain or TLS.
 * SECURITY: handles untrusted bytes only as opaque buffers; bounds input
 * and output; discards plaintext injected before a STARTTLS handshake. */
#include "core/conn.h"

#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/tls.h"
#include "core/util.h"

#define CONN_CLOSE_TIMEOUT 30	/* seconds to flush the last output */
#define CONN_PRIORITY 0		/* before accepting (see serve.c) */

static struct {
	struct event_base *base;
	struct event *work;	/* deferred frees and read kicks */
	struct conn **buckets;
	size_t nbuckets;
	unsigned count;
	struct conn *free_list;
	struct conn **kicks;
	size_t nkicks, kicks_cap;
} cs;

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);

static size_t
bucket(uint64_t id)
{
	return (size_t)(id ^ (id >> 29)) & (cs.nbuckets - 1);
}

static void
registry_grow(void)
{
	size_t old = cs.nbuckets;
	struct conn **ob = cs.buckets;

	cs.nbuckets = old ? old * 2 : 1024;
	cs.buckets = xcalloc(cs.nbuckets, sizeof(*cs.buckets));
	for (size_t i = 0; i < old; i++) {
		struct conn *c, *next;

		for (c = ob[i]; c != NULL; c = next) {
			next = c->hnext;
			c->hnext = cs.buckets[bucket(c->id)];
			cs.buckets[bucket(c->id)] = c;
		}
	}
	free(ob);
}

struct conn *
conn_lookup(uint64_t id)
{
	struct conn *c;

	if (cs.nbuckets == 0)
		return NULL;
	for (c = cs.buckets[bucket(id)]; c != NULL; c = c->hnext)
		if (c->id == id)
			return c->next_free == NULL ? c : NULL;
	return NULL;
}

static void
registry_remove(struct conn *c)
{
	struct conn **p = &cs.buckets[bucket(c->id)];

	while (*p != c)
		p = &(*p)->hnext;
	*p = c->hnext;
	cs.count--;
}

unsigned
conn_count(void)
{
	return cs.count;
}

void
conn_foreach(void (*fn)(struct conn *c, void *arg), void *arg)
{
	for (size_t i = 0; i < cs.nbuckets; i++) {
		struct conn *c, *next;

		for (c = cs.buckets[i]; c != NULL; c = next) {
			next = c->hnext;
			if (c->next_free == NULL)
				fn(c, arg);
		}
	}
}

static void
conn_destroy(struct conn *c)
{
	registry_remove(c);
	if (c->ops->on_free != NULL)
		c->ops->on_free(c);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	close(c->fd);
	free(c);
}

static void
work_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	while (cs.nkicks > 0 || cs.free_list != NULL) {
		while (cs.nkicks > 0) {
			struct conn *c = cs.kicks[--cs.nkicks];

			if (c->next_free == NULL && !c->closing && !c->paused &&
			    evbuffer_get_length(conn_input(c)) > 0)
				c->ops->on_read(c);
		}
		while (cs.free_list != NULL) {
			struct conn *c = cs.free_list;

			cs.free_list = c->next_free == c ? NULL : c->next_free;
			conn_destroy(c);
		}
	}
}

/* Marks c dead: no more callbacks reach the protocol; freed soon. */
static void
conn_schedule_free(struct conn *c)
{
	if (c->next_free != NULL)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	/* A self-pointer ends the list, so next_free != NULL means dead. */
	c->next_free = cs.free_list ? cs.free_list : c;
	cs.free_list = c;
	event_active(cs.work, EV_TIMEOUT, 0);
}

void
conn_init(struct event_base *base)
{
	cs.base = base;
	cs.work = event_new(base, -1, 0, work_cb, NULL);
	if (cs.work == NULL)
		fatal("cannot create an event");
	event_priority_set(cs.work, CONN_PRIORITY);
}

static int
conn_setup_bev(struct conn *c, int tls)
{
	if (tls) {
		c->ssl = tls_new_ssl();
		if (c->ssl == NULL)
			return -1;
		c->bev = bufferevent_openssl_socket_new(cs.base, c->fd, c->ssl,
		    BUFFEREVENT_SSL_ACCEPTING, 0);
		if (c->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(cs.base, c->fd, 0);
	}
	if (c->bev == NULL)
		return -1;
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, CONN_INPUT_HIGH);
	/* The write callback runs whenever output falls to the low mark, so
	 * work resumes before the client has read everything. */
	bufferevent_setwatermark(c->bev, EV_WRITE, CONN_OUTPUT_LOW, 0);
	/* libevent moves 16 KiB per call by default: one reply, one call. */
	bufferevent_set_max_single_write(c->bev, CONN_IO_CHUNK);
	bufferevent_set_max_single_read(c->bev, CONN_IO_CHUNK);
	bufferevent_priority_set(c->bev, CONN_PRIORITY);
	if (c->timeout > 0)
		conn_set_timeout(c, c->timeout);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return 0;
}

struct conn *
conn_new(int fd, const struct sockaddr *sa, int implicit_tls,
    const struct conn_ops *ops, void *ctx)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	int one = 1;
	socklen_t sl = sizeof(ss);

	/* Replies are written whole: Nagle would only hold back their last
	 * piece until the client's delayed ACK (40 ms). */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->fd = fd;
	c->ops = ops;
	c->ctx = ctx;
	do {
		c->id = random_u64();
	} while (c->id == 0 || conn_lookup(c->id) != NULL);
	if (ipaddr_from_sockaddr(sa, &c->peer) < 0)
		memset(&c->peer, 0, sizeof(c->peer));
	ipaddr_str(&c->peer, c->peer_str);
	c->peer_port = ntohs(sa->sa_family == AF_INET6 ?
	    ((const struct sockaddr_in6 *)sa)->sin6_port :
	    ((const struct sockaddr_in *)sa)->sin_port);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		(void)ipaddr_from_sockaddr((struct sockaddr *)&ss, &c->local);
		c->local_port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	}
	if (conn_setup_bev(c, implicit_tls) < 0) {
		tls_log_errors(c->id, "tls-setup-failed");
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		if (c->ssl != NULL)
			SSL_free(c->ssl);
		close(fd);
		free(c);
		return NULL;
	}
	if ((cs.count + 1) * 2 > cs.nbuckets)
		registry_grow();
	c->hnext = cs.buckets[bucket(c->id)];
	cs.buckets[bucket(c->id)] = c;
	cs.count++;
	return c;
}

struct evbuffer *
conn_input(struct conn *c)
{
	return bufferevent_get_input(c->bev);
}

static void
conn_update_reading(struct conn *c)
{
	if (c->closing || c->paused || c->backpressure ||
	    c->starttls_pending)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

void
conn_write(struct conn *c, const void *data, size_t len)
{
	if (c->closing && c->next_free != NULL)
		return;
	bufferevent_write(c->bev, data, len);
	if (!c->backpressure &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    CONN_OUTPUT_HIGH) {
		c->backpressure = 1;
		conn_update_reading(c);
	}
}

static void
free_block(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)(uintptr_t)data);
}

void
conn_write_owned(struct conn *c, void *data, size_t len)
{
	if (c->closing && c->next_free != NULL) {
		free(data);
		return;
	}
	if (evbuffer_add_reference(bufferevent_get_output(c->bev), data, len,
	    free_block, NULL) < 0) {
		free(data);
		return;
	}
	if (!c->backpressure &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) >
	    CONN_OUTPUT_HIGH) {
		c->backpressure = 1;
		conn_update_reading(c);
	}
}

size_t
conn_output_pending(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev));
}

void
conn_printf(struct conn *c, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	conn_write(c, line, (size_t)n);
}

size_t
conn_vline(struct conn *c, char *line, size_t size, size_t used,
    const char *fmt, va_list ap)
{
	size_t room = size - used - 2;
	int n;

	n = vsnprintf(line + used, room, fmt, ap);
	if (n < 0)
		return 0;
	used += (size_t)n < room ? (size_t)n : room - 1;
	line[used] = '\r';
	line[used + 1] = '\n';
	if (c != NULL)
		conn_write(c, line, used + 2);
	return used;
}

void
conn_set_timeout(struct conn *c, unsigned seconds)
{
	struct timeval tv = { .tv_sec = seconds };

	c->timeout = seconds;
	bufferevent_set_timeouts(c->bev, seconds ? &tv : NULL,
	    seconds ? &tv : NULL);
}

void
conn_pause(struct conn *c)
{
	c->paused = 1;
	conn_update_reading(c);
}

static void
conn_kick(struct conn *c)
{
	if (cs.nkicks == cs.kicks_cap) {
		cs.kicks_cap = cs.kicks_cap ? cs.kicks_cap * 2 : 64;
		cs.kicks = xrealloc(cs.kicks, cs.kicks_cap * sizeof(*cs.kicks));
	}
	for (size_t i = 0; i < cs.nkicks; i++)
		if (cs.kicks[i] == c)
			return;
	cs.kicks[cs.nkicks++] = c;
	event_active(cs.work, EV_TIMEOUT, 0);
}

static void
conn_forget_kick(struct conn *c)
{
	for (size_t i = 0; i < cs.nkicks; i++)
		if (cs.kicks[i] == c)
			cs.kicks[i] = cs.kicks[--cs.nkicks];
}

void
conn_resume(struct conn *c)
{
	c->paused = 0;
	conn_update_reading(c);
	if (!c->closing && evbuffer_get_length(conn_input(c)) > 0)
		conn_kick(c);
}

void
conn_starttls(struct conn *c)
{
	c->starttls_pending = 1;
	conn_update_reading(c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_write_cb(c->bev, c);
}

void
conn_close(struct conn *c)
{
	struct timeval tv = { .tv_sec = CONN_CLOSE_TIMEOUT };

	if (c->closing)
		return;
	c->closing = 1;
	conn_forget_kick(c);
	conn_update_reading(c);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
		conn_schedule_free(c);
		return;
	}
	bufferevent_set_timeouts(c->bev, NULL, &tv);
}

static void
conn_switch_to_tls(struct conn *c)
{
	struct evbuffer *in = conn_input(c);
	size_t injected = evbuffer_get_length(in);

	if (injected > 0) {
		log_info("conn", c->id, "event=starttls-discard bytes=%zu",
		    injected);
		evbuffer_drain(in, injected);
	}
	c->starttls_pending = 0;
	bufferevent_free(c->bev);
	c->bev = NULL;
	if (conn_setup_bev(c, 1) < 0) {
		tls_log_errors(c->id, "tls-setup-failed");
		if (c->bev == NULL)
			c->bev = bufferevent_socket_new(cs.base, c->fd, 0);
		if (c->bev == NULL)
			fatal("cannot create a bufferevent");
		conn_schedule_free(c);
		return;
	}
	conn_update_reading(c);
}

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (c->closing || c->starttls_pending) {
		evbuffer_drain(conn_input(c), evbuffer_get_length(conn_input(c)));
		return;
	}
	if (!c->paused)
		c->ops->on_read(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (conn_output_pending(c) > 0 && (c->closing || c->starttls_pending))
		return;		/* called again as the rest goes out */
	if (c->closing) {
		conn_schedule_free(c);
		return;
	}
	if (c->starttls_pending) {
		conn_switch_to_tls(c);
		return;
	}
	if (c->backpressure) {
		c->backpressure = 0;
		conn_update_reading(c);
		if (evbuffer_get_length(conn_input(c)) > 0 && !c->paused)
			conn_kick(c);
	}
	if (c->ops->on_drain != NULL)
		c->ops->on_drain(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->tls_ready = 1;
		if (c->ops->on_tls != NULL && !c->closing)
			c->ops->on_tls(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    !c->closing) {
		c->ops->on_timeout(c);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->ssl != NULL)
		tls_log_errors(c->id, "tls-error");
	conn_schedule_free(c);
}

void
conn_refuse(int fd, const char *module, const char *line, const char *why,
    const struct ipaddr *ip)
{
	char addr[IPADDR_STRLEN];

	(void)send(fd, line, strlen(line), MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	log_warn(module, 0, "event=refused why=%s ip=%s", why,
	    ipaddr_str(ip, addr));
}
