/* libFuzzer target: IMAP SEARCH programs (imap/imap_search_*.c). The
 * input is the argument text of a SEARCH command, literals included; it
 * is compiled and matched against three fixed messages (encoded words
 * in several charsets, base64 and quoted-printable bodies, multipart
 * with a nested message, a missing and an unreadable Date:). The input
 * is also read as an RFC 5322 date.
 *
 * Besides memory errors it aborts when: parsing returns anything but
 * 0, -1 or -2, or an error without a short printable text; needs()
 * has unknown bits; matching returns anything but 0 or 1, or differs
 * when repeated; a program that needs no tree matches differently
 * without one, or one that needs no body differently on a header-only
 * tree; "NOT (input)" does not match exactly the other messages; a
 * date is accepted with a zone or an instant out of range. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"
#include "imap/imap_search.h"
#include "store/mime.h"
#include "store/uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static const char msg_multi[] =
    "From: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>\r\n"
    "To: =?UTF-8?B?w5xiZXI=?= <u@example.de>, b@example.org\r\n"
    "Cc: =?koi8-r?b?8NLJ18XU?= <c@example.ru>\r\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9?= =?windows-1252?q?=80?= plain\r\n"
    "Date: Sat, 29 Feb 2020 23:30:00 -0800 (PST)\r\n"
    "X-Folded: one\r\n"
    "\ttwo\r\n"
    "Content-Type: multipart/mixed; boundary=\"b1\"\r\n"
    "\r\n"
    "--b1\r\n"
    "Content-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n"
    "\r\n"
    "Gr=FC=DFe, soft=\r\n"
    "break\r\n"
    "--b1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "PGI+w5xiZXI8L2I+\r\n"
    "--b1\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: inner\r\n"
    "\r\n"
    "inner body\r\n"
    "--b1--\r\n";

static const char msg_plain[] =
    "From: alice@example.com\n"
    "To: bob@example.com\n"
    "Subject: Hello World\n"
    "Date: 1 Jan 70 00:00 GMT\n"
    "\n"
    "Plain body.\n";

static const char msg_odd[] =
    "Subject: =?x-nope?q?raw=FF?= =?utf-8?b?!!?=\r\n"
    "Date: not a date\r\n"
    "no colon line\r\n"
    "Content-Type: text/plain; charset=utf-16le\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "\r\n"
    "SABpAA==\r\n";

static const char keywords[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1] = {
	"$Forwarded", "", "Work", "Junk",
};

#define N_MSGS 3

static struct imap_search_msg msgs[N_MSGS];
static struct mime_tree *full[N_MSGS], *head[N_MSGS];
static struct imap_args args;

static void
setup(void)
{
	static const char *const texts[N_MSGS] = { msg_multi, msg_plain,
	    msg_odd };
	static const size_t lens[N_MSGS] = { sizeof(msg_multi) - 1,
	    sizeof(msg_plain) - 1, sizeof(msg_odd) - 1 };

	if (full[0] != NULL)
		return;
	for (int i = 0; i < N_MSGS; i++) {
		full[i] = mime_parse(texts[i], lens[i]);
		head[i] = mime_parse(texts[i], full[i]->root->body_off);
		msgs[i].seq = (uint32_t)i + 1;
		msgs[i].uid = 100 * ((uint32_t)i + 1);
		msgs[i].size = lens[i];
	}
	msgs[0].flags = UIDLIST_SEEN | UIDLIST_FLAGGED;
	msgs[0].keywords = 1 << 2;
	msgs[0].internal_date = 1583049600;	/* 1-Mar-2020 */
	msgs[1].flags = IMAP_SEARCH_RECENT;
	msgs[1].internal_date = -86401;
	msgs[2].flags = UIDLIST_DELETED | UIDLIST_ANSWERED | UIDLIST_DRAFT;
	msgs[2].keywords = 1 << 0 | 1 << 3;
	msgs[2].internal_date = 4102444800;	/* 1-Jan-2100 */
}

/* The matches of prog as a bit mask, or -1 when it does not compile. */
static int
run(const char *prog, size_t len)
{
	struct imap_search *s = NULL;
	const char *error = NULL;
	int rc, needs, mask = 0;

	imap_args_init(&args, prog, len);
	rc = imap_search_parse(&args, keywords, N_MSGS, 100 * N_MSGS, &s,
	    &error);
	REQUIRE(rc == 0 || rc == -1 || rc == -2);
	if (rc != 0) {
		REQUIRE(s == NULL && error != NULL);
		REQUIRE(strlen(error) > 0 && strlen(error) < 64);
		for (const char *p = error; *p != '\0'; p++)
			REQUIRE(*p >= 0x20 && *p < 0x7f);
		return -1;
	}
	REQUIRE(s != NULL);
	needs = imap_search_needs(s);
	REQUIRE((needs & ~(IMAP_SEARCH_NEED_HEADER |
	    IMAP_SEARCH_NEED_BODY)) == 0);
	for (int i = 0; i < N_MSGS; i++) {
		struct imap_search_msg m = msgs[i];
		int r;

		m.tree = full[i];
		r = imap_search_match(s, &m);
		REQUIRE(r == 0 || r == 1);
		REQUIRE(imap_search_match(s, &m) == r);
		if (needs == 0) {
			m.tree = NULL;
			REQUIRE(imap_search_match(s, &m) == r);
		} else if ((needs & IMAP_SEARCH_NEED_BODY) == 0) {
			m.tree = head[i];
			REQUIRE(imap_search_match(s, &m) == r);
		}
		mask |= r << i;
	}
	imap_search_free(&s);
	REQUIRE(s == NULL);
	return mask;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *prog, *wrapped;
	int64_t utc;
	int zone, a, b;

	if (size > IMAP_LINE_MAX)
		return 0;
	setup();
	prog = malloc(size + 1);
	wrapped = malloc(size + 7);
	REQUIRE(prog != NULL && wrapped != NULL);
	memcpy(prog, data, size);
	memcpy(wrapped, "NOT (", 5);
	memcpy(wrapped + 5, data, size);
	wrapped[size + 5] = ')';

	a = run(prog, size);
	if (a >= 0 && (b = run(wrapped, size + 6)) >= 0)
		REQUIRE(b == (~a & ((1 << N_MSGS) - 1)));

	if (imap_search_date822(prog, size, &utc, &zone) == 0) {
		REQUIRE(zone >= -(99 * 60 + 59) && zone <= 99 * 60 + 59);
		/* years 1900-9999 */
		REQUIRE(utc >= -2208988800LL - 100 * 3600 &&
		    utc <= 253402300800LL + 100 * 3600);
	}
	free(prog);
	free(wrapped);
	return 0;
}
