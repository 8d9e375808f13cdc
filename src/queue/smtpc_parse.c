/* SMTP reply parsing for outbound delivery.
 * SECURITY: reads what remote servers send: every line is bounded by
 * the caller, text is copied bounded and made printable. */
#include "queue/smtpc_parse.h"

#include <string.h>
#include <strings.h>

void
smtpc_reply_init(struct smtpc_reply *r)
{
	memset(r, 0, sizeof(*r));
}

static void
append(struct smtpc_reply *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n && r->len + 1 < sizeof(r->text); i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[r->len++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	r->text[r->len] = '\0';
}

/* The EHLO keyword at the start of a line's text. */
static unsigned
keyword(const char *t, size_t n)
{
	static const struct { const char *kw; unsigned bit; } kws[] = {
		{ "PIPELINING", SMTPC_EXT_PIPELINING },
		{ "STARTTLS", SMTPC_EXT_STARTTLS },
		{ "SIZE", SMTPC_EXT_SIZE },
		{ "8BITMIME", SMTPC_EXT_8BITMIME },
		{ "SMTPUTF8", SMTPC_EXT_SMTPUTF8 },
	};
	size_t w = 0;

	while (w < n && t[w] != ' ')
		w++;
	for (size_t i = 0; i < sizeof(kws) / sizeof(kws[0]); i++)
		if (strlen(kws[i].kw) == w && strncasecmp(t, kws[i].kw, w) == 0)
			return kws[i].bit;
	if (w == 4 && strncasecmp(t, "AUTH", 4) == 0) {
		/* AUTH mechanisms, space separated */
		for (size_t i = w; i + 5 <= n; i++)
			if (t[i] == ' ' && strncasecmp(t + i + 1, "PLAIN", 5) ==
			    0 && (i + 6 == n || t[i + 6] == ' '))
				return SMTPC_EXT_AUTH_PLAIN;
	}
	return 0;
}

int
smtpc_reply_line(struct smtpc_reply *r, const char *line, size_t len)
{
	int code;

	if (len < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
	    (len > 3 && line[3] != ' ' && line[3] != '-'))
		return -1;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->lines > 0 && code != r->code)
		return -1;
	if (++r->lines > SMTPC_REPLY_LINES)
		return -1;
	if (r->lines == 1) {
		r->code = code;
		append(r, line, len);
	} else if (len > 4) {
		append(r, " ", 1);
		append(r, line + 4, len - 4);
	}
	if (len > 4)
		r->ext |= keyword(line + 4, len - 4);
	return len > 3 && line[3] == '-' ? 0 : 1;
}
