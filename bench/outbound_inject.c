/* outbound_inject: the load generator of bench/outbound.
 *
 * Like Postfix's smtp-source (one new connection per message, no
 * pipelining: connect, 220, EHLO, MAIL, RCPT, DATA, 354, message, 250,
 * QUIT, 221), but message I goes to user@dN.test with N = I % DOMAINS + 1,
 * so that consecutive messages go to different domains (smtp-source has
 * one recipient domain per run). SESSIONS threads send at once, each
 * taking the next message number when it is done with one.
 *
 * Message I: From, To, Subject, Date, Message-ID and "X-Bench-Seq: I"
 * (what outbound_sink counts), an empty line, then exactly SIZE octets of
 * body in lines of 78 characters + CRLF (the last one shorter).
 *
 * Output on stdout, one line, times as Unix seconds (CLOCK_REALTIME):
 *   start=T0 accepted=T_LAST_250 end=T_LAST_221 sent=N
 * T0 is taken just before the first connect. Any unexpected reply or
 * connection error: a message on stderr, all threads stop, exit 1.
 *
 * Usage: outbound_inject --port P [--host 127.0.0.1] [-s SESSIONS]
 *          [-m MESSAGES] [-l SIZE] [--domains N] [--from ADDR]
 *          [--helo NAME] */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1", *from = "sender@bench-client.test",
    *helo = "bench-client.test";
static int port, sessions = 20, domains = 100;
static long messages = 10000, size = 4096;
static atomic_long next_msg;
static atomic_int failed;
static double t_accepted, t_end;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *body;
static size_t body_len;
static char datestr[64];

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct rd {
	int fd;
	size_t len, off;
	char buf[4096];
};

