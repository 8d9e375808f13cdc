/* One inotify instance for every selected mailbox. */
#include "imap/imap_notify.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "imap/imap_internal.h"

#define BUCKETS 4096
#define MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | \
    IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)

struct wd_link {
	int wd;
	struct imap_watch *w;
	struct wd_link *next;
};

struct imap_watch {
	char *path;
	struct wd_link wd[2];		/* new/, cur/ */
	uint64_t gen;
	int touched;			/* changed in this batch */
	unsigned refs;
	struct imap_session *sessions;	/* via watch_next/watch_prev */
	struct imap_watch *by_path;
	struct imap_watch *touched_next;
};

static int ifd = -1;
static struct event *ev;
static struct imap_watch *paths[BUCKETS];
static struct wd_link *wds[BUCKETS];

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % BUCKETS;
}

static struct imap_watch *
by_wd(int wd)
{
	for (struct wd_link *l = wds[(unsigned)wd % BUCKETS]; l; l = l->next)
		if (l->wd == wd)
			return l->w;
	return NULL;
}

static void
link_wd(struct wd_link *l)
{
	struct wd_link **head = &wds[(unsigned)l->wd % BUCKETS];

	l->next = *head;
	*head = l;
}

static void
unlink_wd(struct wd_link *l)
{
	for (struct wd_link **pp = &wds[(unsigned)l->wd % BUCKETS]; *pp;
	    pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			return;
		}
}

static void
on_events(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	imap_notify_poll();
}

void
imap_notify_init(void)
{
	if (ifd >= 0)
		return;
	ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ifd < 0) {
		log_warn("imap", 0, "event=inotify-unavailable error=\"%s\"",
		    strerror(errno));
		return;
	}
	ev = event_new(srv.base, ifd, EV_READ | EV_PERSIST, on_events, NULL);
	event_add(ev, NULL);
}

void
imap_notify_stop(void)
{
	if (ev != NULL)
		event_free(ev);
	ev = NULL;
	if (ifd >= 0)
		close(ifd);
	ifd = -1;
}

void
imap_notify_poll(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	static int polling;
	struct imap_watch *touched = NULL;
	int overflow = 0;
	ssize_t n;

	/* Sessions woken below may ask again: the batch covers them. */
	if (ifd < 0 || polling)
		return;
	polling = 1;
	while ((n = read(ifd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;
			struct imap_watch *w;

			p += sizeof(*e) + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			w = by_wd(e->wd);
			if (w == NULL || w->touched)
				continue;
			w->touched = 1;
			w->touched_next = touched;
			touched = w;
		}
	}
	if (overflow) {
		/* Lost notices: every watch may have changed. */
		log_warn("imap", 0, "event=inotify-overflow");
		for (size_t b = 0; b < BUCKETS; b++)
			for (struct imap_watch *w = paths[b]; w; w = w->by_path)
				if (!w->touched) {
					w->touched = 1;
					w->touched_next = touched;
					touched = w;
				}
	}
	while (touched != NULL) {
		struct imap_watch *w = touched;
		struct imap_session *s, *next;

		touched = w->touched_next;
		w->touched = 0;
		w->gen++;
		/* A woken session may leave the list: keep the next one. */
		w->refs++;
		for (s = w->sessions; s != NULL; s = next) {
			next = s->watch_next;
			imap_idle_notice(s);
		}
		imap_notify_remove(w, NULL);
	}
	polling = 0;
}

struct imap_watch *
imap_notify_add(const char *maildir, struct imap_session *s)
{
	static const char *const sub[2] = { "new", "cur" };
	struct imap_watch *w;
	unsigned h = hash(maildir);

	if (ifd < 0)
		return NULL;
	for (w = paths[h]; w != NULL; w = w->by_path)
		if (strcmp(w->path, maildir) == 0)
			break;
	if (w == NULL) {
		char path[PATH_MAX];

		w = xcalloc(1, sizeof(*w));
		w->path = xstrdup(maildir);
		w->gen = 1;
		for (int i = 0; i < 2; i++) {
			w->wd[i].w = w;
			if (str_printf(path, sizeof(path), "%s/%s", maildir,
			    sub[i]) < 0 || (w->wd[i].wd = inotify_add_watch(ifd,
			    path, MASK | IN_ONLYDIR)) < 0) {
				log_warn("imap", 0, "event=watch-failed "
				    "path=\"%s\" error=\"%s\"", path,
				    strerror(errno));
				if (i == 1) {
					unlink_wd(&w->wd[0]);
					inotify_rm_watch(ifd, w->wd[0].wd);
				}
				free(w->path);
				free(w);
				return NULL;
			}
			link_wd(&w->wd[i]);
		}
		w->by_path = paths[h];
		paths[h] = w;
	}
	w->refs++;
	s->watch_prev = NULL;
	s->watch_next = w->sessions;
	if (w->sessions != NULL)
		w->sessions->watch_prev = s;
	w->sessions = s;
	return w;
}

void
imap_notify_remove(struct imap_watch *w, struct imap_session *s)
{
	if (w == NULL)
		return;
	if (s != NULL) {
		if (s->watch_prev != NULL)
			s->watch_prev->watch_next = s->watch_next;
		else
			w->sessions = s->watch_next;
		if (s->watch_next != NULL)
			s->watch_next->watch_prev = s->watch_prev;
		s->watch_next = s->watch_prev = NULL;
	}
	if (--w->refs > 0)
		return;
	for (struct imap_watch **pp = &paths[hash(w->path)]; *pp != NULL;
	    pp = &(*pp)->by_path)
		if (*pp == w) {
			*pp = w->by_path;
			break;
		}
	for (int i = 0; i < 2; i++) {
		unlink_wd(&w->wd[i]);
		inotify_rm_watch(ifd, w->wd[i].wd);
	}
	free(w->path);
	free(w);
}

uint64_t
imap_notify_gen(const struct imap_watch *w)
{
	return w->gen;
}
