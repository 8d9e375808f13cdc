/* ENABLE (RFC 5161): nothing we offer needs enabling, so every
 * capability named is acknowledged as not enabled. */
#include "imap/imap_internal.h"

IMAP_CMD(enable)
{
	enum imap_arg_type t;
	int n = 0;

	while ((t = imap_args_next(a)) == IMAP_ARG_ATOM)
		n++;
	if (t != IMAP_ARG_END || n == 0) {
		imap_bad(s, "Syntax: ENABLE capability...");
		return;
	}
	imap_reply(s, "* ENABLED");
	imap_done(s, "OK Enabled");
}
