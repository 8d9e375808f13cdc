/* pop3_client: the load generator and checker of bench/pop3-retr.
 *
 * Runs one or more POP3 sessions at once (one thread and one plain TCP
 * connection each, no TLS) against 127.0.0.1:PORT and times them. Each
 * session logs in with USER/PASS, then (mode "retr") issues STAT, LIST and
 * UIDL and retrieves every message with RETR, either one at a time (wait for
 * each reply: "serial") or all RETR commands sent at once and the replies
 * read as they come ("pipelined"; needs PIPELINING in CAPA), then QUIT.
 * Mode "stat" only logs in, issues STAT and QUITs (the untimed first access
 * that lets a server build its indexes).
 *
 * Nothing a server sends is taken on trust. The messages expected in each
 * mailbox are read from a copy of its Maildir before the clock starts (every
 * file in new/ and cur/: size and a 64-bit content hash). Then:
 *   - STAT must count them and their octets exactly;
 *   - LIST and UIDL must have one line per message, UIDs unique, 1-70
 *     printable characters;
 *   - every RETR reply is read to its terminating CRLF.CRLF; every line
 *     must end in CRLF; dot-stuffing is undone (a line starting with "."
 *     loses that "."); the octets must equal LIST's size of that message,
 *     and size and hash must match an expected message not yet seen;
 *   - at the end every expected message must have been received once.
 *
 * Timing: all sessions start together (a barrier, after the expected
 * contents are loaded); per session, times from the start to the greeting,
 * to the end of login, to the end of LIST/UIDL and to the last RETR reply.
 * With --sync-login, sessions that have logged in wait until all have, and
 * then start STAT..RETR together ("released_s"): the login phase (password
 * hashing) and the mail phase are then timed apart.
 * When every session has retrieved everything, the client waits --hold-ms
 * (the runner samples memory while all sessions are open; not timed), then
 * all sessions send QUIT together and the time to the last +OK is timed
 * separately. Output: one JSON object on stdout (times in seconds from the
 * start, which is "t0_monotonic" on CLOCK_MONOTONIC, so that a runner can
 * place its own samples); errors on stderr, exit 1.
 *
 * Usage: pop3_client --port PORT [--host ADDR] [--mode serial|pipelined|stat]
 *                    [--hold-ms N] [--timeout S] [--sync-login] SESSIONS
 * SESSIONS: a file with one line per session: "USER PASSWORD MAILDIR". */
#include <arpa/inet.h>
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#define IN_CAP (256 * 1024)
#define MAX_LINE 4096		/* status and listing lines */

enum mode { MODE_SERIAL, MODE_PIPELINED, MODE_STAT };

static struct {
	const char *host;
	int port;
	enum mode mode;
	long hold_ms;
	int timeout_ms;
	int sync_login;
} opt = { "127.0.0.1", 0, MODE_SERIAL, 0, 120000, 0 };

/* ------------------------------------------------------------------ */
/* A 64-bit content hash, the same over a file and over a received
 * message: words are taken at fixed offsets from the start, so the way
 * the data is split into chunks does not change the result. */

struct hstate {
	uint64_t h;
	uint64_t acc;
	unsigned n;		/* bytes in acc */
	uint64_t len;
};

static inline uint64_t
mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9E3779B97F4A7C15ULL;
	return h ^ (h >> 32);
}

static void
h_init(struct hstate *s)
{
	memset(s, 0, sizeof(*s));
	s->h = 0x243F6A8885A308D3ULL;
}

static void
h_update(struct hstate *s, const unsigned char *p, size_t len)
{
	s->len += len;
	while (s->n > 0 && len > 0) {
		s->acc |= (uint64_t)*p++ << (8 * s->n);
		len--;
		if (++s->n == 8) {
			s->h = mix(s->h, s->acc);
			s->acc = 0;
			s->n = 0;
		}
	}
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);	/* little-endian hosts: same as above */
		s->h = mix(s->h, w);
		p += 8;
		len -= 8;
	}
	while (len > 0) {
		s->acc |= (uint64_t)*p++ << (8 * s->n);
		s->n++;
		len--;
	}
}

static uint64_t
h_final(const struct hstate *s)
{
	uint64_t h = s->h;

	if (s->n > 0)
		h = mix(h, s->acc);
	return mix(h, s->len);
}

