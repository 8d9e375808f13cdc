/* The one bounded byte buffer. Callers never write the fields directly. */
#ifndef MW_CORE_BUF_H
#define MW_CORE_BUF_H

#include <stddef.h>

struct buf {
	char *data;	/* always NUL-terminated after the used bytes */
	size_t len;
	size_t cap;
	size_t max;	/* hard limit on len; appends past it fail */
};

/* Initialises an empty buffer that may grow up to max bytes. */
void buf_init(struct buf *b, size_t max);
/* Frees the storage (wiping it first if wipe is set) and empties b. */
void buf_release(struct buf *b, int wipe);
/* Empties b, keeping its storage. */
void buf_reset(struct buf *b);
/* Appends n bytes; returns -1 (and appends nothing) past the maximum. */
/* Drops everything after the first len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);
/* Changes the maximum; never below the current length. */
void buf_set_max(struct buf *b, size_t max);
/* Hands the storage (malloc'd, *len_r octets, NULL when empty) to the
 * caller and empties b. */
char *buf_steal(struct buf *b, size_t *len_r);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
