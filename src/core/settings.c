/* Settings: validation, loading and storing.
 * SECURITY: values come from the administrator's CLI or the admin API;
 * each is validated against the table before it is stored or used. */
#include "core/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/db.h"
#include "core/ipaddr.h"
#include "core/util.h"

int
settings_find(const char *name)
{
	for (int i = 0; i < SET_COUNT; i++)
		if (strcmp(settings_table[i].name, name) == 0)
			return i;
	return -1;
}

static int
valid_hostname(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.' ||
	    s[n - 1] == '-')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (label == 0 || s[-1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-'))
			return 0;
		if ((label == 0 && *s == '-') || ++label > 63)
			return 0;
	}
	return 1;
}

int
settings_split_address(const char *value, char *host, size_t hostsize,
    uint16_t *port_r)
{
	const char *colon;
	uint64_t port;
	size_t hlen;

	if (value[0] == '[') {
		const char *end = strchr(value, ']');

		/* Brackets hold an IPv6 address, nothing else. */
		if (end == NULL || end[1] != ':' ||
		    memchr(value, ':', (size_t)(end - value)) == NULL)
			return -1;
		hlen = (size_t)(end - value - 1);
		value++;
		colon = end + 1;
	} else {
		colon = strrchr(value, ':');
		if (colon == NULL)
			return -1;
		hlen = (size_t)(colon - value);
		if (memchr(value, ':', hlen) != NULL)
			return -1;	/* IPv6 needs brackets */
	}
	if (hlen >= hostsize ||
	    str_to_u64(colon + 1, 1, 65535, &port) < 0)
		return -1;
	memcpy(host, value, hlen);
	host[hlen] = '\0';
	*port_r = (uint16_t)port;
	return 0;
}

/* Index of the n-byte word w in "a|b|c", or -1. */
static int
choice_index(const char *choices, const char *w, size_t n)
{
	int i = 0;

	for (const char *p = choices; *p != '\0'; i++) {
		size_t len = strcspn(p, "|");

		if (len == n && strncmp(p, w, n) == 0)
			return i;
		p += len;
		if (*p == '|')
			p++;
	}
	return -1;
}

int
settings_choice(int id, const char *value)
{
	const struct setting_def *d = &settings_table[id];
	int bits = 0, i;

	if (d->type == SET_T_CHOICE)
		return choice_index(d->choices, value, strlen(value));
	while (*value != '\0') {
		size_t n;

		value += strspn(value, ", ");
		n = strcspn(value, ", ");
		if (n == 0)
			break;
		if ((i = choice_index(d->choices, value, n)) < 0)
			return -1;
		bits |= 1 << i;
		value += n;
	}
	return bits;
}

int
settings_hostports(const char *value, struct settings_hostport *out,
    size_t max)
{
	const char *p = value;
	size_t n = 0;

	while (*p != '\0') {
		char item[300], host[256];
		size_t len = strcspn(p, ",");
		struct ipaddr ip;
		uint16_t port;

		if (len == 0 || len >= sizeof(item) || n == max)
			return -1;
		memcpy(item, p, len);
		item[len] = '\0';
		if (settings_split_address(item, host, sizeof(host), &port) < 0 ||
		    host[0] == '\0' || (ipaddr_parse(host, &ip) < 0 &&
		    !valid_hostname(host)))
			return -1;
		if (out != NULL) {
			str_copy(out[n].host, sizeof(out[n].host), host);
			out[n].port = port;
		}
		n++;
		p += len;
		if (*p == ',' && *++p == '\0')
			return -1;
	}
	return (int)n;
}

static int
valid_address(const char *value)
{
	char host[256];
	struct ipaddr ip;
	uint16_t port;

	if (settings_split_address(value, host, sizeof(host), &port) < 0)
		return 0;
	if (host[0] == '\0' || strcmp(host, "*") == 0)
		return 1;
	return ipaddr_parse(host, &ip) == 0 || valid_hostname(host);
}

int
settings_validate(int id, const char *value, const char **error_r)
{
	static char err[160];
	const struct setting_def *d = &settings_table[id];
	const char *at, *bad;
	struct cidr *list;
	uint64_t v;
	size_t n;

	for (const char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, sizeof(err), "%s: control characters are "
			    "not allowed", d->name);
			*error_r = err;
			return -1;
		}
	switch (d->type) {
	case SET_T_BOOL:
		if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
			goto fail_fmt;
		return 0;
	case SET_T_UINT:
		if (str_to_u64(value, d->min, d->max, &v) < 0) {
			snprintf(err, sizeof(err), "%s: expected a number from "
			    "%llu to %llu", d->name, (unsigned long long)d->min,
			    (unsigned long long)d->max);
			*error_r = err;
			return -1;
		}
		return 0;
	case SET_T_STRING:
	case SET_T_PATH:
		n = strlen(value);
		if (n < d->min || n > d->max || strpbrk(value, "\r\n") != NULL)
			goto fail_fmt;
		return 0;
	case SET_T_HOSTNAME:
		if (value[0] != '\0' && !valid_hostname(value))
			goto fail_fmt;
		return 0;
	case SET_T_EMAIL:
		if (value[0] == '\0')
			return 0;
		at = strrchr(value, '@');
		if (at == NULL || at == value || strlen(value) > d->max ||
		    !valid_hostname(at + 1) || strpbrk(value, " \t\r\n<>") != NULL)
			goto fail_fmt;
		return 0;
	case SET_T_ADDRESS:
		if (!valid_address(value))
			goto fail_fmt;
		return 0;
	case SET_T_CIDRS:
		if (strlen(value) > d->max ||
		    cidr_list_parse(value, &list, &n, &bad) < 0) {
			snprintf(err, sizeof(err), "%s: bad address or range: %s",
			    d->name, strlen(value) > d->max ? "(too long)" : bad);
			*error_r = err;
			return -1;
		}
		free(list);
		return 0;
	case SET_T_HOSTPORTS:
		if (settings_hostports(value, NULL, d->max) < 0)
			goto fail_fmt;
		return 0;
	case SET_T_SECRET:
		if (strlen(value) > d->max)
			goto fail_fmt;
		return 0;
	case SET_T_CHOICE:
	case SET_T_SET:
		if (settings_choice(id, value) < 0) {
			snprintf(err, sizeof(err), "%s: expected %s%s", d->name,
			    d->type == SET_T_SET ? "a comma-separated list of " :
			    "one of ", d->choices);
			*error_r = err;
			return -1;
		}
		return 0;
	}
