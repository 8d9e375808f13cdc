/* IP address and CIDR parsing and matching.
 * SECURITY: parses administrator input and kernel socket addresses. */
#include "core/ipaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const uint8_t v4_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static void
ipaddr_set_v4(struct ipaddr *ip, const void *v4)
{
	memcpy(ip->a, v4_prefix, 12);
	memcpy(ip->a + 12, v4, 4);
}

int
ipaddr_from_sockaddr(const struct sockaddr *sa, struct ipaddr *ip_r)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		ipaddr_set_v4(ip_r, &in->sin_addr);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		memcpy(ip_r->a, &in6->sin6_addr, 16);
		return 0;
	}
	return -1;
}

int
ipaddr_parse(const char *s, struct ipaddr *ip_r)
{
	struct in_addr v4;

	if (inet_pton(AF_INET, s, &v4) == 1) {
		ipaddr_set_v4(ip_r, &v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip_r->a) == 1)
		return 0;
	return -1;
}

int
ipaddr_is_v4(const struct ipaddr *ip)
{
	return memcmp(ip->a, v4_prefix, 12) == 0;
}

const char *
ipaddr_str(const struct ipaddr *ip, char *buf)
{
	if (ipaddr_is_v4(ip))
		inet_ntop(AF_INET, ip->a + 12, buf, IPADDR_STRLEN);
	else
		inet_ntop(AF_INET6, ip->a, buf, IPADDR_STRLEN);
	return buf;
}

static void
mask_bits(struct ipaddr *ip, unsigned prefix)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = prefix > i * 8 ? prefix - i * 8 : 0;

		if (keep < 8)
			ip->a[i] &= (uint8_t)(0xff00 >> keep);
	}
}

int
cidr_parse(const char *s, struct cidr *c_r)
{
	char host[IPADDR_STRLEN];
	const char *slash = strchr(s, '/');
	size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t prefix;
	unsigned max;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (ipaddr_parse(host, &c_r->addr) < 0)
		return -1;
	/* "::ffff:1.2.3.4" is IPv6 text; treat it by its text family. */
	max = strchr(host, ':') ? 128 : 32;
	prefix = max;
	if (slash && str_to_u64(slash + 1, 0, max, &prefix) < 0)
		return -1;
	c_r->prefix = (unsigned)prefix + (max == 32 ? 96 : 0);
	mask_bits(&c_r->addr, c_r->prefix);
	return 0;
}

int
cidr_match(const struct cidr *c, const struct ipaddr *ip)
{
	struct ipaddr m = *ip;

	mask_bits(&m, c->prefix);
	return memcmp(m.a, c->addr.a, 16) == 0;
}

int
cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->prefix == b->prefix && memcmp(a->addr.a, b->addr.a, 16) == 0;
}

const char *
cidr_str(const struct cidr *c, char *buf, size_t size)
{
	char host[IPADDR_STRLEN];
	int v4 = ipaddr_is_v4(&c->addr) && c->prefix >= 96;

	ipaddr_str(&c->addr, host);
	if (str_printf(buf, size, "%s/%u", host, v4 ? c->prefix - 96 :
	    c->prefix) < 0)
		buf[0] = '\0';
	return buf;
}

int
cidr_list_parse(const char *s, struct cidr **list_r, size_t *n_r,
    const char **error_r)
{
	static char bad[64];
	struct cidr *list = NULL;
	size_t n = 0;

	while (*s != '\0') {
		char item[IPADDR_STRLEN + 8];
		size_t len;

		s += strspn(s, ", \t");
		len = strcspn(s, ", \t");
		if (len == 0)
			break;
		if (len >= sizeof(item) || n >= CIDR_LIST_MAX) {
			snprintf(bad, sizeof(bad), "%.*s", (int)(len < 40 ? len : 40), s);
			goto fail;
		}
		memcpy(item, s, len);
		item[len] = '\0';
		list = xrealloc(list, (n + 1) * sizeof(*list));
		if (cidr_parse(item, &list[n]) < 0) {
			snprintf(bad, sizeof(bad), "%s", item);
			goto fail;
		}
		n++;
		s += len;
	}
	*list_r = list;
	*n_r = n;
	return 0;
fail:
	free(list);
	*error_r = bad;
	return -1;
}

int
cidr_list_match(const struct cidr *list, size_t n, const struct ipaddr *ip)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_match(&list[i], ip))
			return 1;
	return 0;
}
