/* Unit tests for src/smtp/smtp_parse.c: verbs, MAIL/RCPT paths, ESMTP
 * parameters and xtext.
 *
 * These parsers take one complete line, so "one byte at a time" means
 * every prefix of every input, each in a heap block of exactly its own
 * size (ASan catches a read past the NUL): a path is never accepted
 * before its closing '>' has arrived, and once it has, the result is
 * that of the whole line. */
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_parse.h"
#include "harness.h"

/* A NUL-terminated heap copy of the first n bytes of s. */

/* ---- verbs ---- */

struct verb_case {
	const char *line;
	int rc;
	const char *verb;
	const char *args;
};

static const struct verb_case verb_cases[] = {
	{ "MAIL FROM:<a@b.example>", 0, "MAIL", "FROM:<a@b.example>" },
	{ "ehlo client.example", 0, "EHLO", "client.example" },
	{ "Data", 0, "DATA", "" },
	{ "QUIT", 0, "QUIT", "" },
	{ "QUIT ", 0, "QUIT", "" },
	{ "NOOP  x", 0, "NOOP", " x" },		/* one space eaten */
	{ "starttls", 0, "STARTTLS", "" },
	{ "ABCDEFGHIJKLMNO", 0, "ABCDEFGHIJKLMNO", "" },	/* 15 */
	{ "abcdefghijklmno rest", 0, "ABCDEFGHIJKLMNO", "rest" },
	{ "ABCDEFGHIJKLMNOP", -1, NULL, NULL },			/* 16 */
	{ "ABCDEFGHIJKLMNOP x", -1, NULL, NULL },
	{ "", -1, NULL, NULL },
	{ " MAIL", -1, NULL, NULL },
	{ "MA1L", -1, NULL, NULL },
	{ "MAIL:", -1, NULL, NULL },
	{ "MAIL\tFROM:<>", -1, NULL, NULL },
	{ "MAIL\r", -1, NULL, NULL },
	{ "\xc3\x89HLO", -1, NULL, NULL },
	{ "EHL\xc3\x89", -1, NULL, NULL },
	{ "@", -1, NULL, NULL },
	{ "[", -1, NULL, NULL },	/* 'Z' + 1: not a letter */
	{ "`", -1, NULL, NULL },	/* 'a' - 1 */
};

static void
test_verb_table(void)
{
	for (size_t i = 0; i < sizeof(verb_cases) / sizeof(verb_cases[0]);
	    i++) {
		const struct verb_case *c = &verb_cases[i];
		char *line = exact(c->line, strlen(c->line));
		char verb[16];
		const char *args = NULL;
		int rc = smtp_parse_verb(line, verb, &args);

		if (rc != c->rc)
			fprintf(stderr, "  verb case %zu \"%s\": rc %d\n", i,
			    c->line, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0) {
			CHECK_STR(verb, c->verb);
			CHECK_STR(args, c->args);
			CHECK(args >= line && args <= line + strlen(line));
		}
		free(line);
	}
}

/* Every prefix of every verb line: no over-read, and a prefix that ends
 * inside the verb gives that shorter verb. */
static void
test_verb_prefixes(void)
{
	for (size_t i = 0; i < sizeof(verb_cases) / sizeof(verb_cases[0]);
	    i++) {
		size_t len = strlen(verb_cases[i].line);

		for (size_t k = 0; k <= len; k++) {
			char *line = exact(verb_cases[i].line, k);
			char verb[16];
			const char *args;

			if (smtp_parse_verb(line, verb, &args) == 0) {
				CHECK(strlen(verb) >= 1 && strlen(verb) <= 15);
				CHECK(strncasecmp(verb, line,
				    strlen(verb)) == 0);
			}
			free(line);
		}
	}
}

/* ---- paths ---- */

struct path_case {
	const char *args;
	const char *prefix;
	int allow_null, utf8;
	int rc;
	const char *addr;
	size_t local_len;
	unsigned flags;
	const char *params;
	const char *error;	/* on failure; NULL: any message */
};

#define F_NULL SMTP_PATH_NULL
#define F_ROUTE SMTP_PATH_ROUTE
#define F_QUOTED SMTP_PATH_QUOTED
#define F_LIT SMTP_PATH_LITERAL
#define F_UTF8 SMTP_PATH_UTF8
#define F_NODOM SMTP_PATH_NODOMAIN

