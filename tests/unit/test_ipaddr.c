/* Unit tests for src/core/ipaddr.c: addresses, CIDR ranges and lists.
 * Parsers also get every prefix of every input in a heap block of
 * exactly its size. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "core/ipaddr.h"
#include "harness.h"


/* ---- addresses ---- */

struct ip_case {
	const char *in;
	int rc;
	int v4;
	const char *str;	/* canonical text */
};

static const struct ip_case ip_cases[] = {
	{ "127.0.0.1", 0, 1, "127.0.0.1" },
	{ "0.0.0.0", 0, 1, "0.0.0.0" },
	{ "255.255.255.255", 0, 1, "255.255.255.255" },
	{ "192.0.2.1", 0, 1, "192.0.2.1" },
	{ "::1", 0, 0, "::1" },
	{ "::", 0, 0, "::" },
	{ "2001:db8::1", 0, 0, "2001:db8::1" },
	{ "2001:DB8:0:0:0:0:0:1", 0, 0, "2001:db8::1" },
	{ "fe80::1:2:3:4", 0, 0, "fe80::1:2:3:4" },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, 0,
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	/* v4-mapped text is the IPv4 address */
	{ "::ffff:1.2.3.4", 0, 1, "1.2.3.4" },
	{ "::ffff:102:304", 0, 1, "1.2.3.4" },
	{ "::FFFF:10.0.0.1", 0, 1, "10.0.0.1" },
	/* v4-compatible (deprecated) is not mapped */
	{ "::1.2.3.4", 0, 0, "::1.2.3.4" },
	{ "", -1, 0, NULL },
	{ "1.2.3", -1, 0, NULL },
	{ "1.2.3.4.5", -1, 0, NULL },
	{ "256.1.1.1", -1, 0, NULL },
	{ "1.2.3.-1", -1, 0, NULL },
	{ " 1.2.3.4", -1, 0, NULL },
	{ "1.2.3.4 ", -1, 0, NULL },
	{ "1.2.3.4/8", -1, 0, NULL },
	{ "0x7f.0.0.1", -1, 0, NULL },
	{ "2130706433", -1, 0, NULL },
	{ "::1::2", -1, 0, NULL },
	{ "1:2:3:4:5:6:7:8:9", -1, 0, NULL },
	{ "gggg::1", -1, 0, NULL },
	{ "12345::", -1, 0, NULL },
	{ "[::1]", -1, 0, NULL },
	{ "::1%eth0", -1, 0, NULL },
	{ "localhost", -1, 0, NULL },
	{ ":", -1, 0, NULL },
};

static void
test_ip_table(void)
{
	for (size_t i = 0; i < sizeof(ip_cases) / sizeof(ip_cases[0]); i++) {
		const struct ip_case *c = &ip_cases[i];
		char *in = exact(c->in, strlen(c->in));
		struct ipaddr ip;
		char buf[IPADDR_STRLEN];
		int rc = ipaddr_parse(in, &ip);

		if (rc != c->rc)
			fprintf(stderr, "  ip case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0) {
			CHECK(ipaddr_is_v4(&ip) == c->v4);
			CHECK_STR(ipaddr_str(&ip, buf), c->str);
		}
		free(in);
	}
}

/* Text form parses back to the same address. */
static void
test_ip_round_trip(void)
{
	for (size_t i = 0; i < sizeof(ip_cases) / sizeof(ip_cases[0]); i++) {
		struct ipaddr a, b;
		char buf[IPADDR_STRLEN];

		if (ipaddr_parse(ip_cases[i].in, &a) < 0)
			continue;
		CHECK(ipaddr_parse(ipaddr_str(&a, buf), &b) == 0);
		CHECK(memcmp(a.a, b.a, 16) == 0);
	}
}

static void
test_ip_prefixes(void)
{
	for (size_t i = 0; i < sizeof(ip_cases) / sizeof(ip_cases[0]); i++) {
		size_t len = strlen(ip_cases[i].in);

		for (size_t k = 0; k <= len; k++) {
			char *in = exact(ip_cases[i].in, k);
			struct ipaddr ip;
			struct cidr c;

			(void)ipaddr_parse(in, &ip);
			(void)cidr_parse(in, &c);
			free(in);
		}
	}
}

