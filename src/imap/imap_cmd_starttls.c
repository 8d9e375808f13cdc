/* STARTTLS (RFC 3501 6.2.1, RFC 2595): anything the client pipelined
 * after the command is discarded by conn_starttls(). */
#include "imap/imap_internal.h"

IMAP_CMD(starttls)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "STARTTLS takes no arguments");
		return;
	}
	if (s->c->ssl != NULL) {
		imap_bad(s, "TLS already active");
		return;
	}
	imap_done(s, "OK Begin TLS negotiation now");
	s->wait = IMAP_WAIT_TLS;
	conn_starttls(s->c);
}
