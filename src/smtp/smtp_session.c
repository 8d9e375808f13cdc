/* The SMTP session machine: greeting, command dispatch, the mail
 * transaction, STARTTLS, limits and timeouts.
 * SECURITY: faces the Internet. Every line is bounded before parsing;
 * recipients are only looked up, never used as paths; relaying needs
 * AUTH or relay.networks. */
#include "smtp/smtp_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "smtp/smtp_internal.h"

static void smtp_accept(struct listener *l, int fd, const struct sockaddr *sa);
static void smtp_peek(const struct sockaddr *sa);

static const struct smtp_listener_conf conf_mx = { SET_SMTP_AUTH, 0 };
static const struct smtp_listener_conf conf_sub = { SET_SUBMISSION_AUTH, 1 };
static const struct smtp_listener_conf conf_smtps = { SET_SMTPS_AUTH, 1 };

struct listener smtp_listeners[SMTP_LISTENER_COUNT] = {
	[SMTP_LISTENER_MX] = { .name = "smtp", .set_enabled = SET_SMTP_ENABLED,
	    .set_address = SET_SMTP_ADDRESS, .set_proxy = SET_SMTP_PROXY,
	    .accept = smtp_accept,
	    .peek = smtp_peek, .proto = &conf_mx },
	[SMTP_LISTENER_SUBMISSION] = { .name = "submission",
	    .set_enabled = SET_SUBMISSION_ENABLED,
	    .set_address = SET_SUBMISSION_ADDRESS,
	    .set_proxy = SET_SUBMISSION_PROXY, .accept = smtp_accept,
	    .peek = smtp_peek,
	    .proto = &conf_sub },
	[SMTP_LISTENER_SMTPS] = { .name = "smtps", .implicit_tls = 1,
	    .set_enabled = SET_SMTPS_ENABLED, .set_address = SET_SMTPS_ADDRESS,
	    .set_proxy = SET_SMTPS_PROXY, .accept = smtp_accept,
	    .peek = smtp_peek,
	    .proto = &conf_smtps },
};

static const char *const state_names[SMTP_STATE_COUNT] = {
	"connected", "helo", "mail", "rcpt", "data", "auth", "busy", "tls",
	"quit",
};

#define S(x) (1u << SMTP_STATE_##x)
#define IN_SESSION (S(CONNECTED) | S(HELO) | S(MAIL) | S(RCPT))

struct smtp_command {
	const char *verb;
	unsigned states;	/* where it is allowed; else 503 */
	void (*run)(struct smtp_session *s, const char *args);
};

void
smtp_enter_state(struct smtp_session *s, enum smtp_state state)
{
	log_debug("smtp", s->c->id, "event=state from=%s to=%s",
	    state_names[s->state], state_names[state]);
	s->state = state;
}

void
smtp_reply(struct smtp_session *s, const char *fmt, ...)
{
	char line[600];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = conn_vline(s->c, line, sizeof(line), 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", s->c->id,
		    "event=out line=\"%.*s\"", (int)n, line);
}

void
smtp_close(struct smtp_session *s)
{
	smtp_enter_state(s, SMTP_STATE_QUIT);
	conn_close(s->c);
}

void
smtp_client_error(struct smtp_session *s)
{
	if (++s->nerrors > settings_num(srv.set, SET_SMTP_MAX_ERRORS)) {
		smtp_reply(s, "421 4.7.0 %s Too many errors, closing connection",
		    settings_str(srv.set, SET_HOSTNAME));
		smtp_close(s);
	}
}

void
smtp_reset_transaction(struct smtp_session *s)
{
	memset(&s->from, 0, sizeof(s->from));
	s->smtputf8 = 0;
	s->nrcpts = 0;
	s->nrcpt_accepted = 0;
	buf_reset(&s->msg);
	if (s->msg.cap > 64 * 1024)
		buf_release(&s->msg, 0);	/* keep idle sessions small */
}

