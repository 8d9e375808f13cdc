/* Quota usage of a user's Maildir++ tree. */
#include "store/quota.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "core/util.h"
#include "store/mailbox.h"

static uint64_t
folder_size(const char *path)
{
	struct mailbox_list box;
	uint64_t size = 0;

	if (mailbox_scan(path, &box) == 0)
		size = box.total_size;
	mailbox_list_free(&box);
	return size;
}

int
quota_usage(const char *home, uint64_t *used_r)
{
	char path[PATH_MAX];
	uint64_t used = folder_size(home);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(home)) == NULL) {
		*used_r = 0;
		return errno == ENOENT ? 0 : -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0'))
			continue;
		if (str_printf(path, sizeof(path), "%s/%s", home, de->d_name) <
		    0 || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		used += folder_size(path);
	}
	closedir(d);
	*used_r = used;
	return 0;
}

int
quota_exceeded(uint64_t quota, const char *home, uint64_t add)
{
	uint64_t used;

	if (quota == 0 || quota_usage(home, &used) < 0)
		return 0;
	return used + add > quota;
}
