/* The IMAP session machine: greeting, reading commands (lines and
 * literals, RFC 3501 2.2 and 7888), dispatch, limits, timeouts and the
 * session's life around worker jobs.
 * SECURITY: faces the Internet. Lines and literals are bounded before
 * they are buffered (an announced size is checked before reading it);
 * passwords are wiped and never logged; mailbox paths come from the
 * account and checked names (imap_mbox.c). */
#include "imap/imap_session.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/server.h"
#include "core/tally.h"
#include "core/util.h"
#include "guard/guard_server.h"
#include "imap/imap_internal.h"
#include "imap/imap_notify.h"
#include "imap/imap_view.h"

static void imap_accept(struct listener *l, int fd, const struct sockaddr *sa);
static void imap_peek(const struct sockaddr *sa);

struct listener imap_listeners[IMAP_LISTENER_COUNT] = {
	[IMAP_LISTENER_PLAIN] = { .name = "imap",
	    .set_enabled = SET_IMAP_ENABLED, .set_address = SET_IMAP_ADDRESS,
	    .set_proxy = SET_IMAP_PROXY, .accept = imap_accept,
	    .peek = imap_peek },
	[IMAP_LISTENER_TLS] = { .name = "imaps", .implicit_tls = 1,
	    .set_enabled = SET_IMAPS_ENABLED,
	    .set_address = SET_IMAPS_ADDRESS, .set_proxy = SET_IMAPS_PROXY,
	    .accept = imap_accept,
	    .peek = imap_peek },
};

static const char *const state_names[IMAP_STATE_COUNT] = {
	"not-authenticated", "authenticated", "selected", "logout",
};

/* Sessions per client address and per user. */
static struct tally *per_ip;
struct tally *imap_per_user;

void
imap_enter_state(struct imap_session *s, enum imap_state state)
{
	log_debug("imap", s->id, "event=state from=%s to=%s",
	    state_names[s->state], state_names[state]);
	s->state = state;
}

void
imap_write(struct imap_session *s, const void *data, size_t len)
{
	if (s->c != NULL)
		conn_write(s->c, data, len);
}

static void vreply(struct imap_session *s, const char *prefix,
    const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void
vreply(struct imap_session *s, const char *prefix, const char *fmt,
    va_list ap)
{
	char line[1024];
	size_t p = str_printf(line, sizeof(line), "%s", prefix) < 0 ? 0 :
	    strlen(line);

	conn_vline(s->c, line, sizeof(line), p, fmt, ap);
}

void
imap_reply(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, "", fmt, ap);
	va_end(ap);
}

void
imap_flush(struct imap_session *s)
{
	size_t len;
	char *data;

	if (s->out.len == 0)
		return;
	data = buf_steal(&s->out, &len);
	if (s->c != NULL)
		conn_write_owned(s->c, data, len);
	else
		free(data);
}

void
imap_close(struct imap_session *s)
{
	imap_enter_state(s, IMAP_STATE_LOGOUT);
	if (s->c != NULL)
		conn_close(s->c);
}

/* Ready for the next command. */
static void
next_command(struct imap_session *s)
{
	imap_free_ctx(s);
	buf_reset(&s->cmd);
	/* A large command (an APPEND) gives its memory back. */
	if (s->cmd.cap > 4096)
		buf_release(&s->cmd, 0);
	buf_set_max(&s->cmd, IMAP_LINE_MAX);
	s->literal_left = 0;
	s->tag[0] = '\0';
	s->wait = IMAP_WAIT_COMMAND;
	if (s->c == NULL || s->state == IMAP_STATE_LOGOUT)
		return;
	if (s->close_after_job) {
		imap_reply(s, "* BYE Server shutting down");
		imap_close(s);
		return;
	}
	conn_resume(s->c);
}

void
imap_done(struct imap_session *s, const char *fmt, ...)
{
	char prefix[IMAP_TAG_MAX + 2];
	va_list ap;

	imap_flush(s);
	str_printf(prefix, sizeof(prefix), "%s ", s->tag[0] ? s->tag : "*");
	va_start(ap, fmt);
	vreply(s, prefix, fmt, ap);
	va_end(ap);
	next_command(s);
}

static void
client_error(struct imap_session *s)
{
	if (++s->nerrors > settings_num(srv.set, SET_IMAP_MAX_ERRORS)) {
		imap_reply(s, "* BYE Too many errors, closing connection");
		imap_close(s);
	}
}

void
imap_bad(struct imap_session *s, const char *text)
{
	imap_done(s, "BAD %s", text);
	client_error(s);
}

