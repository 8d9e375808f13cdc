/* Maildir message lists: scan order and sizes, stable ids, finding moved
 * files, and UPDATE (delete, mark seen) on a real directory tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "store/mailbox.h"

static char root[64];

static void
put(const char *sub, const char *name, const char *content)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	f = fopen(path, "w");
	if (f == NULL)
		abort();
	fputs(content, f);
	fclose(f);
}

static int
exists(const char *sub, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	return access(path, F_OK) == 0;
}

static void
fresh(void)
{
	char cmd[512];

	if (root[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
		if (system(cmd) != 0)
			abort();
	}
	snprintf(root, sizeof(root), "/tmp/mw-mailbox-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
	snprintf(cmd, sizeof(cmd), "mkdir %s/new %s/cur %s/tmp", root, root,
	    root);
	if (system(cmd) != 0)
		abort();
}

static void
test_scan_order_and_sizes(void)
{
	struct mailbox_list l;

	fresh();
	/* usec 9 sorts before usec 100000 though it is longer as text */
	put("new", "1700000001.M100000P1Q1.h,S=5", "12345");
	put("cur", "1700000001.M9P1Q2.h,S=3:2,S", "abc");
	put("cur", "1700000000.M5P1Q3.h,S=8,W=10:2,", "x\ny\nzzzz");
	put("new", "1700000002.M1P1Q4.other", "a\nb");	/* no size */
	put("new", ".hidden", "x");
	CHECK(mailbox_scan(root, &l) == 0);
	CHECK(l.n == 4);
	if (l.n == 4) {
		CHECK_STR(mailbox_name(&l, &l.msgs[0]),
		    "1700000000.M5P1Q3.h,S=8,W=10:2,");
		CHECK(l.msgs[0].size == 10);	/* W= wins over S= */
		CHECK(l.msgs[0].in_cur && !l.msgs[0].seen);
		CHECK(l.msgs[1].size == 3 && l.msgs[1].seen);
		CHECK(l.msgs[2].size == 5 && !l.msgs[2].in_cur);
		/* read: "a\nb" is "a\r\nb\r\n" on the wire */
		CHECK(l.msgs[3].size == 6);
		CHECK(l.total_size == 24);
	}
	mailbox_list_free(&l);
}

static void
test_missing_maildir_is_empty(void)
{
	struct mailbox_list l;

	CHECK(mailbox_scan("/tmp/mw-no-such-maildir/x", &l) == 0);
	CHECK(l.n == 0 && l.total_size == 0);
	mailbox_list_free(&l);
}

static void
test_uid(void)
{
	struct mailbox_list l;
	char uid[MAILBOX_UID_MAX + 1], long_name[200];

	fresh();
	memset(long_name, 'a', 100);
	snprintf(long_name + 100, sizeof(long_name) - 100, ",S=1");
	put("cur", "1700000000.M1P1Q1.h,S=1:2,S", "x");
	put("new", long_name, "x");
	CHECK(mailbox_scan(root, &l) == 0 && l.n == 2);
	if (l.n == 2) {
		const struct mailbox_msg *a = &l.msgs[0], *b = &l.msgs[1];

		if (mailbox_name(&l, a)[0] == 'a') {
			const struct mailbox_msg *t = a;
			a = b;
			b = t;
		}
		mailbox_uid(&l, a, uid);
		CHECK_STR(uid, "1700000000.M1P1Q1.h,S=1");
		mailbox_uid(&l, b, uid);
		CHECK(strlen(uid) >= 1 && strlen(uid) <= MAILBOX_UID_MAX);
		CHECK(uid[0] == 'H');
	}
	mailbox_list_free(&l);
}

