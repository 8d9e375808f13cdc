/* What a running server shares with every protocol: the loop, the
 * database, the settings in force and values derived from them. Set up
 * by `serve` (cli/serve.c); protocols only read it. */
#ifndef MW_CORE_SERVER_H
#define MW_CORE_SERVER_H

#include <event2/event.h>
#include <sqlite3.h>
#include <stddef.h>

#include "core/ipaddr.h"
#include "core/settings.h"

struct server {
	struct event_base *base;
	sqlite3 *db;			/* lookups on the loop only */
	struct settings *set;		/* in force; replaced on reload */
	struct cidr *relay_nets;	/* parsed relay.networks */
	size_t nrelay_nets;
	int stopping;			/* SIGTERM received */
};

extern struct server srv;

/* 1 if ip may relay without authenticating (relay.networks). */
int server_trusted_relay(const struct ipaddr *ip);

#endif
