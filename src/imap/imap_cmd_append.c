/* APPEND (RFC 3501 6.3.11, APPENDUID RFC 4315, LITERAL+ RFC 7888): the
 * message is written, fsynced and renamed into the folder before OK. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/server.h"
#include "core/util.h"
#include "imap/imap_flags.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"
#include "store/quota.h"
#include "imap/imap_view.h"
#include "store/maildir.h"

struct append_ctx {
	char dest[IMAP_PATH_MAX];
	unsigned flags;
	uint32_t kw;
	char keywords[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1];
	int64_t date;		/* 0: now */
	const char *msg;	/* in s->cmd, or copy */
	char *copy;
	size_t len;
	int err;
	uint32_t validity, uid;
};

static void
ctx_free(void *p)
{
	struct append_ctx *x = p;

	free(x->copy);
	free(x);
}

/* RFC 3501 date-time: "dd-Mon-yyyy hh:mm:ss +hhmm" (day may be " d"). */
static int
parse_date_time(const char *s, size_t len, int64_t *t_r)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char buf[40], mon[4];
	int d, y, hh, mm, ss, zone, n = 0;
	struct tm tm = { 0 };
	const char *m;
	time_t t;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%2d-%3c-%4d %2d:%2d:%2d %5d%n", &d, mon, &y, &hh, &mm,
	    &ss, &zone, &n) != 7 || (size_t)n != len)
		return -1;
	mon[3] = '\0';
	if ((m = strstr(months, mon)) == NULL || (m - months) % 3 != 0 ||
	    d < 1 || d > 31 || y < 1900 || hh > 23 || mm > 59 || ss > 60 ||
	    zone < -1400 || zone > 1400 || (buf[len - 5] != '+' &&
	    buf[len - 5] != '-'))
		return -1;
	tm.tm_mday = d;
	tm.tm_mon = (int)((m - months) / 3);
	tm.tm_year = y - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	t = timegm(&tm);
	/* timegm() normalises 31-Feb: a date that moved was no date. */
	if (gmtime_r(&t, &tm) == NULL || tm.tm_mday != d)
		return -1;
	*t_r = (int64_t)t - (zone / 100 * 3600 + zone % 100 * 60);
	return 0;
}

static uint64_t
wire_size(const char *p, size_t len)
{
	uint64_t size = len;

	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			size++;
	return size;
}

static void
append_work(struct imap_session *s)
{
	struct append_ctx *x = s->ctx;
	struct uidlist dl = { 0 };
	char info[40], name[MAILDIR_NAME_MAX], dir[PATH_MAX];
	uint64_t size = wire_size(x->msg, x->len);
	struct iovec iov = { .iov_base = (void *)(uintptr_t)x->msg, .iov_len = x->len };
	uint32_t kw = 0;
	size_t n = 0;

	if (access(x->dest, F_OK) < 0) {
		x->err = ENOENT;
		return;
	}
	if (quota_exceeded(s->quota, s->home, size)) {
		x->err = EDQUOT;
		return;
	}
	if (uidlist_sync(x->dest, &dl) < 0)
		goto fail;
	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		int d;

		if ((x->kw & (1u << k)) &&
		    (d = uidlist_keyword(x->dest, &dl, x->keywords[k])) >= 0)
			kw |= 1u << d;
	}
	if (x->flags & UIDLIST_DRAFT)
		info[n++] = 'D';
	if (x->flags & UIDLIST_FLAGGED)
		info[n++] = 'F';
	if (x->flags & UIDLIST_ANSWERED)
		info[n++] = 'R';
	if (x->flags & UIDLIST_SEEN)
		info[n++] = 'S';
	if (x->flags & UIDLIST_DELETED)
		info[n++] = 'T';
	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		if (kw & (1u << k))
			info[n++] = (char)('a' + k);
	info[n] = '\0';
	if (maildir_add(x->dest, settings_str(srv.set, SET_HOSTNAME), &iov, 1,
	    size, n > 0 ? info : NULL, x->date, name) < 0 ||
	    str_printf(dir, sizeof(dir), "%s/%s", x->dest, n > 0 ? "cur" :
	    "new") < 0 || fs_sync_dir(dir) < 0 || uidlist_sync(x->dest, &dl) < 0)
		goto fail;
	x->validity = dl.uidvalidity;
	for (size_t i = 0; i < dl.box.n; i++) {
		const struct mailbox_msg *m = &dl.box.msgs[i];

		if (strncmp(mailbox_name(&dl.box, m), name, m->uniq_len) == 0 &&
		    (name[m->uniq_len] == '\0' || name[m->uniq_len] == ':'))
			x->uid = dl.uids[i];
	}
	uidlist_free(&dl);
	/* Appended to the selected folder: the client hears of it now. */
	if (s->selected && strcmp(s->view.path, x->dest) == 0 &&
	    imap_view_sync(s) == 0)
		s->job_sync = 1;	/* the view is in step */
	return;
fail:
	x->err = errno ? errno : EIO;
	uidlist_free(&dl);
}

static void
append_done(struct imap_session *s)
{
	struct append_ctx *x = s->ctx;

	if (x->err == ENOENT)
		imap_done(s, "NO [TRYCREATE] Mailbox does not exist");
	else if (x->err == EDQUOT)
		imap_done(s, "NO [OVERQUOTA] Quota exceeded");
	else if (x->err != 0)
		imap_done(s, "NO [SERVERBUG] Append failed: %s",
		    strerror(x->err));
	else if (x->uid != 0)
		imap_done(s, "OK [APPENDUID %u %u] Append completed",
		    x->validity, x->uid);
	else
		imap_done(s, "OK Append completed");
}

/* The character that starts the next argument, or 0. */
static char
peek(const struct imap_args *a)
{
	const char *p = a->p;

	if (p < a->end && *p == ' ')
		p++;
	return p < a->end ? *p : '\0';
}

IMAP_CMD(append)
{
	struct append_ctx *x = xcalloc(1, sizeof(*x));
	char name[IMAP_FOLDER_MAX + 1];
	const char *error = NULL;
	int added;

	imap_set_ctx(s, x, ctx_free);
	if (imap_mbox_arg(a, name) < 0) {
		imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date] message");
		return;
	}
	if (peek(a) == '(' && imap_flags_parse(a, 1, x->keywords, 1,
	    &x->flags, &x->kw, &added, &error) < 0) {
		imap_bad(s, error ? error : "Invalid flags");
		return;
	}
	if (peek(a) == '"') {
		if (imap_args_next(a) != IMAP_ARG_STRING ||
		    parse_date_time(a->val, a->len, &x->date) < 0) {
			imap_bad(s, "Invalid date-time");
			return;
		}
	}
	if (imap_args_next(a) != IMAP_ARG_STRING || !imap_args_done(a)) {
		imap_bad(s, "Syntax: APPEND mailbox [(flags)] [date] message");
		return;
	}
	if (a->literal) {
		x->msg = a->val;
	} else {
		x->copy = xmalloc(a->len + 1);
		memcpy(x->copy, a->val, a->len);
		x->msg = x->copy;
	}
	x->len = a->len;
	if (x->len == 0) {
		imap_done(s, "NO Cannot append an empty message");
		return;
	}
	if (imap_mbox_path(s->home, name, x->dest, sizeof(x->dest)) < 0) {
		imap_done(s, "NO [CANNOT] Invalid mailbox name");
		return;
	}
	s->quota = account_user_quota(srv.db, s->login);
	imap_job_sync(s, append_work, append_done);
}
