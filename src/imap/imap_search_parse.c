/* IMAP SEARCH: compiling the search keys (RFC 3501 6.4.4) into a tree of
 * nodes. Nested ANDs and ORs are flattened, constant keys folded away,
 * and the kids of every list ordered cheapest first, so metadata keys
 * decide before a header or body is looked at.
 * SECURITY: reads client input through the argument cursor, which
 * bounds every token by the command; recursion is bounded by
 * IMAP_SEARCH_DEPTH_MAX and the program by IMAP_SEARCH_NODES_MAX. */
#include "imap/imap_search.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "imap/imap_parse.h"
#include "imap/imap_search_internal.h"
#include "store/uidlist.h"

struct parser {
	struct imap_args *a;
	const char (*keywords)[65];
	uint32_t max_seq, max_uid;
	struct imap_search *s;
	const char *error;
};

enum arg_kind {
	ARG_NONE,
	ARG_STRING,
	ARG_HEADER,		/* field name, then string */
	ARG_DATE,
	ARG_NUMBER,
	ARG_SEQSET,
	ARG_KEYWORD,
	ARG_NOT,
	ARG_OR,
};

static const struct key {
	const char *name;
	enum search_op op;
	enum arg_kind arg;
	unsigned mask, want;	/* FLAGS; KEYWORD: want 1, UNKEYWORD 0 */
	const char *field;	/* header keys */
} keys[] = {
	{ "ALL", SEARCH_ALL, ARG_NONE, 0, 0, NULL },
	{ "ANSWERED", SEARCH_FLAGS, ARG_NONE, UIDLIST_ANSWERED,
	    UIDLIST_ANSWERED, NULL },
	{ "BCC", SEARCH_HEADER, ARG_STRING, 0, 0, "Bcc" },
	{ "BEFORE", SEARCH_BEFORE, ARG_DATE, 0, 0, NULL },
	{ "BODY", SEARCH_BODY, ARG_STRING, 0, 0, NULL },
	{ "CC", SEARCH_HEADER, ARG_STRING, 0, 0, "Cc" },
	{ "DELETED", SEARCH_FLAGS, ARG_NONE, UIDLIST_DELETED,
	    UIDLIST_DELETED, NULL },
	{ "DRAFT", SEARCH_FLAGS, ARG_NONE, UIDLIST_DRAFT, UIDLIST_DRAFT,
	    NULL },
	{ "FLAGGED", SEARCH_FLAGS, ARG_NONE, UIDLIST_FLAGGED,
	    UIDLIST_FLAGGED, NULL },
	{ "FROM", SEARCH_HEADER, ARG_STRING, 0, 0, "From" },
	{ "HEADER", SEARCH_HEADER, ARG_HEADER, 0, 0, NULL },
	{ "KEYWORD", SEARCH_FLAGS, ARG_KEYWORD, 0, 1, NULL },
	{ "LARGER", SEARCH_LARGER, ARG_NUMBER, 0, 0, NULL },
	{ "NEW", SEARCH_FLAGS, ARG_NONE, IMAP_SEARCH_RECENT | UIDLIST_SEEN,
	    IMAP_SEARCH_RECENT, NULL },
	{ "NOT", SEARCH_NOT, ARG_NOT, 0, 0, NULL },
	{ "OLD", SEARCH_FLAGS, ARG_NONE, IMAP_SEARCH_RECENT, 0, NULL },
	{ "ON", SEARCH_ON, ARG_DATE, 0, 0, NULL },
	{ "OR", SEARCH_OR, ARG_OR, 0, 0, NULL },
	{ "RECENT", SEARCH_FLAGS, ARG_NONE, IMAP_SEARCH_RECENT,
	    IMAP_SEARCH_RECENT, NULL },
	{ "SEEN", SEARCH_FLAGS, ARG_NONE, UIDLIST_SEEN, UIDLIST_SEEN, NULL },
	{ "SENTBEFORE", SEARCH_SENTBEFORE, ARG_DATE, 0, 0, NULL },
	{ "SENTON", SEARCH_SENTON, ARG_DATE, 0, 0, NULL },
	{ "SENTSINCE", SEARCH_SENTSINCE, ARG_DATE, 0, 0, NULL },
	{ "SINCE", SEARCH_SINCE, ARG_DATE, 0, 0, NULL },
	{ "SMALLER", SEARCH_SMALLER, ARG_NUMBER, 0, 0, NULL },
	{ "SUBJECT", SEARCH_HEADER, ARG_STRING, 0, 0, "Subject" },
	{ "TEXT", SEARCH_TEXT, ARG_STRING, 0, 0, NULL },
	{ "TO", SEARCH_HEADER, ARG_STRING, 0, 0, "To" },
	{ "UID", SEARCH_UID, ARG_SEQSET, 0, 0, NULL },
	{ "UNANSWERED", SEARCH_FLAGS, ARG_NONE, UIDLIST_ANSWERED, 0, NULL },
	{ "UNDELETED", SEARCH_FLAGS, ARG_NONE, UIDLIST_DELETED, 0, NULL },
	{ "UNDRAFT", SEARCH_FLAGS, ARG_NONE, UIDLIST_DRAFT, 0, NULL },
	{ "UNFLAGGED", SEARCH_FLAGS, ARG_NONE, UIDLIST_FLAGGED, 0, NULL },
	{ "UNKEYWORD", SEARCH_FLAGS, ARG_KEYWORD, 0, 0, NULL },
	{ "UNSEEN", SEARCH_FLAGS, ARG_NONE, UIDLIST_SEEN, 0, NULL },
};

