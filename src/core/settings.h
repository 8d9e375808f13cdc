/* The one declarative settings table and the values in force.
 * Values live in the settings database (only those that differ from the
 * default are stored); every write is validated against the table. */
#ifndef MW_CORE_SETTINGS_H
#define MW_CORE_SETTINGS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

enum setting_type {
	SET_T_BOOL,	/* on|off */
	SET_T_UINT,	/* decimal within [min, max] */
	SET_T_STRING,	/* free text, max bytes as limit */
	SET_T_HOSTNAME,	/* DNS name, or empty where allowed */
	SET_T_EMAIL,	/* local@domain, or empty */
	SET_T_ADDRESS,	/* host:port, [v6]:port or *:port */
	SET_T_CIDRS,	/* comma-separated IP/CIDR list */
	SET_T_CHOICE,	/* one of choices ("a|b|c") */
	SET_T_SET,	/* comma-separated subset of choices */
	SET_T_PATH,	/* file path, or empty */
	SET_T_HOSTPORTS,/* comma-separated HOST:PORT list (max items), or empty */
	SET_T_SECRET,	/* set with `config set-secret`; never shown */
};

/* The guard's rules, each a group of settings guard.rule.NAME.FIELD. */
#define GUARD_RULES(X) \
	X(INVALID_LOGIN, "invalid-login") \
	X(BRUTE_FORCE, "brute-force") \
	X(DOS, "dos") \
	X(BAD_SESSIONS, "bad-sessions") \
	X(HARVEST, "harvest") \
	X(AUTH_VOLUME, "auth-volume")

#define SET_RULE_IDS(id, name) \
	SET_RULE_##id##_TYPE, SET_RULE_##id##_PROTOCOLS, \
	SET_RULE_##id##_COUNT, SET_RULE_##id##_WINDOW, \
	SET_RULE_##id##_BLOCK, SET_RULE_##id##_KIND, SET_RULE_##id##_ALERT,
/* Fields of a rule, in the order of SET_RULE_IDS. */
enum { SET_RULE_TYPE, SET_RULE_PROTOCOLS, SET_RULE_COUNT, SET_RULE_WINDOW,
	SET_RULE_BLOCK, SET_RULE_KIND, SET_RULE_ALERT, SET_RULE_FIELDS };

