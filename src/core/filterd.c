/* The filter helper process and the server's side of its socket.
 * SECURITY: the helper runs as the server's user with CAP_NET_ADMIN
 * only, keeps no file but its socket, and acts only on TCP listening
 * sockets it is passed, with programs it builds itself from plain
 * ranges: the server can ask it for nothing but dropping packets to its
 * own listeners. */
#include "core/filterd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/privdrop.h"
#include "core/sockfilter.h"
#include "core/util.h"

#define REPLY_WAIT_MS 1000

/* A request and its reply carry the same number: a reply that comes
 * after its request was given up is recognised and dropped. */
struct request {
	uint32_t seq;
	uint32_t n;
	struct cidr ranges[SOCKFILTER_MAX_RANGES];
};

struct reply {
	uint32_t seq;
	int32_t err;		/* errno, 0: attached */
};

#define REQ_HEAD offsetof(struct request, ranges)

static struct {
	int sock;		/* to the helper; -1: none */
	pid_t pid;
	uint32_t seq;
} fd_state = { -1, -1, 0 };

static int
attach_here(int fd, const struct cidr *ranges, size_t n)
{
	static struct sock_filter prog[SOCKFILTER_MAX_INSNS];
	int len = 0;

	if (n > 0 && (len = sockfilter_build(ranges, n, prog)) < 0) {
		errno = EINVAL;
		return -1;
	}
	return sockfilter_attach(fd, prog, (size_t)len);
}

/* A TCP socket in the listening state, or EINVAL. */
static int
is_tcp_listener(int fd)
{
	int v = 0, p = 0;
	socklen_t l1 = sizeof(v), l2 = sizeof(p);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l1) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &p, &l2) < 0)
		return 0;
	return v == 1 && p == IPPROTO_TCP;
}

/* The helper's loop: one request, one reply (an errno, 0 for success),
 * until the server closes its end. */
static void __attribute__((noreturn))
helper_main(int sock)
{
	static struct request req;

	for (;;) {
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(int))];
		} c;
		struct iovec iov = { &req, sizeof(req) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
		    .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
		struct cmsghdr *cm;
		ssize_t got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
		struct reply rep = { 0, 0 };
		int fd = -1;

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			_exit(0);
		cm = CMSG_FIRSTHDR(&m);
		if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(cm), sizeof(int));
		if (fd < 0 || (size_t)got < REQ_HEAD ||
		    req.n > SOCKFILTER_MAX_RANGES ||
		    (size_t)got != REQ_HEAD + req.n * sizeof(struct cidr) ||
		    !is_tcp_listener(fd))
			rep.err = EINVAL;
		else if (attach_here(fd, req.ranges, req.n) < 0)
			rep.err = errno;
		if (fd >= 0)
			close(fd);
		rep.seq = (size_t)got >= REQ_HEAD ? req.seq : 0;
		if (send(sock, &rep, sizeof(rep), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

int
filterd_start(const char *user)
{
	struct passwd *pw;
	int sv[2];
	pid_t pid;

	if (geteuid() != 0)
		return 0;
	pw = getpwnam(user);
	if (pw == NULL || pw->pw_uid == 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* Only the socket stays open, as fd 3; stdio is /dev/null,
		 * so that nobody waits on the server's output for it. */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0 ||
		    dup2(sv[1], 3) < 0 || close_range(4, ~0U, 0) < 0 ||
		    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 ||
		    getppid() == 1 ||
		    privdrop_become(pw->pw_uid, pw->pw_gid,
		    1u << CAP_NET_ADMIN) < 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(1);
		prctl(PR_SET_NAME, "mailwarden-filt", 0, 0, 0);
		signal(SIGPIPE, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		helper_main(3);
	}
	close(sv[1]);
	fd_state.sock = sv[0];
	fd_state.pid = pid;
	return 0;
}

/* Sends one request and waits for its reply: -1 with ETIMEDOUT when it
 * does not come in time (asked again next time), EPIPE when the helper
 * is gone (then it is not asked again), or the helper's errno. */
static int
ask_helper(int fd, const struct cidr *ranges, size_t n)
{
	static struct request req;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { &req, REQ_HEAD + n * sizeof(*ranges) };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = c.buf, .msg_controllen = sizeof(c.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	uint64_t deadline = now_ms() + REPLY_WAIT_MS;
	struct reply rep;

	req.seq = ++fd_state.seq;
	req.n = (uint32_t)n;
	if (n > 0)
		memcpy(req.ranges, ranges, n * sizeof(*ranges));
	memset(c.buf, 0, sizeof(c.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(fd_state.sock, &m, MSG_NOSIGNAL) < 0)
		goto gone;
	for (;;) {
		struct pollfd pf = { fd_state.sock, POLLIN, 0 };
		uint64_t now = now_ms();
		ssize_t got;
		int rc;

		if (now >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		rc = poll(&pf, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			goto gone;
		if (rc == 0)
			continue;	/* the deadline check ends it */
		got = recv(fd_state.sock, &rep, sizeof(rep), 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got != sizeof(rep))
			goto gone;
		if (rep.seq != req.seq)
			continue;	/* a late reply to an earlier request */
		errno = rep.err;
		return rep.err == 0 ? 0 : -1;
	}
gone:
	filterd_stop();
	errno = EPIPE;
	return -1;
}

int
filterd_attach(int fd, const struct cidr *ranges, size_t n)
{
	if (n > SOCKFILTER_MAX_RANGES) {
		errno = EINVAL;
		return -1;
	}
	if (fd_state.sock >= 0)
		return ask_helper(fd, ranges, n);
	return attach_here(fd, ranges, n);
}

void
filterd_stop(void)
{
	if (fd_state.sock >= 0)
		close(fd_state.sock);
	fd_state.sock = -1;
	if (fd_state.pid > 0) {
		kill(fd_state.pid, SIGTERM);
		(void)waitpid(fd_state.pid, NULL, 0);
	}
	fd_state.pid = -1;
}
