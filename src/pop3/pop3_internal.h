/* State shared by the files of the POP3 session machine (pop3_session.c
 * and pop3_maildrop.c). Not for other modules. */
#ifndef MW_POP3_POP3_INTERNAL_H
#define MW_POP3_POP3_INTERNAL_H

#include <stdint.h>

#include "core/account.h"
#include "core/conn.h"
#include "core/dotstuff.h"
#include "core/linereader.h"
#include "core/listener.h"
#include "core/pool.h"
#include "pop3/pop3_parse.h"
#include "store/mailbox.h"

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_SASL,	/* waiting for an AUTH response line */
	POP3_STATE_TRANSACTION,
	POP3_STATE_BUSY,	/* a password check or a worker job runs */
	POP3_STATE_SENDING,	/* a multi-line response goes out */
	POP3_STATE_TLS,		/* STLS handshake */
	POP3_STATE_QUIT,	/* closing */
	POP3_STATE_COUNT
};

/* Per message, in the session: what UPDATE will do. */
enum { POP3_MARK_DELETED = 1, POP3_MARK_RETRIEVED = 2 };

enum pop3_job_kind { POP3_JOB_SCAN, POP3_JOB_READ, POP3_JOB_UPDATE };

/* One worker job at a time per session. The session outlives its
 * connection while a job runs: the job's end frees it. */
struct pop3_job {
	struct pool_job job;
	struct pop3_session *s;
	enum pop3_job_kind kind;
	int rc, err;		/* result: 0 or -1 with errno */
	char *out;		/* READ: converted octets, handed to conn */
	size_t out_len;
	int eof;		/* READ: the response is complete */
	size_t failed;		/* UPDATE: actions that failed */
	uint8_t *actions;	/* UPDATE: per message */
};

/* The message being sent by RETR or TOP. */
struct pop3_transfer {
	int fd;			/* -1 until opened by the first READ */
	uint32_t msg;		/* index */
	uint64_t off;		/* next octet to read */
	uint64_t end;		/* the file's size when opened */
	int started;		/* the +OK line went out */
	int retr;		/* RETR (marks seen), else TOP */
	struct dotstuff st;
};

/* A LIST or UIDL listing being sent. */
struct pop3_listing {
	int uidl;
	uint32_t next;		/* next index to list */
};

struct pop3_session {
	struct conn *c;		/* NULL once the connection has gone */
	const struct listener *l;
	enum pop3_state state;
	struct ipaddr peer;	/* kept after the connection goes */
	struct line_reader lr;
	char line[POP3_SASL_LINE_MAX];
	char user[ACCOUNT_ADDR_MAX + 1];	/* from USER */
	char login[ACCOUNT_ADDR_MAX + 1];	/* authenticated user, or "" */
	char maildir[ACCOUNT_ADDR_MAX + 16];	/* "mail/DOMAIN/LOCAL" */
	unsigned nerrors;
	int counted_ip;		/* holds a slot of pop3.max-per-ip */
	int locked;		/* holds the user's maildrop lock */
	int job_running;
	int close_after_job;	/* shutting down */
	int sending_listing;	/* SENDING a listing, else a message */
	struct pop3_job job;

	/* TRANSACTION state: the maildrop as it was at login. */
	struct mailbox_list box;
	uint8_t *marks;		/* POP3_MARK_* per message */
	size_t ndeleted;
	uint64_t deleted_size;
	unsigned retrieved;
	struct pop3_transfer xfer;
	struct pop3_listing listing;
};

void pop3_enter_state(struct pop3_session *s, enum pop3_state state);
/* Sends one response line (CRLF added). */
void pop3_reply(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Counts a client error; closes the session past pop3.max-errors. */
void pop3_client_error(struct pop3_session *s);
/* Back to reading commands in state. */
void pop3_resume(struct pop3_session *s, enum pop3_state state);
void pop3_close(struct pop3_session *s);
/* Gives the user's maildrop lock back. */
void pop3_unlock(struct pop3_session *s);
/* Runs job kind on a worker; the session is BUSY or SENDING meanwhile. */
void pop3_submit(struct pop3_session *s, enum pop3_job_kind kind);

/* pop3_maildrop.c */
/* After a successful login: lists the maildrop, then TRANSACTION. */
void pop3_open_maildrop(struct pop3_session *s);
/* The TRANSACTION commands (the state is checked by the caller). */
void pop3_cmd_stat(struct pop3_session *s, const char *args);
void pop3_cmd_list(struct pop3_session *s, const char *args);
void pop3_cmd_uidl(struct pop3_session *s, const char *args);
void pop3_cmd_retr(struct pop3_session *s, const char *args);
void pop3_cmd_top(struct pop3_session *s, const char *args);
void pop3_cmd_dele(struct pop3_session *s, const char *args);
void pop3_cmd_rset(struct pop3_session *s, const char *args);
void pop3_cmd_noop(struct pop3_session *s, const char *args);
/* QUIT in TRANSACTION: the UPDATE state. */
void pop3_update(struct pop3_session *s);
/* Runs a job on a worker thread: touches only the job and the
 * session's maildrop state, which the loop leaves alone meanwhile. */
void pop3_job_work(struct pool_job *job);
/* A worker job finished (on the loop; s->c is alive). */
void pop3_job_finished(struct pop3_session *s);
/* Output drained while SENDING: continues the response. */
void pop3_continue_sending(struct pop3_session *s);
/* Frees the maildrop state. */
void pop3_maildrop_free(struct pop3_session *s);

#endif
