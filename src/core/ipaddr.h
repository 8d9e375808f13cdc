/* IP addresses and CIDR ranges, IPv4 and IPv6 in one form: IPv4 is held
 * as an IPv4-mapped IPv6 address, so one match routine serves both. */
#ifndef MW_CORE_IPADDR_H
#define MW_CORE_IPADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ipaddr {
	uint8_t a[16];
};

struct cidr {
	struct ipaddr addr;	/* host bits cleared */
	unsigned prefix;	/* 0..128, counted on the mapped form */
};

#define IPADDR_STRLEN 46	/* INET6_ADDRSTRLEN */
#define CIDR_LIST_MAX 256	/* ranges in one list setting */

/* Converts a socket address (AF_INET or AF_INET6); -1 otherwise. */
int ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip_r);
/* Parses a literal IPv4 or IPv6 address; -1 on error. */
int ipaddr_parse(const char *s, struct ipaddr *ip_r);
int ipaddr_is_v4(const struct ipaddr *ip);
/* Text form (IPv4 dotted for mapped addresses) into buf of IPADDR_STRLEN. */
const char *ipaddr_str(const struct ipaddr *ip, char *buf);

/* Parses "ADDR" or "ADDR/PREFIX" (prefix in the family's own terms). */
int cidr_parse(const char *s, struct cidr *c_r);
int cidr_match(const struct cidr *c, const struct ipaddr *ip);
/* 1 if a and b are the same range (same prefix and address bits). */
int cidr_equal(const struct cidr *a, const struct cidr *b);
/* Text form "ADDR/PREFIX" into buf of at least IPADDR_STRLEN + 5. */
const char *cidr_str(const struct cidr *c, char *buf, size_t size);

/* Parses a comma- or space-separated list into a new array owned by the
 * caller (free()); sets *n_r. On error returns -1 and sets *error_r to
 * the bad item (static storage). An empty string is an empty list. */
int cidr_list_parse(const char *s, struct cidr **list_r, size_t *n_r,
    const char **error_r);
int cidr_list_match(const struct cidr *list, size_t n,
    const struct ipaddr *ip);

#endif
