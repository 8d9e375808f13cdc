/* imap_client: the load generator and checker of bench/imap.
 *
 * Plain IMAP over TCP (no TLS) to HOST:PORT, three modes:
 *
 *   idle    N sessions at once, each: greeting, LOGIN, SELECT INBOX,
 *           IDLE, then it stays idle. Driven by one epoll loop (10,000
 *           sessions need no 10,000 threads); at most --parallel sessions
 *           are between connect and "+ idling" at any time. When every
 *           session idles (or failed), a line of JSON goes to --ready-file
 *           and the sessions stay idle until standard input reaches EOF
 *           (the runner samples the server's memory meanwhile; --hold-ms
 *           instead holds that long). Then every session sends DONE,
 *           waits for its tagged OK, sends LOGOUT and waits for BYE and the
 *           tagged OK: a session the server dropped while idle counts as
 *           dropped. Users are taken round-robin from SESSIONS.
 *   fetch   one session on the first user of SESSIONS: LOGIN, then timed
 *           apart: SELECT INBOX, FETCH 1:* (FLAGS UID RFC822.SIZE),
 *           FETCH 1:* BODY.PEEK[], then LOGOUT.
 *   logins  --parallel threads, each repeating for --seconds: connect,
 *           greeting, LOGIN, LOGOUT (BYE and tagged OK), close.
 *   expect  no connection: reads the Maildir (--maildir) and writes what
 *           fetch will check to --expect-file, so that fetch can start on
 *           a cold page cache (fetch --expect-file F reads F instead of
 *           the Maildir).
 *
 * Nothing a server sends is taken on trust. fetch reads the mailbox's
 * Maildir (--maildir: every file in new/ and cur/, its size, a 64-bit
 * content hash and its flags from the ":2," info) before the clock
 * starts; then SELECT's EXISTS must be the number of files; the first
 * FETCH must answer every sequence number once, with UIDs rising with the
 * sequence numbers, RFC822.SIZE values that are exactly the files' sizes
 * and as many \Seen / \Flagged / \Answered as the file names say; the
 * second FETCH must answer every sequence number once with a BODY[]
 * literal whose size is that message's RFC822.SIZE and whose size and
 * hash are those of a file not yet received. idle checks each SELECT's
 * EXISTS against --exists when given; logins checks every tagged OK.
 *
 * Output: one JSON object on stdout (times in seconds); errors on
 * stderr; exit 1 when anything failed.
 *
 * Usage: imap_client MODE --port PORT [--host ADDR] [--timeout S]
 *            [--parallel K] [--sessions N] [--ready-file F] [--hold-ms MS]
 *            [--exists N] [--seconds S] [--maildir DIR] [--expect-file F]
 *            USERS
 *        imap_client expect --maildir DIR --expect-file F
 * USERS: a file with one line per user: "USER PASSWORD". */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RESPONSE (64u * 1024 * 1024)	/* one response, literals included */
#define IDLE_IN 4096				/* per idle session: reply lines */
#define MAX_ERRORS 8				/* distinct errors kept for the report */

enum mode { MODE_IDLE, MODE_FETCH, MODE_LOGINS, MODE_EXPECT };

static struct {
	enum mode mode;
	const char *host;
	int port;
	int timeout_ms;
	long parallel;
	long sessions;
	const char *ready_file;
	long hold_ms;
	long exists;
	double seconds;
	const char *maildir;
	const char *expect_file;
} opt = { MODE_IDLE, "127.0.0.1", 0, 120000, 64, 1, NULL, -1, -1, 10.0,
	NULL, NULL };

struct user {
	char *name;
	char *pass;
};

static struct user *users;
static size_t nusers;

/* ------------------------------------------------------------------ */
/* Helpers. */

static struct timespec t_zero;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_zero.tv_sec) +
	    (double)(t.tv_nsec - t_zero.tv_nsec) / 1e9;
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("imap_client: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		die("out of memory");
	return p;
}

static long
num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		die("%s: %s is not a number in %ld..%ld", what, s, lo, hi);
	return v;
}

/* Error messages, kept once each with a count (the report shows them). */
static struct {
	char text[256];
	long count;
} errors[MAX_ERRORS];
static long errors_total;
static pthread_mutex_t errors_lock = PTHREAD_MUTEX_INITIALIZER;

static int __attribute__((format(printf, 1, 2)))
note_error(const char *fmt, ...)
{
	char text[256];
	va_list ap;
	int i;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&errors_lock);
	errors_total++;
	for (i = 0; i < MAX_ERRORS; i++) {
		if (errors[i].count == 0) {
			snprintf(errors[i].text, sizeof(errors[i].text), "%s", text);
			errors[i].count = 1;
			break;
		}
		if (strcmp(errors[i].text, text) == 0) {
			errors[i].count++;
			break;
		}
	}
	pthread_mutex_unlock(&errors_lock);
	return -1;
}

static void
json_str(const char *v)
{
	putchar('"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20 || (unsigned char)*v > 0x7e)
			printf("\\u%04x", (unsigned char)*v);
		else
			putchar(*v);
	}
	putchar('"');
}

static void
json_errors(void)
{
	int i;

	printf("\"errors_total\": %ld, \"errors\": [", errors_total);
	for (i = 0; i < MAX_ERRORS && errors[i].count; i++) {
		printf("%s{\"count\": %ld, \"text\": ", i ? ", " : "",
		    errors[i].count);
		json_str(errors[i].text);
		putchar('}');
	}
	putchar(']');
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* As many descriptors as n sessions need (the runner raises the hard
 * limit; we take what it allows). */
static void
raise_nofile(long n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 16)
		die("RLIMIT_NOFILE is %lu, %ld sessions need more (raise the "
		    "hard limit)", (unsigned long)rl.rlim_cur, n);
}

static int
tcp_socket(int nonblock, struct sockaddr_in *sa)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &sa->sin_addr) != 1)
		die("bad address %s", opt.host);
	return fd;
}

/* ------------------------------------------------------------------ */
/* The 64-bit content hash of pop3_client: words at fixed offsets, so the
 * way the data arrives in pieces does not change the result. */

struct hstate {
	uint64_t h;
	uint64_t acc;
	unsigned n;
	uint64_t len;
};

