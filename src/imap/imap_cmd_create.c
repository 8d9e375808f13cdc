/* CREATE (RFC 3501 6.3.3): missing parents are created too. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"

struct create_ctx {
	char name[IMAP_FOLDER_MAX + 1];
	int err;
};

static void
create_work(struct imap_session *s)
{
	struct create_ctx *x = s->ctx;

	if (imap_mbox_create(s->home, x->name) < 0)
		x->err = errno ? errno : EIO;
}

static void
create_done(struct imap_session *s)
{
	struct create_ctx *x = s->ctx;

	if (x->err == EEXIST)
		imap_done(s, "NO [ALREADYEXISTS] Mailbox already exists");
	else if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Cannot create mailbox: %s",
		    strerror(x->err));
	else
		imap_done(s, "OK Create completed");
}

IMAP_CMD(create)
{
	struct create_ctx *x = xcalloc(1, sizeof(*x));
	size_t len;

	imap_set_ctx(s, x, free);
	if (imap_mbox_arg(a, x->name) < 0 ||
	    !imap_args_done(a)) {
		imap_bad(s, "Syntax: CREATE mailbox");
		return;
	}
	/* RFC 3501 6.3.3: a trailing separator only says "will have
	 * children". */
	len = strlen(x->name);
	if (len > 1 && x->name[len - 1] == IMAP_MBOX_SEP)
		x->name[len - 1] = '\0';
	if (imap_mbox_is_inbox(x->name)) {
		imap_done(s, "NO [ALREADYEXISTS] INBOX always exists");
		return;
	}
	if (imap_mbox_check(x->name) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	imap_job_sync(s, create_work, create_done);
}
