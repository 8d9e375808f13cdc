/* LIST and LSUB (RFC 3501 6.3.8, 6.3.9) with CHILDREN (RFC 3348) and
 * SPECIAL-USE (RFC 6154) attributes. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_mbox.h"

struct list_ctx {
	char pattern[4 * IMAP_FOLDER_MAX + 1];
	int lsub;
};

/* pattern matches name; "INBOX" matches in any case. */
static int
matches(const char *pattern, const char *name)
{
	char p[sizeof(((struct list_ctx *)0)->pattern)];

	if (imap_mbox_match(pattern, name))
		return 1;
	if (strcmp(name, "INBOX") != 0 || str_copy(p, sizeof(p), pattern) < 0)
		return 0;
	for (size_t i = 0; i < 5 && p[i] != '\0'; i++)
		p[i] = (char)toupper((unsigned char)p[i]);
	return imap_mbox_match(p, name);
}

static void
write_entry(struct imap_session *s, struct list_ctx *x, const char *name,
    int noselect, int children)
{
	const char *special = imap_mbox_special(name);

	buf_printf(&s->out, "* %s (", x->lsub ? "LSUB" : "LIST");
	if (noselect)
		buf_append_str(&s->out, "\\Noselect ");
	buf_append_str(&s->out, children ? "\\HasChildren" :
	    "\\HasNoChildren");
	if (special != NULL && !x->lsub)
		buf_printf(&s->out, " %s", special);
	buf_append_str(&s->out, ") \".\" ");
	imap_mbox_write_name(&s->out, name);
	buf_append_str(&s->out, "\r\n");
}

/* 1 if name is in l. */
static int
listed(const struct imap_mbox_list *l, const char *name, size_t len)
{
	for (size_t i = 0; i < l->n; i++)
		if (strncmp(l->names[i], name, len) == 0 &&
		    l->names[i][len] == '\0')
			return 1;
	return 0;
}

static void
list_work(struct imap_session *s)
{
	struct list_ctx *x = s->ctx;
	struct imap_mbox_list l, subs = { 0 };
	char parent[IMAP_FOLDER_MAX + 1];

	if (imap_mbox_list(s->home, &l) < 0)
		return;
	if (x->lsub) {
		if (imap_mbox_subscriptions(s->home, &subs) == 0)
			for (size_t i = 0; i < subs.n; i++)
				if (matches(x->pattern, subs.names[i]))
					write_entry(s, x, subs.names[i],
					    !listed(&l, subs.names[i],
					    strlen(subs.names[i])),
					    imap_mbox_has_children(&l,
					    subs.names[i]));
		imap_mbox_list_free(&subs);
		imap_mbox_list_free(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		const char *name = l.names[i];

		/* Parents that are not folders themselves, once each. */
		for (const char *p = strchr(name, IMAP_MBOX_SEP); p != NULL;
		    p = strchr(p + 1, IMAP_MBOX_SEP)) {
			size_t len = (size_t)(p - name);
			int seen = listed(&l, name, len);

			for (size_t j = 0; j < i && !seen; j++)
				seen = strncmp(l.names[j], name, len + 1) == 0;
			if (seen || str_printf(parent, sizeof(parent), "%.*s",
			    (int)len, name) < 0)
				continue;
			if (matches(x->pattern, parent))
				write_entry(s, x, parent, 1, 1);
		}
		if (matches(x->pattern, name))
			write_entry(s, x, name, 0,
			    imap_mbox_has_children(&l, name));
	}
	imap_mbox_list_free(&l);
}

IMAP_CMD(list)
{
	struct list_ctx *x = xcalloc(1, sizeof(*x));
	char ref[IMAP_FOLDER_MAX + 1], pat[2 * IMAP_FOLDER_MAX + 1];

	imap_set_ctx(s, x, free);
	x->lsub = s->name[1] == 'S';
	if (imap_args_astring(a, ref, sizeof(ref)) < 0 ||
	    imap_args_astring(a, pat, sizeof(pat)) < 0 || !imap_args_done(a)) {
		imap_bad(s, x->lsub ? "Syntax: LSUB reference pattern" :
		    "Syntax: LIST reference pattern");
		return;
	}
	if (pat[0] == '\0' && !x->lsub) {
		/* RFC 3501 6.3.8: the hierarchy delimiter and root. */
		imap_reply(s, "* LIST (\\Noselect) \".\" \"\"");
		imap_done(s, "OK List completed");
		return;
	}
	if (str_printf(x->pattern, sizeof(x->pattern), "%s%s", ref, pat) < 0) {
		imap_bad(s, "Pattern too long");
		return;
	}
	imap_job_sync(s, list_work, NULL);
}
