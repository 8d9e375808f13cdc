/* guard_micro: the guard's pure core (src/guard/guard.c) measured on its
 * own, without sockets, logs or database: events per second on one core
 * and bytes per tracked address at guard.max-tracked = 1,000,000.
 *
 * The rules are the shipped defaults, read from the settings table the
 * way the server reads them. The workload is generated before any timing
 * (fixed seed, so every run sees the same events); the clock is simulated
 * (the guard takes the time as an argument). Each run happens in a fresh
 * child process, so that its heap and RSS start clean and each run gets
 * its own random hash seeds. See bench/README.md for what is measured and
 * bench/guard-micro for the runner (pinned to one CPU). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/ipaddr.h"
#include "core/listener.h"
#include "core/settings.h"
#include "guard/guard.h"

#define TARGET_EVENTS_PER_S 5e6
#define TARGET_BYTES_PER_IP 128.0

#define T0_MS 1700000000000ULL	/* simulated wall clock at the start */
#define EVENTS_PER_MS 100	/* simulated traffic: 100,000 events/s */
#define TICK_EVENTS (EVENTS_PER_MS * 1000)	/* guard_expire() per sim. s */
#define IN_FLIGHT 8		/* login checks running at once */
#define BUSY_CONNECTS 40	/* per busy sender: under dos (50 in 5 min) */
#define FLOOD_CONNECTS 1000	/* per flooder: blocked at 50, then refused */
#define GUESS_ATTEMPTS 50	/* per guesser: up to the brute-force block */
#define NUSERS 10000
#define AGAIN_GAP_MS (10 * 60 * 1000)	/* windows and dos blocks over */

enum phase { PH_CONNECT, PH_LOGIN, PH_MIXED, PH_AGAIN, PH_EVICT, NPHASES };
static const char *const phase_names[NPHASES] = {
	"connect", "login", "mixed", "again", "evict",
};

static struct {
	unsigned runs;
	size_t tracked;		/* guard.max-tracked and distinct addresses */
	size_t hot;
	unsigned ipv6_pct;
	uint64_t seed;
	size_t guessers;
	size_t legit_logins;
	size_t sessions;
	size_t evict_new;
	unsigned batch;		/* connections decided together */
	int phase_times;	/* print each phase's start and end */
} opt = {
	.runs = 5, .tracked = 1000000, .hot = 10000, .ipv6_pct = 20,
	.seed = 1, .guessers = 10000, .legit_logins = 500000,
	.sessions = 400000, .evict_new = 200000,
	.batch = LISTENER_ACCEPT_BATCH,
};

/* The workload, generated once in the parent, shared with the children. */
/* Events carry their address, as a connection does: reading it is not a
 * cache miss of the benchmark's own. */
struct login_ev {
	struct ipaddr ip;
	uint8_t ok;		/* right password */
	uint8_t proto;
};

struct session {
	struct ipaddr ip;
	uint16_t user;
	uint8_t login;		/* 0: none, 1: right password, 2: wrong */
	uint8_t unknown;	/* unknown recipients */
	uint8_t msgs;		/* messages by the authenticated user */
	uint8_t accepted;	/* a message was accepted */
};

static struct {
	struct ipaddr *addr;	/* opt.tracked distinct addresses */
	size_t nflooders;	/* addr[0, nflooders): flooders */
	size_t nhot;		/* addr[0, nhot): hot set */
	size_t nv6;
	struct ipaddr *connect;	/* phases connect and again */
	size_t nconnect;
	struct login_ev *login;
	size_t nlogin;
	struct session *sess;
	size_t nsess;
	struct ipaddr *fresh;	/* phase evict: addresses not in addr */
	size_t nfresh;
	char users[NUSERS][32];
	struct guard_rule rules[GUARD_MAX_RULES];
	size_t nrules;
} w;

struct result {
	double secs[NPHASES];
	uint64_t events[NPHASES];
	uint64_t calls[NPHASES];
	/* Memory at exactly opt.tracked addresses. */
	size_t tracked_a, mem_a, tracked_c, mem_c;
	long rss_base_kb, rss_a_kb, rss_c_kb;
	double memfn_ms;	/* one guard_memory() call at the cap */
	double warm_gbs;	/* first touch of WARM_BYTES, GB/s */
	/* What happened, for checking (identical in every run but evict). */
	uint64_t refused[NPHASES];
	uint64_t login_ok, login_failed, login_blocked;
	uint64_t held;
	struct guard_stats st;
	uint64_t fired, fired_alert_only, lifted, evicted_hook;
};

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static size_t
rnd_below(size_t n)
{
	return (size_t)(rnd() % n);
}

/* A bijection of 32-bit integers: distinct indexes, distinct results. */
static uint32_t
bij32(uint32_t x)
{
	x ^= (uint32_t)opt.seed * 0x9e3779b1u;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	x *= 0x27d4eb2fu;
	x ^= x >> 15;
	return x;
}

