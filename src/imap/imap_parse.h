/* IMAP command syntax (RFC 3501 9, LITERAL+ RFC 7888): a command is read
 * line by line, each line but the last ending in a literal announcement
 * {N} or {N+}, the literal's N octets following; imap_cmd_feed() tells
 * the session what it needs next. The assembled command is then read
 * token by token with struct imap_arg. */
#ifndef MW_IMAP_IMAP_PARSE_H
#define MW_IMAP_IMAP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_LINE_MAX 65536	/* one line of a command, CRLF included */
#define IMAP_TAG_MAX 64
#define IMAP_DEPTH_MAX 16	/* nested parentheses */

/* What a line says about the rest of the command. */
struct imap_literal {
	uint64_t size;		/* announced octets */
	int sync;		/* {N}: the client waits for "+ " */
};

/* Looks at the end of a line (without its CRLF): 1 and *lit if it
 * announces a literal, 0 if the command ends here, -1 if the
 * announcement is malformed ({ without a valid number and }). */
int imap_line_literal(const char *line, size_t len, struct imap_literal *lit);

/* Reads the tag and the command name at the start of a command (upper
 * cased into name, size 32). *rest_r points after them ("" or the text
 * after one space). -1 when there is no valid tag or name; then tag is
 * still filled when a tag was found (for the BAD reply), else "*". */
int imap_parse_head(const char *cmd, size_t len, char *tag, char *name,
    const char **rest_r);

enum imap_arg_type {
	IMAP_ARG_END,		/* nothing more */
	IMAP_ARG_ATOM,		/* including NIL, numbers, sequence sets */
	IMAP_ARG_STRING,	/* quoted or literal */
	IMAP_ARG_LIST_OPEN,	/* ( */
	IMAP_ARG_LIST_CLOSE,	/* ) */
	IMAP_ARG_ERROR,		/* malformed */
};

/* A cursor over the arguments of an assembled command. */
struct imap_args {
	const char *p, *end;
	int depth;
	int error;
	/* the current token */
	enum imap_arg_type type;
	const char *val;	/* ATOM: the atom; STRING: the octets */
	size_t len;
	int literal;		/* STRING came as a literal */
	char buf[IMAP_LINE_MAX];/* a quoted string, unescaped */
};

void imap_args_init(struct imap_args *a, const char *rest, size_t len);
/* Moves to the next token; returns its type. Tokens are separated by
 * single spaces; "(" and ")" need none. A bracketed part after an atom
 * (BODY[HEADER.FIELDS (A B)]<0.10>) belongs to the atom, with any
 * spaces and parentheses inside the brackets. */
enum imap_arg_type imap_args_next(struct imap_args *a);
/* The next token as an astring (atom or string) copied into out (size
 * outsize, NUL-terminated, no NUL inside); -1 otherwise. */
int imap_args_astring(struct imap_args *a, char *out, size_t outsize);
/* 1 if nothing but the end follows. */
int imap_args_done(struct imap_args *a);

/* A sequence set (RFC 3501 9: "1:4,7,9:*"), with "*" meaning max. */
struct imap_seqset {
	struct imap_range { uint32_t lo, hi; } *r;
	size_t n;
};

/* Parses s (len octets). -1 if malformed or over 10,000 ranges; the
 * caller frees set->r with imap_seqset_free(). */
int imap_seqset_parse(const char *s, size_t len, uint32_t max,
    struct imap_seqset *set);
int imap_seqset_has(const struct imap_seqset *set, uint32_t n);
void imap_seqset_free(struct imap_seqset *set);

#endif
