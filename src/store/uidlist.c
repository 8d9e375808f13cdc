/* The UID list of a Maildir folder.
 * SECURITY: the list file may be damaged or edited by hand: parsed
 * strictly, bounded, and rebuilt (new UIDVALIDITY) when it is bad.
 * Syncs of one folder are serialised with flock() on a lock file, so
 * two sessions never hand out the same UID. */
#include "store/uidlist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/util.h"
#include "store/maildir.h"

#define LINE_MAX_LEN 1024

struct known {
	char *name;		/* unique part, malloc'd */
	uint32_t uid;
};

struct parsed {
	uint32_t uidvalidity, uidnext;
	struct known *v;
	size_t n, cap;
	char keywords[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1];
};

static void
parsed_free(struct parsed *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int
cmp_known(const void *a, const void *b)
{
	return strcmp(((const struct known *)a)->name,
	    ((const struct known *)b)->name);
}

static int
parse_u32(const char *s, char **end, uint32_t *v)
{
	unsigned long long x;

	errno = 0;
	x = strtoull(s, end, 10);
	if (errno != 0 || *end == s || x == 0 || x > UINT32_MAX)
		return -1;
	*v = (uint32_t)x;
	return 0;
}

/* Reads the list file; -1 if it is missing or bad. */
static int
read_list(const char *path, struct parsed *p)
{
	char line[LINE_MAX_LEN];
	FILE *f = fopen(path, "re");
	uint32_t last = 0;
	int bad = 0, first = 1;

	memset(p, 0, sizeof(*p));
	if (f == NULL)
		return -1;
	while (!bad && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		char *e;

		if (len == 0 || line[len - 1] != '\n') {
			bad = 1;
			break;
		}
		line[--len] = '\0';
		if (first) {
			first = 0;
			bad = strncmp(line, "mailwarden-uidlist 1 ", 21) != 0 ||
			    parse_u32(line + 21, &e, &p->uidvalidity) < 0 ||
			    *e != ' ' || parse_u32(e + 1, &e, &p->uidnext) < 0 ||
			    *e != '\0';
		} else if (line[0] == 'K' && line[1] == ' ' &&
		    line[2] >= 'a' && line[2] <= 'z' && line[3] == ' ') {
			bad = str_copy(p->keywords[line[2] - 'a'],
			    UIDLIST_KEYWORD_MAX + 1, line + 4) < 0;
		} else if (line[0] == 'U' && line[1] == ' ') {
			uint32_t uid;

			if (parse_u32(line + 2, &e, &uid) < 0 || *e != ' ' ||
			    uid <= last || uid >= p->uidnext || e[1] == '\0' ||
			    strchr(e + 1, '/') != NULL) {
				bad = 1;
				break;
			}
			last = uid;
			if (p->n == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 64;
				p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
			}
			p->v[p->n].name = xstrdup(e + 1);
			p->v[p->n++].uid = uid;
		} else {
			bad = 1;
		}
	}
	if (ferror(f) || first)
		bad = 1;
	fclose(f);
	if (bad) {
		parsed_free(p);
		return -1;
	}
	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), cmp_known);
	return 0;
}

/* The list's first lines: version, UIDVALIDITY, UIDNEXT, keywords. */
static void
list_head(struct buf *b, uint32_t validity, uint32_t next,
    const char keywords[][UIDLIST_KEYWORD_MAX + 1])
{
	buf_init(b, 512 * 1024 * 1024);
	buf_printf(b, "mailwarden-uidlist 1 %u %u\n", validity, next);
	for (int k = 0; k < UIDLIST_KEYWORDS; k++)
		if (keywords[k][0] != '\0')
			buf_printf(b, "K %c %s\n", 'a' + k, keywords[k]);
}

/* Writes b as the list file (tmp, fsync, rename) and frees it. */
static int
list_commit(const char *maildir, struct buf *b)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct iovec iov = { .iov_base = b->data, .iov_len = b->len };
	int rc;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%016llx", maildir, UIDLIST_FILE,
	    (unsigned long long)random_u64());
	snprintf(path, sizeof(path), "%s/%s", maildir, UIDLIST_FILE);
	rc = fs_write_durable(tmp, path, &iov, 1);
	buf_release(b, 0);
	return rc;
}