static uint32_t next_v4, next_v6;

/* The next address never made before: IPv4 or an IPv6 address in a /64
 * of its own (random interface id: the guard counts the /64). */
static void
make_addr(struct ipaddr *ip, int v6)
{
	uint32_t v;
	uint64_t host;

	memset(ip, 0, sizeof(*ip));
	if (!v6) {
		v = bij32(next_v4++);
		ip->a[10] = ip->a[11] = 0xff;
		memcpy(ip->a + 12, &v, 4);
		return;
	}
	v = bij32(next_v6++);
	ip->a[0] = 0x20;
	ip->a[1] = 0x01;
	ip->a[2] = 0x0d;
	ip->a[3] = 0xb8;
	memcpy(ip->a + 4, &v, 4);
	host = rnd();
	memcpy(ip->a + 8, &host, 8);
}

static void
shuffle(void *base, size_t n, size_t size)
{
	unsigned char tmp[64], *b = base;

	if (size > sizeof(tmp))
		abort();
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd_below(i);

		memcpy(tmp, b + (i - 1) * size, size);
		memcpy(b + (i - 1) * size, b + j * size, size);
		memcpy(b + j * size, tmp, size);
	}
}

/* n * size bytes (not touched yet) on huge pages, as the guard's table
 * is; exits when out of memory. */
static void *
huge_alloc(size_t n, size_t size)
{
	void *p = NULL;

	if (n == 0)
		n = 1;
	if (size > SIZE_MAX / n || posix_memalign(&p, 2UL << 20, n * size)) {
		fprintf(stderr, "guard_micro: out of memory\n");
		exit(1);
	}
	(void)madvise(p, n * size, MADV_HUGEPAGE);
	return p;
}

/* Zeroed memory on huge pages: walking the workload's arrays must cost
 * no TLB misses of the benchmark's own (on 4 KiB pages they made the
 * connect, login and mixed phases about 10% slower on this VM). */
static void *
alloc(size_t n, size_t size)
{
	void *p = huge_alloc(n, size);

	memset(p, 0, (n ? n : 1) * size);
	return p;
}

/* The default rule set, as guard_server.c builds it from the settings. */
static void
default_rules(void)
{
	static const char *const names[] = {
#define RULE_NAME(id, name) name,
		GUARD_RULES(RULE_NAME)
#undef RULE_NAME
	};

	w.nrules = sizeof(names) / sizeof(names[0]);
	for (size_t i = 0; i < w.nrules; i++) {
		int f = SET_RULE_FIRST((int)i);
		struct guard_rule *r = &w.rules[i];

		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", names[i]);
		r->event = (enum guard_event)settings_choice(f + SET_RULE_TYPE,
		    settings_table[f + SET_RULE_TYPE].def);
		r->protocols = (unsigned)settings_choice(f + SET_RULE_PROTOCOLS,
		    settings_table[f + SET_RULE_PROTOCOLS].def);
		r->count = (unsigned)strtoul(
		    settings_table[f + SET_RULE_COUNT].def, NULL, 10);
		r->window_ms = strtoull(settings_table[f + SET_RULE_WINDOW].def,
		    NULL, 10) * 1000;
		r->block_ms = strtoull(settings_table[f + SET_RULE_BLOCK].def,
		    NULL, 10) * 1000;
		r->kind = (enum guard_kind)settings_choice(f + SET_RULE_KIND,
		    settings_table[f + SET_RULE_KIND].def);
		r->alert = strcmp(settings_table[f + SET_RULE_ALERT].def,
		    "on") == 0;
	}
}