/* System flags a KEYWORD argument may name (Dovecot accepts them). */
static const struct {
	const char *name;
	unsigned flag;
} system_flags[] = {
	{ "\\Answered", UIDLIST_ANSWERED }, { "\\Flagged", UIDLIST_FLAGGED },
	{ "\\Deleted", UIDLIST_DELETED }, { "\\Seen", UIDLIST_SEEN },
	{ "\\Draft", UIDLIST_DRAFT }, { "\\Recent", IMAP_SEARCH_RECENT },
};

static struct search_node *parse_key(struct parser *ps,
    enum imap_arg_type t, int depth);

static struct search_node *
fail(struct parser *ps, const char *error)
{
	if (ps->error == NULL)
		ps->error = error;
	return NULL;
}

/* Why the cursor stopped. */
static const char *
args_error(const struct imap_args *a)
{
	if (a->depth < 0 || (a->depth > 0 && a->p >= a->end))
		return "Unbalanced parentheses";
	if (a->depth > IMAP_DEPTH_MAX)
		return "Search program too complex";
	return "Invalid search arguments";
}

static struct search_node *
node_new(struct parser *ps, enum search_op op)
{
	struct search_node *n;

	if (ps->s->n_nodes >= IMAP_SEARCH_NODES_MAX)
		return fail(ps, "Search program too complex");
	n = xcalloc(1, sizeof(*n));
	n->op = op;
	n->all_next = ps->s->all;
	ps->s->all = n;
	ps->s->n_nodes++;
	return n;
}

static int
token_is(const struct imap_args *a, const char *name)
{
	return a->len == strlen(name) && strncasecmp(a->val, name, a->len) == 0;
}

/* --- lists -------------------------------------------------------- */

/* Appends kid to list (AND or OR), splicing in the kids of a list of
 * the same kind; tail_r tracks the end. */
static void
list_add(struct search_node *list, struct search_node ***tail_r,
    struct search_node *kid)
{
	if (kid->op == list->op) {
		**tail_r = kid->kids;
		while (**tail_r != NULL)
			*tail_r = &(**tail_r)->next;
		kid->kids = NULL;
		return;
	}
	kid->next = NULL;
	**tail_r = kid;
	*tail_r = &kid->next;
}

/* Folds constant kids, orders the rest cheapest first (stable), and
 * returns the list, its only kid, or a constant. */
static struct search_node *
list_finish(struct search_node *list)
{
	enum search_op unit = list->op == SEARCH_AND ? SEARCH_ALL : SEARCH_NONE;
	enum search_op zero = list->op == SEARCH_AND ? SEARCH_NONE : SEARCH_ALL;
	struct search_node *kid, *next, *sorted = NULL, **pp;

	for (kid = list->kids; kid != NULL; kid = next) {
		next = kid->next;
		if (kid->op == unit)
			continue;
		if (kid->op == zero) {
			list->op = zero;
			list->kids = NULL;
			list->needs = 0;
			list->cost = SEARCH_COST_META;
			return list;
		}
		pp = &sorted;
		while (*pp != NULL && (*pp)->cost <= kid->cost)
			pp = &(*pp)->next;
		kid->next = *pp;
		*pp = kid;
		list->needs |= kid->needs;
		if (kid->cost > list->cost)
			list->cost = kid->cost;
	}
	list->kids = sorted;
	if (sorted == NULL)
		list->op = unit;
	else if (sorted->next == NULL)
		return sorted;
	return list;
}