static const struct path_case path_cases[] = {
	/* plain */
	{ "FROM:<a@example.com>", "FROM:", 1, 0, 0, "a@example.com", 1, 0,
	    "", NULL },
	{ "from:<a@example.com>", "FROM:", 1, 0, 0, "a@example.com", 1, 0,
	    "", NULL },
	{ "To:<Bob.Smith@Mail.Example.COM>", "TO:", 0, 0, 0,
	    "Bob.Smith@Mail.Example.COM", 9, 0, "", NULL },
	{ "FROM: <a@example.com>", "FROM:", 1, 0, 0, "a@example.com", 1, 0,
	    "", NULL },
	{ "FROM:<a@example.com> ", "FROM:", 1, 0, 0, "a@example.com", 1, 0,
	    "", NULL },
	{ "FROM:<a@example.com> SIZE=100 BODY=8BITMIME", "FROM:", 1, 0, 0,
	    "a@example.com", 1, 0, "SIZE=100 BODY=8BITMIME", NULL },
	{ "FROM:<a@example.com>   SIZE=1", "FROM:", 1, 0, 0,
	    "a@example.com", 1, 0, "SIZE=1", NULL },
	{ "TO:<x-y+z@a-b.example>", "TO:", 0, 0, 0, "x-y+z@a-b.example", 5,
	    0, "", NULL },
	{ "TO:<!#$%&'*+-/=?^_`{|}~@example.com>", "TO:", 0, 0, 0,
	    "!#$%&'*+-/=?^_`{|}~@example.com", 19, 0, "", NULL },
	{ "TO:<a%b@example.com>", "TO:", 0, 0, 0, "a%b@example.com", 3, 0,
	    "", NULL },
	{ "TO:<1@2.3>", "TO:", 0, 0, 0, "1@2.3", 1, 0, "", NULL },
	{ "TO:<a@localhost>", "TO:", 0, 0, 0, "a@localhost", 1, 0, "", NULL },
	{ "TO:<a.b.c@example.com>", "TO:", 0, 0, 0, "a.b.c@example.com", 5,
	    0, "", NULL },
	/* the null path */
	{ "FROM:<>", "FROM:", 1, 0, 0, "", 0, F_NULL, "", NULL },
	{ "FROM:<> SIZE=10", "FROM:", 1, 0, 0, "", 0, F_NULL, "SIZE=10",
	    NULL },
	{ "FROM: <>", "FROM:", 1, 0, 0, "", 0, F_NULL, "", NULL },
	{ "TO:<>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "FROM:<>x", "FROM:", 1, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "FROM:< >", "FROM:", 1, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "FROM:<<>>", "FROM:", 1, 0, -1, NULL, 0, 0, NULL, NULL },
	/* source routes: accepted, flagged, dropped */
	{ "TO:<@a.example:u@c.example>", "TO:", 0, 0, 0, "u@c.example", 1,
	    F_ROUTE, "", NULL },
	{ "TO:<@a.example,@b.example:u@c.example> X=1", "TO:", 0, 0, 0,
	    "u@c.example", 1, F_ROUTE, "X=1", NULL },
	{ "TO:<@a.example:postmaster>", "TO:", 0, 0, 0, "postmaster", 10,
	    F_ROUTE | F_NODOM, "", NULL },
	{ "TO:<@a.example>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<@:u@c.example>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<@a.example,u@c.example>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<@a.example;@b:u@c.example>", "TO:", 0, 0, -1, NULL, 0, 0,
	    NULL, NULL },
	{ "TO:<@a.example,@:u@c.example>", "TO:", 0, 0, -1, NULL, 0, 0,
	    NULL, NULL },
	{ "TO:<@a.example:>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<@[1.2.3.4]:u@c.example>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	/* quoted local parts */
	{ "TO:<\"john doe\"@example.com>", "TO:", 0, 0, 0,
	    "\"john doe\"@example.com", 10, F_QUOTED, "", NULL },
	{ "TO:<\"a\\\"b\"@example.com>", "TO:", 0, 0, 0,
	    "\"a\\\"b\"@example.com", 6, F_QUOTED, "", NULL },
	{ "TO:<\"a\\\\\"@example.com>", "TO:", 0, 0, 0,
	    "\"a\\\\\"@example.com", 5, F_QUOTED, "", NULL },
	{ "TO:<\"a@b\"@example.com>", "TO:", 0, 0, 0,
	    "\"a@b\"@example.com", 5, F_QUOTED, "", NULL },
	{ "TO:<\"a>b\"@example.com>", "TO:", 0, 0, 0,
	    "\"a>b\"@example.com", 5, F_QUOTED, "", NULL },
	{ "TO:<\"\"@example.com>", "TO:", 0, 0, 0, "\"\"@example.com", 2,
	    F_QUOTED, "", NULL },
	{ "TO:<\"postmaster\">", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<\"unterminated@example.com>", "TO:", 0, 0, -1, NULL, 0, 0,
	    NULL, NULL },
	{ "TO:<\"a\x01\"@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<\"a\\\x01\"@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<\"a\x7f\"@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<\"a\\", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<\"a\"b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<a\"b\"@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	/* address literals */
	{ "TO:<u@[192.0.2.1]>", "TO:", 0, 0, 0, "u@[192.0.2.1]", 1, F_LIT,
	    "", NULL },
	{ "TO:<u@[IPv6:2001:db8::1]>", "TO:", 0, 0, 0,
	    "u@[IPv6:2001:db8::1]", 1, F_LIT, "", NULL },
	{ "TO:<u@[]>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad domain syntax" },
	{ "TO:<u@[1.2.3.4>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<u@[1.2 3.4]>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<u@[1.2[3.4]>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<u@[1.2\\]3.4]>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<u@[1.2.3.4]x>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<u@[1.2.3.4].example>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	/* UTF-8 (SMTPUTF8) */
	{ "TO:<\xc3\xa9@example.com>", "TO:", 0, 1, 0,
	    "\xc3\xa9@example.com", 2, F_UTF8, "", NULL },
	{ "TO:<\xc3\xa9@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad address syntax" },
	{ "TO:<u@\xc3\xa9xample.com>", "TO:", 0, 1, 0,
	    "u@\xc3\xa9xample.com", 1, F_UTF8, "", NULL },
	{ "TO:<u@\xc3\xa9xample.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<\"\xe2\x82\xac\"@example.com>", "TO:", 0, 1, 0,
	    "\"\xe2\x82\xac\"@example.com", 5, F_QUOTED | F_UTF8, "", NULL },
	{ "TO:<\"\xe2\x82\xac\"@example.com>", "TO:", 0, 0, -1, NULL, 0, 0,
	    NULL, NULL },
	{ "TO:<\xf0\x9f\x93\xa7.x@\xe4\xbe\x8b.example>", "TO:", 0, 1, 0,
	    "\xf0\x9f\x93\xa7.x@\xe4\xbe\x8b.example", 6, F_UTF8, "", NULL },
	/* <postmaster> alone (RFC 5321 4.5.1) */
	{ "TO:<postmaster>", "TO:", 0, 0, 0, "postmaster", 10, F_NODOM, "",
	    NULL },
	{ "TO:<PostMaster>", "TO:", 0, 0, 0, "PostMaster", 10, F_NODOM, "",
	    NULL },
	{ "TO:<postmaster@example.com>", "TO:", 0, 0, 0,
	    "postmaster@example.com", 10, 0, "", NULL },
	{ "TO:<postmistress>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad address syntax" },
	{ "TO:<postmaste>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<postmaster.x>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<user>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad address syntax" },
	/* bad syntax */
	{ "", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO<a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO :<a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "FROM:<a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com>", "FROM:", 1, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:a@example.com", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:  <a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com >", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:< a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com>x", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com>>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com>\tX=1", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    NULL },
	{ "TO:<a@>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad domain syntax" },
	{ "TO:<@>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a..b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<.a@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL,
	    "Bad address syntax" },
	{ "TO:<a.@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a(b)@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a,b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a\\b@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@-example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example-.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com->", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example..com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@.example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com.>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@exa_mple.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@exa mple.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a@example.com\x01>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a\x01@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
	{ "TO:<a\x7f@example.com>", "TO:", 0, 0, -1, NULL, 0, 0, NULL, NULL },
};

/* Index just past the '>' that closes the path of a parsed line. */
static size_t
path_end(const char *args, const char *params)
{
	size_t i = (size_t)(params - args);

	while (i > 0 && args[i - 1] != '>')
		i--;
	return i;
}

static int
check_path_case(const struct path_case *c, size_t i)
{
	size_t len = strlen(c->args);
	char *args = exact(c->args, len);
	struct smtp_path p;
	const char *params = NULL, *err = NULL;
	int rc = smtp_parse_path(args, c->prefix, c->allow_null, c->utf8, &p,
	    &params, &err);
	int ok = 1;

	if (rc != c->rc) {
		fprintf(stderr, "  path case %zu \"%s\": rc %d (%s)\n", i,
		    c->args, rc, rc < 0 && err ? err : "ok");
		ok = 0;
	} else if (rc == 0) {
		if (strcmp(p.addr, c->addr) != 0 ||
		    p.local_len != c->local_len || p.flags != c->flags ||
		    strcmp(params, c->params) != 0) {
			fprintf(stderr, "  path case %zu \"%s\": addr \"%s\" "
			    "local %zu flags %#x params \"%s\"\n", i, c->args,
			    p.addr, p.local_len, p.flags, params);
			ok = 0;
		}
	} else {
		if (err == NULL || err[0] == '\0' ||
		    (c->error != NULL && strcmp(err, c->error) != 0)) {
			fprintf(stderr, "  path case %zu \"%s\": error "
			    "\"%s\"\n", i, c->args, err ? err : "(null)");
			ok = 0;
		}
	}
	free(args);
	return ok;
}

static void
test_path_table(void)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]);
	    i++)
		CHECK(check_path_case(&path_cases[i], i));
}

static void
test_path_prefixes(void)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]);
	    i++) {
		const struct path_case *c = &path_cases[i];
		size_t len = strlen(c->args), end = len + 1;
		struct smtp_path whole;
		const char *params, *err;

		if (c->rc == 0) {
			char *args = exact(c->args, len);

			if (smtp_parse_path(args, c->prefix, c->allow_null,
			    c->utf8, &whole, &params, &err) == 0)
				end = path_end(args, params);
			free(args);
		}
		for (size_t k = 0; k < len; k++) {
			char *args = exact(c->args, k);
			struct smtp_path p;
			int rc = smtp_parse_path(args, c->prefix,
			    c->allow_null, c->utf8, &p, &params, &err);

			if (c->rc == 0 && k < end && rc != -1) {
				fprintf(stderr, "  path case %zu: prefix %zu "
				    "\"%s\" accepted\n", i, k, args);
				CHECK(rc == -1);
			}
			if (k >= end) {
				CHECK(rc == 0);
				CHECK(rc != 0 || (strcmp(p.addr,
				    whole.addr) == 0 && p.flags ==
				    whole.flags && p.local_len ==
				    whole.local_len));
			}
			if (rc < 0)
				CHECK(err != NULL);
			free(args);
		}
	}
}