/* ------------------------------------------------------------------ */
/* Expected messages of one mailbox. */

struct expect {
	uint64_t size;
	uint64_t hash;
	int seen;
};

struct session {
	int id;
	char *user;
	char *pass;
	char *maildir;
	struct expect *exp;
	size_t nexp;
	uint64_t exp_octets;

	/* results */
	int ok;
	char err[512];
	double t_greeting, t_login, t_lists, t_retr, t_quit_start, t_quit;
	uint64_t messages, octets, wire_in, wire_out;
	unsigned long stat_n;
	int pipelining;
	double *lat;		/* serial RETR: command to last octet, s */
	size_t nlat;
};

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
load_dir(struct session *s, const char *sub, size_t *cap, unsigned char **buf,
    size_t *bufcap)
{
	char path[4096];
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/%s", s->maildir, sub);
	d = opendir(path);
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "pop3_client: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		struct hstate hs;
		struct stat st;
		int fd;
		size_t got = 0;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/%s", s->maildir, sub, e->d_name);
		fd = open(path, O_RDONLY);
		if (fd < 0 || fstat(fd, &st) < 0) {
			fprintf(stderr, "pop3_client: %s: %s\n", path, strerror(errno));
			closedir(d);
			return -1;
		}
		if ((size_t)st.st_size > *bufcap) {
			*bufcap = (size_t)st.st_size * 2;
			*buf = realloc(*buf, *bufcap);
			if (*buf == NULL) {
				perror("pop3_client: realloc");
				exit(1);
			}
		}
		while (got < (size_t)st.st_size) {
			ssize_t r = read(fd, *buf + got, (size_t)st.st_size - got);

			if (r <= 0) {
				fprintf(stderr, "pop3_client: read %s failed\n", path);
				close(fd);
				closedir(d);
				return -1;
			}
			got += (size_t)r;
		}
		close(fd);
		h_init(&hs);
		h_update(&hs, *buf, got);
		if (s->nexp == *cap) {
			*cap = *cap ? *cap * 2 : 256;
			s->exp = realloc(s->exp, *cap * sizeof(*s->exp));
			if (s->exp == NULL) {
				perror("pop3_client: realloc");
				exit(1);
			}
		}
		s->exp[s->nexp].size = got;
		s->exp[s->nexp].hash = h_final(&hs);
		s->exp[s->nexp].seen = 0;
		s->exp_octets += got;
		s->nexp++;
	}
	closedir(d);
	return 0;
}

static int
load_expected(struct session *s)
{
	size_t cap = 0, bufcap = 0;
	unsigned char *buf = NULL;
	int r;

	r = load_dir(s, "new", &cap, &buf, &bufcap);
	if (r == 0)
		r = load_dir(s, "cur", &cap, &buf, &bufcap);
	free(buf);
	if (r == 0 && s->nexp > 0)
		qsort(s->exp, s->nexp, sizeof(*s->exp), cmp_expect);
	return r;
}

/* Marks an unseen expected message of this size and hash as seen. */
static int
match_expected(struct session *s, uint64_t size, uint64_t hash)
{
	size_t lo = 0, hi = s->nexp;
	struct expect key = { size, hash, 0 };

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp_expect(&s->exp[mid], &key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < s->nexp && cmp_expect(&s->exp[lo], &key) == 0; lo++) {
		if (!s->exp[lo].seen) {
			s->exp[lo].seen = 1;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Time. */

static struct timespec t_zero;

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t_zero.tv_sec) +
	    (double)(t.tv_nsec - t_zero.tv_nsec) / 1e9;
}

/* ------------------------------------------------------------------ */
/* A connection: non-blocking socket; commands are queued and written
 * whenever the socket takes them, also while waiting for replies. */

struct conn {
	int fd;
	struct session *s;
	char *in;
	size_t start, end;
	char *out;
	size_t out_len, out_off, out_cap;
	char line[MAX_LINE + 1];
};

static int __attribute__((format(printf, 2, 3)))
fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (s->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(s->err, sizeof(s->err), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
flush_out(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
		    MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			return fail(c->s, "send: %s", strerror(errno));
		}
		c->out_off += (size_t)w;
		c->s->wire_out += (uint64_t)w;
	}
	c->out_off = c->out_len = 0;
	return 0;
}

static int __attribute__((format(printf, 2, 3)))
queue_cmd(struct conn *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = c->out_cap - c->out_len;

		va_start(ap, fmt);
		n = vsnprintf(c->out + c->out_len, room, fmt, ap);
		va_end(ap);
		if (n < 0)
			return fail(c->s, "vsnprintf failed");
		if ((size_t)n < room)
			break;
		c->out_cap = c->out_cap * 2 + (size_t)n + 1;
		c->out = realloc(c->out, c->out_cap);
		if (c->out == NULL) {
			perror("pop3_client: realloc");
			exit(1);
		}
	}
	c->out_len += (size_t)n;
	return flush_out(c);
}

