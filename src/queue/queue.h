/* Queued messages: reading, changing and removing the envelopes in
 * DATA/queue/env (format in spool.h), shared by the delivery engine and
 * the CLI. Paths are relative to DATA. Everything here blocks: workers
 * and CLI only. */
#ifndef MW_QUEUE_QUEUE_H
#define MW_QUEUE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/account.h"
#include "queue/spool.h"

#define QUEUE_REPLY_MAX 512	/* a remote reply kept per recipient */
#define QUEUE_MAX_RCPTS 10000	/* recipients read from one envelope */

enum queue_rcpt_state { QUEUE_PENDING, QUEUE_DELIVERED, QUEUE_FAILED };

struct queue_rcpt {
	char addr[ACCOUNT_ADDR_MAX + 1];
	enum queue_rcpt_state state;
	uint32_t attempts;
	int bounced;		/* failed, and the sender was told */
	char *reply;		/* last reply or error (malloc'd), or NULL */
	char remote_mta[256];	/* who replied in this attempt (not saved) */
};

struct queue_env {
	char id[SPOOL_ID_LEN + 1];
	int64_t created;
	char sender[ACCOUNT_ADDR_MAX + 1];	/* "" for the null sender */
	int held;
	int warned;		/* the delay warning went out */
	uint32_t attempts;
	int64_t next_attempt;	/* Unix seconds; 0: now */
	char *last_error;	/* malloc'd, or NULL */
	struct queue_rcpt *rcpts;
	size_t nrcpts;
	uint64_t size;		/* of queue/msg/ID, filled by queue_load */
};

/* 1 if id is SPOOL_ID_LEN lower-case hex digits. */
int queue_id_valid(const char *id);
/* Reads queue/env/ID (and the size of queue/msg/ID). 0, or -1 with
 * errno (ENOENT: no such message; EINVAL: damaged). */
int queue_load(const char *id, struct queue_env *env);
/* Writes env durably (temp file, fsync, rename, directory fsync). */
int queue_save(const struct queue_env *env);
void queue_env_free(struct queue_env *env);
/* Removes a message: envelope first, then the message file. */
int queue_remove(const char *id);
/* The ids in the queue (valid names in queue/env), sorted; the caller
 * frees the array. -1 with errno. */
int queue_ids(char (**ids_r)[SPOOL_ID_LEN + 1], size_t *n_r);
/* Sets the recipient's reply (copied, control characters made spaces,
 * cut at QUEUE_REPLY_MAX). */
void queue_set_reply(char **reply, const char *text);
/* The number of recipients still pending. */
size_t queue_pending(const struct queue_env *env);

#endif
