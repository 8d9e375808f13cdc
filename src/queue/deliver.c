/* The delivery engine: an index of queued messages (id, next attempt,
 * held), a scheduler that starts due messages, and each message's
 * attempt from loading to saving its outcome. Disk work runs on the
 * worker pool; routing and SMTP sessions in deliver_route.c.
 * SECURITY: queue files may be damaged or removed by hand at any time:
 * such a message is skipped with a log line, never trusted blindly. */
#include "queue/deliver.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/db.h"
#include "core/dotstuff.h"
#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "queue/deliver_internal.h"
#include "queue/spool.h"

#define TICK_MS 1000		/* due messages are looked for this often */
#define HEADERS_MAX (64 * 1024)	/* of the original header, for DSNs */
#define NBUCKETS 4096
#define ORPHAN_AGE 3600		/* seconds: surely a leftover by then */

struct qentry {
	char id[SPOOL_ID_LEN + 1];
	int64_t next;		/* Unix seconds */
	uint8_t held, busy, dead, seen;
	struct qentry *hnext;
};

struct scan_job {
	struct pool_job job;
	struct scan_item { char id[SPOOL_ID_LEN + 1]; int64_t next; int held; }
	    *items;
	size_t n;
};

static struct {
	int running, stopping;
	struct qentry *buckets[NBUCKETS];
	size_t nentries;
	char (*ready)[SPOOL_ID_LEN + 1];	/* new ids, oldest first */
	size_t nready, ready_cap;
	struct dmsg *inflight;
	size_t ninflight;
	struct event *tick, *timer;
	int64_t queue_gen;
	int scanning, rescan;
	char dns_servers[1024];
} dq;

static size_t
bucket(const char *id)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(h % NBUCKETS);
}

static struct qentry *
find(const char *id)
{
	for (struct qentry *e = dq.buckets[bucket(id)]; e != NULL; e = e->hnext)
		if (strcmp(e->id, id) == 0)
			return e;
	return NULL;
}

static struct qentry *
add(const char *id)
{
	struct qentry *e = find(id);
	size_t b = bucket(id);

	if (e != NULL)
		return e;
	e = xcalloc(1, sizeof(*e));
	str_copy(e->id, sizeof(e->id), id);
	e->hnext = dq.buckets[b];
	dq.buckets[b] = e;
	dq.nentries++;
	return e;
}

static void
forget(const char *id)
{
	for (struct qentry **pp = &dq.buckets[bucket(id)]; *pp != NULL;
	    pp = &(*pp)->hnext)
		if (strcmp((*pp)->id, id) == 0) {
			struct qentry *e = *pp;

			*pp = e->hnext;
			free(e);
			dq.nentries--;
			return;
		}
}

static void
kick(void)
{
	if (dq.running && !dq.stopping)
		event_active(dq.tick, EV_TIMEOUT, 0);
}

static size_t
max_inflight(void)
{
	return (size_t)settings_num(srv.set, SET_DELIVERY_MAX_CONNECTIONS) * 2;
}

/* Loading and saving: worker side. */

static char *
read_file(const char *path, size_t *len_r)
{
	struct stat st;
	char *p;
	size_t got = 0;
	FILE *f = fopen(path, "re");

	if (f == NULL)
		return NULL;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0) {
		fclose(f);
		return NULL;
	}
	p = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		size_t n = fread(p + got, 1, (size_t)st.st_size - got, f);

		if (n == 0)
			break;
		got += n;
	}
	fclose(f);
	p[got] = '\0';
	*len_r = got;
	return p;
}

