/* The POP3 session machine: greeting, command dispatch, AUTHORIZATION
 * (USER/PASS, AUTH PLAIN, STLS, CAPA), limits, timeouts and the session's
 * life around worker jobs.
 * SECURITY: faces the Internet. Lines are bounded before parsing;
 * passwords are wiped and never logged; a login reveals nothing about
 * whether the user exists; the maildrop path comes from the account. */
#include "pop3/pop3_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/log.h"
#include "core/sasl.h"
#include "core/server.h"
#include "core/tally.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "pop3/pop3_internal.h"

static void pop3_accept(struct listener *l, int fd, const struct sockaddr *sa);
static void pop3_peek(const struct sockaddr *sa);

struct listener pop3_listeners[POP3_LISTENER_COUNT] = {
	[POP3_LISTENER_PLAIN] = { .name = "pop3",
	    .set_enabled = SET_POP3_ENABLED, .set_address = SET_POP3_ADDRESS,
	    .set_proxy = SET_POP3_PROXY, .accept = pop3_accept,
	    .peek = pop3_peek },
	[POP3_LISTENER_TLS] = { .name = "pop3s", .implicit_tls = 1,
	    .set_enabled = SET_POP3S_ENABLED,
	    .set_address = SET_POP3S_ADDRESS, .set_proxy = SET_POP3S_PROXY,
	    .accept = pop3_accept,
	    .peek = pop3_peek },
};

static const char *const state_names[POP3_STATE_COUNT] = {
	"authorization", "sasl", "transaction", "busy", "sending", "tls",
	"quit",
};

/* Sessions per client address, and the maildrop locks (one per user). */
static struct tally *per_ip, *locks;

#define S(x) (1u << POP3_STATE_##x)

struct pop3_command {
	const char *verb;
	unsigned states;	/* where it is allowed */
	void (*run)(struct pop3_session *s, const char *args);
};

void
pop3_enter_state(struct pop3_session *s, enum pop3_state state)
{
	log_debug("pop3", s->c ? s->c->id : 0, "event=state from=%s to=%s",
	    state_names[s->state], state_names[state]);
	s->state = state;
}

void
pop3_reply(struct pop3_session *s, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	va_start(ap, fmt);
	conn_vline(s->c, line, sizeof(line), 0, fmt, ap);
	va_end(ap);
}

void
pop3_close(struct pop3_session *s)
{
	pop3_enter_state(s, POP3_STATE_QUIT);
	conn_close(s->c);
}

void
pop3_client_error(struct pop3_session *s)
{
	if (++s->nerrors > settings_num(srv.set, SET_POP3_MAX_ERRORS)) {
		pop3_reply(s, "-ERR Too many errors, closing connection");
		pop3_close(s);
	}
}

void
pop3_resume(struct pop3_session *s, enum pop3_state state)
{
	pop3_enter_state(s, state);
	if (s->close_after_job) {
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
		pop3_close(s);
		return;
	}
	conn_resume(s->c);
}

void
pop3_unlock(struct pop3_session *s)
{
	if (!s->locked)
		return;
	tally_give(locks, s->login, strlen(s->login));
	s->locked = 0;
}

/* Password logins need TLS unless the administrator allows plaintext. */
static int
login_allowed(const struct pop3_session *s)
{
	return s->c->ssl != NULL || settings_num(srv.set, SET_AUTH_PLAINTEXT);
}

static int
refuse_plaintext(struct pop3_session *s)
{
	if (login_allowed(s))
		return 0;
	pop3_reply(s, "-ERR [AUTH] Plaintext authentication disallowed, use "
	    "STLS first");
	pop3_client_error(s);
	return 1;
}

static void
cmd_capa(struct pop3_session *s, const char *args)
{
	int authorization = s->state == POP3_STATE_AUTHORIZATION;

	(void)args;
	pop3_reply(s, "+OK Capability list follows");
	pop3_reply(s, "TOP");
	pop3_reply(s, "UIDL");
	pop3_reply(s, "RESP-CODES");
	pop3_reply(s, "AUTH-RESP-CODE");
	pop3_reply(s, "PIPELINING");
	if (authorization && login_allowed(s)) {
		pop3_reply(s, "USER");
		pop3_reply(s, "SASL PLAIN");
	}
	if (authorization && s->c->ssl == NULL)
		pop3_reply(s, "STLS");
	pop3_reply(s, "IMPLEMENTATION Mailwarden");
	pop3_reply(s, ".");
}

