/* outbound_sink: the loopback "Internet" of bench/outbound.
 *
 * One single-threaded epoll process that plays every remote mail server of
 * the benchmark, and (optionally) their DNS:
 *
 *   - SMTP sinks: for domain N (1..DOMAINS) a listener on 127.0.0.(FIRST+N-1)
 *     port PORT, all in this process. Each greets, answers EHLO with
 *     PIPELINING, SIZE and 8BITMIME (no STARTTLS, no CHUNKING), accepts
 *     every MAIL and RCPT, takes DATA and answers 250 once the final "."
 *     has arrived. Commands may be pipelined.
 *   - DNS (--dns-port): UDP on 127.0.0.1, authoritative answers computed
 *     from the numbering: dN.test MX 10 mx.dN.test, mx.dN.test A
 *     127.0.0.(FIRST+N-1), every AAAA (and anything else of those names)
 *     NODATA, every other name NXDOMAIN. TTL --ttl.
 *
 * Checks: every message must carry "X-Bench-Seq: I" (0 <= I < TARGET) in
 * its header, written by outbound_inject; each I is counted once (a second
 * copy is a duplicate). Every RCPT must be for the domain whose address the
 * connection came in on (otherwise "misrouted").
 *
 * Output on stdout, one line each, times as Unix seconds (CLOCK_REALTIME,
 * microseconds):
 *   ready
 *   p UNIQUE TOTAL T_LAST           progress, every 100 ms while it changes
 *   done UNIQUE T_FIRST T_LAST      once all TARGET sequence numbers are in;
 *                                   T_LAST is when the 250 for the last of
 *                                   them was written
 *   final key=value ...             on SIGTERM/SIGINT, then exit 0 (max_open:
 *                                   most connections open at once, in all and
 *                                   to one domain)
 *
 * Usage: outbound_sink --port P [--first 2] [--domains 100] [--target N]
 *                      [--dns-port D] [--ttl 300] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INBUF (64 * 1024)
#define MAXDOM 250

struct conn {
	int fd;
	int dom;		/* 1..domains: the listener it came in on */
	int data;		/* inside DATA */
	int in_header;
	int line_start;		/* the next byte begins a line */
	int quit;
	long seq;		/* X-Bench-Seq of this message, -1: none */
	unsigned rcpts;
	size_t inlen;
	char in[INBUF];
	char *out;
	size_t outlen, outcap;
};

enum { K_LISTEN, K_DNS, K_CONN };
struct tag { int kind; int dom; int fd; struct conn *c; };

static volatile sig_atomic_t stop;
static int ep;
static int domains = 100, first = 2, port, dns_port, ttl = 300;
static long target = 10000;
static unsigned char *seen;
static unsigned long long bytes;
static unsigned long msgs, uniq, dups, noseq, misrouted, rcpts, conns,
    dnsq, dns_nx, dns_nodata, badcmd;
