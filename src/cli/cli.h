/* The command-line interface: one binary, subcommands. Each subcommand
 * runs with the current directory set to DATA and the database open. */
#ifndef MW_CLI_CLI_H
#define MW_CLI_CLI_H

#include <sqlite3.h>

struct cli {
	const char *data_dir;	/* as given with -d */
	sqlite3 *db;
	int json;		/* --json given */
	int argc;		/* arguments after the subcommand name */
	char **argv;
};

/* Each returns the process exit status. */
int cli_domain(struct cli *cli);
int cli_user(struct cli *cli);
int cli_alias(struct cli *cli);
int cli_config(struct cli *cli);
int cli_check(struct cli *cli);
int cli_serve(struct cli *cli);
int cli_ban(struct cli *cli);
int cli_allow(struct cli *cli);
int cli_deny(struct cli *cli);
int cli_guard(struct cli *cli);
int cli_queue(struct cli *cli);

/* With --json, prints j indented; always drops the reference to j. */
struct json_t;
void cli_put_json(const struct cli *cli, struct json_t *j);
/* Prints "mailwarden: MESSAGE" on stderr; returns 1 (the exit status). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a password line from stdin (no echo on a terminal) into pw of
 * size pwsize; -1 if empty or too long. */
int cli_read_password(char *pw, size_t pwsize);

#endif
