/* CLI: the outbound queue (queue list|show|delete|retry|hold|release).
 * Changes are written to the envelopes and announced to the running
 * server through meta.queue_gen, which it polls.
 * SECURITY: ids are checked to be hex before they name files. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "core/account.h"
#include "core/db.h"
#include "core/util.h"
#include "queue/queue.h"

#define HEADER_MAX (64 * 1024)	/* shown by queue show */

static const char *const state_names[] = { "pending", "delivered",
	"failed" };

static json_t *
env_json(const struct queue_env *e)
{
	json_t *rcpts = json_array();
	int64_t now = (int64_t)time(NULL);

	for (size_t i = 0; i < e->nrcpts; i++) {
		const struct queue_rcpt *r = &e->rcpts[i];

		json_array_append_new(rcpts, json_pack("{s:s, s:s, s:i, s:s}",
		    "address", r->addr, "state", state_names[r->state],
		    "attempts", (json_int_t)r->attempts, "last_reply",
		    r->reply ? r->reply : ""));
	}
	return json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:i, s:s, s:I, s:b}",
	    "id", e->id, "sender", e->sender, "recipients", rcpts,
	    "size", (json_int_t)e->size, "created", (json_int_t)e->created,
	    "age", (json_int_t)(now > e->created ? now - e->created : 0),
	    "attempts", (json_int_t)e->attempts,
	    "last_error", e->last_error ? e->last_error : "",
	    "next_attempt", (json_int_t)e->next_attempt, "held", e->held);
}

static void
print_env(const struct queue_env *e)
{
	int64_t now = (int64_t)time(NULL);

	printf("%s  %8llu  age %llds  attempts %u%s  <%s>\n", e->id,
	    (unsigned long long)e->size,
	    (long long)(now > e->created ? now - e->created : 0), e->attempts,
	    e->held ? "  HELD" : "", e->sender);
	for (size_t i = 0; i < e->nrcpts; i++)
		printf("    %-9s %s%s%s\n", state_names[e->rcpts[i].state],
		    e->rcpts[i].addr, e->rcpts[i].reply ? "  " : "",
		    e->rcpts[i].reply ? e->rcpts[i].reply : "");
	if (e->last_error != NULL)
		printf("    last error: %s\n", e->last_error);
}

static int
queue_list(struct cli *cli)
{
	char (*ids)[SPOOL_ID_LEN + 1];
	json_t *arr = json_array();
	size_t n, shown = 0;

	if (queue_ids(&ids, &n) < 0) {
		json_decref(arr);
		return cli_error("queue: %s", strerror(errno));
	}
	for (size_t i = 0; i < n; i++) {
		struct queue_env e;

		if (queue_load(ids[i], &e) < 0)
			continue;	/* gone meanwhile, or damaged */
		if (cli->json)
			json_array_append_new(arr, env_json(&e));
		else
			print_env(&e);
		shown++;
		queue_env_free(&e);
	}
	free(ids);
	if (!cli->json)
		printf("%zu message%s in the queue\n", shown,
		    shown == 1 ? "" : "s");
	cli_put_json(cli, arr);
	return 0;
}

static int
load_one(const char *id, struct queue_env *e)
{
	if (queue_load(id, e) == 0)
		return 0;
	if (errno == EINVAL)
		return cli_error("queue: %s is damaged", id);
	return cli_error("queue: no such message: %s", id);
}

/* The header of queue/msg/ID, up to the blank line. */
static char *
read_header(const char *id)
{
	char path[PATH_MAX], *h = xmalloc(HEADER_MAX + 1);
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "queue/msg/%s", id);
	h[0] = '\0';
	if ((f = fopen(path, "re")) == NULL)
		return h;
	while (n < HEADER_MAX && fgets(h + n, (int)(HEADER_MAX + 1 - n),
	    f) != NULL) {
		if (strcmp(h + n, "\r\n") == 0 || strcmp(h + n, "\n") == 0) {
			h[n] = '\0';
			break;
		}
		n += strlen(h + n);
	}
	fclose(f);
	return h;
}

static int
queue_show(struct cli *cli, const char *id)
{
	struct queue_env e;
	char *header;
	json_t *o;

	if (load_one(id, &e) != 0)
		return 1;
	header = read_header(id);
	if (cli->json) {
		o = env_json(&e);
		json_object_set_new(o, "headers", json_string(header));
		cli_put_json(cli, o);
	} else {
		print_env(&e);
		printf("\n%s", header);
	}
	free(header);
	queue_env_free(&e);
	return 0;
}

