/* libFuzzer target: the DATA reader (smtp_data_feed).
 *
 * Input layout: byte 0 picks the size limit, byte 1 (low 4 bits) how
 * many chunk-length bytes follow; those bytes are the chunk sizes, used
 * in turn (0 is an empty feed); the rest is the client's byte stream.
 *
 * The stream is fed whole, in those chunks, and (when short) one byte at
 * a time, each chunk in a heap block of exactly its size; all three must
 * agree. The result is then checked against a plain reference model of
 * RFC 5321 4.1.1.4 / 4.5.2 and against these invariants:
 *   - the end of data is a "." CRLF at a line start (after a real CRLF
 *     or at the very start), and nothing after it is consumed;
 *   - the stored message is never larger than the size limit, and
 *     TOO_BIG is set exactly when the message is over it;
 *   - with no error flagged: no bare CR or LF in the message, no line
 *     over 1000 octets, a finished message ends in CRLF (or is empty),
 *     and dot-stuffing the message again and adding "." CRLF reads back
 *     to the very same message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond) do { if (!(cond)) abort(); } while (0)
#define BUF_MAX (1024 * 1024)

struct result {
	int done;
	size_t used;
	unsigned errors;
	size_t size;
	struct buf out;
};

/* Feeds in[0..len); chunk sizes come from lens[0..nlens) in turn, or the
 * whole input at once when nlens is 0. */
static void
feed(const char *in, size_t len, size_t max, const uint8_t *lens,
    size_t nlens, struct result *r)
{
	struct smtp_data d;
	size_t off = 0, k = 0, empty = 0;

	memset(r, 0, sizeof(*r));
	buf_init(&r->out, BUF_MAX);
	smtp_data_init(&d, &r->out, max);
	while (off < len) {
		size_t n = nlens ? lens[k++ % nlens] : len, used = SIZE_MAX;
		char *chunk;
		int rc;

		if (n == 0 && ++empty > 4)	/* all zero: move on */
			n = 1;
		if (n > len - off)
			n = len - off;
		chunk = malloc(n ? n : 1);
		REQUIRE(chunk != NULL);
		memcpy(chunk, in + off, n);
		rc = smtp_data_feed(&d, chunk, n, &used);
		free(chunk);
		REQUIRE(rc == 0 || rc == 1);
		if (rc == 1) {
			REQUIRE(used >= 1 && used <= n);
			off += used;
			r->done = 1;
			break;
		}
		REQUIRE(used == n);
		off += n;
	}
	r->used = off;
	r->errors = d.errors;
	r->size = d.size;
	REQUIRE((d.errors & ~(unsigned)(SMTP_DATA_TOO_BIG |
	    SMTP_DATA_LONG_LINE | SMTP_DATA_BARE_NL)) == 0);
}

static int
same(const struct result *a, const struct result *b)
{
	return a->done == b->done && a->used == b->used &&
	    a->errors == b->errors && a->size == b->size &&
	    a->out.len == b->out.len && (a->out.len == 0 ||
	    memcmp(a->out.data, b->out.data, a->out.len) == 0);
}

