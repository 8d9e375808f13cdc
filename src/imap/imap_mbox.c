/* IMAP mailbox names and Maildir++ folders.
 * SECURITY: names come from clients. imap_mbox_check() is the only way
 * in, and imap_mbox_path() refuses anything it refuses. */
#include "imap/imap_mbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/sasl.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_parse.h"
#include "store/maildir.h"
#include "store/uidlist.h"

#define FIRST_LOGIN_MARKER "mailwarden-folders"

static const struct {
	const char *name, *attr;
} specials[] = {
	{ "Sent", "\\Sent" }, { "Drafts", "\\Drafts" },
	{ "Trash", "\\Trash" }, { "Junk", "\\Junk" },
};

int
imap_mbox_is_inbox(const char *name)
{
	return strcasecmp(name, "INBOX") == 0;
}

/* Checks one "&...-" run starting after '&'; returns its end ('-') or
 * NULL. The run must decode to UTF-16 of non-ASCII characters with
 * matched surrogates and zero padding bits. */
static const char *
check_shift(const char *p)
{
	uint32_t bits = 0, high = 0;
	int nbits = 0, units = 0;

	for (; *p != '-'; p++) {
		int v = sasl_b64_value((unsigned char)*p, ',');

		if (v < 0)
			return NULL;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 16) {
			uint32_t u = (bits >> (nbits - 16)) & 0xffff;

			nbits -= 16;
			bits &= (1u << nbits) - 1;
			units++;
			if (high != 0) {
				if (u < 0xdc00 || u > 0xdfff)
					return NULL;
				high = 0;
			} else if (u >= 0xd800 && u <= 0xdbff) {
				high = u;
			} else if ((u >= 0xdc00 && u <= 0xdfff) ||
			    (u >= 0x20 && u <= 0x7e)) {
				return NULL;	/* lone low, or ASCII encoded */
			}
		}
	}
	if (units == 0 || high != 0 || nbits >= 6 || bits != 0)
		return NULL;
	return p;
}

int
imap_mbox_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > IMAP_FOLDER_MAX)
		return -1;
	if (imap_mbox_is_inbox(name))
		return 0;
	if (name[0] == IMAP_MBOX_SEP || name[len - 1] == IMAP_MBOX_SEP)
		return -1;
	for (const char *p = name; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '/' || c == '\\' ||
		    c == '*' || c == '%')
			return -1;
		if (c == IMAP_MBOX_SEP && p[1] == IMAP_MBOX_SEP)
			return -1;
		if (c == '&') {
			if (p[1] == '-') {
				p++;
				continue;
			}
			if ((p = check_shift(p + 1)) == NULL)
				return -1;
		}
	}
	return 0;
}

int
imap_mbox_path(const char *home, const char *name, char *path, size_t size)
{
	if (imap_mbox_check(name) < 0)
		return -1;
	if (imap_mbox_is_inbox(name))
		return str_copy(path, size, home);
	return str_printf(path, size, "%s/.%s", home, name) < 0 ? -1 : 0;
}

const char *
imap_mbox_special(const char *name)
{
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
		if (strcmp(specials[i].name, name) == 0)
			return specials[i].attr;
	return NULL;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
list_add(struct imap_mbox_list *l, const char *name, size_t *cap)
{
	if (l->n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		l->names = xrealloc(l->names, *cap * sizeof(*l->names));
	}
	l->names[l->n++] = xstrdup(name);
}

static int
is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
imap_mbox_list(const char *home, struct imap_mbox_list *l)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	memset(l, 0, sizeof(*l));
	list_add(l, "INBOX", &cap);
	if ((d = opendir(home)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL && l->n < IMAP_MBOX_MAX_FOLDERS) {
		if (de->d_name[0] != '.' || imap_mbox_check(de->d_name + 1) < 0
		    || imap_mbox_is_inbox(de->d_name + 1))
			continue;
		if (str_printf(path, sizeof(path), "%s/%s", home, de->d_name)
		    < 0 || !is_dir(path))
			continue;
		list_add(l, de->d_name + 1, &cap);
	}
	closedir(d);
	if (l->n > 2)
		qsort(l->names + 1, l->n - 1, sizeof(*l->names), cmp_names);
	return 0;
}

void
imap_mbox_list_free(struct imap_mbox_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
	memset(l, 0, sizeof(*l));
}

int
imap_mbox_has_children(const struct imap_mbox_list *l, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->names[i], name, len) == 0 &&
		    l->names[i][len] == IMAP_MBOX_SEP)
			return 1;
	return 0;
}

