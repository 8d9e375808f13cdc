/* IMAP mailbox names (modified UTF-7, traversal), their Maildir++ paths,
 * LIST patterns, and the folder operations on a scratch tree. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "imap/imap_mbox.h"

static void
test_names_valid(void)
{
	static const char *const good[] = {
		"INBOX", "inbox", "Sent", "A.B.C", "Caf&AOk-", "&-amp", "a b",
		"Entw&APw-rfe", "&ZeVnLIqe-", "&2D3eAA-", "x~y", "[Gmail]",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (imap_mbox_check(good[i]) != 0)
			fprintf(stderr, "  refused: %s\n", good[i]);
		CHECK(imap_mbox_check(good[i]) == 0);
	}
}

static void
test_names_refused(void)
{
	static const char *const bad[] = {
		"", ".", "..", "../x", "/tmp/x", "a/../../b", "a/b", ".hidden",
		"trailing.", "a..b", "a\\b", "a*", "a%", "tab\there", "del\x7f",
		"high\xc3\xa9", "&", "&AOk", "&AOk", "&-&", "&AGE-",
		"&2D0-", "&3gA-", "&A-", "&AO-",
	};
	char longname[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (imap_mbox_check(bad[i]) != -1)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
		CHECK(imap_mbox_check(bad[i]) == -1);
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(imap_mbox_check(longname) == -1);
	longname[200] = '\0';
	CHECK(imap_mbox_check(longname) == 0);
}

static void
test_paths(void)
{
	char path[256];

	CHECK(imap_mbox_path("mail/d/u", "INBOX", path, sizeof(path)) == 0);
	CHECK_STR(path, "mail/d/u");
	CHECK(imap_mbox_path("mail/d/u", "iNbOx", path, sizeof(path)) == 0);
	CHECK_STR(path, "mail/d/u");
	CHECK(imap_mbox_path("mail/d/u", "A.B", path, sizeof(path)) == 0);
	CHECK_STR(path, "mail/d/u/.A.B");
	CHECK(imap_mbox_path("mail/d/u", "../x", path, sizeof(path)) == -1);
	CHECK(imap_mbox_path("mail/d/u", "A", path, 8) == -1);
	CHECK_STR(imap_mbox_special("Trash"), "\\Trash");
	CHECK(imap_mbox_special("trash") == NULL);
}

static void
test_match(void)
{
	CHECK(imap_mbox_match("*", "A.B.C"));
	CHECK(imap_mbox_match("%", "A"));
	CHECK(!imap_mbox_match("%", "A.B"));
	CHECK(imap_mbox_match("A.%", "A.B"));
	CHECK(!imap_mbox_match("A.%", "A.B.C"));
	CHECK(imap_mbox_match("A.*", "A.B.C"));
	CHECK(imap_mbox_match("A*C", "A.B.C"));
	CHECK(!imap_mbox_match("A%C", "A.B.C"));
	CHECK(imap_mbox_match("%.%", "A.B"));
	CHECK(imap_mbox_match("INBOX", "INBOX"));
	CHECK(!imap_mbox_match("INBOX", "INBOXES"));
	CHECK(imap_mbox_match("", "") && !imap_mbox_match("", "A"));
	/* a pathological pattern stays cheap (no backtracking blow-up) */
	CHECK(!imap_mbox_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static int
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_folders(void)
{
	char home[64], path[256], cmd[128];
	struct imap_mbox_list l;

	snprintf(home, sizeof(home), "/tmp/mw-mbox-%d", (int)getpid());
	CHECK(imap_mbox_first_login(home) == 0);
	CHECK(imap_mbox_list(home, &l) == 0);
	CHECK(l.n == 5);
	if (l.n == 5) {
		CHECK_STR(l.names[0], "INBOX");
		CHECK_STR(l.names[1], "Drafts");
		CHECK_STR(l.names[4], "Trash");
	}
	imap_mbox_list_free(&l);
	CHECK(imap_mbox_subscriptions(home, &l) == 0 && l.n == 5);
	imap_mbox_list_free(&l);
	/* once per user: a deleted Trash stays deleted */
	CHECK(imap_mbox_delete(home, "Trash") == 0);
	CHECK(imap_mbox_first_login(home) == 0);
	CHECK(!imap_mbox_exists(home, "Trash"));

	CHECK(imap_mbox_create(home, "A.B.C") == 0);
	snprintf(path, sizeof(path), "%s/.A/cur", home);
	CHECK(is_dir(path));
	CHECK(imap_mbox_create(home, "A.B") == -1 && errno == EEXIST);
	CHECK(imap_mbox_list(home, &l) == 0);
	CHECK(imap_mbox_has_children(&l, "A"));
	CHECK(!imap_mbox_has_children(&l, "A.B.C"));
	imap_mbox_list_free(&l);
	CHECK(imap_mbox_rename(home, "A", "Z") == 0);
	CHECK(imap_mbox_exists(home, "Z.B.C") && !imap_mbox_exists(home, "A"));
	CHECK(imap_mbox_rename(home, "Z", "Sent") == -1 && errno == EEXIST);
	CHECK(imap_mbox_delete(home, "Z") == 0);
	CHECK(imap_mbox_exists(home, "Z.B"));
	CHECK(imap_mbox_delete(home, "INBOX") == -1);
	CHECK(imap_mbox_delete(home, "Nope") == -1 && errno == ENOENT);
	CHECK(imap_mbox_subscribe(home, "Z.B", 1) == 0);
	CHECK(imap_mbox_subscribe(home, "Sent", 0) == 0);
	CHECK(imap_mbox_subscriptions(home, &l) == 0);
	CHECK(l.n == 5);
	for (size_t i = 0; i < l.n; i++)
		CHECK(strcmp(l.names[i], "Sent") != 0);
	imap_mbox_list_free(&l);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", home);
	CHECK(system(cmd) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_names_valid),
	TEST(test_names_refused),
	TEST(test_paths),
	TEST(test_match),
	TEST(test_folders),
};

HARNESS_MAIN("imap_mbox", tests)