/* Builds "LLL...@ddd" with a local part of local bytes and a domain of
 * dom bytes made of labels of at most 63. */
static char *
long_path(const char *prefix, size_t local, size_t dom)
{
	size_t plen = strlen(prefix), n = plen + 1 + local + 1 + dom + 1;
	char *s = malloc(n + 1), *p = s;
	size_t rem = dom;

	if (s == NULL)
		abort();
	memcpy(p, prefix, plen);
	p += plen;
	*p++ = '<';
	memset(p, 'l', local);
	p += local;
	*p++ = '@';
	while (rem > 63) {
		size_t take = rem - 2 < 63 ? rem - 2 : 63;

		memset(p, 'd', take);
		p += take;
		*p++ = '.';
		rem -= take + 1;
	}
	memset(p, 'e', rem);
	p += rem;
	*p++ = '>';
	*p = '\0';
	return s;
}

struct limit_case {
	size_t local, dom;
	int rc;
	const char *error;
};

static const struct limit_case limit_cases[] = {
	{ 64, 11, 0, NULL },
	{ 67, 11, -1, "Local part too long" },
	{ 1000, 11, -1, "Local part too long" },
	{ 1, 63, 0, NULL },			/* one label of 63 */
	{ 1, 64, 0, NULL },			/* split into 62 "." 1 */
	{ 1, 252, 0, NULL },			/* addr 254 */
	{ 64, 189, 0, NULL },			/* addr 254 */
	{ 63, 190, 0, NULL },			/* addr 254 */
	{ 64, 191, -1, "Path too long" },	/* addr 256 */
	{ 1, 256, -1, NULL },			/* domain over 255 */
	{ 1, 1000, -1, NULL },
};

