"""The queue survives: kill -9 with messages queued (and one in the middle
of its DATA) delivers every one after a restart; queue files removed or
damaged by hand are skipped with a log line, and the rest still flows."""

import os
import re
import time

from conftest import ALICE, token, wait_until
from mxlib import (DELIVERY_TIMEOUT, lab_settings, msg_for, never, queue_id,
                   queue_ids_on_disk, queue_list, send, wait_dlog)
from mxlib import mxlab  # noqa: F401,F811  (a fixture)


def test_kill9_then_restart_delivers_every_message(fresh_server, mxlab):
    s = fresh_server(settings=lab_settings(mxlab))
    # Two domains whose MX hosts are down, and one whose MX takes the data
    # and never answers (the server is killed while it waits).
    down = [mxlab.sink(start=False), mxlab.sink(start=False)]
    stall = mxlab.sink().stall_data()
    doms = [mxlab.mx_domain([x.ip]) for x in down]
    dstall = mxlab.mx_domain([stall.ip])
    sent = []                      # (token, [rcpts], sink)
    for i in range(6):
        d, sink = doms[i % 2], down[i % 2]
        rcpts = ["k%d@%s" % (i, d)] + (["k%db@%s" % (i, d)] if i % 3 == 0 else [])
        tok = token()
        send(s, ALICE, rcpts, msg_for(tok, rcpts, ALICE), user=ALICE)
        sent.append((tok, rcpts, sink))
    tok_stall = token()
    rs = "inflight@" + dstall
    send(s, ALICE, [rs], msg_for(tok_stall, [rs], ALICE), user=ALICE)
    ids = [queue_id(s, t) for t, _, _ in sent]
    for q in ids:
        wait_dlog(s, qid=q, status="deferred")
    got = wait_until(lambda: stall.received_data(tok_stall), timeout=DELIVERY_TIMEOUT)
    assert got, "the stalling sink never received the data"
    assert len(queue_list(s)) == 7

    s.kill9()
    stall.unstall()                 # its reply goes to a dead connection
    stall.stop()
    stall.clear()
    stall.start()
    for x in down:
        x.start()
    n_before = len(stall.transactions())
    s.start()

    for tok, rcpts, sink in sent:
        sink.wait_marker(tok)
    wait_until(lambda: [t for t in stall.transactions()[n_before:]
                        if t.accepted and tok_stall.encode() in t.data],
               timeout=DELIVERY_TIMEOUT)
    after = [t for t in stall.transactions()[n_before:] if t.accepted and tok_stall.encode() in t.data]
    assert len(after) == 1, "the message in flight at kill -9 was not delivered after restart: %r" % (
        stall.transactions(),)
    assert wait_until(lambda: queue_list(s) == [] and queue_ids_on_disk(s) == [],
                      timeout=DELIVERY_TIMEOUT), "queue not empty: %r" % queue_list(s)
    # Every recipient exactly once (nothing was in flight to these hosts).
    for tok, rcpts, sink in sent:
        for r in rcpts:
            n = len(sink.deliveries_to(r, tok))
            assert n == 1, "%s got %s %d times" % (r, tok, n)


def _log_mentions(server, needle, exclude=()):
    out = []
    for dirpath, _, files in os.walk(server.log_dir()):
        for f in files:
            with open(os.path.join(dirpath, f), "r", errors="replace") as fh:
                for ln in fh:
                    if needle in ln and not any(re.search(x, ln) for x in exclude):
                        out.append(ln.rstrip("\n"))
    for ln in server.stderr_text().decode("utf-8", "replace").splitlines():
        if needle in ln and not any(re.search(x, ln) for x in exclude):
            out.append(ln)
    return out


def _deferred_messages(s, sink, d, n):
    """n queued messages to d whose recipients the sink defers (451) for now."""
    toks = [token() for _ in range(n)]
    rcpts = ["f%d@%s" % (i, d) for i in range(n)]
    for r in rcpts:
        sink.rcpt(r, "451 4.3.0 not yet")
    for t, r in zip(toks, rcpts):
        send(s, ALICE, [r], msg_for(t, [r], ALICE), user=ALICE)
    ids = [queue_id(s, t) for t in toks]
    for q in ids:
        wait_dlog(s, qid=q, status="deferred")
    return toks, rcpts, ids


def _new_log_line(s, q, seen):
    """Waits for a line naming q, other than a delivery attempt's, that is
    not in seen."""
    got = wait_until(lambda: [ln for ln in _log_mentions(
        s, q, exclude=(r" status=(deferred|sent) ",)) if ln not in seen],
        timeout=DELIVERY_TIMEOUT)
    assert got, "no log line about the damaged queue file %s; lines naming it:\n%s" % (
        q, "\n".join(_log_mentions(s, q)))


