/* IMAP mailbox names and the folders they stand for (Maildir++: INBOX
 * is the user's Maildir, folder "A.B" is HOME/.A.B). Name checks are
 * pure; everything that touches folders blocks (workers only).
 * SECURITY: a name that passes imap_mbox_check() cannot leave HOME: no
 * '/', no empty level, no control characters, no "..". */
#ifndef MW_IMAP_IMAP_MBOX_H
#define MW_IMAP_IMAP_MBOX_H

#include <stddef.h>
#include <stdint.h>

#define IMAP_MBOX_SEP '.'
#define IMAP_MBOX_SUBSCRIPTIONS "subscriptions"
#define IMAP_MBOX_MAX_FOLDERS 10000	/* listed per user at most */

/* 1 if name (NUL-terminated) is INBOX in any case. */
int imap_mbox_is_inbox(const char *name);
/* 0 if name is a valid mailbox name (modified UTF-7, RFC 3501 5.1.3;
 * rules in docs/imap.md), else -1. INBOX is valid. */
int imap_mbox_check(const char *name);
/* The Maildir of name under home into path: home itself for INBOX,
 * "home/.name" otherwise. -1 if name is invalid or path too small. */
int imap_mbox_path(const char *home, const char *name, char *path,
    size_t size);

/* SPECIAL-USE attribute of a folder name ("\\Sent"...), or NULL. */
const char *imap_mbox_special(const char *name);

/* The user's folders, INBOX first, then sorted by name. */
struct imap_mbox_list {
	char **names;
	size_t n;
};
int imap_mbox_list(const char *home, struct imap_mbox_list *list);
void imap_mbox_list_free(struct imap_mbox_list *list);
/* 1 if list has a folder below name (name + '.' + ...). */
int imap_mbox_has_children(const struct imap_mbox_list *list,
    const char *name);
/* 1 if a folder called name exists (INBOX always does). */
int imap_mbox_exists(const char *home, const char *name);

/* Creates the folder and any missing parents. -1 with errno (EEXIST). */
int imap_mbox_create(const char *home, const char *name);
/* Deletes the folder's messages and directory (children stay). */
int imap_mbox_delete(const char *home, const char *name);
/* Renames a folder and its children; errno EEXIST if to exists. */
int imap_mbox_rename(const char *home, const char *from, const char *to);

/* Subscriptions, one name per line in HOME/subscriptions. */
int imap_mbox_subscriptions(const char *home, struct imap_mbox_list *list);
int imap_mbox_subscribe(const char *home, const char *name, int on);

/* First login: creates Sent, Drafts, Trash and Junk and subscribes them
 * and INBOX, once per user (a marker file remembers it). */
int imap_mbox_first_login(const char *home);

/* Reads a mailbox name argument (an astring) into name (IMAP_FOLDER_MAX
 * + 1 octets). -1 on a syntax error; a name too long or holding NUL is
 * returned empty, so that imap_mbox_check() refuses it (NO, not BAD). */
struct imap_args;
int imap_mbox_arg(struct imap_args *a, char *name);

/* Appends name as an astring: an atom when it can be one, else quoted. */
struct buf;
void imap_mbox_write_name(struct buf *out, const char *name);

/* IMAP LIST pattern match: '*' matches anything, '%' anything but the
 * separator. */
int imap_mbox_match(const char *pattern, const char *name);

#endif
