/* CLI: settings (config set|get|unset|list) and check.
 * SECURITY: values are validated against the settings table. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/settings.h"
#include "core/util.h"

/* What config list/get show: never a secret itself. */
static const char *
shown(const struct settings *s, int id)
{
	if (settings_table[id].type != SET_T_SECRET)
		return s->str[id];
	return s->str[id][0] != '\0' ? "(secret set)" : "";
}

static int
config_set_secret(struct cli *cli, const char *name)
{
	char value[1024];
	const char *err;
	int id = settings_find(name), rc;

	if (id < 0 || settings_table[id].type != SET_T_SECRET)
		return cli_error("%s is not a secret setting", name);
	if (cli_read_password(value, sizeof(value)) < 0)
		return cli_error("no secret on stdin (or too long)");
	rc = settings_set(cli->db, name, value, &err);
	mem_wipe(value, sizeof(value));
	return rc < 0 ? cli_error("%s", err) : 0;
}

static int
config_list(struct cli *cli, const struct settings *s)
{
	json_t *arr = json_array();

	for (int i = 0; i < SET_COUNT; i++) {
		const struct setting_def *d = &settings_table[i];

		if (cli->json) {
			json_array_append_new(arr, json_pack(
			    "{s:s, s:s, s:s, s:b, s:b, s:s}", "name", d->name,
			    "value", shown(s, i), "default", d->def,
			    "set", s->is_set[i], "reloadable", d->reloadable,
			    "why", d->why));
		} else {
			printf("%s = %s%s%s%s\n", d->name, shown(s, i),
			    s->is_set[i] ? "  (default: " : "",
			    s->is_set[i] ? (d->def[0] ? d->def : "\"\"") : "",
			    s->is_set[i] ? ")" : "");
		}
	}
	cli_put_json(cli, arr);
	return 0;
}

int
cli_config(struct cli *cli)
{
	const char *op = cli->argc > 0 ? cli->argv[0] : "";
	struct settings *s;
	const char *err;
	int id, rc = 0;

	if (strcmp(op, "set-secret") == 0 && cli->argc == 2)
		return config_set_secret(cli, cli->argv[1]);
	if (strcmp(op, "set") == 0 && cli->argc == 3) {
		id = settings_find(cli->argv[1]);
		if (id >= 0 && settings_table[id].type == SET_T_SECRET)
			return cli_error("%s is a secret: use config set-secret "
			    "%s (reads stdin)", cli->argv[1], cli->argv[1]);
		if (settings_set(cli->db, cli->argv[1], cli->argv[2], &err) < 0)
			return cli_error("%s", err);
		id = settings_find(cli->argv[1]);
		if (!settings_table[id].reloadable)
			fprintf(stderr, "mailwarden: note: %s takes effect when "
			    "the server restarts\n", cli->argv[1]);
		return 0;
	}
	if (strcmp(op, "unset") == 0 && cli->argc == 2)
		return settings_unset(cli->db, cli->argv[1], &err) < 0 ?
		    cli_error("%s", err) : 0;
	if ((strcmp(op, "get") == 0 && cli->argc == 2) ||
	    (strcmp(op, "list") == 0 && cli->argc == 1)) {
		s = settings_load(cli->db, &err);
		if (s == NULL)
			return cli_error("%s", err);
		if (op[0] == 'l') {
			rc = config_list(cli, s);
		} else if ((id = settings_find(cli->argv[1])) < 0) {
			rc = cli_error("unknown setting: %s", cli->argv[1]);
		} else if (cli->json) {
			json_t *o = json_pack("{s:s, s:s}", "name",
			    settings_table[id].name, "value", shown(s, id));

			json_dumpf(o, stdout, 0);
			putchar('\n');
			json_decref(o);
		} else {
			printf("%s\n", shown(s, id));
		}
		settings_free(&s);
		return rc;
	}
	return cli_error("usage: config set KEY VALUE | set-secret KEY | "
	    "get KEY | unset KEY | list [--json]");
}

int
cli_check(struct cli *cli)
{
	static const int listeners[][2] = {
		{ SET_SMTP_ENABLED, SET_SMTP_ADDRESS },
		{ SET_SUBMISSION_ENABLED, SET_SUBMISSION_ADDRESS },
		{ SET_SMTPS_ENABLED, SET_SMTPS_ADDRESS },
		{ SET_POP3_ENABLED, SET_POP3_ADDRESS },
		{ SET_POP3S_ENABLED, SET_POP3S_ADDRESS },
	};
	const size_t nl = sizeof(listeners) / sizeof(listeners[0]);
	const char *err;
	struct settings *s = settings_load(cli->db, &err);
	int bad = 0;

	if (s == NULL)
		return cli_error("%s", err);
	for (size_t i = 0; i < nl; i++)
		for (size_t j = i + 1; j < nl; j++)
			if (s->num[listeners[i][0]] && s->num[listeners[j][0]] &&
			    strcmp(s->str[listeners[i][1]],
			    s->str[listeners[j][1]]) == 0)
				bad = cli_error("%s and %s are the same address",
				    settings_table[listeners[i][1]].name,
				    settings_table[listeners[j][1]].name);
	if (s->str[SET_TLS_CERT][0] != '\0' &&
	    access(s->str[SET_TLS_CERT], R_OK) < 0)
		bad = cli_error("tls.cert: cannot read %s", s->str[SET_TLS_CERT]);
	if (s->str[SET_TLS_KEY][0] != '\0' &&
	    access(s->str[SET_TLS_KEY], R_OK) < 0)
		bad = cli_error("tls.key: cannot read %s", s->str[SET_TLS_KEY]);
	settings_free(&s);
	if (!bad)
		printf("settings ok\n");
	return bad;
}