static int
write_list(const char *maildir, const struct uidlist *ul)
{
	struct buf b;

	list_head(&b, ul->uidvalidity, ul->uidnext,
	    (const char (*)[UIDLIST_KEYWORD_MAX + 1])ul->keywords);
	for (size_t i = 0; i < ul->box.n; i++) {
		const struct mailbox_msg *m = &ul->box.msgs[i];

		buf_printf(&b, "U %u %.*s\n", ul->uids[i], (int)m->uniq_len,
		    mailbox_name(&ul->box, m));
	}
	return list_commit(maildir, &b);
}

static uint32_t
lookup(const struct parsed *p, const char *name, size_t len)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strncmp(p->v[mid].name, name, len);

		if (c == 0 && p->v[mid].name[len] != '\0')
			c = 1;
		if (c == 0)
			return p->v[mid].uid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int
cmp_uid(const void *a, const void *b, void *arg)
{
	const uint32_t *uids = arg;
	uint32_t x = uids[*(const size_t *)a], y = uids[*(const size_t *)b];

	return x < y ? -1 : x > y;
}

/* Sorts box and uids together by UID: new UIDs were given in delivery
 * order, but known ones may be anywhere in it. */
static void
sort_by_uid(struct uidlist *ul)
{
	size_t n = ul->box.n;
	size_t *idx;
	struct mailbox_msg *msgs;
	uint32_t *uids;

	if (n < 2)
		return;
	idx = xcalloc(n, sizeof(*idx));
	msgs = xcalloc(n, sizeof(*msgs));
	uids = xcalloc(n, sizeof(*uids));
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	qsort_r(idx, n, sizeof(*idx), cmp_uid, ul->uids);
	for (size_t i = 0; i < n; i++) {
		msgs[i] = ul->box.msgs[idx[i]];
		uids[i] = ul->uids[idx[i]];
	}
	free(ul->box.msgs);
	free(ul->uids);
	ul->box.msgs = msgs;
	ul->uids = uids;
	free(idx);
}

/* A UIDVALIDITY no earlier list of this folder had (RFC 3501 2.3.1.1):
 * the clock, but past the last one handed out, which a small file keeps
 * (a list rebuilt twice in one second still gets a new value). */
static uint32_t
new_validity(const char *maildir)
{
	char path[PATH_MAX], tmp[PATH_MAX], line[32];
	uint32_t v = (uint32_t)time(NULL), last = 0;
	struct iovec iov;
	FILE *f;
	char *e;

	snprintf(path, sizeof(path), "%s/%s", maildir, UIDLIST_VALIDITY_FILE);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL &&
		    parse_u32(line, &e, &last) == 0 && *e == '\n' &&
		    last >= v && last < UINT32_MAX)
			v = last + 1;
		fclose(f);
	}
	if (v == 0)
		v = 1;
	snprintf(line, sizeof(line), "%u\n", v);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.%016llx", maildir,
	    UIDLIST_VALIDITY_FILE, (unsigned long long)random_u64());
	iov.iov_base = line;
	iov.iov_len = strlen(line);
	(void)fs_write_durable(tmp, path, &iov, 1);
	return v;
}