/* Reads more input; keeps unconsumed bytes (moved to the front). */
static int
fill(struct conn *c)
{
	if (c->start == c->end) {
		c->start = c->end = 0;
	} else if (c->end == IN_CAP) {
		if (c->start == 0)
			return fail(c->s, "line longer than %d octets", IN_CAP);
		memmove(c->in, c->in + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	for (;;) {
		struct pollfd p = { c->fd, POLLIN, 0 };
		ssize_t r;
		int pr;

		if (c->out_off < c->out_len)
			p.events |= POLLOUT;
		pr = poll(&p, 1, opt.timeout_ms);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return fail(c->s, "poll: %s", strerror(errno));
		}
		if (pr == 0)
			return fail(c->s, "no data from the server for %d s",
			    opt.timeout_ms / 1000);
		if ((p.revents & POLLOUT) && flush_out(c) < 0)
			return -1;
		if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		r = recv(c->fd, c->in + c->end, IN_CAP - c->end, 0);
		if (r < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return fail(c->s, "recv: %s", strerror(errno));
		}
		if (r == 0)
			return fail(c->s, "connection closed by the server");
		c->end += (size_t)r;
		c->s->wire_in += (uint64_t)r;
		return 0;
	}
}

/* One CRLF-terminated line into c->line (without CRLF). */
static int
read_line(struct conn *c)
{
	for (;;) {
		char *p = c->in + c->start;
		char *nl = memchr(p, '\n', c->end - c->start);

		if (nl != NULL) {
			size_t len = (size_t)(nl - p);

			if (len == 0 || nl[-1] != '\r')
				return fail(c->s, "line without CRLF");
			len--;
			if (len > MAX_LINE)
				return fail(c->s, "reply line of %zu octets", len);
			memcpy(c->line, p, len);
			c->line[len] = '\0';
			c->start += (size_t)(nl - p) + 1;
			return 0;
		}
		if (fill(c) < 0)
			return -1;
	}
}

static int
expect_ok(struct conn *c, const char *what)
{
	if (read_line(c) < 0)
		return -1;
	if (strncmp(c->line, "+OK", 3) != 0)
		return fail(c->s, "%s: %s", what, c->line);
	return 0;
}

/* The body of a multi-line reply: unstuffs lines, checks CRLF, hashes;
 * stops after the terminating ".". */
static int
read_body(struct conn *c, uint64_t *size, uint64_t *hash)
{
	struct hstate hs;
	int bol = 1;
	int prev_cr = 0;

	h_init(&hs);
	for (;;) {
		unsigned char *p;
		size_t avail;
		unsigned char *nl;

		if (c->start == c->end && fill(c) < 0)
			return -1;
		p = (unsigned char *)c->in + c->start;
		avail = c->end - c->start;
		if (bol) {
			if (p[0] == '.') {
				if (avail < 3) {
					if (fill(c) < 0)
						return -1;
					continue;
				}
				if (p[1] == '\r' && p[2] == '\n') {
					c->start += 3;
					*size = hs.len;
					*hash = h_final(&hs);
					return 0;
				}
				c->start++;	/* a stuffed "." */
				p++;
				avail--;
				if (avail == 0) {
					bol = 0;
					prev_cr = 0;
					continue;
				}
			}
			bol = 0;
		}
		nl = memchr(p, '\n', avail);
		if (nl != NULL) {
			size_t seg = (size_t)(nl - p) + 1;

			if (seg >= 2 ? p[seg - 2] != '\r' : !prev_cr)
				return fail(c->s, "bare LF in a message");
			h_update(&hs, p, seg);
			c->start += seg;
			bol = 1;
			prev_cr = 0;
		} else {
			h_update(&hs, p, avail);
			prev_cr = p[avail - 1] == '\r';
			c->start = c->end;
		}
	}
}

/* A multi-line listing ("i value" lines); returns the number of lines and
 * stores up to n values (as numbers for LIST, checks for UIDL). */
struct uid {
	char s[72];
};

static int
cmp_uid(const void *a, const void *b)
{
	return strcmp(((const struct uid *)a)->s, ((const struct uid *)b)->s);
}

static int
read_list(struct conn *c, unsigned long n, uint64_t *sizes)
{
	unsigned long i = 0;

	for (;;) {
		unsigned long idx;
		unsigned long long v;
		char *end;

		if (read_line(c) < 0)
			return -1;
		if (strcmp(c->line, ".") == 0)
			break;
		idx = strtoul(c->line, &end, 10);
		if (*end != ' ')
			return fail(c->s, "LIST line: %s", c->line);
		v = strtoull(end + 1, &end, 10);
		if (*end != '\0' || idx != i + 1 || i >= n)
			return fail(c->s, "LIST line %lu: %s", i + 1, c->line);
		sizes[i++] = v;
	}
	if (i != n)
		return fail(c->s, "LIST: %lu lines, STAT said %lu", i, n);
	return 0;
}

static int
read_uidl(struct conn *c, unsigned long n)
{
	struct uid *u = calloc(n ? n : 1, sizeof(*u));
	unsigned long i = 0;
	int r = 0;

	if (u == NULL) {
		perror("pop3_client: calloc");
		exit(1);
	}
	for (;;) {
		unsigned long idx;
		char *end;
		size_t len;

		if (read_line(c) < 0) {
			r = -1;
			break;
		}
		if (strcmp(c->line, ".") == 0)
			break;
		idx = strtoul(c->line, &end, 10);
		len = *end == ' ' ? strlen(end + 1) : 0;
		if (idx != i + 1 || i >= n || len < 1 || len > 70) {
			r = fail(c->s, "UIDL line %lu: %s", i + 1, c->line);
			break;
		}
		for (size_t k = 1; k <= len; k++) {
			if (end[k] < 0x21 || end[k] > 0x7e) {
				r = fail(c->s, "UIDL %lu: not printable", i + 1);
				break;
			}
		}
		if (r < 0)
			break;
		memcpy(u[i].s, end + 1, len + 1);
		i++;
	}
	if (r == 0 && i != n)
		r = fail(c->s, "UIDL: %lu lines, STAT said %lu", i, n);
	if (r == 0 && n > 1) {
		qsort(u, n, sizeof(*u), cmp_uid);
		for (i = 1; i < n; i++) {
			if (strcmp(u[i - 1].s, u[i].s) == 0) {
				r = fail(c->s, "UIDL: %s given twice", u[i].s);
				break;
			}
		}
	}
	free(u);
	return r;
}

static int
retr_reply(struct conn *c, unsigned long i, const uint64_t *sizes)
{
	uint64_t size = 0, hash = 0;

	if (read_line(c) < 0)
		return -1;
	if (strncmp(c->line, "+OK", 3) != 0)
		return fail(c->s, "RETR %lu: %s", i, c->line);
	if (read_body(c, &size, &hash) < 0)
		return -1;
	if (size != sizes[i - 1])
		return fail(c->s, "RETR %lu: %" PRIu64 " octets, LIST said %" PRIu64,
		    i, size, sizes[i - 1]);
	if (match_expected(c->s, size, hash) < 0)
		return fail(c->s, "RETR %lu: %" PRIu64 " octets that match no "
		    "message of the mailbox (or one already received)", i, size);
	c->s->messages++;
	c->s->octets += size;
	return 0;
}

static int
connect_to(struct conn *c)
{
	struct sockaddr_in sa;
	int one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		return fail(c->s, "bad address %s", opt.host);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return fail(c->s, "socket: %s", strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fail(c->s, "connect: %s", strerror(errno));
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) < 0)
		return fail(c->s, "fcntl: %s", strerror(errno));
	return 0;
}