/* The reference model; see the comment at the top. */
static void
model_check(const char *in, size_t len, size_t max, const struct result *r)
{
	size_t end = len, line = 0, size = 0;
	unsigned errors = 0;
	int done = 0;
	char *out;

	for (size_t i = 0; i + 3 <= len; i++)
		if ((i == 0 || (i >= 2 && in[i - 2] == '\r' &&
		    in[i - 1] == '\n')) && in[i] == '.' && in[i + 1] == '\r' &&
		    in[i + 2] == '\n') {
			done = 1;
			end = i;
			break;
		}
	REQUIRE(r->done == done);
	REQUIRE(r->used == (done ? end + 3 : len));
	out = malloc(end + 1);
	REQUIRE(out != NULL);
	for (size_t i = 0; i < end; i++) {
		if (in[i] == '\r' && ((i + 1 < end && in[i + 1] != '\n') ||
		    (i + 1 == end && done)))
			errors |= SMTP_DATA_BARE_NL;
		if (in[i] == '\n' && (i == 0 || in[i - 1] != '\r'))
			errors |= SMTP_DATA_BARE_NL;
		if (++line > SMTP_DATA_LINE_MAX)
			errors |= SMTP_DATA_LONG_LINE;
		if (!(line == 1 && in[i] == '.'))
			out[size++] = in[i];
		if (in[i] == '\n' && i > 0 && in[i - 1] == '\r')
			line = 0;
	}
	REQUIRE((r->errors & ~(unsigned)SMTP_DATA_TOO_BIG) == errors);
	/* TOO_BIG means more than the limit, whatever else was wrong
	 * (max is never above BUF_MAX here) */
	REQUIRE(((r->errors & SMTP_DATA_TOO_BIG) != 0) == (r->size > max));
	if (done) {
		REQUIRE(r->size == size);
		if (r->errors == 0)
			REQUIRE(r->out.len == size && (size == 0 ||
			    memcmp(r->out.data, out, size) == 0));
	}
	free(out);
}

/* Stuffs msg again, adds the end, and reads it back. */
static void
restuff_check(const char *msg, size_t len, size_t max)
{
	char *wire = malloc(len * 2 + 3), *p = wire;
	struct result r;
	int bol = 1;

	REQUIRE(wire != NULL);
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			*p++ = '.';
		*p++ = msg[i];
		bol = msg[i] == '\n';
	}
	memcpy(p, ".\r\n", 3);
	p += 3;
	feed(wire, (size_t)(p - wire), max, NULL, 0, &r);
	REQUIRE(r.done && r.used == (size_t)(p - wire));
	REQUIRE(r.errors == 0 || (r.errors == SMTP_DATA_LONG_LINE));
	if (r.errors == 0)
		REQUIRE(r.out.len == len && (len == 0 ||
		    memcmp(r.out.data, msg, len) == 0));
	buf_release(&r.out, 0);
	free(wire);
}

static void
invariants(const struct result *r, size_t max)
{
	const char *m = r->out.data;
	size_t n = r->out.len, line = 0;

	REQUIRE(n <= max);
	if (r->errors != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (m[i] == '\r')
			REQUIRE(i + 1 == n || m[i + 1] == '\n');
		if (m[i] == '\n')
			REQUIRE(i > 0 && m[i - 1] == '\r');
		REQUIRE(++line <= SMTP_DATA_LINE_MAX);
		if (m[i] == '\n')
			line = 0;
	}
	if (r->done) {
		REQUIRE(n == 0 || (n >= 2 && m[n - 2] == '\r' &&
		    m[n - 1] == '\n'));
		restuff_check(m ? m : "", n, max);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t limits[] = { 0, 1, 2, 3, 5, 10, 100, 1000 };
	struct result whole, chunked, bytes;
	const uint8_t *lens;
	const char *in;
	size_t nlens, len, max;

	if (size < 2)
		return 0;
	max = data[0] < 0x80 ? limits[data[0] % 8] : (size_t)data[0] * 64;
	if (data[0] == 0xff)
		max = BUF_MAX;
	nlens = data[1] & 0x0f;
	if (size < 2 + nlens)
		return 0;
	lens = data + 2;
	in = (const char *)data + 2 + nlens;
	len = size - 2 - nlens;

	feed(in, len, max, NULL, 0, &whole);
	feed(in, len, max, lens, nlens, &chunked);
	REQUIRE(same(&whole, &chunked));
	if (len <= 4096) {
		static const uint8_t one = 1;

		feed(in, len, max, &one, 1, &bytes);
		REQUIRE(same(&whole, &bytes));
		buf_release(&bytes.out, 0);
	}
	model_check(in, len, max, &whole);
	invariants(&whole, max);
	buf_release(&whole.out, 0);
	buf_release(&chunked.out, 0);
	return 0;
}
