/* State shared by the files of the IMAP server (imap_session.c, the
 * imap_cmd_*.c commands, imap_view.c, imap_job.c). Not for other modules.
 *
 * A command is assembled from lines and literals, parsed on the loop,
 * and, when it touches the disk, run by one worker job; while the job
 * runs the session does not read and the loop leaves its view and output
 * buffer alone. */
#ifndef MW_IMAP_IMAP_INTERNAL_H
#define MW_IMAP_IMAP_INTERNAL_H

#include <stdint.h>

#include "core/account.h"
#include "core/buf.h"
#include "core/conn.h"
#include "core/listener.h"
#include "core/pool.h"
#include "imap/imap_parse.h"
#include "store/uidlist.h"

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
	IMAP_STATE_COUNT
};

/* What the session waits for. */
enum imap_wait {
	IMAP_WAIT_COMMAND,	/* command lines and literals */
	IMAP_WAIT_SASL,		/* an AUTHENTICATE response line */
	IMAP_WAIT_IDLE,		/* DONE */
	IMAP_WAIT_BUSY,		/* a password check or a job runs */
	IMAP_WAIT_TLS,		/* STARTTLS handshake */
};

#define IMAP_FOLDER_MAX 200		/* octets in a mailbox name */
#define IMAP_PATH_MAX (ACCOUNT_ADDR_MAX + 16 + IMAP_FOLDER_MAX + 2)
#define IMAP_OUT_CHUNK (256 * 1024)	/* a job hands output over past this */
#define IMAP_SESSION_FLAG_RECENT 0x100	/* \Recent beside UIDLIST_* */

/* The selected mailbox as the client knows it. */
struct imap_view {
	char name[IMAP_FOLDER_MAX + 1];	/* as the client named it */
	char path[IMAP_PATH_MAX];	/* its Maildir */
	int readonly;			/* EXAMINE */
	struct uidlist ul;		/* messages by UID; seq = index + 1 */
	uint32_t *known;		/* per message: flags and keywords as
					   the client last heard them
					   (imap_view_pack()) */
	int compact;			/* idle: file names dropped, only
					   ul.uids, ul.box.n and known kept */
	uint32_t *recent;		/* UIDs recent to this session, sorted */
	size_t nrecent;
	struct imap_watch *watch;	/* change notices for path */
	uint64_t seen_gen;		/* watch generation at the last sync */
	uint64_t sync_gen;		/* generation when this sync began */
	uint64_t keywords_sent;		/* hash of the keyword names told */
};

struct imap_session;
typedef void imap_work_fn(struct imap_session *s);

struct imap_job {
	struct pool_job job;
	struct imap_session *s;
	imap_work_fn *work;		/* on a worker */
	imap_work_fn *done;		/* on the loop, s->c alive */
};

struct imap_session {
	struct conn *c;			/* NULL once the connection has gone */
	const struct listener *l;
	enum imap_state state;
	enum imap_wait wait;
	struct ipaddr peer;
	uint64_t id;			/* c->id, kept after it goes */

	/* The command being read or run. */
	struct buf cmd;			/* lines and literals as received */
	uint64_t literal_left;		/* octets of a literal still to come */
	int discarding;			/* dropping an over-long line */
	char tag[IMAP_TAG_MAX + 1];
	char name[32];			/* command name, upper case */
	int uid;			/* UID variant */
	void *ctx;			/* the running command's state */
	void (*ctx_free)(void *ctx);

	char login[ACCOUNT_ADDR_MAX + 1];	/* authenticated user, or "" */
	char home[ACCOUNT_ADDR_MAX + 16];	/* "mail/DOMAIN/LOCAL" */
	uint64_t quota;			/* octets, 0: none; read on the loop */
	unsigned nerrors;
	int counted_ip, counted_user;
	int job_running;
	int close_after_job;
	int idling;			/* in IDLE, until DONE */
	int idle_pending;		/* a change came in during an IDLE job */
	struct imap_job job;
	int job_sync;			/* the job syncs the view first */
	int sync_failed;		/* ... and that failed */
	struct buf out;			/* untagged output built by a job */
	imap_work_fn *drain;		/* streaming: output fell low */

