/* CLOSE (RFC 3501 6.4.2: expunges silently unless read-only) and
 * UNSELECT (RFC 3691: leaves everything as it is). */
#include <string.h>

#include "core/fsutil.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_view.h"

static void
close_work(struct imap_session *s)
{
	struct imap_view *v = &s->view;
	char path[IMAP_PATH_MAX + 8];
	int removed = 0;

	for (size_t i = 0; i < v->ul.box.n; i++) {
		uint32_t kw;

		if ((imap_view_flags(s, i, &kw) & UIDLIST_DELETED) &&
		    mailbox_remove(v->path, &v->ul.box, &v->ul.box.msgs[i])
		    == 0)
			removed = 1;
	}
	if (removed && str_printf(path, sizeof(path), "%s/cur", v->path) >= 0)
		fs_sync_dir(path);
}

static void
close_done(struct imap_session *s)
{
	imap_flush(s);		/* news from before; the expunges go unsaid */
	imap_view_close(s);
	imap_enter_state(s, IMAP_STATE_AUTH);
	imap_done(s, "OK %s completed", s->name[0] == 'C' ? "Close" :
	    "Unselect");
}

IMAP_CMD(close)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "Syntax: no arguments");
		return;
	}
	if (s->name[0] == 'U' || s->view.readonly) {
		close_done(s);
		return;
	}
	imap_job_sync(s, close_work, close_done);
}
