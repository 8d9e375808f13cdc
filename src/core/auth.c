/* Password checks.
 * SECURITY: handles passwords: never logged, wiped after use; the hash
 * comparison is constant-time; unknown users and wrong passwords take
 * the same path and the same time. */
#include "core/auth.h"

#include <crypt.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/account.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/server.h"
#include "core/util.h"
#include "guard/guard_server.h"

static char dummy_hash[AUTH_HASH_MAX];

struct auth_job {
	struct pool_job job;	/* first: the pool hands this back */
	uint64_t conn_id;
	auth_done_fn *done;
	struct guard_login ticket;
	struct ipaddr peer;
	char username[ACCOUNT_ADDR_MAX + 1];
	char password[256];
	char hash[AUTH_HASH_MAX];
	int known;
	int ok;
	struct event *timer;
};

int
auth_hash_password(const char *password, char *hash)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	int rc = -1;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) != NULL &&
	    crypt_rn(password, salt, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] == '$')
		rc = str_copy(hash, AUTH_HASH_MAX, cd->output);
	mem_wipe(cd, sizeof(*cd));
	free(cd);
	return rc;
}

int
auth_verify_hash(const char *password, const char *hash)
{
	struct crypt_data *cd = xcalloc(1, sizeof(*cd));
	size_t n = strlen(hash);
	int ok = 0;

	if (crypt_rn(password, hash, cd, sizeof(*cd)) != NULL &&
	    cd->output[0] != '*' && strlen(cd->output) == n)
		ok = mem_equal_ct(cd->output, hash, n);
	mem_wipe(cd, sizeof(*cd));
	free(cd);
	return ok;
}

void
auth_init(void)
{
	char pw[32];
	uint64_t r[2] = { random_u64(), random_u64() };

	for (size_t i = 0; i < 16; i++)
		pw[i] = (char)('a' + ((const unsigned char *)r)[i] % 26);
	pw[16] = '\0';
	if (auth_hash_password(pw, dummy_hash) < 0)
		fatal("cannot hash with yescrypt (libcrypt)");
	mem_wipe(pw, sizeof(pw));
}

static void
auth_work(struct pool_job *job)
{
	struct auth_job *a = (struct auth_job *)job;

	/* Always the full check: a blocked or unknown login costs the
	 * same as any other. */
	a->ok = auth_verify_hash(a->password, a->hash) && a->known;
	mem_wipe(a->password, sizeof(a->password));
}

static void
auth_finish(struct auth_job *a)
{
	struct conn *c = conn_lookup(a->conn_id);

	if (a->timer != NULL)
		event_free(a->timer);
	if (c != NULL)
		a->done(c, a->ok, a->username);
	mem_wipe(a, sizeof(*a));
	free(a);
}

static void
auth_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	auth_finish(arg);
}

static void
auth_job_done(struct pool_job *job)
{
	struct auth_job *a = (struct auth_job *)job;
	uint64_t delay = settings_num(srv.set, SET_AUTH_FAILURE_DELAY);
	char esc[ACCOUNT_ADDR_MAX * 4 + 8];
	struct timeval tv;

	a->ok = guard_srv_login_end(&a->ticket, &a->peer, a->ok, a->known,
	    a->username);
	log_info("auth", a->conn_id, "event=%s protocol=%s user=\"%s\"",
	    a->ok ? "auth-ok" : "auth-failed",
	    guard_proto_name(a->ticket.proto),
	    log_escape(esc, sizeof(esc), a->username, strlen(a->username)));
	if (a->ok || delay == 0 || conn_lookup(a->conn_id) == NULL) {
		auth_finish(a);
		return;
	}
	/* Tarpit: the delay varies by +-10% so it cannot be subtracted. */
	delay = delay * 9 / 10 + random_u64() % (delay / 5 + 1);
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	a->timer = evtimer_new(srv.base, auth_delay_cb, a);
	if (a->timer == NULL || evtimer_add(a->timer, &tv) < 0) {
		auth_finish(a);
		return;
	}
}

void
auth_check(struct conn *c, enum guard_proto proto, const char *username,
    const char *password, auth_done_fn *done)
{
	struct auth_job *a = xcalloc(1, sizeof(*a));
	const char *err;

	a->job.work = auth_work;
	a->job.done = auth_job_done;
	a->conn_id = c->id;
	a->done = done;
	a->peer = c->peer;
	guard_srv_login_begin(&c->peer, proto, &a->ticket);
	if (account_normalize(username, a->username, &err) < 0) {
		/* Not even an address: kept as sent (cut short) for the
		 * logs, which escape it. */
		snprintf(a->username, sizeof(a->username), "%s", username);
		a->known = 0;
	} else {
		a->known = account_user_hash(srv.db, a->username, a->hash,
		    sizeof(a->hash));
	}
	if (!a->known)
		str_copy(a->hash, sizeof(a->hash), dummy_hash);
	if (str_copy(a->password, sizeof(a->password), password) < 0)
		a->known = 0;	/* over-long: fails like a wrong password */
	pool_submit(&a->job);
}