static inline uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 32);
}

static uint64_t
hash_buf(const unsigned char *p, size_t len)
{
	struct hstate s = { 0x243F6A8885A308D3ULL, 0, 0, len };

	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);	/* little-endian hosts */
		s.h = mix(s.h, w);
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		s.acc |= (uint64_t)*p++ << (8 * s.n);
		s.n++;
		len--;
	}
	if (s.n > 0)
		s.h = mix(s.h, s.acc);
	return mix(s.h, s.len);
}

/* ------------------------------------------------------------------ */
/* Blocking connections with whole responses (fetch, logins). */

struct bconn {
	int fd;
	char *in;
	size_t start, end, cap;
	uint64_t wire_in;
	char err[256];
};

static int __attribute__((format(printf, 2, 3)))
bfail(struct bconn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
b_open(struct bconn *c)
{
	struct sockaddr_in sa;
	struct timeval tv = { opt.timeout_ms / 1000,
		(opt.timeout_ms % 1000) * 1000 };

	c->fd = tcp_socket(0, &sa);
	if (c->fd < 0)
		return bfail(c, "socket: %s", strerror(errno));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return bfail(c, "connect: %s", strerror(errno));
	c->start = c->end = 0;
	if (c->in == NULL) {
		c->cap = 256 * 1024;
		c->in = xmalloc(c->cap);
	}
	return 0;
}

static void
b_close(struct bconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int __attribute__((format(printf, 2, 3)))
b_send(struct bconn *c, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	size_t off = 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return bfail(c, "command too long");
	while (off < (size_t)n) {
		ssize_t w = send(c->fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return bfail(c, "send: %s", strerror(errno));
		}
		off += (size_t)w;
	}
	return 0;
}

/* More input after what is buffered; unconsumed bytes move to the
 * front, the buffer grows up to MAX_RESPONSE. */
static int
b_fill(struct bconn *c)
{
	ssize_t r;

	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->end == c->cap) {
		if (c->start > 0) {
			memmove(c->in, c->in + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		} else if (c->cap < MAX_RESPONSE) {
			c->cap *= 2;
			c->in = xrealloc(c->in, c->cap);
		} else {
			return bfail(c, "a response over %u octets", MAX_RESPONSE);
		}
	}
	for (;;) {
		r = recv(c->fd, c->in + c->end, c->cap - c->end, 0);
		if (r > 0)
			break;
		if (r == 0)
			return bfail(c, "connection closed by the server");
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return bfail(c, "no data from the server for %d s",
			    opt.timeout_ms / 1000);
		return bfail(c, "recv: %s", strerror(errno));
	}
	c->end += (size_t)r;
	c->wire_in += (uint64_t)r;
	return 0;
}

/* Length of a literal announced at the end of a line ("{n}" or "{n+}"
 * before CRLF; line excludes the CRLF), or -1. */
static long long
literal_at_end(const char *line, size_t len)
{
	size_t i;
	long long n = 0, mul = 1;

	if (len < 3 || line[len - 1] != '}')
		return -1;
	i = len - 1;
	if (line[i - 1] == '+')
		i--;
	if (i == 0 || line[i - 1] < '0' || line[i - 1] > '9')
		return -1;
	while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
		if (mul > 1000000000000LL)
			return -1;
		n += (line[i - 1] - '0') * mul;
		mul *= 10;
		i--;
	}
	if (i == 0 || line[i - 1] != '{')
		return -1;
	return n;
}

/* One whole response (a line, and with each literal it announces, the
 * literal and the rest of the line), contiguous in c->in: *resp, *len
 * (CRLF included). Valid until the next call. */
static int
b_response(struct bconn *c, const char **resp, size_t *len)
{
	size_t off = 0;	/* scanned, from c->start */

	for (;;) {
		char *p = c->in + c->start + off;
		char *nl = memchr(p, '\n', c->end - c->start - off);
		long long lit;
		size_t l;

		if (nl == NULL) {
			if (b_fill(c) < 0)
				return -1;
			continue;
		}
		if (nl == c->in + c->start || nl[-1] != '\r')
			return bfail(c, "a line without CRLF");
		l = (size_t)(nl - 1 - (c->in + c->start));
		lit = literal_at_end(c->in + c->start, l);
		if (lit < 0) {
			*resp = c->in + c->start;
			*len = l + 2;
			c->start += l + 2;
			return 0;
		}
		if ((unsigned long long)lit > MAX_RESPONSE)
			return bfail(c, "a literal of %lld octets", lit);
		off = l + 2;
		while (c->end - c->start < off + (size_t)lit)
			if (b_fill(c) < 0)
				return -1;
		off += (size_t)lit;
	}
}

typedef int untagged_fn(struct bconn *c, const char *resp, size_t len,
    void *arg);

/* Sends "TAG COMMAND" and reads responses up to the tagged one, which
 * must be OK; untagged ones go to fn (may be NULL). */
static int
b_command(struct bconn *c, const char *tag, const char *cmd, untagged_fn *fn,
    void *arg)
{
	size_t tl = strlen(tag);

	if (b_send(c, "%s %s\r\n", tag, cmd) < 0)
		return -1;
	for (;;) {
		const char *r;
		size_t len;

		if (b_response(c, &r, &len) < 0)
			return -1;
		if (len > tl + 1 && memcmp(r, tag, tl) == 0 && r[tl] == ' ') {
			if (len >= tl + 3 && memcmp(r + tl + 1, "OK", 2) == 0)
				return 0;
			return bfail(c, "%.40s: %.*s", cmd, (int)(len - 2), r);
		}
		if (r[0] == '+')
			return bfail(c, "%.40s: unexpected continuation: %.*s",
			    cmd, (int)(len - 2 > 200 ? 200 : len - 2), r);
		if (fn != NULL && fn(c, r, len, arg) < 0)
			return -1;
	}
}

static int
b_greeting(struct bconn *c)
{
	const char *r;
	size_t len;

	if (b_response(c, &r, &len) < 0)
		return -1;
	if (len < 4 || memcmp(r, "* OK", 4) != 0)
		return bfail(c, "greeting: %.*s", (int)(len - 2), r);
	return 0;
}

static int
b_login(struct bconn *c, const struct user *u)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "LOGIN \"%s\" \"%s\"", u->name, u->pass);
	return b_command(c, "a", cmd, NULL, NULL);
}

