/* mailwarden serve: sets up the server, runs the event loop, applies
 * settings changes live, and shuts down cleanly.
 * SECURITY: starts as root to bind and read keys, then drops to
 * server.user before the first accept. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/auth.h"
#include "core/conn.h"
#include "core/db.h"
#include "core/filterd.h"
#include "core/listener.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/privdrop.h"
#include "core/proxy.h"
#include "core/server.h"
#include "core/tls.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "imap/imap_session.h"
#include "pop3/pop3_session.h"
#include "queue/deliver.h"
#include "smtp/smtp_session.h"

#define RELOAD_INTERVAL_MS 250	/* settings changes apply within this */
#define SHUTDOWN_GRACE_S 10	/* in-flight work gets this long */

static struct listener *const listeners[] = {
	&smtp_listeners[SMTP_LISTENER_MX],
	&smtp_listeners[SMTP_LISTENER_SUBMISSION],
	&smtp_listeners[SMTP_LISTENER_SMTPS],
	&pop3_listeners[POP3_LISTENER_PLAIN],
	&pop3_listeners[POP3_LISTENER_TLS],
	&imap_listeners[IMAP_LISTENER_PLAIN],
	&imap_listeners[IMAP_LISTENER_TLS],
};
#define NLISTENERS (sizeof(listeners) / sizeof(listeners[0]))

static int data_version;
static struct event *reload_timer, *stop_timer;
static uint64_t stop_deadline;

static enum log_level
level_of(const char *s)
{
	if (strcmp(s, "debug") == 0)
		return LOG_DEBUG;
	if (strcmp(s, "warn") == 0)
		return LOG_WARN;
	if (strcmp(s, "error") == 0)
		return LOG_ERR;
	return LOG_INFO;
}

/* Makes the derived state and the listeners match srv.set. Returns the
 * number of listeners that failed to bind. */
static int
apply_settings(void)
{
	struct cidr *trusted;
	size_t ntrusted;
	const char *err;
	int failed = 0;

	log_min_level = level_of(settings_str(srv.set, SET_LOG_LEVEL));
	free(srv.relay_nets);
	srv.relay_nets = NULL;
	srv.nrelay_nets = 0;
	if (cidr_list_parse(settings_str(srv.set, SET_RELAY_NETWORKS),
	    &srv.relay_nets, &srv.nrelay_nets, &err) < 0)
		log_err("serve", 0, "event=bad-setting key=relay.networks");
	if (cidr_list_parse(settings_str(srv.set, SET_PROXY_TRUSTED), &trusted,
	    &ntrusted, &err) == 0)
		proxy_set_trusted(trusted, ntrusted);
	if (srv.stopping)
		return 0;
	for (size_t i = 0; i < NLISTENERS; i++) {
		struct listener *l = listeners[i];

		l->proxy = (int)settings_num(srv.set, l->set_proxy);
		if (listener_apply(l, (int)settings_num(srv.set, l->set_enabled),
		    settings_str(srv.set, l->set_address), &err) < 0)
			failed++;
	}
	return failed;
}

static void
reload_settings(void)
{
	struct settings *s;
	const char *err;

	s = settings_load(srv.db, &err);
	if (s == NULL) {
		log_err("serve", 0, "event=reload-failed error=\"%s\"", err);
		return;
	}
	settings_free(&srv.set);
	srv.set = s;
	log_info("serve", 0, "event=settings-reloaded");
	apply_settings();
	guard_srv_reload();
	deliver_reload();
}

static void
on_reload_timer(evutil_socket_t fd, short what, void *arg)
{
	int v;

	(void)fd;
	(void)what;
	(void)arg;
	v = db_data_version(srv.db);
	if (v != data_version) {
		data_version = v;
		reload_settings();
	}
}

static void
shutdown_one(struct conn *c, void *arg)
{
	(void)arg;
	c->ops->on_shutdown(c);
}

