/* The guard in the running server: settings to rules, database to blocks
 * and lists, events to logs, counters to a stats file, blocks to alerts.
 * SECURITY: sees usernames as sent (escaped before logging), never
 * passwords; refuses blocked clients before any session state exists. */
#include "guard/guard_server.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/db.h"
#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "guard/alert.h"
#include "guard/guard_flood.h"
#include "guard/guard_store.h"

#define TICK_MS 1000		/* expiry, stats file, eviction log */

static struct {
	struct guard *g;
	struct event *tick;
	int64_t gen;
	uint64_t evicted_unlogged;
} gs;

static const char *const rule_names[] = {
#define RULE_NAME(id, name) name,
	GUARD_RULES(RULE_NAME)
#undef RULE_NAME
};
#define NRULES (sizeof(rule_names) / sizeof(rule_names[0]))

struct guard *
guard_srv(void)
{
	return gs.g;
}

int
guard_srv_allowed(const struct ipaddr *ip)
{
	const struct guard_list_entry *e = guard_list_match(gs.g, ip,
	    guard_store_now());

	return e != NULL && e->list == GUARD_ALLOW;
}

static void
range_text(const struct cidr *c, char *buf, size_t size)
{
	cidr_str(c, buf, size);
}

/* Hooks. */

static void
on_fired(void *ctx, const struct guard_rule *r, const struct guard_block *b,
    const char *user)
{
	char range[IPADDR_STRLEN + 8], esc[300];

	(void)ctx;
	if (b == NULL) {
		log_escape(esc, sizeof(esc), user ? user : "", user ?
		    strlen(user) : 0);
		LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
		    "event=rule-fired rule=%s user=\"%s\" count=%u window=%llus",
		    r->name, esc, r->count,
		    (unsigned long long)(r->window_ms / 1000));
		if (r->alert && user != NULL)
			alert_auth_volume(r, user);
		return;
	}
	range_text(&b->range, range, sizeof(range));
	LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
	    "event=block ip=%s kind=%s rule=%s protocol=%s attempts=%u "
	    "seconds=%llu", range, guard_kind_name(b->kind), r->name,
	    guard_proto_name(b->proto), b->attempts,
	    (unsigned long long)((b->until_ms - b->created_ms) / 1000));
	guard_store_save_block_async(b);
	if (r->alert)
		alert_block(r, b);
}

static void
on_lifted(void *ctx, const struct guard_block *b, int expired)
{
	char range[IPADDR_STRLEN + 8];

	(void)ctx;
	range_text(&b->range, range, sizeof(range));
	LOG_AT(LOG_FILE_INTRUSION, LOG_INFO, "guard", 0,
	    "event=%s ip=%s kind=%s rule=%s", expired ? "expire" : "lift",
	    range, guard_kind_name(b->kind), b->rule[0] ? b->rule : "admin");
	guard_store_forget_block_async(&b->range);
}

static void
on_denied(void *ctx, const struct ipaddr *ip,
    const struct guard_list_entry *e, enum guard_proto proto)
{
	char addr[IPADDR_STRLEN], range[IPADDR_STRLEN + 8];

	(void)ctx;
	range_text(&e->range, range, sizeof(range));
	LOG_AT(LOG_FILE_INTRUSION, LOG_INFO, "guard", 0,
	    "event=deny-hit ip=%s range=%s protocol=%s",
	    ipaddr_str(ip, addr), range, guard_proto_name(proto));
}

static void
on_evicted(void *ctx, size_t n)
{
	(void)ctx;
	gs.evicted_unlogged += n;
}

static void
on_flooding(void *ctx, const struct cidr *range, unsigned refused)
{
	(void)ctx;
	guard_flood_add(gs.g, range, refused, guard_store_now());
}

static const struct guard_hooks hooks = {
	.fired = on_fired,
	.lifted = on_lifted,
	.denied = on_denied,
	.evicted = on_evicted,
	.flooding = on_flooding,
};

/* Settings. */