/* Connect, CAPA, USER/PASS. */
static int
session_login(struct conn *c)
{
	struct session *s = c->s;

	if (connect_to(c) < 0 || expect_ok(c, "greeting") < 0)
		return -1;
	s->t_greeting = now();
	if (queue_cmd(c, "CAPA\r\n") < 0 || expect_ok(c, "CAPA") < 0)
		return -1;
	for (;;) {
		if (read_line(c) < 0)
			return -1;
		if (strcmp(c->line, ".") == 0)
			break;
		if (strcasecmp(c->line, "PIPELINING") == 0)
			s->pipelining = 1;
	}
	if (queue_cmd(c, "USER %s\r\n", s->user) < 0 || expect_ok(c, "USER") < 0)
		return -1;
	if (queue_cmd(c, "PASS %s\r\n", s->pass) < 0 || expect_ok(c, "PASS") < 0)
		return -1;
	s->t_login = now();
	return 0;
}

/* STAT, LIST, UIDL and every RETR. */
static int
session_mail(struct conn *c)
{
	struct session *s = c->s;
	unsigned long n, i;
	unsigned long long octets;
	uint64_t *sizes;
	int r = 0;

	if (queue_cmd(c, "STAT\r\n") < 0 || expect_ok(c, "STAT") < 0)
		return -1;
	if (sscanf(c->line, "+OK %lu %llu", &n, &octets) != 2)
		return fail(s, "STAT: %s", c->line);
	s->stat_n = n;
	if (n != s->nexp || octets != s->exp_octets)
		return fail(s, "STAT: %lu messages (%llu octets), the mailbox has "
		    "%zu (%" PRIu64 " octets)", n, octets, s->nexp, s->exp_octets);
	if (opt.mode == MODE_STAT) {
		s->t_lists = s->t_retr = now();
		return 0;
	}
	sizes = calloc(n ? n : 1, sizeof(*sizes));
	if (sizes == NULL) {
		perror("pop3_client: calloc");
		exit(1);
	}
	if (queue_cmd(c, "LIST\r\n") < 0 || expect_ok(c, "LIST") < 0 ||
	    read_list(c, n, sizes) < 0 ||
	    queue_cmd(c, "UIDL\r\n") < 0 || expect_ok(c, "UIDL") < 0 ||
	    read_uidl(c, n) < 0) {
		free(sizes);
		return -1;
	}
	s->t_lists = now();
	if (opt.mode == MODE_PIPELINED) {
		if (!s->pipelining) {
			free(sizes);
			return fail(s, "PIPELINING is not in CAPA");
		}
		for (i = 1; i <= n && r == 0; i++)
			r = queue_cmd(c, "RETR %lu\r\n", i);
		for (i = 1; i <= n && r == 0; i++)
			r = retr_reply(c, i, sizes);
	} else {
		s->lat = calloc(n ? n : 1, sizeof(*s->lat));
		if (s->lat == NULL) {
			perror("pop3_client: calloc");
			exit(1);
		}
		for (i = 1; i <= n && r == 0; i++) {
			double t = now();

			r = queue_cmd(c, "RETR %lu\r\n", i);
			if (r == 0)
				r = retr_reply(c, i, sizes);
			s->lat[s->nlat++] = now() - t;
		}
	}
	free(sizes);
	if (r < 0)
		return -1;
	s->t_retr = now();
	for (i = 0; i < s->nexp; i++)
		if (!s->exp[i].seen)
			return fail(s, "a message of %" PRIu64 " octets was never "
			    "received", s->exp[i].size);
	return 0;
}