static void
smtp_set_idle_timeout(struct smtp_session *s)
{
	conn_set_timeout(s->c, (unsigned)settings_num(srv.set,
	    s->state == SMTP_STATE_DATA ? SET_SMTP_DATA_TIMEOUT :
	    SET_SMTP_TIMEOUT));
}

static void
smtp_greet(struct smtp_session *s)
{
	smtp_reply(s, "220 %s ESMTP Mailwarden",
	    settings_str(srv.set, SET_HOSTNAME));
}

static void
cmd_helo(struct smtp_session *s, const char *args, int esmtp)
{
	size_t n = strlen(args);
	const char *host = settings_str(srv.set, SET_HOSTNAME);

	if (n == 0 || n >= sizeof(s->helo) || strchr(args, ' ') != NULL) {
		smtp_reply(s, "501 5.5.4 Syntax: %s hostname",
		    esmtp ? "EHLO" : "HELO");
		smtp_client_error(s);
		return;
	}
	log_escape(s->helo, sizeof(s->helo), args, n);
	s->esmtp = esmtp;
	smtp_reset_transaction(s);
	smtp_enter_state(s, SMTP_STATE_HELO);
	if (!esmtp) {
		smtp_reply(s, "250 %s", host);
		return;
	}
	smtp_reply(s, "250-%s Hello %s [%s]", host, s->helo, s->c->peer_str);
	smtp_reply(s, "250-PIPELINING");
	smtp_reply(s, "250-SIZE %llu", (unsigned long long)settings_num(
	    srv.set, SET_MESSAGE_MAX_SIZE));
	if (s->c->ssl == NULL)
		smtp_reply(s, "250-STARTTLS");
	if (smtp_auth_offered(s))
		smtp_reply(s, "250-AUTH PLAIN LOGIN");
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250-8BITMIME");
	smtp_reply(s, "250 SMTPUTF8");
}

static void
cmd_ehlo(struct smtp_session *s, const char *args)
{
	cmd_helo(s, args, 1);
}

static void
cmd_helo_only(struct smtp_session *s, const char *args)
{
	cmd_helo(s, args, 0);
}

static void
cmd_mail(struct smtp_session *s, const char *args)
{
	uint64_t max = settings_num(srv.set, SET_MESSAGE_MAX_SIZE), size;
	struct smtp_path from;
	const char *params, *err;
	char key[32], value[128];
	int has_value, rc, utf8 = 0, smtputf8 = 0;

	if (s->conf->auth_required && s->auth_user[0] == '\0') {
		smtp_reply(s, "530 5.7.0 Authentication required");
		smtp_client_error(s);
		return;
	}
	/* SMTPUTF8 is a parameter after the path: look ahead for it. */
	for (const char *p = strchr(args, '>'); p != NULL &&
	    (p = strcasestr(p, " SMTPUTF8")) != NULL; p += 9)
		if (p[9] == '\0' || p[9] == ' ')
			utf8 = 1;
	if (smtp_parse_path(args, "FROM:", 1, utf8, &from, &params,
	    &err) < 0 || (from.flags & SMTP_PATH_NODOMAIN)) {
		if (from.flags & SMTP_PATH_NODOMAIN)
			err = "Sender address needs a domain";
		smtp_reply(s, "501 5.1.7 %s", err);
		smtp_client_error(s);
		return;
	}
	while ((rc = smtp_parse_param(&params, key, value, sizeof(value),
	    &has_value)) == 1) {
		if (strcmp(key, "SIZE") == 0 && has_value) {
			if (str_to_u64(value, 0, UINT64_MAX, &size) < 0)
				goto bad_param;
			if (size > max) {
				smtp_reply(s, "552 5.3.4 Message size exceeds "
				    "fixed maximum message size");
				return;
			}
		} else if (strcmp(key, "BODY") == 0 && has_value) {
			if (strcasecmp(value, "7BIT") != 0 &&
			    strcasecmp(value, "8BITMIME") != 0)
				goto bad_param;
		} else if (strcmp(key, "SMTPUTF8") == 0 && !has_value) {
			smtputf8 = 1;
		} else if (strcmp(key, "AUTH") == 0 && has_value) {
			/* RFC 4954 5: accepted and not trusted. */
		} else {
			smtp_reply(s, "555 5.5.4 Unsupported parameter %s", key);
			smtp_client_error(s);
			return;
		}
	}
	if (rc < 0)
		goto bad_param;
	s->from = from;
	s->smtputf8 = smtputf8;
	smtp_enter_state(s, SMTP_STATE_MAIL);
	smtp_reply(s, "250 2.1.0 Ok");
	return;
bad_param:
	smtp_reply(s, "501 5.5.4 Bad MAIL parameters");
	smtp_client_error(s);
}

