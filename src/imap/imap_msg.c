/* Reading messages of the selected mailbox. */
#include "imap/imap_msg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "imap/imap_internal.h"

/* Where the header ends (after its blank line) in data[0..len), or 0. */
static size_t
header_end(const char *data, size_t len)
{
	for (const char *p = data; (p = memchr(p, '\n', (size_t)(data + len -
	    p))) != NULL; p++) {
		const char *q = p + 1;

		if (q < data + len && *q == '\r')
			q++;
		if (q < data + len && *q == '\n')
			return (size_t)(q + 1 - data);
		if (p == data + len - 1)
			break;
	}
	return 0;
}

int
imap_msg_read(struct imap_view *v, size_t i, int header_only,
    char **data_r, size_t *len_r, int64_t *date_r)
{
	struct mailbox_msg *m = &v->ul.box.msgs[i];
	size_t want, len = 0;
	struct stat st;
	char *data;
	int fd, err;

	if ((fd = mailbox_open(v->path, &v->ul.box, m)) < 0)
		return -1;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size > IMAP_MSG_MAX) {
		err = errno ? errno : EFBIG;
		close(fd);
		return (errno = err, -1);
	}
	*date_r = st.st_mtim.tv_sec;
	want = (size_t)st.st_size;
	if (header_only && want > IMAP_MSG_HEADER_MAX)
		want = IMAP_MSG_HEADER_MAX;
	data = xmalloc(want + 1);
	while (len < want) {
		size_t step = header_only ? 16384 : want - len;
		ssize_t n;

		if (step > want - len)
			step = want - len;
		n = read(fd, data + len, step);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			free(data);
			close(fd);
			return (errno = err, -1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (header_only) {
			size_t end = header_end(data, len);

			if (end > 0) {
				len = end;
				break;
			}
		}
	}
	close(fd);
	data[len] = '\0';
	*data_r = data;
	*len_r = len;
	return 0;
}

int
imap_msg_date(struct imap_view *v, size_t i, int64_t *date_r)
{
	struct mailbox_msg *m = &v->ul.box.msgs[i];
	char path[PATH_MAX];
	struct stat st;
	int fd;

	if (mailbox_path(v->path, &v->ul.box, m, path, sizeof(path)) >= 0 &&
	    stat(path, &st) == 0) {
		*date_r = st.st_mtim.tv_sec;
		return 0;
	}
	if ((fd = mailbox_open(v->path, &v->ul.box, m)) < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	close(fd);
	*date_r = st.st_mtim.tv_sec;
	return 0;
}