static void
test_from_sockaddr(void)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	struct ipaddr ip;
	char buf[IPADDR_STRLEN];

	memset(&in4, 0, sizeof(in4));
	in4.sin_family = AF_INET;
	in4.sin_port = htons(25);
	CHECK(inet_pton(AF_INET, "192.0.2.7", &in4.sin_addr) == 1);
	CHECK(ipaddr_from_sockaddr((struct sockaddr *)&in4, &ip) == 0);
	CHECK(ipaddr_is_v4(&ip));
	CHECK_STR(ipaddr_str(&ip, buf), "192.0.2.7");

	memset(&in6, 0, sizeof(in6));
	in6.sin6_family = AF_INET6;
	CHECK(inet_pton(AF_INET6, "2001:db8::25", &in6.sin6_addr) == 1);
	CHECK(ipaddr_from_sockaddr((struct sockaddr *)&in6, &ip) == 0);
	CHECK(!ipaddr_is_v4(&ip));
	CHECK_STR(ipaddr_str(&ip, buf), "2001:db8::25");

	/* a v4-mapped peer on a dual-stack socket is the IPv4 address */
	CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.7", &in6.sin6_addr) == 1);
	CHECK(ipaddr_from_sockaddr((struct sockaddr *)&in6, &ip) == 0);
	CHECK(ipaddr_is_v4(&ip));
	CHECK_STR(ipaddr_str(&ip, buf), "192.0.2.7");

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	CHECK(ipaddr_from_sockaddr((struct sockaddr *)&un, &ip) == -1);
}

/* ---- CIDR ---- */

struct cidr_case {
	const char *in;
	int rc;
	unsigned prefix;	/* on the mapped form */
	const char *str;
};

static const struct cidr_case cidr_cases[] = {
	{ "10.0.0.0/8", 0, 104, "10.0.0.0/8" },
	{ "10.1.2.3/8", 0, 104, "10.0.0.0/8" },		/* host bits */
	{ "192.168.1.200/25", 0, 121, "192.168.1.128/25" },
	{ "1.2.3.4", 0, 128, "1.2.3.4/32" },
	{ "1.2.3.4/32", 0, 128, "1.2.3.4/32" },
	{ "0.0.0.0/0", 0, 96, "0.0.0.0/0" },
	{ "255.255.255.255/1", 0, 97, "128.0.0.0/1" },
	{ "::/0", 0, 0, "::/0" },
	{ "::1", 0, 128, "::1/128" },
	{ "::1/128", 0, 128, "::1/128" },
	{ "2001:db8::/32", 0, 32, "2001:db8::/32" },
	{ "2001:db8:ffff::1/33", 0, 33, "2001:db8:8000::/33" },
	{ "::ffff:10.0.0.0/104", 0, 104, "10.0.0.0/8" },
	{ "::ffff:0:0/96", 0, 96, "0.0.0.0/0" },
	{ "10.0.0.0/08", 0, 104, "10.0.0.0/8" },
	{ "", -1, 0, NULL },
	{ "/8", -1, 0, NULL },
	{ "10.0.0.0/", -1, 0, NULL },
	{ "10.0.0.0/33", -1, 0, NULL },
	{ "10.0.0.0/-1", -1, 0, NULL },
	{ "10.0.0.0/+8", -1, 0, NULL },
	{ "10.0.0.0/ 8", -1, 0, NULL },
	{ "10.0.0.0/8 ", -1, 0, NULL },
	{ "10.0.0.0/8/8", -1, 0, NULL },
	{ "10.0.0.0/8x", -1, 0, NULL },
	{ "10.0.0.0/99999999999999999999999", -1, 0, NULL },
	{ "::/129", -1, 0, NULL },
	{ "10.0.0/8", -1, 0, NULL },
	{ "foo/8", -1, 0, NULL },
	{ "1234567890123456789012345678901234567890123456789/8", -1, 0,
	    NULL },
};

