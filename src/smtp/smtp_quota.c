/* RCPT for local users with a quota: their Maildir sizes are added up on
 * a worker (the loop never walks directories), then the recipient is
 * accepted or deferred with 452 4.2.2 (RFC 3463: mailbox full). */
#include <stdlib.h>
#include <string.h>

#include "core/account.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/server.h"
#include "core/util.h"
#include "smtp/smtp_internal.h"
#include "store/quota.h"

struct quota_job {
	struct pool_job job;
	uint64_t conn_id;
	size_t before;		/* recipients before this RCPT */
	char addr[SMTP_PATH_MAX + 64];
	size_t n;
	struct {
		char home[ACCOUNT_ADDR_MAX + 16];
		uint64_t quota;
	} t[ACCOUNT_MAX_TARGETS];
	int full;
};

static void
quota_work(struct pool_job *pj)
{
	struct quota_job *q = (struct quota_job *)pj;

	for (size_t i = 0; i < q->n && !q->full; i++)
		q->full = quota_exceeded(q->t[i].quota, q->t[i].home, 1);
}

static void
quota_done(struct pool_job *pj)
{
	struct quota_job *q = (struct quota_job *)pj;
	struct conn *c = conn_lookup(q->conn_id);
	struct smtp_session *s;

	if (c == NULL) {
		free(q);
		return;
	}
	s = c->ctx;
	if (q->full) {
		s->nrcpts = q->before;
		log_info("smtp", c->id, "event=mailbox-full rcpt=\"%s\"",
		    q->addr);
		smtp_reply(s, "452 4.2.2 Mailbox full");
		smtp_resume(s, s->nrcpt_accepted > 0 ? SMTP_STATE_RCPT :
		    SMTP_STATE_MAIL);
	} else {
		s->nrcpt_accepted++;
		smtp_reply(s, "250 2.1.5 Ok");
		smtp_resume(s, SMTP_STATE_RCPT);
	}
	free(q);
}

int
smtp_rcpt_quota(struct smtp_session *s, size_t before, const char *addr)
{
	struct quota_job *q = NULL;

	for (size_t i = before; i < s->nrcpts; i++) {
		uint64_t quota;

		if (!s->rcpts[i].local ||
		    (quota = account_user_quota(srv.db, s->rcpts[i].addr)) == 0)
			continue;
		if (q == NULL) {
			q = xcalloc(1, sizeof(*q));
			q->conn_id = s->c->id;
			q->before = before;
			str_copy(q->addr, sizeof(q->addr), addr);
		}
		if (account_maildir(s->rcpts[i].addr, q->t[q->n].home,
		    sizeof(q->t[q->n].home)) < 0)
			continue;
		q->t[q->n++].quota = quota;
	}
	if (q == NULL)
		return 0;
	q->job.work = quota_work;
	q->job.done = quota_done;
	smtp_enter_state(s, SMTP_STATE_BUSY);
	conn_pause(s->c);
	pool_submit(&q->job);
	return 1;
}