def _still_flows(s, sink, d):
    assert s.alive()
    t = token()
    r = "after@" + d
    send(s, ALICE, [r], msg_for(t, [r], ALICE), user=ALICE)
    sink.wait_marker(t)


def test_queue_files_removed_by_hand_while_running_are_forgotten(fresh_server, mxlab):
    s = fresh_server(settings=lab_settings(mxlab))
    sink = mxlab.sink()
    d = mxlab.mx_domain([sink.ip])
    toks, rcpts, ids = _deferred_messages(s, sink, d, 3)
    q_noenv, q_nomsg, q_ok = ids
    seen = {q: set(_log_mentions(s, q)) for q in ids}
    qdir = os.path.join(s.data, "queue")
    # An attempt may be under way with the files already read: the removed
    # ones' recipients keep deferring, so such an attempt delivers nothing.
    os.unlink(os.path.join(qdir, "env", q_noenv))
    os.unlink(os.path.join(qdir, "msg", q_nomsg))
    sink.clear_rcpt(rcpts[2])

    sink.wait_marker(toks[2])
    assert q_noenv not in [e["id"] for e in queue_list(s)]
    for q in (q_noenv, q_nomsg):
        _new_log_line(s, q, seen[q])
    # Once the server has said so, it tries them no more, and the file
    # left of each is removed.
    for left in (os.path.join(qdir, "msg", q_noenv), os.path.join(qdir, "env", q_nomsg)):
        assert wait_until(lambda: not os.path.exists(left)), "%s is still there" % left
    n = len(sink.transactions())
    assert never(lambda: [t for t in sink.transactions()[n:]
                          if set(rcpts[:2]) & set(t.rcpt_tried)], 3), \
        "a removed message was tried again: %r" % sink.transactions()[n:]
    _still_flows(s, sink, d)


def test_queue_files_damaged_by_hand_are_skipped(fresh_server, mxlab):
    s = fresh_server(settings=lab_settings(mxlab))
    sink = mxlab.sink()
    d = mxlab.mx_domain([sink.ip])
    toks, rcpts, ids = _deferred_messages(s, sink, d, 4)
    q_nomsg, q_badenv, q_emptyenv, q_ok = ids
    damaged = (q_nomsg, q_badenv, q_emptyenv)
    seen = {q: set(_log_mentions(s, q)) for q in damaged}
    # Damaged while the server is down, so that no attempt under way can
    # have read (or rewrite) a file before the damage.
    assert s.stop() == 0
    qdir = os.path.join(s.data, "queue")
    os.unlink(os.path.join(qdir, "msg", q_nomsg))
    with open(os.path.join(qdir, "env", q_badenv), "wb") as f:
        f.write(b"\x00\xffgarbage\nrcpt pending\nsender\n" + b"z" * 5000)
    open(os.path.join(qdir, "env", q_emptyenv), "wb").close()
    # What a crash leaves: half-written files and a message file without
    # its envelope. Removed once an hour old; a young one may be a message
    # being queued, and stays.
    old = time.time() - 2 * 3600
    leftovers = [os.path.join(qdir, "tmp", "00000000000000aa.msg"),
                 os.path.join(qdir, "tmp", "00000000000000aa.env"),
                 os.path.join(qdir, "msg", "00000000000000bb")]
    young = os.path.join(qdir, "msg", "00000000000000cc")
    for p in leftovers + [young]:
        with open(p, "wb") as f:
            f.write(b"Subject: left behind\r\n\r\nbody\r\n")
    for p in leftovers:
        os.utime(p, (old, old))
    sink.clear_rcpt()
    s.start()

    sink.wait_marker(toks[3])
    # Each damaged one is skipped with a log line.
    for q in damaged:
        _new_log_line(s, q, seen[q])
    # Nothing without its message or a readable envelope was sent.
    for i in (0, 1, 2):
        assert sink.deliveries_to(rcpts[i]) == [], \
            "a message with a damaged queue file was sent to %s: %r" % (
                rcpts[i], sink.deliveries_to(rcpts[i]))
    assert not os.path.exists(os.path.join(qdir, "env", q_nomsg))
    for p in leftovers:
        assert not os.path.exists(p), "%s was not removed" % p
        name = os.path.relpath(p, s.data)
        assert [ln for ln in _log_mentions(s, name) if "event=orphan-removed" in ln], \
            "no log line about removing %s" % name
    assert os.path.exists(young)
    _still_flows(s, sink, d)
