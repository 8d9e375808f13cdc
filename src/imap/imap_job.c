/* Worker jobs of IMAP sessions: one at a time per session. The session
 * outlives its connection while a job runs; the job's end frees it. */
#include <errno.h>
#include <string.h>
#include <stdlib.h>

#include "core/log.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_view.h"

static void submit(struct imap_session *s, imap_work_fn *work,
    imap_work_fn *done, int sync);

static void
job_work(struct pool_job *pj)
{
	struct imap_job *j = (struct imap_job *)pj;
	struct imap_session *s = j->s;

	s->sync_failed = 0;
	if (s->job_sync ? imap_view_sync(s) < 0 : s->selected &&
	    imap_view_expand(s) < 0) {
		s->sync_failed = errno ? errno : EIO;
		return;
	}
	if (j->work != NULL)
		j->work(s);
}

static void
job_done(struct pool_job *pj)
{
	struct imap_job *j = (struct imap_job *)pj;
	struct imap_session *s = j->s;

	s->job_running = 0;
	if (s->c == NULL) {
		imap_session_orphan_done(s);
		return;
	}
	if (s->sync_failed) {
		/* The folder went or its UIDs were reset. */
		log_info("imap", s->id, "event=mailbox-lost error=\"%s\"",
		    strerror(s->sync_failed));
		imap_flush(s);
		imap_reply(s, "* BYE Selected mailbox was removed or changed, "
		    "please reconnect");
		imap_close(s);
		return;
	}
	if (s->job_sync) {
		s->job_sync = 0;
		imap_view_synced(s);
	}
	if (j->done != NULL)
		j->done(s);
	else
		imap_done(s, "OK %s completed", s->name);
}

void
imap_job_sync(struct imap_session *s, imap_work_fn *work, imap_work_fn *done)
{
	int sync = s->selected && imap_view_dirty(s);

	if (!sync && work == NULL) {
		if (done != NULL)
			done(s);
		else
			imap_done(s, "OK %s completed", s->name);
		return;
	}
	submit(s, work, done, sync);
}

static void
submit(struct imap_session *s, imap_work_fn *work, imap_work_fn *done,
    int sync)
{
	MW_ASSERT(!s->job_running);
	s->job_sync = sync;
	s->job.job.work = job_work;
	s->job.job.done = job_done;
	s->job.s = s;
	s->job.work = work;
	s->job.done = done;
	s->job_running = 1;
	s->wait = IMAP_WAIT_BUSY;
	conn_pause(s->c);
	pool_submit(&s->job.job);
}

void
imap_job(struct imap_session *s, imap_work_fn *work, imap_work_fn *done)
{
	submit(s, work, done, 0);
}

void
imap_set_ctx(struct imap_session *s, void *ctx, void (*fn)(void *))
{
	imap_free_ctx(s);
	s->ctx = ctx;
	s->ctx_free = fn;
}

void
imap_free_ctx(struct imap_session *s)
{
	if (s->ctx != NULL && s->ctx_free != NULL)
		s->ctx_free(s->ctx);
	s->ctx = NULL;
	s->ctx_free = NULL;
}
