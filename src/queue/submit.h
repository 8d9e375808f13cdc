/* Storing a message for its recipients, shared by SMTP and by the server's
 * own mail (alerts, reports): local users get a copy in their Maildir,
 * other addresses go to the outbound queue, all durably, on a worker. */
#ifndef MW_QUEUE_SUBMIT_H
#define MW_QUEUE_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/account.h"
#include "core/buf.h"

struct submit_rcpt {
	char addr[ACCOUNT_ADDR_MAX + 1];
	int local;		/* a local user, else an outside address */
};

/* Called on the loop when everything is stored (ok = 1) or something
 * could not be (ok = 0); ctx is the caller's. */
typedef void submit_done_fn(void *ctx, int ok, const char *queue_id);

/* Stores trace (prepended to every copy, may be empty) + msg for rcpts.
 * Takes the contents of trace and msg (both left empty); copies rcpts.
 * sender is the envelope sender ("" for the null sender). With held,
 * the queued copy (outside recipients) waits for `queue release`. */
void submit_message(const char *sender, const struct submit_rcpt *rcpts,
    size_t nrcpts, int held, struct buf *trace, struct buf *msg,
    submit_done_fn *done, void *ctx);

/* Resolves addresses (aliases included) into recipients; returns how
 * many were stored in rcpts (at most max). Unknown local addresses are
 * dropped. On the loop (reads the accounts). */
size_t submit_resolve(const char *const *addrs, size_t naddrs,
    struct submit_rcpt *rcpts, size_t max);

#endif
