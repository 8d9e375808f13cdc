/* Maildir mailboxes as message lists.
 * SECURITY: maildir paths come from stored, validated account names;
 * file names come from readdir(), never from clients. Files are opened
 * with O_NOFOLLOW and must be regular files. */
#include "store/mailbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/util.h"

static const char *const subdir[2] = { "new", "cur" };

/* Length of the unique part of a Maildir name (before ":2,"). */
static size_t
uniq_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon ? (size_t)(colon - name) : strlen(name);
}

/* The value of ",KEY=digits" inside the unique part, or -1. */
static int
name_number(const char *name, size_t len, const char *key, uint64_t *v_r)
{
	size_t klen = strlen(key);

	for (const char *p = name; (p = memmem(p, len - (size_t)(p - name),
	    key, klen)) != NULL; p += klen) {
		const char *d = p + klen;
		uint64_t v = 0;
		size_t nd = 0;

		while (d < name + len && *d >= '0' && *d <= '9' && nd < 19) {
			v = v * 10 + (uint64_t)(*d++ - '0');
			nd++;
		}
		if (nd > 0 && (d == name + len || *d == ',' || *d == '.')) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

/* Delivery time from "SECONDS.M<usec>..." names; 0 if not that form. */
static uint64_t
name_order(const char *name)
{
	uint64_t sec = 0, usec = 0;
	const char *p = name;
	size_t n = 0;

	while (*p >= '0' && *p <= '9' && n++ < 12)
		sec = sec * 10 + (uint64_t)(*p++ - '0');
	if (p[0] == '.' && p[1] == 'M')
		for (p += 2, n = 0; *p >= '0' && *p <= '9' && n++ < 6; p++)
			usec = usec * 10 + (uint64_t)(*p - '0');
	return sec * 1000000 + usec;
}

static int
has_flag(const char *name, char flag)
{
	const char *info = strstr(name, ":2,");

	return info != NULL && strchr(info + 3, flag) != NULL;
}

int
mailbox_wire_size(int fd, uint64_t *size_r)
{
	char b[65536];
	uint64_t size = 0;
	char last = '\n';
	ssize_t n;
	off_t off = 0;

	while ((n = pread(fd, b, sizeof(b), off)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (b[i] == '\n' && last != '\r')
				size++;
			last = b[i];
		}
		size += (uint64_t)n;
		off += n;
	}
	if (off > 0 && last != '\n')
		size += 2;
	*size_r = size;
	return 0;
}

static uint32_t
arena_add(struct mailbox_list *l, const char *name, size_t len)
{
	uint32_t off;

	if (l->arena_len + len + 1 > l->arena_cap) {
		l->arena_cap = l->arena_cap ? l->arena_cap * 2 : 4096;
		while (l->arena_len + len + 1 > l->arena_cap)
			l->arena_cap *= 2;
		l->arena = xrealloc(l->arena, l->arena_cap);
	}
	off = (uint32_t)l->arena_len;
	memcpy(l->arena + off, name, len);
	l->arena[off + len] = '\0';
	l->arena_len += len + 1;
	return off;
}

uint32_t
mailbox_list_add_name(struct mailbox_list *l, const char *name, size_t len)
{
	return arena_add(l, name, len);
}

static int
open_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return (errno = ENOENT, -1);
	}
	return fd;
}

static int
add_entry(struct mailbox_list *l, const char *maildir, int cur,
    const char *name, size_t *cap)
{
	struct mailbox_msg *m;
	size_t len = strlen(name), ulen = uniq_len(name);
	char path[PATH_MAX];
	uint64_t size;

	if (name_number(name, ulen, ",W=", &size) < 0 &&
	    name_number(name, ulen, ",S=", &size) < 0) {
		int fd, rc;

		if (str_printf(path, sizeof(path), "%s/%s/%s", maildir,
		    subdir[cur], name) < 0 || (fd = open_file(path)) < 0)
			return 0;	/* gone, or not a message: skipped */
		rc = mailbox_wire_size(fd, &size);
		close(fd);
		if (rc < 0)
			return 0;
	}
	if (l->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		l->msgs = xrealloc(l->msgs, *cap * sizeof(*l->msgs));
	}
	m = &l->msgs[l->n++];
	memset(m, 0, sizeof(*m));
	m->size = size;
	m->order = name_order(name);
	m->name_off = arena_add(l, name, len);
	m->name_len = (uint16_t)len;
	m->uniq_len = (uint16_t)ulen;
	m->in_cur = (uint8_t)cur;
	m->seen = cur && has_flag(name, 'S');
	return 0;
}

static int
cmp_msg(const void *a, const void *b, void *arg)
{
	const struct mailbox_msg *x = a, *y = b;
	const struct mailbox_list *l = arg;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(mailbox_name(l, x), mailbox_name(l, y));
}