static void
test_cidr_table(void)
{
	for (size_t i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]);
	    i++) {
		const struct cidr_case *c = &cidr_cases[i];
		char *in = exact(c->in, strlen(c->in));
		struct cidr r;
		char buf[IPADDR_STRLEN + 5];
		int rc = cidr_parse(in, &r);

		if (rc != c->rc)
			fprintf(stderr, "  cidr case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0) {
			CHECK(r.prefix == c->prefix);
			CHECK_STR(cidr_str(&r, buf, sizeof(buf)), c->str);
		}
		free(in);
	}
}

/* cidr_str's output parses back to the same range. */
static void
test_cidr_round_trip(void)
{
	for (size_t i = 0; i < sizeof(cidr_cases) / sizeof(cidr_cases[0]);
	    i++) {
		struct cidr a, b;
		char buf[IPADDR_STRLEN + 5];

		if (cidr_parse(cidr_cases[i].in, &a) < 0)
			continue;
		CHECK(cidr_parse(cidr_str(&a, buf, sizeof(buf)), &b) == 0);
		CHECK(memcmp(&a.addr, &b.addr, sizeof(a.addr)) == 0);
		CHECK(a.prefix == b.prefix);
	}
}

static void
test_cidr_str_small(void)
{
	struct cidr c;
	char buf[16];

	CHECK(cidr_parse("192.168.100.200/32", &c) == 0);
	CHECK_STR(cidr_str(&c, buf, 8), "");
	CHECK(cidr_parse("1.2.3.4/8", &c) == 0);
	CHECK_STR(cidr_str(&c, buf, 8), "");		/* needs 10 */
	CHECK_STR(cidr_str(&c, buf, 9), "");
	CHECK_STR(cidr_str(&c, buf, 10), "1.0.0.0/8");
}

struct match_case {
	const char *cidr;
	const char *ip;
	int match;
};

static const struct match_case match_cases[] = {
	{ "10.0.0.0/8", "10.0.0.0", 1 },
	{ "10.0.0.0/8", "10.255.255.255", 1 },
	{ "10.0.0.0/8", "11.0.0.0", 0 },
	{ "10.0.0.0/8", "9.255.255.255", 0 },
	{ "10.0.0.0/8", "::ffff:10.1.1.1", 1 },
	{ "10.0.0.0/8", "::a01:101", 0 },	/* v4-compatible: not v4 */
	{ "10.0.0.0/8", "a01:101::", 0 },
	{ "192.168.1.128/25", "192.168.1.200", 1 },
	{ "192.168.1.128/25", "192.168.1.100", 0 },
	{ "1.2.3.4/32", "1.2.3.4", 1 },
	{ "1.2.3.4/32", "1.2.3.5", 0 },
	{ "1.2.3.4", "1.2.3.4", 1 },
	{ "0.0.0.0/0", "1.2.3.4", 1 },
	{ "0.0.0.0/0", "255.255.255.255", 1 },
	{ "0.0.0.0/0", "::1", 0 },
	{ "0.0.0.0/0", "2001:db8::1", 0 },
	{ "0.0.0.0/0", "::", 0 },
	{ "::/0", "1.2.3.4", 1 },
	{ "::/0", "::1", 1 },
	{ "::/0", "ffff::1", 1 },
	{ "::1/128", "::1", 1 },
	{ "::1/128", "::2", 0 },
	{ "::1/128", "127.0.0.1", 0 },
	{ "127.0.0.0/8", "::1", 0 },
	{ "2001:db8::/32", "2001:db8:ffff::1", 1 },
	{ "2001:db8::/32", "2001:db9::", 0 },
	{ "2001:db8::/33", "2001:db8:7fff::1", 1 },
	{ "2001:db8::/33", "2001:db8:8000::1", 0 },
	{ "::ffff:0:0/96", "8.8.8.8", 1 },
	{ "::ffff:0:0/96", "2001:db8::1", 0 },
};

static void
test_match_table(void)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]);
	    i++) {
		const struct match_case *c = &match_cases[i];
		struct cidr r;
		struct ipaddr ip;

		CHECK(cidr_parse(c->cidr, &r) == 0);
		CHECK(ipaddr_parse(c->ip, &ip) == 0);
		if (cidr_match(&r, &ip) != c->match) {
			fprintf(stderr, "  match case %zu: %s in %s\n", i,
			    c->ip, c->cidr);
			CHECK(!"match");
		}
	}
}