static void
generate(void)
{
	size_t n = opt.tracked, k = 0, cold;

	rng_state = opt.seed;
	w.addr = alloc(n, sizeof(*w.addr));
	for (size_t i = 0; i < n; i++) {
		int v6 = rnd_below(100) < opt.ipv6_pct;

		make_addr(&w.addr[i], v6);
		w.nv6 += (size_t)v6;
	}
	shuffle(w.addr, n, sizeof(*w.addr));
	w.nhot = opt.hot;
	w.nflooders = opt.hot / 100;
	cold = n - w.nhot;

	/* connect: the cold addresses once each, busy senders BUSY_CONNECTS
	 * times, flooders FLOOD_CONNECTS times, all shuffled together. */
	w.nconnect = cold + (w.nhot - w.nflooders) * BUSY_CONNECTS +
	    w.nflooders * FLOOD_CONNECTS;
	w.connect = alloc(w.nconnect, sizeof(*w.connect));
	for (size_t i = 0; i < w.nflooders; i++)
		for (int j = 0; j < FLOOD_CONNECTS; j++)
			w.connect[k++] = w.addr[i];
	for (size_t i = w.nflooders; i < w.nhot; i++)
		for (int j = 0; j < BUSY_CONNECTS; j++)
			w.connect[k++] = w.addr[i];
	for (size_t i = w.nhot; i < n; i++)
		w.connect[k++] = w.addr[i];
	shuffle(w.connect, w.nconnect, sizeof(*w.connect));

	/* login: guessers (cold addresses right after the hot set) try
	 * wrong passwords GUESS_ATTEMPTS times each; the other attempts
	 * come from anywhere else, 97% with the right password. */
	w.nlogin = opt.guessers * GUESS_ATTEMPTS + opt.legit_logins;
	w.login = alloc(w.nlogin, sizeof(*w.login));
	k = 0;
	for (size_t i = 0; i < opt.guessers; i++)
		for (int j = 0; j < GUESS_ATTEMPTS; j++) {
			w.login[k].ip = w.addr[w.nhot + i];
			w.login[k].ok = 0;
			w.login[k].proto = (uint8_t)(i % 3 == 0 ? GUARD_SMTP :
			    i % 3 == 1 ? GUARD_IMAP : GUARD_POP3);
			k++;
		}
	for (size_t i = 0; i < opt.legit_logins; i++) {
		size_t r = rnd_below(100);
		size_t a = w.nflooders + rnd_below(n - w.nflooders -
		    opt.guessers);

		if (a >= w.nhot)
			a += opt.guessers;
		w.login[k].ip = w.addr[a];
		w.login[k].ok = rnd_below(100) < 97;
		w.login[k].proto = (uint8_t)(r < 40 ? GUARD_SMTP : r < 90 ?
		    GUARD_IMAP : GUARD_POP3);
		k++;
	}
	shuffle(w.login, w.nlogin, sizeof(*w.login));

	/* mixed: SMTP sessions from anywhere in the table (a few from
	 * blocked addresses, refused at connect): 25% authenticated
	 * submission, 60% inbound mail, 15% without a message. */
	for (int i = 0; i < NUSERS; i++)
		snprintf(w.users[i], sizeof(w.users[i]), "user%d@bench.test", i);
	w.nsess = opt.sessions;
	w.sess = alloc(w.nsess, sizeof(*w.sess));
	for (size_t i = 0; i < w.nsess; i++) {
		struct session *s = &w.sess[i];
		size_t kind = rnd_below(100);

		s->ip = w.addr[rnd_below(n)];
		if (kind < 25) {
			s->login = rnd_below(100) < 98 ? 1 : 2;
			s->msgs = s->login == 1 ? (uint8_t)(1 + rnd_below(2)) : 0;
			/* 1% of the messages from one bulk sender: more
			 * than auth-volume's 200 an hour, so it fires. */
			s->user = (uint16_t)(rnd_below(100) == 0 ? 0 :
			    1 + rnd_below(NUSERS - 1));
			s->accepted = s->msgs > 0;
		} else if (kind < 85) {
			s->unknown = rnd_below(100) < 3 ?
			    (uint8_t)(1 + rnd_below(3)) : 0;
			s->accepted = rnd_below(100) < 90;
		}
	}

	/* evict: addresses never seen, into the full table. */
	w.nfresh = opt.evict_new;
	w.fresh = alloc(w.nfresh, sizeof(*w.fresh));
	for (size_t i = 0; i < w.nfresh; i++)
		make_addr(&w.fresh[i], rnd_below(100) < opt.ipv6_pct);
}

/* Running the phases, in a child process. */

static struct result *res;

static void
on_fired(void *ctx, const struct guard_rule *r, const struct guard_block *b,
    const char *user)
{
	(void)ctx;
	(void)r;
	(void)user;
	res->fired++;
	if (b == NULL)
		res->fired_alert_only++;
}

static void
on_lifted(void *ctx, const struct guard_block *b, int expired)
{
	(void)ctx;
	(void)b;
	(void)expired;
	res->lifted++;
}

static void
on_evicted(void *ctx, size_t n)
{
	(void)ctx;
	res->evicted_hook += n;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* The simulated clock: EVENTS_PER_MS events per millisecond, and the
 * server's once-a-second guard_expire() every TICK_EVENTS events. */
struct clock {
	uint64_t base_ms;
	uint64_t events;
	uint64_t next_tick;
};

static uint64_t
sim_now(const struct clock *c)
{
	return c->base_ms + c->events / EVENTS_PER_MS;
}

static void
sim_tick(struct guard *g, struct clock *c)
{
	if (c->events >= c->next_tick) {
		guard_expire(g, sim_now(c));
		c->next_tick += TICK_EVENTS;
	}
}

/* The benchmark's own reads must not be what is measured: each event's
 * record (its address, as a connection's is in the server, already in
 * cache) is fetched AHEAD events before its turn. Without it the
 * hardware of this VM left about one miss per cache line of records:
 * 8% of the login phase. */
#define AHEAD 32
#define FETCH_AHEAD(a, i, n) do { \
	if ((i) + AHEAD < (n)) \
		__builtin_prefetch(&(a)[(i) + AHEAD]); \
} while (0)

