"""A 250 after DATA means the message is on disk; nothing unacknowledged is
ever delivered; SIGTERM stops the server cleanly."""

import os
import signal
import subprocess

from conftest import (ALICE, BOB, STOP_TIMEOUT, dot_stuff, expect, make_message,
                      strip_trace, token)


def _sentinel(s, addr=BOB):
    """Send one message and wait for it: everything before it is settled."""
    tok = token()
    with s.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.send_message("sender@other.test", [addr], make_message(tok, rcpt=addr)), 250)
        expect(c.cmd("QUIT"), 221)
    s.wait_mail(addr, tok)


def test_kill9_right_after_250_keeps_message(fresh_server):
    s = fresh_server()
    toks = [token() for _ in range(3)]
    big = b"".join(b"%08d the quick brown fox jumps over the lazy dog\r\n" % i for i in range(6000))
    msgs = [make_message(t, body=(b"first %s\r\n" % t.encode()) + big) for t in toks]
    with s.conn() as c:
        expect(c.ehlo(), 250)
        for i, m in enumerate(msgs):
            expect(c.mail("sender@other.test"), 250)
            expect(c.rcpt(ALICE), 250)
            expect(c.rcpt(BOB), 250)
            expect(c.cmd("DATA"), 354)
            c.send(dot_stuff(m) + b".\r\n")
            r = c.reply()
            if i == len(msgs) - 1:
                os.kill(s.pid, signal.SIGKILL)  # at once, before anything else
            expect(r, 250)
    s.kill9()
    for t, m in zip(toks, msgs):
        for addr in (ALICE, BOB):
            files = s.mail_with(t, addr)
            assert len(files) == 1, "%s: message %s not in new/ after kill -9" % (addr, t)
            with open(files[0], "rb") as f:
                assert strip_trace(f.read()) == m, "message in new/ is not complete"
    # And it is still there, once, after a restart.
    s.start()
    for t in toks:
        assert len(s.mail_with(t, ALICE)) == 1


def _start_data(c, tok):
    expect(c.ehlo(), 250)
    expect(c.mail("sender@other.test"), 250)
    expect(c.rcpt(ALICE), 250)
    expect(c.cmd("DATA"), 354)
    part = make_message(tok, body=b"partial body\r\n" * 200)
    c.send(part)  # no final dot
    return part


def test_kill9_mid_data_delivers_nothing(fresh_server):
    s = fresh_server()
    tok = token()
    with s.conn() as c:
        _start_data(c, tok)
        os.kill(s.pid, signal.SIGKILL)
        c.at_eof()
    s.kill9()
    assert s.mail_with(tok) == []
    assert s.queue_with(tok) == []
    assert s.new_files(ALICE) == [] and s.new_files(BOB) == []
    s.start()
    _sentinel(s, BOB)
    assert s.mail_with(tok) == [], "a message killed mid-DATA appeared after restart"
    assert s.new_files(ALICE) == []


def test_client_gone_mid_data_delivers_nothing(fresh_server):
    s = fresh_server()
    tok = token()
    c = s.conn()
    _start_data(c, tok)
    c.close()
    _sentinel(s, BOB)
    assert s.mail_with(tok) == []
    assert s.new_files(ALICE) == []


def test_sigterm_stops_cleanly(fresh_server):
    s = fresh_server()
    with s.conn() as c:      # an idle client must not hold up shutdown
        expect(c.ehlo(), 250)
        os.kill(s.pid, signal.SIGTERM)
        try:
            rc = s.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = None
        assert rc == 0, "exit status after SIGTERM: %r" % rc
    s.expect_dead = True


def test_sigterm_mid_data_never_acknowledges_partial_message(fresh_server):
    s = fresh_server()
    tok = token()
    with s.conn() as c:
        _start_data(c, tok)
        os.kill(s.pid, signal.SIGTERM)
        try:
            s.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        s.expect_dead = True
        c.at_eof(timeout=2)
        assert b"\n250" not in b"\n" + c.buf, "partial message acknowledged: %r" % c.buf
    assert s.proc.returncode == 0, "exit status after SIGTERM: %r" % s.proc.returncode
    assert s.mail_with(tok) == []


def test_kill9_right_after_250_keeps_relayed_message(fresh_server):
    s = fresh_server()
    tok = token()
    body = b"".join(b"%08d relayed line\r\n" % i for i in range(5000))
    msg = make_message(tok, sender=ALICE, rcpt="friend@other.test", body=body)
    with s.authed("submission") as c:
        expect(c.mail(ALICE), 250)
        expect(c.rcpt("friend@other.test"), 250)
        expect(c.cmd("DATA"), 354)
        c.send(dot_stuff(msg) + b".\r\n")
        r = c.reply()
        os.kill(s.pid, signal.SIGKILL)
        expect(r, 250)
    s.kill9()
    files = s.queue_with(tok)
    assert files, "acknowledged relayed message not in DATA/queue after kill -9"
    assert any(_contains_file(p, body) for p in files), "queued message is incomplete"


def _contains_file(path, data):
    with open(path, "rb") as f:
        return data in f.read()


def test_client_gone_right_after_final_dot(fresh_server):
    s = fresh_server()
    tok = token()
    c = s.conn()
    expect(c.ehlo(), 250)
    expect(c.mail("sender@other.test"), 250)
    expect(c.rcpt(ALICE), 250)
    expect(c.cmd("DATA"), 354)
    c.send(dot_stuff(make_message(tok)) + b".\r\n")
    c.close()  # before the reply: the server must cope
    _sentinel(s, BOB)
    assert len(s.mail_with(tok)) <= 1
    assert s.alive()
