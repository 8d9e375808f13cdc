/* Reading messages of the selected mailbox (worker only: blocks). */
#ifndef MW_IMAP_IMAP_MSG_H
#define MW_IMAP_IMAP_MSG_H

#include <stddef.h>
#include <stdint.h>

struct imap_view;

#define IMAP_MSG_HEADER_MAX (1024 * 1024)	/* read for header-only needs */
#define IMAP_MSG_MAX ((size_t)1 << 30)		/* larger files are refused */

/* Reads message i of v into a new buffer (*data_r, malloc'd, *len_r
 * octets): all of it, or with header_only the header and its blank line
 * (or the first IMAP_MSG_HEADER_MAX octets). *date_r gets its internal
 * date (the file's mtime). 0, or -1 (errno ENOENT: the message is gone). */
int imap_msg_read(struct imap_view *v, size_t i, int header_only,
    char **data_r, size_t *len_r, int64_t *date_r);
/* The internal date of message i. 0, or -1 (ENOENT: gone). */
int imap_msg_date(struct imap_view *v, size_t i, int64_t *date_r);

#endif