/* Every prefix length of one IPv6 and one IPv4 address: the address is
 * in its own range, and flipping the first bit after the prefix is
 * still in it while flipping the last prefix bit is not. */
static void
test_match_every_prefix(void)
{
	static const char *const addrs[] = {
		"2001:db8:aaaa:5555:ffff:0:1234:8001", "203.0.113.77"
	};

	for (size_t a = 0; a < 2; a++) {
		int v4 = a == 1;
		unsigned bits = v4 ? 32 : 128, base = v4 ? 96 : 0;

		for (unsigned p = 0; p <= bits; p++) {
			char text[80];
			struct cidr c;
			struct ipaddr ip, other;
			unsigned bit;

			snprintf(text, sizeof(text), "%s/%u", addrs[a], p);
			CHECK(cidr_parse(text, &c) == 0);
			CHECK(c.prefix == base + p);
			CHECK(ipaddr_parse(addrs[a], &ip) == 0);
			CHECK(cidr_match(&c, &ip));
			if (p < bits) {
				other = ip;
				bit = base + p;
				other.a[bit / 8] ^= (uint8_t)(0x80 >> bit % 8);
				CHECK(cidr_match(&c, &other));
			}
			if (p > 0) {
				other = ip;
				bit = base + p - 1;
				other.a[bit / 8] ^= (uint8_t)(0x80 >> bit % 8);
				CHECK(!cidr_match(&c, &other));
			}
		}
	}
}

/* ---- lists ---- */

struct list_case {
	const char *in;
	int rc;
	size_t n;
	const char *bad;	/* the item named on error */
};

static const struct list_case list_cases[] = {
	{ "", 0, 0, NULL },
	{ " ,, \t", 0, 0, NULL },
	{ "127.0.0.0/8", 0, 1, NULL },
	{ "127.0.0.0/8,::1", 0, 2, NULL },
	{ "10.0.0.0/8, 192.168.0.0/16 ::1/128\t2001:db8::/32", 0, 4, NULL },
	{ ",10.0.0.1,", 0, 1, NULL },
	{ "10.0.0.0/8,foo", -1, 0, "foo" },
	{ "1.2.3.4/33 5.6.7.8", -1, 0, "1.2.3.4/33" },
	{ "10.0.0.0/8;192.168.0.0/16", -1, 0, "10.0.0.0/8;192.168.0.0/16" },
	{ "1.2.3.4\n", -1, 0, "1.2.3.4\n" },
};

/* Same range: same prefix and the same network bits (host bits are
 * cleared by parsing); IPv4 and its mapped IPv6 form are one range. */
static void
test_cidr_equal(void)
{
	static const struct {
		const char *a, *b;
		int equal;
	} cases[] = {
		{ "10.0.0.0/8", "10.0.0.0/8", 1 },
		{ "10.1.2.3/8", "10.0.0.0/8", 1 },
		{ "10.0.0.0/8", "10.0.0.0/9", 0 },
		{ "10.0.0.0/8", "11.0.0.0/8", 0 },
		{ "192.0.2.1", "::ffff:192.0.2.1", 1 },
		{ "192.0.2.1", "192.0.2.2", 0 },
		{ "2001:db8::/32", "2001:db8:ffff::/32", 1 },
		{ "2001:db8::/32", "2001:db8::/33", 0 },
		{ "2001:db8::1", "2001:db8::2", 0 },
		{ "::/0", "0.0.0.0/0", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cidr a, b;

		CHECK(cidr_parse(cases[i].a, &a) == 0);
		CHECK(cidr_parse(cases[i].b, &b) == 0);
		if (cidr_equal(&a, &b) != cases[i].equal)
			fprintf(stderr, "  %s vs %s\n", cases[i].a, cases[i].b);
		CHECK(cidr_equal(&a, &b) == cases[i].equal);
		CHECK(cidr_equal(&b, &a) == cases[i].equal);
	}
}

static void
test_list_table(void)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]);
	    i++) {
		const struct list_case *c = &list_cases[i];
		char *in = exact(c->in, strlen(c->in));
		struct cidr *list = NULL;
		size_t n = 99;
		const char *bad = NULL;
		int rc = cidr_list_parse(in, &list, &n, &bad);

		if (rc != c->rc)
			fprintf(stderr, "  list case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0)
			CHECK(n == c->n);
		if (rc < 0 && c->rc < 0)
			CHECK_STR(bad, c->bad);
		if (rc == 0)
			free(list);
		free(in);
	}
}