static void
cmd_user(struct pop3_session *s, const char *args)
{
	if (refuse_plaintext(s))
		return;
	if (*args == '\0' || strlen(args) > ACCOUNT_ADDR_MAX) {
		pop3_reply(s, "-ERR Syntax: USER name");
		pop3_client_error(s);
		return;
	}
	str_copy(s->user, sizeof(s->user), args);
	pop3_reply(s, "+OK");
}

static void
auth_done(struct conn *c, int ok, const char *username)
{
	struct pop3_session *s = c->ctx;

	s->user[0] = '\0';
	if (!ok) {
		pop3_reply(s, "-ERR [AUTH] Authentication failed");
		s->nerrors++;
		pop3_resume(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	/* Only someone who knows the password learns the box is in use. */
	if (tally_take(locks, username, strlen(username), 1) == 0) {
		log_info("pop3", c->id, "event=in-use user=\"%s\"", username);
		pop3_reply(s, "-ERR [IN-USE] Mailbox is locked by another "
		    "session");
		pop3_resume(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	str_copy(s->login, sizeof(s->login), username);
	s->locked = 1;
	if (account_maildir(s->login, s->maildir, sizeof(s->maildir)) < 0) {
		pop3_unlock(s);
		s->login[0] = '\0';
		pop3_reply(s, "-ERR [SYS/PERM] No maildrop for this account");
		pop3_resume(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	log_info("pop3", c->id, "event=login user=\"%s\" ip=%s", s->login,
	    c->peer_str);
	pop3_open_maildrop(s);
}

static void
start_check(struct pop3_session *s, const char *user, const char *pass)
{
	pop3_enter_state(s, POP3_STATE_BUSY);
	conn_pause(s->c);
	auth_check(s->c, GUARD_POP3, user, pass, auth_done);
}

static void
cmd_pass(struct pop3_session *s, const char *args)
{
	if (refuse_plaintext(s))
		return;
	if (s->user[0] == '\0') {
		pop3_reply(s, "-ERR USER first");
		pop3_client_error(s);
		return;
	}
	start_check(s, s->user, args);
}

static void
sasl_plain(struct pop3_session *s, const char *response)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];

	if (sasl_plain_decode(response, user, sizeof(user), pass,
	    sizeof(pass)) < 0) {
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		pop3_reply(s, "-ERR Cannot decode the response");
		pop3_client_error(s);
		return;
	}
	start_check(s, user, pass);
	mem_wipe(pass, sizeof(pass));
}

static void
cmd_auth(struct pop3_session *s, const char *args)
{
	const char *sp = strchr(args, ' ');
	size_t n = sp ? (size_t)(sp - args) : strlen(args);

	if (n == 0) {
		/* RFC 1734: a bare AUTH lists the mechanisms. */
		pop3_reply(s, "+OK");
		if (login_allowed(s))
			pop3_reply(s, "PLAIN");
		pop3_reply(s, ".");
		return;
	}
	if (refuse_plaintext(s))
		return;
	if (n != 5 || strncasecmp(args, "PLAIN", 5) != 0) {
		pop3_reply(s, "-ERR Unsupported authentication mechanism");
		pop3_client_error(s);
		return;
	}
	s->user[0] = '\0';
	if (sp != NULL) {
		sasl_plain(s, sp + 1);
		return;
	}
	pop3_enter_state(s, POP3_STATE_SASL);
	pop3_reply(s, "+ ");
}

static void
sasl_line(struct pop3_session *s, const char *line)
{
	if (strcmp(line, "*") == 0) {
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		pop3_reply(s, "-ERR Authentication cancelled");
		return;
	}
	sasl_plain(s, line);
}

static void
cmd_stls(struct pop3_session *s, const char *args)
{
	if (*args != '\0') {
		pop3_reply(s, "-ERR Syntax: STLS");
		pop3_client_error(s);
		return;
	}
	if (s->c->ssl != NULL) {
		pop3_reply(s, "-ERR TLS already active");
		pop3_client_error(s);
		return;
	}
	pop3_reply(s, "+OK Begin TLS negotiation");
	/* RFC 2595 4: forget what was said before TLS. */
	s->user[0] = '\0';
	pop3_enter_state(s, POP3_STATE_TLS);
	conn_starttls(s->c);
}

static void
cmd_quit(struct pop3_session *s, const char *args)
{
	(void)args;
	if (s->state == POP3_STATE_TRANSACTION) {
		pop3_update(s);
		return;
	}
	pop3_reply(s, "+OK Bye");
	pop3_close(s);
}

static const struct pop3_command commands[] = {
	{ "CAPA", S(AUTHORIZATION) | S(TRANSACTION), cmd_capa },
	{ "USER", S(AUTHORIZATION), cmd_user },
	{ "PASS", S(AUTHORIZATION), cmd_pass },
	{ "AUTH", S(AUTHORIZATION), cmd_auth },
	{ "STLS", S(AUTHORIZATION), cmd_stls },
	{ "QUIT", S(AUTHORIZATION) | S(TRANSACTION), cmd_quit },
	{ "STAT", S(TRANSACTION), pop3_cmd_stat },
	{ "LIST", S(TRANSACTION), pop3_cmd_list },
	{ "UIDL", S(TRANSACTION), pop3_cmd_uidl },
	{ "RETR", S(TRANSACTION), pop3_cmd_retr },
	{ "TOP", S(TRANSACTION), pop3_cmd_top },
	{ "DELE", S(TRANSACTION), pop3_cmd_dele },
	{ "RSET", S(TRANSACTION), pop3_cmd_rset },
	{ "NOOP", S(TRANSACTION), pop3_cmd_noop },
};

static void
log_command(struct pop3_session *s, const char *verb, const char *line,
    size_t len)
{
	char esc[600];

	if (log_min_level > LOG_DEBUG)
		return;
	/* Never a password: PASS and AUTH show their keyword only. */
	if (strcmp(verb, "PASS") == 0 || strcmp(verb, "AUTH") == 0)
		len = strlen(verb);
	log_escape(esc, sizeof(esc), line, len);
	log_debug("pop3", s->c->id, "event=in line=\"%s\"", esc);
}

static void
pop3_command(struct pop3_session *s, const char *line, size_t len)
{
	const struct pop3_command *cmd = NULL;
	const char *args;
	char verb[5];

	if (pop3_parse_command(line, len, verb, &args) < 0)
		verb[0] = '\0';
	log_command(s, verb, line, len);
	/* PASS and AUTH may carry long secrets (RFC 5034 4). */
	if (len + 2 > POP3_COMMAND_MAX && strcmp(verb, "PASS") != 0 &&
	    strcmp(verb, "AUTH") != 0) {
		pop3_reply(s, "-ERR Line too long");
		pop3_client_error(s);
		return;
	}
	for (size_t i = 0; verb[0] != '\0' &&
	    i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].verb, verb) == 0)
			cmd = &commands[i];
	if (cmd == NULL) {
		pop3_reply(s, "-ERR Unknown command");
		pop3_client_error(s);
		return;
	}
	if (!(cmd->states & (1u << s->state))) {
		pop3_reply(s, "-ERR Command not valid in this state");
		pop3_client_error(s);
		return;
	}
	cmd->run(s, args);
}

static void
pop3_on_read(struct conn *c)
{
	struct pop3_session *s = c->ctx;
	struct evbuffer *in = conn_input(c);
	size_t len;

	while (evbuffer_get_length(in) > 0) {
		enum line_result r;

		if (s->state != POP3_STATE_AUTHORIZATION &&
		    s->state != POP3_STATE_TRANSACTION &&
		    s->state != POP3_STATE_SASL)
			return;
		/* Pipelined commands wait while replies pile up. */
		if (c->backpressure)
			return;
		r = line_read(&s->lr, in, s->line, &len);
		if (r == LINE_MORE)
			return;
		if (r == LINE_TOO_LONG) {
			pop3_reply(s, "-ERR Line too long");
			if (s->state == POP3_STATE_SASL)
				pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
			pop3_client_error(s);
			continue;
		}
		if (s->state == POP3_STATE_SASL)
			sasl_line(s, s->line);
		else
			pop3_command(s, s->line, len);
		mem_wipe(s->line, len);
	}
}

static void
pop3_on_tls(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	log_info("pop3", c->id, "event=tls version=%s cipher=%s",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	if (s->state == POP3_STATE_TLS) {
		pop3_enter_state(s, POP3_STATE_AUTHORIZATION);
		conn_resume(c);
	}
}

static void
pop3_on_timeout(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	log_info("pop3", c->id, "event=timeout state=%s",
	    state_names[s->state]);
	pop3_reply(s, "-ERR Autologout, idle for too long");
	pop3_close(s);
}

static void
pop3_on_shutdown(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	if (s->job_running || s->state == POP3_STATE_BUSY) {
		s->close_after_job = 1;	/* finish the work, then go */
		return;
	}
	if (s->state != POP3_STATE_SENDING)
		pop3_reply(s, "-ERR [SYS/TEMP] Server shutting down");
	pop3_close(s);
}

static void
pop3_on_drain(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	if (s->state == POP3_STATE_SENDING && !s->job_running)
		pop3_continue_sending(s);
}

static void
session_free(struct pop3_session *s)
{
	pop3_unlock(s);
	if (s->counted_ip)
		tally_give(per_ip, s->peer.a, sizeof(s->peer.a));
	pop3_maildrop_free(s);
	mem_wipe(s, sizeof(*s));
	free(s);
}

static void
pop3_on_free(struct conn *c)
{
	struct pop3_session *s = c->ctx;

	log_info("pop3", c->id, "event=disconnect ip=%s user=\"%s\" "
	    "retrieved=%u", c->peer_str, s->login, s->retrieved);
	guard_srv_session_end(&c->peer, GUARD_POP3, s->login[0] != '\0');
	s->c = NULL;
	if (!s->job_running)
		session_free(s);
}

static void
job_done(struct pool_job *pj)
{
	struct pop3_job *j = (struct pop3_job *)pj;
	struct pop3_session *s = j->s;

	s->job_running = 0;
	if (s->c == NULL) {
		free(j->out);
		j->out = NULL;
		free(j->actions);
		j->actions = NULL;
		session_free(s);
		return;
	}
	pop3_job_finished(s);
}

void
pop3_submit(struct pop3_session *s, enum pop3_job_kind kind)
{
	MW_ASSERT(!s->job_running);
	s->job.job.work = pop3_job_work;
	s->job.job.done = job_done;
	s->job.s = s;
	s->job.kind = kind;
	s->job_running = 1;
	conn_pause(s->c);
	pool_submit(&s->job.job);
}

static const struct conn_ops pop3_ops = {
	.on_read = pop3_on_read,
	.on_tls = pop3_on_tls,
	.on_timeout = pop3_on_timeout,
	.on_free = pop3_on_free,
	.on_shutdown = pop3_on_shutdown,
	.on_drain = pop3_on_drain,
};

static void
pop3_peek(const struct sockaddr *sa)
{
	guard_srv_peek(sa, GUARD_POP3);
}

static void
pop3_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct pop3_session *s;
	struct ipaddr ip;

	if (per_ip == NULL) {
		per_ip = tally_new();
		locks = tally_new();
	}
	if (ipaddr_from_sockaddr(sa, &ip) < 0 ||
	    guard_srv_admit(fd, &ip, GUARD_POP3) < 0)
		return;
	if (conn_count() >= settings_num(srv.set, SET_SERVER_MAX_CONNECTIONS)) {
		conn_refuse(fd, "pop3", "-ERR [SYS/TEMP] Too many connections, "
		    "try again later\r\n", "busy", &ip);
		return;
	}
	if (tally_take(per_ip, ip.a, sizeof(ip.a), (unsigned)settings_num(
	    srv.set, SET_POP3_MAX_PER_IP)) == 0) {
		conn_refuse(fd, "pop3", "-ERR [SYS/TEMP] Too many connections "
		    "from your address\r\n", "max-per-ip", &ip);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->peer = ip;
	s->counted_ip = 1;
	s->xfer.fd = -1;
	s->c = conn_new(fd, sa, l->implicit_tls, &pop3_ops, s);
	if (s->c == NULL) {
		session_free(s);
		return;
	}
	line_reader_init(&s->lr, POP3_SASL_LINE_MAX);
	log_info("pop3", s->c->id, "event=connect listener=%s ip=%s port=%u",
	    l->name, s->c->peer_str, s->c->peer_port);
	s->state = POP3_STATE_AUTHORIZATION;
	conn_set_timeout(s->c, (unsigned)settings_num(srv.set,
	    SET_POP3_TIMEOUT));
	pop3_reply(s, "+OK Mailwarden POP3 server ready");
}
