/* The POP3 wire format: command lines in (RFC 1939 3, RFC 2449 4: a
 * keyword of 3 or 4 letters, then arguments separated by single spaces)
 * and multi-line message responses out (CRLF, dot-stuffed). */
#ifndef MW_POP3_POP3_PARSE_H
#define MW_POP3_POP3_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* RFC 2449 4: a command line is at most 255 octets with its CRLF. */
#define POP3_COMMAND_MAX 255
/* SASL responses (RFC 5034 4) may be longer: PLAIN with the longest
 * names we accept fits with room. */
#define POP3_SASL_LINE_MAX 2048

/* Splits line (len octets, may hold NUL) into its keyword, upper-cased
 * into verb (5 bytes), and *args_r: the text after the space ("" when
 * none). -1 when the line does not start with a keyword. */
int pop3_parse_command(const char *line, size_t len, char verb[5],
    const char **args_r);

/* Parses args as between nmin and nmax decimal numbers separated by
 * single spaces, each below 2^32, into nums; returns how many were
 * given, or -1 when args is anything else. */
int pop3_parse_numbers(const char *args, int nmin, int nmax, uint32_t *nums);

/* Turns a stored message into a multi-line response body, piece by
 * piece: bare LF becomes CRLF, a line starting with "." gets another,
 * and with a line limit (TOP) output stops after the header, the blank
 * line and that many body lines. */
struct pop3_stuffer {
	int64_t body_lines;	/* body lines still to send; -1: all */
	uint32_t line_len;	/* octets in the current line, CR excluded */
	uint8_t bol;		/* at the start of a line */
	uint8_t prev_cr;
	uint8_t in_header;
	uint8_t done;		/* the line limit was reached */
};

void pop3_stuffer_init(struct pop3_stuffer *st, int64_t body_lines);
/* Converts up to n octets of in into out, which has room for
 * 2 * n + 2. Returns the octets written; *used_r says how much of in was
 * consumed (less than n only once st->done). */
size_t pop3_stuff(struct pop3_stuffer *st, const char *in, size_t n,
    char *out, size_t *used_r);
/* Ends the response: a final line end if needed, then ".\r\n". out has
 * room for 5; returns the octets written. */
size_t pop3_stuff_end(struct pop3_stuffer *st, char *out);

#endif