/* Connections as the listener hands them over: in batches of opt.batch
 * accepted together, whose addresses the guard sees (prefetch) before it
 * decides on any of them. Returns how many were refused. */
static uint64_t
connect_all(struct guard *g, struct clock *c, const struct ipaddr *ip,
    size_t n)
{
	uint64_t refused = 0;

	for (size_t i = 0; i < n; i += opt.batch) {
		size_t end = i + opt.batch < n ? i + opt.batch : n;

		if (opt.batch > 1)
			for (size_t k = i; k < end; k++)
				guard_connect_prefetch(g, &ip[k], GUARD_SMTP);
		for (size_t k = i; k < end; k++) {
			FETCH_AHEAD(ip, k, n);
			sim_tick(g, c);
			refused += guard_connect(g, &ip[k], GUARD_SMTP,
			    sim_now(c)) != GUARD_ACCEPT;
			c->events++;
		}
	}
	return refused;
}

static void
phase_connect(struct guard *g, struct clock *c)
{
	res->refused[PH_CONNECT] = connect_all(g, c, w.connect, w.nconnect);
	res->events[PH_CONNECT] = res->calls[PH_CONNECT] = w.nconnect;
}

/* The connect events again, AGAIN_GAP_MS later: every address is tracked
 * already and the table is at its full size (the steady state). */
static void
phase_again(struct guard *g, struct clock *c)
{
	c->base_ms += AGAIN_GAP_MS;
	res->refused[PH_AGAIN] = connect_all(g, c, w.connect, w.nconnect);
	res->events[PH_AGAIN] = res->calls[PH_AGAIN] = w.nconnect;
}

static void
count_login(enum guard_login_result r)
{
	if (r == GUARD_LOGIN_OK)
		res->login_ok++;
	else if (r == GUARD_LOGIN_FAILED)
		res->login_failed++;
	else
		res->login_blocked++;
}

static void
phase_login(struct guard *g, struct clock *c)
{
	struct guard_login t[IN_FLIGHT];
	const struct login_ev *ev[IN_FLIGHT];

	/* IN_FLIGHT checks at once: attempt i begins, attempt i - IN_FLIGHT
	 * ends (its password check is over). */
	for (size_t i = 0; i < w.nlogin + IN_FLIGHT; i++) {
		size_t slot = i % IN_FLIGHT;

		sim_tick(g, c);
		if (i >= IN_FLIGHT)
			count_login(guard_login_end(g, &t[slot], ev[slot]->ok,
			    w.users[1], sim_now(c)));
		if (i < w.nlogin) {
			FETCH_AHEAD(w.login, i, w.nlogin);
			ev[slot] = &w.login[i];
			guard_login_begin(g, &ev[slot]->ip,
			    (enum guard_proto)ev[slot]->proto, sim_now(c),
			    &t[slot]);
			c->events++;
		}
	}
	res->events[PH_LOGIN] = w.nlogin;
	res->calls[PH_LOGIN] = 2 * w.nlogin;
}

static void
phase_mixed(struct guard *g, struct clock *c)
{
	uint64_t events = 0, calls = 0, refused = 0;

	for (size_t i = 0; i < w.nsess; i++) {
		const struct session *s = &w.sess[i];

		FETCH_AHEAD(w.sess, i, w.nsess);
		const struct ipaddr *ip = &s->ip;
		struct guard_login t;

		sim_tick(g, c);
		events++;
		calls++;
		c->events++;
		if (guard_connect(g, ip, GUARD_SMTP, sim_now(c)) !=
		    GUARD_ACCEPT) {
			refused++;
			continue;
		}
		if (s->login) {
			guard_login_begin(g, ip, GUARD_SMTP, sim_now(c), &t);
			count_login(guard_login_end(g, &t, s->login == 1,
			    w.users[s->user], sim_now(c)));
			events++;
			calls += 2;
			c->events++;
		}
		for (unsigned k = 0; k < s->unknown; k++) {
			guard_unknown_rcpt(g, ip, GUARD_SMTP, sim_now(c));
			events++;
			calls++;
			c->events++;
		}
		for (unsigned k = 0; k < s->msgs; k++) {
			res->held += (uint64_t)guard_user_message(g,
			    w.users[s->user], ip, GUARD_SMTP, sim_now(c));
			events++;
			calls++;
			c->events++;
		}
		guard_session_end(g, ip, GUARD_SMTP, s->accepted, sim_now(c));
		events++;
		calls++;
		c->events++;
	}
	res->refused[PH_MIXED] = refused;
	res->events[PH_MIXED] = events;
	res->calls[PH_MIXED] = calls;
}

static void
phase_evict(struct guard *g, struct clock *c)
{
	res->refused[PH_EVICT] = connect_all(g, c, w.fresh, w.nfresh);
	res->events[PH_EVICT] = res->calls[PH_EVICT] = w.nfresh;
}

