/* Queue envelopes (save, load, damaged files) and remote SMTP replies. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "queue/queue.h"
#include "queue/smtpc_parse.h"

static char root[64];

static void
enter_fresh_dir(void)
{
	snprintf(root, sizeof(root), "/tmp/mw-queue-XXXXXX");
	if (mkdtemp(root) == NULL || chdir(root) < 0 ||
	    mkdir("queue", 0700) < 0 || mkdir("queue/env", 0700) < 0 ||
	    mkdir("queue/msg", 0700) < 0 || mkdir("queue/tmp", 0700) < 0)
		abort();
}

static void
put(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static void
test_round_trip(void)
{
	struct queue_env e, back;
	struct queue_rcpt r[3];

	enter_fresh_dir();
	memset(&e, 0, sizeof(e));
	memset(r, 0, sizeof(r));
	snprintf(e.id, sizeof(e.id), "0123456789abcdef");
	e.created = 1700000000;
	snprintf(e.sender, sizeof(e.sender), "a@example.test");
	e.held = 1;
	e.attempts = 3;
	e.next_attempt = 1700000600;
	queue_set_reply(&e.last_error, "451 4.3.0 try\r\nlater");
	snprintf(r[0].addr, sizeof(r[0].addr), "x@remote.test");
	snprintf(r[1].addr, sizeof(r[1].addr), "y@remote.test");
	r[1].state = QUEUE_DELIVERED;
	r[1].attempts = 2;
	queue_set_reply(&r[1].reply, "250 ok");
	snprintf(r[2].addr, sizeof(r[2].addr), "z@remote.test");
	r[2].state = QUEUE_FAILED;
	r[2].bounced = 1;
	queue_set_reply(&r[2].reply, "550 5.1.1 no such user");
	e.rcpts = r;
	e.nrcpts = 3;
	put("queue/msg/0123456789abcdef", "Subject: x\r\n\r\nbody\r\n");
	CHECK(queue_save(&e) == 0);
	CHECK(queue_load("0123456789abcdef", &back) == 0);
	CHECK(back.created == 1700000000 && back.held && back.attempts == 3);
	CHECK(back.next_attempt == 1700000600);
	CHECK_STR(back.sender, "a@example.test");
	/* line breaks in replies never break the file */
	CHECK_STR(back.last_error, "451 4.3.0 try  later");
	CHECK(back.nrcpts == 3 && queue_pending(&back) == 1);
	if (back.nrcpts == 3) {
		CHECK(back.rcpts[1].state == QUEUE_DELIVERED &&
		    back.rcpts[1].attempts == 2);
		CHECK_STR(back.rcpts[1].reply, "250 ok");
		CHECK(back.rcpts[2].state == QUEUE_FAILED &&
		    back.rcpts[2].bounced);
		CHECK_STR(back.rcpts[2].reply, "550 5.1.1 no such user");
	}
	CHECK(back.size == 20);
	queue_env_free(&back);
	free(r[1].reply);
	free(r[2].reply);
	free(e.last_error);
}

static void
test_first_version_and_damage(void)
{
	struct queue_env e;
	char (*ids)[SPOOL_ID_LEN + 1];
	size_t n;

	enter_fresh_dir();
	/* what spool_write wrote before retries existed */
	put("queue/env/00000000000000aa", "mailwarden-queue 1\ncreated 5\n"
	    "sender \nrcpt pending a@b.test\n");
	put("queue/msg/00000000000000aa", "x");
	CHECK(queue_load("00000000000000aa", &e) == 0);
	CHECK(e.sender[0] == '\0' && e.nrcpts == 1 && !e.held);
	queue_env_free(&e);
	put("queue/env/00000000000000bb", "mailwarden-queue 1\ncreated 5\n"
	    "rcpt sideways a@b.test\n");
	put("queue/msg/00000000000000bb", "x");
	CHECK(queue_load("00000000000000bb", &e) < 0 && errno == EINVAL);
	put("queue/env/00000000000000cc", "mailwarden-queue 1\ncreated 5\n"
	    "rcpt pending a@b.test");	/* cut short */
	put("queue/msg/00000000000000cc", "x");
	CHECK(queue_load("00000000000000cc", &e) < 0 && errno == EINVAL);
	put("queue/env/00000000000000dd", "mailwarden-queue 1\ncreated 5\n"
	    "rcpt pending a@b.test\n");	/* no message file */
	CHECK(queue_load("00000000000000dd", &e) < 0 && errno == ENOENT);
	CHECK(queue_load("../../etc/passwd", &e) < 0 && errno == ENOENT);
	put("queue/env/not-an-id", "x");
	CHECK(queue_ids(&ids, &n) == 0 && n == 4);
	if (n == 4)
		CHECK_STR(ids[0], "00000000000000aa");
	free(ids);
	CHECK(queue_remove("00000000000000aa") == 0);
	CHECK(access("queue/env/00000000000000aa", F_OK) < 0 &&
	    access("queue/msg/00000000000000aa", F_OK) < 0);
}

static int
feed(struct smtpc_reply *r, const char *line)
{
	return smtpc_reply_line(r, line, strlen(line));
}

static void
test_replies(void)
{
	struct smtpc_reply r;

	smtpc_reply_init(&r);
	CHECK(feed(&r, "250-mx.test Hello") == 0);
	CHECK(feed(&r, "250-PIPELINING") == 0);
	CHECK(feed(&r, "250-AUTH LOGIN PLAIN") == 0);
	CHECK(feed(&r, "250-starttls") == 0);
	CHECK(feed(&r, "250 SIZE 1000") == 1);
	CHECK(r.code == 250);
	CHECK(r.ext == (SMTPC_EXT_PIPELINING | SMTPC_EXT_AUTH_PLAIN |
	    SMTPC_EXT_STARTTLS | SMTPC_EXT_SIZE));
	smtpc_reply_init(&r);
	CHECK(feed(&r, "550-5.1.1 no") == 0);
	CHECK(feed(&r, "550 5.1.1 such\tuser") == 1);
	CHECK_STR(r.text, "550-5.1.1 no 5.1.1 such user");
	smtpc_reply_init(&r);
	CHECK(feed(&r, "250-a") == 0);
	CHECK(feed(&r, "251 b") == -1);		/* the code changed */
	smtpc_reply_init(&r);
	CHECK(feed(&r, "25") == -1);
	CHECK(feed(&r, "600 x") == -1);
	CHECK(feed(&r, "250x") == -1);
	CHECK(feed(&r, "354") == 1 && r.code == 354);
	smtpc_reply_init(&r);
	CHECK(feed(&r, "250-AUTH PLAINX") == 0 && r.ext == 0);
}

static void
test_cleanup(void)
{
	char cmd[128];

	CHECK(chdir("/tmp") == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf /tmp/mw-queue-*");
	CHECK(system(cmd) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_round_trip),
	TEST(test_first_version_and_damage),
	TEST(test_replies),
	TEST(test_cleanup),
};

HARNESS_MAIN("queue", tests)
