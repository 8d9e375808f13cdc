/* PROXY protocol v1 and v2.
 * SECURITY: parses bytes from the network before any session exists;
 * trusted only from proxy.trusted peers; every length is checked; the
 * header is read with MSG_PEEK so nothing after it is consumed. */
#include "core/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

#define PROXY_TIMEOUT_S 5

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

static struct cidr *trusted;
static size_t ntrusted;

void
proxy_set_trusted(struct cidr *list, size_t n)
{
	free(trusted);
	trusted = list;
	ntrusted = n;
}

/* Next space-separated token of a v1 line into out (size outsize). */
static const char *
token(const char *p, const char *end, char *out, size_t outsize)
{
	size_t n = 0;

	while (p < end && *p != ' ') {
		if (n + 1 >= outsize)
			return NULL;
		out[n++] = *p++;
	}
	out[n] = '\0';
	return n > 0 ? p : NULL;
}

static int
port_of(const char *s, uint16_t *port_r)
{
	uint64_t v;

	if (strlen(s) > 5 || (s[0] == '0' && s[1] != '\0') ||
	    str_to_u64(s, 0, 65535, &v) < 0)
		return -1;
	*port_r = (uint16_t)v;
	return 0;
}

static int
parse_v1(const uint8_t *p, size_t n, struct sockaddr_storage *src,
    int *has_src)
{
	const char *s = (const char *)p, *end, *q;
	char proto[8], sa[IPADDR_STRLEN], da[IPADDR_STRLEN], sp[8], dp[8];
	const uint8_t *crlf = NULL;
	uint16_t sport, dport;
	int fam;

	for (size_t i = 0; i + 1 < n && i + 1 < PROXY_V1_MAX; i++)
		if (p[i] == '\r' && p[i + 1] == '\n') {
			crlf = p + i;
			break;
		}
	if (crlf == NULL) {
		for (size_t i = 0; i < n; i++)
			if (p[i] < 0x20 && p[i] != '\r')
				return -1;
		return n >= PROXY_V1_MAX ? -1 : 0;
	}
	end = (const char *)crlf;
	for (const uint8_t *c = p; c < crlf; c++)
		if (*c < 0x20 || *c > 0x7e)
			return -1;
	q = s + 6;	/* after "PROXY " */
	if ((q = token(q, end, proto, sizeof(proto))) == NULL)
		return -1;
	if (strcmp(proto, "UNKNOWN") == 0) {
		*has_src = 0;	/* the rest of the line is ignored */
		return (int)(end - s) + 2;
	}
	if (strcmp(proto, "TCP4") == 0)
		fam = AF_INET;
	else if (strcmp(proto, "TCP6") == 0)
		fam = AF_INET6;
	else
		return -1;
	if (*q++ != ' ' || (q = token(q, end, sa, sizeof(sa))) == NULL ||
	    *q++ != ' ' || (q = token(q, end, da, sizeof(da))) == NULL ||
	    *q++ != ' ' || (q = token(q, end, sp, sizeof(sp))) == NULL ||
	    *q++ != ' ' || (q = token(q, end, dp, sizeof(dp))) == NULL ||
	    q != end || port_of(sp, &sport) < 0 || port_of(dp, &dport) < 0)
		return -1;
	memset(src, 0, sizeof(*src));
	if (fam == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)src;
		struct in_addr d;

		if (inet_pton(AF_INET, sa, &in->sin_addr) != 1 ||
		    inet_pton(AF_INET, da, &d) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons(sport);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;
		struct in6_addr d;

		if (inet_pton(AF_INET6, sa, &in6->sin6_addr) != 1 ||
		    inet_pton(AF_INET6, da, &d) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(sport);
	}
	*has_src = 1;
	return (int)(end - s) + 2;
}

static int
parse_v2(const uint8_t *p, size_t n, struct sockaddr_storage *src,
    int *has_src)
{
	size_t len, total;
	uint8_t ver_cmd, fam;

	if (n < 16)
		return 0;
	ver_cmd = p[12];
	fam = p[13];
	len = (size_t)p[14] << 8 | p[15];
	total = 16 + len;
	if ((ver_cmd & 0xf0) != 0x20 || (ver_cmd & 0x0f) > 1 ||
	    total > PROXY_MAX)
		return -1;
	if (n < total)
		return 0;
	*has_src = 0;
	if ((ver_cmd & 0x0f) == 0)
		return (int)total;	/* LOCAL: the proxy's own check */
	memset(src, 0, sizeof(*src));
	switch (fam) {
	case 0x11:	/* TCP over IPv4 */
	case 0x12: {	/* UDP over IPv4: nonsense for us */
		struct sockaddr_in *in = (struct sockaddr_in *)src;

		if (fam != 0x11 || len < 12)
			return -1;
		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, p + 16, 4);
		memcpy(&in->sin_port, p + 24, 2);
		*has_src = 1;
		return (int)total;
	}
	case 0x21: {	/* TCP over IPv6 */
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)src;

		if (len < 36)
			return -1;
		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, p + 16, 16);
		memcpy(&in6->sin6_port, p + 48, 2);
		*has_src = 1;
		return (int)total;
	}
	case 0x00:	/* UNSPEC: keep the connection's address */
		return (int)total;
	default:
		return -1;
	}
}