static void
load_work(struct pool_job *job)
{
	struct dmsg *m = (struct dmsg *)job;
	char path[PATH_MAX], *raw, *end;
	struct dotstuff st;
	size_t len, used, hlen;

	if (queue_load(m->id, &m->env) < 0) {
		m->rc = -1;
		m->err = errno;
		goto out;
	}
	snprintf(path, sizeof(path), "queue/msg/%s", m->id);
	if ((raw = read_file(path, &len)) == NULL) {
		m->rc = -1;
		m->err = errno ? errno : EIO;
		goto out;
	}
	end = strstr(raw, "\r\n\r\n");
	hlen = end != NULL ? (size_t)(end - raw) + 2 : len;
	if (hlen > HEADERS_MAX)
		hlen = HEADERS_MAX;
	m->headers = xmalloc(hlen + 1);
	memcpy(m->headers, raw, hlen);
	m->headers[hlen] = '\0';
	m->data = xmalloc(2 * len + 8);
	dotstuff_init(&st, -1);
	m->data_len = dotstuff_run(&st, raw, len, m->data, &used);
	m->data_len += dotstuff_end(&st, m->data + m->data_len);
	free(raw);
	m->rc = 0;
out:
	/* Without its envelope or its message file a message can never be
	 * delivered: what is left of it goes. */
	if (m->rc < 0 && m->err == ENOENT)
		(void)queue_remove(m->id);
}

static void
save_work(struct pool_job *job)
{
	struct dmsg *m = (struct dmsg *)job;
	struct queue_env disk;
	char path[PATH_MAX];

	m->rc = 0;
	snprintf(path, sizeof(path), "queue/env/%s", m->id);
	if (access(path, F_OK) < 0 && errno == ENOENT) {
		m->removed = 1;
		m->gone = 1;		/* deleted by the administrator */
		(void)queue_remove(m->id);	/* its message file */
		return;
	}
	if (queue_pending(&m->env) == 0) {
		if (queue_remove(m->id) < 0)
			m->rc = -1;
		m->removed = 1;
		return;
	}
	/* A hold set meanwhile with the CLI stays. */
	if (queue_load(m->id, &disk) == 0) {
		m->env.held = disk.held;
		queue_env_free(&disk);
	}
	if (queue_save(&m->env) < 0) {
		m->rc = -1;
		m->err = errno;
	}
}

static void
dmsg_free(struct dmsg *m)
{
	for (struct dmsg **pp = &dq.inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			dq.ninflight--;
			break;
		}
	for (size_t i = 0; i < m->ntasks; i++) {
		free(m->tasks[i].ri);
		free(m->tasks[i].addrs);
		mem_wipe(m->tasks[i].auth_pass, sizeof(m->tasks[i].auth_pass));
	}
	free(m->tasks);
	free(m->data);
	free(m->headers);
	queue_env_free(&m->env);
	free(m);
}

static void
save_done(struct pool_job *job)
{
	struct dmsg *m = (struct dmsg *)job;
	struct qentry *e = find(m->id);

	if (m->rc < 0)
		log_err("delivery", 0, "event=save-failed id=%s error=\"%s\"",
		    m->id, strerror(m->err));
	if (m->gone)
		log_info("delivery", 0, "event=gone id=%s", m->id);
	if (e != NULL) {
		if (m->removed) {
			forget(m->id);
		} else {
			e->busy = 0;
			e->held = (uint8_t)m->env.held;
			e->next = m->env.next_attempt;
		}
	}
	dmsg_free(m);
	kick();
}

