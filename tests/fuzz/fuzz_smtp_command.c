/* libFuzzer target: SMTP command lines through smtp_parse_verb,
 * smtp_parse_path (both prefixes, with and without SMTPUTF8 and the
 * null path), smtp_parse_param and smtp_xtext_decode.
 *
 * The input is split into lines at LF (one CR before it dropped), as the
 * line reader would hand them over; each line is copied into a heap
 * block of exactly its size so ASan sees any read past the NUL. Besides
 * memory errors, it aborts when a result breaks the header contracts,
 * the RFC 5321 limits (local part 64 octets, path 256 with brackets) or
 * RFC 6531 (an address is well-formed UTF-8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"

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

/* 1 if s[0..n) is well-formed UTF-8 (RFC 3629: no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc0 && c < 0xe0) {
			k = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c < 0xf0) {
			k = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c < 0xf8) {
			k = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return 0;
		}
		if (i + k >= n)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static void
check_params(const char *params, size_t valuesize)
{
	const char *pos = params, *end = params + strlen(params);
	char key[32], *value = malloc(valuesize);
	int has = 0, rc, n = 0;

	REQUIRE(value != NULL);
	while ((rc = smtp_parse_param(&pos, key, value, valuesize,
	    &has)) == 1) {
		size_t klen = strlen(key);

		REQUIRE(klen >= 1 && klen <= 31);
		for (size_t i = 0; i < klen; i++)
			REQUIRE((key[i] >= 'A' && key[i] <= 'Z') ||
			    (key[i] >= '0' && key[i] <= '9') ||
			    (key[i] == '-' && i > 0));
		if (has) {
			size_t vlen = strlen(value);
			char *x;

			REQUIRE(vlen >= 1 && vlen < valuesize);
			for (size_t i = 0; i < vlen; i++)
				REQUIRE(value[i] >= 33 && value[i] <= 126 &&
				    value[i] != '=');
			x = exact(value, vlen);
			if (smtp_xtext_decode(x) == 0)
				REQUIRE(strlen(x) <= vlen);
			free(x);
		}
		REQUIRE(pos > params && pos <= end);
		REQUIRE(*pos == '\0' || *pos == ' ');
		REQUIRE(++n <= SMTP_LINE_MAX);
	}
	REQUIRE(rc == 0 || rc == -1);
	free(value);
}

static void
check_path(const char *args, const char *prefix, int allow_null, int utf8)
{
	struct smtp_path p;
	const char *params = NULL, *err = NULL;
	size_t alen;

	if (smtp_parse_path(args, prefix, allow_null, utf8, &p, &params,
	    &err) < 0) {
		REQUIRE(err != NULL && err[0] != '\0');
		return;
	}
	alen = strlen(p.addr);
	/* RFC 5321 4.5.3.1.3: 256 octets with the brackets */
	REQUIRE(alen <= SMTP_PATH_MAX - 2);
	REQUIRE(params >= args && params <= args + strlen(args));
	REQUIRE(*params != ' ');
	if (p.flags & SMTP_PATH_NULL) {
		REQUIRE(allow_null && alen == 0 && p.flags == SMTP_PATH_NULL);
		return;
	}
	REQUIRE(p.local_len >= 1 && p.local_len <= alen);
	/* RFC 5321 4.5.3.1.1: 64 octets, the quotes included */
	REQUIRE(p.local_len <= SMTP_LOCAL_MAX);
	if (p.flags & SMTP_PATH_NODOMAIN)
		REQUIRE(p.local_len == alen && alen == 10 &&
		    strncasecmp(p.addr, "postmaster", 10) == 0);
	else
		REQUIRE(p.addr[p.local_len] == '@' &&
		    alen > p.local_len + 1);
	if (!utf8)
		REQUIRE(!(p.flags & SMTP_PATH_UTF8));
	/* the address goes into replies and logs: never a control
	 * character, never a non-ASCII byte unless SMTPUTF8 */
	for (size_t i = 0; i < alen; i++) {
		unsigned char c = (unsigned char)p.addr[i];

		REQUIRE(c >= 32 && c != 127);
		REQUIRE(c < 128 || (utf8 && (p.flags & SMTP_PATH_UTF8)));
	}
	REQUIRE(utf8_ok((const unsigned char *)p.addr, alen));
	if (p.flags & SMTP_PATH_QUOTED)
		REQUIRE(p.addr[0] == '"');
	check_params(params, 128);
	check_params(params, 2);
}

static void
check_line(const char *line)
{
	char verb[16];
	const char *args = NULL;

	if (smtp_parse_verb(line, verb, &args) == 0) {
		size_t vlen = strlen(verb);

		REQUIRE(vlen >= 1 && vlen <= 15);
		for (size_t i = 0; i < vlen; i++)
			REQUIRE(verb[i] >= 'A' && verb[i] <= 'Z');
		REQUIRE(args >= line && args <= line + strlen(line));
	} else {
		args = line;
	}
	check_path(args, "FROM:", 1, 0);
	check_path(args, "FROM:", 1, 1);
	check_path(args, "TO:", 0, 0);
	check_path(args, "TO:", 0, 1);
	check_params(args, 128);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t start = 0;

	while (start <= size) {
		const uint8_t *nl = start < size ? memchr(data + start, '\n',
		    size - start) : NULL;
		size_t end = nl ? (size_t)(nl - data) : size, len = end - start;
		char *line;

		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		if (len <= 4 * SMTP_LINE_MAX) {
			line = exact(data + start, len);
			check_line(line);
			free(line);
		}
		if (nl == NULL)
			break;
		start = end + 1;
	}
	return 0;
}
