/* Bounded line reader over a libevent input buffer. */
#ifndef MW_CORE_LINEREADER_H
#define MW_CORE_LINEREADER_H

#include <event2/buffer.h>
#include <stddef.h>

enum line_result {
	LINE_MORE = 0,		/* no complete line yet */
	LINE_OK = 1,		/* a line is in the caller's buffer */
	LINE_TOO_LONG = 2,	/* a line over the limit was discarded */
};

struct line_reader {
	size_t max;		/* limit including the CRLF */
	int discarding;		/* inside an over-long line */
};

void line_reader_init(struct line_reader *lr, size_t max);
/* Takes the next line from in. On LINE_OK, line (size lr->max) holds it
 * without the line end (CRLF, or a bare LF), NUL-terminated, and *len_r
 * its length (the line may contain NUL bytes). An over-long line is
 * drained as it arrives and reported once, when its end is seen. */
enum line_result line_read(struct line_reader *lr, struct evbuffer *in,
    char *line, size_t *len_r);

#endif