int
proxy_parse(const uint8_t *p, size_t n, struct sockaddr_storage *src_r,
    int *has_src_r)
{
	size_t k;

	*has_src_r = 0;
	if (n == 0)
		return 0;
	if (p[0] == 'P') {
		k = n < 6 ? n : 6;
		if (memcmp(p, "PROXY ", k) != 0)
			return -1;
		return n < 6 ? 0 : parse_v1(p, n, src_r, has_src_r);
	}
	k = n < 12 ? n : 12;
	if (memcmp(p, v2_sig, k) != 0)
		return -1;
	return n < 12 ? 0 : parse_v2(p, n, src_r, has_src_r);
}

/* Waiting for one connection's header. */
struct proxy_wait {
	struct listener *l;
	int fd;
	struct sockaddr_storage peer;
	struct event *ev;
	uint64_t deadline_ms;
	size_t seen;		/* bytes peeked last time */
};

static void
set_lowat(int fd, size_t n)
{
	int v = (int)n;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, sizeof(v));
}

/* Waits for more bytes until the deadline (one-shot event, re-added). */
static void
wait_more(struct proxy_wait *w)
{
	uint64_t now = now_ms(), left;
	struct timeval tv;

	left = w->deadline_ms > now ? w->deadline_ms - now : 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	event_add(w->ev, &tv);
}

static void
proxy_fail(struct proxy_wait *w, const char *why)
{
	struct ipaddr ip;
	char addr[IPADDR_STRLEN] = "?";

	if (ipaddr_from_sockaddr((struct sockaddr *)&w->peer, &ip) == 0)
		ipaddr_str(&ip, addr);
	log_info("proxy", 0, "event=refused listener=%s ip=%s why=%s",
	    w->l->name, addr, why);
	close(w->fd);
	event_free(w->ev);
	free(w);
}

static void
on_header(evutil_socket_t fd, short what, void *arg)
{
	struct proxy_wait *w = arg;
	struct sockaddr_storage src;
	uint8_t buf[PROXY_MAX];
	ssize_t n;
	int len, has_src;

	if (what & EV_TIMEOUT) {
		proxy_fail(w, "timeout");
		return;
	}
	/* Peeking leaves what follows the header (a TLS ClientHello, say)
	 * in the socket for the protocol. */
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		wait_more(w);
		return;
	}
	if (n <= 0 || (size_t)n == w->seen) {
		proxy_fail(w, "closed");	/* readable without news: EOF */
		return;
	}
	w->seen = (size_t)n;
	len = proxy_parse(buf, (size_t)n, &src, &has_src);
	if (len == 0) {
		if ((size_t)n >= sizeof(buf)) {
			proxy_fail(w, "too-long");
			return;
		}
		/* Readable again only once more has arrived. */
		set_lowat(fd, (size_t)n + 1);
		wait_more(w);
		return;
	}
	if (len < 0) {
		proxy_fail(w, "malformed");
		return;
	}
	/* Consume exactly the header; what follows is the protocol's. */
	if (recv(fd, buf, (size_t)len, 0) != len) {
		proxy_fail(w, "read");
		return;
	}
	set_lowat(fd, 1);
	event_free(w->ev);
	w->l->accept(w->l, w->fd, has_src ? (struct sockaddr *)&src :
	    (struct sockaddr *)&w->peer);
	free(w);
}

void
proxy_accept(struct event_base *base, struct listener *l, int fd,
    const struct sockaddr *sa)
{
	struct proxy_wait *w = xcalloc(1, sizeof(*w));
	struct ipaddr ip;

	w->l = l;
	w->fd = fd;
	memcpy(&w->peer, sa, sa->sa_family == AF_INET6 ?
	    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	w->ev = event_new(base, fd, EV_READ, on_header, w);
	w->deadline_ms = now_ms() + PROXY_TIMEOUT_S * 1000;
	if (w->ev == NULL) {
		close(fd);
		free(w);
		return;
	}
	if (ipaddr_from_sockaddr(sa, &ip) < 0 ||
	    !cidr_list_match(trusted, ntrusted, &ip)) {
		proxy_fail(w, "untrusted-peer");
		return;
	}
	wait_more(w);
}
