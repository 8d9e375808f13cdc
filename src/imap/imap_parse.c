/* IMAP command parsing.
 * SECURITY: reads client input. Commands are assembled by the session
 * within its limits; here every token is bounded by the command's end,
 * nesting by IMAP_DEPTH_MAX, sets by a range count. */
#include "imap/imap_parse.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define SEQSET_RANGES_MAX 10000

int
imap_line_literal(const char *line, size_t len, struct imap_literal *lit)
{
	size_t i, digits = 0;
	uint64_t n = 0;

	if (len == 0 || line[len - 1] != '}')
		return 0;
	i = len - 1;
	lit->sync = 1;
	if (i > 0 && line[i - 1] == '+') {
		lit->sync = 0;
		i--;
	}
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		i--;
		digits++;
	}
	if (i == 0 || line[i - 1] != '{')
		return 0;	/* a "}" that ends some other token */
	if (digits == 0 || digits > 19)
		return -1;
	for (size_t k = 0; k < digits; k++)
		n = n * 10 + (uint64_t)(line[i + k] - '0');
	lit->size = n;
	return 1;
}

/* RFC 3501 9: ATOM-CHAR is any CHAR except atom-specials. */
static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}

int
imap_parse_head(const char *cmd, size_t len, char *tag, char *name,
    const char **rest_r)
{
	size_t i = 0, t;

	while (i < len && atom_char((unsigned char)cmd[i]) && cmd[i] != '+')
		i++;
	if (i == 0 || i >= IMAP_TAG_MAX || i == len || cmd[i] != ' ') {
		memcpy(tag, "*", 2);
		if (i > 0 && i < IMAP_TAG_MAX && (i == len || cmd[i] == ' ')) {
			memcpy(tag, cmd, i);
			tag[i] = '\0';
		}
		return -1;
	}
	memcpy(tag, cmd, i);
	tag[i] = '\0';
	t = ++i;
	while (i < len && isalpha((unsigned char)cmd[i]) && i - t < 31) {
		name[i - t] = (char)toupper((unsigned char)cmd[i]);
		i++;
	}
	name[i - t] = '\0';
	if (i == t || (i < len && cmd[i] != ' '))
		return -1;
	*rest_r = i < len ? cmd + i + 1 : cmd + i;
	return 0;
}

void
imap_args_init(struct imap_args *a, const char *rest, size_t len)
{
	a->p = rest;
	a->end = rest + len;
	a->depth = 0;
	a->error = 0;
	a->type = IMAP_ARG_END;
}

static enum imap_arg_type
fail(struct imap_args *a)
{
	a->error = 1;
	return a->type = IMAP_ARG_ERROR;
}

static enum imap_arg_type
quoted(struct imap_args *a)
{
	size_t n = 0;

	for (a->p++; a->p < a->end; a->p++) {
		char c = *a->p;

		if (c == '"') {
			a->p++;
			a->buf[n] = '\0';
			a->val = a->buf;
			a->len = n;
			a->literal = 0;
			return a->type = IMAP_ARG_STRING;
		}
		if (c == '\r' || c == '\n' || c == '\0')
			return fail(a);
		if (c == '\\') {
			if (++a->p == a->end || (*a->p != '"' && *a->p != '\\'))
				return fail(a);
			c = *a->p;
		}
		if (n + 1 >= sizeof(a->buf))
			return fail(a);
		a->buf[n++] = c;
	}
	return fail(a);
}

static enum imap_arg_type
literal(struct imap_args *a)
{
	uint64_t n = 0;
	size_t digits = 0;

	for (a->p++; a->p < a->end && *a->p >= '0' && *a->p <= '9'; a->p++)
		if (++digits > 19)
			return fail(a);
		else
			n = n * 10 + (uint64_t)(*a->p - '0');
	if (digits == 0)
		return fail(a);
	if (a->p < a->end && *a->p == '+')
		a->p++;
	if (a->end - a->p < 3 || a->p[0] != '}' || a->p[1] != '\r' ||
	    a->p[2] != '\n')
		return fail(a);
	a->p += 3;
	if ((uint64_t)(a->end - a->p) < n)
		return fail(a);
	a->val = a->p;
	a->len = (size_t)n;
	a->literal = 1;
	a->p += n;
	return a->type = IMAP_ARG_STRING;
}

