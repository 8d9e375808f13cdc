/* Worker thread pool for work that blocks: password hashing, fsync, bulk
 * disk I/O. The event loop submits jobs; each job's done() runs back on
 * the loop. A job for a session that has gone is still completed: done()
 * looks its session up by id and drops the result when it is gone. */
#ifndef MW_CORE_POOL_H
#define MW_CORE_POOL_H

#include <event2/event.h>

struct pool_job {
	/* Runs on a worker thread; must not touch loop state. */
	void (*work)(struct pool_job *job);
	/* Runs on the loop after work(); owns the job from then on. */
	void (*done)(struct pool_job *job);
	struct pool_job *next;	/* internal */
};

/* Starts nthreads workers whose completions are delivered on base. */
int pool_start(struct event_base *base, unsigned nthreads);
/* Queues a job; never blocks. */
void pool_submit(struct pool_job *job);
/* Jobs submitted and not yet done (queued, running or completing). */
unsigned pool_pending(void);
/* Finishes queued jobs, runs their done() and joins the workers. */
void pool_stop(void);

#endif
