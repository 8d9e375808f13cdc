/* EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): removes the
 * \Deleted messages (of the UID set), then reports them as EXPUNGE. */
#include <errno.h>
#include <stdlib.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_view.h"

struct expunge_ctx {
	struct imap_seqset set;	/* UID EXPUNGE: the UIDs named */
	uint8_t *sel;
	int err;
};

static void
ctx_free(void *p)
{
	struct expunge_ctx *x = p;

	free(x->sel);
	imap_seqset_free(&x->set);
	free(x);
}

/* Removes the \Deleted messages that sel names (all when sel is NULL)
 * and reports what went. Shared with MOVE. */
int imap_expunge_marked(struct imap_session *s, const uint8_t *sel,
    int deleted_only);
int
imap_expunge_marked(struct imap_session *s, const uint8_t *sel,
    int deleted_only)
{
	struct imap_view *v = &s->view;
	char path[IMAP_PATH_MAX + 8];
	int removed = 0, rc = 0;

	for (size_t i = 0; i < v->ul.box.n; i++) {
		uint32_t kw;

		if (sel != NULL && !sel[i])
			continue;
		if (deleted_only &&
		    !(imap_view_flags(s, i, &kw) & UIDLIST_DELETED))
			continue;
		if (mailbox_remove(v->path, &v->ul.box, &v->ul.box.msgs[i]) < 0)
			rc = -1;
		else
			removed = 1;
	}
	if (removed) {
		for (int k = 0; k < 2; k++)
			if (str_printf(path, sizeof(path), "%s/%s", v->path,
			    k ? "cur" : "new") >= 0)
				fs_sync_dir(path);
		if (imap_view_sync(s) < 0)
			rc = -1;
	}
	return rc;
}

static void
expunge_work(struct imap_session *s)
{
	struct expunge_ctx *x = s->ctx;
	size_t count;

	if (s->uid)
		x->sel = imap_view_mark(s, &x->set, 1, &count);
	if (imap_expunge_marked(s, x->sel, 1) < 0)
		x->err = errno ? errno : EIO;
}

static void
expunge_done(struct imap_session *s)
{
	struct expunge_ctx *x = s->ctx;

	imap_view_synced(s);
	if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Some messages could not be "
		    "expunged");
	else
		imap_done(s, "OK Expunge completed");
}

IMAP_CMD(expunge)
{
	struct expunge_ctx *x;
	const char *error = NULL;

	if (s->view.readonly) {
		imap_done(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	x = xcalloc(1, sizeof(*x));
	imap_set_ctx(s, x, ctx_free);
	if (s->uid && imap_view_parse_set(s, a, 1, &x->set, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (!imap_args_done(a)) {
		imap_bad(s, "Syntax: EXPUNGE, or UID EXPUNGE set");
		return;
	}
	/* The set was read against the view the client knows: no sync
	 * before the removal, only after it. */
	imap_job_sync(s, expunge_work, expunge_done);
}