static void
apply_rules(void)
{
	struct guard_rule rules[NRULES];

	memset(rules, 0, sizeof(rules));
	for (size_t i = 0; i < NRULES; i++) {
		int f = SET_RULE_FIRST((int)i);
		struct guard_rule *r = &rules[i];

		str_copy(r->name, sizeof(r->name), rule_names[i]);
		r->event = (enum guard_event)settings_num(srv.set,
		    f + SET_RULE_TYPE);
		r->protocols = (unsigned)settings_num(srv.set,
		    f + SET_RULE_PROTOCOLS);
		r->count = (unsigned)settings_num(srv.set, f + SET_RULE_COUNT);
		r->window_ms = settings_num(srv.set, f + SET_RULE_WINDOW) * 1000;
		r->block_ms = settings_num(srv.set, f + SET_RULE_BLOCK) * 1000;
		r->kind = (enum guard_kind)settings_num(srv.set,
		    f + SET_RULE_KIND);
		r->alert = (int)settings_num(srv.set, f + SET_RULE_ALERT);
	}
	guard_set_rules(gs.g, rules, NRULES);
	guard_set_ipv6_prefix(gs.g, (unsigned)settings_num(srv.set,
	    SET_GUARD_IPV6_PREFIX));
	guard_set_max_tracked(gs.g, (size_t)settings_num(srv.set,
	    SET_GUARD_MAX_TRACKED));
	guard_set_flood(gs.g, (unsigned)settings_num(srv.set,
	    SET_GUARD_FLOOD_DROP));
	if (settings_num(srv.set, SET_GUARD_FLOOD_DROP) == 0)
		guard_flood_clear();
}

void
guard_srv_reload(void)
{
	int64_t gen;

	apply_rules();
	gen = guard_store_gen(srv.db);
	if (gen != gs.gen) {
		gs.gen = gen;
		guard_store_load(srv.db, gs.g, guard_store_now());
		guard_flood_check(gs.g, guard_store_now());
		log_info("guard", 0, "event=lists-reloaded");
	}
}

/* Stats for `guard stats`: a small JSON file, replaced atomically. */
static void
write_stats(void)
{
	struct guard_stats st;
	char json[768];
	int n, fd;

	guard_get_stats(gs.g, &st);
	n = snprintf(json, sizeof(json), "{\"time\": %llu, \"tracked\": %zu, "
	    "\"blocks_in_force\": %zu, \"blocks_created\": %llu, "
	    "\"refused_blocked\": %llu, \"refused_denied\": %llu, "
	    "\"logins_pretended\": %llu, \"evictions\": %llu, "
	    "\"events\": %llu, \"memory_bytes\": %zu, "
	    "\"flood_dropped\": %zu, \"flood_drops\": %llu}\n",
	    (unsigned long long)guard_store_now(), st.tracked, st.blocked,
	    (unsigned long long)st.blocks,
	    (unsigned long long)st.refused_blocked,
	    (unsigned long long)st.refused_denied,
	    (unsigned long long)st.logins_pretended,
	    (unsigned long long)st.evictions, (unsigned long long)st.events,
	    guard_memory(gs.g), guard_flood_count(),
	    (unsigned long long)guard_flood_total());
	if (n < 0 || (size_t)n >= sizeof(json))
		return;
	fd = open("run/guard-stats.tmp", O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, json, (size_t)n) == n)
		(void)rename("run/guard-stats.tmp", GUARD_STATS_FILE);
	close(fd);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	guard_expire(gs.g, guard_store_now());
	guard_flood_check(gs.g, guard_store_now());
	if (gs.evicted_unlogged > 0) {
		struct guard_stats st;

		guard_get_stats(gs.g, &st);
		LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
		    "event=evict entries=%llu tracked=%zu cap=%llu",
		    (unsigned long long)gs.evicted_unlogged, st.tracked,
		    (unsigned long long)settings_num(srv.set,
		    SET_GUARD_MAX_TRACKED));
		gs.evicted_unlogged = 0;
	}
	write_stats();
	alert_tick();
}

