/* State shared by the delivery engine's files (deliver.c: the queue and
 * each message's attempt; deliver_route.c: one domain's route and
 * sessions; dsn.c: bounces). Not for other modules. */
#ifndef MW_QUEUE_DELIVER_INTERNAL_H
#define MW_QUEUE_DELIVER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/pool.h"
#include "queue/dns.h"
#include "queue/queue.h"
#include "queue/smtpc.h"

struct dmsg;

/* One destination domain of one message, with its recipients. */
struct dtask {
	struct dmsg *m;
	char domain[256];
	size_t *ri;			/* indexes into m->env.rcpts */
	const char **addrs;		/* their addresses */
	size_t n;
	/* Route: hosts in order, then each host's addresses. */
	struct dns_mx hosts[DNS_MAX_MX];
	size_t nhosts, host_i;
	uint16_t port;
	int implicit_mx;		/* no MX: the domain itself */
	struct sockaddr_storage ips[DNS_MAX_ADDRS];
	size_t nips, ip_i;
	int plain;			/* TLS failed here: retry without */
	char error[SMTPC_TEXT_MAX];	/* the latest failure */
	struct smtpc_params params;	/* points at the copies below */
	char helo[256];
	char auth_user[256], auth_pass[256];
	struct smtpc *session;
	int has_slot;			/* holds a slot not yet in a session */
	struct dtask *next_wait;	/* waiting for a slot */
	int done;
};

/* One message being attempted. */
struct dmsg {
	struct pool_job job;		/* load, then save */
	char id[SPOOL_ID_LEN + 1];
	struct queue_env env;
	int rc, err;			/* of the job */
	char *data;			/* dot-stuffed, ends CRLF.CRLF */
	size_t data_len;
	char *headers;			/* the original header, for DSNs */
	struct dtask *tasks;
	size_t ntasks, left;
	int removed;			/* save: the message is done */
	int gone;			/* save: its envelope was deleted */
	struct dmsg *next;		/* in flight */
};

/* deliver_route.c */
void route_start(struct dtask *t);
void route_abort(struct dtask *t);
void route_set_limits(unsigned max_total, unsigned max_per_domain);
void route_slots_free(void);
/* deliver.c: 1 once the server is stopping (start nothing new). */
int deliver_stopping(void);
/* deliver.c: a task has its outcome in the env's recipients. */
void deliver_task_done(struct dtask *t);
/* Records one recipient's outcome (and the delivery.log line). */
void deliver_record(struct dtask *t, size_t k, int code, const char *reply,
    const char *relay);

/* dsn.c: tells env's sender about its failed recipients not yet
 * bounced (delay: the pending ones, a warning). Loop only. */
void dsn_send(const struct queue_env *env, const char *headers, int delay);

#endif
