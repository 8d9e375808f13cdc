/* POP3 command lines (RFC 1939 3, RFC 2449 4): a keyword of 3 or 4
 * letters, then arguments separated by single spaces. */
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

#endif