int
mailbox_scan(const char *maildir, struct mailbox_list *l)
{
	size_t cap = 0, keep = 0;
	char path[PATH_MAX];

	memset(l, 0, sizeof(*l));
	for (int cur = 0; cur < 2; cur++) {
		struct dirent *de;
		DIR *d;

		if (str_printf(path, sizeof(path), "%s/%s", maildir,
		    subdir[cur]) < 0)
			return (errno = ENAMETOOLONG, -1);
		if ((d = opendir(path)) == NULL) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		while ((de = readdir(d)) != NULL &&
		    l->n < MAILBOX_MAX_MESSAGES) {
			if (de->d_name[0] == '.' ||
			    strlen(de->d_name) > UINT16_MAX)
				continue;
			add_entry(l, maildir, cur, de->d_name, &cap);
		}
		closedir(d);
	}
	if (l->n > 1)
		qsort_r(l->msgs, l->n, sizeof(*l->msgs), cmp_msg, l);
	/* A file moved from new/ to cur/ during the scan shows twice. */
	for (size_t i = 0; i < l->n; i++) {
		const struct mailbox_msg *m = &l->msgs[i];

		if (keep > 0) {
			const struct mailbox_msg *p = &l->msgs[keep - 1];

			if (p->uniq_len == m->uniq_len && memcmp(
			    mailbox_name(l, p), mailbox_name(l, m),
			    m->uniq_len) == 0)
				continue;
		}
		l->msgs[keep++] = *m;
		l->total_size += m->size;
	}
	l->n = keep;
	return 0;
}

void
mailbox_list_free(struct mailbox_list *l)
{
	free(l->msgs);
	free(l->arena);
	memset(l, 0, sizeof(*l));
}

void
mailbox_uid(const struct mailbox_list *l, const struct mailbox_msg *m,
    char *uid)
{
	const char *name = mailbox_name(l, m);
	uint64_t h1 = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
	int ok = m->uniq_len > 0 && m->uniq_len <= MAILBOX_UID_MAX;

	for (size_t i = 0; ok && i < m->uniq_len; i++)
		ok = name[i] > 0x20 && name[i] < 0x7f;
	if (ok) {
		memcpy(uid, name, m->uniq_len);
		uid[m->uniq_len] = '\0';
		return;
	}
	for (size_t i = 0; i < m->uniq_len; i++) {
		h1 = (h1 ^ (unsigned char)name[i]) * 1099511628211ULL;
		h2 = (h2 ^ (unsigned char)name[i]) * 0x100000001b3ULL + i;
	}
	snprintf(uid, MAILBOX_UID_MAX + 1, "H%016llx%016llx",
	    (unsigned long long)h1, (unsigned long long)h2);
}

/* Finds m's unique name in new/ or cur/ and points m at it. */
static int
locate(const char *maildir, struct mailbox_list *l, struct mailbox_msg *m)
{
	char uniq[NAME_MAX + 1], path[PATH_MAX];

	if (m->uniq_len > NAME_MAX)
		return (errno = ENOENT, -1);
	memcpy(uniq, mailbox_name(l, m), m->uniq_len);
	uniq[m->uniq_len] = '\0';
	for (int cur = 0; cur < 2; cur++) {
		struct dirent *de;
		DIR *d;

		if (str_printf(path, sizeof(path), "%s/%s", maildir,
		    subdir[cur]) < 0 || (d = opendir(path)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);

			if (uniq_len(de->d_name) != m->uniq_len ||
			    memcmp(de->d_name, uniq, m->uniq_len) != 0 ||
			    len > UINT16_MAX)
				continue;
			m->name_off = arena_add(l, de->d_name, len);
			m->name_len = (uint16_t)len;
			m->in_cur = (uint8_t)cur;
			m->seen = cur && has_flag(de->d_name, 'S');
			closedir(d);
			return 0;
		}
		closedir(d);
	}
	return (errno = ENOENT, -1);
}

static int
msg_path(const char *maildir, const struct mailbox_list *l,
    const struct mailbox_msg *m, char *path, size_t size)
{
	return str_printf(path, size, "%s/%s/%s", maildir, subdir[m->in_cur],
	    mailbox_name(l, m));
}

int
mailbox_open(const char *maildir, struct mailbox_list *l,
    struct mailbox_msg *m)
{
	char path[PATH_MAX];
	int fd;

	if (msg_path(maildir, l, m, path, sizeof(path)) < 0)
		return (errno = ENAMETOOLONG, -1);
	fd = open_file(path);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	if (locate(maildir, l, m) < 0 ||
	    msg_path(maildir, l, m, path, sizeof(path)) < 0)
		return (errno = ENOENT, -1);
	return open_file(path);
}

int
mailbox_read_cached(const char *maildir, const struct mailbox_list *l,
    const struct mailbox_msg *m, size_t max, char **data_r, size_t *len_r)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
		.resolve = RESOLVE_CACHED | RESOLVE_NO_SYMLINKS,
	};
	char path[PATH_MAX], *data;
	struct iovec iov;
	struct stat st;
	ssize_t n;
	int fd;

	if (msg_path(maildir, l, m, path, sizeof(path)) < 0)
		return (errno = EAGAIN, -1);
	fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	if (fd < 0)
		return (errno = EAGAIN, -1);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > max) {
		close(fd);
		return (errno = EAGAIN, -1);
	}
	data = xmalloc((size_t)st.st_size + 1);
	iov.iov_base = data;
	iov.iov_len = (size_t)st.st_size;
	n = st.st_size > 0 ? preadv2(fd, &iov, 1, 0, RWF_NOWAIT) : 0;
	close(fd);
	if (n != st.st_size) {
		free(data);
		return (errno = EAGAIN, -1);
	}
	*data_r = data;
	*len_r = (size_t)n;
	return 0;
}