/* Each run starts by touching WARM_BYTES of fresh memory and giving it
 * back. The guard's table then gets memory the system has backed
 * recently. In a virtual machine the first touch of guest memory that
 * the host has reclaimed costs a host page fault per page (seen here:
 * 0.4 GB/s, against 14 GB/s for memory touched a moment before), which
 * would make the connect phase, where the table grows to its full size,
 * measure the host rather than the guard. Returns the first-touch speed
 * in GB/s. */
#define WARM_BYTES (320UL << 20)

static double
warm_memory(void)
{
	unsigned char *p = huge_alloc(WARM_BYTES, 1);
	double t = now_s();

	for (size_t i = 0; i < WARM_BYTES; i += 4096)
		p[i] = 1;
	t = now_s() - t;
	free(p);
	return t > 0 ? WARM_BYTES / t / 1e9 : 0;
}

static void
run_child(struct result *r)
{
	static const struct guard_hooks hooks = {
		.fired = on_fired, .lifted = on_lifted, .evicted = on_evicted,
	};
	void (*const phases[NPHASES])(struct guard *, struct clock *) = {
		phase_connect, phase_login, phase_mixed, phase_again,
		phase_evict,
	};
	struct clock c = { T0_MS, 0, 0 };
	struct guard_stats st;
	struct guard *g;
	double t;

	res = r;
	memset(r, 0, sizeof(*r));
	r->warm_gbs = warm_memory();
	r->rss_base_kb = rss_kb();
	g = guard_new(opt.tracked, &hooks);
	guard_set_rules(g, w.rules, w.nrules);
	for (int p = 0; p < NPHASES; p++) {
		t = now_s();
		phases[p](g, &c);
		r->secs[p] = now_s() - t;
		/* CLOCK_MONOTONIC seconds: perf record -k CLOCK_MONOTONIC,
		 * then perf report --time START,END shows one phase. */
		if (opt.phase_times)
			fprintf(stderr, "phase %s %.6f %.6f\n", phase_names[p],
			    t, t + r->secs[p]);
		if (p == PH_CONNECT) {
			guard_get_stats(g, &st);
			r->tracked_a = st.tracked;
			r->rss_a_kb = rss_kb();
			t = now_s();
			r->mem_a = guard_memory(g);
			r->memfn_ms = (now_s() - t) * 1e3;
		} else if (p == PH_MIXED) {
			guard_get_stats(g, &st);
			r->tracked_c = st.tracked;
			r->rss_c_kb = rss_kb();
			r->mem_c = guard_memory(g);
		}
	}
	guard_get_stats(g, &r->st);
	guard_free(&g);
}

static int
run_once(struct result *r)
{
	int fd[2], status;
	pid_t pid;
	size_t got = 0;

	if (pipe(fd) < 0)
		return -1;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct result mine;
		size_t off = 0;

		close(fd[0]);
		run_child(&mine);
		while (off < sizeof(mine)) {
			ssize_t n = write(fd[1], (const char *)&mine + off,
			    sizeof(mine) - off);

			if (n <= 0)
				_exit(1);
			off += (size_t)n;
		}
		_exit(0);
	}
	close(fd[1]);
	while (got < sizeof(*r)) {
		ssize_t n = read(fd[0], (char *)r + got, sizeof(*r) - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || got != sizeof(*r))
		return -1;
	return 0;
}

/* Reporting. */

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void
print_machine(void)
{
	char line[512], model[256] = "unknown";
	struct utsname u;
	cpu_set_t set;
	FILE *f = fopen("/proc/cpuinfo", "r");
	long mem_kb = 0;

	if (f != NULL) {
		while (fgets(line, sizeof(line), f) != NULL)
			if (strncmp(line, "model name", 10) == 0) {
				char *p = strchr(line, ':');

				if (p != NULL) {
					p += 1 + strspn(p + 1, " \t");
					p[strcspn(p, "\n")] = '\0';
					snprintf(model, sizeof(model), "%s", p);
				}
				break;
			}
		fclose(f);
	}
	if ((f = fopen("/proc/meminfo", "r")) != NULL) {
		if (fgets(line, sizeof(line), f) != NULL)
			mem_kb = strtol(line + strcspn(line, "0123456789"),
			    NULL, 10);
		fclose(f);
	}
	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	printf("  machine:  %ld CPUs, %s, %ld MiB RAM, Linux %s\n",
	    sysconf(_SC_NPROCESSORS_ONLN), model, mem_kb / 1024, u.release);
	printf("  pinned:   ");
	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int first = 1;

		for (int i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &set)) {
				printf("%s%d", first ? "" : ",", i);
				first = 0;
			}
		printf(" (CPUs this process may run on; %d of %ld)\n",
		    CPU_COUNT(&set), sysconf(_SC_NPROCESSORS_ONLN));
	} else {
		printf("?\n");
	}
}

