/* IMAP flag lists: writing them for FETCH, SELECT and STORE, parsing
 * them from STORE and APPEND.
 * SECURITY: parses client input through the bounded argument cursor;
 * keyword names are checked (atom characters, length) before they are
 * stored into the folder's keyword table. */
#include "imap/imap_flags.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "core/buf.h"
#include "imap/imap_parse.h"
#include "store/uidlist.h"

static const struct {
	const char *name;
	unsigned bit;
} sys_flags[] = {
	{ "\\Answered", UIDLIST_ANSWERED },
	{ "\\Flagged", UIDLIST_FLAGGED },
	{ "\\Deleted", UIDLIST_DELETED },
	{ "\\Seen", UIDLIST_SEEN },
	{ "\\Draft", UIDLIST_DRAFT },
	{ "\\Recent", IMAP_FLAG_RECENT },
};

#define N_SYS (sizeof(sys_flags) / sizeof(sys_flags[0]))

int
imap_flags_write(struct buf *out, unsigned flags, uint32_t kw,
    const char keywords[][65])
{
	int first = 1;

	if (buf_append(out, "(", 1) < 0)
		return -1;
	for (size_t i = 0; i < N_SYS; i++) {
		if ((flags & sys_flags[i].bit) == 0)
			continue;
		if ((!first && buf_append(out, " ", 1) < 0) ||
		    buf_append_str(out, sys_flags[i].name) < 0)
			return -1;
		first = 0;
	}
	for (unsigned k = 0; keywords != NULL && k < UIDLIST_KEYWORDS; k++) {
		if ((kw & (UINT32_C(1) << k)) == 0 || keywords[k][0] == '\0')
			continue;
		if ((!first && buf_append(out, " ", 1) < 0) ||
		    buf_append(out, keywords[k],
		    strnlen(keywords[k], UIDLIST_KEYWORD_MAX)) < 0)
			return -1;
		first = 0;
	}
	return buf_append(out, ")", 1);
}

/* RFC 3501 9: ATOM-CHAR, any CHAR but atom-specials. */
static int
atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
	    c != '%' && c != '*' && c != '"' && c != '\\' && c != ']';
}

/* imap_args_next(), except that it also reads "\" atom (a system flag),
 * which the generic cursor does not take for an atom. Follows the same
 * spacing rule: one space after any token but "(", none before ")". */
static enum imap_arg_type
next_flag(struct imap_args *a)
{
	const char *q = a->p, *s;

	if (a->error)
		return IMAP_ARG_ERROR;
	if (a->type != IMAP_ARG_END && a->type != IMAP_ARG_LIST_OPEN &&
	    q < a->end && *q != ')') {
		if (*q != ' ')
			return imap_args_next(a);	/* reports the error */
		q++;
	}
	if (q >= a->end || *q != '\\')
		return imap_args_next(a);
	s = q++;
	while (q < a->end && atom_char((unsigned char)*q))
		q++;
	a->p = q;
	a->val = s;
	a->len = (size_t)(q - s);
	a->literal = 0;
	return a->type = IMAP_ARG_ATOM;
}

struct flag_state {
	char (*keywords)[65];
	int add_new;
	unsigned flags;
	uint32_t kw;
	uint32_t added;		/* slots filled by this parse */
	const char *error;
};

/* One flag token (a->val, a->len): 0, -1 or -2 as imap_flags_parse(). */
static int
one_flag(struct flag_state *st, const struct imap_args *a)
{
	const char *v = a->val;
	size_t len = a->len;
	int free_slot = -1;

	if (len > 0 && v[0] == '\\') {
		for (size_t i = 0; i < N_SYS; i++) {
			if (strlen(sys_flags[i].name) != len ||
			    strncasecmp(sys_flags[i].name, v, len) != 0)
				continue;
			if (sys_flags[i].bit == IMAP_FLAG_RECENT) {
				st->error = "cannot set \\Recent";
				return -1;
			}
			st->flags |= sys_flags[i].bit;
			return 0;
		}
		st->error = "invalid system flag";
		return -1;
	}
	if (len == 0 || len > UIDLIST_KEYWORD_MAX) {
		st->error = len == 0 ? "invalid flag" : "keyword too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if (!atom_char((unsigned char)v[i])) {
			st->error = "invalid keyword";
			return -1;
		}
	}
	for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
		const char *name = st->keywords[k];

		if (name[0] == '\0') {
			if (free_slot < 0)
				free_slot = k;
			continue;
		}
		if (strnlen(name, UIDLIST_KEYWORD_MAX + 1) == len &&
		    strncasecmp(name, v, len) == 0) {
			st->kw |= UINT32_C(1) << k;
			return 0;
		}
	}
	if (!st->add_new) {
		st->error = "unknown keyword";
		return -1;
	}
	if (free_slot < 0) {
		st->error = "too many keywords";
		return -2;
	}
	memcpy(st->keywords[free_slot], v, len);
	st->keywords[free_slot][len] = '\0';
	st->added |= UINT32_C(1) << free_slot;
	st->kw |= UINT32_C(1) << free_slot;
	return 0;
}

int
imap_flags_parse(struct imap_args *a, int paren_only, char keywords[][65],
    int add_new, unsigned *flags_r, uint32_t *kw_r, int *added_r,
    const char **error_r)
{
	struct flag_state st = { keywords, add_new, 0, 0, 0, NULL };
	enum imap_arg_type t = next_flag(a);
	int paren = t == IMAP_ARG_LIST_OPEN, rc = -1, r;

	if (!paren && (paren_only || t != IMAP_ARG_ATOM)) {
		st.error = "flag list expected";
		goto out;
	}
	if (paren)
		t = next_flag(a);
	for (;;) {
		if (paren && t == IMAP_ARG_LIST_CLOSE)
			break;
		if (!paren && t == IMAP_ARG_END)
			break;
		if (t != IMAP_ARG_ATOM) {
			st.error = "invalid flag list";
			goto out;
		}
		if ((r = one_flag(&st, a)) < 0) {
			rc = r;
			goto out;
		}
		t = next_flag(a);
	}
	rc = 0;
out:
	if (rc < 0) {
		/* leave the folder's keyword table as it was */
		for (int k = 0; k < UIDLIST_KEYWORDS; k++) {
			if ((st.added & (UINT32_C(1) << k)) != 0)
				memset(keywords[k], 0, UIDLIST_KEYWORD_MAX + 1);
		}
		*error_r = st.error;
		return rc;
	}
	*flags_r = st.flags;
	*kw_r = st.kw;
	*added_r = st.added != 0;
	return 0;
}
