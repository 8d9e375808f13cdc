/* GETQUOTAROOT and GETQUOTA (RFC 2087): one root, "", for all folders. */
#include <stdlib.h>
#include <string.h>

#include "core/server.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"
#include "store/quota.h"

static void
quota_work(struct imap_session *s)
{
	uint64_t used = 0;

	if (s->quota == 0)
		return;
	quota_usage(s->home, &used);
	buf_printf(&s->out, "* QUOTA \"\" (STORAGE %llu %llu)\r\n",
	    (unsigned long long)((used + 1023) / 1024),
	    (unsigned long long)(s->quota / 1024));
}

IMAP_CMD(getquota)
{
	char name[IMAP_FOLDER_MAX + 1];
	int root = strcmp(s->name, "GETQUOTAROOT") == 0;

	if (imap_mbox_arg(a, name) < 0 || !imap_args_done(a)) {
		imap_bad(s, root ? "Syntax: GETQUOTAROOT mailbox" :
		    "Syntax: GETQUOTA root");
		return;
	}
	s->quota = account_user_quota(srv.db, s->login);
	if (root) {
		if (imap_mbox_check(name) < 0) {
			imap_done(s, "NO [CANNOT] Invalid mailbox name");
			return;
		}
		struct buf line;

		buf_init(&line, 2 * IMAP_FOLDER_MAX + 64);
		buf_append_str(&line, "* QUOTAROOT ");
		imap_mbox_write_name(&line, imap_mbox_is_inbox(name) ? "INBOX" :
		    name);
		if (s->quota)
			buf_append_str(&line, " \"\"");
		imap_reply(s, "%s", line.data);
		buf_release(&line, 0);
	} else if (name[0] != '\0') {
		imap_done(s, "NO [NONEXISTENT] No such quota root");
		return;
	} else if (s->quota == 0) {
		imap_done(s, "NO [NONEXISTENT] No quota for this user");
		return;
	}
	imap_job_sync(s, quota_work, NULL);
}