static struct search_node *
parse_list(struct parser *ps, int depth)
{
	struct search_node *list = node_new(ps, SEARCH_AND), *kid, **tail;
	enum imap_arg_type t;

	if (list == NULL)
		return NULL;
	tail = &list->kids;
	while ((t = imap_args_next(ps->a)) != IMAP_ARG_LIST_CLOSE) {
		if ((kid = parse_key(ps, t, depth + 1)) == NULL)
			return NULL;
		list_add(list, &tail, kid);
	}
	if (list->kids == NULL)
		return fail(ps, "Empty search key list");
	return list_finish(list);
}

/* --- arguments ---------------------------------------------------- */

/* The next token as a string argument (atom, quoted or literal). */
static int
next_string(struct parser *ps, const char **s_r, size_t *len_r)
{
	enum imap_arg_type t = imap_args_next(ps->a);

	if (t == IMAP_ARG_ERROR) {
		fail(ps, args_error(ps->a));
		return -1;
	}
	if (t != IMAP_ARG_ATOM && t != IMAP_ARG_STRING) {
		fail(ps, "Missing argument");
		return -1;
	}
	if (memchr(ps->a->val, '\0', ps->a->len) != NULL) {
		fail(ps, "NUL in search string");
		return -1;
	}
	*s_r = ps->a->val;
	*len_r = ps->a->len;
	return 0;
}

/* The next token, which must be an atom (a number, a set). */
static int
next_atom(struct parser *ps, const char *missing, const char *invalid)
{
	switch (imap_args_next(ps->a)) {
	case IMAP_ARG_ATOM:
		return 0;
	case IMAP_ARG_ERROR:
		fail(ps, args_error(ps->a));
		return -1;
	case IMAP_ARG_END:
	case IMAP_ARG_LIST_CLOSE:
		fail(ps, missing);
		return -1;
	default:
		fail(ps, invalid);
		return -1;
	}
}