/* Every task has its outcome: bounce, back off, save. */
static void
finalize(struct dmsg *m)
{
	struct queue_env *env = &m->env;
	int64_t now = (int64_t)time(NULL), backoff;
	uint64_t lifetime = settings_num(srv.set, SET_QUEUE_LIFETIME);
	uint64_t warn = settings_num(srv.set, SET_QUEUE_DELAY_WARNING);
	int any_failed = 0;
	size_t pending;

	env->attempts++;
	for (size_t i = 0; i < env->nrcpts; i++) {
		struct queue_rcpt *r = &env->rcpts[i];

		if (r->state == QUEUE_PENDING &&
		    (uint64_t)(now - env->created) >= lifetime) {
			char why[QUEUE_REPLY_MAX + 64];

			snprintf(why, sizeof(why), "expired after %llu seconds "
			    "in the queue; last reply: %.400s",
			    (unsigned long long)lifetime,
			    r->reply ? r->reply : "none");
			queue_set_reply(&r->reply, why);
			r->state = QUEUE_FAILED;
			LOG_AT(LOG_FILE_DELIVERY, LOG_INFO, "delivery", 0,
			    "event=attempt id=%s rcpt=%s relay=none "
			    "status=expired "
			    "reply=\"%s\"", env->id, r->addr, r->reply);
		}
		if (r->state == QUEUE_FAILED && !r->bounced)
			any_failed = 1;
	}
	/* Never a bounce for a bounce (RFC 5321 4.5.5). */
	if (any_failed && env->sender[0] != '\0')
		dsn_send(env, m->headers, 0);
	for (size_t i = 0; i < env->nrcpts; i++)
		if (env->rcpts[i].state == QUEUE_FAILED)
			env->rcpts[i].bounced = 1;
	pending = queue_pending(env);
	if (pending > 0 && !env->warned && warn > 0 &&
	    (uint64_t)(now - env->created) >= warn) {
		if (env->sender[0] != '\0')
			dsn_send(env, m->headers, 1);
		env->warned = 1;
	}
	backoff = (int64_t)settings_num(srv.set, SET_QUEUE_RETRY_MIN);
	for (uint32_t i = 1; i < env->attempts && backoff <
	    (int64_t)settings_num(srv.set, SET_QUEUE_RETRY_MAX); i++)
		backoff *= 2;
	if (backoff > (int64_t)settings_num(srv.set, SET_QUEUE_RETRY_MAX))
		backoff = (int64_t)settings_num(srv.set, SET_QUEUE_RETRY_MAX);
	env->next_attempt = now + backoff;
	log_info("delivery", 0, "event=attempted id=%s pending=%zu "
	    "attempts=%u next=%lld", env->id, pending, env->attempts,
	    pending ? (long long)env->next_attempt : 0LL);
	m->job.work = save_work;
	m->job.done = save_done;
	pool_submit(&m->job);
}

void
deliver_record(struct dtask *t, size_t k, int code, const char *reply,
    const char *relay)
{
	struct queue_rcpt *r = &t->m->env.rcpts[t->ri[k]];
	const char *status;

	r->attempts++;
	queue_set_reply(&r->reply, reply);
	/* "host[ip]:port" -> host, for the DSN's Remote-MTA */
	snprintf(r->remote_mta, sizeof(r->remote_mta), "%.*s",
	    (int)strcspn(relay, "["), relay);
	if (strcmp(r->remote_mta, "none") == 0)
		r->remote_mta[0] = '\0';
	if (code / 100 == 2) {
		r->state = QUEUE_DELIVERED;
		status = "sent";
	} else if (code / 100 == 5) {
		r->state = QUEUE_FAILED;
		status = "bounced";
	} else {
		status = "deferred";
		queue_set_reply(&t->m->env.last_error, reply);
	}
	LOG_AT(LOG_FILE_DELIVERY, LOG_INFO, "delivery", 0, "event=attempt "
	    "id=%s rcpt=%s relay=%s status=%s reply=\"%s\"", t->m->id, r->addr, relay, status,
	    r->reply);
}

void
deliver_task_done(struct dtask *t)
{
	struct dmsg *m = t->m;

	t->done = 1;
	if (--m->left == 0 && !dq.stopping)
		finalize(m);
}