static pthread_barrier_t b_start, b_login, b_retrieved, b_quit;
static double t_release;	/* --sync-login: when the mail phase started */

static void *
session_thread(void *arg)
{
	struct conn c;
	struct session *s = arg;

	memset(&c, 0, sizeof(c));
	c.fd = -1;
	c.s = s;
	c.in = malloc(IN_CAP);
	c.out_cap = 64 * 1024;
	c.out = malloc(c.out_cap);
	if (c.in == NULL || c.out == NULL) {
		perror("pop3_client: malloc");
		exit(1);
	}
	pthread_barrier_wait(&b_start);
	s->ok = session_login(&c) == 0;
	if (opt.sync_login)
		pthread_barrier_wait(&b_login);
	if (s->ok)
		s->ok = session_mail(&c) == 0;
	pthread_barrier_wait(&b_retrieved);
	pthread_barrier_wait(&b_quit);
	if (s->ok) {
		s->t_quit_start = now();
		if (queue_cmd(&c, "QUIT\r\n") < 0 || expect_ok(&c, "QUIT") < 0)
			s->ok = 0;
		s->t_quit = now();
	}
	if (c.fd >= 0)
		close(c.fd);
	free(c.in);
	free(c.out);
	return NULL;
}

/* ------------------------------------------------------------------ */

