/* The guard: counts what each client address does, blocks it the moment a
 * rule's threshold is crossed, and answers "may this address connect /
 * may this login succeed" in O(1), in memory.
 *
 * The core is pure: the time is passed in by the caller (milliseconds of
 * wall-clock time, so blocks can be stored and survive a restart) and
 * everything that must be stored, logged or mailed is handed to the
 * callbacks of struct guard_hooks. Protocols use it through guard_server.h;
 * tests drive it directly and move time themselves. */
#ifndef MW_GUARD_GUARD_H
#define MW_GUARD_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/ipaddr.h"

enum guard_proto {
	GUARD_SMTP,
	GUARD_POP3,
	GUARD_IMAP,
	GUARD_HTTP,
	GUARD_PROTO_COUNT
};

/* What rules count. Per address, except AUTH_VOLUME (per user). */
enum guard_event {
	GUARD_EV_CONNECT,
	GUARD_EV_AUTH_FAIL,
	GUARD_EV_BAD_SESSION,	/* a session ended without a message */
	GUARD_EV_UNKNOWN_RCPT,
	GUARD_EV_AUTH_VOLUME,	/* a message sent by an authenticated user */
	GUARD_EV_COUNT
};

enum guard_kind {
	GUARD_BLOCK_LOGINS,	/* logins fail (pretending), the rest works */
	GUARD_BLOCK_CONNECTIONS,/* refused at connect */
	GUARD_BLOCK_NONE,	/* alert only */
	GUARD_BLOCK_HOLD,	/* AUTH_VOLUME: hold the user's outbound mail */
};

#define GUARD_RULE_NAME_MAX 24
#define GUARD_MAX_RULES 16
#define GUARD_LOG_MAX 1024	/* rule counts above this are clamped */
#define GUARD_WINDOW_MAX (86400ULL * 1000)	/* longer windows: clamped */

struct guard_rule {
	char name[GUARD_RULE_NAME_MAX];
	enum guard_event event;
	unsigned protocols;	/* bit (1 << enum guard_proto) */
	unsigned count;		/* 0: the rule is off */
	uint64_t window_ms;
	uint64_t block_ms;
	enum guard_kind kind;
	int alert;
};

/* A block in force, for an address range (an automatic block covers the
 * counting key: one IPv4 address or one IPv6 /64 by default). */
struct guard_block {
	struct cidr range;
	enum guard_kind kind;	/* LOGINS or CONNECTIONS */
	uint64_t created_ms;
	uint64_t until_ms;	/* 0: until lifted */
	char rule[GUARD_RULE_NAME_MAX];	/* "" when added by an admin */
	char reason[128];
	unsigned attempts;	/* events that triggered it */
	enum guard_proto proto;	/* where the last event came from */
	unsigned refused;	/* connections refused under it (not stored) */
};

enum guard_list { GUARD_ALLOW, GUARD_DENY };

struct guard_list_entry {
	struct cidr range;
	enum guard_list list;
	uint64_t expires_ms;	/* 0: never */
	char comment[128];
	unsigned refused;	/* connections refused by it (not stored) */
};

/* What happened, for the caller to store, log and mail. Each may be NULL.
 * They run inside the guard call that caused them. */
struct guard_hooks {
	void *ctx;
	/* A rule created a block (stored by the caller so that it survives
	 * a restart), or a rule without a block (kind NONE/HOLD) fired. */
	void (*fired)(void *ctx, const struct guard_rule *rule,
	    const struct guard_block *block, const char *user);
	/* A block ended: expired, or lifted by guard_unblock(). */
	void (*lifted)(void *ctx, const struct guard_block *block,
	    int expired);
	/* An address on the deny list tried to connect. */
	void (*denied)(void *ctx, const struct ipaddr *ip,
	    const struct guard_list_entry *entry, enum guard_proto proto);
	/* Tracking entries were evicted to stay under the cap. */
	void (*evicted)(void *ctx, size_t n);
	/* A connections block or deny entry has just refused its
	 * guard_set_flood()th connection (and again at every multiple of
	 * it): range is flooding. */
	void (*flooding)(void *ctx, const struct cidr *range,
	    unsigned refused);
};

struct guard_stats {
	uint64_t refused_blocked;	/* connections refused: blocked */
	uint64_t refused_denied;	/* connections refused: deny list */
	uint64_t logins_pretended;	/* logins failed while login-blocked */
	uint64_t blocks;		/* blocks created by rules */
	uint64_t evictions;
	uint64_t events;
	size_t tracked;			/* addresses counted now */
	size_t blocked;			/* blocks in force */
};

struct guard;

/* A guard with no rules, tracking at most max_tracked addresses. */
struct guard *guard_new(size_t max_tracked, const struct guard_hooks *hooks);
void guard_free(struct guard **g);

