/* Allocation wrappers, fatal errors, assertions and small string helpers. */
#ifndef MW_CORE_UTIL_H
#define MW_CORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Allocation never fails: on exhaustion these log and abort. */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string owned by the caller. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* For startup and configuration errors only: print and exit(1). */
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

void mw_assert_fail(const char *expr, const char *file, int line)
	__attribute__((noreturn));
#define MW_ASSERT(e) \
	((e) ? (void)0 : mw_assert_fail(#e, __FILE__, __LINE__))

/* Copies src into dst of size dstsize; returns -1 if it did not fit. */
int str_copy(char *dst, size_t dstsize, const char *src);
/* snprintf that returns -1 on truncation or error, else the length. */
int str_printf(char *dst, size_t dstsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Lowercases ASCII letters in place. */
void str_lower(char *s);
/* Parses a whole decimal string within [min, max]; -1 on any error. */
int str_to_u64(const char *s, uint64_t min, uint64_t max, uint64_t *value_r);
/* Constant-time comparison of two byte strings of length n. */
int mem_equal_ct(const void *a, const void *b, size_t n);
/* Wipes memory in a way the compiler does not remove. */
void mem_wipe(void *p, size_t n);

/* Mixes the bits of x (a 64-bit finaliser): for keyed hashes of
 * addresses and names, seeded by the caller. */
static inline uint64_t
hash_mix64(uint64_t x)
{
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ULL;
	return x ^ (x >> 32);
}

/* 64 random bits from the kernel (session and queue ids). */
uint64_t random_u64(void);
/* Milliseconds on the monotonic clock. */
uint64_t now_ms(void);

#endif