enum setting_id {
	SET_HOSTNAME,
	SET_ADMIN_EMAIL,
	SET_SERVER_USER,
	SET_WORKER_THREADS,
	SET_SERVER_MAX_CONNECTIONS,
	SET_LOG_LEVEL,
	SET_TLS_CERT,
	SET_TLS_KEY,
	SET_RELAY_NETWORKS,
	SET_AUTH_PLAINTEXT,
	SET_AUTH_FAILURE_DELAY,
	SET_MESSAGE_MAX_SIZE,
	SET_SMTP_MAX_RECIPIENTS,
	SET_SMTP_MAX_COMMANDS,
	SET_SMTP_TIMEOUT,
	SET_SMTP_DATA_TIMEOUT,
	SET_SMTP_MAX_ERRORS,
	SET_SMTP_ENABLED,
	SET_SMTP_ADDRESS,
	SET_SMTP_AUTH,
	SET_SUBMISSION_ENABLED,
	SET_SUBMISSION_ADDRESS,
	SET_SUBMISSION_AUTH,
	SET_SMTPS_ENABLED,
	SET_SMTPS_ADDRESS,
	SET_SMTPS_AUTH,
	SET_SMTP_PROXY,
	SET_SUBMISSION_PROXY,
	SET_SMTPS_PROXY,
	SET_PROXY_TRUSTED,
	SET_POP3_ENABLED,
	SET_POP3_ADDRESS,
	SET_POP3_PROXY,
	SET_POP3S_ENABLED,
	SET_POP3S_ADDRESS,
	SET_POP3S_PROXY,
	SET_POP3_TIMEOUT,
	SET_POP3_MAX_PER_IP,
	SET_POP3_MAX_ERRORS,
	SET_IMAP_ENABLED,
	SET_IMAP_ADDRESS,
	SET_IMAP_PROXY,
	SET_IMAPS_ENABLED,
	SET_IMAPS_ADDRESS,
	SET_IMAPS_PROXY,
	SET_IMAP_TIMEOUT,
	SET_IMAP_LOGIN_TIMEOUT,
	SET_IMAP_MAX_PER_IP,
	SET_IMAP_MAX_PER_USER,
	SET_IMAP_MAX_ERRORS,
	SET_IMAP_MAX_LITERAL,
	SET_DELIVERY_DNS_SERVERS,
	SET_DELIVERY_PORT,
	SET_DELIVERY_MAX_CONNECTIONS,
	SET_DELIVERY_MAX_PER_DOMAIN,
	SET_DELIVERY_CONNECT_TIMEOUT,
	SET_DELIVERY_TIMEOUT,
	SET_DELIVERY_RELAYHOST,
	SET_DELIVERY_RELAYHOST_USER,
	SET_DELIVERY_RELAYHOST_PASSWORD,
	SET_QUEUE_RETRY_MIN,
	SET_QUEUE_RETRY_MAX,
	SET_QUEUE_LIFETIME,
	SET_QUEUE_DELAY_WARNING,
	SET_GUARD_IPV6_PREFIX,
	SET_GUARD_MAX_TRACKED,
	SET_GUARD_FLOOD_DROP,
	SET_ALERT_DIGEST_MINUTES,
	SET_ALERT_BLOCKS,
	SET_ALERT_AUTH_VOLUME,
	GUARD_RULES(SET_RULE_IDS)
	SET_COUNT
};
/* The first setting of rule number i (in GUARD_RULES order). */
#define SET_RULE_FIRST(i) (SET_RULE_INVALID_LOGIN_TYPE + (i) * SET_RULE_FIELDS)

struct setting_def {
	const char *name;
	enum setting_type type;
	const char *def;
	uint64_t min, max;	/* numbers: range; strings: max length */
	int reloadable;		/* applied by a running server */
	const char *why;	/* why the default is what it is */
	const char *choices;	/* CHOICE and SET: "a|b|c" */
};

extern const struct setting_def settings_table[SET_COUNT];

struct settings {
	char *str[SET_COUNT];	/* value in force, defaults filled in */
	uint64_t num[SET_COUNT];/* parsed value for BOOL and UINT */
	int is_set[SET_COUNT];	/* stored in the database */
};

/* Looks a setting up by name; -1 when there is none. */
int settings_find(const char *name);
/* Checks a value for a setting; -1 with a one-line *error_r. */
int settings_validate(int id, const char *value, const char **error_r);
/* Loads every value (defaults for those not stored). The caller owns the
 * result and frees it with settings_free(). NULL with *error_r when a
 * stored value no longer validates. */
struct settings *settings_load(sqlite3 *db, const char **error_r);
void settings_free(struct settings **s);
/* Validates and stores a value; "" is not special: use settings_unset()
 * to go back to the default. -1 with *error_r on error. */
int settings_set(sqlite3 *db, const char *name, const char *value,
    const char **error_r);
int settings_unset(sqlite3 *db, const char *name, const char **error_r);

static inline const char *
settings_str(const struct settings *s, enum setting_id id)
{
	return s->str[id];
}

static inline uint64_t
settings_num(const struct settings *s, enum setting_id id)
{
	return s->num[id];
}

/* For CHOICE: the index of the value in choices. For SET: a bit per
 * choice present. -1 if the value is not valid. */
int settings_choice(int id, const char *value);

struct settings_hostport {
	char host[256];
	uint16_t port;
};

/* Parses a HOSTPORTS value into out (room for max; out may be NULL to
 * validate). Returns the number of items, or -1 if malformed. */
int settings_hostports(const char *value, struct settings_hostport *out,
    size_t max);

/* Splits an ADDRESS value into host ("" or "*" for all) and port. */
int settings_split_address(const char *value, char *host, size_t hostsize,
    uint16_t *port_r);

#endif
