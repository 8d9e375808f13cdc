/* Unit tests for src/core/account.c: address normalisation, and how a
 * recipient resolves through users, aliases and plus-addressing in an
 * in-memory database. */
#include <stdlib.h>
#include <string.h>

#include "core/account.h"
#include "core/db.h"
#include "harness.h"

#define HASH "$6$salt$notarealhash"


/* ---- account_normalize ---- */

struct norm_case {
	const char *in;
	int rc;
	const char *out;
};

static const struct norm_case norm_cases[] = {
	{ "alice@example.com", 0, "alice@example.com" },
	{ "User@Example.COM", 0, "user@example.com" },
	{ "a.b+c=d-e'f_g@x.org", 0, "a.b+c=d-e'f_g@x.org" },
	{ "0@1.2", 0, "0@1.2" },
	{ "a@b", 0, "a@b" },
	{ "first.last@mail-1.example.com", 0, "first.last@mail-1.example.com" },
	{ "../x@example.com", -1, NULL },
	{ "..@example.com", -1, NULL },
	{ "a..b@example.com", -1, NULL },
	{ ".a@example.com", -1, NULL },
	{ "a.@example.com", -1, NULL },
	{ ".@example.com", -1, NULL },
	{ "a/b@example.com", -1, NULL },
	{ "a\\b@example.com", -1, NULL },
	{ "%@example.com", -1, NULL },
	{ "a%b@example.com", -1, NULL },
	{ "!@example.com", -1, NULL },
	{ "a!b@example.com", -1, NULL },
	{ "a b@example.com", -1, NULL },
	{ "a\tb@example.com", -1, NULL },
	{ "\"a\"@example.com", -1, NULL },
	{ "a*b@example.com", -1, NULL },
	{ "a:b@example.com", -1, NULL },
	{ "a\nb@example.com", -1, NULL },
	{ "\xc3\xa9@example.com", -1, NULL },
	{ "a@b@example.com", -1, NULL },
	{ "@example.com", -1, NULL },
	{ "alice", -1, NULL },
	{ "", -1, NULL },
	{ "alice@", -1, NULL },
	{ "alice@.example.com", -1, NULL },
	{ "alice@example.com.", -1, NULL },
	{ "alice@example..com", -1, NULL },
	{ "alice@-example.com", -1, NULL },
	{ "alice@example-.com", -1, NULL },
	{ "alice@example.com-", -1, NULL },
	{ "alice@exa_mple.com", -1, NULL },
	{ "alice@exa mple.com", -1, NULL },
	{ "alice@[127.0.0.1]", -1, NULL },
	{ "alice@ex\xc3\xa4mple.com", -1, NULL },
	{ "alice@example.com/../../etc", -1, NULL },
};

static void
test_normalize_table(void)
{
	for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]);
	    i++) {
		const struct norm_case *c = &norm_cases[i];
		char *in = exact(c->in, strlen(c->in));
		char *out = malloc(ACCOUNT_ADDR_MAX + 1);
		const char *err = NULL;
		int rc;

		if (out == NULL)
			abort();
		rc = account_normalize(in, out, &err);
		if (rc != c->rc)
			fprintf(stderr, "  normalize case %zu \"%s\": rc %d\n",
			    i, c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0)
			CHECK_STR(out, c->out);
		if (rc < 0)
			CHECK(err != NULL && err[0] != '\0');
		free(out);
		free(in);
	}
}

static void
test_normalize_prefixes(void)
{
	for (size_t i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]);
	    i++) {
		size_t len = strlen(norm_cases[i].in);

		for (size_t k = 0; k <= len; k++) {
			char *in = exact(norm_cases[i].in, k);
			char *out = malloc(ACCOUNT_ADDR_MAX + 1);
			const char *err;

			if (out == NULL)
				abort();
			if (account_normalize(in, out, &err) == 0)
				CHECK(strlen(out) == k);
			free(out);
			free(in);
		}
	}
}

/* Writes local@domain with the given lengths (domain in labels of at
 * most 63) into a new string. */
