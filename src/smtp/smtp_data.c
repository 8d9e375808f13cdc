/* DATA reader.
 * SECURITY: the end of data is recognised only as CRLF "." CRLF where the
 * first CRLF is a real line end; anything else is message content. */
#include "smtp/smtp_data.h"

enum {
	ST_BOL,		/* at the start of a line */
	ST_DOT,		/* line started with "." */
	ST_DOT_CR,	/* "." CR at line start */
	ST_TEXT,	/* inside a line */
	ST_CR,		/* CR seen inside a line */
};

void
smtp_data_init(struct smtp_data *d, struct buf *out, size_t max_size)
{
	buf_reset(out);
	d->out = out;
	d->max_size = max_size;
	d->size = 0;
	d->line_len = 0;
	d->state = ST_BOL;
	d->errors = 0;
}

static void
emit(struct smtp_data *d, const char *p, size_t n)
{
	d->size += n;
	/* Each error is found however the input was split, so the size is
	 * checked even when the message is already refused. */
	if (d->size > d->max_size)
		d->errors |= SMTP_DATA_TOO_BIG;
	if (d->errors == 0 && buf_append(d->out, p, n) < 0)
		d->errors |= SMTP_DATA_TOO_BIG;
	if (d->errors != 0)
		buf_reset(d->out);
}

static void
count_line(struct smtp_data *d, size_t n)
{
	d->line_len += n;
	if (d->line_len > SMTP_DATA_LINE_MAX && !(d->errors &
	    SMTP_DATA_LONG_LINE)) {
		d->errors |= SMTP_DATA_LONG_LINE;
		buf_reset(d->out);
	}
}

static void
bare(struct smtp_data *d)
{
	if (!(d->errors & SMTP_DATA_BARE_NL))
		buf_reset(d->out);
	d->errors |= SMTP_DATA_BARE_NL;
}

int
smtp_data_feed(struct smtp_data *d, const char *p, size_t n, size_t *used_r)
{
	size_t i = 0;

	while (i < n) {
		char c = p[i];

		switch (d->state) {
		case ST_BOL:
			d->line_len = 0;
			if (c == '.') {
				count_line(d, 1);
				d->state = ST_DOT;
				i++;
				continue;
			}
			d->state = ST_TEXT;
			continue;	/* same byte, as text */
		case ST_DOT:
			if (c == '\r') {
				count_line(d, 1);
				d->state = ST_DOT_CR;
				i++;
				continue;
			}
			d->state = ST_TEXT;	/* the stuffed dot is dropped */
			continue;
		case ST_DOT_CR:
			i++;
			if (c == '\n') {
				*used_r = i;
				return 1;
			}
			bare(d);	/* "." CR then not LF */
			d->state = ST_TEXT;
			emit(d, "\r", 1);
			i--;	/* reprocess c as text */
			continue;
		case ST_TEXT: {
			/* Copy a run of ordinary bytes at once. */
			size_t j = i;

			while (j < n && p[j] != '\r' && p[j] != '\n')
				j++;
			if (j > i) {
				count_line(d, j - i);
				emit(d, p + i, j - i);
				i = j;
				continue;
			}
			if (c == '\r') {
				count_line(d, 1);
				d->state = ST_CR;
			} else {
				bare(d);	/* bare LF */
				count_line(d, 1);
				emit(d, "\n", 1);
			}
			i++;
			continue;
		}
		case ST_CR:
			if (c == '\n') {
				count_line(d, 1);
				emit(d, "\r\n", 2);
				d->state = ST_BOL;
				i++;
				continue;
			}
			bare(d);	/* bare CR */
			emit(d, "\r", 1);
			d->state = ST_TEXT;
			continue;
		}
	}
	*used_r = n;
	return 0;
}
