"""Queue management from the command line (docs/queue.md, "Command line"):
list/show field by field, delete (one, by sender, all), retry now,
hold/release (one, by sender), unknown ids, and the auth-volume hold of a
compromised account.

The shared server retries only once an hour (queue.retry-min 3600), so a
deferred message stays put, with a known next_attempt, until a command
moves it."""

import os
import re
import time

import pytest

from conftest import (ALICE, BOB, FACTOR, LIVE_TIMEOUT, finish_server, make_server, token,
                      wait_until)
from guardlib import settle
from mxlib import (NOTICE, never, lab_settings, msg_for, queue_entry, queue_id,
                   queue_ids_on_disk, queue_list, queue_show, send, wait_dlog, wait_entry,
                   wait_gone)
from mxlib import lab, sinks_saw_no_protocol_errors  # noqa: F401,F811  (fixtures)

HOST = "mw.example.test"
FIELDS = ("id", "sender", "recipients", "size", "created", "age", "attempts",
          "last_error", "next_attempt", "held")


@pytest.fixture(scope="module")
def srv(lab):
    s = make_server(settings=lab_settings(lab, **{"queue.retry-min": 3600,
                                                  "queue.retry-max": 7200}))
    yield s
    finish_server(s)


def deferred_message(srv, lab, tok, rcpts=None, sender=ALICE, reply=None, times=None,
                     sink=None):
    """Queue a message whose recipients the sink defers (451; times None:
    always); return (qid, sink, rcpts, msg) once its first attempt is over."""
    sink = sink or lab.sink()
    d = lab.mx_domain([sink.ip])
    rcpts = rcpts or ["r0@" + d]
    rcpts = [r if "@" in r else "%s@%s" % (r, d) for r in rcpts]
    for r in rcpts:
        sink.rcpt(r, reply or "451 4.3.0 deferred %s" % tok, times=times)
    msg = msg_for(tok, rcpts, sender)
    send(srv, sender, rcpts, msg, user=ALICE if sender == ALICE else None)
    qid = queue_id(srv, tok)
    wait_entry(srv, qid, lambda e: e.get("attempts", 0) >= 1, what="attempts >= 1")
    return qid, sink, rcpts, msg


# -- list / show -------------------------------------------------------------------

def test_list_json_field_by_field_while_deferred(srv, lab):
    tok = token()
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    ok, busy = "ok@" + d, "busy@" + d
    reply = "451 4.3.0 mailbox busy %s" % tok
    sink.rcpt(busy, reply)
    msg = msg_for(tok, [ok, busy], ALICE)
    t0 = int(time.time())
    send(srv, ALICE, [ok, busy], msg, user=ALICE)
    t1 = time.time()
    qid = queue_id(srv, tok)
    sink.wait_marker(tok)
    wait_entry(srv, qid, lambda e: e.get("attempts", 0) >= 1 and any(
        r.get("state") == "delivered" for r in e.get("recipients", [])),
        what="one attempt, one recipient delivered")
    before = time.time()
    e = queue_entry(srv, qid)
    now = time.time()
    missing = [f for f in FIELDS if f not in e]
    assert missing == [], "fields missing from queue list --json: %r in %r" % (missing, e)
    assert e["id"] == qid and isinstance(e["id"], str)
    assert re.match(r"^[0-9A-Za-z]+$", qid), qid
    assert e["sender"] == ALICE
    rc = {r["address"].lower(): r for r in e["recipients"]}
    assert sorted(rc) == sorted([ok.lower(), busy.lower()]), e["recipients"]
    for r in e["recipients"]:
        assert set(r) >= {"address", "state", "attempts", "last_reply"}, r
    assert rc[ok.lower()]["state"] == "delivered", rc
    assert rc[ok.lower()]["attempts"] == 1, rc
    assert rc[ok.lower()]["last_reply"].startswith("250"), rc
    assert rc[busy.lower()]["state"] == "pending", rc
    assert rc[busy.lower()]["attempts"] == 1, rc
    assert reply in rc[busy.lower()]["last_reply"], rc
    size = os.path.getsize(os.path.join(srv.data, "queue", "msg", qid))
    assert isinstance(e["size"], int) and e["size"] == size, (e["size"], size)
    assert len(msg) < e["size"] < len(msg) + 2000, (e["size"], len(msg))
    assert isinstance(e["created"], int) and t0 - 1 <= e["created"] <= t1 + 1, (e["created"], t0)
    assert isinstance(e["age"], int), e["age"]
    assert int(before) - e["created"] - 1 <= e["age"] <= now - e["created"] + 1, (
        e["age"], before, now, e["created"])
    assert e["attempts"] == 1, e
    assert isinstance(e["last_error"], str) and reply in e["last_error"], e["last_error"]
    assert isinstance(e["next_attempt"], int), e["next_attempt"]
    assert t0 + 3600 - 1 <= e["next_attempt"] <= before + 3600 + 1, (
        "next_attempt %d not one retry-min (3600 s) after the attempt (now %d)"
        % (e["next_attempt"], now))
    assert e["held"] is False
    # Text form: one line (at least) naming it.
    r = srv.cli_ok("queue", "list")
    assert qid in r.stdout and ALICE in r.stdout, r.stdout
    # Cleanup.
    srv.cli_ok("queue", "delete", qid)
    wait_gone(srv, qid)
    assert len(sink.deliveries_to(ok, tok)) == 1 and sink.deliveries_to(busy, tok) == []