	int selected;
	struct imap_view view;
	struct imap_session *watch_next, *watch_prev;	/* view.watch's list */
};

/* imap_session.c */
void imap_enter_state(struct imap_session *s, enum imap_state state);
/* Queues a line (CRLF added) or raw octets for the client. */
void imap_reply(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void imap_write(struct imap_session *s, const void *data, size_t len);
/* The tagged reply to the current command, then reads the next one. */
void imap_done(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A tagged BAD: counts a client error (closing past imap.max-errors). */
void imap_bad(struct imap_session *s, const char *text);
void imap_close(struct imap_session *s);
/* The capability list for the session's state into out. */
void imap_capabilities(struct imap_session *s, struct buf *out);
/* Sends what a job wrote into s->out. */
void imap_flush(struct imap_session *s);
/* Authenticated sessions per user (imap.max-per-user). */
extern struct tally *imap_per_user;
/* A job ended after the connection went: frees the session. */
void imap_session_orphan_done(struct imap_session *s);

/* imap_job.c */
/* Runs work on a worker, then done on the loop (the session is BUSY and
 * not reading meanwhile; s->out collects the work's output). */
void imap_job(struct imap_session *s, imap_work_fn *work, imap_work_fn *done);
/* As imap_job(), but when a mailbox is selected and may have changed,
 * the worker first syncs the view (its updates go before work's output).
 * work may be NULL; done NULL answers "OK <command> completed". Without
 * a sync and without work, done runs at once on the loop. */
void imap_job_sync(struct imap_session *s, imap_work_fn *work,
    imap_work_fn *done);
/* Sets the running command's state, freed by fn when the command ends. */
void imap_set_ctx(struct imap_session *s, void *ctx, void (*fn)(void *));
void imap_free_ctx(struct imap_session *s);

/* The command table (imap_commands.c). */
struct imap_command {
	const char *name;
	unsigned states;	/* 1 << IMAP_STATE_* where it is allowed */
	int uid;		/* may follow UID */
	void (*run)(struct imap_session *s, struct imap_args *a);
};
const struct imap_command *imap_command_find(const char *name, int uid);

#define IMAP_S(x) (1u << IMAP_STATE_##x)
#define IMAP_ANY (IMAP_S(NOT_AUTH) | IMAP_S(AUTH) | IMAP_S(SELECTED))
#define IMAP_AUTHED (IMAP_S(AUTH) | IMAP_S(SELECTED))

#define IMAP_CMD(x) void imap_cmd_##x(struct imap_session *s, \
    struct imap_args *a)
IMAP_CMD(capability);
IMAP_CMD(noop);
IMAP_CMD(logout);
IMAP_CMD(starttls);
IMAP_CMD(login);
IMAP_CMD(authenticate);
IMAP_CMD(id);
IMAP_CMD(namespace);
IMAP_CMD(enable);
IMAP_CMD(select);
IMAP_CMD(create);
IMAP_CMD(delete);
IMAP_CMD(rename);
IMAP_CMD(subscribe);
IMAP_CMD(list);
IMAP_CMD(status);
IMAP_CMD(append);
IMAP_CMD(check);
IMAP_CMD(close);
IMAP_CMD(expunge);
IMAP_CMD(search);
IMAP_CMD(fetch);
IMAP_CMD(store);
IMAP_CMD(copy);
IMAP_CMD(idle);
IMAP_CMD(getquota);

/* imap_cmd_authenticate.c: a line while IMAP_WAIT_SASL. */
void imap_sasl_line(struct imap_session *s, char *line, size_t len);
/* imap_cmd_idle.c: a line while IMAP_WAIT_IDLE; a change to watch. */
void imap_idle_line(struct imap_session *s, const char *line, size_t len);
void imap_idle_notice(struct imap_session *s);

#endif