/* Password logins need TLS unless the administrator allows plaintext. */
static int
login_allowed(const struct imap_session *s)
{
	return s->c->ssl != NULL || settings_num(srv.set, SET_AUTH_PLAINTEXT);
}

void
imap_capabilities(struct imap_session *s, struct buf *out)
{
	buf_append_str(out, "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE "
	    "NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN SPECIAL-USE QUOTA");
	buf_printf(out, " APPENDLIMIT=%llu", (unsigned long long)
	    settings_num(srv.set, SET_IMAP_MAX_LITERAL));
	if (s->state == IMAP_STATE_NOT_AUTH) {
		if (s->c->ssl == NULL)
			buf_append_str(out, " STARTTLS");
		if (login_allowed(s))
			buf_append_str(out, " AUTH=PLAIN");
		else
			buf_append_str(out, " LOGINDISABLED");
	}
}

static void
log_command(struct imap_session *s)
{
	char esc[300];
	size_t len = s->cmd.len;

	if (log_min_level > LOG_DEBUG)
		return;
	/* Never a password: LOGIN and AUTHENTICATE show the command only. */
	if (strcmp(s->name, "LOGIN") == 0 ||
	    strcmp(s->name, "AUTHENTICATE") == 0)
		len = strlen(s->tag) + 1 + strlen(s->name);
	log_escape(esc, sizeof(esc), s->cmd.data, len);
	log_debug("imap", s->id, "event=in line=\"%s\"", esc);
}

/* A whole command is in s->cmd: parse its head and run it. */
static void
run_command(struct imap_session *s)
{
	static struct imap_args args;	/* one command at a time, on the loop */
	const struct imap_command *cmd;
	const char *rest;
	char name[32];

	s->wait = IMAP_WAIT_BUSY;
	conn_pause(s->c);
	if (imap_parse_head(s->cmd.data, s->cmd.len, s->tag, name, &rest) < 0) {
		str_copy(s->name, sizeof(s->name), "");
		log_command(s);
		if (strcmp(s->tag, "*") == 0)
			s->tag[0] = '\0';
		imap_bad(s, s->tag[0] ? "Unknown command" : "Missing tag");
		return;
	}
	s->uid = 0;
	if (strcmp(name, "UID") == 0) {
		size_t i = 0;

		s->uid = 1;
		while (rest[i] != ' ' && rest + i < s->cmd.data + s->cmd.len &&
		    i < sizeof(name) - 1) {
			name[i] = (char)(rest[i] >= 'a' && rest[i] <= 'z' ?
			    rest[i] - 32 : rest[i]);
			i++;
		}
		name[i] = '\0';
		rest += i;
		if (*rest == ' ')
			rest++;
	}
	str_copy(s->name, sizeof(s->name), name);
	log_command(s);
	cmd = imap_command_find(name, s->uid);
	if (cmd == NULL) {
		imap_bad(s, "Unknown command");
		return;
	}
	if (!(cmd->states & (1u << s->state))) {
		imap_bad(s, "Command not valid in this state");
		return;
	}
	imap_args_init(&args, rest, (size_t)(s->cmd.data + s->cmd.len - rest));
	cmd->run(s, &args);
	mem_wipe(args.buf, sizeof(args.buf) < 4096 ? sizeof(args.buf) : 4096);
}

/* The largest literal this command may carry. */
static uint64_t
literal_limit(struct imap_session *s)
{
	char tag[IMAP_TAG_MAX + 1], name[32];
	const char *rest;

	if (s->state != IMAP_STATE_NOT_AUTH &&
	    imap_parse_head(s->cmd.data, s->cmd.len, tag, name, &rest) == 0 &&
	    strcmp(name, "APPEND") == 0)
		return (uint64_t)settings_num(srv.set, SET_IMAP_MAX_LITERAL);
	return s->cmd.len < IMAP_LINE_MAX ? IMAP_LINE_MAX - s->cmd.len : 0;
}

