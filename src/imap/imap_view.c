/* The selected mailbox and its untagged updates. */
#include "imap/imap_view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"
#include "imap/imap_flags.h"
#include "imap/imap_internal.h"
#include "imap/imap_notify.h"

void
imap_view_open(struct imap_session *s, const char *name, const char *path,
    int readonly)
{
	struct imap_view *v = &s->view;

	imap_view_close(s);
	str_copy(v->name, sizeof(v->name), name);
	str_copy(v->path, sizeof(v->path), path);
	v->readonly = readonly;
	imap_notify_poll();
	v->watch = imap_notify_add(path, s);
	v->sync_gen = v->watch ? imap_notify_gen(v->watch) : 0;
	s->selected = 1;
}

void
imap_view_unwatch(struct imap_session *s)
{
	imap_notify_remove(s->view.watch, s);
	s->view.watch = NULL;
}

void
imap_view_close(struct imap_session *s)
{
	struct imap_view *v = &s->view;

	imap_view_unwatch(s);
	if (v->compact)
		v->ul.box.n = 0;	/* msgs and arena are gone already */
	uidlist_free(&v->ul);
	free(v->known);
	free(v->recent);
	memset(v, 0, sizeof(*v));
	s->selected = 0;
}

int
imap_view_dirty(struct imap_session *s)
{
	struct imap_view *v = &s->view;

	if (v->watch == NULL)
		return 1;
	imap_notify_poll();
	v->sync_gen = imap_notify_gen(v->watch);
	return v->sync_gen != v->seen_gen;
}

void
imap_view_synced(struct imap_session *s)
{
	s->view.seen_gen = s->view.sync_gen;
}

long
imap_view_find(const struct imap_session *s, uint32_t uid)
{
	return uidlist_find(&s->view.ul, uid);
}