static int
smtp_trusted(const struct smtp_session *s)
{
	return s->auth_user[0] != '\0' || server_trusted_relay(&s->c->peer) ||
	    guard_srv_allowed(&s->c->peer);
}

static int
add_rcpt(struct smtp_session *s, const char *addr, int local)
{
	for (size_t i = 0; i < s->nrcpts; i++)
		if (strcmp(s->rcpts[i].addr, addr) == 0)
			return 0;
	if (s->nrcpts == s->rcpts_cap) {
		s->rcpts_cap = s->rcpts_cap ? s->rcpts_cap * 2 : 8;
		s->rcpts = xrealloc(s->rcpts, s->rcpts_cap * sizeof(*s->rcpts));
	}
	if (str_copy(s->rcpts[s->nrcpts].addr, sizeof(s->rcpts[0].addr),
	    addr) < 0)
		return -1;
	s->rcpts[s->nrcpts].local = local;
	s->nrcpts++;
	return 0;
}

static void
cmd_rcpt(struct smtp_session *s, const char *args)
{
	struct account_target t[ACCOUNT_MAX_TARGETS];
	struct smtp_path to;
	const char *params, *err;
	char addr[SMTP_PATH_MAX + 64];
	size_t n, before = s->nrcpts;
	int trusted = smtp_trusted(s), tricky;

	if (s->nrcpt_accepted >= settings_num(srv.set,
	    SET_SMTP_MAX_RECIPIENTS)) {
		smtp_reply(s, "452 4.5.3 Too many recipients");
		return;
	}
	if (smtp_parse_path(args, "TO:", 0, s->smtputf8, &to, &params,
	    &err) < 0) {
		smtp_reply(s, "501 5.1.3 %s", err);
		smtp_client_error(s);
		return;
	}
	if (*params != '\0') {
		smtp_reply(s, "555 5.5.4 Unsupported RCPT parameters");
		smtp_client_error(s);
		return;
	}
	if (to.flags & SMTP_PATH_NODOMAIN)
		snprintf(addr, sizeof(addr), "postmaster@%s",
		    settings_str(srv.set, SET_HOSTNAME));
	else
		str_copy(addr, sizeof(addr), to.addr);
	/* Routing tricks are never honoured for strangers: source routes,
	 * %-hacks, bang paths, quoted local parts, address literals. */
	tricky = (to.flags & (SMTP_PATH_ROUTE | SMTP_PATH_QUOTED |
	    SMTP_PATH_LITERAL)) || memchr(to.addr, '%', to.local_len) ||
	    memchr(to.addr, '!', to.local_len);
	if (tricky && !trusted)
		goto relay_denied;
	switch (account_resolve(srv.db, addr, t, &n)) {
	case ACCOUNT_REMOTE:
		if (!trusted)
			goto relay_denied;
		if (add_rcpt(s, addr, 0) < 0)
			goto unknown;
		break;
	case ACCOUNT_UNKNOWN:
		goto unknown;
	case ACCOUNT_LOCAL:
		for (size_t i = 0; i < n; i++)
			if (add_rcpt(s, t[i].address, t[i].local) < 0) {
				s->nrcpts = before;
				goto unknown;
			}
		if (smtp_rcpt_quota(s, before, to.addr))
			return;
		break;
	}
	s->nrcpt_accepted++;
	smtp_enter_state(s, SMTP_STATE_RCPT);
	smtp_reply(s, "250 2.1.5 Ok");
	return;
unknown:
	log_info("smtp", s->c->id, "event=unknown-recipient ip=%s rcpt=\"%s\"",
	    s->c->peer_str, to.addr);
	guard_srv_unknown_rcpt(&s->c->peer, GUARD_SMTP);
	smtp_reply(s, "550 5.1.1 <%s>: Recipient address rejected: "
	    "User unknown", to.addr);
	return;
relay_denied:
	log_info("smtp", s->c->id, "event=relay-denied ip=%s rcpt=\"%s\"",
	    s->c->peer_str, to.addr);
	smtp_reply(s, "554 5.7.1 <%s>: Relay access denied", to.addr);
}

