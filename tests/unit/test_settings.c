/* Unit tests for src/core/settings.c: validation of every type, address
 * splitting, and storing and loading through an in-memory database. */
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/settings.h"
#include "harness.h"

/* ---- lookup and defaults ---- */

static void
test_find(void)
{
	for (int i = 0; i < SET_COUNT; i++) {
		CHECK(settings_table[i].name != NULL);
		CHECK(settings_find(settings_table[i].name) == i);
	}
	CHECK(settings_find("smtp.address") == SET_SMTP_ADDRESS);
	CHECK(settings_find("auth.plaintext") == SET_AUTH_PLAINTEXT);
	CHECK(settings_find("no.such.key") == -1);
	CHECK(settings_find("") == -1);
	CHECK(settings_find("Hostname") == -1);
	CHECK(settings_find("hostname ") == -1);
	CHECK(settings_find("smtp") == -1);
}

/* Every default passes its own validation. */
static void
test_defaults_validate(void)
{
	for (int i = 0; i < SET_COUNT; i++) {
		const char *err = NULL;

		if (settings_validate(i, settings_table[i].def, &err) != 0) {
			fprintf(stderr, "  default of %s (\"%s\"): %s\n",
			    settings_table[i].name, settings_table[i].def,
			    err ? err : "?");
			CHECK(!"default does not validate");
		}
	}
}

/* ---- validation, by name ---- */

struct valid_case {
	const char *name;
	const char *value;
	int rc;
};