/* The machine's memory latency, for reading the results: one dependent
 * load after another at random over 64 MiB (the size of the guard's
 * table at 1M addresses), on huge pages as the guard's table is. An
 * event on an address not in cache needs one such load; only overlap
 * with the events around it makes it cost less. */
#define LAT_BYTES (64UL << 20)
#define LAT_STEPS 2000000UL

static double
memory_latency_ns(void)
{
	size_t n = LAT_BYTES / 64, *next;
	unsigned char *buf;
	size_t *order, i, cur = 0;
	double t;

	buf = huge_alloc(LAT_BYTES, 1);
	order = alloc(n, sizeof(*order));
	for (i = 0; i < n; i++)
		order[i] = i;
	shuffle(order, n, sizeof(*order));
	/* one cycle through every line, in random order */
	for (i = 0; i < n; i++) {
		next = (size_t *)(void *)(buf + order[i] * 64);
		*next = order[(i + 1) % n];
	}
	free(order);
	t = now_s();
	for (i = 0; i < LAT_STEPS; i++)
		cur = *(size_t *)(void *)(buf + cur * 64);
	t = now_s() - t;
	free(buf);
	return cur == (size_t)-1 ? 0 : t / LAT_STEPS * 1e9;
}

static const char *
kind_name(enum guard_kind k)
{
	static const char *const names[] = {
		"logins", "connections", "none", "hold",
	};

	return k <= GUARD_BLOCK_HOLD ? names[k] : "?";
}

static const char *
event_name(enum guard_event e)
{
	static const char *const names[] = {
		"connect", "auth-fail", "bad-session", "unknown-rcpt",
		"auth-volume",
	};

	return e < GUARD_EV_COUNT ? names[e] : "?";
}

static void
print_setup(void)
{
	printf("guard-micro: the guard's pure core (src/guard/guard.c), "
	    "one thread, no I/O\n");
	print_machine();
	printf("  latency:  %.0f ns per dependent random load over 64 MiB "
	    "(huge pages): one such load for an event on an address not in "
	    "cache\n", memory_latency_ns());
	printf("  rules:    the shipped defaults (settings_table.c, "
	    "built as guard_server.c builds them):\n");
	for (size_t i = 0; i < w.nrules; i++) {
		const struct guard_rule *r = &w.rules[i];
		char protos[64] = "";

		for (int p = 0; p < GUARD_PROTO_COUNT; p++)
			if (r->protocols & (1u << p)) {
				if (protos[0] != '\0')
					strcat(protos, ",");
				strcat(protos, guard_proto_name(
				    (enum guard_proto)p));
			}
		printf("              %-14s %-12s %-20s %4u in %5" PRIu64
		    " s -> block %-11s %5" PRIu64 " s\n", r->name,
		    event_name(r->event), protos, r->count,
		    r->window_ms / 1000, kind_name(r->kind),
		    r->block_ms / 1000);
	}
	printf("  table:    guard.max-tracked = %zu; %zu distinct client "
	    "addresses, %zu IPv4 and %zu IPv6 (each in its own /64, "
	    "random interface id)\n", opt.tracked, opt.tracked,
	    opt.tracked - w.nv6, w.nv6);
	printf("  clock:    simulated: %d events per ms (%d,000 events/s of "
	    "traffic), guard_expire() every simulated second (the server's "
	    "tick)\n", EVENTS_PER_MS, EVENTS_PER_MS);
	printf("  runs:     %u, each in a fresh child process (clean heap, "
	    "new random hash seeds), the same events (workload seed %"
	    PRIu64 ")\n", opt.runs, opt.seed);
	printf("  phases, in this order on one guard; the time of each is "
	    "the loop of guard calls over events generated beforehand:\n");
	printf("  batches:  connect, again and evict take the connections as "
	    "the listener does: %u accepted together (LISTENER_ACCEPT_BATCH "
	    "is %d), guard_connect_prefetch() for each, then guard_connect() "
	    "for each%s\n", opt.batch, LISTENER_ACCEPT_BATCH, opt.batch == 1 ?
	    " (--batch 1: one at a time, no prefetch)" : "");
	printf("    connect  %zu guard_connect(): %zu addresses once each, "
	    "%zu busy senders x %d, %zu flooders x %d (dos-blocked at their "
	    "50th, then refused); shuffled. Afterwards exactly %zu are "
	    "tracked.\n", w.nconnect, opt.tracked - w.nhot,
	    w.nhot - w.nflooders, BUSY_CONNECTS, w.nflooders,
	    FLOOD_CONNECTS, opt.tracked);
	printf("    login    %zu login attempts = guard_login_begin() + "
	    "guard_login_end(), %d in flight: %zu guessers x %d wrong "
	    "passwords, %zu others (97%% right password); SMTP/IMAP/POP3; "
	    "shuffled. One attempt = one event.\n", w.nlogin, IN_FLIGHT,
	    opt.guessers, GUESS_ATTEMPTS, opt.legit_logins);
	printf("    mixed    %zu SMTP sessions from random tracked "
	    "addresses: connect, then (unless refused) 25%% a login (+ 1-2 "
	    "guard_user_message()), 3%% of the rest 1-3 unknown "
	    "recipients, session end (15%% without a message); one guard "
	    "call = one event, a login = one event\n", w.nsess);
	printf("    again    the connect events once more, %d simulated "
	    "minutes later: every address already tracked, the table at full "
	    "size (steady state)\n", AGAIN_GAP_MS / 60000);
	printf("    evict    %zu guard_connect() from new addresses into the "
	    "full table: each evicts one entry\n", w.nfresh);
	printf("  memory:   at exactly %zu tracked, after connect and after "
	    "mixed: guard_memory() / tracked, and the growth of VmRSS "
	    "(/proc/self/status) since before guard_new() / tracked\n\n",
	    opt.tracked);
}

