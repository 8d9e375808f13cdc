/* libFuzzer target: the bounded line reader (line_read).
 *
 * Input layout: bytes 0-1 pick the limit (1..1024), byte 2 (low 4 bits)
 * how many chunk-length bytes follow; those are the sizes of the adds to
 * the evbuffer, used in turn; the rest is the stream. After every add
 * the reader is called until it wants more, into a line buffer of
 * exactly the limit's size.
 *
 * What comes out must be what a plain model says, whatever the chunks:
 * each LF-terminated line of the stream in order, as LINE_TOO_LONG if it
 * is over the limit with its line end, else as LINE_OK with the line end
 * (LF, or CR LF) removed. The reader must also never keep max bytes or
 * more of an unfinished line. */
#include <event2/buffer.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/linereader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)

struct expect {
	const uint8_t *in;
	size_t len, pos;	/* the next line of the model starts at pos */
	size_t max;
};

/* Checks one result of the reader against the model's next line. */
static void
expect_next(struct expect *e, enum line_result r, const char *line,
    size_t n)
{
	const uint8_t *nl = e->pos < e->len ? memchr(e->in + e->pos, '\n',
	    e->len - e->pos) : NULL;
	size_t end, want;

	REQUIRE(nl != NULL);	/* no line is reported before its LF */
	end = (size_t)(nl - e->in) + 1;
	want = end - e->pos;
	if (want > e->max) {
		REQUIRE(r == LINE_TOO_LONG);
	} else {
		want--;
		if (want > 0 && e->in[e->pos + want - 1] == '\r')
			want--;
		REQUIRE(r == LINE_OK);
		REQUIRE(n == want && n < e->max && line[n] == '\0');
		REQUIRE(memcmp(line, e->in + e->pos, n) == 0);
	}
	e->pos = end;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *in;
	struct line_reader lr;
	struct expect e;
	const uint8_t *lens;
	size_t nlens, off = 0, k = 0;
	char *line;

	if (size < 3)
		return 0;
	nlens = data[2] & 0x0f;
	if (size < 3 + nlens)
		return 0;
	e.max = ((size_t)data[0] << 8 | data[1]) % 1024 + 1;
	lens = data + 3;
	e.in = data + 3 + nlens;
	e.len = size - 3 - nlens;
	e.pos = 0;

	in = evbuffer_new();
	line = malloc(e.max);
	REQUIRE(in != NULL && line != NULL);
	line_reader_init(&lr, e.max);
	while (off < e.len) {
		size_t n = nlens ? lens[k++ % nlens] : e.len;

		if (n == 0)
			n = 1;
		if (n > e.len - off)
			n = e.len - off;
		REQUIRE(evbuffer_add(in, e.in + off, n) == 0);
		off += n;
		for (;;) {
			size_t len = SIZE_MAX;
			enum line_result r = line_read(&lr, in, line, &len);

			if (r == LINE_MORE) {
				REQUIRE(evbuffer_get_length(in) < e.max);
				break;
			}
			/* only what has been added can be reported */
			REQUIRE(e.pos < off);
			expect_next(&e, r, line, len);
			REQUIRE(e.pos <= off);
		}
	}
	/* everything the model has a full line for was reported */
	REQUIRE(e.pos >= e.len ||
	    memchr(e.in + e.pos, '\n', e.len - e.pos) == NULL);
	free(line);
	evbuffer_free(in);
	return 0;
}
