/* COPY, MOVE (RFC 6851) and their UID forms, with COPYUID (RFC 4315).
 * Copies are hard links into the destination's cur/ (its directory is
 * fsynced before OK); the destination's UID list then numbers them. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/server.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"
#include "store/quota.h"
#include "imap/imap_view.h"
#include "store/maildir.h"

struct copy_ctx {
	struct imap_seqset set;
	char dest[IMAP_PATH_MAX];
	int move;
	int err;		/* errno, or ENOENT: no destination */
	int same;		/* destination is the selected folder */
	struct buf copyuid;	/* "[COPYUID ...]" */
};

static void
ctx_free(void *p)
{
	struct copy_ctx *x = p;

	imap_seqset_free(&x->set);
	buf_release(&x->copyuid, 0);
	free(x);
}

/* The Maildir info of message i for the destination: its system flags,
 * and its keywords under the destination's letters. */
static void
dest_info(struct imap_session *s, size_t i, struct uidlist *dl,
    const char *dest, char *info)
{
	struct imap_view *v = &s->view;
	static const struct { unsigned f; char c; } sys[] = {
		{ UIDLIST_DRAFT, 'D' }, { UIDLIST_FLAGGED, 'F' },
		{ UIDLIST_ANSWERED, 'R' }, { UIDLIST_SEEN, 'S' },
		{ UIDLIST_DELETED, 'T' },
	};
	uint32_t kw, dkw = 0;
	unsigned flags;
	size_t n = 0;

	uidlist_flags(&v->ul.box, &v->ul.box.msgs[i], &flags, &kw);
	for (size_t k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
		if (flags & sys[k].f)
			info[n++] = sys[k].c;
	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		int d;

		if (!(kw & (1u << k)) || v->ul.keywords[k][0] == '\0')
			continue;
		if ((d = uidlist_keyword(dest, dl, v->ul.keywords[k])) >= 0)
			dkw |= 1u << d;
	}
	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		if (dkw & (1u << k))
			info[n++] = (char)('a' + k);
	info[n] = '\0';
}