fail_fmt:
	{
		static const char *const expect[] = {
			[SET_T_BOOL] = "on or off",
			[SET_T_UINT] = "a number",
			[SET_T_STRING] = "text without line breaks",
			[SET_T_HOSTNAME] = "a host name",
			[SET_T_EMAIL] = "an e-mail address",
			[SET_T_ADDRESS] = "HOST:PORT, [IPV6]:PORT or *:PORT",
			[SET_T_CIDRS] = "a list of IP/CIDR ranges",
			[SET_T_CHOICE] = "one of the choices",
			[SET_T_SET] = "a list of choices",
			[SET_T_PATH] = "a file path",
			[SET_T_HOSTPORTS] = "HOST:PORT items separated by commas",
			[SET_T_SECRET] = "a shorter secret",
		};
		snprintf(err, sizeof(err), "%s: expected %s", d->name,
		    expect[d->type]);
	}
	*error_r = err;
	return -1;
}

static void
settings_assign(struct settings *s, int id, const char *value)
{
	free(s->str[id]);
	s->str[id] = xstrdup(value);
	s->num[id] = 0;
	switch (settings_table[id].type) {
	case SET_T_BOOL:
		s->num[id] = strcmp(value, "on") == 0;
		break;
	case SET_T_UINT:
		(void)str_to_u64(value, 0, UINT64_MAX, &s->num[id]);
		break;
	case SET_T_CHOICE:
	case SET_T_SET:
		s->num[id] = (uint64_t)settings_choice(id, value);
		break;
	default:
		break;
	}
}

struct settings *
settings_load(sqlite3 *db, const char **error_r)
{
	static char err[256];
	struct settings *s = xcalloc(1, sizeof(*s));
	sqlite3_stmt *st;
	int rc;

	for (int i = 0; i < SET_COUNT; i++)
		settings_assign(s, i, settings_table[i].def);
	st = db_prepare(db, "SELECT name, value FROM settings");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		const char *value = (const char *)sqlite3_column_text(st, 1);
		const char *verr;
		int id = settings_find(name);

		if (id < 0)
			continue;	/* a key a newer version wrote */
		if (settings_validate(id, value, &verr) < 0) {
			snprintf(err, sizeof(err), "stored %s", verr);
			*error_r = err;
			sqlite3_finalize(st);
			settings_free(&s);
			return NULL;
		}
		settings_assign(s, id, value);
		s->is_set[id] = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		settings_free(&s);
		return NULL;
	}
	if (s->str[SET_HOSTNAME][0] == '\0') {
		char host[256];

		if (gethostname(host, sizeof(host)) < 0 || !valid_hostname(host))
			str_copy(host, sizeof(host), "localhost");
		settings_assign(s, SET_HOSTNAME, host);
	}
	return s;
}

void
settings_free(struct settings **sp)
{
	struct settings *s = *sp;

	if (s == NULL)
		return;
	for (int i = 0; i < SET_COUNT; i++)
		free(s->str[i]);
	free(s);
	*sp = NULL;
}

static int
settings_store(sqlite3 *db, const char *name, const char *value,
    const char **error_r)
{
	static char err[64];
	sqlite3_stmt *st;
	int id = settings_find(name);

	if (id < 0) {
		snprintf(err, sizeof(err), "unknown setting: %.40s", name);
		*error_r = err;
		return -1;
	}
	if (value != NULL && settings_validate(id, value, error_r) < 0)
		return -1;
	if (value == NULL || strcmp(value, settings_table[id].def) == 0) {
		st = db_prepare(db, "DELETE FROM settings WHERE name = ?");
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	} else {
		st = db_prepare(db, "INSERT INTO settings (name, value) "
		    "VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = "
		    "excluded.value");
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	}
	if (sqlite3_step(st) != SQLITE_DONE) {
		*error_r = sqlite3_errmsg(db);
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return 0;
}

int
settings_set(sqlite3 *db, const char *name, const char *value,
    const char **error_r)
{
	return settings_store(db, name, value, error_r);
}

int
settings_unset(sqlite3 *db, const char *name, const char **error_r)
{
	return settings_store(db, name, NULL, error_r);
}