int
imap_mbox_exists(const char *home, const char *name)
{
	char path[PATH_MAX];

	if (imap_mbox_is_inbox(name))
		return 1;
	return imap_mbox_path(home, name, path, sizeof(path)) == 0 &&
	    is_dir(path);
}

int
imap_mbox_create(const char *home, const char *name)
{
	char path[PATH_MAX], part[IMAP_FOLDER_MAX + 1];

	if (imap_mbox_exists(home, name))
		return (errno = EEXIST, -1);
	if (imap_mbox_path(home, name, path, sizeof(path)) < 0)
		return (errno = EINVAL, -1);
	/* Parents first, so that "a.b" makes "a" selectable too. */
	for (const char *p = strchr(name, IMAP_MBOX_SEP); p != NULL;
	    p = strchr(p + 1, IMAP_MBOX_SEP)) {
		char ppath[PATH_MAX];

		if (str_printf(part, sizeof(part), "%.*s", (int)(p - name),
		    name) < 0 || imap_mbox_path(home, part, ppath,
		    sizeof(ppath)) < 0 || maildir_create(ppath) < 0)
			return -1;
	}
	return maildir_create(path);
}

/* Removes every file in dir (not subdirectories), then dir. */
static int
remove_dir_files(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (str_printf(path, sizeof(path), "%s/%s", dir, de->d_name)
		    >= 0)
			unlink(path);
	}
	closedir(d);
	return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}

int
imap_mbox_delete(const char *home, const char *name)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	char path[PATH_MAX], sub[PATH_MAX];

	if (imap_mbox_is_inbox(name) ||
	    imap_mbox_path(home, name, path, sizeof(path)) < 0)
		return (errno = EINVAL, -1);
	if (!is_dir(path))
		return (errno = ENOENT, -1);
	for (size_t i = 0; i < 3; i++)
		if (str_printf(sub, sizeof(sub), "%s/%s", path, subs[i]) < 0 ||
		    remove_dir_files(sub) < 0)
			return -1;
	if (remove_dir_files(path) < 0)
		return -1;
	return fs_sync_dir(home);
}

int
imap_mbox_rename(const char *home, const char *from, const char *to)
{
	struct imap_mbox_list l;
	size_t flen = strlen(from);
	int rc = 0;

	if (imap_mbox_exists(home, to))
		return (errno = EEXIST, -1);
	if (imap_mbox_list(home, &l) < 0)
		return -1;
	for (size_t i = 1; i < l.n && rc == 0; i++) {
		char src[PATH_MAX], dst[PATH_MAX], name[IMAP_FOLDER_MAX + 1];
		const char *n = l.names[i];

		if (strncmp(n, from, flen) != 0 ||
		    (n[flen] != '\0' && n[flen] != IMAP_MBOX_SEP))
			continue;
		if (str_printf(name, sizeof(name), "%s%s", to, n + flen) < 0 ||
		    imap_mbox_path(home, n, src, sizeof(src)) < 0 ||
		    imap_mbox_path(home, name, dst, sizeof(dst)) < 0) {
			errno = EINVAL;
			rc = -1;
			break;
		}
		if (rename(src, dst) < 0)
			rc = -1;
	}
	imap_mbox_list_free(&l);
	if (rc == 0) {
		/* Parents of the new name, as CREATE makes them. */
		const char *p = strrchr(to, IMAP_MBOX_SEP);
		char parent[IMAP_FOLDER_MAX + 1];

		if (p != NULL && str_printf(parent, sizeof(parent), "%.*s",
		    (int)(p - to), to) >= 0 && !imap_mbox_exists(home, parent))
			imap_mbox_create(home, parent);
		rc = fs_sync_dir(home);
	}
	return rc;
}

