/* Logins shared by LOGIN and AUTHENTICATE (imap_cmd_login.c). */
#ifndef MW_IMAP_IMAP_LOGIN_H
#define MW_IMAP_IMAP_LOGIN_H

struct imap_session;

/* 1 (and answers NO [PRIVACYREQUIRED]) when a password login needs TLS
 * first, else 0. */
int imap_login_refused(struct imap_session *s);
/* Checks user/password (copied; the caller wipes its own) through the
 * guard, then logs in or answers NO [AUTHENTICATIONFAILED]. */
void imap_login_start(struct imap_session *s, const char *user,
    const char *pass);

#endif