/* RFC 5321 4.5.3.1.1: a local part is at most 64 octets. */
static const struct limit_case local_limit_cases[] = {
	{ 65, 11, -1, "Local part too long" },
	{ 66, 11, -1, "Local part too long" },
};

/* RFC 5321 4.5.3.1.3 and SMTP_PATH_MAX: a path is at most 256 octets
 * with its brackets, so addr is at most 254. */
static const struct limit_case path_limit_cases[] = {
	{ 1, 253, -1, "Path too long" },	/* addr 255, path 257 */
	{ 64, 190, -1, "Path too long" },	/* addr 255, path 257 */
};

static void
run_limit_cases(const struct limit_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct limit_case *c = &cases[i];
		char *args = long_path("TO:", c->local, c->dom);
		struct smtp_path p;
		const char *params, *err = NULL;
		int rc = smtp_parse_path(args, "TO:", 0, 0, &p, &params, &err);

		if (rc != c->rc || (rc < 0 && c->error != NULL &&
		    strcmp(err, c->error) != 0)) {
			fprintf(stderr, "  limit case %zu (local %zu, domain "
			    "%zu, addr %zu): rc %d %s\n", i, c->local, c->dom,
			    c->local + 1 + c->dom, rc, rc < 0 ? err : "");
			CHECK(rc == c->rc);
			CHECK(rc >= 0 || c->error == NULL ||
			    strcmp(err, c->error) == 0);
		}
		if (rc == 0) {
			CHECK(strlen(p.addr) == c->local + 1 + c->dom);
			CHECK(p.local_len == c->local);
			CHECK(strlen(p.addr) < sizeof(p.addr));
		}
		free(args);
	}
}