static char *
copy_string(const char *s, size_t len)
{
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* d-Mon-yyyy (RFC 3501 date-text): days since 1970-01-01. */
static int
parse_date_key(const char *s, size_t len, int64_t *day_r)
{
	size_t i = 0;
	int d = 0, m, y = 0;

	while (i < len && i < 2 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (s[i++] - '0');
	if (i == 0 || len - i != 9 || s[i] != '-' || s[i + 4] != '-')
		return -1;
	if ((m = imap_search_month(s + i + 1)) == 0)
		return -1;
	for (i += 5; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		y = y * 10 + (s[i] - '0');
	}
	if (d < 1 || d > imap_search_month_days(y, m))
		return -1;
	*day_r = imap_search_days(y, m, d);
	return 0;
}

static int
parse_number(const char *s, size_t len, uint64_t *n_r)
{
	uint64_t n = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	*n_r = n;
	return 0;
}

static int
range_cmp(const void *x, const void *y)
{
	const struct imap_range *a = x, *b = y;

	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* A set into n's ranges, sorted and merged for a binary search. */
static int
parse_set(struct parser *ps, struct search_node *n, const char *s,
    size_t len, uint32_t max)
{
	struct imap_seqset set;
	size_t k = 0;

	if (imap_seqset_parse(s, len, max, &set) < 0) {
		fail(ps, "Invalid sequence set");
		return -1;
	}
	qsort(set.r, set.n, sizeof(*set.r), range_cmp);
	for (size_t i = 0; i < set.n; i++) {
		if (k > 0 && (set.r[k - 1].hi == UINT32_MAX ||
		    set.r[i].lo <= set.r[k - 1].hi + 1)) {
			if (set.r[i].hi > set.r[k - 1].hi)
				set.r[k - 1].hi = set.r[i].hi;
			continue;
		}
		set.r[k++] = set.r[i];
	}
	n->ranges = set.r;
	n->n_ranges = k;
	return 0;
}

/* KEYWORD / UNKEYWORD name: a keyword bit, a system flag, or a
 * constant when the folder has no such keyword. */
static struct search_node *
parse_keyword(struct parser *ps, struct search_node *n, int want)
{
	const char *s;
	size_t len;

	if (next_string(ps, &s, &len) < 0)
		return NULL;
	for (size_t i = 0; i < sizeof(system_flags) / sizeof(system_flags[0]);
	    i++) {
		if (len == strlen(system_flags[i].name) &&
		    strncasecmp(s, system_flags[i].name, len) == 0) {
			n->mask = system_flags[i].flag;
			n->want = want ? n->mask : 0;
			return n;
		}
	}
	for (unsigned i = 0; ps->keywords != NULL && i < UIDLIST_KEYWORDS;
	    i++) {
		const char *k = ps->keywords[i];

		if (k[0] != '\0' && strlen(k) == len &&
		    strncasecmp(k, s, len) == 0) {
			n->kw_mask = (uint32_t)1 << i;
			n->kw_want = want ? n->kw_mask : 0;
			return n;
		}
	}
	n->op = want ? SEARCH_NONE : SEARCH_ALL;
	return n;
}

/* The string of a string key, folded; BODY "" and TEXT "" match all. */
static struct search_node *
parse_string_key(struct parser *ps, struct search_node *n)
{
	const char *s;
	size_t len;

	if (next_string(ps, &s, &len) < 0)
		return NULL;
	n->str = copy_string(s, len);
	n->len = len;
	imap_search_fold(n->str, len);
	if (len == 0 && n->op != SEARCH_HEADER) {
		n->op = SEARCH_ALL;
		return n;
	}
	if (n->op == SEARCH_HEADER) {
		n->cost = SEARCH_COST_HEADER;
		n->needs = IMAP_SEARCH_NEED_HEADER;
	} else if (n->op == SEARCH_BODY) {
		n->cost = SEARCH_COST_BODY;
		n->needs = IMAP_SEARCH_NEED_BODY;
	} else {
		n->cost = SEARCH_COST_BODY;
		n->needs = IMAP_SEARCH_NEED_HEADER | IMAP_SEARCH_NEED_BODY;
	}
	return n;
}

static struct search_node *
parse_not(struct parser *ps, struct search_node *n, int depth)
{
	struct search_node *kid;

	kid = parse_key(ps, imap_args_next(ps->a), depth + 1);
	if (kid == NULL)
		return NULL;
	switch (kid->op) {
	case SEARCH_NOT:
		return kid->kids;
	case SEARCH_ALL:
		n->op = SEARCH_NONE;
		return n;
	case SEARCH_NONE:
		n->op = SEARCH_ALL;
		return n;
	default:
		n->kids = kid;
		n->cost = kid->cost;
		n->needs = kid->needs;
		return n;
	}
}

static struct search_node *
parse_or(struct parser *ps, struct search_node *n, int depth)
{
	struct search_node *kid, **tail = &n->kids;

	for (int i = 0; i < 2; i++) {
		kid = parse_key(ps, imap_args_next(ps->a), depth + 1);
		if (kid == NULL)
			return NULL;
		list_add(n, &tail, kid);
	}
	return list_finish(n);
}

/* One search key whose first token (of type t) has been read. */
static struct search_node *
parse_key(struct parser *ps, enum imap_arg_type t, int depth)
{
	struct imap_args *a = ps->a;
	const struct key *k = NULL;
	struct search_node *n;
	const char *s;
	size_t len;

	if (depth > IMAP_SEARCH_DEPTH_MAX)
		return fail(ps, "Search program too complex");
	switch (t) {
	case IMAP_ARG_LIST_OPEN:
		return parse_list(ps, depth);
	case IMAP_ARG_ATOM:
		break;
	case IMAP_ARG_ERROR:
		return fail(ps, args_error(a));
	case IMAP_ARG_END:
	case IMAP_ARG_LIST_CLOSE:
		return fail(ps, "Missing search key");
	default:
		return fail(ps, "Unknown search key");
	}
	if ((a->val[0] >= '0' && a->val[0] <= '9') || a->val[0] == '*') {
		if ((n = node_new(ps, SEARCH_SEQ)) == NULL ||
		    parse_set(ps, n, a->val, a->len, ps->max_seq) < 0)
			return NULL;
		return n;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (token_is(a, keys[i].name)) {
			k = &keys[i];
			break;
		}
	}
	if (k == NULL)
		return fail(ps, "Unknown search key");
	if ((n = node_new(ps, k->op)) == NULL)
		return NULL;
	n->mask = k->mask;
	n->want = k->want;
	switch (k->arg) {
	case ARG_NONE:
		return n;
	case ARG_NOT:
		return parse_not(ps, n, depth);
	case ARG_OR:
		return parse_or(ps, n, depth);
	case ARG_KEYWORD:
		n->want = 0;
		return parse_keyword(ps, n, (int)k->want);
	case ARG_STRING:
		if (k->field != NULL)
			n->field = copy_string(k->field, strlen(k->field));
		return parse_string_key(ps, n);
	case ARG_HEADER:
		if (next_string(ps, &s, &len) < 0)
			return NULL;
		n->field = copy_string(s, len);
		return parse_string_key(ps, n);
	case ARG_DATE:
		if (next_string(ps, &s, &len) < 0)
			return NULL;
		if (parse_date_key(s, len, &n->day) < 0)
			return fail(ps, "Invalid date");
		if (n->op == SEARCH_SENTBEFORE || n->op == SEARCH_SENTON ||
		    n->op == SEARCH_SENTSINCE) {
			n->cost = SEARCH_COST_DATE;
			n->needs = IMAP_SEARCH_NEED_HEADER;
		}
		return n;
	case ARG_NUMBER:
		if (next_atom(ps, "Missing number", "Invalid number") < 0)
			return NULL;
		if (parse_number(a->val, a->len, &n->num) < 0)
			return fail(ps, "Invalid number");
		return n;
	case ARG_SEQSET:
		if (next_atom(ps, "Missing UID set",
		    "Invalid sequence set") < 0 ||
		    parse_set(ps, n, a->val, a->len, ps->max_uid) < 0)
			return NULL;
		return n;
	}
	return fail(ps, "Unknown search key");
}

/* --- the program -------------------------------------------------- */

static int
charset_known(const char *s, size_t len)
{
	return (len == 5 && strncasecmp(s, "UTF-8", 5) == 0) ||
	    (len == 8 && strncasecmp(s, "US-ASCII", 8) == 0);
}

int
imap_search_parse(struct imap_args *a, const char keywords[][65],
    uint32_t max_seq, uint32_t max_uid, struct imap_search **s_r,
    const char **error_r)
{
	struct parser ps = { a, keywords, max_seq, max_uid, NULL, NULL };
	struct search_node *root, *kid, **tail;
	enum imap_arg_type t;
	int rc = -1;

	*s_r = NULL;
	ps.s = xcalloc(1, sizeof(*ps.s));
	t = imap_args_next(a);
	if (t == IMAP_ARG_ATOM && token_is(a, "CHARSET")) {
		t = imap_args_next(a);
		if (t != IMAP_ARG_ATOM && t != IMAP_ARG_STRING) {
			fail(&ps, t == IMAP_ARG_ERROR ? args_error(a) :
			    "Missing charset");
			goto out;
		}
		if (!charset_known(a->val, a->len)) {
			ps.error = "Unknown charset";
			rc = -2;
			goto out;
		}
		t = imap_args_next(a);
	}
	if ((root = node_new(&ps, SEARCH_AND)) == NULL)
		goto out;
	tail = &root->kids;
	do {
		if ((kid = parse_key(&ps, t, 1)) == NULL)
			goto out;
		list_add(root, &tail, kid);
	} while ((t = imap_args_next(a)) != IMAP_ARG_END);
	ps.s->root = list_finish(root);
	ps.s->scratch = imap_search_scratch_new();
	*s_r = ps.s;
	ps.s = NULL;
	rc = 0;
out:
	if (rc != 0) {
		*error_r = ps.error != NULL ? ps.error :
		    "Invalid search arguments";
		imap_search_free(&ps.s);
	}
	return rc;
}

int
imap_search_needs(const struct imap_search *s)
{
	return s->root->needs;
}

void
imap_search_free(struct imap_search **sp)
{
	struct imap_search *s = *sp;
	struct search_node *n, *next;

	if (s == NULL)
		return;
	for (n = s->all; n != NULL; n = next) {
		next = n->all_next;
		free(n->ranges);
		free(n->field);
		free(n->str);
		free(n);
	}
	if (s->scratch != NULL)
		imap_search_scratch_free(s->scratch);
	free(s);
	*sp = NULL;
}
