/* A tiny unit-test harness. A test is a function; CHECK records a
 * failure and carries on; main() runs the table and prints
 * "N passed, N failed". Exit 0 when all passed, 1 otherwise. */
#ifndef MW_TESTS_HARNESS_H
#define MW_TESTS_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failed;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, \
		    __LINE__, #cond); \
		harness_failed = 1; \
	} \
} while (0)

#define CHECK_STR(a, b) do { \
	const char *a_ = (a), *b_ = (b); \
	if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) { \
		fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__, \
		    __LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
		harness_failed = 1; \
	} \
} while (0)

/* A heap copy of n bytes plus a NUL, exactly that size, so that the
 * sanitizers catch any read past the end. The caller frees it. */
static inline char *
exact(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		abort();
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

struct harness_test {
	const char *name;
	void (*fn)(void);
};

#define TEST(fn) { #fn, fn }

static inline int
harness_run(const char *suite, const struct harness_test *tests, size_t n)
{
	int passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		harness_failed = 0;
		tests[i].fn();
		if (harness_failed) {
			printf("FAIL %s.%s\n", suite, tests[i].name);
			failed++;
		} else {
			printf("PASS %s.%s\n", suite, tests[i].name);
			passed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define HARNESS_MAIN(suite, table) \
	int main(void) \
	{ \
		return harness_run(suite, table, \
		    sizeof(table) / sizeof(table[0])); \
	}

#endif
