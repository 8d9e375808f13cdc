/* Alert e-mails.
 * SECURITY: mail text is built from our own values: addresses in text
 * form, rule names, numbers, and usernames of authenticated users
 * (validated account names). */
#include "guard/alert.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/server.h"
#include "core/util.h"
#include "guard/guard_store.h"
#include "queue/submit.h"

#define ALERT_MAX_PENDING 1000	/* digest lines kept; the rest counted */
#define ALERT_MAX_SIZE (1024 * 1024)

static struct {
	char host_ip[IPADDR_STRLEN];
	uint64_t last_sent_ms;
	struct buf digest;	/* pending digest lines */
	unsigned pending, dropped;
} al;

void
alert_init(void)
{
	struct ifaddrs *ifs, *i;
	struct ipaddr ip;

	str_copy(al.host_ip, sizeof(al.host_ip), "127.0.0.1");
	buf_init(&al.digest, ALERT_MAX_SIZE);
	if (getifaddrs(&ifs) < 0)
		return;
	for (int want = AF_INET; want != 0; want = want == AF_INET ?
	    AF_INET6 : 0) {
		for (i = ifs; i != NULL; i = i->ifa_next) {
			if (i->ifa_addr == NULL || i->ifa_addr->sa_family !=
			    want || ipaddr_from_sockaddr(i->ifa_addr, &ip) < 0)
				continue;
			if (strcmp(i->ifa_name, "lo") == 0)
				continue;
			ipaddr_str(&ip, al.host_ip);
			freeifaddrs(ifs);
			return;
		}
	}
	freeifaddrs(ifs);
}

void
alert_stop(void)
{
	buf_release(&al.digest, 0);
}

static const char *
admin_address(char *buf, size_t size)
{
	const char *a = settings_str(srv.set, SET_ADMIN_EMAIL);

	if (a[0] != '\0')
		return a;
	snprintf(buf, size, "postmaster@%s", settings_str(srv.set,
	    SET_HOSTNAME));
	return buf;
}

static void
alert_stored(void *ctx, int ok, const char *queue_id)
{
	(void)ctx;
	(void)queue_id;
	if (!ok)
		log_err("alert", 0, "event=alert-store-failed");
}

/* Sends one alert e-mail whose body is text. */
static void
send_alert(const char *subject, const char *text)
{
	char admin_buf[300], date[64];
	const char *admin = admin_address(admin_buf, sizeof(admin_buf));
	const char *host = settings_str(srv.set, SET_HOSTNAME);
	struct submit_rcpt rcpts[ACCOUNT_MAX_TARGETS];
	struct buf msg, trace;
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	n = submit_resolve(&admin, 1, rcpts, ACCOUNT_MAX_TARGETS);
	if (n == 0) {
		log_warn("alert", 0, "event=alert-undeliverable to=%s", admin);
		return;
	}
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	buf_init(&msg, ALERT_MAX_SIZE + 4096);
	buf_init(&trace, 0);
	buf_printf(&msg, "From: Mailwarden <MAILER-DAEMON@%s>\r\n"
	    "To: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
	    "Message-ID: <%016llx.alert@%s>\r\nAuto-Submitted: auto-generated\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n\r\n"
	    "Automatic alert from Mailwarden - DO NOT reply\r\n"
	    "Host Name: %s\r\nIP Address: %s\r\n"
	    "--------------------------------------------\r\n%s",
	    host, admin, subject, date, (unsigned long long)random_u64(), host,
	    host, al.host_ip, text);
	submit_message("", rcpts, n, 0, &trace, &msg, alert_stored, NULL);
	buf_release(&msg, 0);
	buf_release(&trace, 0);
	al.last_sent_ms = guard_store_now();
	log_info("alert", 0, "event=alert-sent to=%s subject=\"%s\"", admin,
	    subject);
}

static const char *
service_name(enum guard_proto p)
{
	static const char *const names[] = { "SMTP server", "POP3 server",
		"IMAP server", "admin web interface" };

	return p < GUARD_PROTO_COUNT ? names[p] : "server";
}

static const char *
what_happened(const struct guard_rule *r)
{
	switch (r->event) {
	case GUARD_EV_CONNECT:
		return "Too many connections made from";
	case GUARD_EV_AUTH_FAIL:
		return "Too many invalid login attempts made from";
	case GUARD_EV_BAD_SESSION:
		return "Too many sessions without a message from";
	case GUARD_EV_UNKNOWN_RCPT:
		return "Too many unknown recipients tried by";
	default:
		return "Suspicious activity from";
	}
}

