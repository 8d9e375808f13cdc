/* Queue envelopes: parse, write, list, remove.
 * SECURITY: ids from the CLI are checked to be hex before they become
 * paths; envelope files may have been edited by hand and are parsed
 * strictly, with every line bounded. */
#include "queue/queue.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fsutil.h"
#include "core/util.h"

#define ENV_LINE_MAX 2048

static const char *const state_names[] = { "pending", "delivered",
	"failed" };

int
queue_id_valid(const char *id)
{
	size_t n = strspn(id, "0123456789abcdef");

	return n == SPOOL_ID_LEN && id[n] == '\0';
}

void
queue_set_reply(char **reply, const char *text)
{
	size_t n = strlen(text);

	free(*reply);
	if (n > QUEUE_REPLY_MAX)
		n = QUEUE_REPLY_MAX;
	*reply = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		(*reply)[i] = (unsigned char)text[i] < 0x20 ||
		    text[i] == 0x7f ? ' ' : text[i];
	(*reply)[n] = '\0';
}

void
queue_env_free(struct queue_env *env)
{
	for (size_t i = 0; i < env->nrcpts; i++)
		free(env->rcpts[i].reply);
	free(env->rcpts);
	free(env->last_error);
	memset(env, 0, sizeof(*env));
}

size_t
queue_pending(const struct queue_env *env)
{
	size_t n = 0;

	for (size_t i = 0; i < env->nrcpts; i++)
		n += env->rcpts[i].state == QUEUE_PENDING;
	return n;
}

static int
parse_i64(const char *s, int64_t *v)
{
	uint64_t u;

	if (str_to_u64(s, 0, INT64_MAX, &u) < 0)
		return -1;
	*v = (int64_t)u;
	return 0;
}

static int
parse_rcpt(struct queue_env *env, char *rest, size_t *cap)
{
	struct queue_rcpt *r;
	char *addr, *num, *reply;
	int64_t attempts = 0;
	int state, bounced = 0;

	addr = strchr(rest, ' ');
	if (addr == NULL)
		return -1;
	*addr++ = '\0';
	if (strcmp(rest, "bounced") == 0) {
		state = QUEUE_FAILED;
		bounced = 1;
	} else {
		for (state = 0; state < 3; state++)
			if (strcmp(rest, state_names[state]) == 0)
				break;
		if (state == 3)
			return -1;
	}
	num = strchr(addr, ' ');
	reply = NULL;
	if (num != NULL) {
		*num++ = '\0';
		reply = strchr(num, ' ');
		if (reply != NULL)
			*reply++ = '\0';
		if (parse_i64(num, &attempts) < 0 || attempts > UINT32_MAX)
			return -1;
	}
	if (addr[0] == '\0' || strlen(addr) > ACCOUNT_ADDR_MAX ||
	    env->nrcpts == QUEUE_MAX_RCPTS)
		return -1;
	if (env->nrcpts == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		env->rcpts = xrealloc(env->rcpts, *cap * sizeof(*env->rcpts));
	}
	r = &env->rcpts[env->nrcpts++];
	memset(r, 0, sizeof(*r));
	str_copy(r->addr, sizeof(r->addr), addr);
	r->state = (enum queue_rcpt_state)state;
	r->bounced = bounced;
	r->attempts = (uint32_t)attempts;
	if (reply != NULL && *reply != '\0')
		queue_set_reply(&r->reply, reply);
	return 0;
}

static int
parse_line(struct queue_env *env, char *line, size_t *cap)
{
	char *val = strchr(line, ' ');
	int64_t v;

	if (val == NULL)
		val = line + strlen(line);
	else
		*val++ = '\0';
	if (strcmp(line, "rcpt") == 0)
		return parse_rcpt(env, val, cap);
	if (strcmp(line, "sender") == 0)
		return str_copy(env->sender, sizeof(env->sender), val);
	if (strcmp(line, "error") == 0) {
		queue_set_reply(&env->last_error, val);
		return 0;
	}
	if (parse_i64(val, &v) < 0)
		return -1;
	if (strcmp(line, "created") == 0)
		env->created = v;
	else if (strcmp(line, "held") == 0)
		env->held = v != 0;
	else if (strcmp(line, "warned") == 0)
		env->warned = v != 0;
	else if (strcmp(line, "attempts") == 0 && v <= UINT32_MAX)
		env->attempts = (uint32_t)v;
	else if (strcmp(line, "next") == 0)
		env->next_attempt = v;
	else
		return -1;
	return 0;
}