/* The line just added to s->cmd (from off) is complete. */
static void
command_line(struct imap_session *s, size_t off)
{
	struct imap_literal lit;
	const char *rest;
	char name[32];
	int r;

	r = imap_line_literal(s->cmd.data + off, s->cmd.len - off, &lit);
	if (r == 0) {
		run_command(s);
		return;
	}
	if (r < 0 || lit.size >= (uint64_t)1 << 63) {
		imap_parse_head(s->cmd.data, s->cmd.len, s->tag, name, &rest);
		if (strcmp(s->tag, "*") == 0)
			s->tag[0] = '\0';
		imap_bad(s, "Invalid literal size");
		return;
	}
	if (lit.size > literal_limit(s)) {
		int append;

		imap_parse_head(s->cmd.data, s->cmd.len, s->tag, name, &rest);
		if (strcmp(s->tag, "*") == 0)
			s->tag[0] = '\0';
		append = strcmp(name, "APPEND") == 0;
		log_info("imap", s->id, "event=literal-too-large size=%llu",
		    (unsigned long long)lit.size);
		if (!lit.sync) {
			/* The octets are on their way: no way to resync. */
			imap_reply(s, "* BYE [TOOBIG] Literal too large");
			imap_close(s);
			return;
		}
		if (append)
			imap_done(s, "NO [TOOBIG] Literal too large");
		else
			imap_bad(s, "Literal too large");
		return;
	}
	buf_set_max(&s->cmd, s->cmd.len + 2 + lit.size + IMAP_LINE_MAX);
	buf_append(&s->cmd, "\r\n", 2);
	s->literal_left = lit.size;
	if (lit.sync)
		imap_reply(s, "+ Ready for literal data");
}

/* Takes the next line from in into s->cmd. 1: a line was added at *off_r
 * (without its line end); 0: need more; -1: over-long line dropped. */
static int
take_line(struct imap_session *s, struct evbuffer *in, size_t *off_r)
{
	size_t eol_len, have = evbuffer_get_length(in);
	size_t room = s->cmd.len < s->cmd.max ? s->cmd.max - s->cmd.len : 0;
	struct evbuffer_ptr p;

	if (room > IMAP_LINE_MAX)
		room = IMAP_LINE_MAX;
	p = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
	if (p.pos < 0) {
		if (have >= room || s->discarding) {
			s->discarding = 1;
			evbuffer_drain(in, have);
		}
		return 0;
	}
	if (s->discarding || (size_t)p.pos >= room) {
		evbuffer_drain(in, (size_t)p.pos + eol_len);
		s->discarding = 0;
		return -1;
	}
	*off_r = s->cmd.len;
	if (buf_append(&s->cmd, "", 0) < 0)
		return -1;
	for (size_t n = (size_t)p.pos; n > 0;) {
		char chunk[4096];
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		evbuffer_remove(in, chunk, k);
		if (buf_append(&s->cmd, chunk, k) < 0)
			return -1;
		n -= k;
	}
	evbuffer_drain(in, eol_len);
	return 1;
}

static void
take_literal(struct imap_session *s, struct evbuffer *in)
{
	size_t have = evbuffer_get_length(in);
	size_t n = s->literal_left < have ? (size_t)s->literal_left : have;

	while (n > 0) {
		char chunk[16384];
		size_t k = n < sizeof(chunk) ? n : sizeof(chunk);

		evbuffer_remove(in, chunk, k);
		buf_append(&s->cmd, chunk, k);
		s->literal_left -= k;
		n -= k;
	}
}

static void
imap_on_read(struct conn *c)
{
	struct imap_session *s = c->ctx;
	struct evbuffer *in = conn_input(c);

	while (evbuffer_get_length(in) > 0) {
		size_t off;
		int r;

		if (s->wait == IMAP_WAIT_BUSY || s->wait == IMAP_WAIT_TLS ||
		    s->state == IMAP_STATE_LOGOUT || c->backpressure)
			return;
		if (s->literal_left > 0) {
			take_literal(s, in);
			if (s->literal_left > 0)
				return;
			continue;
		}
		r = take_line(s, in, &off);
		if (r == 0)
			return;
		if (r < 0) {
			buf_reset(&s->cmd);
			buf_set_max(&s->cmd, IMAP_LINE_MAX);
			imap_reply(s, "* BAD Line too long");
			client_error(s);
			continue;
		}
		if (s->wait == IMAP_WAIT_SASL || s->wait == IMAP_WAIT_IDLE) {
			char *line = s->cmd.data + off;
			size_t len = s->cmd.len - off;

			if (s->wait == IMAP_WAIT_SASL)
				imap_sasl_line(s, line, len);
			else
				imap_idle_line(s, line, len);
			continue;
		}
		command_line(s, off);
	}
}

