/* SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6, 6.3.7). A name need not
 * exist to be subscribed or unsubscribed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"

struct subscribe_ctx {
	char name[IMAP_FOLDER_MAX + 1];
	int on;
	int err;
};

static void
subscribe_work(struct imap_session *s)
{
	struct subscribe_ctx *x = s->ctx;

	if (imap_mbox_subscribe(s->home, x->name, x->on) < 0)
		x->err = errno ? errno : EIO;
}

static void
subscribe_done(struct imap_session *s)
{
	struct subscribe_ctx *x = s->ctx;

	if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Cannot change subscriptions: %s",
		    strerror(x->err));
	else
		imap_done(s, "OK %s completed", x->on ? "Subscribe" :
		    "Unsubscribe");
}

IMAP_CMD(subscribe)
{
	struct subscribe_ctx *x = xcalloc(1, sizeof(*x));

	imap_set_ctx(s, x, free);
	x->on = s->name[0] == 'S';
	if (imap_mbox_arg(a, x->name) < 0 ||
	    !imap_args_done(a)) {
		imap_bad(s, "Syntax: SUBSCRIBE mailbox");
		return;
	}
	if (imap_mbox_check(x->name) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (imap_mbox_is_inbox(x->name))
		str_copy(x->name, sizeof(x->name), "INBOX");
	imap_job_sync(s, subscribe_work, subscribe_done);
}