int
queue_load(const char *id, struct queue_env *env)
{
	char path[PATH_MAX], line[ENV_LINE_MAX];
	struct stat st;
	size_t cap = 0, n = 0;
	FILE *f;
	int bad = 0;

	memset(env, 0, sizeof(*env));
	if (!queue_id_valid(id))
		return (errno = ENOENT, -1);
	str_copy(env->id, sizeof(env->id), id);
	snprintf(path, sizeof(path), "queue/env/%s", id);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (!bad && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);

		if (len == 0 || line[len - 1] != '\n') {
			bad = 1;	/* over-long or cut short */
			break;
		}
		line[len - 1] = '\0';
		if (n++ == 0)
			bad = strcmp(line, "mailwarden-queue 1") != 0;
		else
			bad = parse_line(env, line, &cap) < 0;
	}
	if (ferror(f))
		bad = 1;
	fclose(f);
	snprintf(path, sizeof(path), "queue/msg/%s", id);
	if (!bad && (stat(path, &st) < 0 || !S_ISREG(st.st_mode))) {
		queue_env_free(env);
		return (errno = ENOENT, -1);
	}
	if (bad || env->nrcpts == 0 || env->created == 0) {
		queue_env_free(env);
		return (errno = EINVAL, -1);
	}
	env->size = (uint64_t)st.st_size;
	return 0;
}

int
queue_save(const struct queue_env *env)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	struct iovec iov;
	struct buf b;
	int rc;

	buf_init(&b, 16 * 1024 * 1024);
	buf_printf(&b, "mailwarden-queue 1\ncreated %lld\nsender %s\n"
	    "held %d\nwarned %d\nattempts %u\nnext %lld\n",
	    (long long)env->created, env->sender, env->held, env->warned,
	    env->attempts, (long long)env->next_attempt);
	if (env->last_error != NULL)
		buf_printf(&b, "error %s\n", env->last_error);
	for (size_t i = 0; i < env->nrcpts; i++) {
		const struct queue_rcpt *r = &env->rcpts[i];

		buf_printf(&b, "rcpt %s %s %u%s%s\n", r->bounced ? "bounced" :
		    state_names[r->state], r->addr, r->attempts,
		    r->reply ? " " : "", r->reply ? r->reply : "");
	}
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	snprintf(tmp, sizeof(tmp), "queue/tmp/%s.env", env->id);
	snprintf(path, sizeof(path), "queue/env/%s", env->id);
	rc = fs_write_durable(tmp, path, &iov, 1);
	buf_release(&b, 0);
	return rc;
}

int
queue_remove(const char *id)
{
	char path[PATH_MAX];
	int rc = 0;

	if (!queue_id_valid(id))
		return (errno = ENOENT, -1);
	snprintf(path, sizeof(path), "queue/env/%s", id);
	if (unlink(path) < 0)
		rc = -1;
	snprintf(path, sizeof(path), "queue/msg/%s", id);
	if (unlink(path) < 0 && rc == 0 && errno != ENOENT)
		rc = -1;
	return rc;
}

static int
cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

int
queue_ids(char (**ids_r)[SPOOL_ID_LEN + 1], size_t *n_r)
{
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir("queue/env");

	*ids_r = NULL;
	*n_r = 0;
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		if (!queue_id_valid(de->d_name))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ids = xrealloc(ids, cap * sizeof(*ids));
		}
		memcpy(ids[n++], de->d_name, SPOOL_ID_LEN + 1);
	}
	closedir(d);
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_id);
	*ids_r = ids;
	*n_r = n;
	return 0;
}
