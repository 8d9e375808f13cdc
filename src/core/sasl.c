/* SASL PLAIN and base64.
 * SECURITY: decodes client secrets; every intermediate copy is wiped. */
#include "core/sasl.h"

#include <openssl/evp.h>
#include <string.h>

#include "core/util.h"

int
sasl_b64_decode(const char *in, char *out, size_t outsize)
{
	size_t n = strlen(in), pad = 0;
	unsigned char tmp[3 * SASL_FIELD_MAX + 8];
	int len;

	if (n == 1 && in[0] == '=')
		return 0;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > sizeof(tmp))
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];

		if (c == '=') {
			if (i < n - 2 || (i == n - 2 && in[n - 1] != '='))
				return -1;
			pad++;
		} else if (sasl_b64_value((unsigned char)c, '/') < 0) {
			return -1;
		}
	}
	len = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
	if (len < 0 || (size_t)len < pad)
		return -1;
	len -= (int)pad;
	if ((size_t)len >= outsize) {
		mem_wipe(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(out, tmp, (size_t)len);
	out[len] = '\0';
	mem_wipe(tmp, sizeof(tmp));
	return len;
}

int
sasl_b64_value(unsigned char c, char last)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == (unsigned char)last)
		return 63;
	return -1;
}

int
sasl_b64_encode(const void *in, size_t n, char *out, size_t outsize)
{
	if ((n + 2) / 3 * 4 + 1 > outsize)
		return -1;
	return EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

int
sasl_plain_decode(const char *b64, char *user, size_t usersize, char *pass,
    size_t passsize)
{
	char raw[3 * SASL_FIELD_MAX + 8];
	const char *authz, *authc, *pw;
	int n = sasl_b64_decode(b64, raw, sizeof(raw)), rc = -1;
	size_t zl, cl, pl;

	if (n < 0)
		return -1;
	authz = raw;
	zl = strnlen(authz, (size_t)n);
	if (zl >= (size_t)n)
		goto out;
	authc = authz + zl + 1;
	cl = strnlen(authc, (size_t)n - zl - 1);
	if (zl + 1 + cl >= (size_t)n)
		goto out;
	pw = authc + cl + 1;
	pl = (size_t)n - zl - cl - 2;
	if (memchr(pw, '\0', pl) != NULL || cl == 0 || pl == 0 ||
	    cl >= usersize || pl >= passsize)
		goto out;
	if (zl > 0 && (zl != cl || memcmp(authz, authc, cl) != 0))
		goto out;
	memcpy(user, authc, cl + 1);
	memcpy(pass, pw, pl);
	pass[pl] = '\0';
	rc = 0;
out:
	mem_wipe(raw, sizeof(raw));
	return rc;
}
