/* POP3 TRANSACTION and UPDATE: the maildrop listed at login, messages
 * streamed from disk in chunks, deletions applied only on QUIT. Disk
 * work runs on the worker pool, one job at a time per session. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"
#include "pop3/pop3_internal.h"

#define CHUNK (64 * 1024)	/* octets read from a message per job */
#define SEND_HIGH (128 * 1024)	/* queued output before waiting to drain */

void
pop3_open_maildrop(struct pop3_session *s)
{
	pop3_enter_state(s, POP3_STATE_BUSY);
	pop3_submit(s, POP3_JOB_SCAN);
}

/* Worker side of READ: opens the message on the first call, then
 * converts the next chunk. */
static void
read_chunk(struct pop3_session *s, struct pop3_job *j)
{
	struct pop3_transfer *x = &s->xfer;
	char *in = xmalloc(CHUNK);
	size_t used;
	ssize_t n;

	j->eof = 0;
	j->out_len = 0;
	if (x->fd < 0) {
		struct stat st;

		x->fd = mailbox_open(s->maildir, &s->box, &s->box.msgs[x->msg]);
		if (x->fd < 0 || fstat(x->fd, &st) < 0)
			goto fail;
		x->end = (uint64_t)st.st_size;
	}
	do {
		n = pread(x->fd, in, CHUNK, (off_t)x->off);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		goto fail;
	j->out = xmalloc(2 * (size_t)n + 8);
	j->out_len = dotstuff_run(&x->st, in, (size_t)n, j->out, &used);
	x->off += (uint64_t)n;
	/* Maildir files never change: the end is known, so the response
	 * ends with its last chunk, not with a read that finds nothing. */
	if (n == 0 || x->off >= x->end || x->st.done) {
		j->out_len += dotstuff_end(&x->st, j->out + j->out_len);
		j->eof = 1;
		close(x->fd);
		x->fd = -1;
	}
	free(in);
	j->rc = 0;
	return;
fail:
	j->rc = -1;
	j->err = errno;
	free(in);
}

void
pop3_job_work(struct pool_job *job)
{
	struct pop3_job *j = (struct pop3_job *)job;
	struct pop3_session *s = j->s;

	switch (j->kind) {
	case POP3_JOB_SCAN:
		j->rc = mailbox_scan(s->maildir, &s->box);
		j->err = errno;
		break;
	case POP3_JOB_READ:
		read_chunk(s, j);
		break;
	case POP3_JOB_UPDATE:
		j->failed = mailbox_update(s->maildir, &s->box, j->actions);
		break;
	}
}

static void
scan_finished(struct pop3_session *s)
{
	if (s->job.rc < 0) {
		log_err("pop3", s->c->id, "event=maildrop-error user=\"%s\" "
		    "error=\"%s\"", s->login, strerror(s->job.err));
		mailbox_list_free(&s->box);
		pop3_unlock(s);
		s->login[0] = '\0';
		pop3_reply(s, "-ERR [SYS/TEMP] Cannot open the maildrop");
		pop3_resume(s, POP3_STATE_AUTHORIZATION);
		return;
	}
	s->marks = xcalloc(s->box.n + 1, 1);
	pop3_reply(s, "+OK Logged in, %zu messages (%" PRIu64 " octets)",
	    s->box.n, s->box.total_size);
	pop3_resume(s, POP3_STATE_TRANSACTION);
}

static void
read_finished(struct pop3_session *s)
{
	struct pop3_transfer *x = &s->xfer;
	struct pop3_job *j = &s->job;

	if (j->rc < 0) {
		if (!x->started) {
			log_warn("pop3", s->c->id, "event=message-gone "
			    "user=\"%s\" msg=%" PRIu32 " error=\"%s\"",
			    s->login, x->msg + 1, strerror(j->err));
			pop3_reply(s, "-ERR [SYS/TEMP] Message %" PRIu32
			    " is no longer available", x->msg + 1);
			pop3_resume(s, POP3_STATE_TRANSACTION);
			return;
		}
		log_err("pop3", s->c->id, "event=read-error user=\"%s\" "
		    "msg=%" PRIu32 " error=\"%s\"", s->login, x->msg + 1,
		    strerror(j->err));
		pop3_close(s);	/* a response cut short cannot go on */
		return;
	}
	if (!x->started) {
		x->started = 1;
		if (x->retr)
			pop3_reply(s, "+OK %" PRIu64 " octets",
			    s->box.msgs[x->msg].size);
		else
			pop3_reply(s, "+OK");
	}
	conn_write_owned(s->c, j->out, j->out_len);
	j->out = NULL;
	if (j->eof) {
		if (x->retr && !(s->marks[x->msg] & POP3_MARK_RETRIEVED)) {
			s->marks[x->msg] |= POP3_MARK_RETRIEVED;
			s->retrieved++;
		}
		pop3_resume(s, POP3_STATE_TRANSACTION);
		return;
	}
	if (s->close_after_job) {
		pop3_close(s);
		return;
	}
	if (conn_output_pending(s->c) < SEND_HIGH)
		pop3_submit(s, POP3_JOB_READ);
	/* else on_drain continues */
}

static void
update_finished(struct pop3_session *s)
{
	struct pop3_job *j = &s->job;

	free(j->actions);
	j->actions = NULL;
	pop3_unlock(s);
	log_info("pop3", s->c->id, "event=update user=\"%s\" deleted=%zu "
	    "failed=%zu", s->login, s->ndeleted, j->failed);
	if (j->failed > 0)
		pop3_reply(s, "-ERR [SYS/TEMP] Some messages could not be "
		    "removed or marked");
	else
		pop3_reply(s, "+OK Bye, %zu messages deleted", s->ndeleted);
	pop3_close(s);
}

void
pop3_job_finished(struct pop3_session *s)
{
	switch (s->job.kind) {
	case POP3_JOB_SCAN:
		scan_finished(s);
		break;
	case POP3_JOB_READ:
		read_finished(s);
		break;
	case POP3_JOB_UPDATE:
		update_finished(s);
		break;
	}
}

/* The message a number names, or NULL after replying -ERR. */
static struct mailbox_msg *
message(struct pop3_session *s, uint32_t num)
{
	if (num == 0 || num > s->box.n) {
		pop3_reply(s, "-ERR No such message");
		return NULL;
	}
	if (s->marks[num - 1] & POP3_MARK_DELETED) {
		pop3_reply(s, "-ERR Message %" PRIu32 " already deleted", num);
		return NULL;
	}
	return &s->box.msgs[num - 1];
}

static int
numbers(struct pop3_session *s, const char *args, int nmin, int nmax,
    uint32_t *nums, const char *syntax)
{
	int n = pop3_parse_numbers(args, nmin, nmax, nums);

	if (n < 0) {
		pop3_reply(s, "-ERR Syntax: %s", syntax);
		pop3_client_error(s);
	}
	return n;
}

void
pop3_cmd_stat(struct pop3_session *s, const char *args)
{
	(void)args;
	pop3_reply(s, "+OK %zu %" PRIu64, s->box.n - s->ndeleted,
	    s->box.total_size - s->deleted_size);
}

static void
continue_listing(struct pop3_session *s)
{
	struct pop3_listing *l = &s->listing;
	char uid[MAILBOX_UID_MAX + 1];

	while (l->next < s->box.n && conn_output_pending(s->c) < SEND_HIGH) {
		uint32_t i = l->next++;

		if (s->marks[i] & POP3_MARK_DELETED)
			continue;
		if (l->uidl) {
			mailbox_uid(&s->box, &s->box.msgs[i], uid);
			pop3_reply(s, "%" PRIu32 " %s", i + 1, uid);
		} else {
			pop3_reply(s, "%" PRIu32 " %" PRIu64, i + 1,
			    s->box.msgs[i].size);
		}
	}
	if (l->next < s->box.n)
		return;		/* on_drain continues */
	pop3_reply(s, ".");
	pop3_resume(s, POP3_STATE_TRANSACTION);
}

static void
listing(struct pop3_session *s, const char *args, int uidl)
{
	char uid[MAILBOX_UID_MAX + 1];
	struct mailbox_msg *m;
	uint32_t num;
	int n = numbers(s, args, 0, 1, &num, uidl ? "UIDL [msg]" : "LIST [msg]");

	if (n < 0)
		return;
	if (n == 1) {
		if ((m = message(s, num)) == NULL)
			return;
		if (uidl) {
			mailbox_uid(&s->box, m, uid);
			pop3_reply(s, "+OK %" PRIu32 " %s", num, uid);
		} else {
			pop3_reply(s, "+OK %" PRIu32 " %" PRIu64, num, m->size);
		}
		return;
	}
	if (uidl)
		pop3_reply(s, "+OK");
	else
		pop3_reply(s, "+OK %zu messages (%" PRIu64 " octets)",
		    s->box.n - s->ndeleted, s->box.total_size - s->deleted_size);
	s->listing.uidl = uidl;
	s->listing.next = 0;
	s->sending_listing = 1;
	pop3_enter_state(s, POP3_STATE_SENDING);
	conn_pause(s->c);
	continue_listing(s);
}

void
pop3_cmd_list(struct pop3_session *s, const char *args)
{
	listing(s, args, 0);
}

void
pop3_cmd_uidl(struct pop3_session *s, const char *args)
{
	listing(s, args, 1);
}

/* Sends the message whole from the page cache when that cannot wait for
 * the disk (most RETRs of a recent mailbox): no worker round trip. 0 if
 * sent, -1 to go the worker way. */
static int
send_cached(struct pop3_session *s)
{
	struct pop3_transfer *x = &s->xfer;
	const struct mailbox_msg *m = &s->box.msgs[x->msg];
	char *data, *out;
	size_t len, used, o;

	if (m->size > CHUNK || mailbox_read_cached(s->maildir, &s->box, m,
	    CHUNK, &data, &len) < 0)
		return -1;
	out = xmalloc(2 * len + 8);
	o = dotstuff_run(&x->st, data, len, out, &used);
	o += dotstuff_end(&x->st, out + o);
	free(data);
	if (x->retr)
		pop3_reply(s, "+OK %" PRIu64 " octets", m->size);
	else
		pop3_reply(s, "+OK");
	conn_write_owned(s->c, out, o);
	if (x->retr && !(s->marks[x->msg] & POP3_MARK_RETRIEVED)) {
		s->marks[x->msg] |= POP3_MARK_RETRIEVED;
		s->retrieved++;
	}
	return 0;
}

/* Starts sending message num: RETR (lines < 0) or TOP. */
static void
send_message(struct pop3_session *s, uint32_t num, int64_t lines)
{
	struct pop3_transfer *x = &s->xfer;

	if (message(s, num) == NULL)
		return;
	x->fd = -1;
	x->msg = num - 1;
	x->off = 0;
	x->started = 0;
	x->retr = lines < 0;
	dotstuff_init(&x->st, lines);
	s->sending_listing = 0;
	if (send_cached(s) == 0)
		return;
	pop3_enter_state(s, POP3_STATE_SENDING);
	pop3_submit(s, POP3_JOB_READ);
}

void
pop3_cmd_retr(struct pop3_session *s, const char *args)
{
	uint32_t num;

	if (numbers(s, args, 1, 1, &num, "RETR msg") == 1)
		send_message(s, num, -1);
}

void
pop3_cmd_top(struct pop3_session *s, const char *args)
{
	uint32_t nums[2];

	if (numbers(s, args, 2, 2, nums, "TOP msg lines") == 2)
		send_message(s, nums[0], nums[1]);
}

void
pop3_continue_sending(struct pop3_session *s)
{
	if (s->sending_listing)
		continue_listing(s);
	else
		pop3_submit(s, POP3_JOB_READ);
}

void
pop3_cmd_dele(struct pop3_session *s, const char *args)
{
	struct mailbox_msg *m;
	uint32_t num;

	if (numbers(s, args, 1, 1, &num, "DELE msg") != 1 ||
	    (m = message(s, num)) == NULL)
		return;
	s->marks[num - 1] |= POP3_MARK_DELETED;
	s->ndeleted++;
	s->deleted_size += m->size;
	pop3_reply(s, "+OK Message %" PRIu32 " deleted", num);
}

void
pop3_cmd_rset(struct pop3_session *s, const char *args)
{
	(void)args;
	for (size_t i = 0; i < s->box.n; i++)
		s->marks[i] &= (uint8_t)~POP3_MARK_DELETED;
	s->ndeleted = 0;
	s->deleted_size = 0;
	pop3_reply(s, "+OK %zu messages (%" PRIu64 " octets)", s->box.n,
	    s->box.total_size);
}

void
pop3_cmd_noop(struct pop3_session *s, const char *args)
{
	(void)args;
	pop3_reply(s, "+OK");
}

void
pop3_update(struct pop3_session *s)
{
	uint8_t *actions = xcalloc(s->box.n + 1, 1);
	int any = 0;

	for (size_t i = 0; i < s->box.n; i++) {
		if (s->marks[i] & POP3_MARK_DELETED)
			actions[i] = MAILBOX_DELETE;
		else if (s->marks[i] & POP3_MARK_RETRIEVED)
			actions[i] = MAILBOX_MARK_SEEN;
		any |= actions[i] != MAILBOX_KEEP;
	}
	s->job.actions = actions;
	s->job.failed = 0;
	if (!any) {
		update_finished(s);
		return;
	}
	pop3_enter_state(s, POP3_STATE_BUSY);
	pop3_submit(s, POP3_JOB_UPDATE);
}

void
pop3_maildrop_free(struct pop3_session *s)
{
	if (s->xfer.fd >= 0)
		close(s->xfer.fd);
	s->xfer.fd = -1;
	free(s->job.out);
	s->job.out = NULL;
	free(s->job.actions);
	s->job.actions = NULL;
	free(s->marks);
	s->marks = NULL;
	mailbox_list_free(&s->box);
}
