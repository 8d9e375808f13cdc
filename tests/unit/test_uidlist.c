/* IMAP UIDs of a Maildir folder: numbering, stability, files added and
 * removed behind our back, a damaged list, flags from file names. */
#include <errno.h>
#include <unistd.h>

#include "harness.h"
#include "store/uidlist.h"

static char root[64];

static void
put(const char *sub, const char *name)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	if ((f = fopen(path, "w")) == NULL)
		abort();
	fputs("x", f);
	fclose(f);
}

static void
gone(const char *sub, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s/%s", root, sub, name);
	CHECK(unlink(path) == 0);
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
	snprintf(root, sizeof(root), "/tmp/mw-uidlist-XXXXXX");
	if (mkdtemp(root) == NULL)
		abort();
}

static void
test_numbering_and_stability(void)
{
	struct uidlist ul, again;
	uint32_t v;

	fresh();
	memset(&ul, 0, sizeof(ul));
	memset(&again, 0, sizeof(again));
	CHECK(uidlist_sync(root, &ul) == 0);	/* creates new/ cur/ tmp/ */
	CHECK(ul.box.n == 0 && ul.uidnext == 1 && ul.uidvalidity != 0);
	v = ul.uidvalidity;
	put("new", "1700000002.M1P1Q1.h,S=1");
	put("cur", "1700000001.M1P1Q1.h,S=1:2,S");
	CHECK(uidlist_sync(root, &ul) == 0);
	CHECK(ul.uidvalidity == v && ul.box.n == 2 && ul.uidnext == 3);
	/* delivery order: the older file gets the lower UID */
	CHECK(ul.uids[0] == 1 && ul.uids[1] == 2);
	CHECK(strncmp(mailbox_name(&ul.box, &ul.box.msgs[0]),
	    "1700000001", 10) == 0);
	CHECK(uidlist_find(&ul, 2) == 1 && uidlist_find(&ul, 7) == -1);
	/* another reader (a restart) sees the same UIDs */
	CHECK(uidlist_sync(root, &again) == 0 && !again.changed);
	CHECK(again.uidvalidity == v && again.box.n == 2 &&
	    again.uids[0] == 1 && again.uids[1] == 2);
	/* a file older than the others, added later, still gets a new,
	 * higher UID; a removed one is dropped; UIDs never come back */
	put("new", "1600000000.M1P1Q1.h,S=1");
	gone("cur", "1700000001.M1P1Q1.h,S=1:2,S");
	CHECK(uidlist_sync(root, &ul) == 0 && ul.changed);
	CHECK(ul.box.n == 2 && ul.uids[0] == 2 && ul.uids[1] == 3);
	CHECK(ul.uidnext == 4);
	/* moving new/ -> cur/ with flags keeps the UID */
	{
		char a[512], b[512];

		snprintf(a, sizeof(a), "%s/new/1700000002.M1P1Q1.h,S=1", root);
		snprintf(b, sizeof(b), "%s/cur/1700000002.M1P1Q1.h,S=1:2,FS",
		    root);
		CHECK(rename(a, b) == 0);
	}
	CHECK(uidlist_sync(root, &again) == 0);
	CHECK(again.box.n == 2 && again.uids[0] == 2);
	{
		unsigned flags;
		uint32_t kw;

		uidlist_flags(&again.box, &again.box.msgs[0], &flags, &kw);
		CHECK(flags == (UIDLIST_SEEN | UIDLIST_FLAGGED) && kw == 0);
	}
	uidlist_free(&ul);
	uidlist_free(&again);
}

static void
test_damaged_list_is_rebuilt(void)
{
	struct uidlist ul;
	char path[512];
	FILE *f;

	fresh();
	memset(&ul, 0, sizeof(ul));
	CHECK(uidlist_sync(root, &ul) == 0);
	put("new", "1700000001.M1P1Q1.h,S=1");
	snprintf(path, sizeof(path), "%s/%s", root, UIDLIST_FILE);
	f = fopen(path, "w");
	fputs("mailwarden-uidlist 1 5 3\nU 9 x\n", f);	/* uid >= uidnext */
	fclose(f);
	CHECK(uidlist_sync(root, &ul) == 0 && ul.changed);
	CHECK(ul.box.n == 1 && ul.uids[0] == 1 && ul.uidvalidity != 5);
	uidlist_free(&ul);
}

