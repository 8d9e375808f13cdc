/* The IMAP command table: name, states where it is allowed, whether it
 * has a UID form, and the function that runs it. */
#include <string.h>

#include "imap/imap_internal.h"

static const struct imap_command commands[] = {
	{ "CAPABILITY", IMAP_ANY, 0, imap_cmd_capability },
	{ "NOOP", IMAP_ANY, 0, imap_cmd_noop },
	{ "LOGOUT", IMAP_ANY, 0, imap_cmd_logout },
	{ "ID", IMAP_ANY, 0, imap_cmd_id },
	{ "STARTTLS", IMAP_S(NOT_AUTH), 0, imap_cmd_starttls },
	{ "LOGIN", IMAP_S(NOT_AUTH), 0, imap_cmd_login },
	{ "AUTHENTICATE", IMAP_S(NOT_AUTH), 0, imap_cmd_authenticate },
	{ "NAMESPACE", IMAP_AUTHED, 0, imap_cmd_namespace },
	{ "ENABLE", IMAP_AUTHED, 0, imap_cmd_enable },
	{ "SELECT", IMAP_AUTHED, 0, imap_cmd_select },
	{ "EXAMINE", IMAP_AUTHED, 0, imap_cmd_select },
	{ "CREATE", IMAP_AUTHED, 0, imap_cmd_create },
	{ "DELETE", IMAP_AUTHED, 0, imap_cmd_delete },
	{ "RENAME", IMAP_AUTHED, 0, imap_cmd_rename },
	{ "SUBSCRIBE", IMAP_AUTHED, 0, imap_cmd_subscribe },
	{ "UNSUBSCRIBE", IMAP_AUTHED, 0, imap_cmd_subscribe },
	{ "LIST", IMAP_AUTHED, 0, imap_cmd_list },
	{ "LSUB", IMAP_AUTHED, 0, imap_cmd_list },
	{ "STATUS", IMAP_AUTHED, 0, imap_cmd_status },
	{ "APPEND", IMAP_AUTHED, 0, imap_cmd_append },
	{ "GETQUOTAROOT", IMAP_AUTHED, 0, imap_cmd_getquota },
	{ "GETQUOTA", IMAP_AUTHED, 0, imap_cmd_getquota },
	{ "IDLE", IMAP_AUTHED, 0, imap_cmd_idle },
	{ "CHECK", IMAP_S(SELECTED), 0, imap_cmd_noop },
	{ "CLOSE", IMAP_S(SELECTED), 0, imap_cmd_close },
	{ "UNSELECT", IMAP_S(SELECTED), 0, imap_cmd_close },
	{ "EXPUNGE", IMAP_S(SELECTED), 1, imap_cmd_expunge },
	{ "SEARCH", IMAP_S(SELECTED), 1, imap_cmd_search },
	{ "FETCH", IMAP_S(SELECTED), 1, imap_cmd_fetch },
	{ "STORE", IMAP_S(SELECTED), 1, imap_cmd_store },
	{ "COPY", IMAP_S(SELECTED), 1, imap_cmd_copy },
	{ "MOVE", IMAP_S(SELECTED), 1, imap_cmd_copy },
};

const struct imap_command *
imap_command_find(const char *name, int uid)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return !uid || commands[i].uid ? &commands[i] : NULL;
	return NULL;
}
