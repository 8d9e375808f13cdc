/* Maildir delivery.
 * SECURITY: maildir paths come from stored, validated account names,
 * never from client input. */
#include "store/maildir.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/util.h"

static atomic_uint maildir_seq;

int
maildir_create(const char *maildir)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char path[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		if (str_printf(path, sizeof(path), "%s/%s", maildir, sub[i]) < 0)
			return (errno = ENAMETOOLONG, -1);
		if (fs_mkdirs(path) < 0)
			return -1;
	}
	return 0;
}

int
maildir_unique(const char *host, uint64_t size, char *name_r)
{
	char safe_host[128];
	struct timeval tv;
	size_t i;

	/* Maildir names may not contain '/' or ':' (the info separator). */
	for (i = 0; host[i] != '\0' && i < sizeof(safe_host) - 1; i++)
		safe_host[i] = host[i] == '/' || host[i] == ':' ? '_' : host[i];
	safe_host[i] = '\0';
	gettimeofday(&tv, NULL);
	if (str_printf(name_r, MAILDIR_NAME_MAX,
	    "%lld.M%ldP%dQ%uR%08x.%s,S=%llu", (long long)tv.tv_sec,
	    (long)tv.tv_usec, (int)getpid(),
	    atomic_fetch_add(&maildir_seq, 1) + 1, (unsigned)random_u64(),
	    safe_host, (unsigned long long)size) < 0)
		return (errno = ENAMETOOLONG, -1);
	return 0;
}

int
maildir_deliver(const char *maildir, const char *host,
    const struct iovec *iov, int iovcnt, size_t size, char *name_r)
{
	char tmp[PATH_MAX], dst[PATH_MAX];

	if (maildir_create(maildir) < 0 || maildir_unique(host, size, name_r)
	    < 0)
		return -1;
	if (str_printf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name_r) < 0 ||
	    str_printf(dst, sizeof(dst), "%s/new/%s", maildir, name_r) < 0)
		return (errno = ENAMETOOLONG, -1);
	return fs_write_durable(tmp, dst, iov, iovcnt);
}

/* The final name and path: new/NAME, or cur/NAME:2,INFO. */
static int
final_path(const char *maildir, const char *uniq, const char *info,
    char *name_r, char *path, size_t size)
{
	if (info == NULL) {
		if (str_copy(name_r, MAILDIR_NAME_MAX, uniq) < 0)
			return -1;
	} else if (str_printf(name_r, MAILDIR_NAME_MAX, "%s:2,%s", uniq, info)
	    < 0) {
		return -1;
	}
	return str_printf(path, size, "%s/%s/%s", maildir, info ? "cur" : "new",
	    name_r);
}

int
maildir_add(const char *maildir, const char *host, const struct iovec *iov,
    int iovcnt, uint64_t wire_size, const char *info, int64_t mtime,
    char *name_r)
{
	char uniq[MAILDIR_NAME_MAX], tmp[PATH_MAX], dst[PATH_MAX];

	if (maildir_create(maildir) < 0 ||
	    maildir_unique(host, wire_size, uniq) < 0)
		return -1;
	if (str_printf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, uniq) < 0 ||
	    final_path(maildir, uniq, info, name_r, dst, sizeof(dst)) < 0)
		return (errno = ENAMETOOLONG, -1);
	if (fs_write_file(tmp, iov, iovcnt) < 0)
		return -1;
	if (mtime > 0) {
		struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };

		(void)utimensat(AT_FDCWD, tmp, ts, 0);
	}
	if (rename(tmp, dst) < 0) {
		int err = errno;

		unlink(tmp);
		return (errno = err, -1);
	}
	return 0;
}

int
maildir_link(const char *maildir, const char *host, const char *src,
    uint64_t wire_size, const char *info, char *name_r)
{
	char uniq[MAILDIR_NAME_MAX], dst[PATH_MAX];
	struct iovec iov;
	struct stat st;
	char *data;
	ssize_t n;
	int fd, rc;

	if (maildir_unique(host, wire_size, uniq) < 0 ||
	    final_path(maildir, uniq, info ? info : "", name_r, dst,
	    sizeof(dst)) < 0)
		return (errno = ENAMETOOLONG, -1);
	if (link(src, dst) == 0)
		return 0;
	if (errno != EXDEV && errno != EPERM && errno != EMLINK)
		return -1;
	/* Another file system: copy the octets. */
	if ((fd = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || st.st_size > (1LL << 30)) {
		close(fd);
		return (errno = EFBIG, -1);
	}
	data = xmalloc((size_t)st.st_size + 1);
	n = pread(fd, data, (size_t)st.st_size, 0);
	close(fd);
	if (n != st.st_size) {
		free(data);
		return (errno = EIO, -1);
	}
	iov.iov_base = data;
	iov.iov_len = (size_t)n;
	rc = maildir_add(maildir, host, &iov, 1, wire_size, info ? info : "",
	    st.st_mtim.tv_sec, name_r);
	free(data);
	return rc;
}
