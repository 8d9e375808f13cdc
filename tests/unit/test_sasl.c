/* Unit tests for src/core/sasl.c: base64 and SASL PLAIN (RFC 4616).
 * Decoders also get every prefix of every input in a heap block of
 * exactly its size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sasl.h"
#include "harness.h"


/* ---- base64 ---- */

struct b64_case {
	const char *in;
	size_t outsize;
	int rc;			/* length or -1 */
	const char *out;
};

static const struct b64_case b64_cases[] = {
	{ "=", 16, 0, "" },
	{ "YQ==", 16, 1, "a" },
	{ "YWI=", 16, 2, "ab" },
	{ "YWJj", 16, 3, "abc" },
	{ "YWJjZA==", 16, 4, "abcd" },
	{ "AA==", 16, 1, "\0" },
	{ "AAAA", 16, 3, "\0\0\0" },
	{ "/+/+", 16, 3, "\xff\xef\xfe" },
	{ "dXNlcg==", 16, 4, "user" },
	{ "YWJj", 4, 3, "abc" },	/* with room for the NUL */
	{ "YWJj", 3, -1, NULL },
	{ "YQ==", 2, 1, "a" },
	{ "YQ==", 1, -1, NULL },
	{ "", 16, -1, NULL },
	{ "Y", 16, -1, NULL },
	{ "YQ", 16, -1, NULL },
	{ "YQ=", 16, -1, NULL },
	{ "YWJjZ", 16, -1, NULL },
	{ "==", 16, -1, NULL },
	{ "====", 16, -1, NULL },
	{ "Y===", 16, -1, NULL },
	{ "YQ=a", 16, -1, NULL },
	{ "Y=Q=", 16, -1, NULL },
	{ "YQ==YQ==", 16, -1, NULL },
	{ "YW=j", 16, -1, NULL },
	{ "YWJ!", 16, -1, NULL },
	{ "YWJ-", 16, -1, NULL },	/* base64url is not base64 */
	{ "YWJ_", 16, -1, NULL },
	{ " YWJj", 16, -1, NULL },
	{ "YWJj ", 16, -1, NULL },
	{ "YW Jj", 16, -1, NULL },
	{ "YWJj\r\n", 16, -1, NULL },
	{ "YWJj\n", 16, -1, NULL },
	{ "*", 16, -1, NULL },
	{ "\xc3\xa9\xc3\xa9", 16, -1, NULL },
};

static void
test_b64_decode_table(void)
{
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]);
	    i++) {
		const struct b64_case *c = &b64_cases[i];
		char *in = exact(c->in, strlen(c->in));
		char *out = malloc(c->outsize);
		int rc;

		if (out == NULL)
			abort();
		rc = sasl_b64_decode(in, out, c->outsize);
		if (rc != c->rc)
			fprintf(stderr, "  b64 case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc > 0 && rc == c->rc) {
			CHECK(memcmp(out, c->out, (size_t)rc) == 0);
			CHECK(out[rc] == '\0');
		}
		free(out);
		free(in);
	}
}

static void
test_b64_decode_prefixes(void)
{
	for (size_t i = 0; i < sizeof(b64_cases) / sizeof(b64_cases[0]);
	    i++) {
		size_t len = strlen(b64_cases[i].in);

		for (size_t k = 0; k <= len; k++) {
			char *in = exact(b64_cases[i].in, k);
			char *out = malloc(b64_cases[i].outsize);
			int rc;

			if (out == NULL)
				abort();
			rc = sasl_b64_decode(in, out,
			    b64_cases[i].outsize);
			CHECK(rc < (int)b64_cases[i].outsize);
			/* whole quanta only, apart from "=" */
			if (rc >= 0 && !(k == 1 && in[0] == '='))
				CHECK(k % 4 == 0 && k > 0);
			free(out);
			free(in);
		}
	}
}

struct enc_case {
	const char *in;
	size_t n;
	size_t outsize;
	int rc;
	const char *out;
};

static const struct enc_case enc_cases[] = {
	{ "", 0, 1, 0, "" },
	{ "a", 1, 16, 4, "YQ==" },
	{ "ab", 2, 16, 4, "YWI=" },
	{ "abc", 3, 16, 4, "YWJj" },
	{ "abcd", 4, 16, 8, "YWJjZA==" },
	{ "\0user\0pass", 10, 64, 16, "AHVzZXIAcGFzcw==" },
	{ "abc", 3, 5, 4, "YWJj" },	/* 4 and the NUL */
	{ "abc", 3, 4, -1, NULL },
	{ "a", 1, 4, -1, NULL },
	{ "", 0, 0, -1, NULL },
};