static char *
make_addr(size_t local, size_t dom)
{
	char *s = malloc(local + 1 + dom + 1), *p = s;
	size_t rem = dom;

	if (s == NULL)
		abort();
	memset(p, 'L', local);
	p += local;
	*p++ = '@';
	while (rem > 63) {
		size_t take = rem - 2 < 63 ? rem - 2 : 63;

		memset(p, 'D', take);
		p += take;
		*p++ = '.';
		rem -= take + 1;
	}
	memset(p, 'E', rem);
	p[rem] = '\0';
	return s;
}

static void
test_normalize_lengths(void)
{
	static const struct {
		size_t local, dom;
		int rc;
	} cases[] = {
		{ 64, 11, 0 },
		{ 65, 11, -1 },
		{ 64, 189, 0 },		/* 254 */
		{ 64, 190, -1 },	/* 255 */
		{ 1, 252, 0 },		/* 254 */
		{ 1, 253, -1 },
		{ 1, 300, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *in = make_addr(cases[i].local, cases[i].dom);
		char out[ACCOUNT_ADDR_MAX + 1];
		const char *err;
		int rc = account_normalize(in, out, &err);

		if (rc != cases[i].rc)
			fprintf(stderr, "  length case %zu: rc %d\n", i, rc);
		CHECK(rc == cases[i].rc);
		if (rc == 0) {
			CHECK(strlen(out) == strlen(in));
			CHECK(out[0] == 'l' && out[strlen(out) - 1] == 'e');
		}
		free(in);
	}
}

/* ---- account_domain_normalize ---- */

struct dom_case {
	const char *in;
	size_t outsize;
	int rc;
	const char *out;
};

static const struct dom_case dom_cases[] = {
	{ "example.com", 256, 0, "example.com" },
	{ "Example.COM", 256, 0, "example.com" },
	{ "a", 256, 0, "a" },
	{ "a-b.c-d.e", 256, 0, "a-b.c-d.e" },
	{ "123.example", 256, 0, "123.example" },
	{ "example.com", 12, 0, "example.com" },	/* exactly fits */
	{ "example.com", 11, -1, NULL },
	{ "", 256, -1, NULL },
	{ ".", 256, -1, NULL },
	{ ".example.com", 256, -1, NULL },
	{ "example.com.", 256, -1, NULL },
	{ "example..com", 256, -1, NULL },
	{ "-example.com", 256, -1, NULL },
	{ "example-.com", 256, -1, NULL },
	{ "example.com-", 256, -1, NULL },
	{ "example.-com", 256, -1, NULL },
	{ "exa_mple.com", 256, -1, NULL },
	{ "exa mple.com", 256, -1, NULL },
	{ "example.com/", 256, -1, NULL },
	{ "../etc", 256, -1, NULL },
	{ "ex\xc3\xa4mple.com", 256, -1, NULL },
	{ "[127.0.0.1]", 256, -1, NULL },
};

static void
test_domain_table(void)
{
	for (size_t i = 0; i < sizeof(dom_cases) / sizeof(dom_cases[0]);
	    i++) {
		const struct dom_case *c = &dom_cases[i];
		char *in = exact(c->in, strlen(c->in));
		char *out = malloc(c->outsize);
		int rc;

		if (out == NULL)
			abort();
		rc = account_domain_normalize(in, out, c->outsize);
		if (rc != c->rc)
			fprintf(stderr, "  domain case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0)
			CHECK_STR(out, c->out);
		free(out);
		free(in);
	}
}

static void
test_domain_lengths(void)
{
	static const struct {
		size_t dom;
		int rc;
	} cases[] = {
		{ 63, 0 }, { 64, 0 }, { 253, 0 }, { 254, -1 }, { 400, -1 },
	};
	char out[512];
	char label[65];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *a = make_addr(1, cases[i].dom);

		CHECK(account_domain_normalize(a + 2, out, sizeof(out)) ==
		    cases[i].rc);
		free(a);
	}
	memset(label, 'x', 64);
	label[64] = '\0';
	CHECK(account_domain_normalize(label, out, sizeof(out)) == -1);
	CHECK(account_domain_normalize(label + 1, out, sizeof(out)) == 0);
}

/* ---- the database ---- */

static sqlite3 *
setup_db(void)
{
	static const char *const domains[] = {
		"example.com", "example.org", "other.test",
	};
	static const char *const users[] = {
		"alice@example.com", "bob@example.com", "carol@example.org",
		"a+b@example.com", "dave@example.com",
	};
	static const char *const aliases[][2] = {
		{ "info@example.com", "alice@example.com" },
		{ "team@example.com", "alice@example.com" },
		{ "team@example.com", "bob@example.com" },
		{ "team@example.com", "ext@remote.example" },
		{ "team@example.com", "carol@example.org" },
		{ "dup@example.com", "alice@example.com" },
		{ "dup@example.com", "info@example.com" },
		{ "remote@example.com", "someone@remote.example" },
		{ "ghost@example.com", "nobody@example.com" },
		{ "loop1@example.com", "loop2@example.com" },
		{ "loop2@example.com", "loop1@example.com" },
		/* five hops: c1 -> c2 -> c3 -> c4 -> c5 -> alice */
		{ "c1@example.com", "c2@example.com" },
		{ "c2@example.com", "c3@example.com" },
		{ "c3@example.com", "c4@example.com" },
		{ "c4@example.com", "c5@example.com" },
		{ "c5@example.com", "alice@example.com" },
		/* six hops: d0 -> c1 -> ... -> alice */
		{ "d0@example.com", "c1@example.com" },
		{ "cross@example.org", "info@example.com" },
		{ "off@example.com", "dave@example.com" },
	};
	const char *err = NULL;
	sqlite3 *db = db_open(":memory:", 100, &err);

	if (db == NULL) {
		fprintf(stderr, "  db_open: %s\n", err ? err : "?");
		abort();
	}
	for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++)
		CHECK(account_domain_add(db, domains[i], &err) == 0);
	for (size_t i = 0; i < sizeof(users) / sizeof(users[0]); i++)
		CHECK(account_user_add(db, users[i], HASH, &err) == 0);
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		CHECK(account_alias_add(db, aliases[i][0], aliases[i][1],
		    &err) == 0);
	CHECK(db_exec(db, "UPDATE users SET enabled = 0 WHERE address = "
	    "'dave@example.com'") == 0);
	return db;
}

