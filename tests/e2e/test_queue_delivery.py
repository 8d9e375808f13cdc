"""The outbound queue delivers (docs/queue.md, "Delivery" and "Bounces"):
MX lookup and preference, fallbacks, STARTTLS, PIPELINING, retries,
per-recipient state, DSN bounces, delay warnings, delivery.log.

Everything is delivered to loopback: mxlib's DNS server and SMTP sinks on
127.0.0.X, reached through delivery.dns-servers and delivery.port.  Most
tests share one server and one lab; each uses its own domains and sink
addresses, and tells its message apart by a token."""

import re
import time

import pytest

from conftest import (ALICE, FACTOR, dot_stuff, finish_server, ipv6_available, make_server,
                      plain_blob, token, wait_until)
from mxlib import (DELIVERY_TIMEOUT, NOTICE, Sink, delivery_log, dlog_entries, dsns,
                   lab_settings, msg_for, queue_entry, queue_id, queue_list, send,
                   wait_dlog, wait_dsn, wait_gone, wait_past)
from mxlib import lab, sinks_saw_no_protocol_errors  # noqa: F401,F811  (fixtures)

HOST = "mw.example.test"
DAEMON = "MAILER-DAEMON@" + HOST


@pytest.fixture(scope="module")
def srv(lab):
    s = make_server(settings=lab_settings(lab))
    yield s
    finish_server(s)


# -- helpers -------------------------------------------------------------------

def header_fields(block):
    """A header block (lines ending CRLF) -> [(name, value)]; asserts that
    every line is a field or a continuation."""
    assert block.endswith(b"\r\n"), "header block does not end with CRLF: %r" % block[-100:]
    fields = []
    for ln in block[:-2].split(b"\r\n"):
        if ln[:1] in (b" ", b"\t"):
            assert fields, "continuation line first: %r" % block[:300]
            fields[-1][1] += b"\r\n" + ln
            continue
        m = re.match(rb"^([!-9;-~]+):", ln)
        assert m, "not a header field: %r (in %r)" % (ln, block[:500])
        fields.append([m.group(1).decode(), ln[m.end():]])
    return [(n, v.decode("utf-8", "replace")) for n, v in fields]


def check_relayed_copy(data, msg):
    """What a sink received is the message as sent, byte for byte, below
    trace fields that the server added (its Received:), and no
    Return-Path: (that is for final delivery, RFC 5321 4.4)."""
    assert data.endswith(msg), (
        "the message was not relayed byte for byte:\nsent (tail) %r\ngot  (tail) %r"
        % (msg[-300:], data[-300:]))
    prefix = data[:len(data) - len(msg)]
    assert prefix, "no Received: field was added on the way"
    fields = header_fields(prefix)
    names = [n.lower() for n, _ in fields]
    assert "received" in names, "no Received: added: %r" % prefix
    assert "return-path" not in names, "Return-Path: in relayed mail: %r" % prefix
    ours = [v for n, v in fields if n.lower() == "received" and "by %s" % HOST in v]
    assert ours, "no Received: ... by %s in %r" % (HOST, prefix)
    rest = data.replace(b"\r\n", b"")
    assert b"\r" not in rest and b"\n" not in rest, "bare CR or LF in the relayed data"
    return fields


def wait_no_queue(srv, tok, timeout=DELIVERY_TIMEOUT):
    ok = wait_until(lambda: srv.queue_with(tok) == [], timeout=timeout, interval=0.1)
    assert ok, "message %s still in the queue: %r" % (tok, srv.queue_with(tok))


TRICKY_BODY = (b"Hello %s.\r\n"
               b".a line that starts with a dot\r\n"
               b"..two dots\r\n"
               b".\r\n"
               b"the line above was a lone dot\r\n"
               b"trailing spaces   \r\n"
               b"\ttab first\r\n"
               b"\r\n"
               b"\r\n"
               b"From the start of a line\r\n"
               + b"x" * 990 + b"\r\n"
               b"last line\r\n")


