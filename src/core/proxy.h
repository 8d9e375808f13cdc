/* The PROXY protocol (HAProxy, versions 1 and 2): a load balancer in
 * front of Mailwarden tells it the real client address in a header sent
 * before anything else. Accepted only on listeners where it is switched
 * on (L.proxy-protocol) and only from proxy.trusted peers. */
#ifndef MW_CORE_PROXY_H
#define MW_CORE_PROXY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/ipaddr.h"
#include "core/listener.h"

#define PROXY_V1_MAX 107	/* the specification's limit, CRLF included */
#define PROXY_MAX 1024		/* any header, v2 TLVs included */

/* Parses a header at the start of p (n bytes). Returns its length when
 * complete, 0 if more bytes are needed, -1 if it is not a valid header
 * (decided as early as possible). On success *has_src_r says whether the
 * header named a client (PROXY TCP4/TCP6, v2 PROXY over IPv4/IPv6); if
 * so, its address and port are in *src_r. */
int proxy_parse(const uint8_t *p, size_t n, struct sockaddr_storage *src_r,
    int *has_src_r);

/* The peers allowed to send headers (replaces the list; owned here). */
void proxy_set_trusted(struct cidr *list, size_t n);
/* Reads the header of a new connection without blocking, then hands the
 * connection to l->accept with the client's address. An untrusted peer,
 * a malformed header or a timeout closes the connection. */
void proxy_accept(struct event_base *base, struct listener *l, int fd,
    const struct sockaddr *sa);

#endif
