/* Quota usage of a user's Maildir++ tree. */
#include "imap/imap_quota.h"

#include <limits.h>

#include "core/util.h"
#include "imap/imap_mbox.h"
#include "store/mailbox.h"

int
imap_quota_usage(const char *home, uint64_t *used_r)
{
	struct imap_mbox_list l;
	uint64_t used = 0;

	if (imap_mbox_list(home, &l) < 0)
		return -1;
	for (size_t i = 0; i < l.n; i++) {
		char path[PATH_MAX];
		struct mailbox_list box;

		if (imap_mbox_path(home, l.names[i], path, sizeof(path)) < 0)
			continue;
		if (mailbox_scan(path, &box) == 0)
			used += box.total_size;
		mailbox_list_free(&box);
	}
	imap_mbox_list_free(&l);
	*used_r = used;
	return 0;
}

int
imap_quota_exceeded(uint64_t quota, const char *home, uint64_t add)
{
	uint64_t used;

	if (quota == 0 || imap_quota_usage(home, &used) < 0)
		return 0;
	return used + add > quota;
}