static void
test_b64_encode_table(void)
{
	for (size_t i = 0; i < sizeof(enc_cases) / sizeof(enc_cases[0]);
	    i++) {
		const struct enc_case *c = &enc_cases[i];
		char *out = malloc(c->outsize ? c->outsize : 1);
		int rc;

		if (out == NULL)
			abort();
		rc = sasl_b64_encode(c->in, c->n, out, c->outsize);
		if (rc != c->rc)
			fprintf(stderr, "  encode case %zu: rc %d\n", i, rc);
		CHECK(rc == c->rc);
		if (rc >= 0 && rc == c->rc)
			CHECK_STR(out, c->out);
		free(out);
	}
}

/* Encode then decode gives the bytes back, for every length that fits
 * the decoder's documented use. */
static void
test_b64_round_trip(void)
{
	unsigned char bytes[300];
	char text[404], back[301];
	uint32_t x = 2463534242u;

	for (size_t n = 1; n <= 290; n++) {
		int len;

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			bytes[i] = (unsigned char)x;
		}
		len = sasl_b64_encode(bytes, n, text, sizeof(text));
		CHECK(len == (int)((n + 2) / 3 * 4));
		CHECK(sasl_b64_decode(text, back, sizeof(back)) == (int)n);
		CHECK(memcmp(bytes, back, n) == 0);
	}
}

/* ---- PLAIN ---- */

struct plain_case {
	const char *raw;	/* before base64 */
	size_t len;
	size_t usersize, passsize;
	int rc;
	const char *user, *pass;
};

#define S(x) x, sizeof(x) - 1

static const struct plain_case plain_cases[] = {
	{ S("\0user\0pass"), 256, 256, 0, "user", "pass" },
	{ S("user\0user\0pass"), 256, 256, 0, "user", "pass" },
	{ S("\0user@example.com\0p4ss w0rd!"), 256, 256, 0,
	    "user@example.com", "p4ss w0rd!" },
	{ S("\0\xc3\xa9l\xc3\xa8ve\0\xe2\x82\xac"), 256, 256, 0,
	    "\xc3\xa9l\xc3\xa8ve", "\xe2\x82\xac" },
	{ S("\0u\0p"), 2, 2, 0, "u", "p" },
	{ S("\0us\0p"), 2, 2, -1, NULL, NULL },
	{ S("\0u\0pa"), 2, 2, -1, NULL, NULL },
	{ S("admin\0user\0pass"), 256, 256, -1, NULL, NULL },
	{ S("User\0user\0pass"), 256, 256, -1, NULL, NULL },
	{ S("use\0user\0pass"), 256, 256, -1, NULL, NULL },
	{ S("userx\0user\0pass"), 256, 256, -1, NULL, NULL },
	{ S("\0user"), 256, 256, -1, NULL, NULL },
	{ S("user"), 256, 256, -1, NULL, NULL },
	{ S("\0user\0"), 256, 256, -1, NULL, NULL },
	{ S("\0\0pass"), 256, 256, -1, NULL, NULL },
	{ S("\0\0"), 256, 256, -1, NULL, NULL },
	{ S("\0"), 256, 256, -1, NULL, NULL },
	{ S("\0user\0pa\0ss"), 256, 256, -1, NULL, NULL },
	{ S("\0user\0pass\0"), 256, 256, -1, NULL, NULL },
	{ S("\0\0user\0pass"), 256, 256, -1, NULL, NULL },
};

static int
check_plain(const char *b64, const struct plain_case *c, int quiet)
{
	char *user = malloc(c->usersize), *pass = malloc(c->passsize);
	int rc, ok;

	if (user == NULL || pass == NULL)
		abort();
	rc = sasl_plain_decode(b64, user, c->usersize, pass, c->passsize);
	ok = rc == c->rc;
	if (ok && rc == 0)
		ok = strcmp(user, c->user) == 0 && strcmp(pass, c->pass) == 0;
	if (!ok && !quiet)
		fprintf(stderr, "  plain \"%s\": rc %d\n", b64, rc);
	free(user);
	free(pass);
	return ok;
}

static void
test_plain_table(void)
{
	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]);
	    i++) {
		const struct plain_case *c = &plain_cases[i];
		char b64[256];

		CHECK(sasl_b64_encode(c->raw, c->len, b64, sizeof(b64)) > 0);
		CHECK(check_plain(b64, c, 0));
	}
}

