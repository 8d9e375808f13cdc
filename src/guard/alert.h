/* Alert e-mails to the administrator (admin.email, else
 * postmaster@hostname), stored through the normal delivery path. At most
 * one e-mail per block; further blocks within alert.digest-minutes of an
 * alert are collected into one digest sent when the period ends. */
#ifndef MW_GUARD_ALERT_H
#define MW_GUARD_ALERT_H

#include "guard/guard.h"

void alert_init(void);
void alert_stop(void);
/* Once a second: sends a due digest. */
void alert_tick(void);
void alert_block(const struct guard_rule *r, const struct guard_block *b);
void alert_auth_volume(const struct guard_rule *r, const char *user);

#endif
