/* mailwarden: entry point and subcommand dispatch.
 * SECURITY: run by administrators, often as root; opens DATA and, when
 * DATA belongs to another user, becomes that user first. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/db.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/privdrop.h"
#include "core/util.h"

#define DEFAULT_DATA "/var/lib/mailwarden"

static const struct {
	const char *name;
	int (*run)(struct cli *cli);
	const char *usage;
} subcommands[] = {
	{ "serve", cli_serve, "serve                        run the server" },
	{ "domain", cli_domain, "domain add|del|list [NAME]" },
	{ "user", cli_user, "user add|del|passwd|list [ADDRESS]  "
	    "(password on stdin)" },
	{ "alias", cli_alias, "alias add|del|list [ALIAS [TARGET]]" },
	{ "config", cli_config, "config set|get|unset|list [KEY [VALUE]] | "
	    "set-secret KEY  (secret on stdin)" },
	{ "check", cli_check, "check                        validate settings" },
	{ "ban", cli_ban, "ban add IP|CIDR [--minutes N] [--logins-only] "
	    "[--reason TEXT] | ban del IP|CIDR | ban list" },
	{ "allow", cli_allow, "allow add CIDR [--comment TEXT] [--minutes N] "
	    "| allow del CIDR | allow list   (never counted or blocked, may "
	    "relay)" },
	{ "deny", cli_deny, "deny add CIDR [--comment TEXT] [--minutes N] | "
	    "deny del CIDR | deny list   (always refused)" },
	{ "queue", cli_queue, "queue list | show ID | delete ID...|--sender "
	    "ADDRESS|--all | retry ID...|--all | hold|release ID...|--sender "
	    "ADDRESS" },
	{ "guard", cli_guard, "guard stats                  live counters of "
	    "the running server" },
};

void
cli_put_json(const struct cli *cli, json_t *j)
{
	if (cli->json) {
		char *s = json_dumps(j, JSON_INDENT(2));

		if (s != NULL)
			puts(s);
		free(s);
	}
	json_decref(j);
}

int
cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("mailwarden: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int
cli_read_password(char *pw, size_t pwsize)
{
	struct termios old, quiet;
	int tty = isatty(STDIN_FILENO);
	size_t n;
	char *ok;

	if (tty) {
		fputs("Password: ", stderr);
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	ok = fgets(pw, (int)pwsize, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (ok == NULL)
		return -1;
	n = strlen(pw);
	if (n > 0 && pw[n - 1] == '\n')
		pw[--n] = '\0';
	else if (n == pwsize - 1)
		return -1;	/* no newline in the buffer: too long */
	if (n > 0 && pw[n - 1] == '\r')
		pw[--n] = '\0';
	return n == 0 ? -1 : 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mailwarden [-d DATA] COMMAND [--json] ...\n"
	    "  DATA defaults to %s\ncommands:\n", DEFAULT_DATA);
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(stderr, "  %s\n", subcommands[i].usage);
}

int
main(int argc, char **argv)
{
	struct cli cli = { .data_dir = DEFAULT_DATA };
	const char *err;
	int i = 1, n = 0, serve;

	log_init(LOG_WARN, 1);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
			cli.data_dir = argv[i + 1];
			i += 2;
		} else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	/* Remaining arguments, with --json taken out wherever it is. */
	for (int j = i + 1; j < argc; j++) {
		if (strcmp(argv[j], "--json") == 0)
			cli.json = 1;
		else
			argv[i + 1 + n++] = argv[j];
	}
	cli.argc = n;
	cli.argv = argv + i + 1;
	for (size_t k = 0; k < sizeof(subcommands) / sizeof(subcommands[0]);
	    k++) {
		if (strcmp(subcommands[k].name, argv[i]) != 0)
			continue;
		if (fs_mkdirs(cli.data_dir) < 0 && errno != EEXIST)
			return cli_error("cannot create %s: %s", cli.data_dir,
			    strerror(errno));
		if (chdir(cli.data_dir) < 0)
			return cli_error("cannot enter %s: %s", cli.data_dir,
			    strerror(errno));
		serve = subcommands[k].run == cli_serve;
		cli.db = db_open("mailwarden.db", serve ? 200 : 10000, &err);
		if (cli.db == NULL)
			return cli_error("%s/mailwarden.db: %s", cli.data_dir,
			    err);
		/* After the open: SQLite uses absolute paths, which the
		 * owner may not be able to traverse. */
		if (!serve)
			privdrop_to_owner(".");
		n = subcommands[k].run(&cli);
		db_close(&cli.db);
		return n;
	}
	usage();
	return cli_error("unknown command: %s", argv[i]);
}
