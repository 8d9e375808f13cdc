/* Worker pool: a mutex-protected job list, workers waiting on a
 * condition variable, and an eventfd that wakes the loop for completions.
 * SECURITY: runs caller-supplied functions; holds no secrets itself. */
#include "core/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/util.h"

#define POOL_MAX_THREADS 64

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct pool_job *queue, *queue_tail;
	struct pool_job *done, *done_tail;
	pthread_t threads[POOL_MAX_THREADS];
	unsigned nthreads;
	unsigned pending;
	int stopping;
	int efd;
	struct event *ev;
} pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wake = PTHREAD_COND_INITIALIZER,
	.efd = -1,
};

static void
append(struct pool_job **head, struct pool_job **tail, struct pool_job *job)
{
	job->next = NULL;
	if (*tail != NULL)
		(*tail)->next = job;
	else
		*head = job;
	*tail = job;
}

static void *
worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct pool_job *job;
		uint64_t one = 1;

		while (pool.queue == NULL && !pool.stopping)
			pthread_cond_wait(&pool.wake, &pool.lock);
		if (pool.queue == NULL)
			break;
		job = pool.queue;
		pool.queue = job->next;
		if (pool.queue == NULL)
			pool.queue_tail = NULL;
		pthread_mutex_unlock(&pool.lock);

		job->work(job);

		pthread_mutex_lock(&pool.lock);
		append(&pool.done, &pool.done_tail, job);
		if (write(pool.efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice. */
		}
	}
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

static void
run_completions(void)
{
	struct pool_job *list, *job;

	pthread_mutex_lock(&pool.lock);
	list = pool.done;
	pool.done = pool.done_tail = NULL;
	pthread_mutex_unlock(&pool.lock);
	while ((job = list) != NULL) {
		list = job->next;
		pool.pending--;
		job->done(job);
	}
}

static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	uint64_t n;

	(void)what;
	(void)arg;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return;
	run_completions();
}

int
pool_start(struct event_base *base, unsigned nthreads)
{
	if (nthreads == 0 || nthreads > POOL_MAX_THREADS)
		return -1;
	pool.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pool.efd < 0)
		return -1;
	pool.ev = event_new(base, pool.efd, EV_READ | EV_PERSIST, on_wake, NULL);
	/* Finished work answers clients: as urgent as their sessions. */
	if (pool.ev == NULL || event_priority_set(pool.ev, 0) < 0 ||
	    event_add(pool.ev, NULL) < 0)
		return -1;
	for (unsigned i = 0; i < nthreads; i++) {
		if (pthread_create(&pool.threads[i], NULL, worker, NULL) != 0)
			return -1;
		pool.nthreads++;
	}
	return 0;
}

void
pool_submit(struct pool_job *job)
{
	MW_ASSERT(pool.nthreads > 0);
	pool.pending++;
	pthread_mutex_lock(&pool.lock);
	append(&pool.queue, &pool.queue_tail, job);
	pthread_cond_signal(&pool.wake);
	pthread_mutex_unlock(&pool.lock);
}

unsigned
pool_pending(void)
{
	return pool.pending;
}

void
pool_stop(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.stopping = 1;
	pthread_cond_broadcast(&pool.wake);
	pthread_mutex_unlock(&pool.lock);
	for (unsigned i = 0; i < pool.nthreads; i++)
		pthread_join(pool.threads[i], NULL);
	pool.nthreads = 0;
	run_completions();
	if (pool.ev != NULL)
		event_free(pool.ev);
	pool.ev = NULL;
	if (pool.efd >= 0)
		close(pool.efd);
	pool.efd = -1;
}