static void
cmd_data(struct smtp_session *s, const char *args)
{
	size_t max;

	if (*args != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: DATA");
		smtp_client_error(s);
		return;
	}
	if (s->state != SMTP_STATE_RCPT) {
		smtp_reply(s, "554 5.5.1 No valid recipients");
		smtp_client_error(s);
		return;
	}
	max = (size_t)settings_num(srv.set, SET_MESSAGE_MAX_SIZE);
	buf_release(&s->msg, 0);
	buf_init(&s->msg, max);
	smtp_data_init(&s->data, &s->msg, max);
	smtp_enter_state(s, SMTP_STATE_DATA);
	smtp_set_idle_timeout(s);
	smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

static void
cmd_rset(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reset_transaction(s);
	if (s->state != SMTP_STATE_CONNECTED)
		smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_noop(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 Ok");
}

static void
cmd_quit(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "221 2.0.0 Bye");
	smtp_close(s);
}

static void
cmd_vrfy(struct smtp_session *s, const char *args)
{
	if (*args == '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: VRFY address");
		smtp_client_error(s);
		return;
	}
	/* Never discloses whether a user exists. */
	smtp_reply(s, "252 2.5.2 Cannot VRFY user, but will accept message "
	    "and attempt delivery");
}

static void
cmd_expn(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void
cmd_help(struct smtp_session *s, const char *args)
{
	(void)args;
	smtp_reply(s, "214 2.0.0 See RFC 5321");
}

static void
cmd_starttls(struct smtp_session *s, const char *args)
{
	if (*args != '\0') {
		smtp_reply(s, "501 5.5.4 Syntax: STARTTLS");
		smtp_client_error(s);
		return;
	}
	if (s->c->ssl != NULL) {
		smtp_reply(s, "503 5.5.1 TLS already active");
		smtp_client_error(s);
		return;
	}
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	/* RFC 3207 4.2: forget everything learnt before TLS. */
	smtp_reset_transaction(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->auth_user[0] = '\0';
	smtp_enter_state(s, SMTP_STATE_TLS);
	conn_starttls(s->c);
}

static const struct smtp_command commands[] = {
	{ "EHLO", IN_SESSION, cmd_ehlo },
	{ "HELO", IN_SESSION, cmd_helo_only },
	{ "MAIL", S(HELO), cmd_mail },
	{ "RCPT", S(MAIL) | S(RCPT), cmd_rcpt },
	{ "DATA", S(MAIL) | S(RCPT), cmd_data },
	{ "RSET", IN_SESSION, cmd_rset },
	{ "NOOP", IN_SESSION, cmd_noop },
	{ "QUIT", IN_SESSION, cmd_quit },
	{ "VRFY", IN_SESSION, cmd_vrfy },
	{ "EXPN", IN_SESSION, cmd_expn },
	{ "HELP", IN_SESSION, cmd_help },
	{ "STARTTLS", S(CONNECTED) | S(HELO), cmd_starttls },
	{ "AUTH", S(HELO), smtp_cmd_auth },
};

static void
log_command(struct smtp_session *s, const char *line, size_t len,
    const char *verb)
{
	char esc[600];

	if (strcmp(verb, "AUTH") == 0) {
		/* The mechanism only: an initial response holds secrets. */
		const char *mech = strchr(line, ' ');
		const char *sp = mech ? strchr(mech + 1, ' ') : NULL;
		size_t keep = sp ? (size_t)(sp - line) : len;

		log_escape(esc, sizeof(esc), line, keep);
		LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", s->c->id,
		    "event=in line=\"%s%s\"", esc, sp ? " <response hidden>" : "");
		return;
	}
	log_escape(esc, sizeof(esc), line, len);
	LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", s->c->id,
	    "event=in line=\"%s\"", esc);
}

static void
smtp_command(struct smtp_session *s, const char *line, size_t len)
{
	const struct smtp_command *cmd = NULL;
	const char *args;
	char verb[16];

	if (++s->ncommands > settings_num(srv.set, SET_SMTP_MAX_COMMANDS)) {
		smtp_reply(s, "421 4.7.0 %s Too many commands, closing "
		    "connection", settings_str(srv.set, SET_HOSTNAME));
		smtp_close(s);
		return;
	}
	if (smtp_parse_verb(line, verb, &args) < 0)
		verb[0] = '\0';
	log_command(s, line, len, verb);
	if (memchr(line, '\0', len) != NULL) {
		smtp_reply(s, "500 5.5.2 NUL in command");
		smtp_client_error(s);
		return;
	}
	if (len + 2 > SMTP_LINE_MAX && strcmp(verb, "AUTH") != 0) {
		smtp_reply(s, "500 5.5.2 Line too long");
		smtp_client_error(s);
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].verb, verb) == 0)
			cmd = &commands[i];
	/* With AUTH off the command does not exist (DESIGN 1). */
	if (cmd != NULL && cmd->run == smtp_cmd_auth &&
	    !settings_num(srv.set, s->conf->set_auth))
		cmd = NULL;
	if (cmd == NULL) {
		smtp_reply(s, "500 5.5.1 Command unrecognized");
		smtp_client_error(s);
		return;
	}
	if (!(cmd->states & (1u << s->state))) {
		if (s->state == SMTP_STATE_CONNECTED)
			smtp_reply(s, "503 5.5.1 Send EHLO/HELO first");
		else
			smtp_reply(s, "503 5.5.1 Bad sequence of commands");
		smtp_client_error(s);
		return;
	}
	cmd->run(s, args);
}

