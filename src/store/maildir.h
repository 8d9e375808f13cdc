/* Maildir delivery (Maildir++ layout: INBOX is the root, folders are
 * .Name subdirectories). Blocking: runs on workers. */
#ifndef MW_STORE_MAILDIR_H
#define MW_STORE_MAILDIR_H

#include <stddef.h>
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

#endif