static const struct valid_case valid_cases[] = {
	/* ADDRESS */
	{ "smtp.address", "127.0.0.1:25", 0 },
	{ "smtp.address", "[::1]:25", 0 },
	{ "smtp.address", "*:25", 0 },
	{ "smtp.address", "0.0.0.0:2525", 0 },
	{ "smtp.address", "[2001:db8::1]:65535", 0 },
	{ "smtp.address", "localhost:25", 0 },
	{ "smtp.address", "mail.example.com:587", 0 },
	{ "smtp.address", ":25", 0 },
	{ "smtp.address", "1.2.3.4:1", 0 },
	{ "submission.address", "*:587", 0 },
	{ "smtps.address", "[::]:465", 0 },
	{ "smtp.address", "not-an-address", -1 },
	{ "smtp.address", "1.2.3.4:0", -1 },
	{ "smtp.address", ":99999", -1 },
	{ "smtp.address", "1.2.3.4:65536", -1 },
	{ "smtp.address", "1.2.3.4", -1 },
	{ "smtp.address", "1.2.3.4:", -1 },
	{ "smtp.address", "*:", -1 },
	{ "smtp.address", "", -1 },
	{ "smtp.address", ":", -1 },
	{ "smtp.address", "1.2.3.4:-1", -1 },
	{ "smtp.address", "1.2.3.4:+25", -1 },
	{ "smtp.address", "1.2.3.4: 25", -1 },
	{ "smtp.address", "1.2.3.4:25 ", -1 },
	{ "smtp.address", "1.2.3.4:25x", -1 },
	{ "smtp.address", "1.2.3.4:0x19", -1 },
	{ "smtp.address", "::1:25", -1 },
	{ "smtp.address", "[::1]", -1 },
	{ "smtp.address", "[::1]25", -1 },
	{ "smtp.address", "[::1:25", -1 },
	{ "smtp.address", "[::1]:", -1 },
	{ "smtp.address", "[::1]:0", -1 },
	{ "smtp.address", "bad_host:25", -1 },
	{ "smtp.address", "-host:25", -1 },
	{ "smtp.address", "a..b:25", -1 },
	{ "smtp.address", "host name:25", -1 },
	{ "smtp.address", "1.2.3.4:25\n", -1 },
	/* BOOL */
	{ "auth.plaintext", "on", 0 },
	{ "auth.plaintext", "off", 0 },
	{ "auth.plaintext", "ON", -1 },
	{ "auth.plaintext", "yes", -1 },
	{ "auth.plaintext", "1", -1 },
	{ "auth.plaintext", "true", -1 },
	{ "auth.plaintext", "", -1 },
	{ "auth.plaintext", "on ", -1 },
	{ "auth.plaintext", " off", -1 },
	{ "smtp.enabled", "off", 0 },
	/* UINT */
	{ "message.max-size", "1024", 0 },
	{ "message.max-size", "26214400", 0 },
	{ "message.max-size", "268435456", 0 },
	{ "message.max-size", "1023", -1 },
	{ "message.max-size", "268435457", -1 },
	{ "message.max-size", "0", -1 },
	{ "message.max-size", "", -1 },
	{ "message.max-size", "abc", -1 },
	{ "message.max-size", "-1", -1 },
	{ "message.max-size", "+2048", -1 },
	{ "message.max-size", " 2048", -1 },
	{ "message.max-size", "2048 ", -1 },
	{ "message.max-size", "2k", -1 },
	{ "message.max-size", "0x800", -1 },
	{ "message.max-size", "18446744073709551616", -1 },
	{ "message.max-size", "99999999999999999999999", -1 },
	{ "worker.threads", "1", 0 },
	{ "worker.threads", "64", 0 },
	{ "worker.threads", "0", -1 },
	{ "worker.threads", "65", -1 },
	{ "auth.failure-delay", "0", 0 },
	{ "auth.failure-delay", "60000", 0 },
	{ "auth.failure-delay", "60001", -1 },
	/* CIDRS */
	{ "relay.networks", "", 0 },
	{ "relay.networks", "127.0.0.0/8", 0 },
	{ "relay.networks", "127.0.0.0/8, ::1/128", 0 },
	{ "relay.networks", "10.0.0.0/8 192.168.0.0/16,2001:db8::/32", 0 },
	{ "relay.networks", "192.0.2.1", 0 },
	{ "relay.networks", "127.0.0.0/33", -1 },
	{ "relay.networks", "localhost", -1 },
	{ "relay.networks", "10.0.0.0/8,foo", -1 },
	{ "relay.networks", "10.0.0.0/8\n", -1 },
	/* HOSTNAME */
	{ "hostname", "", 0 },
	{ "hostname", "mail.example.com", 0 },
	{ "hostname", "localhost", 0 },
	{ "hostname", "a", 0 },
	{ "hostname", "a-b.c-d.example", 0 },
	{ "hostname", "MX1.Example.ORG", 0 },
	{ "hostname", "-mail.example.com", -1 },
	{ "hostname", "mail-.example.com", -1 },
	{ "hostname", "mail..example.com", -1 },
	{ "hostname", ".example.com", -1 },
	{ "hostname", "example.com.", -1 },
	{ "hostname", "mail_1.example.com", -1 },
	{ "hostname", "mail example.com", -1 },
	{ "hostname", "mail.example.com\r\n", -1 },
	{ "hostname", "m\xc3\xa4il.example.com", -1 },
	{ "hostname", "[127.0.0.1]", -1 },
	/* EMAIL */
	{ "admin.email", "", 0 },
	{ "admin.email", "admin@example.com", 0 },
	{ "admin.email", "a.b+c@mail.example.com", 0 },
	{ "admin.email", "admin", -1 },
	{ "admin.email", "@example.com", -1 },
	{ "admin.email", "admin@", -1 },
	{ "admin.email", "admin@-example.com", -1 },
	{ "admin.email", "admin@example..com", -1 },
	{ "admin.email", "ad min@example.com", -1 },
	{ "admin.email", "<admin@example.com>", -1 },
	{ "admin.email", "admin@example.com\r\nBcc: x@y.z", -1 },
	{ "admin.email", "admin\n@example.com", -1 },
	{ "admin.email", "admin\t@example.com", -1 },
	/* LEVEL */
	{ "log.level", "debug", 0 },
	{ "log.level", "info", 0 },
	{ "log.level", "warn", 0 },
	{ "log.level", "error", 0 },
	{ "log.level", "warning", -1 },
	{ "log.level", "INFO", -1 },
	{ "log.level", "", -1 },
	/* STRING */
	{ "server.user", "mailwarden", 0 },
	{ "server.user", "x", 0 },
	{ "server.user", "", -1 },
	/* 32 and 33 octets */
	{ "server.user", "abcdefghijklmnopqrstuvwxyz012345", 0 },
	{ "server.user", "abcdefghijklmnopqrstuvwxyz0123456", -1 },
	{ "server.user", "a\nb", -1 },
	{ "server.user", "a\rb", -1 },
	/* PATH */
	{ "tls.cert", "", 0 },
	{ "tls.cert", "/etc/ssl/mail.pem", 0 },
	{ "tls.key", "tls/key.pem", 0 },
	{ "tls.cert", "/etc/ssl/a\nb.pem", -1 },
};

