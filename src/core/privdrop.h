/* Dropping root: the server binds and loads its keys as root, then runs
 * as an unprivileged user, keeping only CAP_NET_BIND_SERVICE so that a
 * listener can move to a port below 1024 at run time. */
#ifndef MW_CORE_PRIVDROP_H
#define MW_CORE_PRIVDROP_H

#include <stdint.h>
#include <sys/types.h>

/* If running as root: gives the current directory (DATA) tree to user,
 * switches uid/gid to it, and checks root cannot be regained. fatal() on
 * any failure. Does nothing when not root. */
void privdrop_server(const char *user);
/* Switches to uid/gid for good, keeping only the capabilities in caps
 * (bits 1 << CAP_x of the first 32), and checks root cannot be regained.
 * -1 on any failure (the caller must not go on). */
int privdrop_become(uid_t uid, gid_t gid, uint32_t caps);
/* For CLI commands run as root on a DATA directory that belongs to
 * another user: become that user, so that files stay theirs. */
void privdrop_to_owner(const char *path);

#endif