static void
test_path_limits(void)
{
	run_limit_cases(limit_cases, sizeof(limit_cases) /
	    sizeof(limit_cases[0]));
}

static void
test_path_local_part_max_64(void)
{
	/* quoted: the 64 octets include the quotes */
	static const struct {
		size_t inner;
		int rc;
	} quoted[] = {
		{ 0, 0 }, { 62, 0 }, { 63, -1 }, { 64, -1 }, { 200, -1 },
	};

	run_limit_cases(local_limit_cases, sizeof(local_limit_cases) /
	    sizeof(local_limit_cases[0]));
	for (size_t i = 0; i < sizeof(quoted) / sizeof(quoted[0]); i++) {
		char args[300];
		struct smtp_path p;
		const char *params, *err = NULL;
		size_t n = 0;
		int rc;

		memcpy(args, "TO:<\"", 5);
		n = 5;
		memset(args + n, 'q', quoted[i].inner);
		n += quoted[i].inner;
		memcpy(args + n, "\"@example.com>", 15);
		rc = smtp_parse_path(args, "TO:", 0, 0, &p, &params, &err);
		if (rc != quoted[i].rc)
			fprintf(stderr, "  quoted local part of %zu octets: "
			    "rc %d\n", quoted[i].inner + 2, rc);
		CHECK(rc == quoted[i].rc);
		if (rc == 0)
			CHECK(p.local_len == quoted[i].inner + 2);
		else
			CHECK_STR(err, "Local part too long");
	}
}

static void
test_path_max_256_with_brackets(void)
{
	run_limit_cases(path_limit_cases, sizeof(path_limit_cases) /
	    sizeof(path_limit_cases[0]));
}

/* A label of 64 is refused even when the domain as a whole is short. */
static void
test_path_label_limit(void)
{
	char args[200], label[65];
	struct smtp_path p;
	const char *params, *err;

	memset(label, 'x', 64);
	label[64] = '\0';
	snprintf(args, sizeof(args), "TO:<a@%.63s.example>", label);
	CHECK(smtp_parse_path(args, "TO:", 0, 0, &p, &params, &err) == 0);
	snprintf(args, sizeof(args), "TO:<a@%s.example>", label);
	CHECK(smtp_parse_path(args, "TO:", 0, 0, &p, &params, &err) == -1);
	snprintf(args, sizeof(args), "TO:<a@example.%s>", label);
	CHECK(smtp_parse_path(args, "TO:", 0, 0, &p, &params, &err) == -1);
}