static void
json_str(const char *v)
{
	putchar('"');
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			printf("\\u%04x", (unsigned char)*v);
		else
			putchar(*v);
	}
	putchar('"');
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
usage(void)
{
	fprintf(stderr, "usage: pop3_client --port PORT [--host ADDR] "
	    "[--mode serial|pipelined|stat] [--hold-ms N] [--timeout S] "
	    "[--sync-login] SESSIONS\n  SESSIONS: lines \"USER PASSWORD MAILDIR\"\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "host", required_argument, NULL, 'H' },
		{ "mode", required_argument, NULL, 'm' },
		{ "hold-ms", required_argument, NULL, 'h' },
		{ "timeout", required_argument, NULL, 't' },
		{ "sync-login", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const mode_names[] = { "serial", "pipelined", "stat" };
	struct session *ss = NULL;
	size_t n = 0, cap = 0, i;
	pthread_t *th;
	FILE *f;
	char line[8192];
	int ch, failed = 0;
	double t_retr_all = 0, t_login_all = 0, t_quit0 = 1e30, t_quit_all = 0;
	double t_lists_all = 0;
	uint64_t messages = 0, octets = 0, wire_in = 0, wire_out = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.port = atoi(optarg); break;
		case 'H': opt.host = optarg; break;
		case 'h': opt.hold_ms = atol(optarg); break;
		case 't': opt.timeout_ms = atoi(optarg) * 1000; break;
		case 's': opt.sync_login = 1; break;
		case 'm':
			if (strcmp(optarg, "serial") == 0)
				opt.mode = MODE_SERIAL;
			else if (strcmp(optarg, "pipelined") == 0)
				opt.mode = MODE_PIPELINED;
			else if (strcmp(optarg, "stat") == 0)
				opt.mode = MODE_STAT;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (optind + 1 != argc || opt.port <= 0 || opt.port > 65535)
		usage();
	f = fopen(argv[optind], "r");
	if (f == NULL) {
		perror(argv[optind]);
		return 2;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char u[1024], p[1024], m[4096];

		if (sscanf(line, "%1023s %1023s %4095s", u, p, m) != 3)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			ss = realloc(ss, cap * sizeof(*ss));
			if (ss == NULL) {
				perror("pop3_client: realloc");
				return 1;
			}
		}
		memset(&ss[n], 0, sizeof(ss[n]));
		ss[n].id = (int)n;
		ss[n].user = strdup(u);
		ss[n].pass = strdup(p);
		ss[n].maildir = strdup(m);
		n++;
	}
	fclose(f);
	if (n == 0) {
		fprintf(stderr, "pop3_client: no sessions in %s\n", argv[optind]);
		return 2;
	}
	for (i = 0; i < n; i++)
		if (load_expected(&ss[i]) < 0)
			return 1;

	th = calloc(n, sizeof(*th));
	if (th == NULL ||
	    pthread_barrier_init(&b_start, NULL, (unsigned)n + 1) != 0 ||
	    pthread_barrier_init(&b_login, NULL, (unsigned)n + 1) != 0 ||
	    pthread_barrier_init(&b_retrieved, NULL, (unsigned)n + 1) != 0 ||
	    pthread_barrier_init(&b_quit, NULL, (unsigned)n + 1) != 0) {
		fprintf(stderr, "pop3_client: out of memory\n");
		return 1;
	}
	for (i = 0; i < n; i++) {
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&th[i], &a, session_thread, &ss[i]) != 0) {
			fprintf(stderr, "pop3_client: pthread_create failed\n");
			return 1;
		}
		pthread_attr_destroy(&a);
	}
	clock_gettime(CLOCK_MONOTONIC, &t_zero);
	pthread_barrier_wait(&b_start);
	if (opt.sync_login) {
		/* Released when the last session has logged in. */
		pthread_barrier_wait(&b_login);
		t_release = now();
	}
	pthread_barrier_wait(&b_retrieved);
	/* Every session has retrieved everything and is still open. */
	fprintf(stderr, "pop3_client: retrieved, holding %ld ms\n", opt.hold_ms);
	if (opt.hold_ms > 0) {
		struct timespec ts = { opt.hold_ms / 1000,
			(opt.hold_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
	}
	pthread_barrier_wait(&b_quit);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);

	for (i = 0; i < n; i++) {
		struct session *s = &ss[i];

		if (!s->ok) {
			fprintf(stderr, "pop3_client: session %zu (%s): %s\n", i,
			    s->user, s->err[0] ? s->err : "failed");
			failed++;
			continue;
		}
		if (s->t_login > t_login_all)
			t_login_all = s->t_login;
		if (s->t_lists > t_lists_all)
			t_lists_all = s->t_lists;
		if (s->t_retr > t_retr_all)
			t_retr_all = s->t_retr;
		if (s->t_quit_start < t_quit0)
			t_quit0 = s->t_quit_start;
		if (s->t_quit > t_quit_all)
			t_quit_all = s->t_quit;
		messages += s->messages;
		octets += s->octets;
		wire_in += s->wire_in;
		wire_out += s->wire_out;
	}
	{
		size_t nl = 0, k = 0;
		double *all;

		for (i = 0; i < n; i++)
			nl += ss[i].nlat;
		all = calloc(nl ? nl : 1, sizeof(*all));
		if (all == NULL) {
			perror("pop3_client: calloc");
			return 1;
		}
		for (i = 0; i < n; i++)
			for (size_t j = 0; j < ss[i].nlat; j++)
				all[k++] = ss[i].lat[j];
		qsort(all, nl, sizeof(*all), cmp_double);
		/* Serial RETR round trips, all sessions: p50, p90, p99, max (ms). */
		printf("{\"retr_latency_ms\": [%.3f, %.3f, %.3f, %.3f], ",
		    nl ? all[nl / 2] * 1e3 : 0.0, nl ? all[nl * 9 / 10] * 1e3 : 0.0,
		    nl ? all[nl * 99 / 100] * 1e3 : 0.0, nl ? all[nl - 1] * 1e3 : 0.0);
		free(all);
	}
	printf("\"mode\": \"%s\", \"sessions\": %zu, \"failed\": %d, "
	    "\"messages\": %" PRIu64 ", \"octets\": %" PRIu64 ", "
	    "\"wire_in\": %" PRIu64 ", \"wire_out\": %" PRIu64 ", "
	    "\"logged_in_s\": %.6f, \"listed_s\": %.6f, \"retrieved_s\": %.6f, "
	    "\"quit_s\": %.6f, \"wall_s\": %.6f, \"released_s\": %.6f, "
	    "\"quit_end_s\": %.6f, \"t0_monotonic\": %.6f, \"per_session\": [",
	    mode_names[opt.mode], n, failed, messages, octets, wire_in, wire_out,
	    t_login_all, t_lists_all, t_retr_all,
	    failed == (int)n ? 0.0 : t_quit_all - t_quit0,
	    failed == (int)n ? 0.0 : t_retr_all + (t_quit_all - t_quit0),
	    opt.sync_login ? t_release : t_login_all, t_quit_all,
	    (double)t_zero.tv_sec + (double)t_zero.tv_nsec / 1e9);
	for (i = 0; i < n; i++) {
		struct session *s = &ss[i];

		printf("%s{\"user\": ", i ? ", " : "");
		json_str(s->user);
		printf(", \"ok\": %s, \"greeting_s\": %.6f, \"login_s\": %.6f, "
		    "\"lists_s\": %.6f, \"retr_s\": %.6f, \"quit_s\": %.6f, "
		    "\"messages\": %" PRIu64 ", \"octets\": %" PRIu64 ", "
		    "\"pipelining\": %s, \"error\": ",
		    s->ok ? "true" : "false", s->t_greeting, s->t_login,
		    s->t_lists, s->t_retr, s->ok ? s->t_quit - s->t_quit_start : 0.0,
		    s->messages, s->octets, s->pipelining ? "true" : "false");
		json_str(s->err);
		putchar('}');
	}
	printf("]}\n");
	return failed ? 1 : 0;
}
