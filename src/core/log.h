/* Plain-text logs, one line per event, in DATA/log/, reopened on SIGHUP.
 * Line format: TIME LEVEL MODULE sid=<16 hex> event=NAME key=value ... */
#ifndef MW_CORE_LOG_H
#define MW_CORE_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERR };

/* Each file is one audience; later modules add theirs here. */
enum log_file {
	LOG_FILE_MAIN,		/* mailwarden.log: server events */
	LOG_FILE_SMTP,		/* smtp-conversation.log */
	LOG_FILE_INTRUSION,	/* intrusion.log: blocks, lifts, list hits */
	LOG_FILE_PASSWORDS,	/* invalid-passwords.log */
	LOG_FILE_DELIVERY,	/* delivery.log: outbound attempts */
	LOG_FILE_COUNT
};

extern enum log_level log_min_level;

/* Until log_open() succeeds, lines go to stderr. Warnings and errors of
 * the main log are also copied to stderr when copy_stderr is set. */
void log_init(enum log_level min, int copy_stderr);
/* Opens every log file under dir (created if missing); -1 on error. */
int log_open(const char *dir);
/* Reopens the files (after rotation); safe to call from the loop. */
void log_reopen(void);
void log_close(void);
/* From now on lines logged on this (the loop's) thread are written once
 * per loop iteration, in one write(2) per file. */
struct event_base;
void log_attach_loop(struct event_base *base);
/* Writes what is collected and stops collecting. */
void log_detach_loop(void);
void log_flush(void);

void log_write(enum log_file file, enum log_level level, const char *module,
    uint64_t sid, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* The level is checked before the arguments are evaluated. */
#define LOG_AT(file, level, module, sid, ...) do { \
	if ((level) >= log_min_level) \
		log_write((file), (level), (module), (sid), __VA_ARGS__); \
} while (0)
#define log_debug(m, sid, ...) LOG_AT(LOG_FILE_MAIN, LOG_DEBUG, m, sid, __VA_ARGS__)
#define log_info(m, sid, ...)  LOG_AT(LOG_FILE_MAIN, LOG_INFO, m, sid, __VA_ARGS__)
#define log_warn(m, sid, ...)  LOG_AT(LOG_FILE_MAIN, LOG_WARN, m, sid, __VA_ARGS__)
#define log_err(m, sid, ...)   LOG_AT(LOG_FILE_MAIN, LOG_ERR, m, sid, __VA_ARGS__)

/* Copies at most n bytes of untrusted text into dst (size dstsize) with
 * control characters, quotes, backslashes and non-ASCII escaped as \xNN,
 * truncated with "..." so that the result always fits. Returns dst. */
char *log_escape(char *dst, size_t dstsize, const char *src, size_t n);

#endif
