/* STORE and UID STORE (RFC 3501 6.4.6): FLAGS, +FLAGS, -FLAGS and their
 * .SILENT forms; system flags and keywords go into the file names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "imap/imap_flags.h"
#include "imap/imap_internal.h"
#include "imap/imap_view.h"

enum { SET, ADD, REMOVE };

struct store_ctx {
	struct imap_seqset set;
	uint8_t *sel;
	int mode, silent;
	unsigned flags;
	uint32_t kw;
	int added;
	int failed;
	char keywords[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1];
};

static void
ctx_free(void *p)
{
	struct store_ctx *x = p;

	free(x->sel);
	imap_seqset_free(&x->set);
	free(x);
}

/* New keyword names get their letters in the folder's list; the bits
 * parsed against the session's copy are moved to those letters. */
static int
resolve_keywords(struct imap_session *s, struct store_ctx *x)
{
	struct imap_view *v = &s->view;
	uint32_t kw = 0;

	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		int idx = k;

		if (!(x->kw & (1u << k)))
			continue;
		if (strcmp(x->keywords[k], v->ul.keywords[k]) != 0 &&
		    (idx = uidlist_keyword(v->path, &v->ul, x->keywords[k])) <
		    0)
			return -1;
		kw |= 1u << idx;
	}
	x->kw = kw;
	return 0;
}

static void
store_work(struct imap_session *s)
{
	struct store_ctx *x = s->ctx;
	struct imap_view *v = &s->view;
	size_t count;

	x->sel = imap_view_mark(s, &x->set, s->uid, &count);
	if (x->added && resolve_keywords(s, x) < 0) {
		x->failed = errno == ENOSPC ? -2 : -1;
		return;
	}
	if (imap_view_keywords_changed(s))
		imap_view_write_flags(s, &s->out);
	for (size_t i = 0; i < v->ul.box.n; i++) {
		unsigned flags, now, recent;
		uint32_t kw, nkw;

		if (!x->sel[i])
			continue;
		flags = imap_view_flags(s, i, &kw);
		recent = flags & IMAP_SESSION_FLAG_RECENT;
		flags &= ~(unsigned)IMAP_SESSION_FLAG_RECENT;
		now = x->mode == SET ? x->flags : x->mode == ADD ?
		    flags | x->flags : flags & ~x->flags;
		nkw = x->mode == SET ? x->kw : x->mode == ADD ? kw | x->kw :
		    kw & ~x->kw;
		if ((now != flags || nkw != kw) &&
		    imap_view_set_flags(s, i, now, nkw) < 0) {
			x->failed = 1;
			continue;
		}
		if (x->silent && now == flags && nkw == kw)
			continue;
		if (x->silent && !s->uid)
			continue;
		buf_printf(&s->out, "* %zu FETCH (", i + 1);
		if (s->uid)
			buf_printf(&s->out, "UID %u ", v->ul.uids[i]);
		buf_append_str(&s->out, "FLAGS ");
		imap_flags_write(&s->out, now | recent, nkw,
		    (const char (*)[UIDLIST_KEYWORD_MAX + 1])v->ul.keywords);
		buf_append_str(&s->out, ")\r\n");
	}
}

static void
store_done(struct imap_session *s)
{
	struct store_ctx *x = s->ctx;

	if (x->failed == -2)
		imap_done(s, "NO [LIMIT] Too many keywords in this mailbox");
	else if (x->failed)
		imap_done(s, "NO [EXPUNGEISSUED] Some messages could not be "
		    "updated");
	else
		imap_done(s, "OK Store completed");
}

IMAP_CMD(store)
{
	struct store_ctx *x;
	const char *error = NULL;
	char item[16];

	x = xcalloc(1, sizeof(*x));
	imap_set_ctx(s, x, ctx_free);
	if (imap_view_parse_set(s, a, s->uid, &x->set, &error) < 0) {
		imap_bad(s, error);
		return;
	}
	if (imap_args_next(a) != IMAP_ARG_ATOM || a->len >= sizeof(item)) {
		imap_bad(s, "Syntax: STORE set [+|-]FLAGS[.SILENT] (flags)");
		return;
	}
	memcpy(item, a->val, a->len);
	item[a->len] = '\0';
	x->mode = item[0] == '+' ? ADD : item[0] == '-' ? REMOVE : SET;
	error = item + (x->mode != SET);
	if (strcasecmp(error, "FLAGS.SILENT") == 0)
		x->silent = 1;
	else if (strcasecmp(error, "FLAGS") != 0) {
		imap_bad(s, "Syntax: STORE set [+|-]FLAGS[.SILENT] (flags)");
		return;
	}
	if (s->view.readonly) {
		imap_done(s, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	memcpy(x->keywords, s->view.ul.keywords, sizeof(x->keywords));
	error = NULL;
	if (imap_flags_parse(a, 0, x->keywords, 1, &x->flags, &x->kw,
	    &x->added, &error) < 0 || !imap_args_done(a)) {
		imap_bad(s, error ? error : "Syntax: STORE set [+|-]FLAGS[.SILENT] "
		    "(flags)");
		return;
	}
	if (x->mode == REMOVE && x->added) {
		/* Removing a keyword the folder never had: nothing to do. */
		for (int k = 0; k < UIDLIST_KEYWORDS; k++)
			if (strcmp(x->keywords[k], s->view.ul.keywords[k]) != 0)
				x->kw &= ~(1u << k);
		x->added = 0;
	}
	if (s->uid)
		imap_job_sync(s, store_work, store_done);
	else
		imap_job(s, store_work, store_done);
}
