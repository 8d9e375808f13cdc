/* Privilege dropping.
 * SECURITY: the one place that changes uid/gid; verifies the change. */
#include "core/privdrop.h"

#include <ftw.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/util.h"

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	/* Mail and queue trees can be huge: a subtree whose top already
	 * belongs to the user is taken to be the user's throughout. */
	if (st->st_uid == chown_uid && st->st_gid == chown_gid)
		return flag == FTW_D && f->level >= 2 ? FTW_SKIP_SUBTREE :
		    FTW_CONTINUE;
	if (lchown(path, chown_uid, chown_gid) < 0)
		fatal("cannot give %s to the server user", path);
	return FTW_CONTINUE;
}

int
privdrop_become(uid_t uid, gid_t gid, uint32_t caps)
{
	if (caps != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -1;
	if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		return -1;
	if (caps != 0) {
		struct __user_cap_header_struct h = {
			.version = _LINUX_CAPABILITY_VERSION_3 };
		struct __user_cap_data_struct d[2] = { { 0 } };

		d[0].permitted = d[0].effective = caps;
		if (syscall(SYS_capset, &h, d) < 0)
			return -1;
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	if (setuid(0) == 0 || seteuid(0) == 0)
		return -1;
	return 0;
}

static void
become(uid_t uid, gid_t gid, uint32_t caps)
{
	if (privdrop_become(uid, gid, caps) < 0)
		fatal("cannot become uid %u without root", (unsigned)uid);
}

void
privdrop_server(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0)
		fatal("server.user %s: no such unprivileged user (create it, "
		    "e.g. with scripts/install-deps)", user);
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(".", chown_entry, 16, FTW_PHYS | FTW_ACTIONRETVAL) < 0)
		fatal("cannot walk the data directory");
	become(pw->pw_uid, pw->pw_gid, 1u << CAP_NET_BIND_SERVICE);
}

void
privdrop_to_owner(const char *path)
{
	struct stat st;

	if (geteuid() != 0 || stat(path, &st) < 0 || st.st_uid == 0)
		return;
	become(st.st_uid, st.st_gid, 0);
}
