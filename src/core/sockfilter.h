/* Kernel-side drops: a classic BPF socket filter, attached to a listening
 * socket, that discards every packet from a set of address ranges. A SYN
 * it discards is never answered, so a client it covers costs the server
 * no accept, no socket and no reply (its connect() times out). Accepted
 * sockets inherit the filter their listener had when they were made. */
#ifndef MW_CORE_SOCKFILTER_H
#define MW_CORE_SOCKFILTER_H

#include <linux/filter.h>
#include <stddef.h>

#include "core/ipaddr.h"

/* Most ranges one program holds: at 13 instructions for the longest
 * (an IPv6 range), within the kernel's 4,096, and a short enough scan
 * for the packets of every connection. */
#define SOCKFILTER_MAX_RANGES 256
#define SOCKFILTER_MAX_INSNS (8 + 13 * SOCKFILTER_MAX_RANGES)

/* Writes into prog (room for SOCKFILTER_MAX_INSNS) a program dropping
 * every IPv4 and IPv6 packet whose source lies in one of the n ranges
 * (IPv4 ranges as held by struct cidr: mapped, prefix >= 96) and
 * accepting the rest. Returns the number of instructions, or -1 when n
 * is over SOCKFILTER_MAX_RANGES. n == 0 gives a program accepting all. */
int sockfilter_build(const struct cidr *ranges, size_t n,
    struct sock_filter *prog);

/* Attaches prog (n instructions) to fd, or detaches any filter when n is
 * 0. Returns 0, or -1 with errno. */
int sockfilter_attach(int fd, const struct sock_filter *prog, size_t n);

#endif
