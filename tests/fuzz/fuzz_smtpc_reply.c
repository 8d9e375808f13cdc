/* libFuzzer target: remote SMTP replies through smtpc_reply_line, as
 * the client session feeds them (lines split at LF, one CR dropped,
 * lines over SMTPC_LINE_MAX never reach the parser).
 *
 * Besides memory errors it aborts when: a completed reply's code is not
 * 200..599 or differs from its first line; the kept text is not
 * NUL-terminated within SMTPC_TEXT_MAX, holds a control character, or
 * does not start with the code; a reply takes more than
 * SMTPC_REPLY_LINES lines; the EHLO bits are set for something else. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/smtpc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

static void
check_reply(const struct smtpc_reply *r)
{
	size_t n = strnlen(r->text, sizeof(r->text));

	REQUIRE(n < sizeof(r->text) && n == r->len);
	REQUIRE(r->code >= 200 && r->code <= 599);
	REQUIRE(r->lines >= 1 && r->lines <= SMTPC_REPLY_LINES);
	REQUIRE(n >= 3 && r->text[0] == '0' + r->code / 100 &&
	    r->text[1] == '0' + r->code / 10 % 10 &&
	    r->text[2] == '0' + r->code % 10);
	for (size_t i = 0; i < n; i++)
		REQUIRE((unsigned char)r->text[i] >= 0x20 && r->text[i] != 0x7f);
	REQUIRE((r->ext & ~0x3fu) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtpc_reply r;
	size_t start = 0;

	smtpc_reply_init(&r);
	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t len = end - start;
		char *line;
		int rc;

		if (len > 0 && data[start + len - 1] == '\r')
			len--;
		if (len <= SMTPC_LINE_MAX) {
			line = malloc(len + 1);
			REQUIRE(line != NULL);
			memcpy(line, data + start, len);
			line[len] = '\0';
			rc = smtpc_reply_line(&r, line, len);
			free(line);
			REQUIRE(rc >= -1 && rc <= 1);
			if (rc == 1)
				check_reply(&r);
			if (rc != 0)
				smtpc_reply_init(&r);
		}
		start = end + 1;
	}
	return 0;
}
