/* Local delivery and queueing of one message on the worker pool.
 * SECURITY: Maildir paths come from resolved, stored accounts only. */
#include "queue/submit.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pool.h"
#include "core/server.h"
#include "core/util.h"
#include "queue/deliver.h"
#include "queue/spool.h"
#include "store/maildir.h"

struct submit_job {
	struct pool_job job;	/* first: the pool hands this back */
	char sender[ACCOUNT_ADDR_MAX + 1];
	char host[256];
	struct buf trace;
	struct buf msg;
	struct submit_rcpt *rcpts;
	size_t nrcpts;
	submit_done_fn *done;
	void *ctx;
	int failed;
	int held;
	char queue_id[SPOOL_ID_LEN + 1];
};

static void
submit_work(struct pool_job *job)
{
	struct submit_job *s = (struct submit_job *)job;
	const char **remote = xcalloc(s->nrcpts + 1, sizeof(*remote));
	char rpath[ACCOUNT_ADDR_MAX + 32], dir[PATH_MAX],
	    name[MAILDIR_NAME_MAX];
	struct iovec iov[3];
	size_t nremote = 0;
	int rlen;

	rlen = snprintf(rpath, sizeof(rpath), "Return-Path: <%s>\r\n",
	    s->sender);
	iov[0].iov_base = rpath;
	iov[0].iov_len = (size_t)rlen;
	iov[1].iov_base = s->trace.data;
	iov[1].iov_len = s->trace.len;
	iov[2].iov_base = s->msg.data;
	iov[2].iov_len = s->msg.len;
	for (size_t i = 0; i < s->nrcpts; i++) {
		if (!s->rcpts[i].local) {
			remote[nremote++] = s->rcpts[i].addr;
			continue;
		}
		if (account_maildir(s->rcpts[i].addr, dir, sizeof(dir)) < 0 ||
		    maildir_deliver(dir, s->host, iov, 3, iov[0].iov_len +
		    iov[1].iov_len + iov[2].iov_len, name) < 0)
			s->failed = 1;
	}
	if (nremote > 0 && spool_write(s->sender, remote, nremote, s->held,
	    iov + 1, 2, s->queue_id) < 0)
		s->failed = 1;
	free(remote);
}

static void
submit_job_done(struct pool_job *job)
{
	struct submit_job *s = (struct submit_job *)job;

	if (s->queue_id[0] != '\0')
		deliver_queued(s->queue_id);
	if (s->done != NULL)
		s->done(s->ctx, !s->failed, s->queue_id);
	buf_release(&s->trace, 0);
	buf_release(&s->msg, 0);
	free(s->rcpts);
	free(s);
}

void
submit_message(const char *sender, const struct submit_rcpt *rcpts,
    size_t nrcpts, int held, struct buf *trace, struct buf *msg,
    submit_done_fn *done, void *ctx)
{
	struct submit_job *s = xcalloc(1, sizeof(*s));

	s->held = held;
	s->job.work = submit_work;
	s->job.done = submit_job_done;
	str_copy(s->sender, sizeof(s->sender), sender);
	str_copy(s->host, sizeof(s->host), settings_str(srv.set,
	    SET_HOSTNAME));
	s->trace = *trace;
	buf_init(trace, trace->max);
	s->msg = *msg;
	buf_init(msg, msg->max);
	s->rcpts = xmalloc((nrcpts + 1) * sizeof(*rcpts));
	memcpy(s->rcpts, rcpts, nrcpts * sizeof(*rcpts));
	s->nrcpts = nrcpts;
	s->done = done;
	s->ctx = ctx;
	pool_submit(&s->job);
}

size_t
submit_resolve(const char *const *addrs, size_t naddrs,
    struct submit_rcpt *rcpts, size_t max)
{
	struct account_target t[ACCOUNT_MAX_TARGETS];
	size_t n = 0, nt;

	for (size_t i = 0; i < naddrs; i++) {
		enum account_kind k = account_resolve(srv.db, addrs[i], t, &nt);

		if (k == ACCOUNT_REMOTE) {
			nt = 1;
			str_copy(t[0].address, sizeof(t[0].address), addrs[i]);
			t[0].local = 0;
		}
		for (size_t j = 0; j < nt && n < max; j++) {
			size_t d;

			for (d = 0; d < n; d++)
				if (strcmp(rcpts[d].addr, t[j].address) == 0)
					break;
			if (d < n)
				continue;
			str_copy(rcpts[n].addr, sizeof(rcpts[n].addr),
			    t[j].address);
			rcpts[n].local = t[j].local;
			n++;
		}
	}
	return n;
}
