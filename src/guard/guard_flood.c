/* Flood drops: the set of ranges dropped in the kernel, kept in step
 * with the guard, and the listeners' filter built from it.
 * SECURITY: only ranges the guard refuses entirely are dropped (no allow
 * entry overlaps them), and each is checked again every tick. */
#include "guard/guard_flood.h"

#include <errno.h>
#include <string.h>

#include "core/listener.h"
#include "core/log.h"
#include "core/sockfilter.h"

static struct {
	struct cidr set[SOCKFILTER_MAX_RANGES];
	uint64_t since[SOCKFILTER_MAX_RANGES];
	size_t n;
	uint64_t total;
	int full_logged;	/* "set full" said since it last had room */
	int unavailable;	/* the kernel refused: replies only */
} fl;

static int
publish(void)
{
	return listener_set_drops(fl.set, fl.n);
}

static int
dropped(const struct cidr *range)
{
	for (size_t i = 0; i < fl.n; i++)
		if (cidr_equal(&fl.set[i], range))
			return 1;
	return 0;
}

void
guard_flood_add(struct guard *g, const struct cidr *range,
    unsigned refused, uint64_t now)
{
	char text[IPADDR_STRLEN + 8];
	int err;

	if (fl.unavailable || dropped(range) ||
	    !guard_refuses_range(g, range, now))
		return;
	cidr_str(range, text, sizeof(text));
	if (fl.n == SOCKFILTER_MAX_RANGES) {
		if (!fl.full_logged)
			LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
			    "event=flood-drop-full ip=%s ranges=%zu", text,
			    fl.n);
		fl.full_logged = 1;
		return;
	}
	fl.set[fl.n] = *range;
	fl.since[fl.n] = now;
	fl.n++;
	if ((err = publish()) != 0) {
		/* EPERM: a kernel that wants CAP_NET_ADMIN and no helper:
		 * replies only, without asking again. Anything else (the
		 * helper slow to answer): asked again at the next multiple
		 * of the threshold. */
		fl.n--;
		(void)publish();
		if (err == EPERM || err == EACCES)
			fl.unavailable = 1;
		LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
		    "event=flood-drop-%s ip=%s error=\"%s\"",
		    fl.unavailable ? "unavailable" : "failed", text,
		    strerror(err));
		return;
	}
	fl.total++;
	LOG_AT(LOG_FILE_INTRUSION, LOG_WARN, "guard", 0,
	    "event=flood-drop ip=%s refused=%u", text, refused);
}

void
guard_flood_check(struct guard *g, uint64_t now)
{
	size_t i = 0, before = fl.n;

	while (i < fl.n) {
		char text[IPADDR_STRLEN + 8];

		if (guard_refuses_range(g, &fl.set[i], now)) {
			i++;
			continue;
		}
		cidr_str(&fl.set[i], text, sizeof(text));
		LOG_AT(LOG_FILE_INTRUSION, LOG_INFO, "guard", 0,
		    "event=flood-drop-end ip=%s seconds=%llu", text,
		    (unsigned long long)((now - fl.since[i]) / 1000));
		fl.n--;
		fl.set[i] = fl.set[fl.n];
		fl.since[i] = fl.since[fl.n];
	}
	if (fl.n != before) {
		fl.full_logged = 0;
		(void)publish();
	}
}

size_t
guard_flood_count(void)
{
	return fl.n;
}

uint64_t
guard_flood_total(void)
{
	return fl.total;
}

void
guard_flood_clear(void)
{
	fl.unavailable = 0;
	if (fl.n == 0)
		return;
	fl.n = 0;
	fl.full_logged = 0;
	(void)publish();
}
