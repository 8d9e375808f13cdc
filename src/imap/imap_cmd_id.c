/* ID (RFC 2971): the client's list is read and logged, ours is short. */
#include <strings.h>

#include "core/log.h"
#include "imap/imap_internal.h"

IMAP_CMD(id)
{
	enum imap_arg_type t = imap_args_next(a);
	int n = 0;

	if (t == IMAP_ARG_LIST_OPEN) {
		while ((t = imap_args_next(a)) == IMAP_ARG_STRING ||
		    t == IMAP_ARG_ATOM)
			if (++n > 60)
				break;
		if (t != IMAP_ARG_LIST_CLOSE || n % 2 != 0) {
			imap_bad(s, "Syntax: ID (field value ...) or ID NIL");
			return;
		}
	} else if (t != IMAP_ARG_ATOM || a->len != 3 ||
	    strncasecmp(a->val, "NIL", 3) != 0) {
		imap_bad(s, "Syntax: ID (field value ...) or ID NIL");
		return;
	}
	if (!imap_args_done(a)) {
		imap_bad(s, "Syntax: ID (field value ...) or ID NIL");
		return;
	}
	imap_reply(s, "* ID (\"name\" \"Mailwarden\")");
	imap_done(s, "OK ID completed");
}