/* Replaces the rules (settings reload). Counts already made are kept. */
void guard_set_rules(struct guard *g, const struct guard_rule *rules,
    size_t n);
void guard_set_max_tracked(struct guard *g, size_t max_tracked);
/* IPv6 addresses are counted per this prefix (default 64). */
void guard_set_ipv6_prefix(struct guard *g, unsigned prefix);
/* The flooding hook runs when a block or deny entry has refused a
 * multiple of refusals connections; 0 (the default): never. */
void guard_set_flood(struct guard *g, unsigned refusals);

/* The counting key of ip: ip itself for IPv4, its /prefix for IPv6. */
struct cidr guard_key(const struct guard *g, const struct ipaddr *ip);

/* Black and white lists. Longest prefix wins; equal prefixes: deny. */
void guard_list_set(struct guard *g, const struct guard_list_entry *e);
int guard_list_del(struct guard *g, const struct cidr *range,
    enum guard_list list);
void guard_list_clear(struct guard *g);
/* The entry deciding ip (longest prefix, not expired) or NULL. */
const struct guard_list_entry *guard_list_match(const struct guard *g,
    const struct ipaddr *ip, uint64_t now);

/* Blocks: added by the admin or restored from storage (no hook runs). An
 * existing block for the same range is replaced. */
void guard_block_add(struct guard *g, const struct guard_block *b);
/* Lifts the block of exactly this range; 1 if there was one. The
 * address it covered is counted afresh from now on. */
int guard_unblock(struct guard *g, const struct cidr *range, uint64_t now);
void guard_block_clear(struct guard *g);
/* The block in force for ip (connections before logins), or NULL. */
const struct guard_block *guard_block_find(struct guard *g,
    const struct ipaddr *ip, uint64_t now);
/* 1 if every address of range is refused at connect now: a connections
 * block or a deny entry of exactly this range is in force, and no allow
 * entry overlaps it. */
int guard_refuses_range(struct guard *g, const struct cidr *range,
    uint64_t now);
/* Calls fn for every block in force. */
void guard_block_foreach(struct guard *g, uint64_t now,
    void (*fn)(const struct guard_block *b, void *arg), void *arg);

enum guard_verdict {
	GUARD_ACCEPT,
	GUARD_REFUSE_BLOCKED,
	GUARD_REFUSE_DENIED,
};

/* A connection arrived: decides and, if accepted, counts it (which may
 * block the address for the connections after this one). Allow-listed
 * addresses are accepted and never counted. */
enum guard_verdict guard_connect(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now);

/* Connections that arrive together (a listener's accept batch): a
 * guard_connect_prefetch() for each, then guard_connect() for each, lets
 * their lookups wait for memory at the same time instead of one after
 * another. Only a hint: it decides and changes nothing. */
void guard_connect_prefetch(const struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto);

/* A login attempt, counted before its password is checked:
 * guard_login_begin() when the check starts, guard_login_end() with the
 * check's result. The end says whether the login succeeds: never while
 * the address is login- or connection-blocked, and never when failures
 * already made plus attempts still in flight reach a rule's count, so
 * parallel attempts cannot overshoot. A failure is counted and may block.
 * Every begin must be followed by exactly one end. */
struct guard_login {
	struct cidr key;
	struct ipaddr ip;
	enum guard_proto proto;
	int listed_allow;
};
void guard_login_begin(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now, struct guard_login *t);
enum guard_login_result {
	GUARD_LOGIN_OK,
	GUARD_LOGIN_FAILED,	/* wrong password or unknown user */
	GUARD_LOGIN_BLOCKED,	/* right or wrong: the address is blocked */
};
enum guard_login_result guard_login_end(struct guard *g,
    const struct guard_login *t, int password_ok, const char *user,
    uint64_t now);

/* Other events. */
void guard_session_end(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, int accepted_message, uint64_t now);
void guard_unknown_rcpt(struct guard *g, const struct ipaddr *ip,
    enum guard_proto proto, uint64_t now);
/* A message from an authenticated user; returns 1 when the user's mail
 * is to be held (an AUTH_VOLUME rule of kind HOLD has fired). */
int guard_user_message(struct guard *g, const char *user,
    const struct ipaddr *ip, enum guard_proto proto, uint64_t now);

/* Ends expired blocks (running the lifted hook; their addresses are
 * counted afresh, as after guard_unblock). Call now and then. */
void guard_expire(struct guard *g, uint64_t now);

void guard_get_stats(const struct guard *g, struct guard_stats *st);

const char *guard_proto_name(enum guard_proto p);
/* Bytes used for tracking addresses (entries, index, event logs). */
size_t guard_memory(const struct guard *g);

#endif
