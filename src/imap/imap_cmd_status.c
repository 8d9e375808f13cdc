/* STATUS (RFC 3501 6.3.10): MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN
 * of any folder, read from its UID list and file names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"

enum { ST_MESSAGES = 1, ST_RECENT = 2, ST_UIDNEXT = 4, ST_UIDVALIDITY = 8,
	ST_UNSEEN = 16, ST_SIZE = 32 };

struct status_ctx {
	char name[IMAP_FOLDER_MAX + 1];
	char path[IMAP_PATH_MAX];
	unsigned items;
	unsigned order[8];
	int nitems;
	int err;
};

static void
status_work(struct imap_session *s)
{
	static const char *const names[] = { "MESSAGES", "RECENT", "UIDNEXT",
	    "UIDVALIDITY", "UNSEEN", "SIZE" };
	struct status_ctx *x = s->ctx;
	struct uidlist ul = { 0 };
	uint64_t v[6] = { 0 };

	if (!imap_mbox_exists(s->home, x->name)) {
		x->err = ENOENT;
		return;
	}
	if (uidlist_sync(x->path, &ul) < 0) {
		x->err = errno ? errno : EIO;
		return;
	}
	v[0] = ul.box.n;
	v[2] = ul.uidnext;
	v[3] = ul.uidvalidity;
	v[5] = ul.box.total_size;
	for (size_t i = 0; i < ul.box.n; i++) {
		const struct mailbox_msg *m = &ul.box.msgs[i];

		v[1] += !m->in_cur;
		v[4] += !m->seen;
	}
	uidlist_free(&ul);
	buf_append_str(&s->out, "* STATUS ");
	imap_mbox_write_name(&s->out, x->name);
	buf_append_str(&s->out, " (");
	for (int i = 0; i < x->nitems; i++)
		buf_printf(&s->out, "%s%s %llu", i ? " " : "",
		    names[x->order[i]], (unsigned long long)v[x->order[i]]);
	buf_append_str(&s->out, ")\r\n");
}

static void
status_done(struct imap_session *s)
{
	struct status_ctx *x = s->ctx;

	if (x->err == ENOENT) {
		buf_reset(&s->out);
		imap_done(s, "NO [NONEXISTENT] Mailbox does not exist");
	} else if (x->err != 0) {
		buf_reset(&s->out);
		imap_done(s, "NO [SERVERBUG] Cannot read mailbox: %s",
		    strerror(x->err));
	} else {
		imap_done(s, "OK Status completed");
	}
}

IMAP_CMD(status)
{
	static const char *const names[] = { "MESSAGES", "RECENT", "UIDNEXT",
	    "UIDVALIDITY", "UNSEEN", "SIZE" };
	struct status_ctx *x = xcalloc(1, sizeof(*x));
	enum imap_arg_type t;

	imap_set_ctx(s, x, free);
	if (imap_mbox_arg(a, x->name) < 0 ||
	    imap_args_next(a) != IMAP_ARG_LIST_OPEN) {
		imap_bad(s, "Syntax: STATUS mailbox (items)");
		return;
	}
	while ((t = imap_args_next(a)) == IMAP_ARG_ATOM) {
		int k = -1;

		for (int i = 0; i < 6; i++)
			if (strlen(names[i]) == a->len &&
			    strncasecmp(names[i], a->val, a->len) == 0)
				k = i;
		if (k < 0 || x->nitems == 8) {
			imap_bad(s, "Unknown STATUS item");
			return;
		}
		if (!(x->items & (1u << k))) {
			x->items |= 1u << k;
			x->order[x->nitems++] = (unsigned)k;
		}
	}
	if (t != IMAP_ARG_LIST_CLOSE || !imap_args_done(a) || x->nitems == 0) {
		imap_bad(s, "Syntax: STATUS mailbox (items)");
		return;
	}
	if (imap_mbox_path(s->home, x->name, x->path, sizeof(x->path)) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (imap_mbox_is_inbox(x->name))
		str_copy(x->name, sizeof(x->name), "INBOX");
	imap_job_sync(s, status_work, status_done);
}
