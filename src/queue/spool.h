/* The outbound queue on disk (DATA/queue). A queued message is two
 * files: queue/msg/ID (the message as it will be sent) and queue/env/ID
 * (the envelope, written last: its presence commits the message).
 *
 * Envelope format, one item per line (spool_write writes the first
 * four kinds; queue.c reads and rewrites all of them):
 *   mailwarden-queue 1
 *   created UNIX-SECONDS
 *   sender ADDRESS          (empty for the null sender)
 *   held 0|1                (optional, as are the next four)
 *   warned 0|1              (the delay warning went out)
 *   attempts N
 *   next UNIX-SECONDS       (the next attempt)
 *   error TEXT              (the last error)
 *   rcpt STATE ADDRESS [ATTEMPTS [REPLY]]   (one line per recipient)
 * STATE is pending, delivered, failed or bounced (failed, and the
 * sender was told). Addresses hold no spaces (the SMTP parser sees to
 * it); replies are made one line.
 * Blocking: runs on workers. */
#ifndef MW_QUEUE_SPOOL_H
#define MW_QUEUE_SPOOL_H

#include <stddef.h>
#include <sys/uio.h>

#define SPOOL_ID_LEN 16

/* Queues a message made of iov for rcpts (held: not to be delivered
 * until released); the new id (SPOOL_ID_LEN hex digits) goes to id_r
 * (size SPOOL_ID_LEN + 1). -1 with errno. */
/* Creates the queue directories if missing (the server does at start,
 * as its own user). Blocks. 0 or -1 with errno. */
int spool_init(void);
int spool_write(const char *sender, const char *const *rcpts, size_t nrcpts,
    int held, const struct iovec *iov, int iovcnt, char *id_r);

#endif