static void
usage(void)
{
	fprintf(stderr, "usage: guard_micro [--runs N] [--tracked N] "
	    "[--hot N] [--ipv6-percent P] [--seed N] [--batch N] "
	    "[--phase-times]\n"
	    "  defaults: --runs 5 --tracked 1000000 --hot 10000 "
	    "--ipv6-percent 20 --seed 1 --batch %d\n"
	    "  --batch: connections decided together, as the listener "
	    "accepts them (1: one at a time)\n"
	    "  --phase-times: print each phase's CLOCK_MONOTONIC start and end "
	    "on stderr\n    (perf record -k CLOCK_MONOTONIC; perf report "
	    "--time START,END)\n", LISTENER_ACCEPT_BATCH);
	exit(2);
}

static unsigned long long
num_arg(const char *s, unsigned long long min, unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		usage();
	return v;
}

static void
parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "runs", required_argument, NULL, 'r' },
		{ "tracked", required_argument, NULL, 't' },
		{ "hot", required_argument, NULL, 'H' },
		{ "ipv6-percent", required_argument, NULL, '6' },
		{ "seed", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },
		{ "phase-times", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			opt.runs = (unsigned)num_arg(optarg, 1, 99);
			break;
		case 't':
			opt.tracked = (size_t)num_arg(optarg, 100000,
			    100000000);
			break;
		case 'H':
			opt.hot = (size_t)num_arg(optarg, 100, 100000);
			break;
		case '6':
			opt.ipv6_pct = (unsigned)num_arg(optarg, 0, 100);
			break;
		case 's':
			opt.seed = num_arg(optarg, 0, UINT64_MAX);
			break;
		case 'b':
			opt.batch = (unsigned)num_arg(optarg, 1, 64);
			break;
		case 'T':
			opt.phase_times = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt.hot + opt.guessers >= opt.tracked / 2)
		usage();
	opt.evict_new = opt.tracked / 5;
}

