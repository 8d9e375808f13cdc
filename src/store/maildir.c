/* Maildir delivery.
 * SECURITY: maildir paths come from stored, validated account names,
 * never from client input. */
#include "store/maildir.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/util.h"

static atomic_uint maildir_seq;

int
maildir_create(const char *maildir)
{
	static const char *const sub[] = { "cur", "new", "tmp" };
	char path[PATH_MAX];

	for (int i = 0; i < 3; i++) {
		if (str_printf(path, sizeof(path), "%s/%s", maildir, sub[i]) < 0)
			return (errno = ENAMETOOLONG, -1);
		if (fs_mkdirs(path) < 0)
			return -1;
	}
	return 0;
}

int
maildir_deliver(const char *maildir, const char *host,
    const struct iovec *iov, int iovcnt, size_t size, char *name_r)
{
	char tmp[PATH_MAX], dst[PATH_MAX], safe_host[128];
	struct timeval tv;
	size_t i;

	if (maildir_create(maildir) < 0)
		return -1;
	/* Maildir names may not contain '/' or ':' (the info separator). */
	for (i = 0; host[i] != '\0' && i < sizeof(safe_host) - 1; i++)
		safe_host[i] = host[i] == '/' || host[i] == ':' ? '_' : host[i];
	safe_host[i] = '\0';
	gettimeofday(&tv, NULL);
	if (str_printf(name_r, MAILDIR_NAME_MAX, "%lld.M%ldP%dQ%uR%08x.%s,S=%zu",
	    (long long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(),
	    atomic_fetch_add(&maildir_seq, 1) + 1,
	    (unsigned)random_u64(), safe_host, size) < 0 ||
	    str_printf(tmp, sizeof(tmp), "%s/tmp/%s", maildir, name_r) < 0 ||
	    str_printf(dst, sizeof(dst), "%s/new/%s", maildir, name_r) < 0)
		return (errno = ENAMETOOLONG, -1);
	return fs_write_durable(tmp, dst, iov, iovcnt);
}