/* Groups the pending recipients by domain into tasks. */
static void
make_tasks(struct dmsg *m)
{
	struct queue_env *env = &m->env;

	m->tasks = xcalloc(env->nrcpts + 1, sizeof(*m->tasks));
	for (size_t i = 0; i < env->nrcpts; i++) {
		const char *at, *dom;
		struct dtask *t = NULL;

		if (env->rcpts[i].state != QUEUE_PENDING)
			continue;
		at = strrchr(env->rcpts[i].addr, '@');
		dom = at ? at + 1 : "";
		for (size_t j = 0; j < m->ntasks; j++)
			if (strcasecmp(m->tasks[j].domain, dom) == 0)
				t = &m->tasks[j];
		if (t == NULL) {
			t = &m->tasks[m->ntasks++];
			t->m = m;
			str_copy(t->domain, sizeof(t->domain), dom);
			t->ri = xcalloc(env->nrcpts, sizeof(*t->ri));
			t->addrs = xcalloc(env->nrcpts, sizeof(*t->addrs));
		}
		t->ri[t->n] = i;
		t->addrs[t->n++] = env->rcpts[i].addr;
	}
	m->left = m->ntasks;
}

static void
load_done(struct pool_job *job)
{
	struct dmsg *m = (struct dmsg *)job;
	struct qentry *e = find(m->id);

	if (dq.stopping || e == NULL) {
		if (e != NULL)
			e->busy = 0;
		dmsg_free(m);
		return;
	}
	if (m->rc < 0) {
		if (m->err == ENOENT) {
			log_info("delivery", 0, "event=gone id=%s", m->id);
			forget(m->id);
		} else {
			log_warn("delivery", 0, "event=skipped id=%s error=\"%s\"",
			    m->id, m->err == EINVAL ? "damaged queue file" :
			    strerror(m->err));
			e->busy = 0;
			e->dead = 1;	/* until the queue is read again */
		}
		dmsg_free(m);
		return;
	}
	if (m->env.held) {
		e->busy = 0;
		e->held = 1;
		dmsg_free(m);
		return;
	}
	make_tasks(m);
	if (m->ntasks == 0) {
		finalize(m);	/* all done already: just remove it */
		return;
	}
	for (size_t i = 0; i < m->ntasks; i++)
		route_start(&m->tasks[i]);
}

static void
start(struct qentry *e)
{
	struct dmsg *m = xcalloc(1, sizeof(*m));

	e->busy = 1;
	str_copy(m->id, sizeof(m->id), e->id);
	m->job.work = load_work;
	m->job.done = load_done;
	m->next = dq.inflight;
	dq.inflight = m;
	dq.ninflight++;
	pool_submit(&m->job);
}

static int
startable(const struct qentry *e, int64_t now)
{
	return e != NULL && !e->busy && !e->held && !e->dead && e->next <= now;
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	int64_t now = (int64_t)time(NULL);
	size_t done = 0;

	(void)fd;
	(void)arg;
	if (dq.stopping)
		return;
	/* New messages first, in arrival order. */
	while (done < dq.nready && dq.ninflight < max_inflight()) {
		struct qentry *e = find(dq.ready[done++]);

		if (startable(e, now))
			start(e);
	}
	if (done > 0) {
		memmove(dq.ready, dq.ready + done, (dq.nready - done) *
		    sizeof(*dq.ready));
		dq.nready -= done;
	}
	if (!(what & EV_TIMEOUT) || dq.nready > 0)
		return;
	for (size_t b = 0; b < NBUCKETS && dq.ninflight < max_inflight(); b++)
		for (struct qentry *e = dq.buckets[b]; e != NULL &&
		    dq.ninflight < max_inflight(); e = e->hnext)
			if (startable(e, now))
				start(e);
}

void
deliver_queued(const char *id)
{
	struct qentry *e;

	if (!dq.running || dq.stopping)
		return;
	e = add(id);
	e->next = 0;
	if (dq.nready == dq.ready_cap) {
		dq.ready_cap = dq.ready_cap ? dq.ready_cap * 2 : 256;
		dq.ready = xrealloc(dq.ready, dq.ready_cap * sizeof(*dq.ready));
	}
	str_copy(dq.ready[dq.nready++], SPOOL_ID_LEN + 1, id);
	event_active(dq.tick, 0, 0);
}