def test_null_sender_is_an_empty_string(srv, lab):
    tok = token()
    qid, sink, rcpts, _ = deferred_message(srv, lab, tok, sender="")
    e = queue_entry(srv, qid)
    assert e["sender"] == "", e
    assert queue_show(srv, qid)["sender"] == ""
    srv.cli_ok("queue", "delete", qid)


def test_show_is_the_list_object_plus_headers(srv, lab):
    tok = token()
    qid, sink, rcpts, msg = deferred_message(srv, lab, tok)
    e = queue_entry(srv, qid)
    sh = queue_show(srv, qid)
    for f in FIELDS:
        assert f in sh, "show --json lacks %s: %r" % (f, sh)
        if f not in ("age", "next_attempt"):
            assert sh[f] == e[f], (f, sh[f], e[f])
    assert abs(sh["age"] - e["age"]) <= 2
    assert isinstance(sh["headers"], str), sh
    h = sh["headers"]
    assert "Subject: test %s" % tok in h and "Message-ID: <%s@mw.test>" % tok in h, h
    assert "Hello %s" % tok not in h, "show's headers include the body: %r" % h
    head, _, _ = msg.partition(b"\r\n\r\n")
    for ln in head.decode().split("\r\n"):
        assert ln in h.replace("\r\n", "\n").split("\n"), "header line %r not in %r" % (ln, h)
    txt = srv.cli_ok("queue", "show", qid)
    assert qid in txt.stdout and rcpts[0] in txt.stdout and "Subject: test %s" % tok in txt.stdout, \
        txt.stdout
    srv.cli_ok("queue", "delete", qid)


NOID = "0123456789abcdef"


@pytest.mark.parametrize("cmd", ["show", "delete", "retry", "hold", "release"])
def test_unknown_id_is_an_error(srv, cmd):
    r = srv.cli("queue", cmd, NOID)
    assert r.returncode == 1, "queue %s %s: exit %d, stdout %r" % (cmd, NOID, r.returncode, r.stdout)
    assert "queue: no such message: %s" % NOID in r.stderr, r.stderr
    r = srv.cli("queue", cmd, NOID, "--json") if cmd == "show" else None
    if r is not None:
        assert r.returncode == 1 and "no such message" in r.stderr, (r.returncode, r.stderr)