static enum imap_arg_type
atom(struct imap_args *a)
{
	const char *s = a->p;
	int bracket = 0;

	while (a->p < a->end) {
		unsigned char c = (unsigned char)*a->p;

		if (bracket) {
			if (c == ']')
				bracket = 0;
			else if (c < 0x20 || c == 0x7f)
				return fail(a);
			a->p++;
			continue;
		}
		if (c == '[') {
			bracket = 1;
			a->p++;
			continue;
		}
		/* '*' and '%' appear in sequence sets and LIST patterns;
		 * ']' in response-code-like atoms such as BODY[] */
		if (!atom_char(c) && c != '*' && c != '%' && c != ']')
			break;
		a->p++;
	}
	if (bracket || a->p == s)
		return fail(a);
	a->val = s;
	a->len = (size_t)(a->p - s);
	return a->type = IMAP_ARG_ATOM;
}

enum imap_arg_type
imap_args_next(struct imap_args *a)
{
	if (a->error)
		return IMAP_ARG_ERROR;
	/* one space between tokens; none after "(" or before ")" */
	if (a->type != IMAP_ARG_END && a->type != IMAP_ARG_LIST_OPEN &&
	    a->p < a->end && *a->p != ')') {
		if (*a->p != ' ')
			return fail(a);
		a->p++;
		if (a->p == a->end || *a->p == ' ')
			return fail(a);
	}
	if (a->p >= a->end) {
		if (a->depth != 0)
			return fail(a);
		return a->type = IMAP_ARG_END;
	}
	switch (*a->p) {
	case '(':
		if (++a->depth > IMAP_DEPTH_MAX)
			return fail(a);
		a->p++;
		return a->type = IMAP_ARG_LIST_OPEN;
	case ')':
		if (--a->depth < 0)
			return fail(a);
		a->p++;
		return a->type = IMAP_ARG_LIST_CLOSE;
	case '"':
		return quoted(a);
	case '{':
		return literal(a);
	default:
		return atom(a);
	}
}

int
imap_args_astring(struct imap_args *a, char *out, size_t outsize)
{
	enum imap_arg_type t = imap_args_next(a);

	if ((t != IMAP_ARG_ATOM && t != IMAP_ARG_STRING) ||
	    a->len >= outsize || memchr(a->val, '\0', a->len) != NULL)
		return -1;
	memcpy(out, a->val, a->len);
	out[a->len] = '\0';
	return 0;
}

int
imap_args_done(struct imap_args *a)
{
	return imap_args_next(a) == IMAP_ARG_END;
}

static int
seq_number(const char **p, const char *end, uint32_t max, uint32_t *v)
{
	uint64_t n = 0;
	size_t digits = 0;

	if (*p < end && **p == '*') {
		(*p)++;
		*v = max;
		return 0;
	}
	while (*p < end && **p >= '0' && **p <= '9') {
		n = n * 10 + (uint64_t)(**p - '0');
		(*p)++;
		if (++digits > 10 || n > UINT32_MAX)
			return -1;
	}
	if (digits == 0 || n == 0)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

int
imap_seqset_parse(const char *s, size_t len, uint32_t max,
    struct imap_seqset *set)
{
	const char *p = s, *end = s + len;
	size_t cap = 0;

	memset(set, 0, sizeof(*set));
	for (;;) {
		uint32_t lo, hi;

		if (seq_number(&p, end, max, &lo) < 0)
			goto bad;
		hi = lo;
		if (p < end && *p == ':') {
			p++;
			if (seq_number(&p, end, max, &hi) < 0)
				goto bad;
		}
		if (lo > hi) {
			uint32_t t = lo;

			lo = hi;
			hi = t;
		}
		if (set->n == SEQSET_RANGES_MAX)
			goto bad;
		if (set->n == cap) {
			cap = cap ? cap * 2 : 8;
			set->r = xrealloc(set->r, cap * sizeof(*set->r));
		}
		set->r[set->n].lo = lo;
		set->r[set->n++].hi = hi;
		if (p == end)
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	imap_seqset_free(set);
	return -1;
}

int
imap_seqset_has(const struct imap_seqset *set, uint32_t n)
{
	for (size_t i = 0; i < set->n; i++)
		if (n >= set->r[i].lo && n <= set->r[i].hi)
			return 1;
	return 0;
}

void
imap_seqset_free(struct imap_seqset *set)
{
	free(set->r);
	set->r = NULL;
	set->n = 0;
}
