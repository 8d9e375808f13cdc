/* LOGOUT (RFC 3501 6.1.3). */
#include "imap/imap_internal.h"

IMAP_CMD(logout)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "LOGOUT takes no arguments");
		return;
	}
	imap_reply(s, "* BYE Logging out");
	imap_done(s, "OK Logout completed");
	imap_close(s);
}