@pytest.mark.parametrize("bad", ["../../sentinel", "../env", "..", "/etc/passwd", ""])
def test_ids_cannot_name_files_outside_the_queue(srv, bad):
    sentinel = os.path.join(srv.data, "sentinel")
    with open(sentinel, "w") as f:
        f.write("keep me\n")
    os.makedirs(os.path.join(srv.data, "queue", "env"), exist_ok=True)

    def tree():
        # run/ holds the live server's own scratch files (guard-stats.tmp comes and goes)
        return {os.path.join(dp, n) for dp, ds, fs in os.walk(srv.data) for n in ds + fs
                if not n.endswith(".tmp")}
    before = tree()
    try:
        for cmd in ("delete", "show", "hold", "release", "retry"):
            r = srv.cli("queue", cmd, bad)
            assert r.returncode != 0, "queue %s %r succeeded: %r" % (cmd, bad, r.stdout)
            assert r.stderr.strip(), "queue %s %r: no error message" % (cmd, bad)
        assert os.path.exists(sentinel)
        assert before - tree() == set(), "removed: %r" % (before - tree())
    finally:
        os.unlink(sentinel)


def test_unknown_id_among_known_ones_changes_nothing_or_is_reported(srv, lab):
    tok = token()
    qid, sink, _, _ = deferred_message(srv, lab, tok)
    r = srv.cli("queue", "hold", qid, NOID)
    assert r.returncode == 1 and "queue: no such message: %s" % NOID in r.stderr, (
        r.returncode, r.stderr)
    srv.cli_ok("queue", "delete", qid)
    wait_gone(srv, qid)


# -- retry / delete --------------------------------------------------------------

def test_retry_delivers_now(srv, lab):
    tok = token()
    qid, sink, (rcpt,), msg = deferred_message(srv, lab, tok, times=1)
    assert queue_entry(srv, qid)["next_attempt"] > time.time() + 3000
    srv.cli_ok("queue", "retry", qid)
    # Noticed at once (within a second, then one delivery), not in an hour.
    (t,) = sink.wait_marker(tok, timeout=NOTICE + 5 * FACTOR)
    assert t.rcpts == [rcpt]
    wait_gone(srv, qid)
    wait_dlog(srv, qid=qid, rcpt=rcpt, status="sent")


def test_retry_all(srv, lab):
    toks = [token(), token()]
    got = [deferred_message(srv, lab, t, times=1) for t in toks]
    srv.cli_ok("queue", "retry", "--all")
    for t, (qid, sink, _, _) in zip(toks, got):
        sink.wait_marker(t, timeout=NOTICE + 5 * FACTOR)
        wait_gone(srv, qid)


def test_retry_several_ids(srv, lab):
    toks = [token(), token()]
    got = [deferred_message(srv, lab, t, times=1) for t in toks]
    srv.cli_ok("queue", "retry", got[0][0], got[1][0])
    for t, (qid, sink, _, _) in zip(toks, got):
        sink.wait_marker(t, timeout=NOTICE + 5 * FACTOR)
        wait_gone(srv, qid)


def test_delete_one(srv, lab):
    tok, ctl = token(), token()
    sink = lab.sink()
    qid, _, (rcpt,), _ = deferred_message(srv, lab, tok, sink=sink, times=1)
    qid2, _, _, _ = deferred_message(srv, lab, ctl, sink=sink, times=1)
    srv.cli_ok("queue", "delete", qid)
    assert queue_entry(srv, qid) is None
    assert not os.path.exists(os.path.join(srv.data, "queue", "env", qid))
    assert not os.path.exists(os.path.join(srv.data, "queue", "msg", qid))
    assert queue_entry(srv, qid2) is not None, "delete removed another message"
    # The running server forgets it: a retry of everything delivers only
    # the other one.
    srv.cli_ok("queue", "retry", "--all")
    sink.wait_marker(ctl)
    wait_gone(srv, qid2)
    assert sink.with_marker(tok) == [], "a deleted message was delivered"
    r = srv.cli("queue", "show", qid)
    assert r.returncode == 1 and "queue: no such message: %s" % qid in r.stderr


