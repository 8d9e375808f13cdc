/* SEARCH and UID SEARCH (RFC 3501 6.4.4): the program (imap_search.c)
 * runs on a worker over every message; the message is read only when a
 * key needs its header or text. */
#include <errno.h>
#include <stdlib.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_msg.h"
#include "imap/imap_search.h"
#include "imap/imap_view.h"
#include "store/mime.h"

struct search_ctx {
	struct imap_search *prog;
	int needs;
};

static void
ctx_free(void *p)
{
	struct search_ctx *x = p;

	imap_search_free(&x->prog);
	free(x);
}

static void
search_work(struct imap_session *s)
{
	struct search_ctx *x = s->ctx;
	struct imap_view *v = &s->view;

	buf_append_str(&s->out, "* SEARCH");
	for (size_t i = 0; i < v->ul.box.n; i++) {
		struct imap_search_msg m = { 0 };
		struct mime_tree *tree = NULL;
		char *data = NULL;
		size_t len;
		int hit;

		m.seq = (uint32_t)(i + 1);
		m.uid = v->ul.uids[i];
		m.size = v->ul.box.msgs[i].size;
		m.flags = imap_view_flags(s, i, &m.keywords);
		if (x->needs != 0) {
			if (imap_msg_read(v, i, x->needs ==
			    IMAP_SEARCH_NEED_HEADER, &data, &len,
			    &m.internal_date) < 0)
				continue;	/* gone: matches nothing */
			tree = mime_parse(data, len);
			m.tree = tree;
		} else if (imap_msg_date(v, i, &m.internal_date) < 0) {
			/* Gone, but the client still sees it: flags, UID and
			 * size still answer; its date is unknown. */
			m.internal_date = 0;
		}
		hit = imap_search_match(x->prog, &m);
		mime_free(&tree);
		free(data);
		if (hit)
			buf_printf(&s->out, " %u", s->uid ? m.uid : m.seq);
	}
	buf_append_str(&s->out, "\r\n");
}

IMAP_CMD(search)
{
	struct search_ctx *x = xcalloc(1, sizeof(*x));
	const struct imap_view *v = &s->view;
	size_t n = v->ul.box.n;
	const char *error = NULL;
	int rc;

	imap_set_ctx(s, x, ctx_free);
	rc = imap_search_parse(a, (const char (*)[65])v->ul.keywords,
	    (uint32_t)n, n > 0 ? v->ul.uids[n - 1] : 0, &x->prog, &error);
	if (rc == -2) {
		imap_done(s, "NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported "
		    "charset");
		return;
	}
	if (rc < 0) {
		imap_bad(s, error ? error : "Syntax error in search keys");
		return;
	}
	x->needs = imap_search_needs(x->prog);
	/* SEARCH may not report expunges (RFC 3501 7.4.1): no sync first. */
	if (s->uid)
		imap_job_sync(s, search_work, NULL);
	else
		imap_job(s, search_work, NULL);
}