/* Reading the whole queue: at start and after CLI changes. */

/* One of our names: a queue id, in queue/tmp with ".msg" or ".env". */
static int
queue_file_name(const char *name, int tmp)
{
	char id[SPOOL_ID_LEN + 1];

	if (!tmp)
		return queue_id_valid(name);
	if (strlen(name) != SPOOL_ID_LEN + 4 || (strcmp(name + SPOOL_ID_LEN,
	    ".msg") != 0 && strcmp(name + SPOOL_ID_LEN, ".env") != 0))
		return 0;
	memcpy(id, name, SPOOL_ID_LEN);
	id[SPOOL_ID_LEN] = '\0';
	return queue_id_valid(id);
}

/*
 * Removes what a crash (or a hand) left behind: half-written files in
 * queue/tmp, and message files without an envelope. Only once they are
 * ORPHAN_AGE old: a message being queued has its message file a moment
 * before its envelope, and every write goes through queue/tmp.
 */
static void
sweep(const char *dir, int tmp)
{
	char path[PATH_MAX], env[PATH_MAX];
	time_t now = time(NULL);
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!queue_file_name(de->d_name, tmp))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    now - st.st_mtime < ORPHAN_AGE)
			continue;
		snprintf(env, sizeof(env), "queue/env/%s", de->d_name);
		if (!tmp && (access(env, F_OK) == 0 || errno != ENOENT))
			continue;
		if (unlink(path) == 0)
			log_warn("delivery", 0, "event=orphan-removed file=%s",
			    path);
	}
	closedir(d);
}

static void
scan_work(struct pool_job *job)
{
	struct scan_job *s = (struct scan_job *)job;
	char (*ids)[SPOOL_ID_LEN + 1];
	size_t n;

	if (queue_ids(&ids, &n) < 0) {
		log_err("delivery", 0, "event=queue-unreadable error=\"%s\"",
		    strerror(errno));
		return;
	}
	s->items = xcalloc(n + 1, sizeof(*s->items));
	for (size_t i = 0; i < n; i++) {
		struct queue_env env;

		if (queue_load(ids[i], &env) < 0) {
			if (errno == EINVAL)
				log_warn("delivery", 0, "event=skipped id=%s "
				    "error=\"damaged queue file\"", ids[i]);
			else if (errno == ENOENT && queue_remove(ids[i]) == 0)
				log_info("delivery", 0, "event=gone id=%s",
				    ids[i]);
			continue;
		}
		memcpy(s->items[s->n].id, ids[i], SPOOL_ID_LEN + 1);
		s->items[s->n].next = env.next_attempt;
		s->items[s->n++].held = env.held;
		queue_env_free(&env);
	}
	free(ids);
	sweep("queue/tmp", 1);
	sweep("queue/msg", 0);
}

static void scan(void);

static void
scan_done(struct pool_job *job)
{
	struct scan_job *s = (struct scan_job *)job;

	dq.scanning = 0;
	if (!dq.stopping) {
		for (size_t b = 0; b < NBUCKETS; b++)
			for (struct qentry *e = dq.buckets[b]; e; e = e->hnext)
				e->seen = 0;
		for (size_t i = 0; i < s->n; i++) {
			struct qentry *e = add(s->items[i].id);

			e->seen = 1;
			if (e->busy)
				continue;
			e->next = s->items[i].next;
			e->held = (uint8_t)s->items[i].held;
			e->dead = 0;
		}
		for (size_t b = 0; b < NBUCKETS; b++)
			for (struct qentry *e = dq.buckets[b], *nx; e; e = nx) {
				nx = e->hnext;
				if (!e->seen && !e->busy)
					forget(e->id);
			}
		log_info("delivery", 0, "event=queue-read messages=%zu",
		    dq.nentries);
		event_active(dq.tick, EV_TIMEOUT, 0);
	}
	free(s->items);
	free(s);
	if (dq.rescan && !dq.stopping) {
		dq.rescan = 0;
		scan();
	}
}