void
guard_srv_start(void)
{
	struct timeval tv = { 0, TICK_MS * 1000 };

	gs.g = guard_new((size_t)settings_num(srv.set, SET_GUARD_MAX_TRACKED),
	    &hooks);
	apply_rules();
	gs.gen = guard_store_gen(srv.db);
	guard_store_load(srv.db, gs.g, guard_store_now());
	if (mkdir("run", 0755) < 0 && errno != EEXIST)
		log_warn("guard", 0, "event=no-run-dir error=\"%s\"",
		    strerror(errno));
	alert_init();
	gs.tick = event_new(srv.base, -1, EV_PERSIST, on_tick, NULL);
	event_add(gs.tick, &tv);
	write_stats();
}

void
guard_srv_stop(void)
{
	if (gs.tick != NULL)
		event_free(gs.tick);
	gs.tick = NULL;
	alert_stop();
	guard_flood_clear();
	unlink(GUARD_STATS_FILE);
	guard_free(&gs.g);
}

/* Decisions and events. */

void
guard_srv_peek(const struct sockaddr *sa, enum guard_proto proto)
{
	struct ipaddr ip;

	if (ipaddr_from_sockaddr(sa, &ip) == 0)
		guard_connect_prefetch(gs.g, &ip, proto);
}

int
guard_srv_admit(int fd, const struct ipaddr *ip, enum guard_proto proto)
{
	enum guard_verdict v = guard_connect(gs.g, ip, proto,
	    guard_store_now());
	const char *host = settings_str(srv.set, SET_HOSTNAME);
	char line[300], addr[IPADDR_STRLEN];
	int n;

	if (v == GUARD_ACCEPT)
		return 0;
	switch (proto) {
	case GUARD_SMTP:
		n = snprintf(line, sizeof(line), "421 4.7.0 %s Service not "
		    "available, access denied\r\n", host);
		break;
	case GUARD_POP3:
		n = snprintf(line, sizeof(line), "-ERR [SYS/PERM] Access "
		    "denied\r\n");
		break;
	case GUARD_IMAP:
		n = snprintf(line, sizeof(line), "* BYE Access denied\r\n");
		break;
	default:
		n = 0;
		break;
	}
	/* One try, never waiting: a refused client gets no more. */
	if (n > 0 && (size_t)n < sizeof(line))
		(void)send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
	close(fd);
	log_debug("guard", 0, "event=refused ip=%s protocol=%s why=%s",
	    ipaddr_str(ip, addr), guard_proto_name(proto),
	    v == GUARD_REFUSE_DENIED ? "denied" : "blocked");
	return -1;
}

void
guard_srv_login_begin(const struct ipaddr *ip, enum guard_proto proto,
    struct guard_login *t)
{
	guard_login_begin(gs.g, ip, proto, guard_store_now(), t);
}

int
guard_srv_login_end(const struct guard_login *t, const struct ipaddr *ip,
    int password_ok, int known_user, const char *user)
{
	enum guard_login_result r = guard_login_end(gs.g, t, password_ok, user,
	    guard_store_now());
	char addr[IPADDR_STRLEN], esc[300];
	const char *outcome;

	if (r == GUARD_LOGIN_OK)
		return 1;
	if (r == GUARD_LOGIN_BLOCKED)
		outcome = "blocked";
	else
		outcome = known_user ? "wrong-password" : "unknown-user";
	log_escape(esc, sizeof(esc), user, strlen(user));
	LOG_AT(LOG_FILE_PASSWORDS, LOG_INFO, "guard", 0,
	    "event=login-failed ip=%s protocol=%s user=\"%s\" outcome=%s",
	    ipaddr_str(ip, addr), guard_proto_name(t->proto), esc, outcome);
	return 0;
}

void
guard_srv_session_end(const struct ipaddr *ip, enum guard_proto proto,
    int accepted_message)
{
	guard_session_end(gs.g, ip, proto, accepted_message,
	    guard_store_now());
}

void
guard_srv_unknown_rcpt(const struct ipaddr *ip, enum guard_proto proto)
{
	guard_unknown_rcpt(gs.g, ip, proto, guard_store_now());
}

int
guard_srv_user_message(const char *user, const struct ipaddr *ip,
    enum guard_proto proto)
{
	return guard_user_message(gs.g, user, ip, proto, guard_store_now());
}
