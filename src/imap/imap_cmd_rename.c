/* RENAME (RFC 3501 6.3.5): children move along; renaming INBOX moves
 * its messages into the new folder and leaves INBOX empty. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"
#include "store/mailbox.h"

struct rename_ctx {
	char from[IMAP_FOLDER_MAX + 1], to[IMAP_FOLDER_MAX + 1];
	int err;
};

/* INBOX: its messages move into the new folder. */
static int
rename_inbox(struct imap_session *s, const char *to)
{
	char dest[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	struct mailbox_list box;
	int rc = 0;

	if (imap_mbox_create(s->home, to) < 0 ||
	    imap_mbox_path(s->home, to, dest, sizeof(dest)) < 0)
		return -1;
	if (mailbox_scan(s->home, &box) < 0) {
		mailbox_list_free(&box);
		return -1;
	}
	for (size_t i = 0; i < box.n && rc == 0; i++) {
		const struct mailbox_msg *m = &box.msgs[i];
		const char *name = mailbox_name(&box, m);

		if (mailbox_path(s->home, &box, m, src, sizeof(src)) < 0 ||
		    str_printf(dst, sizeof(dst), "%s/%s/%s", dest,
		    m->in_cur ? "cur" : "new", name) < 0 ||
		    (rename(src, dst) < 0 && errno != ENOENT))
			rc = -1;
	}
	mailbox_list_free(&box);
	if (rc == 0 && str_printf(dst, sizeof(dst), "%s/cur", dest) >= 0)
		rc = fs_sync_dir(dst);
	if (rc == 0 && str_printf(dst, sizeof(dst), "%s/new", dest) >= 0)
		rc = fs_sync_dir(dst);
	return rc;
}

static void
rename_work(struct imap_session *s)
{
	struct rename_ctx *x = s->ctx;
	int rc;

	if (imap_mbox_exists(s->home, x->to)) {
		x->err = EEXIST;
		return;
	}
	if (imap_mbox_is_inbox(x->from)) {
		rc = rename_inbox(s, x->to);
	} else if (!imap_mbox_exists(s->home, x->from)) {
		x->err = ENOENT;
		return;
	} else {
		rc = imap_mbox_rename(s->home, x->from, x->to);
	}
	if (rc < 0)
		x->err = errno ? errno : EIO;
}

static void
rename_done(struct imap_session *s)
{
	struct rename_ctx *x = s->ctx;

	if (x->err == EEXIST)
		imap_done(s, "NO [ALREADYEXISTS] Mailbox already exists");
	else if (x->err == ENOENT)
		imap_done(s, "NO [NONEXISTENT] Mailbox does not exist");
	else if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Cannot rename mailbox: %s",
		    strerror(x->err));
	else
		imap_done(s, "OK Rename completed");
}

IMAP_CMD(rename)
{
	struct rename_ctx *x = xcalloc(1, sizeof(*x));
	size_t flen;

	imap_set_ctx(s, x, free);
	if (imap_mbox_arg(a, x->from) < 0 ||
	    imap_mbox_arg(a, x->to) < 0 ||
	    !imap_args_done(a)) {
		imap_bad(s, "Syntax: RENAME from to");
		return;
	}
	if (imap_mbox_check(x->from) < 0 || imap_mbox_check(x->to) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (imap_mbox_is_inbox(x->to)) {
		imap_done(s, "NO [CANNOT] Cannot rename to INBOX");
		return;
	}
	flen = strlen(x->from);
	if (strncmp(x->to, x->from, flen) == 0 &&
	    x->to[flen] == IMAP_MBOX_SEP) {
		imap_done(s, "NO [CANNOT] Cannot rename a mailbox into itself");
		return;
	}
	if (s->selected && strcmp(s->view.name, x->from) == 0) {
		imap_done(s, "NO [INUSE] Cannot rename the selected mailbox");
		return;
	}
	imap_job_sync(s, rename_work, rename_done);
}
