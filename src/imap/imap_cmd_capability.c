/* CAPABILITY (RFC 3501 6.1.1). */
#include "imap/imap_internal.h"

IMAP_CMD(capability)
{
	struct buf caps;

	if (!imap_args_done(a)) {
		imap_bad(s, "CAPABILITY takes no arguments");
		return;
	}
	buf_init(&caps, 1024);
	imap_capabilities(s, &caps);
	imap_reply(s, "* CAPABILITY %s", caps.data);
	buf_release(&caps, 0);
	imap_done(s, "OK Capability completed");
}