static void
test_open_finds_moved_file(void)
{
	struct mailbox_list l;
	char buf[16];
	int fd;

	fresh();
	put("new", "1700000000.M1P1Q1.h,S=5", "hello");
	CHECK(mailbox_scan(root, &l) == 0 && l.n == 1);
	/* another client moves it to cur/ with flags */
	put("cur", "1700000000.M1P1Q1.h,S=5:2,FS", "hello");
	{
		char a[512];

		snprintf(a, sizeof(a), "%s/new/1700000000.M1P1Q1.h,S=5", root);
		unlink(a);
	}
	fd = mailbox_open(root, &l, &l.msgs[0]);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(read(fd, buf, sizeof(buf)) == 5);
		close(fd);
	}
	CHECK(l.msgs[0].in_cur && l.msgs[0].seen);
	CHECK_STR(mailbox_name(&l, &l.msgs[0]), "1700000000.M1P1Q1.h,S=5:2,FS");
	/* gone for good */
	{
		char a[512];

		snprintf(a, sizeof(a), "%s/cur/1700000000.M1P1Q1.h,S=5:2,FS",
		    root);
		unlink(a);
	}
	CHECK(mailbox_open(root, &l, &l.msgs[0]) < 0 && errno == ENOENT);
	mailbox_list_free(&l);
}

static void
test_update(void)
{
	struct mailbox_list l;
	uint8_t actions[4];

	fresh();
	put("new", "1700000000.M1P1Q1.h,S=1", "a");
	put("new", "1700000001.M1P1Q1.h,S=1", "b");
	put("cur", "1700000002.M1P1Q1.h,S=1:2,FT", "c");
	put("cur", "1700000003.M1P1Q1.h,S=1:2,", "d");
	CHECK(mailbox_scan(root, &l) == 0 && l.n == 4);
	actions[0] = MAILBOX_DELETE;
	actions[1] = MAILBOX_MARK_SEEN;
	actions[2] = MAILBOX_MARK_SEEN;
	actions[3] = MAILBOX_KEEP;
	CHECK(mailbox_update(root, &l, actions) == 0);
	CHECK(!exists("new", "1700000000.M1P1Q1.h,S=1"));
	CHECK(!exists("new", "1700000001.M1P1Q1.h,S=1"));
	CHECK(exists("cur", "1700000001.M1P1Q1.h,S=1:2,S"));
	/* flags stay in ASCII order: F, S, T */
	CHECK(exists("cur", "1700000002.M1P1Q1.h,S=1:2,FST"));
	CHECK(exists("cur", "1700000003.M1P1Q1.h,S=1:2,"));
	mailbox_list_free(&l);
}

static void
test_update_after_files_went(void)
{
	struct mailbox_list l;
	uint8_t actions[2] = { MAILBOX_DELETE, MAILBOX_MARK_SEEN };
	char a[512];

	fresh();
	put("new", "1700000000.M1P1Q1.h,S=1", "a");
	put("new", "1700000001.M1P1Q1.h,S=1", "b");
	CHECK(mailbox_scan(root, &l) == 0 && l.n == 2);
	snprintf(a, sizeof(a), "%s/new/1700000000.M1P1Q1.h,S=1", root);
	unlink(a);
	snprintf(a, sizeof(a), "%s/new/1700000001.M1P1Q1.h,S=1", root);
	unlink(a);
	/* deleting what is gone is done; marking what is gone fails */
	CHECK(mailbox_update(root, &l, actions) == 1);
	mailbox_list_free(&l);
}

static void
test_wire_size(void)
{
	char path[512];
	uint64_t size;
	int fd;

	fresh();
	put("tmp", "m", "a\r\nb\nc");
	snprintf(path, sizeof(path), "%s/tmp/m", root);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && mailbox_wire_size(fd, &size) == 0);
	CHECK(size == 9);	/* a CRLF b CRLF c CRLF */
	close(fd);
}

static void
test_cleanup(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_scan_order_and_sizes),
	TEST(test_missing_maildir_is_empty),
	TEST(test_uid),
	TEST(test_open_finds_moved_file),
	TEST(test_update),
	TEST(test_update_after_files_went),
	TEST(test_wire_size),
	TEST(test_cleanup),
};

HARNESS_MAIN("mailbox", tests)