struct resolve_case {
	const char *rcpt;
	enum account_kind kind;
	const char *targets[6];	/* "=" prefix: a remote target */
};

static const struct resolve_case resolve_cases[] = {
	{ "alice@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "ALICE@Example.COM", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "carol@example.org", ACCOUNT_LOCAL, { "carol@example.org" } },
	{ "info@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "Info@EXAMPLE.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "team@example.com", ACCOUNT_LOCAL, { "alice@example.com",
	    "bob@example.com", "=ext@remote.example", "carol@example.org" } },
	{ "dup@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "remote@example.com", ACCOUNT_LOCAL,
	    { "=someone@remote.example" } },
	{ "cross@example.org", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "c1@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "c3@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "d0@example.com", ACCOUNT_UNKNOWN, { NULL } },	/* six hops */
	{ "loop1@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "ghost@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "off@example.com", ACCOUNT_UNKNOWN, { NULL } },	/* disabled */
	{ "dave@example.com", ACCOUNT_UNKNOWN, { NULL } },
	/* plus-addressing */
	{ "alice+tag@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "alice+@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "alice+a+b@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "Alice+Tag@Example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "info+x@example.com", ACCOUNT_LOCAL, { "alice@example.com" } },
	{ "a+b@example.com", ACCOUNT_LOCAL, { "a+b@example.com" } },
	{ "a+c@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "+tag@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "nobody+x@example.com", ACCOUNT_UNKNOWN, { NULL } },
	/* unknown in our domains */
	{ "nobody@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "nobody@other.test", ACCOUNT_UNKNOWN, { NULL } },
	{ "bad..local@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "a%b@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "../alice@example.com", ACCOUNT_UNKNOWN, { NULL } },
	{ "\"alice\"@example.com", ACCOUNT_UNKNOWN, { NULL } },
	/* not ours */
	{ "alice@remote.example", ACCOUNT_REMOTE, { NULL } },
	{ "alice@sub.example.com", ACCOUNT_REMOTE, { NULL } },
	{ "alice@example.com.evil", ACCOUNT_REMOTE, { NULL } },
	{ "alice", ACCOUNT_REMOTE, { NULL } },
	{ "", ACCOUNT_REMOTE, { NULL } },
	{ "alice@", ACCOUNT_REMOTE, { NULL } },
	{ "alice@[127.0.0.1]", ACCOUNT_REMOTE, { NULL } },
	{ "alice@example..com", ACCOUNT_REMOTE, { NULL } },
};

static int
same_targets(const struct resolve_case *c,
    const struct account_target *t, size_t n)
{
	size_t want = 0;

	while (want < 6 && c->targets[want] != NULL)
		want++;
	if (n != want)
		return 0;
	for (size_t i = 0; i < want; i++) {
		const char *w = c->targets[i];
		int local = w[0] != '=';
		int found = 0;

		if (!local)
			w++;
		for (size_t j = 0; j < n; j++)
			if (strcmp(t[j].address, w) == 0 &&
			    t[j].local == local)
				found = 1;
		if (!found)
			return 0;
	}
	return 1;
}

static void
test_resolve_table(void)
{
	sqlite3 *db = setup_db();

	for (size_t i = 0; i < sizeof(resolve_cases) /
	    sizeof(resolve_cases[0]); i++) {
		const struct resolve_case *c = &resolve_cases[i];
		struct account_target t[ACCOUNT_MAX_TARGETS];
		size_t n = 99;
		enum account_kind kind = account_resolve(db, c->rcpt, t, &n);

		if (kind != c->kind || !same_targets(c, t, n)) {
			fprintf(stderr, "  resolve case %zu \"%s\": kind %d, "
			    "%zu targets\n", i, c->rcpt, (int)kind, n);
			for (size_t j = 0; j < n && j < ACCOUNT_MAX_TARGETS;
			    j++)
				fprintf(stderr, "    %s (%s)\n", t[j].address,
				    t[j].local ? "local" : "remote");
			CHECK(!"resolve");
		}
	}
	db_close(&db);
}

/* An alias with more targets than ACCOUNT_MAX_TARGETS is cut, not
 * overflowed. */
static void
test_resolve_many_targets(void)
{
	sqlite3 *db = setup_db();
	struct account_target t[ACCOUNT_MAX_TARGETS];
	const char *err;
	size_t n = 0;

	for (int i = 0; i < ACCOUNT_MAX_TARGETS + 20; i++) {
		char target[64];

		snprintf(target, sizeof(target), "r%d@remote.example", i);
		CHECK(account_alias_add(db, "big@example.com", target,
		    &err) == 0);
	}
	CHECK(account_resolve(db, "big@example.com", t, &n) ==
	    ACCOUNT_LOCAL);
	CHECK(n == ACCOUNT_MAX_TARGETS);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			CHECK(strcmp(t[i].address, t[j].address) != 0);
	db_close(&db);
}

static void
test_user_alias_rules(void)
{
	sqlite3 *db = setup_db();
	const char *err;
	char hash[128], small[8];

	/* no user or alias outside our domains, no clash between them */
	err = NULL;
	CHECK(account_user_add(db, "x@unknown.example", HASH, &err) == -1);
	CHECK(err != NULL);
	CHECK(account_user_add(db, "alice@example.com", HASH, &err) == -1);
	CHECK(account_user_add(db, "info@example.com", HASH, &err) == -1);
	CHECK(account_alias_add(db, "x@unknown.example", "alice@example.com",
	    &err) == -1);
	CHECK(account_alias_add(db, "alice@example.com", "bob@example.com",
	    &err) == -1);
	CHECK(account_alias_add(db, "info@example.com", "alice@example.com",
	    &err) == -1);	/* already there */
	CHECK(account_domain_add(db, "example.com", &err) == -1);

	CHECK(account_domain_exists(db, "example.com") == 1);
	CHECK(account_domain_exists(db, "nope.example") == 0);

	CHECK(account_user_hash(db, "alice@example.com", hash,
	    sizeof(hash)) == 1);
	CHECK_STR(hash, HASH);
	CHECK(account_user_hash(db, "alice@example.com", small,
	    sizeof(small)) == 0);
	CHECK(account_user_hash(db, "dave@example.com", hash,
	    sizeof(hash)) == 0);	/* disabled */
	CHECK(account_user_hash(db, "nobody@example.com", hash,
	    sizeof(hash)) == 0);
	CHECK(account_user_passwd(db, "alice@example.com", "$6$new$hash",
	    &err) == 0);
	CHECK(account_user_hash(db, "alice@example.com", hash,
	    sizeof(hash)) == 1);
	CHECK_STR(hash, "$6$new$hash");
	CHECK(account_user_passwd(db, "nobody@example.com", "x", &err) == -1);

	/* deleting */
	CHECK(account_alias_del(db, "team@example.com", "bob@example.com",
	    &err) == 0);
	CHECK(account_alias_del(db, "team@example.com", "bob@example.com",
	    &err) == -1);
	CHECK(account_alias_del(db, "info@example.com", NULL, &err) == 0);
	CHECK(account_alias_del(db, "info@example.com", NULL, &err) == -1);
	CHECK(account_user_del(db, "bob@example.com", &err) == 0);
	CHECK(account_user_del(db, "bob@example.com", &err) == -1);
	db_close(&db);
}

/* Deleting a domain takes its users and aliases with it. */
static void
test_domain_del(void)
{
	sqlite3 *db = setup_db();
	struct account_target t[ACCOUNT_MAX_TARGETS];
	const char *err;
	char hash[128];
	size_t n;

	CHECK(account_domain_del(db, "example.com", &err) == 0);
	CHECK(account_domain_del(db, "example.com", &err) == -1);
	CHECK(account_domain_exists(db, "example.com") == 0);
	CHECK(account_resolve(db, "alice@example.com", t, &n) ==
	    ACCOUNT_REMOTE);
	CHECK(account_user_hash(db, "alice@example.com", hash,
	    sizeof(hash)) == 0);
	/* re-adding the domain does not bring them back */
	CHECK(account_domain_add(db, "example.com", &err) == 0);
	CHECK(account_resolve(db, "alice@example.com", t, &n) ==
	    ACCOUNT_UNKNOWN);
	CHECK(account_resolve(db, "info@example.com", t, &n) ==
	    ACCOUNT_UNKNOWN);
	/* other domains are untouched */
	CHECK(account_resolve(db, "carol@example.org", t, &n) ==
	    ACCOUNT_LOCAL);
	db_close(&db);
}

static void
test_maildir(void)
{
	char out[64];

	CHECK(account_maildir("alice@example.com", out, sizeof(out)) == 0);
	CHECK_STR(out, "mail/example.com/alice");
	CHECK(account_maildir("a+b@example.com", out, sizeof(out)) == 0);
	CHECK_STR(out, "mail/example.com/a+b");
	CHECK(account_maildir("alice", out, sizeof(out)) == -1);
	CHECK(account_maildir("alice@example.com", out, 22) == -1);
	CHECK(account_maildir("alice@example.com", out, 23) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_normalize_table),
	TEST(test_normalize_prefixes),
	TEST(test_normalize_lengths),
	TEST(test_domain_table),
	TEST(test_domain_lengths),
	TEST(test_resolve_table),
	TEST(test_resolve_many_targets),
	TEST(test_user_alias_rules),
	TEST(test_domain_del),
	TEST(test_maildir),
};

HARNESS_MAIN("account", tests)
