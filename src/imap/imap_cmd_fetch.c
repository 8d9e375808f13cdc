/* FETCH and UID FETCH (RFC 3501 6.4.5): runs on a worker in chunks of
 * about IMAP_OUT_CHUNK octets, the next chunk starting when the client
 * has taken most of the last, so a FETCH 1:* of a large mailbox streams
 * in bounded memory. */
#include <errno.h>
#include <stdlib.h>

#include "core/util.h"
#include "imap/imap_fetch.h"
#include "imap/imap_internal.h"
#include "imap/imap_msg.h"
#include "imap/imap_view.h"
#include "store/mime.h"

struct fetch_ctx {
	struct imap_seqset set;
	struct imap_fetch *f;
	uint8_t *sel;		/* marked once the view is in step */
	size_t next;		/* next index to look at */
	int needs;
	int need_date;
	int set_seen;
	int missing;		/* messages that were gone */
};

static void
ctx_free(void *p)
{
	struct fetch_ctx *x = p;

	imap_seqset_free(&x->set);
	imap_fetch_free(&x->f);
	free(x->sel);
	free(x);
}

static void fetch_done(struct imap_session *s);

/* One message into s->out; -1 when it is gone. */
static int
fetch_one(struct imap_session *s, struct fetch_ctx *x, size_t i)
{
	struct imap_view *v = &s->view;
	struct imap_fetch_msg fm = { 0 };
	struct mime_tree *tree = NULL;
	char *data = NULL;
	size_t len = 0, before;
	uint32_t kw;
	int rc;

	fm.seq = (uint32_t)(i + 1);
	fm.uid = v->ul.uids[i];
	fm.size = v->ul.box.msgs[i].size;
	if (x->needs != 0) {
		if (imap_msg_read(v, i, x->needs == IMAP_FETCH_NEED_HEADER,
		    &data, &len, &fm.internal_date) < 0)
			return -1;
		tree = mime_parse(data, len);
	} else if (x->need_date && imap_msg_date(v, i, &fm.internal_date) < 0) {
		return -1;
	}
	fm.flags = imap_view_flags(s, i, &kw);
	if (x->set_seen && !(fm.flags & UIDLIST_SEEN) &&
	    imap_view_set_flags(s, i, (fm.flags & ~(unsigned)
	    IMAP_SESSION_FLAG_RECENT) | UIDLIST_SEEN, kw) == 0) {
		fm.flags |= UIDLIST_SEEN;
		fm.seen_changed = 1;
	}
	fm.keywords = kw;
	fm.keyword_names = (const char (*)[65])v->ul.keywords;
	fm.tree = tree;
	before = s->out.len;
	if ((rc = imap_fetch_write(&s->out, x->f, &fm)) < 0)
		buf_truncate(&s->out, before);	/* never half a response */
	mime_free(&tree);
	free(data);
	return rc < 0 ? -1 : 0;
}

static void
fetch_work(struct imap_session *s)
{
	struct fetch_ctx *x = s->ctx;
	size_t n = s->view.ul.box.n, count;

	if (x->sel == NULL)
		x->sel = imap_view_mark(s, &x->set, s->uid, &count);
	for (; x->next < n; x->next++) {
		if (!x->sel[x->next])
			continue;
		if (fetch_one(s, x, x->next) < 0)
			x->missing++;
		if (s->out.len >= IMAP_OUT_CHUNK) {
			x->next++;
			return;
		}
	}
}

static void
fetch_more(struct imap_session *s)
{
	s->drain = NULL;
	imap_job(s, fetch_work, fetch_done);
}

static void
fetch_done(struct imap_session *s)
{
	struct fetch_ctx *x = s->ctx;

	imap_flush(s);
	if (x->next < s->view.ul.box.n) {
		if (conn_output_pending(s->c) <= CONN_OUTPUT_LOW)
			fetch_more(s);
		else
			s->drain = fetch_more;
		return;
	}
	if (x->missing > 0)
		imap_done(s, "NO [EXPUNGEISSUED] Some of the requested messages "
		    "no longer exist");
	else
		imap_done(s, "OK Fetch completed");
}

IMAP_CMD(fetch)
{
	struct fetch_ctx *x = xcalloc(1, sizeof(*x));
	const char *error = NULL;

	imap_set_ctx(s, x, ctx_free);
	if (imap_view_parse_set(s, a, s->uid, &x->set, &error) < 0 ||
	    imap_fetch_parse(a, s->uid, &x->f, &error) < 0) {
		imap_bad(s, error ? error : "Syntax: FETCH set items");
		return;
	}
	x->needs = imap_fetch_needs(x->f);
	x->need_date = imap_fetch_needs_date(x->f);
	x->set_seen = imap_fetch_sets_seen(x->f) && !s->view.readonly;
	/* FETCH may not report expunges (RFC 3501 7.4.1): no sync first. */
	if (s->uid)
		imap_job_sync(s, fetch_work, fetch_done);
	else
		imap_job(s, fetch_work, fetch_done);
}
