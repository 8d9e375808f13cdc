/* Dot-stuffing, a byte at a time, resumable at any point. */
#include "core/dotstuff.h"

#include <string.h>

void
dotstuff_init(struct dotstuff *st, int64_t body_lines)
{
	memset(st, 0, sizeof(*st));
	st->body_lines = body_lines;
	st->bol = 1;
	st->in_header = 1;
}

/* A line has just ended: counts it against the limit. */
static void
line_ended(struct dotstuff *st)
{
	if (st->in_header) {
		if (st->line_len == 0) {
			st->in_header = 0;
			st->done = st->body_lines == 0;
		}
	} else if (st->body_lines > 0) {
		st->done = --st->body_lines == 0;
	}
	st->line_len = 0;
}

size_t
dotstuff_run(struct dotstuff *st, const char *in, size_t n, char *out,
    size_t *used_r)
{
	size_t i, o = 0;

	for (i = 0; i < n && !st->done; i++) {
		char ch = in[i];

		if (st->bol && ch == '.')
			out[o++] = '.';
		if (ch == '\n' && !st->prev_cr)
			out[o++] = '\r';
		out[o++] = ch;
		st->prev_cr = ch == '\r';
		st->bol = ch == '\n';
		if (ch == '\n')
			line_ended(st);
		else if (ch != '\r')
			st->line_len++;
	}
	*used_r = i;
	return o;
}

size_t
dotstuff_end(struct dotstuff *st, char *out)
{
	size_t o = 0;

	if (!st->bol) {
		if (!st->prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