int
imap_mbox_subscriptions(const char *home, struct imap_mbox_list *l)
{
	char path[PATH_MAX], line[IMAP_FOLDER_MAX + 2];
	size_t cap = 0;
	FILE *f;

	memset(l, 0, sizeof(*l));
	if (str_printf(path, sizeof(path), "%s/%s", home,
	    IMAP_MBOX_SUBSCRIPTIONS) < 0)
		return -1;
	if ((f = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL &&
	    l->n < IMAP_MBOX_MAX_FOLDERS) {
		line[strcspn(line, "\r\n")] = '\0';
		if (imap_mbox_check(line) == 0)
			list_add(l, line, &cap);
	}
	fclose(f);
	return 0;
}

int
imap_mbox_subscribe(const char *home, const char *name, int on)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct imap_mbox_list l;
	struct iovec iov;
	struct buf b;
	int found = 0, rc;

	if (imap_mbox_subscriptions(home, &l) < 0)
		return -1;
	buf_init(&b, (IMAP_FOLDER_MAX + 2) * (IMAP_MBOX_MAX_FOLDERS + 1));
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.names[i], name) == 0) {
			found = 1;
			if (!on)
				continue;
		}
		buf_printf(&b, "%s\n", l.names[i]);
	}
	if (on && !found)
		buf_printf(&b, "%s\n", name);
	imap_mbox_list_free(&l);
	if (found == on) {
		buf_release(&b, 0);
		return 0;
	}
	iov.iov_base = b.data ? b.data : "";
	iov.iov_len = b.len;
	if (maildir_create(home) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s/tmp/%s.%016llx", home,
	    IMAP_MBOX_SUBSCRIPTIONS, (unsigned long long)random_u64()) < 0 ||
	    str_printf(path, sizeof(path), "%s/%s", home,
	    IMAP_MBOX_SUBSCRIPTIONS) < 0)
		rc = -1;
	else
		rc = fs_write_durable(tmp, path, &iov, 1);
	buf_release(&b, 0);
	return rc;
}

int
imap_mbox_first_login(const char *home)
{
	char path[PATH_MAX];
	struct iovec iov = { .iov_base = "1\n", .iov_len = 2 };

	if (str_printf(path, sizeof(path), "%s/%s", home, FIRST_LOGIN_MARKER)
	    < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	if (maildir_create(home) < 0)
		return -1;
	imap_mbox_subscribe(home, "INBOX", 1);
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		if (!imap_mbox_exists(home, specials[i].name) &&
		    imap_mbox_create(home, specials[i].name) < 0)
			return -1;
		imap_mbox_subscribe(home, specials[i].name, 1);
	}
	if (fs_write_file(path, &iov, 1) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int
imap_mbox_match(const char *pat, const char *name)
{
	/* ok[j]: pat[0..i) matches name[0..j). O(|pat| |name|), bounded. */
	unsigned char ok[IMAP_FOLDER_MAX + 2], next[IMAP_FOLDER_MAX + 2];
	size_t n = strlen(name), plen = strlen(pat);

	if (n > IMAP_FOLDER_MAX || plen > 4 * IMAP_FOLDER_MAX)
		return 0;
	memset(ok, 0, n + 1);
	ok[0] = 1;
	for (size_t i = 0; i < plen; i++) {
		char c = pat[i];

		memset(next, 0, n + 1);
		for (size_t j = 0; j <= n; j++) {
			if (c == '*' || c == '%') {
				/* Zero characters, or one more after a match. */
				next[j] = ok[j] || (j > 0 && next[j - 1] &&
				    (c == '*' || name[j - 1] != IMAP_MBOX_SEP));
			} else {
				next[j] = j > 0 && ok[j - 1] && name[j - 1] == c;
			}
		}
		memcpy(ok, next, n + 1);
	}
	return ok[n];
}

void
imap_mbox_write_name(struct buf *out, const char *name)
{
	int atom = name[0] != '\0';

	for (const char *p = name; *p != '\0' && atom; p++)
		atom = strchr("(){ %*\"\\]", *p) == NULL &&
		    (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f;
	if (atom) {
		buf_append_str(out, name);
		return;
	}
	buf_append_str(out, "\"");
	for (const char *p = name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_append_str(out, "\\");
		buf_append(out, p, 1);
	}
	buf_append_str(out, "\"");
}

int
imap_mbox_arg(struct imap_args *a, char *name)
{
	enum imap_arg_type t = imap_args_next(a);

	if (t != IMAP_ARG_ATOM && t != IMAP_ARG_STRING)
		return -1;
	name[0] = '\0';
	/* Too long or with NUL: left empty, which no check lets through. */
	if (a->len > IMAP_FOLDER_MAX || memchr(a->val, '\0', a->len) != NULL)
		return 0;
	memcpy(name, a->val, a->len);
	name[a->len] = '\0';
	return 0;
}