/* uid among the first n (sorted) of v->recent. */
static int
recent_in(const struct imap_view *v, uint32_t uid, size_t n)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v->recent[mid] == uid)
			return 1;
		if (v->recent[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
is_recent(const struct imap_view *v, uint32_t uid)
{
	return recent_in(v, uid, v->nrecent);
}

uint32_t
imap_view_pack(unsigned flags, uint32_t kw)
{
	return (flags & 0x1f) | kw << 5;
}

static uint64_t
keywords_hash(const struct uidlist *ul)
{
	uint64_t h = 14695981039346656037ULL;

	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		for (const char *p = ul->keywords[k]; ; p++) {
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			if (*p == '\0')
				break;
		}
	return h;
}

int
imap_view_keywords_changed(const struct imap_session *s)
{
	return keywords_hash(&s->view.ul) != s->view.keywords_sent;
}

unsigned
imap_view_flags(const struct imap_session *s, size_t i, uint32_t *kw_r)
{
	const struct imap_view *v = &s->view;
	unsigned flags;

	MW_ASSERT(!v->compact);
	uidlist_flags(&v->ul.box, &v->ul.box.msgs[i], &flags, kw_r);
	if (v->nrecent > 0 && is_recent(v, v->ul.uids[i]))
		flags |= IMAP_SESSION_FLAG_RECENT;
	return flags;
}

/* The Maildir info letters for flags and keywords, in ASCII order. */
static void
info_letters(unsigned flags, uint32_t kw, char *out)
{
	size_t n = 0;

	if (flags & UIDLIST_DRAFT)
		out[n++] = 'D';
	if (flags & UIDLIST_FLAGGED)
		out[n++] = 'F';
	if (flags & UIDLIST_ANSWERED)
		out[n++] = 'R';
	if (flags & UIDLIST_SEEN)
		out[n++] = 'S';
	if (flags & UIDLIST_DELETED)
		out[n++] = 'T';
	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		if (kw & (1u << k))
			out[n++] = (char)('a' + k);
	out[n] = '\0';
}

int
imap_view_set_flags(struct imap_session *s, size_t i, unsigned flags,
    uint32_t kw)
{
	struct imap_view *v = &s->view;
	char info[40];

	info_letters(flags, kw, info);
	if (mailbox_set_info(v->path, &v->ul.box, &v->ul.box.msgs[i], info) < 0)
		return -1;
	v->known[i] = imap_view_pack(flags, kw);
	return 0;
}

void
imap_view_write_flags(struct imap_session *s, struct buf *out)
{
	struct imap_view *v = &s->view;
	int free_slot = 0;

	buf_append_str(out, "* FLAGS ");
	imap_flags_write(out, UIDLIST_SEEN | UIDLIST_ANSWERED |
	    UIDLIST_FLAGGED | UIDLIST_DELETED | UIDLIST_DRAFT, 0x3ffffff,
	    (const char (*)[UIDLIST_KEYWORD_MAX + 1])v->ul.keywords);
	buf_append_str(out, "\r\n* OK [PERMANENTFLAGS ");
	if (v->readonly) {
		buf_append_str(out, "()] Read-only mailbox.\r\n");
	} else {
		for (int k = 0; k < UIDLIST_KEYWORDS; k++)
			free_slot |= v->ul.keywords[k][0] == '\0';
		imap_flags_write(out, UIDLIST_SEEN | UIDLIST_ANSWERED |
		    UIDLIST_FLAGGED | UIDLIST_DELETED | UIDLIST_DRAFT,
		    0x3ffffff, (const char (*)[UIDLIST_KEYWORD_MAX + 1])
		    v->ul.keywords);
		if (free_slot) {
			out->len--;	/* reopen the list for \* */
			buf_append_str(out, out->data[out->len - 1] == '(' ?
			    "\\*)" : " \\*)");
		}
		buf_append_str(out, "] Flags permitted.\r\n");
	}
	v->keywords_sent = keywords_hash(&v->ul);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Messages in new/ are \Recent; a read-write session claims them by
 * moving them to cur/, so that no later session sees them so. */
static void
claim_recent(struct imap_view *v)
{
	size_t added = 0, sorted = v->nrecent;

	for (size_t i = 0; i < v->ul.box.n; i++) {
		struct mailbox_msg *m = &v->ul.box.msgs[i];

		if (m->in_cur || recent_in(v, v->ul.uids[i], sorted) ||
		    (!v->readonly && mailbox_set_info(v->path, &v->ul.box, m,
		    "") < 0))
			continue;
		v->recent = xrealloc(v->recent, (v->nrecent + 1) *
		    sizeof(*v->recent));
		v->recent[v->nrecent++] = v->ul.uids[i];
		added++;
	}
	if (added > 0)
		qsort(v->recent, v->nrecent, sizeof(*v->recent), cmp_u32);
}

/* known[] from the file names. */
static void
know_all(struct imap_session *s)
{
	struct imap_view *v = &s->view;

	free(v->known);
	v->known = xcalloc(v->ul.box.n + 1, sizeof(*v->known));
	for (size_t i = 0; i < v->ul.box.n; i++) {
		uint32_t kw;
		unsigned flags = imap_view_flags(s, i, &kw);

		v->known[i] = imap_view_pack(flags, kw);
	}
}

int
imap_view_load(struct imap_session *s)
{
	struct imap_view *v = &s->view;

	if (uidlist_sync(v->path, &v->ul) < 0)
		return -1;
	claim_recent(v);
	know_all(s);
	return 0;
}

void
imap_view_compact(struct imap_session *s)
{
	struct imap_view *v = &s->view;

	if (v->compact || !s->selected)
		return;
	free(v->ul.box.msgs);
	free(v->ul.box.arena);
	v->ul.box.msgs = NULL;
	v->ul.box.arena = NULL;
	v->ul.box.arena_len = v->ul.box.arena_cap = 0;
	v->compact = 1;
}

int
imap_view_expand(struct imap_session *s)
{
	struct imap_view *v = &s->view;
	struct uidlist fresh = { 0 };
	struct mailbox_list *box = &v->ul.box;
	size_t n = box->n;

	if (!v->compact)
		return 0;
	if (uidlist_sync(v->path, &fresh) < 0)
		return -1;
	/* The client's numbering stays: a message gone since is kept as
	 * an empty name that opens as gone; new ones wait for a sync. */
	box->msgs = xcalloc(n + 1, sizeof(*box->msgs));
	box->total_size = 0;
	for (size_t i = 0; i < n; i++) {
		long j = uidlist_find(&fresh, v->ul.uids[i]);
		struct mailbox_msg *m = &box->msgs[i];

		if (j < 0) {
			m->name_off = mailbox_list_add_name(box, "", 0);
			m->in_cur = 1;
			continue;
		}
		*m = fresh.box.msgs[j];
		m->name_off = mailbox_list_add_name(box,
		    mailbox_name(&fresh.box, &fresh.box.msgs[j]), m->name_len);
		box->total_size += m->size;
	}
	memcpy(v->ul.keywords, fresh.keywords, sizeof(v->ul.keywords));
	v->ul.uidnext = fresh.uidnext;
	uidlist_free(&fresh);
	v->compact = 0;
	return 0;
}

/* What the client knew of a message before a sync. */
struct old_msg {
	uint32_t uid, kw;
	unsigned flags;
};

int
imap_view_sync(struct imap_session *s)
{
	struct imap_view *v = &s->view;
	size_t n_old = v->ul.box.n, expunged = 0, j = 0;
	uint32_t validity = v->ul.uidvalidity;
	struct old_msg *old;

	old = xcalloc(n_old + 1, sizeof(*old));
	for (size_t i = 0; i < n_old; i++) {
		old[i].uid = v->ul.uids[i];
		old[i].flags = v->known[i] & 0x1f;
		old[i].kw = v->known[i] >> 5;
		if (v->nrecent > 0 && is_recent(v, old[i].uid))
			old[i].flags |= IMAP_SESSION_FLAG_RECENT;
	}
	if (v->compact) {
		/* The names are gone: the list is read afresh below. */
		v->ul.box.n = 0;
		v->compact = 0;
	}
	if (imap_view_load(s) < 0) {
		free(old);
		return -1;
	}
	if (v->ul.uidvalidity != validity) {
		/* The list was rebuilt: the client's UIDs mean nothing now. */
		free(old);
		errno = ESTALE;
		return -1;
	}
	/* Expunges, highest first, so lower numbers stay valid. */
	for (size_t i = n_old; i-- > 0;)
		if (imap_view_find(s, old[i].uid) < 0) {
			buf_printf(&s->out, "* %zu EXPUNGE\r\n", i + 1);
			expunged++;
		}
	if (expunged > 0 && v->nrecent > 0) {
		size_t k = 0;

		for (size_t i = 0; i < v->nrecent; i++)
			if (imap_view_find(s, v->recent[i]) >= 0)
				v->recent[k++] = v->recent[i];
		v->nrecent = k;
	}
	if (imap_view_keywords_changed(s))
		imap_view_write_flags(s, &s->out);
	if (v->ul.box.n != n_old - expunged) {
		buf_printf(&s->out, "* %zu EXISTS\r\n", v->ul.box.n);
		buf_printf(&s->out, "* %zu RECENT\r\n", v->nrecent);
	}
	/* Flags changed elsewhere. */
	for (size_t i = 0; i < v->ul.box.n; i++) {
		uint32_t kw;
		unsigned flags;

		while (j < n_old && old[j].uid < v->ul.uids[i])
			j++;
		if (j == n_old || old[j].uid != v->ul.uids[i])
			continue;
		flags = imap_view_flags(s, i, &kw);
		if (flags == old[j].flags && kw == old[j].kw)
			continue;
		buf_printf(&s->out, "* %zu FETCH (UID %u FLAGS ", i + 1,
		    v->ul.uids[i]);
		imap_flags_write(&s->out, flags, kw,
		    (const char (*)[UIDLIST_KEYWORD_MAX + 1])v->ul.keywords);
		buf_append_str(&s->out, ")\r\n");
	}
	free(old);
	return 0;
}

/* First index whose UID is at least uid. */
static size_t
lower_bound(const struct imap_view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->ul.box.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (v->ul.uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int
imap_view_parse_set(struct imap_session *s, struct imap_args *a, int uid,
    struct imap_seqset *set, const char **error_r)
{
	const struct imap_view *v = &s->view;
	size_t n = v->ul.box.n;
	uint32_t max;

	if (imap_args_next(a) != IMAP_ARG_ATOM) {
		*error_r = "Missing sequence set";
		return -1;
	}
	max = uid ? (n > 0 ? v->ul.uids[n - 1] : 0) : (uint32_t)n;
	if (imap_seqset_parse(a->val, a->len, max, set) < 0) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	for (size_t r = 0; !uid && r < set->n; r++)
		if (set->r[r].lo == 0 || set->r[r].hi > n) {
			imap_seqset_free(set);
			*error_r = "Invalid sequence number";
			return -1;
		}
	return 0;
}

uint8_t *
imap_view_mark(struct imap_session *s, const struct imap_seqset *set,
    int uid, size_t *count_r)
{
	const struct imap_view *v = &s->view;
	size_t n = v->ul.box.n, count = 0;
	uint8_t *sel = xcalloc(n + 1, 1);

	for (size_t r = 0; r < set->n; r++) {
		uint32_t lo = set->r[r].lo, hi = set->r[r].hi;

		if (!uid) {
			for (uint32_t i = lo; i <= hi && i <= n; i++)
				count += !sel[i - 1], sel[i - 1] = 1;
			continue;
		}
		for (size_t i = lower_bound(v, lo); i < n && v->ul.uids[i] <= hi;
		    i++)
			count += !sel[i], sel[i] = 1;
	}
	*count_r = count;
	return sel;
}
