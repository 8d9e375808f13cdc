/* Unit tests for src/core/sockfilter.c, against the kernel: a listening
 * socket on loopback with a program attached; connections from the
 * ranges it drops never complete, the others do. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/sockfilter.h"
#include "harness.h"

#define WAIT_MS 300	/* loopback answers a SYN in microseconds */

static struct sock_filter prog[SOCKFILTER_MAX_INSNS];

/* A dual-stack listener on a free loopback port; its port in *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6 };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin6_port);
	return fd;
}

/* 1 if a connection from src to the port completes, 0 if it does not
 * within WAIT_MS, -1 if it cannot be tried (no such local address). */
static int
reaches(const char *src, uint16_t port)
{
	struct sockaddr_storage s = { 0 }, d = { 0 };
	socklen_t len;
	struct pollfd pf;
	int fd, v6 = strchr(src, ':') != NULL, err = 0, rc;

	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&s;
		struct sockaddr_in6 *b = (struct sockaddr_in6 *)&d;

		a->sin6_family = b->sin6_family = AF_INET6;
		inet_pton(AF_INET6, src, &a->sin6_addr);
		b->sin6_addr = in6addr_loopback;
		b->sin6_port = htons(port);
		len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&s;
		struct sockaddr_in *b = (struct sockaddr_in *)&d;

		a->sin_family = b->sin_family = AF_INET;
		inet_pton(AF_INET, src, &a->sin_addr);
		b->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		b->sin_port = htons(port);
		len = sizeof(*a);
	}
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&s, len) < 0 ||
	    (connect(fd, (struct sockaddr *)&d, len) < 0 &&
	    errno != EINPROGRESS)) {
		close(fd);
		return -1;
	}
	pf.fd = fd;
	pf.events = POLLOUT;
	rc = poll(&pf, 1, WAIT_MS);
	len = sizeof(err);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
	close(fd);
	return rc == 1 && err == 0;
}

static struct cidr
range(const char *s)
{
	struct cidr c;

	if (cidr_parse(s, &c) < 0)
		abort();
	return c;
}

/* Builds and attaches a program of the given ranges to fd. */
static int
attach(int fd, const char *const *ranges, size_t n)
{
	struct cidr c[8];
	int len;

	for (size_t i = 0; i < n; i++)
		c[i] = range(ranges[i]);
	len = sockfilter_build(c, n, prog);
	CHECK(len > 0 && len <= SOCKFILTER_MAX_INSNS);
	return sockfilter_attach(fd, prog, (size_t)len);
}

static void
test_drops_ipv4_addresses_and_ranges(void)
{
	static const char *const r[] = {
		"127.0.0.66", "127.0.1.0/24", "127.0.3.128/25",
	};
	uint16_t port;
	int fd = listener(&port);

	CHECK(fd >= 0);
	CHECK(attach(fd, r, 3) == 0);
	CHECK(reaches("127.0.0.66", port) == 0);
	CHECK(reaches("127.0.1.9", port) == 0);
	CHECK(reaches("127.0.1.255", port) == 0);
	CHECK(reaches("127.0.3.200", port) == 0);
	CHECK(reaches("127.0.0.1", port) == 1);
	CHECK(reaches("127.0.0.67", port) == 1);
	CHECK(reaches("127.0.2.1", port) == 1);
	CHECK(reaches("127.0.3.127", port) == 1);
	/* Detached: everyone gets in again. */
	CHECK(sockfilter_attach(fd, prog, 0) == 0);
	CHECK(reaches("127.0.0.66", port) == 1);
	CHECK(reaches("127.0.1.9", port) == 1);
	close(fd);
}

static void
test_drops_ipv6_ranges(void)
{
	static const char *const exact[] = { "::1", "127.0.0.99" };
	static const char *const net64[] = { "::/64" };
	static const char *const other[] = { "fe80::/10", "2001:db8::/32",
	    "::2/128" };
	uint16_t port;
	int fd = listener(&port);

	CHECK(fd >= 0);
	if (reaches("::1", port) != 1) {
		printf("  (no IPv6 loopback: IPv6 cases skipped)\n");
		close(fd);
		return;
	}
	CHECK(attach(fd, exact, 2) == 0);
	CHECK(reaches("::1", port) == 0);
	CHECK(reaches("127.0.0.1", port) == 1);
	CHECK(attach(fd, net64, 1) == 0);
	CHECK(reaches("::1", port) == 0);
	CHECK(reaches("127.0.0.1", port) == 1);
	CHECK(attach(fd, other, 3) == 0);
	CHECK(reaches("::1", port) == 1);
	close(fd);
}

static void
test_limits(void)
{
	struct cidr c[SOCKFILTER_MAX_RANGES + 1];
	uint16_t port;
	int fd = listener(&port), len;

	/* The longest program: every range IPv6 with a partial last word. */
	for (size_t i = 0; i <= SOCKFILTER_MAX_RANGES; i++) {
		c[i] = range("2001:db8::/127");
		c[i].addr.a[15] = (uint8_t)(2 * i);
		c[i].addr.a[14] = (uint8_t)(i >> 7);
	}
	CHECK(sockfilter_build(c, SOCKFILTER_MAX_RANGES + 1, prog) == -1);
	len = sockfilter_build(c, SOCKFILTER_MAX_RANGES, prog);
	CHECK(len > 0 && len <= SOCKFILTER_MAX_INSNS);
	CHECK(fd >= 0 && sockfilter_attach(fd, prog, (size_t)len) == 0);
	/* The kernel took it, and it keeps IPv4 out of the IPv6 part. */
	CHECK(reaches("127.0.0.1", port) == 1);
	/* Nothing to drop: a program that keeps everything. */
	len = sockfilter_build(c, 0, prog);
	CHECK(len > 0 && sockfilter_attach(fd, prog, (size_t)len) == 0);
	CHECK(reaches("127.0.0.66", port) == 1);
	close(fd);
}

static const struct harness_test tests[] = {
	TEST(test_drops_ipv4_addresses_and_ranges),
	TEST(test_drops_ipv6_ranges),
	TEST(test_limits),
};

HARNESS_MAIN("sockfilter", tests)