/* Reads one reply (all its lines); returns its code, -1 on error. */
static int
reply(struct rd *r, char *last, size_t lastsz)
{
	char line[1024];
	size_t ll = 0;

	for (;;) {
		if (r->off == r->len) {
			ssize_t n = read(r->fd, r->buf, sizeof(r->buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				snprintf(last, lastsz, "%s", n == 0 ?
				    "connection closed" : strerror(errno));
				return -1;
			}
			r->len = (size_t)n;
			r->off = 0;
		}
		char ch = r->buf[r->off++];
		if (ll < sizeof(line) - 1)
			line[ll++] = ch;
		if (ch != '\n')
			continue;
		line[ll] = '\0';
		while (ll > 0 && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
			line[--ll] = '\0';
		snprintf(last, lastsz, "%s", line);
		if (ll < 3)
			return -1;
		if (ll == 3 || line[3] == ' ')
			return atoi(line);
		ll = 0;		/* "250-...": more lines follow */
	}
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
step(struct rd *r, long i, const char *cmd, int want, const char *what)
{
	char last[1100];

	if (cmd != NULL && send_all(r->fd, cmd, strlen(cmd)) < 0) {
		fprintf(stderr, "outbound_inject: message %ld: sending %s: %s\n",
		    i, what, strerror(errno));
		return -1;
	}
	int code = reply(r, last, sizeof(last));
	if (code / 100 != want / 100) {
		fprintf(stderr, "outbound_inject: message %ld: %s: %s\n", i, what,
		    last);
		return -1;
	}
	return 0;
}

static int
one(long i)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };
	struct rd r = { .fd = -1 };
	char rcpt[128], cmd[512], *msg = NULL;
	int rc = -1, one_ = 1;
	long dom = i % domains + 1;

	inet_pton(AF_INET, host, &sa.sin_addr);
	snprintf(rcpt, sizeof(rcpt), "user%ld@d%ld.test", i / domains, dom);
	if ((r.fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(r.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "outbound_inject: message %ld: connect: %s\n", i,
		    strerror(errno));
		goto out;
	}
	setsockopt(r.fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
	struct timeval tv = { 120, 0 };
	setsockopt(r.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (step(&r, i, NULL, 220, "greeting") < 0)
		goto out;
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", helo);
	if (step(&r, i, cmd, 250, "EHLO") < 0)
		goto out;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", from);
	if (step(&r, i, cmd, 250, "MAIL") < 0)
		goto out;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", rcpt);
	if (step(&r, i, cmd, 250, "RCPT") < 0)
		goto out;
	if (step(&r, i, "DATA\r\n", 354, "DATA") < 0)
		goto out;
	char hdr[1024];
	int hl = snprintf(hdr, sizeof(hdr),
	    "From: <%s>\r\nTo: <%s>\r\nSubject: outbound benchmark %ld\r\n"
	    "Date: %s\r\nMessage-ID: <%ld.%ld@%s>\r\nX-Bench-Seq: %ld\r\n\r\n",
	    from, rcpt, i, datestr, i, (long)getpid(), helo, i);
	msg = malloc((size_t)hl + body_len + 3);
	if (msg == NULL)
		goto out;
	memcpy(msg, hdr, (size_t)hl);
	memcpy(msg + hl, body, body_len);
	memcpy(msg + hl + body_len, ".\r\n", 3);
	if (send_all(r.fd, msg, (size_t)hl + body_len + 3) < 0) {
		fprintf(stderr, "outbound_inject: message %ld: sending the message: "
		    "%s\n", i, strerror(errno));
		goto out;
	}
	if (step(&r, i, NULL, 250, "end of data") < 0)
		goto out;
	double t = now();
	if (step(&r, i, "QUIT\r\n", 221, "QUIT") < 0)
		goto out;
	double t2 = now();
	pthread_mutex_lock(&lock);
	if (t > t_accepted)
		t_accepted = t;
	if (t2 > t_end)
		t_end = t2;
	pthread_mutex_unlock(&lock);
	rc = 0;
out:
	free(msg);
	if (r.fd >= 0)
		close(r.fd);
	return rc;
}

static void *
worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&failed)) {
		long i = atomic_fetch_add(&next_msg, 1);
		if (i >= messages)
			break;
		if (one(i) < 0)
			atomic_store(&failed, 1);
	}
	return NULL;
}

static void
usage(void)
{
	fprintf(stderr, "usage: outbound_inject --port P [--host IP] [-s N] "
	    "[-m N] [-l SIZE] [--domains N] [--from ADDR] [--helo NAME]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		const char *a = argv[i], *v = argv[++i];
		if (strcmp(a, "--port") == 0)
			port = atoi(v);
		else if (strcmp(a, "--host") == 0)
			host = v;
		else if (strcmp(a, "-s") == 0)
			sessions = atoi(v);
		else if (strcmp(a, "-m") == 0)
			messages = atol(v);
		else if (strcmp(a, "-l") == 0)
			size = atol(v);
		else if (strcmp(a, "--domains") == 0)
			domains = atoi(v);
		else if (strcmp(a, "--from") == 0)
			from = v;
		else if (strcmp(a, "--helo") == 0)
			helo = v;
		else
			usage();
	}
	if (port <= 0 || sessions < 1 || messages < 1 || size < 0 || domains < 1)
		usage();

	/* The body: lines of 78 characters + CRLF, exactly size octets. */
	body = malloc((size_t)size + 1);
	if (body == NULL)
		return 1;
	for (long o = 0; o < size;) {
		long left = size - o;
		if (left <= 2) {		/* too short for text + CRLF */
			memcpy(body + o, "\r\n", (size_t)left);
			o += left;
			continue;
		}
		long n = left >= 83 || left == 80 ? 78 : left > 80 ? 70 : left - 2;
		for (long k = 0; k < n; k++)
			body[o + k] = (char)('a' + (o / 80 + k) % 26);
		body[o + n] = '\r';
		body[o + n + 1] = '\n';
		o += n + 2;
	}
	body_len = (size_t)size;
	time_t tt = time(NULL);
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(datestr, sizeof(datestr), "%a, %d %b %Y %H:%M:%S +0000", &tm);

	pthread_t *th = calloc((size_t)sessions, sizeof(*th));
	if (th == NULL)
		return 1;
	double t0 = now();
	for (int i = 0; i < sessions; i++)
		if (pthread_create(&th[i], NULL, worker, NULL) != 0) {
			fprintf(stderr, "outbound_inject: pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < sessions; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&failed))
		return 1;
	printf("start=%.6f accepted=%.6f end=%.6f sent=%ld\n", t0, t_accepted,
	    t_end, messages);
	return 0;
}
