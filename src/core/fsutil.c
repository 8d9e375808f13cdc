/* Durable file-system helpers.
 * SECURITY: paths are built by the callers from validated parts. */
#include "core/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

/* Group commit of directory syncs: a thread that needs dir synced takes
 * a ticket; one thread runs fsync for every ticket taken before it
 * started, the others wait for it. Many renames, one fsync. */
struct dir_sync {
	char path[PATH_MAX];
	uint64_t requested, done;
	int running;
	int failed;		/* sticky: a sync of this dir failed */
	unsigned users;
	struct dir_sync *next;
};

static pthread_mutex_t ds_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ds_cond = PTHREAD_COND_INITIALIZER;
static struct dir_sync *ds_list;

static int
fsync_path(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

int
fs_sync_dir(const char *dir)
{
	struct dir_sync *e, **p;
	uint64_t ticket;
	int rc;

	pthread_mutex_lock(&ds_lock);
	for (e = ds_list; e != NULL && strcmp(e->path, dir) != 0; e = e->next)
		;
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		if (str_copy(e->path, sizeof(e->path), dir) < 0) {
			pthread_mutex_unlock(&ds_lock);
			free(e);
			return fsync_path(dir);
		}
		e->next = ds_list;
		ds_list = e;
	}
	e->users++;
	ticket = ++e->requested;
	while (e->done < ticket) {
		uint64_t target;

		if (e->running) {
			pthread_cond_wait(&ds_cond, &ds_lock);
			continue;
		}
		e->running = 1;
		target = e->requested;
		pthread_mutex_unlock(&ds_lock);
		rc = fsync_path(dir);
		pthread_mutex_lock(&ds_lock);
		if (rc < 0)
			e->failed = 1;
		e->done = target;
		e->running = 0;
		pthread_cond_broadcast(&ds_cond);
	}
	rc = e->failed ? -1 : 0;
	if (--e->users == 0) {
		for (p = &ds_list; *p != e; p = &(*p)->next)
			;
		*p = e->next;
		free(e);
	}
	pthread_mutex_unlock(&ds_lock);
	return rc;
}

static int
parent_of(const char *path, char *out, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return str_copy(out, size, ".");
	if (slash == path)
		return str_copy(out, size, "/");
	if ((size_t)(slash - path) >= size)
		return -1;
	memcpy(out, path, (size_t)(slash - path));
	out[slash - path] = '\0';
	return 0;
}

int
fs_mkdirs(const char *dir)
{
	char parent[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
	if (parent_of(dir, parent, sizeof(parent)) < 0)
		return (errno = ENAMETOOLONG, -1);
	if (strcmp(parent, ".") != 0 && strcmp(parent, "/") != 0 &&
	    fs_mkdirs(parent) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0) {
		if (errno == EEXIST)
			return 0;	/* another thread made it */
		return -1;
	}
	return fs_sync_dir(parent);
}

static int
write_all(int fd, const struct iovec *iov, int iovcnt)
{
	struct iovec v[16];
	int n = iovcnt;

	if (iovcnt > 16)
		return (errno = EINVAL, -1);
	memcpy(v, iov, sizeof(*iov) * (size_t)iovcnt);
	for (int i = 0; i < n;) {
		ssize_t w = writev(fd, v + i, n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		while (i < n && (size_t)w >= v[i].iov_len) {
			w -= (ssize_t)v[i].iov_len;
			i++;
		}
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
fs_write_file(const char *path, const struct iovec *iov, int iovcnt)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (write_all(fd, iov, iovcnt) < 0 || fsync(fd) < 0) {
		int e = errno;

		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	if (close(fd) < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

int
fs_write_durable(const char *tmp_path, const char *path,
    const struct iovec *iov, int iovcnt)
{
	char dir[PATH_MAX];

	if (parent_of(path, dir, sizeof(dir)) < 0)
		return (errno = ENAMETOOLONG, -1);
	if (fs_write_file(tmp_path, iov, iovcnt) < 0)
		return -1;
	if (rename(tmp_path, path) < 0) {
		int e = errno;

		unlink(tmp_path);
		errno = e;
		return -1;
	}
	return fs_sync_dir(dir);
}
