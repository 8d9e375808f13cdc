/* SELECT and EXAMINE (RFC 3501 6.3.1, 6.3.2). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"
#include "imap/imap_view.h"

struct select_ctx {
	int err;
};

static void
select_work(struct imap_session *s)
{
	struct select_ctx *x = s->ctx;
	struct imap_view *v = &s->view;
	size_t unseen = 0;

	if (!imap_mbox_exists(s->home, v->name)) {
		x->err = ENOENT;
		return;
	}
	if (imap_view_load(s) < 0) {
		x->err = errno ? errno : EIO;
		return;
	}
	imap_view_write_flags(s, &s->out);
	for (size_t i = 0; i < v->ul.box.n && unseen == 0; i++) {
		uint32_t kw;

		if (!(imap_view_flags(s, i, &kw) & UIDLIST_SEEN))
			unseen = i + 1;
	}
	buf_printf(&s->out, "* %zu EXISTS\r\n* %zu RECENT\r\n", v->ul.box.n,
	    v->nrecent);
	if (unseen > 0)
		buf_printf(&s->out, "* OK [UNSEEN %zu] First unseen.\r\n",
		    unseen);
	buf_printf(&s->out, "* OK [UIDVALIDITY %u] UIDs valid\r\n"
	    "* OK [UIDNEXT %u] Predicted next UID\r\n", v->ul.uidvalidity,
	    v->ul.uidnext);
}

static void
select_done(struct imap_session *s)
{
	struct select_ctx *x = s->ctx;

	if (x->err != 0) {
		buf_reset(&s->out);
		imap_view_close(s);
		imap_enter_state(s, IMAP_STATE_AUTH);
		if (x->err == ENOENT)
			imap_done(s, "NO [NONEXISTENT] Mailbox does not exist");
		else
			imap_done(s, "NO [SERVERBUG] Cannot open mailbox: %s",
			    strerror(x->err));
		return;
	}
	imap_view_synced(s);
	imap_enter_state(s, IMAP_STATE_SELECTED);
	imap_done(s, "OK [%s] Select completed", s->view.readonly ?
	    "READ-ONLY" : "READ-WRITE");
}

IMAP_CMD(select)
{
	char name[IMAP_FOLDER_MAX + 1], path[IMAP_PATH_MAX];

	if (imap_mbox_arg(a, name) < 0 || !imap_args_done(a)) {
		imap_bad(s, "Syntax: SELECT mailbox");
		return;
	}
	if (s->selected) {
		imap_view_close(s);
		imap_enter_state(s, IMAP_STATE_AUTH);
	}
	if (imap_mbox_path(s->home, name, path, sizeof(path)) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (imap_mbox_is_inbox(name))
		str_copy(name, sizeof(name), "INBOX");
	imap_set_ctx(s, xcalloc(1, sizeof(struct select_ctx)), free);
	imap_view_open(s, name, path, s->name[0] == 'E');
	imap_job(s, select_work, select_done);
}