static void
on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if ((conn_count() == 0 && pool_pending() == 0) ||
	    now_ms() > stop_deadline) {
		if (conn_count() > 0)
			log_warn("serve", 0, "event=shutdown-forced "
			    "connections=%u jobs=%u", conn_count(),
			    pool_pending());
		event_base_loopexit(srv.base, NULL);
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { 0, 50 * 1000 };
	const char *err;

	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		log_reopen();
		if (tls_load(settings_str(srv.set, SET_TLS_CERT),
		    settings_str(srv.set, SET_TLS_KEY),
		    settings_str(srv.set, SET_HOSTNAME), &err) < 0)
			log_err("serve", 0, "event=tls-reload-failed "
			    "error=\"%s\"", err);
		log_info("serve", 0, "event=reopened");
		return;
	}
	if (srv.stopping)
		return;
	srv.stopping = 1;
	log_info("serve", 0, "event=stopping signal=%d", (int)sig);
	for (size_t i = 0; i < NLISTENERS; i++)
		listener_close(listeners[i]);
	deliver_stop();	/* undelivered mail stays queued for next time */
	conn_foreach(shutdown_one, NULL);
	stop_deadline = now_ms() + SHUTDOWN_GRACE_S * 1000;
	stop_timer = event_new(srv.base, -1, EV_PERSIST, on_stop_timer, NULL);
	event_add(stop_timer, &tv);
}

int
cli_serve(struct cli *cli)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };
	struct event *sigev[3];
	struct timeval tv = { 0, RELOAD_INTERVAL_MS * 1000 };
	const char *err;

	srv.db = cli->db;
	srv.set = settings_load(srv.db, &err);
	if (srv.set == NULL)
		fatal("settings: %s", err);
	data_version = db_data_version(srv.db);
	log_init(level_of(settings_str(srv.set, SET_LOG_LEVEL)), 1);
	if (log_open("log") < 0)
		fatal("cannot open the logs in %s/log", cli->data_dir);
	if (tls_load(settings_str(srv.set, SET_TLS_CERT),
	    settings_str(srv.set, SET_TLS_KEY),
	    settings_str(srv.set, SET_HOSTNAME), &err) < 0)
		fatal("tls: %s", err);
	signal(SIGPIPE, SIG_IGN);
	srv.base = event_base_new();
	/* Two priorities: sessions and finished work (0) go before new
	 * connections (1), so a flood of connects cannot starve clients. */
	if (srv.base == NULL || event_base_priority_init(srv.base, 2) < 0)
		fatal("cannot create the event loop");
	conn_init(srv.base);
	listener_init(srv.base);
	if (apply_settings() > 0)
		fatal("cannot bind every enabled listener (see %s/log/"
		    "mailwarden.log)", cli->data_dir);
	if (db_writer_open("mailwarden.db", &err) < 0)
		fatal("database: %s", err);
	if (filterd_start(settings_str(srv.set, SET_SERVER_USER)) < 0)
		log_warn("serve", 0, "event=no-filter-helper error=\"%s\"",
		    strerror(errno));
	privdrop_server(settings_str(srv.set, SET_SERVER_USER));
	auth_init();
	if (pool_start(srv.base, (unsigned)settings_num(srv.set,
	    SET_WORKER_THREADS)) < 0)
		fatal("cannot start the worker threads");
	guard_srv_start();
	deliver_start();
	for (size_t i = 0; i < 3; i++) {
		sigev[i] = evsignal_new(srv.base, sigs[i], on_signal, NULL);
		event_add(sigev[i], NULL);
	}
	log_attach_loop(srv.base);
	reload_timer = event_new(srv.base, -1, EV_PERSIST, on_reload_timer,
	    NULL);
	event_add(reload_timer, &tv);
	log_info("serve", 0, "event=ready hostname=%s",
	    settings_str(srv.set, SET_HOSTNAME));
	printf("ready\n");
	fflush(stdout);

	event_base_dispatch(srv.base);

	deliver_stop();
	pool_stop();
	imap_session_stop();
	guard_srv_stop();
	db_writer_close();
	for (size_t i = 0; i < 3; i++)
		event_free(sigev[i]);
	event_free(reload_timer);
	if (stop_timer != NULL)
		event_free(stop_timer);
	for (size_t i = 0; i < NLISTENERS; i++)
		listener_close(listeners[i]);
	filterd_stop();
	log_info("serve", 0, "event=stopped");
	log_detach_loop();
	log_close();
	tls_free();
	settings_free(&srv.set);
	free(srv.relay_nets);
	proxy_set_trusted(NULL, 0);
	event_base_free(srv.base);
	return 0;
}
