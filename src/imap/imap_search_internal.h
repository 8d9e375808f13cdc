/* Shared between imap_search_parse.c (compiling a program) and
 * imap_search_match.c (running it): the program's nodes and the scratch
 * state matching keeps. Not for other modules. */
#ifndef MW_IMAP_IMAP_SEARCH_INTERNAL_H
#define MW_IMAP_IMAP_SEARCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "imap/imap_search.h"

enum search_op {
	SEARCH_ALL,
	SEARCH_NONE,
	SEARCH_AND,		/* every kid */
	SEARCH_OR,		/* any kid */
	SEARCH_NOT,		/* not the one kid */
	SEARCH_FLAGS,		/* flags & mask == want, and keywords */
	SEARCH_SEQ,		/* seq in ranges */
	SEARCH_UID,		/* uid in ranges */
	SEARCH_LARGER,		/* size > num */
	SEARCH_SMALLER,		/* size < num */
	SEARCH_BEFORE,		/* internal date's UTC day < day */
	SEARCH_ON,
	SEARCH_SINCE,		/* >= */
	SEARCH_SENTBEFORE,	/* Date: header's own day < day */
	SEARCH_SENTON,
	SEARCH_SENTSINCE,
	SEARCH_HEADER,		/* a field called field contains str */
	SEARCH_BODY,		/* the text parts contain str */
	SEARCH_TEXT,		/* a header field or the body has str */
};

/* Evaluation order inside AND and OR lists: cheapest first. */
enum {
	SEARCH_COST_META = 0,
	SEARCH_COST_DATE = 1,
	SEARCH_COST_HEADER = 2,
	SEARCH_COST_BODY = 3,
};

struct search_node {
	enum search_op op;
	int cost;
	int needs;			/* IMAP_SEARCH_NEED_* under it */
	struct search_node *kids;	/* AND, OR, NOT */
	struct search_node *next;	/* sibling */
	struct search_node *all_next;	/* every node, for freeing */
	unsigned mask, want;		/* FLAGS */
	uint32_t kw_mask, kw_want;
	uint64_t num;			/* LARGER, SMALLER */
	int64_t day;			/* dates: days since 1970-01-01 */
	struct imap_range *ranges;	/* SEQ, UID: sorted, disjoint */
	size_t n_ranges;
	char *field;			/* HEADER: field name */
	char *str;			/* folded needle, NUL-terminated */
	size_t len;
};

#define SEARCH_ICONV_CACHE 4

struct search_iconv {
	char name[48];			/* "" = unused slot */
	void *cd;			/* iconv_t; (iconv_t)-1 if it failed */
};

/* Buffers reused from message to message, and converters. */
struct search_scratch {
	struct buf unfold, dec, raw, text, body;
	struct search_iconv iconv[SEARCH_ICONV_CACHE];
	unsigned iconv_next;		/* slot to replace next */
};

struct imap_search {
	struct search_node *root;
	struct search_node *all;	/* every node */
	size_t n_nodes;
	struct search_scratch *scratch;
};

/* Folds the case of UTF-8 text in place (ASCII, Latin-1 supplement,
 * Latin Extended-A, Greek, Cyrillic); the length never changes. */
void imap_search_fold(char *s, size_t len);
/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
int64_t imap_search_days(int y, int m, int d);
/* The month (1-12) that s[0..3) names ("Jan", any case), or 0. */
int imap_search_month(const char *s);
/* Days in month m (1-12) of year y. */
int imap_search_month_days(int y, int m);
/* A new, empty scratch, and its freeing (converters closed). */
struct search_scratch *imap_search_scratch_new(void);
void imap_search_scratch_free(struct search_scratch *sc);

#endif