def test_delete_by_sender(srv, lab):
    tok = token()
    bad = "spammer-%s@other.test" % tok.lower()
    good = "honest-%s@other.test" % tok.lower()
    sink = lab.sink()
    mine = [deferred_message(srv, lab, token(), sender=bad, sink=sink)[0] for _ in range(3)]
    other = deferred_message(srv, lab, token(), sender=good, sink=sink)[0]
    srv.cli_ok("queue", "delete", "--sender", bad)
    ids = [e["id"] for e in queue_list(srv)]
    for q in mine:
        assert q not in ids, "message %s from %s not deleted" % (q, bad)
        assert not os.path.exists(os.path.join(srv.data, "queue", "env", q))
    assert other in ids, "a message from another sender was deleted"
    srv.cli_ok("queue", "delete", other)


def test_delete_all(srv, lab):
    ids = [deferred_message(srv, lab, token())[0] for _ in range(3)]
    srv.cli_ok("queue", "delete", "--all")
    assert queue_list(srv) == []
    assert queue_ids_on_disk(srv) == []
    for q in ids:
        assert not os.path.exists(os.path.join(srv.data, "queue", "msg", q))


def test_hold_and_release_flag(srv, lab):
    tok = token()
    qid, sink, _, _ = deferred_message(srv, lab, tok)
    srv.cli_ok("queue", "hold", qid)
    assert queue_entry(srv, qid)["held"] is True
    assert queue_show(srv, qid)["held"] is True
    srv.cli_ok("queue", "release", qid)
    assert queue_entry(srv, qid)["held"] is False
    srv.cli_ok("queue", "delete", qid)


# -- compromised account: auth-volume hold ----------------------------------------

def test_auth_volume_hold_holds_and_alerts(fresh_server, lab):
    st = lab_settings(lab, **{"guard.rule.auth-volume.count": 2,
                              "guard.rule.auth-volume.window": 3600,
                              "guard.rule.auth-volume.kind": "hold",
                              "admin.email": BOB})
    s = fresh_server(settings=st)
    settle(s)
    sink = lab.sink()
    d = lab.mx_domain([sink.ip])
    rcpt = "friend@" + d
    toks = [token() for _ in range(3)]
    with s.authed(user=ALICE) as c:
        for t in toks:
            r = c.send_message(ALICE, [rcpt], msg_for(t, [rcpt], ALICE))
            assert r.code == 250, "message from a user over the count must be accepted: %r" % r
        c.cmd("QUIT")
    sink.wait_marker(toks[0])
    sink.wait_marker(toks[1])
    qid = queue_id(s, toks[2])
    e = wait_entry(s, qid, lambda e: e["held"] is True, timeout=LIVE_TIMEOUT, what="held")
    assert e["sender"] == ALICE
    # The administrator is told, with the commands to use.
    files = wait_until(lambda: s.mail_with("queue release --sender", BOB),
                       timeout=LIVE_TIMEOUT)
    assert files, "no alert mentioning `queue release --sender` in %s's Maildir: %r" % (
        BOB, s.new_files(BOB))
    with open(files[0], "rb") as f:
        alert = f.read().decode("utf-8", "replace")
    assert "queue release --sender %s" % ALICE in alert, alert
    assert "queue delete --sender %s" % ALICE in alert, alert
    assert never(lambda: sink.with_marker(toks[2]), 1.0), "held mail was delivered"
    assert queue_entry(s, qid)["attempts"] == 0, queue_entry(s, qid)
    assert queue_entry(s, qid)["held"] is True
    s.cli_ok("queue", "release", "--sender", ALICE)
    sink.wait_marker(toks[2])
    wait_gone(s, qid)
    assert [len(sink.with_marker(t)) for t in toks] == [1, 1, 1]
