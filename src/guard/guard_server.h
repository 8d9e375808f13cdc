/* The guard inside the running server: one instance, its rules taken from
 * the settings, its blocks and lists kept in step with the database, its
 * events written to intrusion.log and invalid-passwords.log. Protocols
 * call these; all run on the event loop. */
#ifndef MW_GUARD_GUARD_SERVER_H
#define MW_GUARD_GUARD_SERVER_H

#include <sys/socket.h>

#include "guard/guard.h"

/* Creates the guard and loads blocks and lists. Call after the settings
 * are loaded and before the first accept. */
void guard_srv_start(void);
void guard_srv_stop(void);
/* Settings changed: rules, IPv6 prefix, cap. Blocks/lists changed in the
 * database (meta.guard_gen): reloaded. Cheap when nothing changed. */
void guard_srv_reload(void);

/* A listener's peek (core/listener.h): starts fetching what admitting a
 * connection from sa will read, so a batch's lookups overlap. */
void guard_srv_peek(const struct sockaddr *sa, enum guard_proto proto);

/* Asks whether fd (accepted from ip) may stay. If not, writes the
 * protocol's refusal (SMTP 421 4.7.0, POP3 -ERR, IMAP * BYE) without
 * waiting and closes fd; returns -1. Returns 0 when admitted (and
 * counted). */
int guard_srv_admit(int fd, const struct ipaddr *ip, enum guard_proto proto);

/* Logins: begin before the password check, end with its result. */
void guard_srv_login_begin(const struct ipaddr *ip, enum guard_proto proto,
    struct guard_login *t);
/* Returns 1 if the login succeeds. known_user: the name exists (only
 * for the log line). */
int guard_srv_login_end(const struct guard_login *t, const struct ipaddr *ip,
    int password_ok, int known_user, const char *user);

void guard_srv_session_end(const struct ipaddr *ip, enum guard_proto proto,
    int accepted_message);
void guard_srv_unknown_rcpt(const struct ipaddr *ip, enum guard_proto proto);
/* Returns 1 when the user's outbound mail is to be held. */
int guard_srv_user_message(const char *user, const struct ipaddr *ip,
    enum guard_proto proto);

/* 1 if ip is on the allow list (never counted or blocked; may relay). */
int guard_srv_allowed(const struct ipaddr *ip);

struct guard *guard_srv(void);

/* Where the server writes its live counters for `guard stats`. */
#define GUARD_STATS_FILE "run/guard-stats.json"

#endif