int
main(int argc, char **argv)
{
	struct result *r;
	double v[100], med[NPHASES], lo, hi, mem_a, mem_c, rss_a, rss_c;
	int fail = 0, same = 1;

	parse_args(argc, argv);
	setvbuf(stdout, NULL, _IOLBF, 0);
	default_rules();
	generate();
	print_setup();
	r = alloc(opt.runs, sizeof(*r));
	for (unsigned i = 0; i < opt.runs; i++) {
		if (run_once(&r[i]) < 0) {
			fprintf(stderr, "guard_micro: run %u failed\n", i + 1);
			return 1;
		}
		printf("  run %u:", i + 1);
		for (int p = 0; p < NPHASES; p++)
			printf("  %s %.2f M/s", phase_names[p],
			    (double)r[i].events[p] / r[i].secs[p] / 1e6);
		printf("  | %.1f B/IP (RSS %.1f) | first touch %.1f GB/s\n",
		    (double)r[i].mem_a / (double)r[i].tracked_a,
		    (double)(r[i].rss_a_kb - r[i].rss_base_kb) * 1024.0 /
		    (double)r[i].tracked_a, r[i].warm_gbs);
		/* The same events must have had the same outcome. */
		if (i > 0 && (r[i].refused[PH_CONNECT] != r[0].refused[PH_CONNECT] ||
		    r[i].refused[PH_MIXED] != r[0].refused[PH_MIXED] ||
		    r[i].refused[PH_AGAIN] != r[0].refused[PH_AGAIN] ||
		    r[i].login_ok != r[0].login_ok ||
		    r[i].login_blocked != r[0].login_blocked ||
		    r[i].tracked_a != r[0].tracked_a ||
		    r[i].tracked_c != r[0].tracked_c))
			same = 0;
	}

	printf("\nResults: median of %u runs (min-max), one core\n",
	    opt.runs);
	printf("  %-8s %-28s %-10s %-14s %s\n", "phase", "events/s",
	    "ns/event", "guard calls/s", "target >= 5 M events/s");
	for (int p = 0; p < NPHASES; p++) {
		double calls;

		for (unsigned i = 0; i < opt.runs; i++)
			v[i] = (double)r[i].events[p] / r[i].secs[p];
		med[p] = median(v, opt.runs);
		lo = v[0];
		hi = v[opt.runs - 1];
		for (unsigned i = 0; i < opt.runs; i++)
			v[i] = (double)r[i].calls[p] / r[i].secs[p];
		calls = median(v, opt.runs);
		{
			char range[64], verdict[64], ncalls[32];

			snprintf(range, sizeof(range), "%.2f M (%.2f-%.2f)",
			    med[p] / 1e6, lo / 1e6, hi / 1e6);
			snprintf(ncalls, sizeof(ncalls), "%.2f M", calls / 1e6);
			if (p == PH_EVICT)
				snprintf(verdict, sizeof(verdict),
				    "(no target: the flood case)");
			else if (med[p] >= TARGET_EVENTS_PER_S)
				snprintf(verdict, sizeof(verdict), "met");
			else {
				snprintf(verdict, sizeof(verdict),
				    "MISSED by %.0f%% (x%.2f short)",
				    100.0 * (1 - med[p] / TARGET_EVENTS_PER_S),
				    TARGET_EVENTS_PER_S / med[p]);
				fail = 1;
			}
			printf("  %-8s %-28s %-10.0f %-14s %s\n",
			    phase_names[p], range, 1e9 / med[p], ncalls,
			    verdict);
		}
	}

	for (unsigned i = 0; i < opt.runs; i++)
		v[i] = (double)r[i].mem_a / (double)r[i].tracked_a;
	mem_a = median(v, opt.runs);
	for (unsigned i = 0; i < opt.runs; i++)
		v[i] = (double)(r[i].rss_a_kb - r[i].rss_base_kb) * 1024.0 /
		    (double)r[i].tracked_a;
	rss_a = median(v, opt.runs);
	for (unsigned i = 0; i < opt.runs; i++)
		v[i] = (double)r[i].mem_c / (double)r[i].tracked_c;
	mem_c = median(v, opt.runs);
	for (unsigned i = 0; i < opt.runs; i++)
		v[i] = (double)(r[i].rss_c_kb - r[i].rss_base_kb) * 1024.0 /
		    (double)r[i].tracked_c;
	rss_c = median(v, opt.runs);
	printf("\nMemory per tracked address (median; target <= %.0f "
	    "bytes):\n", TARGET_BYTES_PER_IP);
	printf("  after connect (%zu tracked): guard_memory() %.1f B/IP, "
	    "RSS growth %.1f B/IP  %s\n", r[0].tracked_a, mem_a, rss_a,
	    mem_a <= TARGET_BYTES_PER_IP ? "met" : "MISSED");
	printf("  after mixed   (%zu tracked): guard_memory() %.1f B/IP, "
	    "RSS growth %.1f B/IP  %s\n", r[0].tracked_c, mem_c, rss_c,
	    mem_c <= TARGET_BYTES_PER_IP ? "met" : "MISSED");
	if (mem_a > TARGET_BYTES_PER_IP || mem_c > TARGET_BYTES_PER_IP)
		fail = 1;
	for (unsigned i = 0; i < opt.runs; i++)
		v[i] = r[i].memfn_ms;
	printf("  guard_memory() itself walks the table: %.1f ms per call "
	    "at %zu tracked (median)\n", median(v, opt.runs),
	    r[0].tracked_a);

	printf("\nWhat happened (run 1; connect, login, mixed and again are "
	    "deterministic and were %s in every run):\n",
	    same ? "identical" : "NOT identical");
	printf("  connect: %" PRIu64 " refused (expected %zu: each flooder's "
	    "51st to %dth)\n", r[0].refused[PH_CONNECT],
	    w.nflooders * (FLOOD_CONNECTS - 50), FLOOD_CONNECTS);
	printf("  login:   %" PRIu64 " OK, %" PRIu64 " failed, %" PRIu64
	    " blocked (pretended) over login and mixed\n", r[0].login_ok,
	    r[0].login_failed, r[0].login_blocked);
	printf("  mixed:   %" PRIu64 " sessions refused at connect, %" PRIu64
	    " held\n", r[0].refused[PH_MIXED], r[0].held);
	printf("  again:   %" PRIu64 " refused (the flooders' blocks have "
	    "expired: again 950 each; plus the %zu guessers, "
	    "connection-blocked for 30 min)\n", r[0].refused[PH_AGAIN],
	    opt.guessers);
	printf("  evict:   %" PRIu64 " evictions, %zu tracked at the end\n",
	    r[0].st.evictions, r[0].st.tracked);
	printf("  totals:  %" PRIu64 " blocks created, %zu in force, %" PRIu64
	    " rule firings without a block (alerts), %" PRIu64 " events\n",
	    r[0].st.blocks, r[0].st.blocked, r[0].fired_alert_only,
	    r[0].st.events);
	free(r);
	return fail || !same ? 1 : 0;
}
