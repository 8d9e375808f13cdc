/* The filter helper: since Linux 6.x a socket filter on a TCP socket
 * needs CAP_NET_ADMIN, which the server must not keep (it would let a
 * compromised server rewrite the machine's network setup). A small child
 * process, forked before the server drops root, keeps that capability
 * and nothing else, and does one thing: attach a drop filter built from
 * a list of address ranges (core/sockfilter.h) to a listening socket
 * the server passes it. */
#ifndef MW_CORE_FILTERD_H
#define MW_CORE_FILTERD_H

#include <stddef.h>

#include "core/ipaddr.h"

/* If running as root: starts the helper as user (uid and gid of
 * server.user). Call before any thread exists and before dropping root.
 * Does nothing when not root: filters are then attached by the server
 * itself, as far as its kernel lets it. -1 if the helper cannot start. */
int filterd_start(const char *user);

/* Attaches to the listening socket fd a filter dropping packets from
 * the n ranges (n <= SOCKFILTER_MAX_RANGES), or removes the filter when
 * n is 0. Waits for the helper (microseconds; at most a second). 0, or
 * -1 with errno. */
int filterd_attach(int fd, const struct cidr *ranges, size_t n);

/* Ends the helper. */
void filterd_stop(void);

#endif