static void
test_validate_table(void)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]);
	    i++) {
		const struct valid_case *c = &valid_cases[i];
		int id = settings_find(c->name);
		const char *err = NULL;
		int rc;

		CHECK(id >= 0);
		if (id < 0)
			continue;
		rc = settings_validate(id, c->value, &err);
		if (rc != c->rc) {
			fprintf(stderr, "  validate case %zu %s=\"%s\": rc %d"
			    "\n", i, c->name, c->value, rc);
			CHECK(rc == c->rc);
		}
		if (rc < 0)	/* naming the setting */
			CHECK(err != NULL && strstr(err, c->name) != NULL);
	}
}

/* settings.h: "-1 with a one-line *error_r", whatever the value. */
static void
test_error_is_one_line(void)
{
	for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]);
	    i++) {
		const struct valid_case *c = &valid_cases[i];
		const char *err = NULL;

		if (c->rc == 0 || settings_validate(settings_find(c->name),
		    c->value, &err) == 0)
			continue;
		if (err == NULL || strpbrk(err, "\r\n") != NULL) {
			fprintf(stderr, "  %s=\"%s\": error has a line "
			    "break: \"%s\"\n", c->name, c->value,
			    err ? err : "(null)");
			CHECK(!"error not one line");
		}
	}
}

/* RFC 1123 2.1 / RFC 952: a label neither starts nor ends with '-',
 * including the last label of the name. */
static const struct valid_case hyphen_cases[] = {
	{ "hostname", "mail-", -1 },
	{ "hostname", "mail.example-", -1 },
	{ "smtp.address", "host-:25", -1 },
	{ "admin.email", "admin@example.com-", -1 },
};

static void
test_hostname_trailing_hyphen(void)
{
	for (size_t i = 0; i < sizeof(hyphen_cases) / sizeof(hyphen_cases[0]);
	    i++) {
		const struct valid_case *c = &hyphen_cases[i];
		const char *err;
		int rc = settings_validate(settings_find(c->name), c->value,
		    &err);

		if (rc != c->rc)
			fprintf(stderr, "  %s=\"%s\" accepted\n", c->name,
			    c->value);
		CHECK(rc == c->rc);
	}
}

/* Writes a name made of labels of the given lengths into buf. */
static void
make_name(char *buf, const size_t *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(buf, 'a' + (int)i, labels[i]);
		buf += labels[i];
		if (i + 1 < n)
			*buf++ = '.';
	}
	*buf = '\0';
}

/* Lengths: 63 per label, 253 in all. */
static void
test_hostname_lengths(void)
{
	static const struct {
		size_t labels[5];
		size_t n;
		int rc;
	} cases[] = {
		{ { 63, 7 }, 2, 0 },
		{ { 64, 7 }, 2, -1 },
		{ { 7, 64 }, 2, -1 },
		{ { 63 }, 1, 0 },
		{ { 64 }, 1, -1 },
		{ { 63, 63, 63, 61 }, 4, 0 },	/* 253 */
		{ { 63, 63, 63, 62 }, 4, -1 },	/* 254 */
		{ { 63, 63, 63, 63 }, 4, -1 },
	};
	int id = settings_find("hostname");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[300];
		const char *err;

		make_name(name, cases[i].labels, cases[i].n);
		if (settings_validate(id, name, &err) != cases[i].rc) {
			fprintf(stderr, "  hostname length case %zu (%zu "
			    "octets)\n", i, strlen(name));
			CHECK(!"hostname length");
		}
	}
}

