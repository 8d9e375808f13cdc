/* IDLE (RFC 2177): changes to the selected mailbox are sent as they
 * happen (imap_notify.c wakes the session) until the client says DONE. */
#include <strings.h>

#include "imap/imap_internal.h"
#include "imap/imap_view.h"

static void idle_synced(struct imap_session *s);

/* Starts a sync if the mailbox changed and none runs. */
static void
idle_check(struct imap_session *s)
{
	if (!s->idling || s->job_running || !s->selected)
		return;
	s->idle_pending = 0;
	if (!imap_view_dirty(s))
		return;
	imap_job_sync(s, NULL, idle_synced);
}

static void
idle_synced(struct imap_session *s)
{
	imap_flush(s);
	imap_view_compact(s);
	s->wait = IMAP_WAIT_IDLE;
	conn_resume(s->c);
	if (s->idle_pending)
		idle_check(s);
}

void
imap_idle_notice(struct imap_session *s)
{
	if (!s->idling)
		return;
	if (s->job_running) {
		s->idle_pending = 1;
		return;
	}
	idle_check(s);
}

static void
idle_begin(struct imap_session *s)
{
	imap_flush(s);
	imap_reply(s, "+ idling");
	/* An idle session keeps no file names: a few octets per message. */
	imap_view_compact(s);
	s->wait = IMAP_WAIT_IDLE;
	s->idling = 1;
	s->idle_pending = 0;
	conn_resume(s->c);
	/* A change between the sync and now is caught here. */
	idle_check(s);
}

IMAP_CMD(idle)
{
	if (!imap_args_done(a)) {
		imap_bad(s, "IDLE takes no arguments");
		return;
	}
	imap_job_sync(s, NULL, idle_begin);
}

void
imap_idle_line(struct imap_session *s, const char *line, size_t len)
{
	s->idling = 0;
	if (len == 4 && strncasecmp(line, "DONE", 4) == 0) {
		imap_done(s, "OK Idle completed");
		return;
	}
	imap_bad(s, "Expected DONE");
}
