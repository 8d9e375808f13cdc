/* The server context shared by every protocol.
 * SECURITY: holds no secrets; read by protocols, written by serve. */
#include "core/server.h"

struct server srv;

int
server_trusted_relay(const struct ipaddr *ip)
{
	return cidr_list_match(srv.relay_nets, srv.nrelay_nets, ip);
}
