/* Address helpers for unit tests of the guard and the CIDR map: parse
 * a literal, recording a test failure when it is not valid. */
#ifndef MW_TESTS_HARNESS_ADDR_H
#define MW_TESTS_HARNESS_ADDR_H

#include <stdio.h>
#include <string.h>

#include "core/ipaddr.h"
#include "harness.h"

static struct ipaddr
ip_of(const char *s)
{
	struct ipaddr ip;

	memset(&ip, 0, sizeof(ip));
	if (ipaddr_parse(s, &ip) < 0) {
		fprintf(stderr, "  bad address in test: %s\n", s);
		CHECK(!"ipaddr_parse");
	}
	return ip;
}

static struct cidr
cidr_of(const char *s)
{
	struct cidr c;

	memset(&c, 0, sizeof(c));
	if (cidr_parse(s, &c) < 0) {
		fprintf(stderr, "  bad cidr in test: %s\n", s);
		CHECK(!"cidr_parse");
	}
	return c;
}

#endif
