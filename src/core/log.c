/* Log files.
 * SECURITY: callers escape client text with log_escape(); never passed
 * secrets. Lines are written with one write(2) each, so they never mix. */
#include "core/log.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

enum log_level log_min_level = LOG_INFO;

static const char *const log_names[LOG_FILE_COUNT] = {
	"mailwarden.log",
	"smtp-conversation.log",
	"intrusion.log",
	"invalid-passwords.log",
	"delivery.log",
};
static const char *const level_names[] = { "debug", "info", "warn", "error" };

static int log_fds[LOG_FILE_COUNT] = { -1, -1, -1, -1, -1 };
static char log_dir[256];
static int log_copy_stderr;

/* Lines written on the loop thread are collected and written once per
 * loop iteration: one write(2) for many lines. Other threads write
 * directly. */
#define LOG_BUF_SIZE (64 * 1024)
static struct {
	pthread_t thread;
	struct event *flush_ev;
	int scheduled;
	char data[LOG_FILE_COUNT][LOG_BUF_SIZE];
	size_t len[LOG_FILE_COUNT];
} lb;

static void
write_fully(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* nowhere better to report it */
		p += w;
		n -= (size_t)w;
	}
}

void
log_flush(void)
{
	for (int i = 0; i < LOG_FILE_COUNT; i++) {
		if (lb.len[i] > 0 && log_fds[i] >= 0)
			write_fully(log_fds[i], lb.data[i], lb.len[i]);
		lb.len[i] = 0;
	}
}

static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	lb.scheduled = 0;
	log_flush();
}

void
log_attach_loop(struct event_base *base)
{
	lb.thread = pthread_self();
	lb.flush_ev = event_new(base, -1, 0, log_flush_cb, NULL);
}

void
log_detach_loop(void)
{
	log_flush();
	if (lb.flush_ev != NULL)
		event_free(lb.flush_ev);
	lb.flush_ev = NULL;
}

static void
log_emit(enum log_file file, const char *line, size_t n)
{
	if (lb.flush_ev == NULL || !pthread_equal(pthread_self(), lb.thread)) {
		write_fully(log_fds[file], line, n);
		return;
	}
	if (lb.len[file] + n > LOG_BUF_SIZE)
		log_flush();
	memcpy(lb.data[file] + lb.len[file], line, n);
	lb.len[file] += n;
	if (!lb.scheduled) {
		lb.scheduled = 1;
		event_active(lb.flush_ev, EV_TIMEOUT, 0);
	}
}

void
log_init(enum log_level min, int copy_stderr)
{
	log_min_level = min;
	log_copy_stderr = copy_stderr;
}

static int
log_open_files(void)
{
	char path[512];
	int fd;

	for (int i = 0; i < LOG_FILE_COUNT; i++) {
		if (str_printf(path, sizeof(path), "%s/%s", log_dir,
		    log_names[i]) < 0)
			return -1;
		fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (fd < 0)
			return -1;
		if (log_fds[i] >= 0)
			close(log_fds[i]);
		log_fds[i] = fd;
	}
	return 0;
}

int
log_open(const char *dir)
{
	if (str_copy(log_dir, sizeof(log_dir), dir) < 0)
		return -1;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -1;
	return log_open_files();
}

void
log_reopen(void)
{
	log_flush();
	if (log_dir[0] != '\0' && log_open_files() < 0)
		log_err("log", 0, "event=reopen-failed error=\"%s\"",
		    strerror(errno));
}

void
log_close(void)
{
	log_flush();
	for (int i = 0; i < LOG_FILE_COUNT; i++) {
		if (log_fds[i] >= 0)
			close(log_fds[i]);
		log_fds[i] = -1;
	}
}

void
log_write(enum log_file file, enum log_level level, const char *module,
    uint64_t sid, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s sid=%016llx ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level],
	    module, (unsigned long long)sid);
	if (n < 0)
		return;
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (log_fds[file] >= 0)
		log_emit(file, line, (size_t)n);
	if (log_fds[file] < 0 ||
	    (file == LOG_FILE_MAIN && log_copy_stderr && level >= LOG_WARN))
		write_fully(STDERR_FILENO, line, (size_t)n);
}

char *
log_escape(char *dst, size_t dstsize, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	MW_ASSERT(dstsize >= 8);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		int plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';

		if (o + (plain ? 1 : 4) + 4 > dstsize) {
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
	return dst;
}
