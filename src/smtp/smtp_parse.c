/* SMTP command parsing.
 * SECURITY: input is an untrusted client line; every copy is bounded and
 * every character class is checked against RFC 5321. */
#include "smtp/smtp_parse.h"

#include <string.h>

#include "core/util.h"

int
smtp_parse_verb(const char *line, char *verb, const char **args_r)
{
	size_t n = 0;

	while ((line[n] >= 'A' && line[n] <= 'Z') ||
	    (line[n] >= 'a' && line[n] <= 'z')) {
		if (n >= 15)
			return -1;
		verb[n] = line[n] & ~0x20;
		n++;
	}
	verb[n] = '\0';
	if (n == 0 || (line[n] != '\0' && line[n] != ' '))
		return -1;
	*args_r = line[n] == ' ' ? line + n + 1 : line + n;
	return 0;
}

static int
is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Length of the well-formed UTF-8 sequence (2-4 bytes, no overlongs,
 * no surrogates, at most U+10FFFF) starting at s, or 0. */
static size_t
utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	uint32_t cp;

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

static int
is_letdig(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* Parses a domain at s; returns its length, 0 if none. Labels are
 * let-dig [ldh-str]; with utf8, octets >= 0x80 count as letters. */
static size_t
parse_domain(const char *s, int utf8, unsigned *flags)
{
	size_t i = 0, label = 0;

	for (;;) {
		unsigned char c = (unsigned char)s[i];
		size_t u;

		if (c >= 0x80) {
			if (!utf8 || (u = utf8_seq((const unsigned char *)s +
			    i)) == 0)
				return 0;
			*flags |= SMTP_PATH_UTF8;
			label += u;
			i += u;
			if (label > 63)
				return 0;
			continue;
		}
		if (is_letdig(c)) {
			label++;
		} else if (c == '-' && label > 0) {
			label++;
		} else if (c == '.' && label > 0 && s[i - 1] != '-') {
			label = 0;
		} else {
			break;
		}
		if (label > 63)
			return 0;
		i++;
	}
	if (i == 0 || label == 0 || s[i - 1] == '-' || i > SMTP_DOMAIN_MAX)
		return 0;
	return i;
}

/* "[...]" address literal; returns its length including brackets. */
static size_t
parse_literal(const char *s)
{
	size_t i = 1;

	if (s[0] != '[')
		return 0;
	while (s[i] != ']' && s[i] != '\0') {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '[' || c == '\\')
			return 0;
		i++;
	}
	return s[i] == ']' && i > 1 ? i + 1 : 0;
}

static size_t
parse_local(const char *s, int utf8, unsigned *flags)
{
	size_t i = 0;

	if (s[0] == '"') {
		for (i = 1; s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];

			if (c == '\\') {
				c = (unsigned char)s[++i];
				if (c < 32 || c > 126)
					return 0;
			} else if (c >= 0x80 && utf8) {
				size_t u = utf8_seq((const unsigned char *)s + i);

				if (u == 0)
					return 0;
				*flags |= SMTP_PATH_UTF8;
				i += u - 1;
			} else if (c < 32 || c > 126) {
				return 0;
			}
		}
		*flags |= SMTP_PATH_QUOTED;
		return i + 1;
	}
	for (;;) {
		size_t atom = 0;

		for (;;) {
			unsigned char c = (unsigned char)s[i];
			size_t u = 1;

			if (c >= 0x80) {
				if (!utf8 || (u = utf8_seq(
				    (const unsigned char *)s + i)) == 0)
					break;
				*flags |= SMTP_PATH_UTF8;
			} else if (!is_atext(c)) {
				break;
			}
			i += u;
			atom++;
		}
		if (atom == 0)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

int
smtp_parse_path(const char *args, const char *prefix, int allow_null,
    int utf8, struct smtp_path *path, const char **params_r,
    const char **error_r)
{
	size_t plen = strlen(prefix), n, local, dom;
	const char *p = args, *start;

	memset(path, 0, sizeof(*path));
	*error_r = "Syntax error in parameters";
	if (strncasecmp(p, prefix, plen) != 0)
		return -1;
	p += plen;
	if (*p == ' ')
		p++;	/* tolerated: "MAIL FROM: <a@b>" */
	if (*p != '<')
		return -1;
	start = ++p;
	if (*p == '>') {
		if (!allow_null)
			return -1;
		path->flags |= SMTP_PATH_NULL;
		p++;
		goto params;
	}
	if (*p == '@') {
		/* Source route: @dom,@dom:mailbox. Parsed, then dropped. */
		for (;;) {
			if (*p != '@' || (n = parse_domain(p + 1, 0,
			    &path->flags)) == 0)
				return -1;
			p += 1 + n;
			if (*p == ':')
				break;
			if (*p != ',')
				return -1;
			p++;
		}
		p++;
		path->flags |= SMTP_PATH_ROUTE;
		start = p;
	}
	local = parse_local(p, utf8, &path->flags);
	if (local == 0 || local > SMTP_LOCAL_MAX) {
		*error_r = local ? "Local part too long" : "Bad address syntax";
		return -1;
	}
	p += local;
	if (*p == '>' && !(path->flags & SMTP_PATH_QUOTED) &&
	    local == 10 && strncasecmp(start, "postmaster", 10) == 0) {
		path->flags |= SMTP_PATH_NODOMAIN;	/* RFC 5321 4.5.1 */
		dom = 0;
	} else {
		if (*p != '@') {
			*error_r = "Bad address syntax";
			return -1;
		}
		p++;
		dom = parse_domain(p, utf8, &path->flags);
		if (dom == 0 && (dom = parse_literal(p)) != 0)
			path->flags |= SMTP_PATH_LITERAL;
		if (dom == 0) {
			*error_r = "Bad domain syntax";
			return -1;
		}
		p += dom;
	}
	if (*p != '>') {
		*error_r = "Bad address syntax";
		return -1;
	}
	n = (size_t)(p - start);
	if (n > SMTP_PATH_MAX - 2) {	/* the limit counts the brackets */
		*error_r = "Path too long";
		return -1;
	}
	memcpy(path->addr, start, n);
	path->addr[n] = '\0';
	path->local_len = local;
	p++;
params:
	if (*p != '\0' && *p != ' ')
		return -1;
	while (*p == ' ')
		p++;
	*params_r = p;
	return 0;
}

int
smtp_parse_param(const char **pos, char *key, char *value, size_t valuesize,
    int *has_value_r)
{
	const char *p = *pos;
	size_t k = 0, v = 0;

	while (*p == ' ')
		p++;
	if (*p == '\0')
		return 0;
	while (is_letdig((unsigned char)*p) || (*p == '-' && k > 0)) {
		char c = *p++;

		if (k >= 31)
			return -1;
		key[k++] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
	}
	key[k] = '\0';
	if (k == 0)
		return -1;
	*has_value_r = 0;
	if (*p == '=') {
		p++;
		*has_value_r = 1;
		while (*p != '\0' && *p != ' ') {
			unsigned char c = (unsigned char)*p;

			if (c < 33 || c > 126 || c == '=' || v + 1 >= valuesize)
				return -1;
			value[v++] = *p++;
		}
		if (v == 0)
			return -1;
	}
	value[v] = '\0';
	if (*p != '\0' && *p != ' ')
		return -1;
	*pos = p;
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
smtp_xtext_decode(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (*s == '+') {
			int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

			if (lo < 0)
				return -1;
			*o++ = (char)(hi * 16 + lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}
