/* Storage quota per user (RFC 2087 over all the user's folders): usage
 * is the sum of the message sizes that the Maildir names carry, so no
 * message is read. Blocking: workers only. */
#ifndef MW_IMAP_IMAP_QUOTA_H
#define MW_IMAP_IMAP_QUOTA_H

#include <stdint.h>

/* Octets in all folders under home (INBOX and .Name). 0 or -1. */
int imap_quota_usage(const char *home, uint64_t *used_r);
/* 1 if adding add octets would pass quota (0: no quota), else 0. */
int imap_quota_exceeded(uint64_t quota, const char *home, uint64_t add);

#endif