/* SMTPUTF8 allows UTF-8 (RFC 6531 3.3: UTF8-non-ascii, i.e. well-formed
 * RFC 3629 sequences), not arbitrary octets over 0x7f. */
static const char *const bad_utf8[] = {
	"TO:<\xff@example.com>",		/* never valid in UTF-8 */
	"TO:<a\x80@example.com>",		/* lone continuation */
	"TO:<\xc3@example.com>",		/* truncated sequence */
	"TO:<\xc0\xaf@example.com>",		/* overlong "/" */
	"TO:<\xed\xa0\x80@example.com>",	/* UTF-16 surrogate */
	"TO:<u@\xfe\xfe.example>",
	"TO:<\"\xff\"@example.com>",
};

static void
test_path_utf8_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
		struct smtp_path p;
		const char *params, *err;
		int rc = smtp_parse_path(bad_utf8[i], "TO:", 0, 1, &p, &params,
		    &err);

		if (rc != -1)
			fprintf(stderr, "  malformed UTF-8 case %zu accepted "
			    "with utf8=1: addr \"%s\"\n", i, p.addr);
		CHECK(rc == -1);
		/* without SMTPUTF8 these are refused in any case */
		CHECK(smtp_parse_path(bad_utf8[i], "TO:", 0, 0, &p, &params,
		    &err) == -1);
	}
}

/* ---- ESMTP parameters ---- */

struct param_case {
	const char *params;
	size_t valuesize;
	int nparams;		/* pairs expected before the final rc */
	const char *keys[4];
	const char *values[4];	/* NULL: no '=' */
	int last;		/* 0: clean end; -1: syntax error */
};

static const struct param_case param_cases[] = {
	{ "", 128, 0, { NULL }, { NULL }, 0 },
	{ "   ", 128, 0, { NULL }, { NULL }, 0 },
	{ "SIZE=100", 128, 1, { "SIZE" }, { "100" }, 0 },
	{ "size=100 body=8bitmime", 128, 2, { "SIZE", "BODY" },
	    { "100", "8bitmime" }, 0 },
	{ "SMTPUTF8", 128, 1, { "SMTPUTF8" }, { NULL }, 0 },
	{ "  SIZE=1   SMTPUTF8  ", 128, 2, { "SIZE", "SMTPUTF8" },
	    { "1", NULL }, 0 },
	{ "A-B=x-y", 128, 1, { "A-B" }, { "x-y" }, 0 },
	{ "X1=!~", 128, 1, { "X1" }, { "!~" }, 0 },
	{ "ENVID=a+2Bb", 128, 1, { "ENVID" }, { "a+2Bb" }, 0 },
	{ "AUTH=<>", 128, 1, { "AUTH" }, { "<>" }, 0 },
	{ "K=1234567", 8, 1, { "K" }, { "1234567" }, 0 },
	{ "K=12345678", 8, 0, { NULL }, { NULL }, -1 },
	{ "SIZE=1 K=12345678", 8, 1, { "SIZE" }, { "1" }, -1 },
	{ "=x", 128, 0, { NULL }, { NULL }, -1 },
	{ "SIZE=", 128, 0, { NULL }, { NULL }, -1 },
	{ "SIZE= 1", 128, 0, { NULL }, { NULL }, -1 },
	{ "SIZE==1", 128, 0, { NULL }, { NULL }, -1 },
	{ "A=1=2", 128, 0, { NULL }, { NULL }, -1 },
	{ "SI_ZE=1", 128, 0, { NULL }, { NULL }, -1 },
	{ "-A=1", 128, 0, { NULL }, { NULL }, -1 },
	{ "A\t=1", 128, 0, { NULL }, { NULL }, -1 },
	{ "A=x\ty", 128, 0, { NULL }, { NULL }, -1 },
	{ "A=x\x7fy", 128, 0, { NULL }, { NULL }, -1 },
	{ "A=\xc3\xa9", 128, 0, { NULL }, { NULL }, -1 },
	{ "\xc3\xa9=1", 128, 0, { NULL }, { NULL }, -1 },
	{ "SIZE=1 =2", 128, 1, { "SIZE" }, { "1" }, -1 },
	/* keys of 31 and 32 */
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE", 128, 1,
	    { "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDE" }, { NULL }, 0 },
	{ "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", 128, 0, { NULL }, { NULL },
	    -1 },
};