static void
test_list_prefixes(void)
{
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]);
	    i++) {
		size_t len = strlen(list_cases[i].in);

		for (size_t k = 0; k <= len; k++) {
			char *in = exact(list_cases[i].in, k);
			struct cidr *list;
			size_t n;
			const char *bad;

			if (cidr_list_parse(in, &list, &n, &bad) == 0)
				free(list);
			free(in);
		}
	}
}

static void
test_list_match(void)
{
	static const struct {
		const char *ip;
		int match;
	} ips[] = {
		{ "10.9.8.7", 1 }, { "192.168.3.4", 1 }, { "::1", 1 },
		{ "2001:db8::5", 1 }, { "127.0.0.1", 0 }, { "::2", 0 },
		{ "172.16.0.1", 0 },
	};
	struct cidr *list;
	size_t n;
	const char *bad;

	CHECK(cidr_list_parse("10.0.0.0/8, 192.168.0.0/16 ::1 2001:db8::/32",
	    &list, &n, &bad) == 0);
	CHECK(n == 4);
	for (size_t i = 0; i < sizeof(ips) / sizeof(ips[0]); i++) {
		struct ipaddr ip;

		CHECK(ipaddr_parse(ips[i].ip, &ip) == 0);
		CHECK(cidr_list_match(list, n, &ip) == ips[i].match);
	}
	free(list);

	/* the empty list matches nothing */
	CHECK(cidr_list_parse("", &list, &n, &bad) == 0);
	CHECK(n == 0);
	{
		struct ipaddr ip;

		CHECK(ipaddr_parse("10.0.0.1", &ip) == 0);
		CHECK(cidr_list_match(list, n, &ip) == 0);
	}
	free(list);
}

/* CIDR_LIST_MAX items are fine; one more is not. An item too long to be
 * an address is refused and named, cut short. */
static void
test_list_limits(void)
{
	size_t size = (CIDR_LIST_MAX + 1) * 16 + 1;
	char *s = malloc(size), *p;
	struct cidr *list;
	size_t n;
	const char *bad;
	char longitem[80];

	if (s == NULL)
		abort();
	p = s;
	for (int i = 0; i < CIDR_LIST_MAX; i++)
		p += snprintf(p, size - (size_t)(p - s), "10.0.%d.%d,",
		    i / 256, i % 256);
	CHECK(cidr_list_parse(s, &list, &n, &bad) == 0);
	CHECK(n == CIDR_LIST_MAX);
	free(list);
	snprintf(p, size - (size_t)(p - s), "10.1.0.0");
	CHECK(cidr_list_parse(s, &list, &n, &bad) == -1);
	free(s);

	memset(longitem, '1', sizeof(longitem) - 1);
	longitem[sizeof(longitem) - 1] = '\0';
	CHECK(cidr_list_parse(longitem, &list, &n, &bad) == -1);
	CHECK(bad != NULL && strlen(bad) <= 40 &&
	    strncmp(bad, longitem, strlen(bad)) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_ip_table),
	TEST(test_ip_round_trip),
	TEST(test_ip_prefixes),
	TEST(test_from_sockaddr),
	TEST(test_cidr_table),
	TEST(test_cidr_round_trip),
	TEST(test_cidr_str_small),
	TEST(test_match_table),
	TEST(test_match_every_prefix),
	TEST(test_cidr_equal),
	TEST(test_list_table),
	TEST(test_list_prefixes),
	TEST(test_list_match),
	TEST(test_list_limits),
};

HARNESS_MAIN("ipaddr", tests)
