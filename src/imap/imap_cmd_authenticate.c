/* AUTHENTICATE PLAIN (RFC 3501 6.2.2, SASL-IR RFC 4959). */
#include <strings.h>

#include "core/sasl.h"
#include "core/util.h"
#include "imap/imap_internal.h"
#include "imap/imap_login.h"

static void
plain(struct imap_session *s, const char *response)
{
	char user[SASL_FIELD_MAX], pass[SASL_FIELD_MAX];

	if (sasl_plain_decode(response, user, sizeof(user), pass,
	    sizeof(pass)) < 0) {
		imap_bad(s, "Cannot decode the response");
		return;
	}
	imap_login_start(s, user, pass);
	mem_wipe(pass, sizeof(pass));
}

IMAP_CMD(authenticate)
{
	char mech[32], ir[4096];
	enum imap_arg_type t;

	if (imap_args_next(a) != IMAP_ARG_ATOM || a->len >= sizeof(mech)) {
		imap_bad(s, "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	memcpy(mech, a->val, a->len);
	mech[a->len] = '\0';
	if (strcasecmp(mech, "PLAIN") != 0) {
		imap_done(s, "NO Unsupported authentication mechanism");
		return;
	}
	if (imap_login_refused(s))
		return;
	t = imap_args_next(a);
	if (t == IMAP_ARG_END) {
		s->wait = IMAP_WAIT_SASL;
		imap_reply(s, "+ ");
		conn_resume(s->c);
		return;
	}
	if (t != IMAP_ARG_ATOM || a->len >= sizeof(ir) || !imap_args_done(a)) {
		imap_bad(s, "Syntax: AUTHENTICATE mechanism [initial-response]");
		return;
	}
	memcpy(ir, a->val, a->len);
	ir[a->len] = '\0';
	/* RFC 4959: "=" is an empty initial response. */
	plain(s, ir[0] == '=' && ir[1] == '\0' ? "" : ir);
	mem_wipe(ir, sizeof(ir));
}

void
imap_sasl_line(struct imap_session *s, char *line, size_t len)
{
	char resp[4096];

	if (len == 1 && line[0] == '*') {
		imap_bad(s, "Authentication cancelled");
		return;
	}
	if (len >= sizeof(resp)) {
		imap_bad(s, "Response too long");
		return;
	}
	memcpy(resp, line, len);
	resp[len] = '\0';
	mem_wipe(line, len);
	plain(s, resp);
	mem_wipe(resp, sizeof(resp));
}