/* Runs the iterator over params (a heap copy of exactly its size) and
 * checks it against the case; quiet when expect is 0. */
static int
run_params(const struct param_case *c, const char *params, int expect)
{
	const char *pos = params;
	char key[32];
	char *value = malloc(c->valuesize);
	int n = 0, rc, has, ok = 1;

	if (value == NULL)
		abort();
	while ((rc = smtp_parse_param(&pos, key, value, c->valuesize,
	    &has)) == 1) {
		if (!expect) {
			if (strlen(key) == 0 || strlen(key) > 31 ||
			    (has && strlen(value) == 0))
				ok = 0;
		} else if (n >= c->nparams || n >= 4 ||
		    strcmp(key, c->keys[n]) != 0 ||
		    has != (c->values[n] != NULL) ||
		    (has && strcmp(value, c->values[n]) != 0)) {
			ok = 0;
		}
		if (pos < params || pos > params + strlen(params))
			ok = 0;
		if (++n > 64)
			break;
	}
	if (expect && (n != c->nparams || rc != c->last))
		ok = 0;
	free(value);
	return ok;
}

static void
test_param_table(void)
{
	for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]);
	    i++) {
		const struct param_case *c = &param_cases[i];
		char *params = exact(c->params, strlen(c->params));

		if (!run_params(c, params, 1)) {
			fprintf(stderr, "  param case %zu \"%s\"\n", i,
			    c->params);
			CHECK(!"param case");
		}
		free(params);
	}
}

static void
test_param_prefixes(void)
{
	for (size_t i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]);
	    i++) {
		const struct param_case *c = &param_cases[i];
		size_t len = strlen(c->params);

		for (size_t k = 0; k < len; k++) {
			char *params = exact(c->params, k);

			CHECK(run_params(c, params, 0));
			free(params);
		}
	}
}

/* ---- xtext (RFC 3461 4) ---- */

struct xtext_case {
	const char *in;
	int rc;
	const char *out;
};

static const struct xtext_case xtext_cases[] = {
	{ "", 0, "" },
	{ "abc", 0, "abc" },
	{ "a+2Bb", 0, "a+b" },
	{ "+2B+3D", 0, "+=" },
	{ "+41+42+43", 0, "ABC" },
	{ "x+20y", 0, "x y" },
	{ "+7E", 0, "~" },
	{ "+", -1, NULL },
	{ "a+", -1, NULL },
	{ "+2", -1, NULL },
	{ "a+2", -1, NULL },
	{ "+2b", -1, NULL },	/* hexchar is upper case */
	{ "+g0", -1, NULL },
	{ "+G0", -1, NULL },
	{ "+0G", -1, NULL },
	{ "+ 2B", -1, NULL },
	{ "ok+2Bthen+", -1, NULL },
};

static void
test_xtext_table(void)
{
	for (size_t i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]);
	    i++) {
		const struct xtext_case *c = &xtext_cases[i];
		char *s = exact(c->in, strlen(c->in));
		int rc = smtp_xtext_decode(s);

		if (rc != c->rc)
			fprintf(stderr, "  xtext case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0)
			CHECK_STR(s, c->out);
		free(s);
	}
}

static void
test_xtext_prefixes(void)
{
	for (size_t i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]);
	    i++) {
		size_t len = strlen(xtext_cases[i].in);

		for (size_t k = 0; k <= len; k++) {
			char *s = exact(xtext_cases[i].in, k);

			if (smtp_xtext_decode(s) == 0)
				CHECK(strlen(s) <= k);
			free(s);
		}
	}
}

static const struct harness_test tests[] = {
	TEST(test_verb_table),
	TEST(test_verb_prefixes),
	TEST(test_path_table),
	TEST(test_path_prefixes),
	TEST(test_path_limits),
	TEST(test_path_local_part_max_64),
	TEST(test_path_max_256_with_brackets),
	TEST(test_path_label_limit),
	TEST(test_path_utf8_malformed),
	TEST(test_param_table),
	TEST(test_param_prefixes),
	TEST(test_xtext_table),
	TEST(test_xtext_prefixes),
};

HARNESS_MAIN("smtp_parse", tests)
