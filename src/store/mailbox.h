/* A Maildir mailbox as a list of messages: what POP3 shows of INBOX and
 * what IMAP builds its index on. Maildir is the truth: the list is a
 * snapshot of new/ and cur/, and a file that moved (new/ to cur/, other
 * flags) or went is found again by its unique name.
 * All functions here touch the disk and block: workers and CLI only. */
#ifndef MW_STORE_MAILBOX_H
#define MW_STORE_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#define MAILBOX_MAX_MESSAGES 1000000	/* listed at most, oldest first */
#define MAILBOX_UID_MAX 70		/* RFC 1939 7: 1-70 characters */

struct mailbox_msg {
	uint64_t size;		/* octets on the wire, CRLF line ends */
	uint64_t order;		/* delivery time from the name, in us */
	uint32_t name_off;	/* file name: list->arena + name_off */
	uint16_t name_len;	/* of the whole name */
	uint16_t uniq_len;	/* of the unique part, before ":2," */
	uint8_t in_cur;		/* 1: cur/, 0: new/ */
	uint8_t seen;		/* has the S flag */
};

struct mailbox_list {
	struct mailbox_msg *msgs;	/* oldest first */
	size_t n;
	uint64_t total_size;
	char *arena;			/* the names, NUL-terminated */
	size_t arena_len, arena_cap;
};

/* Lists maildir's new/ and cur/ (a missing maildir is empty). Sizes come
 * from the name (",W=" or ",S="); only a file without either is read to
 * count its size. 0, or -1 with errno; the caller frees with
 * mailbox_list_free() in both cases. */
int mailbox_scan(const char *maildir, struct mailbox_list *list);
void mailbox_list_free(struct mailbox_list *list);

static inline const char *
mailbox_name(const struct mailbox_list *list, const struct mailbox_msg *m)
{
	return list->arena + m->name_off;
}

/* Copies name (len octets) into list's arena; returns its offset for
 * mailbox_msg.name_off. */
uint32_t mailbox_list_add_name(struct mailbox_list *list, const char *name,
    size_t len);

/* The message's stable unique id (POP3 UIDL) into uid
 * (MAILBOX_UID_MAX + 1): its unique name when that is 1-70 printable
 * characters, else a hash of it. */
void mailbox_uid(const struct mailbox_list *list,
    const struct mailbox_msg *m, char *uid);

/* Opens m for reading. If it is not where the list says, looks it up by
 * its unique name in new/ and cur/ and updates m (the name is then
 * added to list's arena). Returns an fd, or -1 (errno ENOENT: the
 * message is gone). */
int mailbox_open(const char *maildir, struct mailbox_list *list,
    struct mailbox_msg *m);

/* Reads m whole into a new buffer (*data_r, malloc'd; *len_r octets)
 * only if that cannot wait for the disk: the path must be in the kernel's
 * lookup cache and the data in the page cache, and the file at most max
 * octets. The one function here that is safe on the event loop. 0, or -1
 * (EAGAIN: not cached or too large; use mailbox_open() on a worker). */
int mailbox_read_cached(const char *maildir, const struct mailbox_list *list,
    const struct mailbox_msg *m, size_t max, char **data_r, size_t *len_r);

/* What mailbox_update() does to one message. */
enum { MAILBOX_KEEP, MAILBOX_DELETE, MAILBOX_MARK_SEEN };

/* Applies actions[i] to list->msgs[i]: deletes, or moves into cur/ with
 * the S flag added; then syncs new/ and cur/. A message already gone
 * counts as deleted. Returns the number of actions that failed. */
size_t mailbox_update(const char *maildir, struct mailbox_list *list,
    const uint8_t *actions);

/* The path of m as the list knows it ("MAILDIR/cur/NAME"). 0 or -1. */
int mailbox_path(const char *maildir, const struct mailbox_list *list,
    const struct mailbox_msg *m, char *path, size_t size);

/* Gives m the Maildir info flags info (the letters after ":2,", in ASCII
 * order) by renaming it into cur/, looking it up by its unique name if
 * it moved; m is updated. The directory is not synced: a rename lost in
 * a crash loses a flag change, never a message. 0, or -1 (ENOENT: gone). */
int mailbox_set_info(const char *maildir, struct mailbox_list *list,
    struct mailbox_msg *m, const char *info);
/* Unlinks m, looking it up if it moved; 0 also when it was gone. The
 * caller syncs the directories. */
int mailbox_remove(const char *maildir, struct mailbox_list *list,
    struct mailbox_msg *m);

/* Wire size of a file: its length plus one CR for every bare LF, plus
 * CRLF if it does not end with a line end. -1 on error. */
int mailbox_wire_size(int fd, uint64_t *size_r);

#endif