/* A list lost twice in the same second still gets a new UIDVALIDITY,
 * greater than the last (RFC 3501 2.3.1.1). */
static void
test_validity_always_grows(void)
{
	struct uidlist ul;
	char path[512];
	uint32_t last = 0;

	fresh();
	memset(&ul, 0, sizeof(ul));
	snprintf(path, sizeof(path), "%s/%s", root, UIDLIST_FILE);
	for (int i = 0; i < 3; i++) {
		CHECK(uidlist_sync(root, &ul) == 0);
		CHECK(ul.uidvalidity > last);
		last = ul.uidvalidity;
		CHECK(unlink(path) == 0);
		uidlist_free(&ul);
	}
	/* a kept list keeps its value */
	CHECK(uidlist_sync(root, &ul) == 0);
	last = ul.uidvalidity;
	CHECK(uidlist_sync(root, &ul) == 0 && ul.uidvalidity == last);
	uidlist_free(&ul);
}

/* Keyword letters are handed out under the lock, kept across sessions,
 * and the messages' UIDs in the list survive. */
static void
test_keyword_letters(void)
{
	struct uidlist ul, other;

	fresh();
	memset(&ul, 0, sizeof(ul));
	memset(&other, 0, sizeof(other));
	CHECK(uidlist_sync(root, &ul) == 0);
	put("new", "1700000001.M1P1Q1.h,S=1");
	CHECK(uidlist_sync(root, &ul) == 0);
	CHECK(uidlist_sync(root, &other) == 0);
	CHECK(uidlist_keyword(root, &ul, "$Label1") == 0);
	CHECK(uidlist_keyword(root, &other, "Work") == 1);
	CHECK(uidlist_keyword(root, &other, "$label1") == 0);
	CHECK(strcmp(other.keywords[0], "$Label1") == 0);
	uidlist_free(&other);
	CHECK(uidlist_sync(root, &other) == 0);
	CHECK(strcmp(other.keywords[1], "Work") == 0);
	CHECK(other.box.n == 1 && other.uids[0] == ul.uids[0]);
	for (int k = 2; k < UIDLIST_KEYWORDS; k++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", k);
		CHECK(uidlist_keyword(root, &ul, name) == k);
	}
	CHECK(uidlist_keyword(root, &ul, "one-too-many") == -1 &&
	    errno == ENOSPC);
	uidlist_free(&ul);
	uidlist_free(&other);
}

static void
test_keywords_from_names(void)
{
	struct uidlist ul;
	unsigned flags;
	uint32_t kw;

	fresh();
	memset(&ul, 0, sizeof(ul));
	CHECK(uidlist_sync(root, &ul) == 0);
	put("cur", "1700000001.M1P1Q1.h,S=1:2,DRTac");
	CHECK(uidlist_sync(root, &ul) == 0 && ul.box.n == 1);
	uidlist_flags(&ul.box, &ul.box.msgs[0], &flags, &kw);
	CHECK(flags == (UIDLIST_DRAFT | UIDLIST_ANSWERED | UIDLIST_DELETED));
	CHECK(kw == ((1u << 0) | (1u << 2)));
	uidlist_free(&ul);
}

static void
test_cleanup(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	CHECK(system(cmd) == 0);
}

static const struct harness_test tests[] = {
	TEST(test_numbering_and_stability),
	TEST(test_damaged_list_is_rebuilt),
	TEST(test_keywords_from_names),
	TEST(test_validity_always_grows),
	TEST(test_keyword_letters),
	TEST(test_cleanup),
};

HARNESS_MAIN("uidlist", tests)
