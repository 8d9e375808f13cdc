/* NOOP and CHECK (RFC 3501 6.1.2, 6.4.1): the selected mailbox's news. */
#include "imap/imap_internal.h"

IMAP_CMD(noop)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "Syntax: no arguments");
		return;
	}
	imap_job_sync(s, NULL, NULL);
}
