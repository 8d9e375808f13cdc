/* Asynchronous DNS for delivery: MX and address lookups with c-ares,
 * driven by the event loop. Callbacks run on the loop. */
#ifndef MW_QUEUE_DNS_H
#define MW_QUEUE_DNS_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DNS_MAX_MX 16
#define DNS_MAX_ADDRS 16

enum dns_status {
	DNS_OK,
	DNS_NODATA,	/* the name exists without records of that type */
	DNS_NXDOMAIN,	/* the name does not exist */
	DNS_NULLMX,	/* MX 0 "." (RFC 7505): the domain takes no mail */
	DNS_TEMPFAIL,	/* timeout, SERVFAIL, no server: try later */
};

struct dns_mx {
	char host[256];
	unsigned pref;
};

/* Sets up the resolver: servers is "IP:PORT,..." (HOSTPORTS setting) or
 * "" for /etc/resolv.conf. -1 with *error_r. Calling it again replaces
 * the resolver; lookups in flight end with DNS_TEMPFAIL. */
int dns_start(struct event_base *base, const char *servers,
    const char **error_r);
void dns_stop(void);

/* mx (sorted by preference, then in answer order) is valid during the
 * call only. */
typedef void dns_mx_fn(void *arg, enum dns_status st,
    const struct dns_mx *mx, size_t n);
void dns_lookup_mx(const char *domain, dns_mx_fn *fn, void *arg);

/* A and AAAA records of host, each with port set. */
typedef void dns_addr_fn(void *arg, enum dns_status st,
    const struct sockaddr_storage *addrs, size_t n);
void dns_lookup_addrs(const char *host, uint16_t port, dns_addr_fn *fn,
    void *arg);

#endif
