/* DELETE (RFC 3501 6.3.4): the folder's messages and directory go; its
 * children stay (the name then lists as \Noselect). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"

struct delete_ctx {
	char name[IMAP_FOLDER_MAX + 1];
	int err;
};

static void
delete_work(struct imap_session *s)
{
	struct delete_ctx *x = s->ctx;

	if (imap_mbox_delete(s->home, x->name) < 0)
		x->err = errno ? errno : EIO;
}

static void
delete_done(struct imap_session *s)
{
	struct delete_ctx *x = s->ctx;

	if (x->err == ENOENT)
		imap_done(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Cannot delete mailbox: %s",
		    strerror(x->err));
	else
		imap_done(s, "OK Delete completed");
}

IMAP_CMD(delete)
{
	struct delete_ctx *x = xcalloc(1, sizeof(*x));

	imap_set_ctx(s, x, free);
	if (imap_mbox_arg(a, x->name) < 0 ||
	    !imap_args_done(a)) {
		imap_bad(s, "Syntax: DELETE mailbox");
		return;
	}
	if (imap_mbox_is_inbox(x->name)) {
		imap_done(s, "NO [CANNOT] INBOX cannot be deleted");
		return;
	}
	if (imap_mbox_check(x->name) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (s->selected && strcmp(s->view.name, x->name) == 0) {
		imap_done(s, "NO [INUSE] Cannot delete the selected mailbox");
		return;
	}
	imap_job_sync(s, delete_work, delete_done);
}
