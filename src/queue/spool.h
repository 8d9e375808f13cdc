/* The outbound queue on disk (DATA/queue). A queued message is two
 * files: queue/msg/ID (the message as it will be sent) and queue/env/ID
 * (the envelope, written last: its presence commits the message).
 *
 * Envelope format, one item per line:
 *   mailwarden-queue 1
 *   created UNIX-SECONDS
 *   sender ADDRESS          (empty for the null sender)
 *   rcpt pending ADDRESS    (one line per recipient)
 * Blocking: runs on workers. */
#ifndef MW_QUEUE_SPOOL_H
#define MW_QUEUE_SPOOL_H

#include <stddef.h>
#include <sys/uio.h>

#define SPOOL_ID_LEN 16

/* Queues a message made of iov for rcpts; the new id (SPOOL_ID_LEN hex
 * digits) goes to id_r (size SPOOL_ID_LEN + 1). -1 with errno. */
int spool_write(const char *sender, const char *const *rcpts, size_t nrcpts,
    const struct iovec *iov, int iovcnt, char *id_r);

#endif
