/* Replies of a remote SMTP server (RFC 5321 4.2), line by line, and the
 * EHLO keywords the client cares about. */
#ifndef MW_QUEUE_SMTPC_PARSE_H
#define MW_QUEUE_SMTPC_PARSE_H

#include <stddef.h>

#define SMTPC_LINE_MAX 2048	/* longer lines end the session */
#define SMTPC_REPLY_LINES 100	/* lines in one reply */
#define SMTPC_TEXT_MAX 512	/* kept of a reply, for logs and DSNs */

/* EHLO keywords. */
enum {
	SMTPC_EXT_PIPELINING = 1 << 0,
	SMTPC_EXT_STARTTLS = 1 << 1,
	SMTPC_EXT_AUTH_PLAIN = 1 << 2,
	SMTPC_EXT_SIZE = 1 << 3,
	SMTPC_EXT_8BITMIME = 1 << 4,
	SMTPC_EXT_SMTPUTF8 = 1 << 5,
};

struct smtpc_reply {
	int code;			/* 200..599 once complete */
	unsigned lines;
	unsigned ext;			/* SMTPC_EXT_* seen in the lines */
	char text[SMTPC_TEXT_MAX];	/* "CODE text[ text...]", one line */
	size_t len;
};

void smtpc_reply_init(struct smtpc_reply *r);
/* Adds one line (without its line end; may hold any byte). Returns 1
 * when the reply is complete, 0 when more lines follow, -1 when the line
 * is not a reply line or changes the code mid-reply. */
int smtpc_reply_line(struct smtpc_reply *r, const char *line, size_t len);

#endif