enum action { DELETE, RETRY, HOLD, RELEASE };

static int
apply(const char *id, enum action a)
{
	struct queue_env e;
	int rc;

	if (a == DELETE) {
		if (load_one(id, &e) != 0)
			return -1;
		queue_env_free(&e);
		if (queue_remove(id) < 0) {
			cli_error("queue: cannot delete %s: %s", id,
			    strerror(errno));
			return -1;
		}
		return 0;
	}
	if (load_one(id, &e) != 0)
		return -1;
	if (a == RETRY)
		e.next_attempt = 0;
	else
		e.held = a == HOLD;
	rc = queue_save(&e);
	queue_env_free(&e);
	if (rc < 0) {
		cli_error("queue: cannot change %s: %s", id, strerror(errno));
		return -1;
	}
	return 0;
}

/* Every id whose sender is addr (any case), or every id. */
static int
select_ids(const char *sender, char (**out)[SPOOL_ID_LEN + 1], size_t *n_r)
{
	char (*ids)[SPOOL_ID_LEN + 1];
	size_t n, k = 0;

	if (queue_ids(&ids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct queue_env e;

		if (sender != NULL) {
			if (queue_load(ids[i], &e) < 0)
				continue;
			if (strcasecmp(e.sender, sender) != 0) {
				queue_env_free(&e);
				continue;
			}
			queue_env_free(&e);
		}
		memmove(ids[k++], ids[i], SPOOL_ID_LEN + 1);
	}
	*out = ids;
	*n_r = k;
	return 0;
}

static int
queue_change(struct cli *cli, enum action a, const char *verb)
{
	char (*ids)[SPOOL_ID_LEN + 1] = NULL;
	const char *sender = NULL;
	size_t n = 0, done = 0;
	int all = 0, failed = 0, by_id = 0;

	for (int i = 1; i < cli->argc; i++) {
		if (strcmp(cli->argv[i], "--sender") == 0 && i + 1 < cli->argc &&
		    (a == DELETE || a == HOLD || a == RELEASE))
			sender = cli->argv[++i];
		else if (strcmp(cli->argv[i], "--all") == 0 &&
		    (a == DELETE || a == RETRY))
			all = 1;
		else if (cli->argv[i][0] != '-')
			by_id = 1;
		else
			return cli_error("queue %s: unknown option %s", verb,
			    cli->argv[i]);
	}
	if (by_id + (sender != NULL) + all != 1)
		return cli_error("usage: queue %s ID...%s%s", verb,
		    a == DELETE || a == HOLD || a == RELEASE ?
		    " | --sender ADDRESS" : "",
		    a == DELETE || a == RETRY ? " | --all" : "");
	if (by_id) {
		for (int i = 1; i < cli->argc; i++)
			if (apply(cli->argv[i], a) < 0)
				failed = 1;
			else
				done++;
	} else {
		if (select_ids(sender, &ids, &n) < 0)
			return cli_error("queue: %s", strerror(errno));
		for (size_t i = 0; i < n; i++)
			if (apply(ids[i], a) < 0)
				failed = 1;
			else
				done++;
		free(ids);
	}
	if (done > 0 && db_exec(cli->db, "INSERT INTO meta (name, value) "
	    "VALUES ('queue_gen', 1) ON CONFLICT(name) DO UPDATE SET value = "
	    "value + 1") < 0)
		failed = cli_error("queue: cannot tell the server");
	if (!cli->json)
		printf("%s: %zu message%s\n", verb, done, done == 1 ? "" : "s");
	return failed;
}

int
cli_queue(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";

	if (strcmp(op, "list") == 0 && cli->argc == 1)
		return queue_list(cli);
	if (strcmp(op, "show") == 0 && cli->argc == 2)
		return queue_show(cli, cli->argv[1]);
	if (strcmp(op, "delete") == 0)
		return queue_change(cli, DELETE, "delete");
	if (strcmp(op, "retry") == 0)
		return queue_change(cli, RETRY, "retry");
	if (strcmp(op, "hold") == 0)
		return queue_change(cli, HOLD, "hold");
	if (strcmp(op, "release") == 0)
		return queue_change(cli, RELEASE, "release");
	return cli_error("usage: queue list [--json] | show ID [--json] | "
	    "delete ID...|--sender ADDRESS|--all | retry ID...|--all | "
	    "hold ID...|--sender ADDRESS | release ID...|--sender ADDRESS");
}
