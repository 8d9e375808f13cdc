/* Writing to the outbound queue.
 * SECURITY: addresses were validated by the SMTP parser (no CR, LF or
 * spaces), so each fits on one envelope line. */
#include "queue/spool.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/util.h"

int
spool_init(void)
{
	return fs_mkdirs("queue/tmp") < 0 || fs_mkdirs("queue/msg") < 0 ||
	    fs_mkdirs("queue/env") < 0 ? -1 : 0;
}

int
spool_write(const char *sender, const char *const *rcpts, size_t nrcpts,
    int held, const struct iovec *iov, int iovcnt, char *id_r)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct iovec env;
	struct buf b;
	int rc = -1;

	if (spool_init() < 0)
		return -1;
	snprintf(id_r, SPOOL_ID_LEN + 1, "%016llx",
	    (unsigned long long)random_u64());
	snprintf(tmp, sizeof(tmp), "queue/tmp/%s.msg", id_r);
	snprintf(path, sizeof(path), "queue/msg/%s", id_r);
	if (fs_write_durable(tmp, path, iov, iovcnt) < 0)
		return -1;

	buf_init(&b, 1024 * 1024);
	buf_printf(&b, "mailwarden-queue 1\ncreated %lld\nsender %s\n"
	    "held %d\n", (long long)time(NULL), sender, held);
	for (size_t i = 0; i < nrcpts; i++)
		if (strpbrk(rcpts[i], "\r\n") == NULL)
			buf_printf(&b, "rcpt pending %s\n", rcpts[i]);
	env.iov_base = b.data;
	env.iov_len = b.len;
	snprintf(tmp, sizeof(tmp), "queue/tmp/%s.env", id_r);
	snprintf(path, sizeof(path), "queue/env/%s", id_r);
	if (fs_write_durable(tmp, path, &env, 1) == 0) {
		rc = 0;
	} else {
		snprintf(path, sizeof(path), "queue/msg/%s", id_r);
		remove(path);
	}
	buf_release(&b, 0);
	return rc;
}
