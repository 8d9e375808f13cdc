/* Storage quota per user over the whole Maildir++ tree (INBOX and every
 * .Name folder). Usage is the sum of the message sizes the file names
 * carry, so no message is read. Blocking: workers and CLI only. */
#ifndef MW_STORE_QUOTA_H
#define MW_STORE_QUOTA_H

#include <stdint.h>

/* Octets in all folders of the Maildir at home. 0, or -1 with errno. */
int quota_usage(const char *home, uint64_t *used_r);
/* 1 if adding add octets would pass quota (0: no quota), else 0. */
int quota_exceeded(uint64_t quota, const char *home, uint64_t add);

#endif