static unsigned long per_dom[MAXDOM + 1];
static int open_dom[MAXDOM + 1], max_open_dom;
static int open_conns, max_open;
static double t_first, t_last;
static int done_said;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	fprintf(stderr, "outbound_sink: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
out_add(struct conn *c, const char *s)
{
	size_t n = strlen(s);

	if (c->outlen + n > c->outcap) {
		c->outcap = (c->outlen + n) * 2 + 256;
		c->out = realloc(c->out, c->outcap);
		if (c->out == NULL)
			die("realloc");
	}
	memcpy(c->out + c->outlen, s, n);
	c->outlen += n;
}

static void
conn_close(struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	open_dom[c->dom]--;
	free(c->out);
	free(c);
	open_conns--;
}

/* Writes what is pending; 0: all written, 1: more to write, -1: closed. */
static int
flush(struct conn *c, struct tag *tg)
{
	size_t off = 0;

	while (off < c->outlen) {
		ssize_t w = write(c->fd, c->out + off, c->outlen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	memmove(c->out, c->out + off, c->outlen - off);
	c->outlen -= off;
	struct epoll_event ev = { .events = EPOLLIN | (c->outlen ? EPOLLOUT : 0),
	    .data.ptr = tg };
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return c->outlen ? 1 : 0;
}

static int
domain_of(const char *addr, size_t len)
{
	/* ...@dN.test> */
	const char *at = memchr(addr, '@', len);
	int n = 0;

	if (at == NULL || (size_t)(at - addr) + 2 >= len ||
	    (at[1] != 'd' && at[1] != 'D'))
		return -1;
	const char *p = at + 2, *end = addr + len;
	while (p < end && *p >= '0' && *p <= '9' && n < 100000)
		n = n * 10 + (*p++ - '0');
	if (end - p < 5 || strncasecmp(p, ".test", 5) != 0)
		return -1;
	return n;
}

static void
end_of_message(struct conn *c)
{
	double t = now();

	msgs++;
	if (c->seq < 0)
		noseq++;
	else if (seen[c->seq])
		dups++;
	else {
		seen[c->seq] = 1;
		uniq++;
		if (t_first == 0)
			t_first = t;
		t_last = t;
	}
	per_dom[c->dom]++;
	out_add(c, "250 2.0.0 Ok: queued\r\n");
	if (uniq == (unsigned long)target && !done_said) {
		done_said = 1;
		printf("done %lu %.6f %.6f\n", uniq, t_first, t_last);
		fflush(stdout);
	}
}

static void
command(struct conn *c, char *line, size_t len)
{
	char buf[256];

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	line[len] = '\0';
	if (strncasecmp(line, "EHLO", 4) == 0) {
		snprintf(buf, sizeof(buf), "250-mx.d%d.test\r\n250-PIPELINING\r\n"
		    "250-SIZE 104857600\r\n250 8BITMIME\r\n", c->dom);
		out_add(c, buf);
	} else if (strncasecmp(line, "HELO", 4) == 0) {
		snprintf(buf, sizeof(buf), "250 mx.d%d.test\r\n", c->dom);
		out_add(c, buf);
	} else if (strncasecmp(line, "MAIL", 4) == 0) {
		c->rcpts = 0;
		out_add(c, "250 2.1.0 Ok\r\n");
	} else if (strncasecmp(line, "RCPT", 4) == 0) {
		if (domain_of(line, len) != c->dom)
			misrouted++;
		c->rcpts++;
		rcpts++;
		out_add(c, "250 2.1.5 Ok\r\n");
	} else if (strncasecmp(line, "DATA", 4) == 0) {
		if (c->rcpts == 0) {
			out_add(c, "503 5.5.1 Error: need RCPT command\r\n");
			return;
		}
		c->data = 1;
		c->in_header = 1;
		c->line_start = 1;
		c->seq = -1;
		out_add(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
	} else if (strncasecmp(line, "RSET", 4) == 0) {
		c->rcpts = 0;
		out_add(c, "250 2.0.0 Ok\r\n");
	} else if (strncasecmp(line, "NOOP", 4) == 0) {
		out_add(c, "250 2.0.0 Ok\r\n");
	} else if (strncasecmp(line, "QUIT", 4) == 0) {
		out_add(c, "221 2.0.0 Bye\r\n");
		c->quit = 1;
	} else {
		badcmd++;
		out_add(c, "502 5.5.2 Error: command not recognized\r\n");
	}
}

/* One line of message data (or a piece of an over-long one). */
static void
data_line(struct conn *c, const char *line, size_t len, int whole)
{
	int at_start = c->line_start;

	c->line_start = whole;
	if (at_start && whole && (len == 3 || len == 2) && line[0] == '.' &&
	    (line[1] == '\r' || line[1] == '\n')) {
		c->data = 0;
		c->rcpts = 0;
		end_of_message(c);
		return;
	}
	bytes += len;
	if (!at_start || !c->in_header)
		return;
	if (line[0] == '\r' || line[0] == '\n') {
		c->in_header = 0;
		return;
	}
	if (len > 12 && strncasecmp(line, "X-Bench-Seq:", 12) == 0) {
		long v = strtol(line + 12, NULL, 10);

		if (v >= 0 && v < target)
			c->seq = v;
	}
}

static void
conn_input(struct tag *tg)
{
	struct conn *c = tg->c;

	for (;;) {
		ssize_t r = read(c->fd, c->in + c->inlen, INBUF - 1 - c->inlen);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			conn_close(c);
			free(tg);
			return;
		}
		c->inlen += (size_t)r;
		size_t off = 0;
		while (off < c->inlen && !c->quit) {
			char *nl = memchr(c->in + off, '\n', c->inlen - off);

			if (nl == NULL)
				break;
			size_t len = (size_t)(nl - (c->in + off)) + 1;
			if (c->data)
				data_line(c, c->in + off, len, 1);
			else
				command(c, c->in + off, len);
			off += len;
		}
		if (off == 0 && c->inlen == INBUF - 1) {
			/* A line longer than the buffer. */
			if (c->data)
				data_line(c, c->in, c->inlen, 0);
			else
				out_add(c, "500 5.5.2 Line too long\r\n");
			off = c->inlen;
		}
		memmove(c->in, c->in + off, c->inlen - off);
		c->inlen -= off;
		if (c->quit)
			break;
	}
	if (flush(c, tg) < 0 || (c->quit && c->outlen == 0)) {
		free(tg);
		conn_close(c);
		return;
	}
}

static void
accept_all(struct tag *tg, int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct conn *c = calloc(1, sizeof(*c));
		struct tag *ct = calloc(1, sizeof(*ct));
		if (c == NULL || ct == NULL)
			die("calloc");
		c->fd = fd;
		c->dom = tg->dom;
		c->seq = -1;
		ct->kind = K_CONN;
		ct->c = c;
		conns++;
		if (++open_conns > max_open)
			max_open = open_conns;
		if (++open_dom[c->dom] > max_open_dom)
			max_open_dom = open_dom[c->dom];
		char buf[128];
		snprintf(buf, sizeof(buf), "220 mx.d%d.test ESMTP outbound_sink\r\n",
		    c->dom);
		out_add(c, buf);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = ct };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
		if (flush(c, ct) < 0) {
			free(ct);
			conn_close(c);
		}
	}
}

/* DNS ---------------------------------------------------------------- */

static size_t
put16(unsigned char *p, size_t o, unsigned v)
{
	p[o] = (unsigned char)(v >> 8);
	p[o + 1] = (unsigned char)v;
	return o + 2;
}

static size_t
put32(unsigned char *p, size_t o, uint32_t v)
{
	o = put16(p, o, v >> 16);
	return put16(p, o, v & 0xffff);
}

/* "dN.test" -> N, "mx.dN.test" -> N + 1000000, else 0. */
static long
dns_name(const char *name)
{
	long mx = 0, n = 0;

	if (strncmp(name, "mx.", 3) == 0) {
		mx = 1000000;
		name += 3;
	}
	if (name[0] != 'd' || name[1] < '1' || name[1] > '9')
		return 0;
	name++;
	while (*name >= '0' && *name <= '9' && n < 100000)
		n = n * 10 + (*name++ - '0');
	if (strcmp(name, ".test") != 0 || n < 1 || n > domains)
		return 0;
	return n + mx;
}

static void
dns_input(int fd)
{
	unsigned char q[512], r[600];
	struct sockaddr_storage from;

	for (;;) {
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
		    &fl);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		if (n < 12 || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
			continue;
		/* The question: labels, no compression in a query. */
		char name[256];
		size_t o = 12, nl = 0;
		int ok = 1;
		while (o < (size_t)n && q[o] != 0) {
			size_t l = q[o];
			if (l > 63 || o + 1 + l >= (size_t)n || nl + l + 2 > sizeof(name)) {
				ok = 0;
				break;
			}
			if (nl > 0)
				name[nl++] = '.';
			for (size_t i = 0; i < l; i++) {
				unsigned char ch = q[o + 1 + i];
				name[nl++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
			}
			o += 1 + l;
		}
		if (!ok || o + 5 > (size_t)n)
			continue;
		name[nl] = '\0';
		o++;				/* the root label */
		unsigned qtype = (unsigned)(q[o] << 8 | q[o + 1]);
		size_t qend = o + 4;
		dnsq++;

		long who = dns_name(name);
		int rcode = who == 0 ? 3 : 0, an = 0;
		memcpy(r, q, qend);
		size_t w = qend;
		if (who > 0 && who < 1000000 && qtype == 15) {		/* MX */
			w = put16(r, w, 0xc00c);
			w = put16(r, w, 15);
			w = put16(r, w, 1);
			w = put32(r, w, (uint32_t)ttl);
			w = put16(r, w, 7);
			w = put16(r, w, 10);
			r[w++] = 2;
			r[w++] = 'm';
			r[w++] = 'x';
			w = put16(r, w, 0xc00c);	/* + the question name */
			an = 1;
		} else if (who > 1000000 && qtype == 1) {		/* A */
			w = put16(r, w, 0xc00c);
			w = put16(r, w, 1);
			w = put16(r, w, 1);
			w = put32(r, w, (uint32_t)ttl);
			w = put16(r, w, 4);
			r[w++] = 127;
			r[w++] = 0;
			r[w++] = 0;
			r[w++] = (unsigned char)(first + (who - 1000000) - 1);
			an = 1;
		}
		if (rcode == 3)
			dns_nx++;
		else if (an == 0)
			dns_nodata++;
		r[2] = (unsigned char)(0x84 | (q[2] & 0x79));	/* QR AA, opcode, RD */
		r[3] = (unsigned char)(0x80 | rcode);		/* RA */
		put16(r, 6, (unsigned)an);
		put16(r, 8, 0);
		put16(r, 10, 0);
		sendto(fd, r, w, 0, (struct sockaddr *)&from, fl);
	}
}

static int
listen_on(const char *ip, int p, int type)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
	int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "outbound_sink: bind %s:%d: %s\n", ip, p,
		    strerror(errno));
		exit(1);
	}
	if (type == SOCK_STREAM && listen(fd, 1024) < 0)
		die("listen");
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: outbound_sink --port P [--first 2] [--domains 100] "
	    "[--target N] [--dns-port D] [--ttl S]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		long v = strtol(argv[i + 1], NULL, 10);
		if (strcmp(argv[i], "--port") == 0)
			port = (int)v;
		else if (strcmp(argv[i], "--first") == 0)
			first = (int)v;
		else if (strcmp(argv[i], "--domains") == 0)
			domains = (int)v;
		else if (strcmp(argv[i], "--target") == 0)
			target = v;
		else if (strcmp(argv[i], "--dns-port") == 0)
			dns_port = (int)v;
		else if (strcmp(argv[i], "--ttl") == 0)
			ttl = (int)v;
		else
			usage();
		i++;
	}
	if (port <= 0 || domains < 1 || domains > MAXDOM || first < 1 ||
	    first + domains - 1 > 254 || target < 1)
		usage();
	seen = calloc((size_t)target, 1);
	if (seen == NULL)
		die("calloc");

	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	for (int d = 1; d <= domains; d++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "127.0.0.%d", first + d - 1);
		struct tag *tg = calloc(1, sizeof(*tg));
		if (tg == NULL)
			die("calloc");
		tg->kind = K_LISTEN;
		tg->dom = d;
		int fd = listen_on(ip, port, SOCK_STREAM);
		tg->fd = fd;
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tg };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl");
	}
	int dfd = -1;
	struct tag dtag = { .kind = K_DNS };
	if (dns_port > 0) {
		dfd = listen_on("127.0.0.1", dns_port, SOCK_DGRAM);
		int big = 4 << 20;
		setsockopt(dfd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &dtag };
		if (epoll_ctl(ep, EPOLL_CTL_ADD, dfd, &ev) < 0)
			die("epoll_ctl");
	}
	printf("ready\n");
	fflush(stdout);

	unsigned long last_p = (unsigned long)-1;
	double last_print = 0;
	struct epoll_event evs[256];
	while (!stop) {
		int n = epoll_wait(ep, evs, 256, 100);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct tag *tg = evs[i].data.ptr;

			if (tg->kind == K_LISTEN)
				accept_all(tg, tg->fd);
			else if (tg->kind == K_DNS)
				dns_input(dfd);
			else if (evs[i].events & EPOLLIN)
				conn_input(tg);
			else if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
				int rc = flush(tg->c, tg);
				if (rc < 0 || (rc == 0 && tg->c->quit)) {
					conn_close(tg->c);
					free(tg);
				}
			}
		}
		double t = now();
		if (msgs != last_p && t - last_print >= 0.1) {
			printf("p %lu %lu %.6f\n", uniq, msgs, t_last);
			fflush(stdout);
			last_p = msgs;
			last_print = t;
		}
	}
	unsigned long dmin = (unsigned long)-1, dmax = 0;
	for (int d = 1; d <= domains; d++) {
		if (per_dom[d] < dmin)
			dmin = per_dom[d];
		if (per_dom[d] > dmax)
			dmax = per_dom[d];
	}
	printf("final msgs=%lu unique=%lu dup=%lu noseq=%lu misrouted=%lu "
	    "rcpts=%lu conns=%lu max_open=%d max_open_domain=%d bytes=%llu badcmd=%lu "
	    "dns_queries=%lu dns_nxdomain=%lu dns_nodata=%lu "
	    "per_domain_min=%lu per_domain_max=%lu t_first=%.6f t_last=%.6f\n",
	    msgs, uniq, dups, noseq, misrouted, rcpts, conns, max_open,
	    max_open_dom, bytes,
	    badcmd, dnsq, dns_nx, dns_nodata, dmin, dmax, t_first, t_last);
	fflush(stdout);
	return 0;
}