static int
saw_bye(struct bconn *c, const char *r, size_t len, void *arg)
{
	(void)c;
	if (len >= 5 && memcmp(r, "* BYE", 5) == 0)
		*(int *)arg = 1;
	return 0;
}

static int
b_logout(struct bconn *c)
{
	int bye = 0;

	if (b_command(c, "z", "LOGOUT", saw_bye, &bye) < 0)
		return -1;
	if (!bye)
		return bfail(c, "LOGOUT: no * BYE before the tagged OK");
	return 0;
}

/* ------------------------------------------------------------------ */
/* FETCH responses: "* SEQ FETCH (NAME VALUE ...)". */

struct span {
	const char *p;
	size_t len;
	int literal;	/* the value was a literal (p, len: its data) */
};

/* One value at *pp: a number, atom, NIL, quoted string, literal or
 * parenthesised list (nested, with strings and literals inside). */
static int
fetch_value(const char **pp, const char *end, struct span *v)
{
	const char *p = *pp;
	int depth = 0;

	v->p = p;
	v->literal = 0;
	do {
		if (p >= end)
			return -1;
		if (*p == '(') {
			depth++;
			p++;
		} else if (*p == ')') {
			if (depth == 0)
				return -1;
			depth--;
			p++;
		} else if (*p == ' ') {
			if (depth == 0)
				return -1;
			p++;
		} else if (*p == '"') {
			for (p++; p < end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			if (p >= end)
				return -1;
			p++;
		} else if (*p == '{') {
			char *e;
			unsigned long long n = strtoull(p + 1, &e, 10);

			if (*e == '+')
				e++;
			if (e + 3 > end || e[0] != '}' || e[1] != '\r' ||
			    e[2] != '\n' || n > (unsigned long long)(end - e - 3))
				return -1;
			if (depth == 0) {
				v->p = e + 3;
				v->len = (size_t)n;
				v->literal = 1;
				*pp = e + 3 + n;
				return 0;
			}
			p = e + 3 + n;
		} else {
			const char *q = p;

			while (p < end && *p != ' ' && *p != '(' && *p != ')')
				p++;
			if (p == q)
				return -1;
		}
	} while (depth > 0);
	v->len = (size_t)(p - v->p);
	*pp = p;
	return 0;
}

struct fetch_item {
	struct span name;
	struct span value;
};

/* Parses a FETCH response into its sequence number and up to max items;
 * returns the number of items, 0 when resp is not a FETCH, -1 on a
 * syntax error. */
static int
fetch_parse(const char *resp, size_t len, unsigned long *seq,
    struct fetch_item *items, int max)
{
	const char *p = resp, *end = resp + len - 2;	/* before CRLF */
	char *e;
	int n = 0;

	if (len < 12 || memcmp(p, "* ", 2) != 0 || p[2] < '1' || p[2] > '9')
		return 0;
	*seq = strtoul(p + 2, &e, 10);
	if (e + 8 > end || memcmp(e, " FETCH (", 8) != 0)
		return 0;
	p = e + 8;
	for (;;) {
		struct fetch_item it;

		if (p < end && *p == ')')
			return p + 1 == end ? n : -1;
		if (n > 0) {
			if (p >= end || *p != ' ')
				return -1;
			p++;
		}
		/* The name: an atom with an optional [section] and <partial>. */
		it.name.p = p;
		while (p < end && *p != ' ' && *p != ')') {
			if (*p == '[') {
				while (p < end && *p != ']')
					p++;
			}
			p++;
		}
		it.name.len = (size_t)(p - it.name.p);
		it.name.literal = 0;
		if (it.name.len == 0 || p >= end || *p != ' ')
			return -1;
		p++;
		if (fetch_value(&p, end, &it.value) < 0)
			return -1;
		if (n == max)
			return -1;
		items[n++] = it;
	}
}

static int
span_is(const struct span *s, const char *str)
{
	size_t n = strlen(str);

	return s->len == n && strncasecmp(s->p, str, n) == 0;
}

static int
span_num(const struct span *s, unsigned long long *v)
{
	unsigned long long x = 0;
	size_t i;

	if (s->len == 0 || s->len > 19 || s->literal)
		return -1;
	for (i = 0; i < s->len; i++) {
		if (s->p[i] < '0' || s->p[i] > '9')
			return -1;
		x = x * 10 + (unsigned long long)(s->p[i] - '0');
	}
	*v = x;
	return 0;
}

/* Whether a FLAGS list contains flag (case-insensitive, whole word). */
static int
flags_have(const struct span *s, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = s->p, *end = s->p + s->len;

	while (p + n <= end) {
		if (strncasecmp(p, flag, n) == 0 && (p == s->p || p[-1] == ' ' ||
		    p[-1] == '(') && (p + n == end || p[n] == ' ' ||
		    p[n] == ')'))
			return 1;
		p++;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The expected mailbox (fetch). */

struct expect {
	uint64_t size;
	uint64_t hash;
	int seen;
};

static struct expect *exp_msgs;
static size_t nexp;
static uint64_t exp_octets;
static unsigned long exp_flag_seen, exp_flag_flagged, exp_flag_answered;

static int
cmp_expect(const void *a, const void *b)
{
	const struct expect *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void
load_dir(const char *sub, size_t *cap)
{
	char path[4096];
	unsigned char *buf = NULL;
	size_t bufcap = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/%s", opt.maildir, sub);
	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			return;
		die("%s: %s", path, strerror(errno));
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		const char *info;
		size_t got = 0;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", opt.maildir, sub,
		    e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			die("%s: %s", path, strerror(errno));
		if ((size_t)st.st_size > bufcap) {
			bufcap = (size_t)st.st_size * 2;
			buf = xrealloc(buf, bufcap);
		}
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

			if (r <= 0)
				die("read %s failed", path);
			got += (size_t)r;
		}
		close(fd);
		if (nexp == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			exp_msgs = xrealloc(exp_msgs, *cap * sizeof(*exp_msgs));
		}
		exp_msgs[nexp].size = got;
		exp_msgs[nexp].hash = hash_buf(buf, got);
		exp_msgs[nexp].seen = 0;
		exp_octets += got;
		nexp++;
		info = strstr(e->d_name, ":2,");
		if (info != NULL) {
			exp_flag_seen += strchr(info + 3, 'S') != NULL;
			exp_flag_flagged += strchr(info + 3, 'F') != NULL;
			exp_flag_answered += strchr(info + 3, 'R') != NULL;
		}
	}
	closedir(d);
	free(buf);
}

/* The expectations: from the Maildir, or from --expect-file when it
 * exists (written by "expect"); sorted for match_expected(). */
static void
load_expected(void)
{
	FILE *f;
	size_t cap = 0, i;

	if (opt.mode == MODE_FETCH && opt.expect_file != NULL &&
	    (f = fopen(opt.expect_file, "r")) != NULL) {
		unsigned long long n;

		if (fscanf(f, "%llu %lu %lu %lu", &n, &exp_flag_seen,
		    &exp_flag_flagged, &exp_flag_answered) != 4 || n > 100000000)
			die("%s: bad first line", opt.expect_file);
		exp_msgs = xcalloc((size_t)n, sizeof(*exp_msgs));
		for (i = 0; i < n; i++) {
			if (fscanf(f, "%" SCNu64 " %" SCNx64, &exp_msgs[i].size,
			    &exp_msgs[i].hash) != 2)
				die("%s: line %zu", opt.expect_file, i + 2);
			exp_octets += exp_msgs[i].size;
		}
		nexp = (size_t)n;
		fclose(f);
	} else {
		if (opt.maildir == NULL)
			die("--maildir needed");
		load_dir("new", &cap);
		load_dir("cur", &cap);
	}
	if (nexp > 0)
		qsort(exp_msgs, nexp, sizeof(*exp_msgs), cmp_expect);
}

static int
expect_mode(void)
{
	FILE *f;
	size_t i;

	if (opt.expect_file == NULL)
		die("expect needs --expect-file");
	load_expected();
	f = fopen(opt.expect_file, "w");
	if (f == NULL)
		die("%s: %s", opt.expect_file, strerror(errno));
	fprintf(f, "%zu %lu %lu %lu\n", nexp, exp_flag_seen, exp_flag_flagged,
	    exp_flag_answered);
	for (i = 0; i < nexp; i++)
		fprintf(f, "%" PRIu64 " %" PRIx64 "\n", exp_msgs[i].size,
		    exp_msgs[i].hash);
	if (fclose(f) != 0)
		die("%s: write failed", opt.expect_file);
	printf("{\"mode\": \"expect\", \"messages\": %zu, \"octets\": %" PRIu64
	    ", \"seen\": %lu, \"flagged\": %lu, \"answered\": %lu}\n", nexp,
	    exp_octets, exp_flag_seen, exp_flag_flagged, exp_flag_answered);
	return 0;
}

static int
match_expected(uint64_t size, uint64_t hash)
{
	size_t lo = 0, hi = nexp;
	struct expect key = { size, hash, 0 };

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_expect(&exp_msgs[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < nexp && cmp_expect(&exp_msgs[lo], &key) == 0; lo++) {
		if (!exp_msgs[lo].seen) {
			exp_msgs[lo].seen = 1;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* fetch mode. */

struct select_info {
	unsigned long exists;
	unsigned long long uidvalidity;
	int have_exists;
};

static int
on_select(struct bconn *c, const char *r, size_t len, void *arg)
{
	struct select_info *si = arg;
	const char *p;
	char *e;
	unsigned long n;

	(void)c;
	if (len < 4 || memcmp(r, "* ", 2) != 0)
		return 0;
	if (r[2] >= '0' && r[2] <= '9') {
		n = strtoul(r + 2, &e, 10);
		if ((size_t)(e - r) + 9 <= len && memcmp(e, " EXISTS\r\n", 9) == 0) {
			si->exists = n;
			si->have_exists = 1;
		}
		return 0;
	}
	p = memmem(r, len, "[UIDVALIDITY ", 13);
	if (p != NULL)
		si->uidvalidity = strtoull(p + 13, NULL, 10);
	return 0;
}

struct fetch_state {
	unsigned long exists;
	unsigned char *got;		/* per sequence number: answered */
	uint64_t *sizes;		/* per sequence number: RFC822.SIZE */
	unsigned long long *uids;	/* per sequence number */
	unsigned long answers;
	unsigned long seen, flagged, answered;
	uint64_t octets;
	int body;			/* the BODY.PEEK[] pass */
};

static int
on_fetch(struct bconn *c, const char *r, size_t len, void *arg)
{
	struct fetch_state *fs = arg;
	struct fetch_item it[16];
	unsigned long seq;
	unsigned long long v;
	int n, i, have_flags = 0, have_uid = 0, have_size = 0, have_body = 0;

	n = fetch_parse(r, len, &seq, it, 16);
	if (n == 0)
		return 0;	/* other untagged data */
	if (n < 0)
		return bfail(c, "FETCH response syntax: %.*s", (int)(len > 200 ?
		    200 : len - 2), r);
	if (seq < 1 || seq > fs->exists)
		return bfail(c, "FETCH for message %lu of %lu", seq, fs->exists);
	if (fs->got[seq - 1])
		return bfail(c, "FETCH: message %lu answered twice", seq);
	fs->got[seq - 1] = 1;
	fs->answers++;
	for (i = 0; i < n; i++) {
		if (span_is(&it[i].name, "FLAGS")) {
			have_flags = 1;
			if (it[i].value.len < 2 || it[i].value.p[0] != '(')
				return bfail(c, "FETCH %lu: FLAGS not a list", seq);
			fs->seen += flags_have(&it[i].value, "\\Seen");
			fs->flagged += flags_have(&it[i].value, "\\Flagged");
			fs->answered += flags_have(&it[i].value, "\\Answered");
		} else if (span_is(&it[i].name, "UID")) {
			if (span_num(&it[i].value, &v) < 0 || v == 0)
				return bfail(c, "FETCH %lu: UID %.*s", seq,
				    (int)it[i].value.len, it[i].value.p);
			if (fs->body && v != fs->uids[seq - 1])
				return bfail(c, "FETCH %lu: UID %llu, was %llu",
				    seq, v, fs->uids[seq - 1]);
			fs->uids[seq - 1] = v;
			have_uid = 1;
		} else if (span_is(&it[i].name, "RFC822.SIZE")) {
			if (span_num(&it[i].value, &v) < 0)
				return bfail(c, "FETCH %lu: RFC822.SIZE %.*s", seq,
				    (int)it[i].value.len, it[i].value.p);
			fs->sizes[seq - 1] = v;
			have_size = 1;
		} else if (span_is(&it[i].name, "BODY[]")) {
			const struct span *b = &it[i].value;

			if (!b->literal && !(b->len >= 2 && b->p[0] == '"'))
				return bfail(c, "FETCH %lu: BODY[] is %.20s", seq,
				    b->p);
			if (!b->literal)
				return bfail(c, "FETCH %lu: BODY[] as a quoted "
				    "string", seq);
			if (b->len != fs->sizes[seq - 1])
				return bfail(c, "FETCH %lu: BODY[] of %zu octets, "
				    "RFC822.SIZE said %" PRIu64, seq, b->len,
				    fs->sizes[seq - 1]);
			if (match_expected(b->len, hash_buf((const unsigned char *)
			    b->p, b->len)) < 0)
				return bfail(c, "FETCH %lu: BODY[] of %zu octets "
				    "matches no message of the Maildir (or one "
				    "already received)", seq, b->len);
			fs->octets += b->len;
			have_body = 1;
		}
	}
	if (!fs->body && !(have_flags && have_uid && have_size))
		return bfail(c, "FETCH %lu: FLAGS, UID or RFC822.SIZE missing",
		    seq);
	if (fs->body && !have_body)
		return bfail(c, "FETCH %lu: no BODY[]", seq);
	return 0;
}

static int
fetch_mode(void)
{
	struct bconn c = { .fd = -1 };
	struct select_info si = { 0, 0, 0 };
	struct fetch_state fs;
	double t_connect, t_login, t_select, t_fast, t_body, t_logout;
	uint64_t *sorted = NULL;
	unsigned long i;
	int rc = -1;

	load_expected();
	memset(&fs, 0, sizeof(fs));

	t_connect = now();
	if (b_open(&c) < 0 || b_greeting(&c) < 0 || b_login(&c, &users[0]) < 0)
		goto out;
	t_login = now();
	if (b_command(&c, "s", "SELECT INBOX", on_select, &si) < 0)
		goto out;
	t_select = now();
	if (!si.have_exists) {
		bfail(&c, "SELECT: no EXISTS");
		goto out;
	}
	if (si.exists != nexp) {
		bfail(&c, "SELECT: %lu EXISTS, the Maildir has %zu files",
		    si.exists, nexp);
		goto out;
	}
	fs.exists = si.exists;
	fs.got = xcalloc(fs.exists, 1);
	fs.sizes = xcalloc(fs.exists, sizeof(*fs.sizes));
	fs.uids = xcalloc(fs.exists, sizeof(*fs.uids));
	if (b_command(&c, "f", "FETCH 1:* (FLAGS UID RFC822.SIZE)", on_fetch,
	    &fs) < 0)
		goto out;
	t_fast = now();
	if (fs.answers != fs.exists) {
		bfail(&c, "FETCH FLAGS UID RFC822.SIZE: %lu answers for %lu "
		    "messages", fs.answers, fs.exists);
		goto out;
	}
	for (i = 1; i < fs.exists; i++) {
		if (fs.uids[i] <= fs.uids[i - 1]) {
			bfail(&c, "UID of message %lu (%llu) not above that of %lu "
			    "(%llu)", i + 1, fs.uids[i], i, fs.uids[i - 1]);
			goto out;
		}
	}
	sorted = xcalloc(fs.exists, sizeof(*sorted));
	memcpy(sorted, fs.sizes, fs.exists * sizeof(*sorted));
	qsort(sorted, fs.exists, sizeof(*sorted), cmp_u64);
	for (i = 0; i < fs.exists; i++) {
		if (sorted[i] != exp_msgs[i].size) {
			bfail(&c, "RFC822.SIZE values differ from the files' "
			    "sizes (%" PRIu64 " where %" PRIu64 ")", sorted[i],
			    exp_msgs[i].size);
			goto out;
		}
	}
	if (fs.seen != exp_flag_seen || fs.flagged != exp_flag_flagged ||
	    fs.answered != exp_flag_answered) {
		bfail(&c, "flags: \\Seen %lu \\Flagged %lu \\Answered %lu, the "
		    "file names say %lu %lu %lu", fs.seen, fs.flagged,
		    fs.answered, exp_flag_seen, exp_flag_flagged,
		    exp_flag_answered);
		goto out;
	}
	memset(fs.got, 0, fs.exists);
	fs.answers = 0;
	fs.body = 1;
	if (b_command(&c, "b", "FETCH 1:* BODY.PEEK[]", on_fetch, &fs) < 0)
		goto out;
	t_body = now();
	if (fs.answers != fs.exists) {
		bfail(&c, "FETCH BODY.PEEK[]: %lu answers for %lu messages",
		    fs.answers, fs.exists);
		goto out;
	}
	if (b_logout(&c) < 0)
		goto out;
	t_logout = now();
	rc = 0;
	printf("{\"mode\": \"fetch\", \"messages\": %lu, \"octets\": %" PRIu64
	    ", \"uidvalidity\": %llu, \"seen\": %lu, \"flagged\": %lu, "
	    "\"answered\": %lu, \"wire_in\": %" PRIu64 ", \"login_s\": %.6f, "
	    "\"select_s\": %.6f, \"fetch_fast_s\": %.6f, \"fetch_body_s\": "
	    "%.6f, \"logout_s\": %.6f, \"failed\": 0}\n", fs.exists, fs.octets,
	    si.uidvalidity, fs.seen, fs.flagged, fs.answered, c.wire_in,
	    t_login - t_connect, t_select - t_login, t_fast - t_select,
	    t_body - t_fast, t_logout - t_body);
out:
	if (rc < 0) {
		fprintf(stderr, "imap_client: fetch: %s\n", c.err);
		printf("{\"mode\": \"fetch\", \"failed\": 1, \"error\": ");
		json_str(c.err);
		printf("}\n");
	}
	b_close(&c);
	free(c.in);
	free(fs.got);
	free(fs.sizes);
	free(fs.uids);
	free(sorted);
	return rc;
}

/* ------------------------------------------------------------------ */
/* logins mode. */

struct lthread {
	pthread_t th;
	long id;
	long cycles;
	long failed;
	double *lat;
	size_t nlat, caplat;
	double t_last;
};

static double deadline;

static void *
logins_thread(void *arg)
{
	struct lthread *t = arg;
	struct bconn c = { .fd = -1 };
	size_t k = (size_t)t->id;

	while (now() < deadline) {
		const struct user *u = &users[k % nusers];
		double t0 = now();

		k += (size_t)opt.parallel;
		c.err[0] = '\0';
		if (b_open(&c) < 0 || b_greeting(&c) < 0 || b_login(&c, u) < 0 ||
		    b_logout(&c) < 0) {
			note_error("%s: %s", u->name, c.err);
			t->failed++;
			b_close(&c);
			usleep(10000);
			continue;
		}
		b_close(&c);
		t->t_last = now();
		t->cycles++;
		if (t->nlat == t->caplat) {
			t->caplat = t->caplat ? t->caplat * 2 : 1024;
			t->lat = xrealloc(t->lat, t->caplat * sizeof(*t->lat));
		}
		t->lat[t->nlat++] = t->t_last - t0;
	}
	free(c.in);
	return NULL;
}

static int
logins_mode(void)
{
	struct lthread *ts = xcalloc((size_t)opt.parallel, sizeof(*ts));
	long i, cycles = 0, failed = 0;
	double t_start, t_end = 0, *all;
	size_t nl = 0, k = 0;

	raise_nofile(opt.parallel);
	t_start = now();
	deadline = t_start + opt.seconds;
	for (i = 0; i < opt.parallel; i++) {
		ts[i].id = i;
		if (pthread_create(&ts[i].th, NULL, logins_thread, &ts[i]) != 0)
			die("pthread_create failed");
	}
	for (i = 0; i < opt.parallel; i++) {
		pthread_join(ts[i].th, NULL);
		cycles += ts[i].cycles;
		failed += ts[i].failed;
		if (ts[i].t_last > t_end)
			t_end = ts[i].t_last;
		nl += ts[i].nlat;
	}
	all = xcalloc(nl, sizeof(*all));
	for (i = 0; i < opt.parallel; i++)
		for (size_t j = 0; j < ts[i].nlat; j++)
			all[k++] = ts[i].lat[j];
	qsort(all, nl, sizeof(*all), cmp_double);
	if (t_end <= t_start)
		t_end = now();
	printf("{\"mode\": \"logins\", \"parallel\": %ld, \"users\": %zu, "
	    "\"logins\": %ld, \"failed\": %ld, \"seconds\": %.6f, "
	    "\"logins_per_s\": %.3f, \"latency_ms\": [%.3f, %.3f, %.3f, %.3f], ",
	    opt.parallel, nusers, cycles, failed, t_end - t_start,
	    (double)cycles / (t_end - t_start),
	    nl ? all[nl / 2] * 1e3 : 0.0, nl ? all[nl * 9 / 10] * 1e3 : 0.0,
	    nl ? all[nl * 99 / 100] * 1e3 : 0.0, nl ? all[nl - 1] * 1e3 : 0.0);
	json_errors();
	printf("}\n");
	for (i = 0; i < opt.parallel; i++)
		free(ts[i].lat);
	free(ts);
	free(all);
	return failed || cycles == 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* idle mode: one epoll loop, a small state machine per session. */

enum istate {
	I_CONNECTING, I_GREETING, I_LOGIN, I_SELECT, I_IDLE_WAIT, I_IDLING,
	I_DONE_WAIT, I_LOGOUT_WAIT, I_CLOSED, I_FAILED
};

struct isess {
	int fd;
	enum istate st;
	int bye;
	unsigned len;		/* bytes in in */
	unsigned long exists;
	const struct user *u;
	char in[IDLE_IN];
};

static struct isess *iss;
static int epfd;
static long n_pending, n_started, n_idling, n_failed, n_dropped, n_ended;
static unsigned long exists_min = (unsigned long)-1, exists_max;

static void
i_fail(struct isess *s, const char *what, const char *line)
{
	if (s->st == I_IDLING)
		n_idling--;
	if (s->st < I_IDLING)
		n_pending--;
	if (s->st == I_IDLING || s->st == I_DONE_WAIT ||
	    s->st == I_LOGOUT_WAIT)
		n_dropped++;
	note_error("%s%s%.200s", what, line ? ": " : "", line ? line : "");
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->st = I_FAILED;
	n_failed++;
}

static int
i_send(struct isess *s, const char *cmd)
{
	size_t n = strlen(cmd);
	ssize_t w = send(s->fd, cmd, n, MSG_NOSIGNAL);

	/* Commands are short: a fresh socket buffer always takes them. */
	if (w != (ssize_t)n) {
		i_fail(s, "send failed", w < 0 ? strerror(errno) : "short");
		return -1;
	}
	return 0;
}

static void
i_start(struct isess *s)
{
	struct sockaddr_in sa;
	struct epoll_event ev;

	s->fd = tcp_socket(1, &sa);
	s->st = I_CONNECTING;
	n_pending++;
	n_started++;
	if (s->fd < 0) {
		i_fail(s, "socket", strerror(errno));
		return;
	}
	if (connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EINPROGRESS) {
		i_fail(s, "connect", strerror(errno));
		return;
	}
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
	ev.data.ptr = s;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->fd, &ev) < 0)
		i_fail(s, "epoll_ctl", strerror(errno));
}

static int
tagged(const char *line, char tag, const char **rest)
{
	if (line[0] != tag || line[1] != ' ')
		return 0;
	*rest = line + 2;
	return 1;
}

/* One reply line (without CRLF) for session s. */
static void
i_line(struct isess *s, char *line)
{
	const char *rest;
	char cmd[1024];

	switch (s->st) {
	case I_GREETING:
		if (strncmp(line, "* OK", 4) != 0) {
			i_fail(s, "greeting", line);
			return;
		}
		snprintf(cmd, sizeof(cmd), "a LOGIN \"%s\" \"%s\"\r\n",
		    s->u->name, s->u->pass);
		if (i_send(s, cmd) == 0)
			s->st = I_LOGIN;
		return;
	case I_LOGIN:
		if (!tagged(line, 'a', &rest))
			return;
		if (strncmp(rest, "OK", 2) != 0) {
			i_fail(s, "LOGIN", line);
			return;
		}
		if (i_send(s, "b SELECT INBOX\r\n") == 0)
			s->st = I_SELECT;
		return;
	case I_SELECT:
		if (line[0] == '*' && line[1] == ' ' && line[2] >= '0' &&
		    line[2] <= '9') {
			char *e;
			unsigned long n = strtoul(line + 2, &e, 10);

			if (strcmp(e, " EXISTS") == 0)
				s->exists = n;
			return;
		}
		if (!tagged(line, 'b', &rest))
			return;
		if (strncmp(rest, "OK", 2) != 0) {
			i_fail(s, "SELECT", line);
			return;
		}
		if (opt.exists >= 0 && s->exists != (unsigned long)opt.exists) {
			snprintf(cmd, sizeof(cmd), "%lu, expected %ld", s->exists,
			    opt.exists);
			i_fail(s, "SELECT: EXISTS", cmd);
			return;
		}
		if (s->exists < exists_min)
			exists_min = s->exists;
		if (s->exists > exists_max)
			exists_max = s->exists;
		if (i_send(s, "c IDLE\r\n") == 0)
			s->st = I_IDLE_WAIT;
		return;
	case I_IDLE_WAIT:
		if (line[0] == '+') {
			s->st = I_IDLING;
			n_pending--;
			n_idling++;
		} else if (tagged(line, 'c', &rest)) {
			i_fail(s, "IDLE", line);
		}
		return;
	case I_IDLING:
		if (strncmp(line, "* BYE", 5) == 0)
			i_fail(s, "BYE while idle", line);
		return;	/* other untagged data: keepalives, updates */
	case I_DONE_WAIT:
		if (!tagged(line, 'c', &rest))
			return;
		if (strncmp(rest, "OK", 2) != 0) {
			i_fail(s, "DONE", line);
			return;
		}
		if (i_send(s, "d LOGOUT\r\n") == 0)
			s->st = I_LOGOUT_WAIT;
		return;
	case I_LOGOUT_WAIT:
		if (strncmp(line, "* BYE", 5) == 0) {
			s->bye = 1;
			return;
		}
		if (!tagged(line, 'd', &rest))
			return;
		if (strncmp(rest, "OK", 2) != 0 || !s->bye) {
			i_fail(s, "LOGOUT", line);
			return;
		}
		close(s->fd);
		s->fd = -1;
		s->st = I_CLOSED;
		n_ended++;
		return;
	default:
		return;
	}
}

static void
i_event(struct isess *s, uint32_t events)
{
	if (s->st == I_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err != 0) {
			i_fail(s, "connect", strerror(err));
			return;
		}
		s->st = I_GREETING;
		{
			struct epoll_event ev = { EPOLLIN | EPOLLRDHUP,
				{ .ptr = s } };

			epoll_ctl(epfd, EPOLL_CTL_MOD, s->fd, &ev);
		}
	}
	if (!(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t r = recv(s->fd, s->in + s->len, sizeof(s->in) - s->len, 0);
		char *p, *nl;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			i_fail(s, "recv", strerror(errno));
			return;
		}
		if (r == 0) {
			i_fail(s, s->st == I_IDLING ? "closed by the server while "
			    "idle" : "closed by the server", NULL);
			return;
		}
		s->len += (unsigned)r;
		p = s->in;
		while ((nl = memchr(p, '\n', s->len - (size_t)(p - s->in)))
		    != NULL) {
			if (nl > p && nl[-1] == '\r')
				nl[-1] = '\0';
			*nl = '\0';
			i_line(s, p);
			if (s->fd < 0)
				return;	/* failed or closed */
			p = nl + 1;
		}
		s->len -= (unsigned)(p - s->in);
		memmove(s->in, p, s->len);
		if (s->len == sizeof(s->in)) {
			i_fail(s, "a reply line over 4096 octets", NULL);
			return;
		}
	}
}

/* Runs the loop until done() or the deadline; watches stdin when asked
 * (returns 1 at its EOF). */
static int
i_loop(int (*done)(void), double until, int watch_stdin)
{
	struct epoll_event evs[512];

	while (!done()) {
		int n, i;

		if (now() > until)
			return -1;
		while (n_started < opt.sessions && n_pending < opt.parallel)
			i_start(&iss[n_started]);
		n = epoll_wait(epfd, evs, 512, 200);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait: %s", strerror(errno));
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL) {
				char b[256];

				if (watch_stdin && read(0, b, sizeof(b)) <= 0)
					return 1;
				continue;
			}
			i_event(evs[i].data.ptr, evs[i].events);
		}
	}
	return 0;
}

static int
ramp_done(void)
{
	return n_started == opt.sessions && n_pending == 0;
}

static int
never(void)
{
	return 0;
}

static int
end_done(void)
{
	long i;

	for (i = 0; i < opt.sessions; i++)
		if (iss[i].st == I_DONE_WAIT || iss[i].st == I_LOGOUT_WAIT)
			return 0;
	return 1;
}

static int
idle_mode(void)
{
	struct epoll_event ev = { EPOLLIN, { .ptr = NULL } };
	double t_ramp, t_end0, t_end;
	long i, idling_at_ready, dropped_in_hold;

	raise_nofile(opt.sessions);
	iss = xcalloc((size_t)opt.sessions, sizeof(*iss));
	for (i = 0; i < opt.sessions; i++) {
		iss[i].fd = -1;
		iss[i].u = &users[(size_t)i % nusers];
	}
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1: %s", strerror(errno));

	if (i_loop(ramp_done, opt.timeout_ms / 1000.0, 0) < 0)
		note_error("ramp: not done in %d s", opt.timeout_ms / 1000);
	t_ramp = now();
	idling_at_ready = n_idling;
	fprintf(stderr, "imap_client: %ld sessions idle, %ld failed, in %.1f s\n",
	    n_idling, n_failed, t_ramp);
	if (opt.ready_file != NULL) {
		FILE *f = fopen(opt.ready_file, "w");

		if (f == NULL)
			die("%s: %s", opt.ready_file, strerror(errno));
		fprintf(f, "{\"idling\": %ld, \"failed\": %ld, \"ramp_s\": %.6f}\n",
		    n_idling, n_failed, t_ramp);
		fclose(f);
	}
	/* Hold: idle sessions answer keepalives; a BYE or close is a drop.
	 * Standard input (a pipe) is watched from here on only. */
	if (opt.hold_ms < 0 && epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev) < 0)
		die("stdin cannot be watched: %s", strerror(errno));
	if (opt.hold_ms >= 0)
		i_loop(never, t_ramp + (double)opt.hold_ms / 1000.0, 0);
	else
		i_loop(never, 1e18, 1);
	dropped_in_hold = idling_at_ready - n_idling;

	t_end0 = now();
	for (i = 0; i < opt.sessions; i++) {
		if (iss[i].st != I_IDLING)
			continue;
		if (i_send(&iss[i], "DONE\r\n") == 0) {
			iss[i].st = I_DONE_WAIT;
			n_idling--;
		}
	}
	if (i_loop(end_done, t_end0 + opt.timeout_ms / 1000.0, 0) < 0)
		note_error("end: not done in %d s", opt.timeout_ms / 1000);
	t_end = now();
	printf("{\"mode\": \"idle\", \"sessions\": %ld, \"users\": %zu, "
	    "\"parallel\": %ld, \"idling\": %ld, \"failed\": %ld, "
	    "\"dropped_in_hold\": %ld, \"ended_ok\": %ld, \"ramp_s\": %.6f, "
	    "\"logins_per_s\": %.3f, \"end_s\": %.6f, \"exists_min\": %lu, "
	    "\"exists_max\": %lu, ", opt.sessions, nusers, opt.parallel,
	    idling_at_ready, n_failed, dropped_in_hold, n_ended, t_ramp,
	    t_ramp > 0 ? (double)idling_at_ready / t_ramp : 0.0,
	    t_end - t_end0, exists_max ? exists_min : 0, exists_max);
	json_errors();
	printf("}\n");
	for (i = 0; i < opt.sessions; i++)
		if (iss[i].fd >= 0)
			close(iss[i].fd);
	free(iss);
	return n_ended == opt.sessions ? 0 : -1;
}

/* ------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr, "usage: imap_client idle|fetch|logins --port PORT "
	    "[--host ADDR] [--timeout S] [--parallel K] [--sessions N]\n"
	    "    [--ready-file F] [--hold-ms MS] [--exists N] [--seconds S] "
	    "[--maildir DIR] [--expect-file F] USERS\n"
	    "       imap_client expect --maildir DIR --expect-file F\n"
	    "  USERS: lines \"USER PASSWORD\"\n");
	exit(2);
}

static void
load_users(const char *path)
{
	char line[2048];
	size_t cap = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char u[1024], p[1024];

		if (sscanf(line, "%1023s %1023s", u, p) != 2)
			continue;
		if (strpbrk(u, "\"\\") != NULL || strpbrk(p, "\"\\") != NULL)
			die("%s: user names and passwords without \" or \\, "
			    "please", path);
		if (nusers == cap) {
			cap = cap ? cap * 2 : 64;
			users = xrealloc(users, cap * sizeof(*users));
		}
		users[nusers].name = strdup(u);
		users[nusers].pass = strdup(p);
		if (users[nusers].name == NULL || users[nusers].pass == NULL)
			die("out of memory");
		nusers++;
	}
	fclose(f);
	if (nusers == 0)
		die("no users in %s", path);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "timeout", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "sessions", required_argument, NULL, 'n' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "hold-ms", required_argument, NULL, 'h' },
		{ "exists", required_argument, NULL, 'e' },
		{ "seconds", required_argument, NULL, 's' },
		{ "maildir", required_argument, NULL, 'm' },
		{ "expect-file", required_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, rc;

	clock_gettime(CLOCK_MONOTONIC, &t_zero);
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "idle") == 0)
		opt.mode = MODE_IDLE;
	else if (strcmp(argv[1], "fetch") == 0)
		opt.mode = MODE_FETCH;
	else if (strcmp(argv[1], "logins") == 0)
		opt.mode = MODE_LOGINS;
	else if (strcmp(argv[1], "expect") == 0)
		opt.mode = MODE_EXPECT;
	else
		usage();
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = (int)num_arg(optarg, 1, 65535, "--port"); break;
		case 'H': opt.host = optarg; break;
		case 't':
			opt.timeout_ms = (int)num_arg(optarg, 1, 86400,
			    "--timeout") * 1000;
			break;
		case 'P': opt.parallel = num_arg(optarg, 1, 100000, "--parallel");
			break;
		case 'n': opt.sessions = num_arg(optarg, 1, 1000000, "--sessions");
			break;
		case 'r': opt.ready_file = optarg; break;
		case 'h': opt.hold_ms = num_arg(optarg, 0, 86400000, "--hold-ms");
			break;
		case 'e': opt.exists = num_arg(optarg, 0, 100000000, "--exists");
			break;
		case 's':
			opt.seconds = (double)num_arg(optarg, 1, 86400, "--seconds");
			break;
		case 'm': opt.maildir = optarg; break;
		case 'x': opt.expect_file = optarg; break;
		default: usage();
		}
	}
	if (opt.mode == MODE_EXPECT) {
		if (optind != argc)
			usage();
		return expect_mode() < 0;
	}
	if (optind + 1 != argc || opt.port == 0)
		usage();
	if (opt.mode == MODE_FETCH && opt.maildir == NULL &&
	    opt.expect_file == NULL)
		die("fetch needs --maildir or --expect-file");
	load_users(argv[optind]);
	switch (opt.mode) {
	case MODE_IDLE: rc = idle_mode(); break;
	case MODE_FETCH: rc = fetch_mode(); break;
	default: rc = logins_mode(); break;
	}
	fflush(stdout);
	return rc < 0 ? 1 : 0;
}
