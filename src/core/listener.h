/* Named TCP listeners that can be enabled, disabled and moved at run
 * time. A listener hands each accepted socket to its protocol. */
#ifndef MW_CORE_LISTENER_H
#define MW_CORE_LISTENER_H

#include <event2/event.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/ipaddr.h"

struct listener;

typedef void listener_accept_fn(struct listener *l, int fd,
    const struct sockaddr *sa);
typedef void listener_peek_fn(const struct sockaddr *sa);

/* Connections accepted per loop turn. They are accepted first, then each
 * address is shown to peek, then each socket is handed to accept. */
#define LISTENER_ACCEPT_BATCH 8

struct listener {
	const char *name;	/* "smtp", also the settings prefix */
	int implicit_tls;
	int set_enabled;	/* settings ids: L.enabled, L.address, */
	int set_address;
	int set_proxy;		/* L.proxy-protocol */
	int proxy;		/* a PROXY header comes first (core/proxy.h) */
	listener_accept_fn *accept;
	/* Optional: sees the client address of every socket of a batch
	 * before accept gets any (not behind PROXY: the address comes
	 * later), so the protocol can start fetching what it will need. */
	listener_peek_fn *peek;
	const void *proto;	/* the protocol's own per-listener data */
	/* State; read-only outside listener.c. */
	struct event *ev;	/* readable listening socket */
	int fd;
	struct event *retry;	/* re-enables accepting after an error */
	char address[300];	/* what fd is bound to, "" when closed */
	unsigned long accepted;
	struct listener *next_open;	/* the open listeners */
	unsigned filter_gen;	/* of the drop filter fd has */
};

void listener_init(struct event_base *base);
/* Brings l to the wanted state: closed when !enabled, else bound to
 * address (HOST:PORT, [V6]:PORT, *:PORT for every IPv4 and IPv6 address).
 * Nothing happens if already so. -1 with *error_r if binding fails (l is
 * then closed). */
int listener_apply(struct listener *l, int enabled, const char *address,
    const char **error_r);
void listener_close(struct listener *l);

/* Packets from these n ranges are dropped in the kernel (core/filterd.h)
 * on every open listener that does not take PROXY headers (there the
 * source is the proxy), now and on listeners opened or switched later;
 * n == 0 drops nothing. A copy is kept. Returns 0, or the errno of the
 * first listener where it failed (logged). */
int listener_set_drops(const struct cidr *ranges, size_t n);

#endif