# -- delivery through MX ---------------------------------------------------------

def test_delivered_byte_exact_through_mx_one_transaction_per_domain(srv, lab):
    tok = token()
    a = lab.sink(offer_starttls=True)
    b = lab.sink(offer_starttls=False, pipelining=False)
    da, db = lab.mx_domain([a.ip]), lab.mx_domain([b.ip])
    r1, r2, r3 = "one@" + da, "Two.Mixed@" + da, "three@" + db
    sender = "sender-%s@other.test" % tok.lower()
    extra = b"X-Folded: first part\r\n\tsecond part\r\nX-Empty:\r\n"
    msg = msg_for(tok, [r1, r2, r3], sender, body=TRICKY_BODY.replace(b"%s", tok.encode()),
                  extra=extra)
    send(srv, sender, [r1, r2, r3], msg)

    (ta,) = a.wait_marker(tok)
    (tb,) = b.wait_marker(tok)
    # One transaction carries both recipients of one domain.
    assert sorted(ta.rcpts) == sorted([r1, r2]), ta
    assert tb.rcpts == [r3], tb
    for t in (ta, tb):
        assert t.mail_from == sender, t.mail_from
        assert t.session.ehlo == HOST, "EHLO %r, want the hostname %s" % (t.session.ehlo, HOST)
        assert t.session.verb == "EHLO"
        check_relayed_copy(t.data, msg)
        # Dot-stuffed on the wire, ended by CRLF.CRLF.
        assert t.raw_data == dot_stuff(t.data) + b".\r\n", t.raw_data[-200:]
    assert ta.session.tls, "STARTTLS was offered but not used"
    assert not tb.session.tls
    assert lab.dns.asked(da, "MX") and lab.dns.asked(db, "MX")
    wait_no_queue(srv, tok)
    # Exactly once each.
    assert len(a.with_marker(tok)) == 1 and len(b.with_marker(tok)) == 1
    # delivery.log: one line per recipient per attempt.
    sent = wait_dlog(srv, status="sent", rcpt=r1)
    qid = sent[0]["id"]
    lines = dlog_entries(srv, qid=qid)
    assert sorted(d["rcpt"].strip("<>").lower() for d in lines) == sorted(
        x.lower() for x in (r1, r2, r3)), lines
    for d in lines:
        assert d["status"] == "sent", d["line"]
        host, ip = (("mx1." + da), a.ip) if da in d["rcpt"].lower() else (("mx1." + db), b.ip)
        assert d["relay"] == "%s[%s]:%d" % (host, ip, lab.port), d["line"]
        assert d["reply"].startswith("250"), d["line"]


def test_large_message_byte_exact(srv, lab):
    tok = token()
    sink = lab.sink(offer_starttls=True)
    d = lab.mx_domain([sink.ip])
    rcpt = "big@" + d
    lines = []
    for i in range(12000):
        lines.append((".%05d %s dotted line\r\n" % (i, tok)) if i % 3 == 0
                     else ("%05d plain line with some text in it to make it longer\r\n" % i))
    body = "".join(lines).encode()
    msg = msg_for(tok, [rcpt], ALICE, body=body)
    assert len(msg) > 600000
    send(srv, ALICE, [rcpt], msg, user=ALICE)
    (t,) = sink.wait_marker(tok)
    check_relayed_copy(t.data, msg)
    assert t.raw_data == dot_stuff(t.data) + b".\r\n"


def test_mx_preference_order(srv, lab):
    tok = token()
    s10, s20, s30 = lab.sink(), lab.sink(), lab.sink()
    # Listed out of order in the answer.
    d = lab.mx_domain([(30, s30.ip), (10, s10.ip), (20, s20.ip)])
    rcpt = "pref@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    s10.wait_marker(tok)
    wait_no_queue(srv, tok)
    assert s20.sessions == [] and s30.sessions == [], \
        "a less preferred MX was contacted: %r %r" % (s20.sessions, s30.sessions)