static void
duration_text(uint64_t ms, char *buf, size_t size)
{
	uint64_t min = (ms + 59999) / 60000;

	if (min < 120)
		snprintf(buf, size, "%llu minute%s", (unsigned long long)min,
		    min == 1 ? "" : "s");
	else
		snprintf(buf, size, "%llu hours", (unsigned long long)(min / 60));
}

void
alert_block(const struct guard_rule *r, const struct guard_block *b)
{
	char ip[IPADDR_STRLEN + 8], dur[32], text[1024], subject[200];
	uint64_t now = guard_store_now(), period;

	if (!settings_num(srv.set, SET_ALERT_BLOCKS))
		return;
	if (b->range.prefix == 128)	/* one address: no "/32" */
		ipaddr_str(&b->range.addr, ip);
	else
		cidr_str(&b->range, ip, sizeof(ip));
	duration_text(b->until_ms - b->created_ms, dur, sizeof(dur));
	period = settings_num(srv.set, SET_ALERT_DIGEST_MINUTES) * 60000;
	if (al.pending == 0 && (al.last_sent_ms == 0 ||
	    now - al.last_sent_ms >= period)) {
		snprintf(text, sizeof(text), "%s %s. This IP has been blocked "
		    "for the next %s. Someone from this IP is trying to "
		    "connect to the %s on %s.\r\nTotal attempts so far: %u\r\n"
		    "\r\nRule: %s (%s)\r\nTo lift the block: mailwarden ban "
		    "del %s\r\n", what_happened(r), ip, dur,
		    service_name(b->proto), settings_str(srv.set, SET_HOSTNAME),
		    b->attempts, r->name, b->kind == GUARD_BLOCK_LOGINS ?
		    "logins refused" : "all connections refused", ip);
		snprintf(subject, sizeof(subject), "Mailwarden alert: %s "
		    "blocked (%s)", ip, r->name);
		send_alert(subject, text);
		return;
	}
	/* Within a digest period: collect. */
	if (al.pending >= ALERT_MAX_PENDING) {
		al.dropped++;
		return;
	}
	al.pending++;
	(void)buf_printf(&al.digest, "%s %s: blocked %sfor %s, %s, %u "
	    "attempts (rule %s)\r\n", what_happened(r), ip,
	    b->kind == GUARD_BLOCK_LOGINS ? "from logging in " : "", dur,
	    guard_proto_name(b->proto), b->attempts, r->name);
}

void
alert_tick(void)
{
	uint64_t now = guard_store_now(), period;
	struct buf text;
	char subject[200];

	if (al.pending == 0)
		return;
	period = settings_num(srv.set, SET_ALERT_DIGEST_MINUTES) * 60000;
	if (now - al.last_sent_ms < period)
		return;
	buf_init(&text, ALERT_MAX_SIZE + 1024);
	buf_printf(&text, "%u more IP addresses were blocked in the last %llu "
	    "minutes:\r\n\r\n", al.pending + al.dropped,
	    (unsigned long long)(period / 60000));
	buf_append(&text, al.digest.data, al.digest.len);
	if (al.dropped > 0)
		buf_printf(&text, "... and %u more (see intrusion.log)\r\n",
		    al.dropped);
	snprintf(subject, sizeof(subject), "Mailwarden alert digest: %u IP "
	    "addresses blocked", al.pending + al.dropped);
	send_alert(subject, text.data);
	buf_release(&text, 0);
	buf_reset(&al.digest);
	al.pending = al.dropped = 0;
}

void
alert_auth_volume(const struct guard_rule *r, const char *user)
{
	char text[2048], subject[300];
	int n;

	if (!settings_num(srv.set, SET_ALERT_AUTH_VOLUME))
		return;
	n = snprintf(text, sizeof(text), "The authenticated user %s sent more "
	    "than %u messages within %llu minutes.\r\nIf the account is "
	    "compromised, change its password:\r\n  mailwarden user passwd "
	    "%s\r\n", user, r->count,
	    (unsigned long long)(r->window_ms / 60000), user);
	if (r->kind == GUARD_BLOCK_HOLD && n > 0 && (size_t)n < sizeof(text))
		snprintf(text + n, sizeof(text) - (size_t)n, "\r\nFrom now on "
		    "this user's outbound mail is accepted but held in the "
		    "queue.\r\nSee it:     mailwarden queue list\r\n"
		    "Send it:    mailwarden queue release --sender %s\r\n"
		    "Delete it:  mailwarden queue delete --sender %s\r\n",
		    user, user);
	snprintf(subject, sizeof(subject), "Mailwarden alert: %s sent more "
	    "than %u messages", user, r->count);
	send_alert(subject, text);
}
