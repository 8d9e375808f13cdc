/* Dot-stuffing of messages for the wire (RFC 5321 4.5.2, RFC 1939 3). */
#ifndef MW_CORE_DOTSTUFF_H
#define MW_CORE_DOTSTUFF_H

#include <stddef.h>
#include <stdint.h>

/* Turns a stored message into the dot-stuffed form that SMTP DATA and
 * POP3 RETR/TOP send, piece by piece: bare LF becomes CRLF, a line
 * starting with "." gets another, and with a line limit (POP3 TOP)
 * output stops after the header, the blank line and that many body
 * lines. */
struct dotstuff {
	int64_t body_lines;	/* body lines still to send; -1: all */
	uint32_t line_len;	/* octets in the current line, CR excluded */
	uint8_t bol;		/* at the start of a line */
	uint8_t prev_cr;
	uint8_t in_header;
	uint8_t done;		/* the line limit was reached */
};

void dotstuff_init(struct dotstuff *st, int64_t body_lines);
/* Converts up to n octets of in into out, which has room for
 * 2 * n + 2. Returns the octets written; *used_r says how much of in was
 * consumed (less than n only once st->done). */
size_t dotstuff_run(struct dotstuff *st, const char *in, size_t n,
    char *out, size_t *used_r);
/* Ends the response: a final line end if needed, then ".\r\n". out has
 * room for 5; returns the octets written. */
size_t dotstuff_end(struct dotstuff *st, char *out);

#endif