int
uidlist_sync(const char *maildir, struct uidlist *ul)
{
	char path[PATH_MAX];
	struct parsed p;
	size_t matched = 0;
	int lockfd, have_list, rc = -1, err;

	snprintf(path, sizeof(path), "%s/%s.lock", maildir, UIDLIST_FILE);
	if (maildir_create(maildir) < 0 ||
	    (lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(lockfd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto out_close;
	snprintf(path, sizeof(path), "%s/%s", maildir, UIDLIST_FILE);
	have_list = read_list(path, &p) == 0;
	mailbox_list_free(&ul->box);
	free(ul->uids);
	ul->uids = NULL;
	if (mailbox_scan(maildir, &ul->box) < 0)
		goto out;
	if (have_list) {
		ul->uidvalidity = p.uidvalidity;
		ul->uidnext = p.uidnext;
		memcpy(ul->keywords, p.keywords, sizeof(ul->keywords));
	} else {
		ul->uidvalidity = new_validity(maildir);
		ul->uidnext = 1;
	}
	ul->uids = xcalloc(ul->box.n + 1, sizeof(*ul->uids));
	ul->changed = !have_list;
	for (size_t i = 0; i < ul->box.n; i++) {
		const struct mailbox_msg *m = &ul->box.msgs[i];

		ul->uids[i] = have_list ? lookup(&p, mailbox_name(&ul->box, m),
		    m->uniq_len) : 0;
		matched += ul->uids[i] != 0;
	}
	for (size_t i = 0; i < ul->box.n; i++)
		if (ul->uids[i] == 0) {
			if (ul->uidnext == UINT32_MAX) {
				errno = EOVERFLOW;
				goto out;
			}
			ul->uids[i] = ul->uidnext++;
			ul->changed = 1;
		}
	if (have_list && matched != p.n)
		ul->changed = 1;	/* some files went */
	sort_by_uid(ul);
	if (ul->changed && write_list(maildir, ul) < 0)
		goto out;
	rc = 0;
out:
	err = errno;
	if (have_list)
		parsed_free(&p);
	errno = err;
out_close:
	err = errno;
	close(lockfd);
	errno = err;
	return rc;
}

void
uidlist_free(struct uidlist *ul)
{
	mailbox_list_free(&ul->box);
	free(ul->uids);
	memset(ul, 0, sizeof(*ul));
}

void
uidlist_flags(const struct mailbox_list *box, const struct mailbox_msg *m,
    unsigned *flags_r, uint32_t *keywords_r)
{
	const char *name = mailbox_name(box, m);
	unsigned flags = 0;
	uint32_t kw = 0;

	if (m->in_cur && strncmp(name + m->uniq_len, ":2,", 3) == 0)
		for (const char *f = name + m->uniq_len + 3; *f != '\0'; f++) {
			switch (*f) {
			case 'S': flags |= UIDLIST_SEEN; break;
			case 'R': flags |= UIDLIST_ANSWERED; break;
			case 'F': flags |= UIDLIST_FLAGGED; break;
			case 'T': flags |= UIDLIST_DELETED; break;
			case 'D': flags |= UIDLIST_DRAFT; break;
			default:
				if (*f >= 'a' && *f <= 'z')
					kw |= 1u << (*f - 'a');
				break;
			}
		}
	*flags_r = flags;
	*keywords_r = kw;
}

long
uidlist_find(const struct uidlist *ul, uint32_t uid)
{
	size_t lo = 0, hi = ul->box.n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (ul->uids[mid] == uid)
			return (long)mid;
		if (ul->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int
cmp_known_uid(const void *a, const void *b)
{
	uint32_t x = ((const struct known *)a)->uid;
	uint32_t y = ((const struct known *)b)->uid;

	return x < y ? -1 : x > y;
}

/* Writes a parsed list back (its messages in UID order). */
static int
write_parsed(const char *maildir, struct parsed *p)
{
	struct buf b;

	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), cmp_known_uid);
	list_head(&b, p->uidvalidity, p->uidnext,
	    (const char (*)[UIDLIST_KEYWORD_MAX + 1])p->keywords);
	for (size_t i = 0; i < p->n; i++)
		buf_printf(&b, "U %u %s\n", p->v[i].uid, p->v[i].name);
	return list_commit(maildir, &b);
}

int
uidlist_keyword(const char *maildir, struct uidlist *ul, const char *name)
{
	char path[PATH_MAX];
	struct parsed p;
	int lockfd, k = -1, err;

	if (strlen(name) > UIDLIST_KEYWORD_MAX || strchr(name, '\n') != NULL)
		return (errno = EINVAL, -1);
	snprintf(path, sizeof(path), "%s/%s.lock", maildir, UIDLIST_FILE);
	if ((lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	while (flock(lockfd, LOCK_EX) < 0)
		if (errno != EINTR)
			goto out_close;
	snprintf(path, sizeof(path), "%s/%s", maildir, UIDLIST_FILE);
	if (read_list(path, &p) < 0) {
		errno = ESTALE;
		goto out_close;
	}
	for (int i = 0; i < UIDLIST_KEYWORDS && k < 0; i++)
		if (strcasecmp(p.keywords[i], name) == 0)
			k = i;
	if (k < 0) {
		for (int i = 0; i < UIDLIST_KEYWORDS && k < 0; i++)
			if (p.keywords[i][0] == '\0')
				k = i;
		if (k < 0) {
			errno = ENOSPC;
		} else {
			str_copy(p.keywords[k], sizeof(p.keywords[k]), name);
			if (write_parsed(maildir, &p) < 0)
				k = -1;
		}
	}
	if (k >= 0)
		memcpy(ul->keywords, p.keywords, sizeof(ul->keywords));
	err = errno;
	parsed_free(&p);
	errno = err;
out_close:
	err = errno;
	close(lockfd);
	errno = err;
	return k;
}