/* The name m gets in cur/ with the S flag: flags stay in ASCII order. */
static int
seen_name(const struct mailbox_list *l, const struct mailbox_msg *m,
    char *out, size_t size)
{
	const char *name = mailbox_name(l, m), *info = NULL;
	char flags[64];
	size_t n = 0;

	if (m->in_cur && strncmp(name + m->uniq_len, ":2,", 3) == 0)
		info = name + m->uniq_len + 3;
	for (const char *f = info; f != NULL && *f != '\0' &&
	    n < sizeof(flags) - 2; f++)
		if (*f != 'S')
			flags[n++] = *f;
	flags[n] = '\0';
	for (n = 0; flags[n] != '\0' && flags[n] < 'S'; n++)
		;
	return str_printf(out, size, "%.*s:2,%.*sS%s", (int)m->uniq_len,
	    name, (int)n, flags, flags + n);
}

static int
apply(const char *maildir, struct mailbox_list *l, struct mailbox_msg *m,
    uint8_t action, int dirty[2])
{
	char path[PATH_MAX], dst[PATH_MAX], name[NAME_MAX + 1];

	for (int tries = 0; tries < 2; tries++) {
		if (msg_path(maildir, l, m, path, sizeof(path)) < 0)
			return -1;
		if (action == MAILBOX_DELETE) {
			if (unlink(path) == 0) {
				dirty[m->in_cur] = 1;
				return 0;
			}
		} else {
			if (m->in_cur && m->seen)
				return 0;
			if (seen_name(l, m, name, sizeof(name)) < 0 ||
			    str_printf(dst, sizeof(dst), "%s/cur/%s", maildir,
			    name) < 0)
				return -1;
			if (rename(path, dst) == 0) {
				dirty[m->in_cur] = dirty[1] = 1;
				return 0;
			}
		}
		if (errno != ENOENT)
			return -1;
		if (locate(maildir, l, m) < 0)
			return action == MAILBOX_DELETE ? 0 : -1;
	}
	return -1;
}

size_t
mailbox_update(const char *maildir, struct mailbox_list *l,
    const uint8_t *actions)
{
	char path[PATH_MAX];
	int dirty[2] = { 0, 0 };
	size_t failed = 0;

	for (size_t i = 0; i < l->n; i++)
		if (actions[i] != MAILBOX_KEEP &&
		    apply(maildir, l, &l->msgs[i], actions[i], dirty) < 0)
			failed++;
	for (int cur = 0; cur < 2; cur++)
		if (dirty[cur] && (str_printf(path, sizeof(path), "%s/%s",
		    maildir, subdir[cur]) < 0 || fs_sync_dir(path) < 0))
			failed++;
	return failed;
}

int
mailbox_path(const char *maildir, const struct mailbox_list *l,
    const struct mailbox_msg *m, char *path, size_t size)
{
	return msg_path(maildir, l, m, path, size);
}

int
mailbox_set_info(const char *maildir, struct mailbox_list *l,
    struct mailbox_msg *m, const char *info)
{
	char path[PATH_MAX], dst[PATH_MAX], name[NAME_MAX + 1];
	const char *old = mailbox_name(l, m);
	size_t len;

	if (m->in_cur && strncmp(old + m->uniq_len, ":2,", 3) == 0 &&
	    strcmp(old + m->uniq_len + 3, info) == 0)
		return 0;
	if (str_printf(name, sizeof(name), "%.*s:2,%s", (int)m->uniq_len, old,
	    info) < 0 || str_printf(dst, sizeof(dst), "%s/cur/%s", maildir,
	    name) < 0)
		return (errno = ENAMETOOLONG, -1);
	for (int tries = 0; tries < 2; tries++) {
		if (msg_path(maildir, l, m, path, sizeof(path)) < 0)
			return (errno = ENAMETOOLONG, -1);
		if (rename(path, dst) == 0) {
			len = strlen(name);
			m->name_off = arena_add(l, name, len);
			m->name_len = (uint16_t)len;
			m->in_cur = 1;
			m->seen = strchr(info, 'S') != NULL;
			return 0;
		}
		if (errno != ENOENT || locate(maildir, l, m) < 0)
			return -1;
	}
	return -1;
}

int
mailbox_remove(const char *maildir, struct mailbox_list *l,
    struct mailbox_msg *m)
{
	char path[PATH_MAX];

	for (int tries = 0; tries < 2; tries++) {
		if (msg_path(maildir, l, m, path, sizeof(path)) < 0)
			return (errno = ENAMETOOLONG, -1);
		if (unlink(path) == 0)
			return 0;
		if (errno != ENOENT)
			return -1;
		if (locate(maildir, l, m) < 0)
			return 0;	/* already gone */
	}
	return -1;
}
