/* SMTP AUTH (RFC 4954) with PLAIN and LOGIN.
 * SECURITY: handles passwords: decoded into buffers that are wiped, never
 * logged; only the username as sent reaches the conversation log. */
#include <string.h>

#include "core/auth.h"
#include "core/log.h"
#include "core/sasl.h"
#include "core/server.h"
#include "core/util.h"
#include "smtp/smtp_internal.h"

int
smtp_auth_offered(const struct smtp_session *s)
{
	return settings_num(srv.set, s->conf->set_auth) &&
	    (s->c->ssl != NULL || settings_num(srv.set, SET_AUTH_PLAINTEXT));
}

static void
smtp_auth_done(struct conn *c, int ok, const char *username)
{
	struct smtp_session *s = c->ctx;

	if (ok) {
		str_copy(s->auth_user, sizeof(s->auth_user), username);
		smtp_reply(s, "235 2.7.0 Authentication successful");
	} else {
		smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
		s->nerrors++;
	}
	smtp_resume(s, SMTP_STATE_HELO);
}

static void
smtp_auth_start_check(struct smtp_session *s, const char *user,
    const char *pass)
{
	char esc[ACCOUNT_ADDR_MAX * 4 + 8];

	log_escape(esc, sizeof(esc), user, strlen(user));
	LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", s->c->id,
	    "event=auth user=\"%s\"", esc);
	s->sasl_mech = SMTP_SASL_NONE;
	smtp_enter_state(s, SMTP_STATE_BUSY);
	conn_pause(s->c);
	auth_check(s->c, GUARD_SMTP, user, pass, smtp_auth_done);
}

static void
smtp_auth_bad_response(struct smtp_session *s)
{
	s->sasl_mech = SMTP_SASL_NONE;
	smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, "501 5.5.2 Cannot decode response");
	smtp_client_error(s);
}

/* A response to PLAIN (initial or after "334 "). */
static void
smtp_auth_plain(struct smtp_session *s, const char *response)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];

	if (sasl_plain_decode(response, user, sizeof(user), pass,
	    sizeof(pass)) < 0) {
		smtp_auth_bad_response(s);
		return;
	}
	smtp_auth_start_check(s, user, pass);
	mem_wipe(pass, sizeof(pass));
}

void
smtp_auth_line(struct smtp_session *s, const char *line)
{
	char pass[SASL_FIELD_MAX];

	LOG_AT(LOG_FILE_SMTP, LOG_INFO, "smtp", s->c->id,
	    "event=in line=\"<response hidden>\"");
	if (strcmp(line, "*") == 0) {
		s->sasl_mech = SMTP_SASL_NONE;
		smtp_enter_state(s, SMTP_STATE_HELO);
		smtp_reply(s, "501 5.7.0 Authentication cancelled");
		return;
	}
	if (s->sasl_mech == SMTP_SASL_PLAIN) {
		smtp_auth_plain(s, line);
		return;
	}
	if (s->sasl_user[0] == '\0') {
		if (sasl_b64_decode(line, s->sasl_user,
		    sizeof(s->sasl_user)) <= 0 ||
		    strlen(s->sasl_user) == 0) {
			s->sasl_user[0] = '\0';
			smtp_auth_bad_response(s);
			return;
		}
		smtp_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	}
	if (sasl_b64_decode(line, pass, sizeof(pass)) < 0) {
		s->sasl_user[0] = '\0';
		smtp_auth_bad_response(s);
		return;
	}
	smtp_auth_start_check(s, s->sasl_user, pass);
	s->sasl_user[0] = '\0';
	mem_wipe(pass, sizeof(pass));
}

void
smtp_cmd_auth(struct smtp_session *s, const char *args)
{
	char mech[32];
	const char *sp = strchr(args, ' ');
	size_t n = sp ? (size_t)(sp - args) : strlen(args);
	const char *initial = sp ? sp + 1 : NULL;

	if (s->auth_user[0] != '\0') {
		smtp_reply(s, "503 5.5.1 Already authenticated");
		smtp_client_error(s);
		return;
	}
	if (s->c->ssl == NULL && !settings_num(srv.set, SET_AUTH_PLAINTEXT)) {
		smtp_reply(s, "538 5.7.11 Encryption required for requested "
		    "authentication mechanism");
		smtp_client_error(s);
		return;
	}
	if (n == 0 || n >= sizeof(mech)) {
		smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism");
		smtp_client_error(s);
		return;
	}
	memcpy(mech, args, n);
	mech[n] = '\0';
	s->sasl_user[0] = '\0';
	smtp_enter_state(s, SMTP_STATE_AUTH);
	if (strcasecmp(mech, "PLAIN") == 0) {
		s->sasl_mech = SMTP_SASL_PLAIN;
		if (initial != NULL)
			smtp_auth_plain(s, initial);
		else
			smtp_reply(s, "334 ");
		return;
	}
	if (strcasecmp(mech, "LOGIN") == 0) {
		s->sasl_mech = SMTP_SASL_LOGIN;
		if (initial != NULL) {
			smtp_auth_line(s, initial);
			return;
		}
		smtp_reply(s, "334 VXNlcm5hbWU6");	/* "Username:" */
		return;
	}
	smtp_enter_state(s, SMTP_STATE_HELO);
	smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
	smtp_client_error(s);
}
