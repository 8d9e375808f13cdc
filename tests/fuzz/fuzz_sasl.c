/* libFuzzer target: SASL base64 and PLAIN (sasl_b64_decode,
 * sasl_b64_encode, sasl_plain_decode).
 *
 * The input is used twice: as the base64 text a client sends (NUL-
 * terminated, in a heap block of exactly its size), and as the raw PLAIN
 * message, which is encoded first so the PLAIN rules themselves are
 * reached. Output buffers are heap blocks of exactly the size passed.
 * Besides memory errors, it aborts when:
 *   - a decode returns more than fits, or a result not NUL-terminated;
 *   - decoding what was encoded does not give the bytes back;
 *   - PLAIN accepts a message that is not [authzid] NUL authcid NUL
 *     passwd with a non-empty authcid and passwd, no other NUL, and an
 *     empty authzid or one equal to authcid, or returns other fields;
 *   - PLAIN refuses such a message while it is small (under 256 bytes,
 *     each field well within SASL_FIELD_MAX). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/sasl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static char *
exact(const void *p, size_t n)
{
	char *s = malloc(n + 1);

	REQUIRE(s != NULL);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* Decodes text with an output of exactly outsize bytes. */
static void
check_b64(const char *text, size_t outsize)
{
	char *out = malloc(outsize ? outsize : 1);
	int n;

	REQUIRE(out != NULL);
	n = sasl_b64_decode(text, out, outsize);
	REQUIRE(n >= -1);
	if (n > 0) {
		size_t enc = ((size_t)n + 2) / 3 * 4 + 1;
		char *again = malloc(enc), *back = malloc((size_t)n + 1);

		REQUIRE((size_t)n < outsize && out[n] == '\0');
		REQUIRE(strlen(text) % 4 == 0);
		REQUIRE(again != NULL && back != NULL);
		REQUIRE(sasl_b64_encode(out, (size_t)n, again, enc) ==
		    (int)enc - 1);
		REQUIRE(sasl_b64_decode(again, back, (size_t)n + 1) == n);
		REQUIRE(memcmp(out, back, (size_t)n) == 0);
		/* canonical text encodes back to itself */
		if (strcmp(again, text) != 0)
			REQUIRE(strlen(again) == strlen(text));
		free(again);
		free(back);
	}
	free(out);
}

/* What PLAIN must make of raw[0..n): 1 and the fields, or 0. */
static int
plain_model(const uint8_t *raw, size_t n, size_t usersize, size_t passsize,
    const uint8_t **user, size_t *ulen, const uint8_t **pass, size_t *plen)
{
	const uint8_t *a = memchr(raw, '\0', n), *b;
	size_t zlen;

	if (a == NULL)
		return 0;
	zlen = (size_t)(a - raw);
	b = memchr(a + 1, '\0', n - zlen - 1);
	if (b == NULL)
		return 0;
	*user = a + 1;
	*ulen = (size_t)(b - a - 1);
	*pass = b + 1;
	*plen = n - zlen - *ulen - 2;
	if (*ulen == 0 || *plen == 0 || memchr(*pass, '\0', *plen) != NULL)
		return 0;
	if (*ulen >= usersize || *plen >= passsize)
		return 0;
	if (zlen > 0 && (zlen != *ulen || memcmp(raw, *user, zlen) != 0))
		return 0;
	return 1;
}

static void
check_plain_text(const char *text, size_t usersize, size_t passsize)
{
	char *user = malloc(usersize), *pass = malloc(passsize);

	REQUIRE(user != NULL && pass != NULL);
	if (sasl_plain_decode(text, user, usersize, pass, passsize) == 0) {
		REQUIRE(strlen(user) >= 1 && strlen(user) < usersize);
		REQUIRE(strlen(pass) >= 1 && strlen(pass) < passsize);
	}
	free(user);
	free(pass);
}

static void
check_plain_raw(const uint8_t *raw, size_t n, size_t usersize,
    size_t passsize)
{
	size_t enc = (n + 2) / 3 * 4 + 1, ulen, plen;
	char *text = malloc(enc), *user = malloc(usersize);
	char *pass = malloc(passsize);
	const uint8_t *mu, *mp;
	int want, rc;

	REQUIRE(text != NULL && user != NULL && pass != NULL);
	if (n == 0 || sasl_b64_encode(raw, n, text, enc) < 0)
		goto out;
	want = plain_model(raw, n, usersize, passsize, &mu, &ulen, &mp,
	    &plen);
	rc = sasl_plain_decode(text, user, usersize, pass, passsize);
	REQUIRE(rc == 0 || rc == -1);
	if (rc == 0) {
		REQUIRE(want);
		REQUIRE(strlen(user) == ulen && memcmp(user, mu, ulen) == 0);
		REQUIRE(strlen(pass) == plen && memcmp(pass, mp, plen) == 0);
	} else if (want && n < 256) {
		abort();
	}
out:
	free(text);
	free(user);
	free(pass);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = exact(data, size);
	size_t small = size > 0 ? data[0] % 32 + 1 : 8;

	check_b64(text, 1);
	check_b64(text, small);
	check_b64(text, size + 1);
	check_b64(text, SASL_FIELD_MAX * 2 + 8);
	check_plain_text(text, SASL_FIELD_MAX, SASL_FIELD_MAX);
	check_plain_text(text, small, small);
	check_plain_raw(data, size, SASL_FIELD_MAX, SASL_FIELD_MAX);
	check_plain_raw(data, size, small, small);
	free(text);
	return 0;
}