static void
test_email_length(void)
{
	int id = settings_find("admin.email");
	char addr[300];
	const char *err;

	/* 64 + "@" + 189 = 254 */
	memset(addr, 'u', 64);
	addr[64] = '@';
	memset(addr + 65, 'd', 63);
	addr[128] = '.';
	memset(addr + 129, 'd', 63);
	addr[192] = '.';
	memset(addr + 193, 'd', 61);
	addr[254] = '\0';
	CHECK(settings_validate(id, addr, &err) == 0);
	addr[254] = 'd';
	addr[255] = '\0';
	CHECK(settings_validate(id, addr, &err) == -1);
}

static void
test_cidrs_errors(void)
{
	int id = settings_find("relay.networks");
	const char *err = NULL;
	size_t n = (settings_table[id].max + 10) / 10 * 10;
	char *big = malloc(n + 1);

	CHECK(settings_validate(id, "10.0.0.0/8,foo", &err) == -1);
	CHECK(err != NULL && strstr(err, "foo") != NULL);

	/* over the length limit, though every item is fine */
	if (big == NULL)
		abort();
	for (size_t i = 0; i < n; i += 10)
		memcpy(big + i, "10.0.0.1, ", 10);
	big[n] = '\0';
	CHECK(settings_validate(id, big, &err) == -1);
	CHECK(err != NULL && strstr(err, "too long") != NULL);
	free(big);
}

/* ---- settings_split_address ---- */

struct split_case {
	const char *in;
	size_t hostsize;
	int rc;
	const char *host;
	unsigned port;
};

static const struct split_case split_cases[] = {
	{ "127.0.0.1:25", 64, 0, "127.0.0.1", 25 },
	{ "[::1]:25", 64, 0, "::1", 25 },
	{ "[2001:db8::1]:587", 64, 0, "2001:db8::1", 587 },
	{ "*:465", 64, 0, "*", 465 },
	{ ":25", 64, 0, "", 25 },
	{ "mail.example.com:65535", 64, 0, "mail.example.com", 65535 },
	{ "1.2.3.4:1", 64, 0, "1.2.3.4", 1 },
	{ "127.0.0.1:25", 10, 0, "127.0.0.1", 25 },	/* 9 + NUL */
	{ "127.0.0.1:25", 9, -1, NULL, 0 },
	{ "[::1]:25", 4, 0, "::1", 25 },
	{ "[::1]:25", 3, -1, NULL, 0 },
	{ "127.0.0.1", 64, -1, NULL, 0 },
	{ "127.0.0.1:0", 64, -1, NULL, 0 },
	{ "127.0.0.1:65536", 64, -1, NULL, 0 },
	{ "127.0.0.1:", 64, -1, NULL, 0 },
	{ "::1:25", 64, -1, NULL, 0 },
	{ "[::1]", 64, -1, NULL, 0 },
	{ "[::1]x25", 64, -1, NULL, 0 },
	{ "[::1:25", 64, -1, NULL, 0 },
	{ "", 64, -1, NULL, 0 },
};

static void
test_split_address(void)
{
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]);
	    i++) {
		const struct split_case *c = &split_cases[i];
		char *host = malloc(c->hostsize);
		uint16_t port = 0;
		int rc;

		if (host == NULL)
			abort();
		rc = settings_split_address(c->in, host, c->hostsize, &port);
		if (rc != c->rc)
			fprintf(stderr, "  split case %zu \"%s\": rc %d\n", i,
			    c->in, rc);
		CHECK(rc == c->rc);
		if (rc == 0 && c->rc == 0) {
			CHECK_STR(host, c->host);
			CHECK(port == c->port);
		}
		free(host);
	}
}

/* ---- storing and loading ---- */

static sqlite3 *
open_db(void)
{
	const char *err = NULL;
	sqlite3 *db = db_open(":memory:", 100, &err);

	if (db == NULL) {
		fprintf(stderr, "  db_open: %s\n", err ? err : "?");
		abort();
	}
	return db;
}

