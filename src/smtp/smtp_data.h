/* The DATA reader: finds the end of data, undoes dot-stuffing, enforces
 * the line and size limits, and flags bare CR or LF. Only CRLF "." CRLF
 * ends the data, so no bare-LF/CR variant can end a message early
 * (SMTP smuggling). Incremental: fed any split of the input. */
#ifndef MW_SMTP_SMTP_DATA_H
#define MW_SMTP_SMTP_DATA_H

#include <stddef.h>

#include "core/buf.h"

#define SMTP_DATA_LINE_MAX 1000	/* text line including CRLF, RFC 5321 */

enum smtp_data_error {
	SMTP_DATA_OK = 0,
	SMTP_DATA_TOO_BIG = 1 << 0,	/* more than the size limit */
	SMTP_DATA_LONG_LINE = 1 << 1,	/* a line over 1000 octets */
	SMTP_DATA_BARE_NL = 1 << 2,	/* bare CR or bare LF */
};

struct smtp_data {
	struct buf *out;	/* the unstuffed message (not owned) */
	size_t max_size;	/* message limit in octets */
	size_t size;		/* octets of message seen (even if dropped) */
	size_t line_len;	/* octets in the current line so far */
	int state;
	unsigned errors;	/* enum smtp_data_error bits */
};

/* Starts reading a message into out (emptied), limited to max_size. */
void smtp_data_init(struct smtp_data *d, struct buf *out, size_t max_size);
/* Consumes up to n bytes. Returns 1 when the end of data was reached
 * (*used_r bytes consumed, the rest belongs to the next command), else 0
 * (all n consumed). Once errors is non-zero the message is no longer
 * stored, but reading continues to the real end of data. */
int smtp_data_feed(struct smtp_data *d, const char *p, size_t n,
    size_t *used_r);

#endif