static void
smtp_read_data(struct smtp_session *s)
{
	struct evbuffer *in = conn_input(s->c);
	struct evbuffer_iovec v[8];
	size_t total = 0, used;
	int n, done = 0;

	n = evbuffer_peek(in, -1, NULL, v, 8);
	for (int i = 0; i < n && i < 8 && !done; i++) {
		done = smtp_data_feed(&s->data, v[i].iov_base, v[i].iov_len,
		    &used);
		total += used;
	}
	evbuffer_drain(in, total);
	if (done)
		smtp_deliver(s);
}

static void
smtp_on_read(struct conn *c)
{
	struct smtp_session *s = c->ctx;
	struct evbuffer *in = conn_input(c);
	size_t len;

	while (evbuffer_get_length(in) > 0) {
		enum line_result r;

		switch (s->state) {
		case SMTP_STATE_DATA:
			smtp_read_data(s);
			continue;
		case SMTP_STATE_BUSY:
		case SMTP_STATE_TLS:
		case SMTP_STATE_QUIT:
			return;
		default:
			break;
		}
		r = line_read(&s->lr, in, s->line, &len);
		if (r == LINE_MORE)
			return;
		if (r == LINE_TOO_LONG) {
			LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", c->id,
			    "event=in line-too-long");
			smtp_reply(s, "500 5.5.2 Line too long");
			if (s->state == SMTP_STATE_AUTH) {
				s->sasl_mech = SMTP_SASL_NONE;
				smtp_enter_state(s, SMTP_STATE_HELO);
			}
			smtp_client_error(s);
			continue;
		}
		if (s->state == SMTP_STATE_AUTH)
			smtp_auth_line(s, s->line);
		else
			smtp_command(s, s->line, len);
		mem_wipe(s->line, len);
	}
}

