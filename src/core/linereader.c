/* Bounded line reader.
 * SECURITY: never buffers more than the limit of an untrusted line. */
#include "core/linereader.h"

void
line_reader_init(struct line_reader *lr, size_t max)
{
	lr->max = max;
	lr->discarding = 0;
}

enum line_result
line_read(struct line_reader *lr, struct evbuffer *in, char *line,
    size_t *len_r)
{
	struct evbuffer_ptr eol;
	size_t eol_len, avail = evbuffer_get_length(in), n;

	eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
	if (eol.pos < 0) {
		if (lr->discarding || avail >= lr->max) {
			lr->discarding = 1;
			evbuffer_drain(in, avail);
		}
		return LINE_MORE;
	}
	n = (size_t)eol.pos;
	if (lr->discarding || n + eol_len > lr->max) {
		lr->discarding = 0;
		evbuffer_drain(in, n + eol_len);
		return LINE_TOO_LONG;
	}
	evbuffer_remove(in, line, n);
	evbuffer_drain(in, eol_len);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	*len_r = n;
	return LINE_OK;
}