@pytest.mark.parametrize("first", ["down", "421-greeting"])
def test_mx_fallback_when_preferred_host_fails(srv, lab, first):
    tok = token()
    if first == "down":
        ip1 = lab.ip()                  # no listener there
    else:
        ip1 = lab.sink(greeting="421 4.3.2 too busy %s" % tok).ip
    s2 = lab.sink()
    d = lab.mx_domain([(10, ip1), (20, s2.ip)])
    rcpt = "fallback@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    (t,) = s2.wait_marker(tok)
    assert t.rcpts == [rcpt]
    wait_no_queue(srv, tok)
    assert len(s2.with_marker(tok)) == 1
    (sent,) = wait_dlog(srv, rcpt=rcpt, status="sent")
    assert sent["relay"] == "mx2.%s[%s]:%d" % (d, s2.ip, lab.port), sent["line"]


def test_every_address_of_an_mx_host_is_tried(srv, lab):
    tok = token()
    down = lab.ip()
    up = lab.sink()
    d = lab.domain()
    lab.dns.set_a("mx.%s" % d, down, up.ip)
    lab.dns.set_mx(d, (10, "mx.%s" % d))
    rcpt = "addr@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    up.wait_marker(tok)
    wait_no_queue(srv, tok)


def test_a_fallback_without_mx(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.domain("amx")
    lab.dns.set_a(d, sink.ip)           # no MX record at all
    rcpt = "plain@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    (t,) = sink.wait_marker(tok)
    check_relayed_copy(t.data, msg_for(tok, [rcpt], ALICE))
    assert lab.dns.asked(d, "MX"), "the MX was never asked: %r" % lab.dns.queries[-10:]
    wait_no_queue(srv, tok)


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_aaaa_only_mx_host(srv, lab):
    tok = token()
    sink = Sink("::1", lab.port)
    try:
        sink.start()
    except OSError as e:
        pytest.skip("port %d not free on ::1: %s" % (lab.port, e))
    lab.sinks.append(sink)
    d = lab.mx_domain(["::1"])
    rcpt = "six@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    sink.wait_marker(tok)
    wait_no_queue(srv, tok)
    (sent,) = wait_dlog(srv, rcpt=rcpt, status="sent")
    assert "[::1]" in sent["relay"], sent["line"]


def test_helo_when_ehlo_is_refused(srv, lab):
    tok = token()
    sink = lab.sink(ehlo_reply="502 5.5.2 EHLO not implemented", pipelining=False)
    d = lab.mx_domain([sink.ip])
    rcpt = "old@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    (t,) = sink.wait_marker(tok)
    assert t.session.verb == "HELO" and t.session.ehlo == HOST, t.session
    assert t.session.ehlo_tried[0][0] == "EHLO"


def test_pipelining_only_when_offered(srv, lab):
    tok = token()
    p = lab.sink(pipelining=True, hold_mail=0.5)
    n = lab.sink(pipelining=False, hold_mail=0.3)
    dp, dn = lab.mx_domain([p.ip]), lab.mx_domain([n.ip])
    rcpts = ["p1@" + dp, "p2@" + dp, "n1@" + dn, "n2@" + dn]
    send(srv, ALICE, rcpts, msg_for(tok, rcpts, ALICE), user=ALICE)
    (tp,) = p.wait_marker(tok)
    (tn,) = n.wait_marker(tok)
    assert sorted(tp.rcpts) == sorted(rcpts[:2]) and sorted(tn.rcpts) == sorted(rcpts[2:])
    _, behind = tp.session.pipelined[-1]
    assert [ln for ln in behind if ln.upper().startswith("RCPT")], (
        "PIPELINING offered, but RCPT waited for the reply to MAIL: %r" % (behind,))
    for _, behind in [x for sess in n.sessions for x in sess.pipelined]:
        assert behind == [], "commands sent before the reply to MAIL without PIPELINING: %r" % behind


def test_alias_to_an_outside_address(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    target = "forwarded@" + d
    alias = "fwd-%s@example.test" % tok.lower()
    srv.cli_ok("alias", "add", alias, target)
    msg = msg_for(tok, [alias], "someone@other.test")
    send(srv, "someone@other.test", [alias], msg)
    (t,) = sink.wait_marker(tok)
    assert t.rcpts == [target]
    check_relayed_copy(t.data, msg)


def test_connections_per_domain_are_limited(srv, lab):
    toks = [token() for _ in range(6)]
    sink = lab.sink(data_delay=0.4)
    d = lab.mx_domain([sink.ip])
    srv.set("delivery.max-per-domain", "2")
    try:
        time.sleep(NOTICE)              # settings apply live
        for i, t in enumerate(toks):
            r = "c%d@%s" % (i, d)
            send(srv, "many@other.test", [r], msg_for(t, [r], "many@other.test"))
        for t in toks:
            sink.wait_marker(t)
        busy = sink.max_concurrent_data()
        assert busy <= 2, "%d connections at once to one domain (max-per-domain 2)" % busy
    finally:
        srv.set("delivery.max-per-domain", "10")
    for t in toks:
        wait_no_queue(srv, t)
    assert all(len(sink.with_marker(t)) == 1 for t in toks)


# -- retries and per-recipient state ------------------------------------------------

def test_451_then_delivered_on_retry(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    rcpt = "grey@" + d
    sink.rcpt(rcpt, "451 4.7.1 greylisted %s" % tok, times=1)
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    (t,) = sink.wait_marker(tok)
    assert t.rcpts == [rcpt]
    wait_no_queue(srv, tok)
    tries = [x for x in sink.transactions() if rcpt in x.rcpt_tried]
    assert len(tries) == 2, tries
    assert not tries[0].accepted and tries[1].accepted
    # delivery.log: a deferred line with the reply, then a sent line, same id.
    (deferred,) = wait_dlog(srv, rcpt=rcpt, status="deferred")
    assert "451 4.7.1 greylisted %s" % tok in deferred["reply"], deferred["line"]
    assert deferred["relay"] == "mx1.%s[%s]:%d" % (d, sink.ip, lab.port), deferred["line"]
    (sent,) = wait_dlog(srv, rcpt=rcpt, status="sent")
    assert sent["id"] == deferred["id"]
    log = [ln for ln in delivery_log(srv) if "id=%s " % sent["id"] in ln]
    assert log.index(deferred["line"]) < log.index(sent["line"]), log
    assert len(sink.with_marker(tok)) == 1


def test_partial_delivery_retries_only_the_rest(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    ok, later = "ok@" + d, "later@" + d
    sink.rcpt(later, "451 4.2.1 mailbox busy %s" % tok, times=1)
    send(srv, ALICE, [ok, later], msg_for(tok, [ok, later], ALICE), user=ALICE)
    sink.wait_marker(tok, count=2)
    wait_no_queue(srv, tok)
    got = sink.with_marker(tok)
    assert len(got) == 2, got
    assert got[0].rcpts == [ok] and got[0].rcpt_tried == [ok, later], got[0]
    assert got[1].rcpt_tried == [later] and got[1].rcpts == [later], (
        "the retry was not only for the remaining recipient: %r" % got[1])
    assert len(sink.deliveries_to(ok, tok)) == 1 and len(sink.deliveries_to(later, tok)) == 1
    assert dsns(srv, ALICE, r".", tok) == [], "a DSN for a recipient delivered on retry"


# -- bounces -----------------------------------------------------------------------

def check_dsn_common(dsn, tok):
    assert dsn.raw.startswith(b"Return-Path: <>\r\n"), (
        "a DSN has the null envelope sender: %r" % dsn.raw[:200])
    frm = dsn.header("From") or ""
    assert DAEMON.lower() in frm.lower(), "From: %r, want %s" % (frm, DAEMON)
    assert dsn.msg.get_content_type() == "multipart/report", dsn.msg.get_content_type()
    assert (dsn.msg.get_param("report-type") or "").lower() == "delivery-status", \
        dsn.header("Content-Type")
    assert dsn.status_raw is not None, "no message/delivery-status part: %r" % dsn
    assert dsn.headers_part is not None, "no text/rfc822-headers part: %r" % dsn
    assert "Subject: test %s" % tok in dsn.headers_part, dsn.headers_part
    assert "Message-ID: <%s@mw.test>" % tok in dsn.headers_part, dsn.headers_part
    assert "reporting-mta" in dsn.per_message, (
        "no Reporting-MTA (RFC 3464 2.2.2): %r" % dsn.status_raw)


def test_550_bounces_to_local_sender_with_a_dsn(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    bad, good = "nobody@" + d, "somebody@" + d
    reply = "550 5.1.1 <%s>: no such user here %s" % (bad, tok)
    sink.rcpt(bad, reply)
    send(srv, ALICE, [bad, good], msg_for(tok, [bad, good], ALICE), user=ALICE)
    (t,) = sink.wait_marker(tok)
    assert t.rcpts == [good]
    (dsn,) = wait_dsn(srv, ALICE, tok)
    check_dsn_common(dsn, tok)
    assert dsn.header("Subject") == "Undelivered Mail Returned to Sender"
    assert bad in dsn.text, "the text part does not name %s: %r" % (bad, dsn.text)
    assert reply[4:] in " ".join(dsn.text.split()), \
        "the text part lacks the remote reply %r: %r" % (reply, dsn.text)
    assert good not in dsn.text, "the delivered recipient is named in the bounce"
    r = dsn.recipient(bad)
    assert r is not None, "no per-recipient block for %s: %r" % (bad, dsn.status_raw)
    assert r.get("action", "").lower() == "failed", r
    assert r.get("status") == "5.1.1", r
    assert re.match(r"(?i)^rfc822;\s*%s$" % re.escape(bad), r.get("final-recipient", "")), r
    diag = r.get("diagnostic-code", "")
    assert re.match(r"(?i)^smtp;\s*", diag) and reply in diag, r
    assert "remote-mta" in r and (sink.ip in r["remote-mta"] or ("mx1." + d) in
                                  r["remote-mta"].lower()), r
    assert dsn.recipient(good) is None, "the delivered recipient has a failure block"
    wait_no_queue(srv, tok)
    (bl,) = wait_dlog(srv, rcpt=bad, status="bounced")
    assert reply in bl["reply"], bl["line"]
    # Exactly one bounce, and nothing for the DSN reached the outside.
    assert len(dsns(srv, ALICE, r".", tok)) == 1
    assert [x for x in sink.transactions() if x.mail_from == ""] == []


def test_550_at_data_bounces_every_recipient_of_the_transaction(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    r1, r2 = "d1@" + d, "d2@" + d
    reply = "554 5.7.1 message refused by policy %s" % tok
    sink.data(reply)
    send(srv, ALICE, [r1, r2], msg_for(tok, [r1, r2], ALICE), user=ALICE)
    (dsn,) = wait_dsn(srv, ALICE, tok)
    check_dsn_common(dsn, tok)
    for r in (r1, r2):
        b = dsn.recipient(r)
        assert b is not None and b.get("action", "").lower() == "failed", dsn.status_raw
        assert reply in b.get("diagnostic-code", ""), b
    assert sink.with_marker(tok) == []
    wait_no_queue(srv, tok)


@pytest.mark.parametrize("kind", ["nxdomain", "null-mx"])
def test_unroutable_domain_bounces(srv, lab, kind):
    tok = token()
    d = lab.domain(kind.replace("-", ""))
    trap = lab.sink()
    if kind == "null-mx":
        lab.dns.set_null_mx(d)
        lab.dns.set_a(d, trap.ip)       # must not be used (RFC 7505)
    rcpt = "lost@" + d
    send(srv, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    (dsn,) = wait_dsn(srv, ALICE, tok)
    check_dsn_common(dsn, tok)
    assert rcpt in dsn.text, dsn.text
    r = dsn.recipient(rcpt)
    assert r is not None, dsn.status_raw
    assert r.get("action", "").lower() == "failed", r
    assert r.get("status", "").startswith("5."), r
    wait_no_queue(srv, tok)
    wait_dlog(srv, rcpt=rcpt, status="bounced")
    assert lab.dns.asked(d, "MX")
    assert trap.sessions == [], "the A record of a null-MX domain was used"


def test_no_bounce_for_a_null_sender(srv, lab):
    tok, ctl = token(), token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    rcpt = "refuses@" + d
    sink.rcpt(rcpt, "550 5.1.1 unknown user")
    # A message with the null sender (say, someone's bounce) that fails...
    send(srv, "", [rcpt], msg_for(tok, [rcpt], "MAILER-DAEMON@other.test"))
    # ...and a control message from alice that fails the same way.
    send(srv, ALICE, [rcpt], msg_for(ctl, [rcpt], ALICE), user=ALICE)
    wait_dsn(srv, ALICE, ctl)
    wait_no_queue(srv, tok)
    wait_dlog(srv, rcpt=rcpt, status="bounced", count=2)
    assert srv.mail_with(tok) == [], "a bounce for a null-sender message was delivered"
    assert srv.queue_with(tok) == [], "a bounce for a null-sender message was queued"
    assert [t for t in sink.transactions() if t.data and tok.encode() in t.data] == []


# -- hold / release (a server that retries every second) -----------------------

def test_held_message_is_not_delivered_until_released(srv, lab):
    tok = token()
    sender = "holder-%s@other.test" % tok.lower()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    r1, r2, ctl_rcpt = "h1@" + d, "h2@" + d, "ctl@" + d
    t1, t2, ctl = token(), token(), token()
    for r in (r1, r2):
        sink.rcpt(r, "451 4.3.0 not now")
    send(srv, sender, [r1], msg_for(t1, [r1], sender))
    send(srv, sender, [r2], msg_for(t2, [r2], sender))
    q1, q2 = queue_id(srv, t1), queue_id(srv, t2)
    for q in (q1, q2):
        wait_dlog(srv, qid=q, status="deferred")
    srv.cli_ok("queue", "hold", "--sender", sender)
    for q in (q1, q2):
        assert queue_entry(srv, q)["held"] is True, queue_entry(srv, q)
    time.sleep(NOTICE)              # the server's second to notice
    due = max(queue_entry(srv, q)["next_attempt"] for q in (q1, q2))
    sink.clear_rcpt()               # the sink accepts from now on
    send(srv, sender, [ctl_rcpt], msg_for(ctl, [ctl_rcpt], sender))
    sink.wait_marker(ctl)
    wait_past(due + 1)
    assert sink.with_marker(t1) == [] and sink.with_marker(t2) == [], \
        "a held message was delivered"
    for q in (q1, q2):
        e = queue_entry(srv, q)
        assert e is not None and e["held"] is True, e
    srv.cli_ok("queue", "release", q1)
    sink.wait_marker(t1)
    wait_gone(srv, q1)
    assert sink.with_marker(t2) == [], "releasing one message released another"
    assert queue_entry(srv, q2)["held"] is True
    srv.cli_ok("queue", "release", "--sender", sender)
    sink.wait_marker(t2)
    wait_gone(srv, q2)
    assert len(sink.with_marker(t1)) == 1 and len(sink.with_marker(t2)) == 1


# -- delay warning and give-up (own server: settings differ) ------------------------

def test_delay_warning_then_lifetime_expiry(fresh_server, lab):
    s = fresh_server(settings=lab_settings(lab, **{"queue.lifetime": 3,
                                                   "queue.delay-warning": 1}))
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    rcpt = "slow@" + d
    reply = "451 4.3.0 try again later %s" % tok
    sink.rcpt(rcpt, reply)
    t0 = time.time()
    send(s, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    delayed = r"^Delayed Mail \(still being retried\)$"
    (warn,) = wait_dsn(s, ALICE, tok, subject_re=delayed)
    check_dsn_common(warn, tok)
    w = warn.recipient(rcpt)
    assert w is not None and w.get("action", "").lower() == "delayed", warn.status_raw
    assert rcpt in warn.text, warn.text

    (dsn,) = wait_dsn(s, ALICE, tok, timeout=DELIVERY_TIMEOUT + 3 * FACTOR)
    t1 = time.time()
    assert t1 - t0 >= 2, "bounced after %.1fs, before queue.lifetime (3 s)" % (t1 - t0)
    check_dsn_common(dsn, tok)
    assert dsn.header("Subject") == "Undelivered Mail Returned to Sender"
    r = dsn.recipient(rcpt)
    assert r is not None and r.get("action", "").lower() == "failed", dsn.status_raw
    assert re.match(r"^[45]\.\d{1,3}\.\d{1,3}$", r.get("status", "")), r
    assert reply in r.get("diagnostic-code", ""), r
    assert rcpt in dsn.text
    wait_no_queue(s, tok)
    wait_dlog(s, rcpt=rcpt, status="expired")
    assert len(dlog_entries(s, rcpt=rcpt, status="deferred")) >= 2, \
        "not retried after the delay warning: %r" % dlog_entries(s, rcpt=rcpt)
    assert len(dsns(s, ALICE, delayed, tok)) == 1, "more than one delay warning"
    assert sink.with_marker(tok) == []


# -- smarthost ---------------------------------------------------------------------

def test_relayhost_gets_everything_with_auth_only_over_tls(fresh_server, lab):
    pw = "relay-Secret-%s" % token()
    relay = lab.sink(offer_starttls=True, auth_users={"mwuser": pw})
    clear = lab.sink(offer_starttls=False, auth_users={"mwuser": pw}, auth_in_clear=True)
    st = lab_settings(lab, **{"delivery.relayhost": "%s:%d" % (relay.ip, lab.port),
                              "delivery.relayhost-user": "mwuser"})
    s = fresh_server(settings=st, start=False)
    s.cli_ok("config", "set-secret", "delivery.relayhost-password", input=pw + "\n")
    for args in (("config", "get", "delivery.relayhost-password"), ("config", "list")):
        out = s.cli(*args)
        assert pw not in out.stdout + out.stderr, "the relay password is shown by %r" % (args,)
    s.start()
    tok = token()
    d = lab.domain("viarelay")           # not in DNS at all: no MX lookup with a relayhost
    rcpt = "far@" + d
    msg = msg_for(tok, [rcpt], ALICE)
    send(s, ALICE, [rcpt], msg, user=ALICE)
    (t,) = relay.wait_marker(tok)
    assert t.rcpts == [rcpt]
    assert t.session.tls, "the smarthost was used without STARTTLS"
    assert t.session.auth == ("PLAIN", "mwuser", pw), t.session.auth_tried
    assert all(tls for _, tls in t.session.auth_tried), "AUTH before TLS"
    check_relayed_copy(t.data, msg)
    assert lab.dns.asked(d, "MX") == [], "MX looked up although a relayhost is set"
    wait_no_queue(s, tok)

    # A smarthost without STARTTLS never sees the password, whatever
    # becomes of the message.
    s.set("delivery.relayhost", "%s:%d" % (clear.ip, lab.port))
    time.sleep(NOTICE)                   # settings apply live
    tok = token()
    rcpt = "far@" + lab.domain("cleartext")
    send(s, ALICE, [rcpt], msg_for(tok, [rcpt], ALICE), user=ALICE)
    wait_dlog(s, rcpt=rcpt)
    assert wait_until(lambda: clear.sessions, timeout=DELIVERY_TIMEOUT), \
        "the new relayhost was never contacted"
    for sess in clear.sessions:
        assert sess.auth_tried == [], "AUTH sent without TLS: %r" % sess.auth_tried
        wire = "\n".join(sess.commands)
        assert pw not in wire and plain_blob("mwuser", pw) not in wire, "the password went in clear"
    for x in queue_list(s):
        s.cli("queue", "delete", x["id"])
