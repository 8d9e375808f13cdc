/* LOGIN (RFC 3501 6.2.3) and what every login does once the password
 * check is back: the guard's verdict, the per-user session limit, the
 * user's folders on first login.
 * SECURITY: the password is wiped after the check starts and never
 * logged; a failure says the same whatever the reason. */
#include <string.h>

#include "core/auth.h"
#include "core/log.h"
#include "core/server.h"
#include "core/tally.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_login.h"
#include "imap/imap_mbox.h"

int
imap_login_refused(struct imap_session *s)
{
	if (s->c->ssl != NULL || settings_num(srv.set, SET_AUTH_PLAINTEXT))
		return 0;
	imap_done(s, "NO [PRIVACYREQUIRED] Plaintext authentication "
	    "disallowed, use STARTTLS first");
	return 1;
}

static void
folders_work(struct imap_session *s)
{
	if (imap_mbox_first_login(s->home) < 0)
		log_warn("imap", s->id, "event=first-login-failed user=\"%s\"",
		    s->login);
}

static void
folders_done(struct imap_session *s)
{
	struct buf caps;

	imap_enter_state(s, IMAP_STATE_AUTH);
	conn_set_timeout(s->c, (unsigned)settings_num(srv.set,
	    SET_IMAP_TIMEOUT));
	buf_init(&caps, 1024);
	imap_capabilities(s, &caps);
	imap_done(s, "OK [CAPABILITY %s] Logged in", caps.data);
	buf_release(&caps, 0);
}

static void
auth_done(struct conn *c, int ok, const char *username)
{
	struct imap_session *s = c->ctx;

	if (!ok) {
		s->nerrors++;
		imap_done(s, "NO [AUTHENTICATIONFAILED] Authentication failed");
		return;
	}
	/* Only someone who knows the password learns of the limit. */
	if (tally_take(imap_per_user, username, strlen(username),
	    (unsigned)settings_num(srv.set, SET_IMAP_MAX_PER_USER)) == 0) {
		log_info("imap", s->id, "event=max-per-user user=\"%s\"",
		    username);
		imap_done(s, "NO [LIMIT] Too many sessions for this user");
		return;
	}
	str_copy(s->login, sizeof(s->login), username);
	s->counted_user = 1;
	if (account_maildir(s->login, s->home, sizeof(s->home)) < 0) {
		imap_done(s, "NO [UNAVAILABLE] No mailbox for this account");
		return;
	}
	s->quota = account_user_quota(srv.db, s->login);
	log_info("imap", s->id, "event=login user=\"%s\" ip=%s", s->login,
	    c->peer_str);
	imap_job(s, folders_work, folders_done);
}

void
imap_login_start(struct imap_session *s, const char *user, const char *pass)
{
	s->wait = IMAP_WAIT_BUSY;
	conn_pause(s->c);
	auth_check(s->c, GUARD_IMAP, user, pass, auth_done);
}

IMAP_CMD(login)
{
	char user[ACCOUNT_ADDR_MAX + 1], pass[1024];
	int ok;

	if (imap_login_refused(s))
		return;
	ok = imap_args_astring(a, user, sizeof(user)) == 0 &&
	    imap_args_astring(a, pass, sizeof(pass)) == 0 && imap_args_done(a);
	if (!ok) {
		mem_wipe(pass, sizeof(pass));
		imap_bad(s, "Syntax: LOGIN user password");
		return;
	}
	imap_login_start(s, user, pass);
	mem_wipe(pass, sizeof(pass));
}
