/* NAMESPACE (RFC 2342): one personal namespace, no prefix. */
#include "imap/imap_internal.h"

IMAP_CMD(namespace)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "NAMESPACE takes no arguments");
		return;
	}
	imap_reply(s, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	imap_done(s, "OK Namespace completed");
}
