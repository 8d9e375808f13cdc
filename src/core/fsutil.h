/* Durable file-system helpers. All of them block: workers and CLI only. */
#ifndef MW_CORE_FSUTIL_H
#define MW_CORE_FSUTIL_H

#include <stddef.h>
#include <sys/uio.h>

/* Creates dir and its missing parents (mode 0700); fsyncs each parent
 * that gained an entry. -1 with errno on failure. */
int fs_mkdirs(const char *dir);
/* fsyncs a directory. Concurrent callers for the same directory share
 * one fsync that starts after each of them called (group commit). */
int fs_sync_dir(const char *dir);
/* Creates path exclusively, writes all iov, fsyncs and closes it. On
 * failure the file is removed. */
int fs_write_file(const char *path, const struct iovec *iov, int iovcnt);
/* Writes a file via tmp: tmp_path is written and fsynced, renamed to
 * path, and the directory of path fsynced. */
int fs_write_durable(const char *tmp_path, const char *path,
    const struct iovec *iov, int iovcnt);

#endif