static void
test_plain_malformed_base64(void)
{
	static const char *const bad[] = {
		"", "=", "AHVzZXIAcGFzcw=", "AHVzZXIAcGFzcw",
		"AHVzZXIAcGFzc*==",
		"AHVzZXIAcGFzcw==\r\n", " AHVzZXIAcGFzcw==",
	};
	static const struct plain_case fail = { S(""), 256, 256, -1, NULL,
	    NULL };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(check_plain(bad[i], &fail, 0));
}

static void
test_plain_prefixes(void)
{
	for (size_t i = 0; i < sizeof(plain_cases) / sizeof(plain_cases[0]);
	    i++) {
		const struct plain_case *c = &plain_cases[i];
		char b64[256];
		int len = sasl_b64_encode(c->raw, c->len, b64, sizeof(b64));

		for (int k = 0; k < len; k++) {
			char *in = exact(b64, (size_t)k);
			char *user = malloc(c->usersize);
			char *pass = malloc(c->passsize);

			if (user == NULL || pass == NULL)
				abort();
			if (sasl_plain_decode(in, user, c->usersize, pass,
			    c->passsize) == 0) {
				CHECK(strlen(user) < c->usersize);
				CHECK(strlen(pass) < c->passsize);
			}
			free(user);
			free(pass);
			free(in);
		}
	}
}

/* Builds [authz] NUL user NUL pass with the given lengths, encodes it
 * and decodes it with SASL_FIELD_MAX-sized buffers. */
static int
plain_sizes(size_t zlen, size_t ulen, size_t plen, char *user_r)
{
	size_t n = zlen + 1 + ulen + 1 + plen;
	char *raw = malloc(n), *b64 = malloc(n / 3 * 4 + 8);
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];
	int rc;

	if (raw == NULL || b64 == NULL)
		abort();
	memset(raw, 'u', zlen);
	raw[zlen] = '\0';
	memset(raw + zlen + 1, 'u', ulen);
	raw[zlen + 1 + ulen] = '\0';
	memset(raw + zlen + 2 + ulen, 'p', plen);
	if (sasl_b64_encode(raw, n, b64, n / 3 * 4 + 8) < 0)
		abort();
	rc = sasl_plain_decode(b64, user, sizeof(user), pass, sizeof(pass));
	if (rc == 0) {
		if (strlen(user) != ulen || strlen(pass) != plen)
			rc = -2;
		if (user_r != NULL)
			memcpy(user_r, user, ulen + 1);
	}
	free(raw);
	free(b64);
	return rc;
}

/* Limits that are about one field at a time. */
static void
test_plain_field_limits(void)
{
	CHECK(plain_sizes(0, 255, 8, NULL) == 0);
	CHECK(plain_sizes(0, 256, 8, NULL) == -1);
	CHECK(plain_sizes(0, 8, 255, NULL) == 0);
	CHECK(plain_sizes(0, 8, 256, NULL) == -1);
	CHECK(plain_sizes(100, 100, 8, NULL) == 0);
	CHECK(plain_sizes(0, 1000, 8, NULL) == -1);
	CHECK(plain_sizes(0, 8, 1000, NULL) == -1);
	CHECK(plain_sizes(5000, 8, 8, NULL) == -1);
}

/* sasl.h: SASL_FIELD_MAX is the limit of "username or password bytes",
 * so fields each under it must decode together, whatever their sum
 * (before b6e33cc anything over 393 bytes in all was refused). */
static void
test_plain_both_fields_long(void)
{
	static const struct {
		size_t z, u, p;
	} ok[] = {
		{ 0, 200, 200 },
		{ 0, 255, 255 },
		{ 0, 130, 255 },
		{ 200, 200, 100 },	/* authzid = user: 502 bytes */
		{ 255, 255, 255 },	/* all three at the limit */
		{ 139, 139, 253 },	/* 533: over the old 394 */
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc = plain_sizes(ok[i].z, ok[i].u, ok[i].p, NULL);

		if (rc != 0)
			fprintf(stderr, "  authzid %zu, user %zu, password %zu"
			    " (%zu bytes): rc %d\n", ok[i].z, ok[i].u, ok[i].p,
			    ok[i].z + ok[i].u + ok[i].p + 2, rc);
		CHECK(rc == 0);
	}
}

static const struct harness_test tests[] = {
	TEST(test_b64_decode_table),
	TEST(test_b64_decode_prefixes),
	TEST(test_b64_encode_table),
	TEST(test_b64_round_trip),
	TEST(test_plain_table),
	TEST(test_plain_malformed_base64),
	TEST(test_plain_prefixes),
	TEST(test_plain_field_limits),
	TEST(test_plain_both_fields_long),
};

HARNESS_MAIN("sasl", tests)
