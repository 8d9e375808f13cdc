/* Maildir delivery (Maildir++ layout: INBOX is the root, folders are
 * .Name subdirectories). Blocking: runs on workers. */
#ifndef MW_STORE_MAILDIR_H
#define MW_STORE_MAILDIR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define MAILDIR_NAME_MAX 256

/* Creates maildir/{cur,new,tmp} if missing. */
int maildir_create(const char *maildir);
/* Delivers a message made of iov (total size octets) into maildir/new:
 * written to tmp, fsynced, renamed into new, new fsynced. The unique
 * file name (with ,S=size) goes to name_r (MAILDIR_NAME_MAX). host is
 * the server's host name for the name. -1 with errno on failure. */
int maildir_deliver(const char *maildir, const char *host,
    const struct iovec *iov, int iovcnt, size_t size, char *name_r);

/* A new unique Maildir name with ",S=wire_size" into name_r. */
int maildir_unique(const char *host, uint64_t wire_size, char *name_r);
/* Adds a message made of iov to maildir: into new/ when info is NULL,
 * else cur/ with ":2,info" (flag letters in ASCII order). The file is
 * written and fsynced in tmp/, gets mtime (the IMAP internal date; 0:
 * now), and is renamed into place; the caller syncs the directory. Its
 * name goes to name_r (MAILDIR_NAME_MAX). -1 with errno on failure. */
int maildir_add(const char *maildir, const char *host,
    const struct iovec *iov, int iovcnt, uint64_t wire_size,
    const char *info, int64_t mtime, char *name_r);
/* Adds the message file src to maildir's cur/ with ":2,info" (NULL: no
 * flags) as a hard link, or as a copy on another file system. The name
 * goes to name_r; the caller syncs cur/. -1 with errno on failure. */
int maildir_link(const char *maildir, const char *host, const char *src,
    uint64_t wire_size, const char *info, char *name_r);

#endif