void
smtp_resume(struct smtp_session *s, enum smtp_state state)
{
	smtp_enter_state(s, state);
	if (s->close_after_reply) {
		smtp_reply(s, "421 4.3.2 %s Service shutting down",
		    settings_str(srv.set, SET_HOSTNAME));
		smtp_close(s);
		return;
	}
	smtp_set_idle_timeout(s);
	conn_resume(s->c);
}

static void
smtp_on_tls(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	log_info("smtp", c->id, "event=tls version=%s cipher=%s",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	if (s->state == SMTP_STATE_TLS) {
		smtp_enter_state(s, SMTP_STATE_CONNECTED);
		conn_resume(c);	/* the client may have spoken already */
	}
}

static void
smtp_on_timeout(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	log_info("smtp", c->id, "event=timeout state=%s",
	    state_names[s->state]);
	smtp_reply(s, "421 4.4.2 %s Error: timeout exceeded",
	    settings_str(srv.set, SET_HOSTNAME));
	smtp_close(s);
}

static void
smtp_on_shutdown(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	if (s->state == SMTP_STATE_BUSY) {
		s->close_after_reply = 1;	/* answer first, then go */
		return;
	}
	smtp_reply(s, "421 4.3.2 %s Service shutting down",
	    settings_str(srv.set, SET_HOSTNAME));
	smtp_close(s);
}

static void
smtp_on_free(struct conn *c)
{
	struct smtp_session *s = c->ctx;

	log_info("smtp", c->id, "event=disconnect ip=%s commands=%u "
	    "messages=%u", c->peer_str, s->ncommands, s->messages);
	guard_srv_session_end(&c->peer, GUARD_SMTP, s->messages > 0);
	buf_release(&s->msg, 0);
	free(s->rcpts);
	mem_wipe(s, sizeof(*s));
	free(s);
}

static const struct conn_ops smtp_ops = {
	.on_read = smtp_on_read,
	.on_tls = smtp_on_tls,
	.on_timeout = smtp_on_timeout,
	.on_free = smtp_on_free,
	.on_shutdown = smtp_on_shutdown,
};

static void
smtp_peek(const struct sockaddr *sa)
{
	guard_srv_peek(sa, GUARD_SMTP);
}

static void
smtp_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct smtp_session *s;
	struct ipaddr ip;
	char ipbuf[IPADDR_STRLEN];

	if (ipaddr_from_sockaddr(sa, &ip) < 0 ||
	    guard_srv_admit(fd, &ip, GUARD_SMTP) < 0)
		return;
	if (conn_count() >= settings_num(srv.set, SET_SERVER_MAX_CONNECTIONS)) {
		static const char busy[] = "421 4.3.2 Too many connections, "
		    "try again later\r\n";

		(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
		close(fd);
		log_warn("smtp", 0, "event=busy ip=%s connections=%u",
		    ipaddr_str(&ip, ipbuf), conn_count());
		return;
	}
	s = xcalloc(1, sizeof(*s));

	s->l = l;
	s->conf = l->proto;
	s->c = conn_new(fd, sa, l->implicit_tls, &smtp_ops, s);
	if (s->c == NULL) {
		free(s);
		return;
	}
	line_reader_init(&s->lr, SMTP_AUTH_LINE_MAX);
	buf_init(&s->msg, 0);
	log_info("smtp", s->c->id, "event=connect listener=%s ip=%s port=%u",
	    l->name, s->c->peer_str, s->c->peer_port);
	smtp_enter_state(s, SMTP_STATE_CONNECTED);
	smtp_set_idle_timeout(s);
	smtp_greet(s);
}