static void
imap_on_tls(struct conn *c)
{
	struct imap_session *s = c->ctx;

	log_info("imap", c->id, "event=tls version=%s cipher=%s",
	    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
	if (s->wait == IMAP_WAIT_TLS)
		next_command(s);
}

static void
imap_on_timeout(struct conn *c)
{
	struct imap_session *s = c->ctx;

	log_info("imap", c->id, "event=timeout state=%s",
	    state_names[s->state]);
	imap_reply(s, "* BYE Autologout, idle for too long");
	imap_close(s);
}

static void
imap_on_shutdown(struct conn *c)
{
	struct imap_session *s = c->ctx;

	if (s->job_running || s->wait == IMAP_WAIT_BUSY) {
		s->close_after_job = 1;	/* finish the work, then go */
		return;
	}
	imap_reply(s, "* BYE Server shutting down");
	imap_close(s);
}

static void
session_free(struct imap_session *s)
{
	if (s->counted_ip)
		tally_give(per_ip, s->peer.a, sizeof(s->peer.a));
	if (s->counted_user)
		tally_give(imap_per_user, s->login, strlen(s->login));
	imap_free_ctx(s);
	imap_view_close(s);
	buf_release(&s->cmd, 1);
	buf_release(&s->out, 0);
	mem_wipe(s, sizeof(*s));
	free(s);
}

static void
imap_on_free(struct conn *c)
{
	struct imap_session *s = c->ctx;

	log_info("imap", c->id, "event=disconnect ip=%s user=\"%s\"",
	    c->peer_str, s->login);
	guard_srv_session_end(&c->peer, GUARD_IMAP, s->login[0] != '\0');
	s->c = NULL;
	/* Out of IDLE lists at once; the rest waits for a running job. */
	imap_view_unwatch(s);
	if (!s->job_running)
		session_free(s);
}

void
imap_session_orphan_done(struct imap_session *s)
{
	session_free(s);
}

static void
imap_on_drain(struct conn *c)
{
	struct imap_session *s = c->ctx;

	if (s->drain != NULL && !s->job_running)
		s->drain(s);
}

static const struct conn_ops imap_ops = {
	.on_read = imap_on_read,
	.on_tls = imap_on_tls,
	.on_timeout = imap_on_timeout,
	.on_free = imap_on_free,
	.on_shutdown = imap_on_shutdown,
	.on_drain = imap_on_drain,
};

void
imap_session_stop(void)
{
	imap_notify_stop();
	tally_free(&per_ip);
	tally_free(&imap_per_user);
}

static void
imap_peek(const struct sockaddr *sa)
{
	guard_srv_peek(sa, GUARD_IMAP);
}

static void
imap_accept(struct listener *l, int fd, const struct sockaddr *sa)
{
	struct imap_session *s;
	struct ipaddr ip;
	struct buf caps;

	if (per_ip == NULL) {
		per_ip = tally_new();
		imap_per_user = tally_new();
		imap_notify_init();
	}
	if (ipaddr_from_sockaddr(sa, &ip) < 0 ||
	    guard_srv_admit(fd, &ip, GUARD_IMAP) < 0)
		return;
	if (conn_count() >= settings_num(srv.set, SET_SERVER_MAX_CONNECTIONS)) {
		conn_refuse(fd, "imap", "* BYE [UNAVAILABLE] Too many "
		    "connections, try again later\r\n", "busy", &ip);
		return;
	}
	if (tally_take(per_ip, ip.a, sizeof(ip.a), (unsigned)settings_num(
	    srv.set, SET_IMAP_MAX_PER_IP)) == 0) {
		conn_refuse(fd, "imap", "* BYE [UNAVAILABLE] Too many "
		    "connections from your address\r\n", "max-per-ip", &ip);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->l = l;
	s->peer = ip;
	s->counted_ip = 1;
	buf_init(&s->cmd, IMAP_LINE_MAX);
	buf_init(&s->out, (size_t)-1 / 2);
	s->c = conn_new(fd, sa, l->implicit_tls, &imap_ops, s);
	if (s->c == NULL) {
		session_free(s);
		return;
	}
	s->id = s->c->id;
	log_info("imap", s->id, "event=connect listener=%s ip=%s port=%u",
	    l->name, s->c->peer_str, s->c->peer_port);
	s->state = IMAP_STATE_NOT_AUTH;
	s->wait = IMAP_WAIT_COMMAND;
	conn_set_timeout(s->c, (unsigned)settings_num(srv.set,
	    SET_IMAP_LOGIN_TIMEOUT));
	buf_init(&caps, 1024);
	imap_capabilities(s, &caps);
	imap_reply(s, "* OK [CAPABILITY %s] Mailwarden IMAP server ready",
	    caps.data);
	buf_release(&caps, 0);
}