static void
scan(void)
{
	struct scan_job *s;

	if (dq.scanning) {
		dq.rescan = 1;
		return;
	}
	dq.scanning = 1;
	s = xcalloc(1, sizeof(*s));
	s->job.work = scan_work;
	s->job.done = scan_done;
	pool_submit(&s->job);
}

static int64_t
queue_gen(void)
{
	sqlite3_stmt *st = db_prepare(srv.db,
	    "SELECT value FROM meta WHERE name = 'queue_gen'");
	int64_t v = sqlite3_step(st) == SQLITE_ROW ?
	    sqlite3_column_int64(st, 0) : 0;

	sqlite3_finalize(st);
	return v;
}

static void
apply_settings(void)
{
	const char *servers = settings_str(srv.set, SET_DELIVERY_DNS_SERVERS);
	struct settings_hostport hp[8];
	char csv[1024];
	size_t len = 0;
	const char *err;
	int n;

	route_set_limits((unsigned)settings_num(srv.set,
	    SET_DELIVERY_MAX_CONNECTIONS), (unsigned)settings_num(srv.set,
	    SET_DELIVERY_MAX_PER_DOMAIN));
	if (dq.running && strcmp(servers, dq.dns_servers) == 0)
		return;
	str_copy(dq.dns_servers, sizeof(dq.dns_servers), servers);
	/* c-ares wants IPv6 servers as [addr]:port, IPv4 as addr:port. */
	n = settings_hostports(servers, hp, 8);
	csv[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(csv + len, sizeof(csv) - len, "%s%s%s%s:%u",
		    i ? "," : "", strchr(hp[i].host, ':') ? "[" : "", hp[i].host,
		    strchr(hp[i].host, ':') ? "]" : "", (unsigned)hp[i].port);
	if (dns_start(srv.base, csv, &err) < 0)
		log_err("delivery", 0, "event=dns-failed error=\"%s\"", err);
}

void
deliver_start(void)
{
	struct timeval tv = { TICK_MS / 1000, (TICK_MS % 1000) * 1000 };

	if (spool_init() < 0)
		log_err("delivery", 0, "event=queue-dir-failed error=\"%s\"",
		    strerror(errno));
	apply_settings();
	dq.tick = event_new(srv.base, -1, 0, tick_cb, NULL);
	dq.timer = event_new(srv.base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(dq.timer, &tv);
	dq.queue_gen = queue_gen();
	dq.running = 1;
	scan();
}

void
deliver_reload(void)
{
	int64_t gen;

	if (!dq.running || dq.stopping)
		return;
	apply_settings();
	gen = queue_gen();
	if (gen != dq.queue_gen) {
		dq.queue_gen = gen;
		scan();
	}
	kick();
}

void
deliver_stop(void)
{
	if (!dq.running || dq.stopping)
		return;
	dq.stopping = 1;
	/* Lookups in flight end now (their tasks see dq.stopping). */
	dns_stop();
	for (struct dmsg *m = dq.inflight, *nx; m != NULL; m = nx) {
		int routing = m->ntasks > 0 && m->left > 0;

		nx = m->next;
		if (!routing)
			continue;	/* a job owns it: its done() frees it */
		for (size_t i = 0; i < m->ntasks; i++)
			route_abort(&m->tasks[i]);
		dmsg_free(m);
	}
	smtpc_abort_all();	/* also those saying QUIT */
	route_slots_free();
	event_free(dq.tick);
	event_free(dq.timer);
	for (size_t b = 0; b < NBUCKETS; b++)
		while (dq.buckets[b] != NULL) {
			struct qentry *e = dq.buckets[b];

			dq.buckets[b] = e->hnext;
			free(e);
		}
	free(dq.ready);
	dq.ready = NULL;
	dq.nready = dq.ready_cap = 0;
}

int
deliver_stopping(void)
{
	return dq.stopping;
}