static void
copy_work(struct imap_session *s)
{
	struct copy_ctx *x = s->ctx;
	struct imap_view *v = &s->view;
	struct uidlist dl = { 0 };
	char **names = NULL, path[PATH_MAX], info[40];
	size_t count, k = 0, total = 0;
	uint8_t *sel = imap_view_mark(s, &x->set, s->uid, &count);
	uint32_t *src_uids = xcalloc(count + 1, sizeof(*src_uids));
	const char *host = settings_str(srv.set, SET_HOSTNAME);

	names = xcalloc(count + 1, sizeof(*names));
	for (size_t i = 0; i < v->ul.box.n; i++)
		if (sel[i])
			total += v->ul.box.msgs[i].size;
	if (count > 0 && quota_exceeded(s->quota, s->home, total)) {
		x->err = EDQUOT;
		goto out;
	}
	/* Keyword letters need the destination's list to exist. */
	if (uidlist_sync(x->dest, &dl) < 0) {
		x->err = errno;
		goto out;
	}
	for (size_t i = 0; i < v->ul.box.n; i++) {
		struct mailbox_msg *m = &v->ul.box.msgs[i];
		char name[MAILDIR_NAME_MAX];
		int fd;

		if (!sel[i])
			continue;
		/* Found again if it moved; gone ones are skipped. */
		if ((fd = mailbox_open(v->path, &v->ul.box, m)) < 0)
			continue;
		close(fd);
		dest_info(s, i, &dl, x->dest, info);
		if (mailbox_path(v->path, &v->ul.box, m, path, sizeof(path)) <
		    0 || maildir_link(x->dest, host, path, m->size, info, name)
		    < 0) {
			x->err = errno ? errno : EIO;
			break;
		}
		names[k] = xstrndup(name, strcspn(name, ":"));
		src_uids[k++] = v->ul.uids[i];
	}
	if (str_printf(path, sizeof(path), "%s/cur", x->dest) >= 0 && k > 0 &&
	    fs_sync_dir(path) < 0 && x->err == 0)
		x->err = errno;
	if (k > 0 && uidlist_sync(x->dest, &dl) == 0) {
		buf_printf(&x->copyuid, "[COPYUID %u ", dl.uidvalidity);
		for (size_t j = 0; j < k; j++)
			buf_printf(&x->copyuid, "%s%u", j ? "," : "",
			    src_uids[j]);
		buf_append_str(&x->copyuid, " ");
		for (size_t j = 0; j < k; j++) {
			uint32_t uid = 0;

			for (size_t d = 0; d < dl.box.n && uid == 0; d++) {
				const struct mailbox_msg *m = &dl.box.msgs[d];

				if (m->uniq_len == strlen(names[j]) &&
				    memcmp(mailbox_name(&dl.box, m), names[j],
				    m->uniq_len) == 0)
					uid = dl.uids[d];
			}
			buf_printf(&x->copyuid, "%s%u", j ? "," : "", uid);
		}
		buf_append_str(&x->copyuid, "] ");
	}
	if (x->move && x->err == 0) {
		if (x->copyuid.len > 0)
			buf_printf(&s->out, "* OK %sMoved\r\n", x->copyuid.data);
		buf_reset(&x->copyuid);
		for (size_t i = 0; i < v->ul.box.n; i++)
			if (sel[i])
				mailbox_remove(v->path, &v->ul.box,
				    &v->ul.box.msgs[i]);
		for (int d = 0; d < 2; d++)
			if (str_printf(path, sizeof(path), "%s/%s", v->path,
			    d ? "cur" : "new") >= 0)
				fs_sync_dir(path);
		if (imap_view_sync(s) < 0 && x->err == 0)
			x->err = errno;
	}
out:
	for (size_t j = 0; j < k; j++)
		free(names[j]);
	free(names);
	free(src_uids);
	free(sel);
	uidlist_free(&dl);
}

static void
copy_done(struct imap_session *s)
{
	struct copy_ctx *x = s->ctx;

	if (x->err == EDQUOT)
		imap_done(s, "NO [OVERQUOTA] Quota exceeded");
	else if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] %s failed: %s", x->move ? "Move" :
		    "Copy", strerror(x->err));
	else
		imap_done(s, "OK %s%s completed", x->copyuid.data ?
		    x->copyuid.data : "", x->move ? "Move" : "Copy");
}

static void
check_work(struct imap_session *s)
{
	struct copy_ctx *x = s->ctx;

	/* The destination must exist: the client may CREATE it. */
	if (access(x->dest, F_OK) < 0) {
		x->err = ENOENT;
		return;
	}
	copy_work(s);
}

static void
check_done(struct imap_session *s)
{
	struct copy_ctx *x = s->ctx;

	if (x->err == ENOENT) {
		imap_done(s, "NO [TRYCREATE] Mailbox does not exist");
		return;
	}
	copy_done(s);
}

IMAP_CMD(copy)
{
	struct copy_ctx *x = xcalloc(1, sizeof(*x));
	char name[IMAP_FOLDER_MAX + 1];
	const char *error = NULL;

	imap_set_ctx(s, x, ctx_free);
	s->quota = account_user_quota(srv.db, s->login);
	buf_init(&x->copyuid, 64 * 1024 * 1024);
	x->move = s->name[0] == 'M';
	if (imap_view_parse_set(s, a, s->uid, &x->set, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (imap_mbox_arg(a, name) < 0 || !imap_args_done(a)) {
		imap_bad(s, "Syntax: COPY set mailbox");
		return;
	}
	if (imap_mbox_path(s->home, name, x->dest, sizeof(x->dest)) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	if (x->move && s->view.readonly) {
		imap_done(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	/* COPY reports no expunges (RFC 3501 7.4.1); UID forms sync. */
	if (s->uid)
		imap_job_sync(s, check_work, check_done);
	else
		imap_job(s, check_work, check_done);
}
