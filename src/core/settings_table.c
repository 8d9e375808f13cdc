/* The declarative settings table: every key Mailwarden knows.
 * Later modules add their keys here in the same dotted scheme. */
#include "core/settings.h"

#define GUARD_EVENT_CHOICES \
	"connect|auth-fail|bad-session|unknown-rcpt|auth-volume"
#define GUARD_PROTO_CHOICES "smtp|pop3|imap|http"

#define KB 1024ULL
#define MB (1024ULL * 1024)

const struct setting_def settings_table[SET_COUNT] = {
	[SET_HOSTNAME] = { "hostname", SET_T_HOSTNAME, "", 0, 253, 1,
	    "empty: the system host name; used in greetings and Received:" },
	[SET_ADMIN_EMAIL] = { "admin.email", SET_T_EMAIL, "", 0, 254, 1,
	    "where alerts and reports go; empty: postmaster@hostname" },
	[SET_SERVER_USER] = { "server.user", SET_T_STRING, "mailwarden", 1, 32, 0,
	    "the unprivileged user a root-started server switches to" },
	[SET_WORKER_THREADS] = { "worker.threads", SET_T_UINT, "4", 1, 64, 0,
	    "hashing and fsync run here; a few threads keep disks busy" },
	[SET_SERVER_MAX_CONNECTIONS] = { "server.max-connections", SET_T_UINT,
	    "2000", 10, 1000000, 1,
	    "sessions at once, all listeners; each may buffer one message" },
	[SET_LOG_LEVEL] = { "log.level", SET_T_CHOICE, "info", 0, 0, 1,
	    "info logs every session and delivery, without message data",
	    "debug|info|warn|error" },
	[SET_TLS_CERT] = { "tls.cert", SET_T_PATH, "", 0, 1024, 1,
	    "empty: a self-signed certificate in DATA/tls, made on first start" },
	[SET_TLS_KEY] = { "tls.key", SET_T_PATH, "", 0, 1024, 1,
	    "private key for tls.cert" },
	[SET_RELAY_NETWORKS] = { "relay.networks", SET_T_CIDRS, "", 0, 8192, 1,
	    "empty: nobody relays without AUTH, loopback included" },
	[SET_AUTH_PLAINTEXT] = { "auth.plaintext", SET_T_BOOL, "off", 0, 1, 1,
	    "passwords never cross the network in clear unless allowed" },
	[SET_AUTH_FAILURE_DELAY] = { "auth.failure-delay", SET_T_UINT, "2000",
	    0, 60000, 1,
	    "milliseconds before a failed AUTH is answered: slows guessing" },
	[SET_MESSAGE_MAX_SIZE] = { "message.max-size", SET_T_UINT,
	    "26214400", 1 * KB, 256 * MB, 1,
	    "25 MiB, the usual limit of large providers" },
	[SET_SMTP_MAX_RECIPIENTS] = { "smtp.max-recipients", SET_T_UINT, "100",
	    1, 10000, 1, "RFC 5321 4.5.3.1.8: at least 100 must be accepted" },
	[SET_SMTP_MAX_COMMANDS] = { "smtp.max-commands", SET_T_UINT, "10000",
	    10, 1000000, 1, "bounds one session's work; ample for bulk senders" },
	[SET_SMTP_TIMEOUT] = { "smtp.timeout", SET_T_UINT, "300", 1, 3600, 1,
	    "idle seconds between commands: RFC 5321 4.5.3.2.7 says 5 minutes" },
	[SET_SMTP_DATA_TIMEOUT] = { "smtp.data-timeout", SET_T_UINT, "600",
	    1, 3600, 1, "idle seconds inside DATA: RFC 5321 4.5.3.2.6 says 3 min" },
	[SET_SMTP_MAX_ERRORS] = { "smtp.max-errors", SET_T_UINT, "20", 1, 1000, 1,
	    "protocol errors before the session is closed" },
	[SET_SMTP_ENABLED] = { "smtp.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "the MX listener receives mail for local domains" },
	[SET_SMTP_ADDRESS] = { "smtp.address", SET_T_ADDRESS, "*:25", 0, 0, 1,
	    "port 25 on every address, IPv4 and IPv6" },
	[SET_SMTP_AUTH] = { "smtp.auth", SET_T_BOOL, "off", 0, 1, 1,
	    "the MX port needs no AUTH; offering it only draws guessing" },
	[SET_SUBMISSION_ENABLED] = { "submission.enabled", SET_T_BOOL, "on",
	    0, 1, 1, "users send mail here (STARTTLS, AUTH required)" },
	[SET_SUBMISSION_ADDRESS] = { "submission.address", SET_T_ADDRESS,
	    "*:587", 0, 0, 1, "RFC 6409 submission port" },
	[SET_SUBMISSION_AUTH] = { "submission.auth", SET_T_BOOL, "on", 0, 1, 1,
	    "submission is for authenticated users" },
	[SET_SMTPS_ENABLED] = { "smtps.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "implicit TLS submission (RFC 8314)" },
	[SET_SMTPS_ADDRESS] = { "smtps.address", SET_T_ADDRESS, "*:465", 0, 0, 1,
	    "RFC 8314 port" },
	[SET_SMTPS_AUTH] = { "smtps.auth", SET_T_BOOL, "on", 0, 1, 1,
	    "implicit TLS submission is for authenticated users" },
	[SET_SMTP_PROXY] = { "smtp.proxy-protocol", SET_T_BOOL, "off", 0, 1, 1,
	    "on behind HAProxy: a PROXY v1/v2 header names the client" },
	[SET_SUBMISSION_PROXY] = { "submission.proxy-protocol", SET_T_BOOL,
	    "off", 0, 1, 1, "as smtp.proxy-protocol" },
	[SET_SMTPS_PROXY] = { "smtps.proxy-protocol", SET_T_BOOL, "off", 0, 1,
	    1, "as smtp.proxy-protocol" },
	[SET_PROXY_TRUSTED] = { "proxy.trusted", SET_T_CIDRS, "", 0, 8192, 1,
	    "only these peers may send PROXY headers; empty: nobody" },
	[SET_POP3_ENABLED] = { "pop3.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "POP3 with STLS; users fetch their INBOX" },
	[SET_POP3_ADDRESS] = { "pop3.address", SET_T_ADDRESS, "*:110", 0, 0, 1,
	    "RFC 1939 port" },
	[SET_POP3_PROXY] = { "pop3.proxy-protocol", SET_T_BOOL, "off", 0, 1, 1,
	    "as smtp.proxy-protocol" },
	[SET_POP3S_ENABLED] = { "pop3s.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "POP3 over implicit TLS (RFC 8314)" },
	[SET_POP3S_ADDRESS] = { "pop3s.address", SET_T_ADDRESS, "*:995", 0, 0,
	    1, "RFC 8314 port" },
	[SET_POP3S_PROXY] = { "pop3s.proxy-protocol", SET_T_BOOL, "off", 0, 1,
	    1, "as smtp.proxy-protocol" },
	[SET_POP3_TIMEOUT] = { "pop3.timeout", SET_T_UINT, "600", 10, 86400, 1,
	    "idle seconds: RFC 1939 3 wants at least 10 minutes" },
	[SET_POP3_MAX_PER_IP] = { "pop3.max-per-ip", SET_T_UINT, "10", 1,
	    100000, 1, "sessions at once from one address; a household or an "
	    "office behind NAT fits" },
	[SET_POP3_MAX_ERRORS] = { "pop3.max-errors", SET_T_UINT, "10", 1, 1000,
	    1, "bad commands before the session is closed" },
	[SET_IMAP_ENABLED] = { "imap.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "IMAP with STARTTLS; users read and file their mail" },
	[SET_IMAP_ADDRESS] = { "imap.address", SET_T_ADDRESS, "*:143", 0, 0, 1,
	    "RFC 3501 port" },
	[SET_IMAP_PROXY] = { "imap.proxy-protocol", SET_T_BOOL, "off", 0, 1, 1,
	    "as smtp.proxy-protocol" },
	[SET_IMAPS_ENABLED] = { "imaps.enabled", SET_T_BOOL, "on", 0, 1, 1,
	    "IMAP over implicit TLS (RFC 8314)" },
	[SET_IMAPS_ADDRESS] = { "imaps.address", SET_T_ADDRESS, "*:993", 0, 0,
	    1, "RFC 8314 port" },
	[SET_IMAPS_PROXY] = { "imaps.proxy-protocol", SET_T_BOOL, "off", 0, 1,
	    1, "as smtp.proxy-protocol" },
	[SET_IMAP_TIMEOUT] = { "imap.timeout", SET_T_UINT, "1800", 10, 86400,
	    1, "idle seconds once logged in: RFC 3501 5.4 wants at least 30 "
	    "minutes" },
	[SET_IMAP_LOGIN_TIMEOUT] = { "imap.login-timeout", SET_T_UINT, "60", 5,
	    3600, 1, "idle seconds before login" },
	[SET_IMAP_MAX_PER_IP] = { "imap.max-per-ip", SET_T_UINT, "20", 1,
	    1000000, 1, "sessions at once from one address; clients open "
	    "several each" },
	[SET_IMAP_MAX_PER_USER] = { "imap.max-per-user", SET_T_UINT, "20", 1,
	    1000000, 1, "logged-in sessions at once per user" },
	[SET_IMAP_MAX_ERRORS] = { "imap.max-errors", SET_T_UINT, "20", 1, 1000,
	    1, "bad commands before the session is closed" },
	[SET_IMAP_MAX_LITERAL] = { "imap.max-literal", SET_T_UINT, "52428800",
	    1, 1073741824, 1, "largest APPEND literal in octets "
	    "(APPENDLIMIT)" },
	[SET_DELIVERY_DNS_SERVERS] = { "delivery.dns-servers", SET_T_HOSTPORTS,
	    "", 0, 8, 1, "empty: the resolvers of /etc/resolv.conf" },
	[SET_DELIVERY_PORT] = { "delivery.port", SET_T_UINT, "25", 1, 65535, 1,
	    "MX hosts listen on 25 (RFC 5321)" },
	[SET_DELIVERY_MAX_CONNECTIONS] = { "delivery.max-connections",
	    SET_T_UINT, "100", 1, 10000, 1,
	    "outbound SMTP connections at once" },
	[SET_DELIVERY_MAX_PER_DOMAIN] = { "delivery.max-per-domain", SET_T_UINT,
	    "10", 1, 1000, 1, "large providers throttle more than this" },
	[SET_DELIVERY_CONNECT_TIMEOUT] = { "delivery.connect-timeout",
	    SET_T_UINT, "30", 1, 600, 1, "seconds to connect to one address" },
	[SET_DELIVERY_TIMEOUT] = { "delivery.timeout", SET_T_UINT, "300", 1,
	    3600, 1, "seconds to wait for a reply: RFC 5321 4.5.3.2" },
	[SET_DELIVERY_RELAYHOST] = { "delivery.relayhost", SET_T_HOSTPORTS, "",
	    0, 1, 1, "HOST:PORT of a smarthost for all outbound mail; empty: MX" },
	[SET_DELIVERY_RELAYHOST_USER] = { "delivery.relayhost-user",
	    SET_T_STRING, "", 0, 255, 1,
	    "AUTH PLAIN user at the relay host, only over TLS" },
	[SET_DELIVERY_RELAYHOST_PASSWORD] = { "delivery.relayhost-password",
	    SET_T_SECRET, "", 0, 255, 1,
	    "set with `config set-secret` (read from stdin)" },
	[SET_QUEUE_RETRY_MIN] = { "queue.retry-min", SET_T_UINT, "300", 1,
	    86400, 1, "seconds before the first retry; doubles each time" },
	[SET_QUEUE_RETRY_MAX] = { "queue.retry-max", SET_T_UINT, "3600", 1,
	    86400, 1, "the longest wait between retries" },
	[SET_QUEUE_LIFETIME] = { "queue.lifetime", SET_T_UINT, "432000", 1,
	    3153600, 1, "5 days (RFC 5321 4.5.4.1 suggests 4-5 days)" },
	[SET_QUEUE_DELAY_WARNING] = { "queue.delay-warning", SET_T_UINT, "14400",
	    0, 3153600, 1, "tell the sender after 4 hours; 0: never" },
	[SET_GUARD_IPV6_PREFIX] = { "guard.ipv6-prefix", SET_T_UINT, "64",
	    32, 128, 1,
	    "one IPv6 /64 is one subscriber: rotating inside it evades nothing" },
	[SET_GUARD_MAX_TRACKED] = { "guard.max-tracked", SET_T_UINT, "1000000",
	    1000, 100000000, 1,
	    "about 100 MiB at most; a flood evicts the least useful entries" },
	[SET_GUARD_FLOOD_DROP] = { "guard.flood-drop", SET_T_UINT, "100",
	    0, 1000000, 1,
	    "refusals of one block or deny entry after which the kernel drops "
	    "its SYNs until it ends: no MTA retries 100 times, a flood does "
	    "in milliseconds (0: always reply)" },
	[SET_ALERT_DIGEST_MINUTES] = { "alert.digest-minutes", SET_T_UINT, "10",
	    1, 1440, 1, "many blocks at once make one e-mail per this period" },
	[SET_ALERT_BLOCKS] = { "alert.blocks", SET_T_BOOL, "on", 0, 1, 1,
	    "mail the administrator when a rule with alert on blocks an IP" },
	[SET_ALERT_AUTH_VOLUME] = { "alert.auth-volume", SET_T_BOOL, "on", 0, 1,
	    1, "mail the administrator when a user sends unusually much" },

#define RULE(id, name, type, protos, count, window, block, kind, alert, why) \
	[SET_RULE_##id##_TYPE] = { "guard.rule." name ".type", SET_T_CHOICE, \
	    type, 0, 0, 1, "what the rule counts", GUARD_EVENT_CHOICES }, \
	[SET_RULE_##id##_PROTOCOLS] = { "guard.rule." name ".protocols", \
	    SET_T_SET, protos, 0, 0, 1, "where it counts", \
	    GUARD_PROTO_CHOICES }, \
	[SET_RULE_##id##_COUNT] = { "guard.rule." name ".count", SET_T_UINT, \
	    count, 0, 1024, 1, why " (0: rule off)" }, \
	[SET_RULE_##id##_WINDOW] = { "guard.rule." name ".window", \
	    SET_T_UINT, window, 1, 86400, 1, "seconds of the sliding window" }, \
	[SET_RULE_##id##_BLOCK] = { "guard.rule." name ".block", SET_T_UINT, \
	    block, 0, 31536000, 1, "seconds the block lasts" }, \
	[SET_RULE_##id##_KIND] = { "guard.rule." name ".kind", SET_T_CHOICE, \
	    kind, 0, 0, 1, "what is blocked (hold: hold the user's mail)", \
	    "logins|connections|none|hold" }, \
	[SET_RULE_##id##_ALERT] = { "guard.rule." name ".alert", SET_T_BOOL, \
	    alert, 0, 1, 1, "e-mail the administrator when it fires" },

	/* The default rule set of DESIGN 8. */
	RULE(INVALID_LOGIN, "invalid-login", "auth-fail", "smtp,imap,pop3,http",
	    "5", "600", "600", "logins", "on",
	    "5 failed logins in 10 minutes: logins blocked 10 minutes")
	RULE(BRUTE_FORCE, "brute-force", "auth-fail", "smtp,imap,pop3,http",
	    "50", "600", "1800", "connections", "on",
	    "50 failed logins in 10 minutes: all connections blocked 30 min")
	RULE(DOS, "dos", "connect", "smtp,imap,pop3,http", "50", "300", "300",
	    "connections", "on",
	    "50 connections in 5 minutes: connections blocked 5 minutes")
	RULE(BAD_SESSIONS, "bad-sessions", "bad-session", "smtp", "20", "300",
	    "300", "connections", "on",
	    "20 SMTP sessions without a message in 5 min: blocked 5 min")
	RULE(HARVEST, "harvest", "unknown-rcpt", "smtp", "20", "300", "1800",
	    "connections", "on",
	    "20 unknown recipients in 5 minutes: blocked 30 minutes")
	RULE(AUTH_VOLUME, "auth-volume", "auth-volume", "smtp", "200", "3600",
	    "0", "none", "on",
	    "a user sending over 200 messages in an hour: alert")
#undef RULE
};
