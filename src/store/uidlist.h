/* IMAP UIDs for a Maildir folder: a small list file (MAILDIR/
 * mailwarden-uidlist) maps each message's unique name to its UID and
 * keeps UIDVALIDITY, UIDNEXT and the keyword names. Maildir is the
 * truth: files added behind our back get new UIDs, files gone are
 * dropped, and a list that cannot be read is rebuilt with a new
 * UIDVALIDITY. Flags live in the file names (Maildir info "2,").
 * Everything here blocks: workers and CLI only. */
#ifndef MW_STORE_UIDLIST_H
#define MW_STORE_UIDLIST_H

#include <stddef.h>
#include <stdint.h>

#include "store/mailbox.h"

#define UIDLIST_FILE "mailwarden-uidlist"
#define UIDLIST_VALIDITY_FILE "mailwarden-uidvalidity"	/* the last one */
#define UIDLIST_KEYWORDS 26	/* Maildir keyword letters a..z */
#define UIDLIST_KEYWORD_MAX 64	/* octets in a keyword name */

/* System flags, from the Maildir info letters. */
enum {
	UIDLIST_SEEN = 1 << 0,		/* S */
	UIDLIST_ANSWERED = 1 << 1,	/* R */
	UIDLIST_FLAGGED = 1 << 2,	/* F */
	UIDLIST_DELETED = 1 << 3,	/* T */
	UIDLIST_DRAFT = 1 << 4,		/* D */
};

struct uidlist {
	uint32_t uidvalidity;
	uint32_t uidnext;
	struct mailbox_list box;	/* sorted by UID */
	uint32_t *uids;			/* per message in box */
	char keywords[UIDLIST_KEYWORDS][UIDLIST_KEYWORD_MAX + 1];
	int changed;			/* written back by the last sync */
};

/* Brings ul up to date with maildir (ul may be fresh, all zero, or from
 * an earlier sync): scans new/ and cur/, keeps known UIDs, numbers new
 * files in delivery order, and rewrites the list file when anything
 * changed. 0, or -1 with errno. Free with uidlist_free(). */
int uidlist_sync(const char *maildir, struct uidlist *ul);
void uidlist_free(struct uidlist *ul);

/* The system flags (UIDLIST_*) and keyword bits (1 << letter) of a
 * message from its file name. */
void uidlist_flags(const struct mailbox_list *box,
    const struct mailbox_msg *m, unsigned *flags_r, uint32_t *keywords_r);

/* The letter index of keyword name (case-insensitive) in maildir's list:
 * the one it has, or a free one it is given there. The list is re-read
 * under its lock so that other sessions' UIDs and keywords stay; the
 * keyword names in ul are updated. -1 with errno (ENOSPC: all letters
 * taken; ESTALE: the list is missing or damaged, sync first). */
int uidlist_keyword(const char *maildir, struct uidlist *ul,
    const char *name);

/* Index of the message with uid, or -1. Binary search. */
long uidlist_find(const struct uidlist *ul, uint32_t uid);

#endif
