/* libFuzzer target: IMAP commands. The input is cut into lines the way
 * the session reads them: a line announcing a literal ({N} or {N+}, N
 * at most 4096 here) takes the next N octets with it, and the assembled
 * command goes through imap_parse_head and the argument cursor (every
 * token, astrings, sequence sets of each atom).
 *
 * Besides memory errors it aborts when: a token lies outside the
 * command; nesting goes past IMAP_DEPTH_MAX or below zero; a literal
 * token's length differs from what was announced; a tag or name breaks
 * its grammar; a sequence set has a range with lo > hi or a zero. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)
#define LITERAL_MAX 4096

static void
check_command(const char *cmd, size_t len)
{
	char tag[IMAP_TAG_MAX], name[32], out[256];
	const char *rest;
	static struct imap_args a;
	enum imap_arg_type t;
	int tokens = 0;

	if (imap_parse_head(cmd, len, tag, name, &rest) < 0) {
		REQUIRE(strlen(tag) >= 1 && strlen(tag) < IMAP_TAG_MAX);
		return;
	}
	REQUIRE(strlen(tag) >= 1 && strlen(name) >= 1);
	for (size_t i = 0; name[i] != '\0'; i++)
		REQUIRE(isupper((unsigned char)name[i]));
	REQUIRE(rest >= cmd && rest <= cmd + len);
	imap_args_init(&a, rest, (size_t)(cmd + len - rest));
	while ((t = imap_args_next(&a)) != IMAP_ARG_END &&
	    t != IMAP_ARG_ERROR) {
		REQUIRE(a.depth >= 0 && a.depth <= IMAP_DEPTH_MAX);
		REQUIRE(++tokens <= (int)len + 1);
		if (t == IMAP_ARG_ATOM) {
			struct imap_seqset s;

			REQUIRE(a.val >= rest && a.val + a.len <= cmd + len);
			REQUIRE(a.len > 0);
			if (imap_seqset_parse(a.val, a.len, 77, &s) == 0) {
				for (size_t i = 0; i < s.n; i++)
					REQUIRE(s.r[i].lo >= 1 &&
					    s.r[i].lo <= s.r[i].hi);
				imap_seqset_free(&s);
			}
		}
		if (t == IMAP_ARG_STRING && a.literal)
			REQUIRE(a.val >= rest && a.val + a.len <= cmd + len);
		if (t == IMAP_ARG_STRING && !a.literal)
			REQUIRE(a.val == a.buf && a.len < sizeof(a.buf));
	}
	imap_args_init(&a, rest, (size_t)(cmd + len - rest));
	while (imap_args_astring(&a, out, sizeof(out)) == 0)
		REQUIRE(strlen(out) < sizeof(out));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd = malloc(2 * size + 3);	/* each LF may become CRLF */
	size_t pos = 0, clen = 0;

	REQUIRE(cmd != NULL);
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size, len = end - pos;
		struct imap_literal lit;
		int r;

		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		memcpy(cmd + clen, data + pos, len);
		clen += len;
		pos = nl ? end + 1 : size;
		r = imap_line_literal(cmd, clen, &lit);
		if (r == 1 && lit.size <= LITERAL_MAX &&
		    lit.size <= size - pos) {
			/* the line end and the literal's octets, as read */
			memcpy(cmd + clen, "\r\n", 2);
			clen += 2;
			memcpy(cmd + clen, data + pos, (size_t)lit.size);
			clen += (size_t)lit.size;
			pos += (size_t)lit.size;
			continue;
		}
		cmd[clen] = '\0';
		check_command(cmd, clen);
		clen = 0;
	}
	free(cmd);
	return 0;
}