static void
test_load_defaults(void)
{
	sqlite3 *db = open_db();
	const char *err = NULL;
	struct settings *s = settings_load(db, &err);

	CHECK(s != NULL);
	if (s != NULL) {
		for (int i = 0; i < SET_COUNT; i++) {
			CHECK(s->is_set[i] == 0);
			if (i != SET_HOSTNAME)
				CHECK_STR(s->str[i], settings_table[i].def);
		}
		/* an empty hostname becomes the system's, or localhost */
		CHECK(settings_str(s, SET_HOSTNAME)[0] != '\0');
		CHECK(settings_validate(SET_HOSTNAME,
		    settings_str(s, SET_HOSTNAME), &err) == 0);
		CHECK(settings_num(s, SET_MESSAGE_MAX_SIZE) == 26214400);
		CHECK(settings_num(s, SET_AUTH_PLAINTEXT) == 0);
		CHECK(settings_num(s, SET_SMTP_ENABLED) == 1);
		CHECK(settings_num(s, SET_WORKER_THREADS) == 4);
	}
	settings_free(&s);
	CHECK(s == NULL);
	settings_free(&s);	/* NULL is fine */
	db_close(&db);
	CHECK(db == NULL);
}

struct set_case {
	const char *name;
	const char *value;
	int num_valid;		/* 1 if num is meaningful */
	unsigned long long num;
};

static const struct set_case set_cases[] = {
	{ "message.max-size", "1048576", 1, 1048576 },
	{ "auth.plaintext", "on", 1, 1 },
	{ "smtp.enabled", "off", 1, 0 },
	{ "relay.networks", "10.0.0.0/8, ::1", 0, 0 },
	{ "log.level", "debug", 0, 0 },
	{ "hostname", "mx.example.org", 0, 0 },
	{ "admin.email", "ops@example.org", 0, 0 },
	{ "smtp.address", "[::1]:2525", 0, 0 },
	{ "tls.cert", "/etc/ssl/mw.pem", 0, 0 },
	{ "worker.threads", "8", 1, 8 },
};

static void
test_set_load_round_trip(void)
{
	sqlite3 *db = open_db();
	const char *err = NULL;
	struct settings *s;
	int set[SET_COUNT] = { 0 };

	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]);
	    i++) {
		CHECK(settings_set(db, set_cases[i].name, set_cases[i].value,
		    &err) == 0);
		set[settings_find(set_cases[i].name)] = 1;
	}
	/* setting twice keeps the last value */
	CHECK(settings_set(db, "log.level", "warn", &err) == 0);
	CHECK(settings_set(db, "log.level", "debug", &err) == 0);

	s = settings_load(db, &err);
	CHECK(s != NULL);
	if (s == NULL) {
		db_close(&db);
		return;
	}
	for (size_t i = 0; i < sizeof(set_cases) / sizeof(set_cases[0]);
	    i++) {
		int id = settings_find(set_cases[i].name);

		CHECK_STR(settings_str(s, id), set_cases[i].value);
		CHECK(s->is_set[id] == 1);
		if (set_cases[i].num_valid)
			CHECK(settings_num(s, id) == set_cases[i].num);
	}
	for (int i = 0; i < SET_COUNT; i++)
		if (!set[i]) {
			CHECK(s->is_set[i] == 0);
			if (i != SET_HOSTNAME)
				CHECK_STR(settings_str(s, i),
				    settings_table[i].def);
		}
	settings_free(&s);
	db_close(&db);
}

/* The default value is not stored; unset goes back to the default. */
static void
test_set_default_and_unset(void)
{
	sqlite3 *db = open_db();
	const char *err = NULL;
	struct settings *s;

	CHECK(settings_set(db, "smtp.timeout", "60", &err) == 0);
	CHECK(settings_set(db, "smtp.max-errors", "5", &err) == 0);
	s = settings_load(db, &err);
	CHECK(s != NULL && s->is_set[SET_SMTP_TIMEOUT] &&
	    settings_num(s, SET_SMTP_TIMEOUT) == 60);
	settings_free(&s);

	CHECK(settings_set(db, "smtp.timeout", "300", &err) == 0);
	CHECK(settings_unset(db, "smtp.max-errors", &err) == 0);
	s = settings_load(db, &err);
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK(s->is_set[SET_SMTP_TIMEOUT] == 0);
		CHECK(settings_num(s, SET_SMTP_TIMEOUT) == 300);
		CHECK(s->is_set[SET_SMTP_MAX_ERRORS] == 0);
		CHECK(settings_num(s, SET_SMTP_MAX_ERRORS) == 20);
	}
	settings_free(&s);
	/* unsetting what is not set is fine */
	CHECK(settings_unset(db, "smtp.max-errors", &err) == 0);
	db_close(&db);
}

/* Bad values and unknown keys are refused and store nothing. */
static void
test_set_rejects(void)
{
	sqlite3 *db = open_db();
	const char *err = NULL;
	struct settings *s;

	CHECK(settings_set(db, "message.max-size", "2048", &err) == 0);
	err = NULL;
	CHECK(settings_set(db, "message.max-size", "12", &err) == -1);
	CHECK(err != NULL && strstr(err, "message.max-size") != NULL);
	CHECK(settings_set(db, "auth.plaintext", "yes", &err) == -1);
	CHECK(settings_set(db, "smtp.address", "1.2.3.4:0", &err) == -1);
	CHECK(settings_set(db, "relay.networks", "300.0.0.0/8", &err) == -1);
	err = NULL;
	CHECK(settings_set(db, "no.such.key", "1", &err) == -1);
	CHECK(err != NULL && strstr(err, "unknown") != NULL);
	CHECK(settings_set(db, "", "1", &err) == -1);
	CHECK(settings_unset(db, "no.such.key", &err) == -1);
	CHECK(settings_set(db, "Message.Max-Size", "2048", &err) == -1);
	/* "" is a value like any other, not "unset" */
	CHECK(settings_set(db, "server.user", "", &err) == -1);
	CHECK(settings_set(db, "hostname", "", &err) == 0);

	s = settings_load(db, &err);
	CHECK(s != NULL);
	if (s != NULL) {
		CHECK(settings_num(s, SET_MESSAGE_MAX_SIZE) == 2048);
		CHECK(s->is_set[SET_AUTH_PLAINTEXT] == 0);
		CHECK(s->is_set[SET_SMTP_ADDRESS] == 0);
		CHECK(s->is_set[SET_RELAY_NETWORKS] == 0);
		CHECK_STR(settings_str(s, SET_SERVER_USER), "mailwarden");
	}
	settings_free(&s);
	db_close(&db);
}

/* A stored value that no longer validates stops the load; a key this
 * version does not know is skipped. */
static void
test_load_stored_values(void)
{
	sqlite3 *db = open_db();
	const char *err = NULL;
	struct settings *s;

	CHECK(db_exec(db, "INSERT INTO settings (name, value) VALUES "
	    "('future.key', 'whatever')") == 0);
	s = settings_load(db, &err);
	CHECK(s != NULL);
	settings_free(&s);

	CHECK(db_exec(db, "INSERT INTO settings (name, value) VALUES "
	    "('worker.threads', '1000')") == 0);
	err = NULL;
	s = settings_load(db, &err);
	CHECK(s == NULL);
	CHECK(err != NULL && strstr(err, "worker.threads") != NULL);
	settings_free(&s);
	db_close(&db);
}

static const struct harness_test tests[] = {
	TEST(test_find),
	TEST(test_defaults_validate),
	TEST(test_validate_table),
	TEST(test_error_is_one_line),
	TEST(test_hostname_trailing_hyphen),
	TEST(test_hostname_lengths),
	TEST(test_email_length),
	TEST(test_cidrs_errors),
	TEST(test_split_address),
	TEST(test_load_defaults),
	TEST(test_set_load_round_trip),
	TEST(test_set_default_and_unset),
	TEST(test_set_rejects),
	TEST(test_load_stored_values),
};

HARNESS_MAIN("settings", tests)
