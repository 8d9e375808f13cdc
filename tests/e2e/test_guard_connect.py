"""Connection blocks (DESIGN 8, issue 4): the dos rule refuses connection
N+1 with "421 4.7.0" and closes, exactly, also under a burst; other addresses
still get in; blocks expire and are lifted; the bad-sessions and harvest
rules fire."""

import threading
import time

import pytest

from conftest import ALICE, FACTOR, expect, free_port, ipv6_available, make_message, token
from guardlib import (GConn, ban_for, connect_outcome, guarded, rules, shared_server,
                      wait_ban, wait_outcome, wait_until)

N_DOS = 5
N_BAD = 3
N_HARVEST = 3


@pytest.fixture(scope="module")
def dos():
    yield from shared_server(rules(dos=(N_DOS, 300, 300)))


@pytest.fixture(scope="module")
def bad():
    yield from shared_server(rules(bad_sessions=(N_BAD, 300, 300)))


@pytest.fixture(scope="module")
def harvest():
    yield from shared_server(rules(harvest=(N_HARVEST, 300, 300)))


def test_dos_refuses_connection_n_plus_1_and_lets_another_ip_in(dos):
    n, s = N_DOS, dos
    smtp = s.ports["smtp"]
    ip = "127.0.0.31"
    # Connections 1..N are accepted, also while all of them stay open.
    held = []
    try:
        for i in range(n):
            c = GConn(smtp, src=ip)
            expect(c.greeting, 220)
            held.append(c)
        assert connect_outcome(smtp, ip) == "refused"
        # Every listener refuses it (all count for smtp); a refusal is not counted.
        assert connect_outcome(s.ports["submission"], ip) == "refused"
        assert connect_outcome(s.ports["smtps"], ip) == "refused"
        # The sessions that were admitted go on working.
        expect(held[0].ehlo(), 250)
        expect(held[0].cmd("QUIT"), 221)
    finally:
        for c in held:
            c.close()
    # Another address gets in.
    assert connect_outcome(smtp, "127.0.0.32") == "accepted"
    b = wait_ban(s, "127.0.0.31/32")
    assert b["kind"] == "connections" and b["rule"] == "dos", b
    assert b["attempts"] == n and b["protocol"] == "smtp", b
    assert 290 <= b["seconds_left"] <= 300, b


def test_dos_is_exact_under_a_burst(dos):
    """20 connections in the same instant, rule count 5: exactly 5 greeted."""
    n, burst, s = N_DOS, 20, dos
    smtp = s.ports["smtp"]
    ip = "127.0.0.33"
    outcomes = []
    lock = threading.Lock()
    go = threading.Barrier(burst)

    def one():
        go.wait()
        o = connect_outcome(smtp, ip)
        with lock:
            outcomes.append(o)
    threads = [threading.Thread(target=one) for _ in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30 * FACTOR)
    assert len(outcomes) == burst
    assert outcomes.count("accepted") == n, outcomes
    assert outcomes.count("refused") == burst - n, outcomes


def test_dos_block_expires_and_the_address_counts_afresh(fresh_server):
    n, block = 3, int(2 * FACTOR)
    s = guarded(fresh_server, settings=rules(dos=(n, 300, block)))
    smtp = s.ports["smtp"]
    ip = "127.0.0.34"
    for _ in range(n):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"
    # Refused connections are not counted, so probing until the end is harmless.
    wait_outcome(smtp, ip, "accepted", timeout=block + 5 * FACTOR)
    # Afresh: the probe that got in was connection 1 of N.
    for _ in range(n - 1):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"


def test_ban_del_lifts_a_dos_block(dos):
    n, s = N_DOS, dos
    smtp = s.ports["smtp"]
    ip = "127.0.0.35"
    for _ in range(n):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"
    wait_ban(s, "127.0.0.35/32")
    r = s.cli_ok("ban", "del", "127.0.0.35/32")
    assert "127.0.0.35" in r.stdout
    assert ban_for(s, "127.0.0.35/32") is None
    wait_outcome(smtp, ip, "accepted")
    for _ in range(n - 1):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"


def _empty_session(port, ip):
    with GConn(port, src=ip) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.cmd("QUIT"), 221)
        assert c.at_eof()


def test_bad_sessions_rule_fires(bad):
    n, s = N_BAD, bad
    smtp = s.ports["smtp"]
    ip = "127.0.0.41"
    for _ in range(n):
        _empty_session(smtp, ip)
    # The N-th session's end is counted when the server closes it; poll the
    # block list (which does not count anything), then connect once.
    b = wait_ban(s, "127.0.0.41/32")
    assert b["rule"] == "bad-sessions" and b["kind"] == "connections", b
    assert b["attempts"] == n, b
    assert connect_outcome(smtp, ip) == "refused"
    assert connect_outcome(smtp, "127.0.0.43") == "accepted"


def test_sessions_that_deliver_a_message_are_not_bad(bad):
    n, s = N_BAD, bad
    smtp = s.ports["smtp"]
    ip = "127.0.0.42"
    toks = []
    for _ in range(n + 2):
        tok = token()
        toks.append(tok)
        with GConn(smtp, src=ip) as c:
            expect(c.greeting, 220)
            expect(c.ehlo(), 250)
            expect(c.send_message("sender@other.test", [ALICE], make_message(tok)), 250)
            expect(c.cmd("QUIT"), 221)
            assert c.at_eof()
    for tok in toks:
        s.wait_mail(ALICE, tok)
    # N-1 empty sessions on top are still under the count.
    for _ in range(n - 1):
        _empty_session(smtp, ip)
    assert connect_outcome(smtp, ip) == "accepted"   # that is the N-th bad one
    wait_ban(s, "127.0.0.42/32")
    assert connect_outcome(smtp, ip) == "refused"


def test_harvest_rule_fires_on_unknown_recipients(harvest):
    n, s = N_HARVEST, harvest
    smtp = s.ports["smtp"]
    ip = "127.0.0.51"
    with GConn(smtp, src=ip) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)          # known recipients do not count
        for i in range(n):
            expect(c.rcpt("nobody%d@example.test" % i), 550, "5.1.1")
        # Counted at RCPT: the next connection is refused at once.
        assert connect_outcome(smtp, ip) == "refused"
    b = wait_ban(s, "127.0.0.51/32")
    assert b["rule"] == "harvest" and b["kind"] == "connections" and b["attempts"] == n, b
    # Fewer unknown recipients from another address: not blocked.
    with GConn(smtp, src="127.0.0.52") as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        for i in range(n - 1):
            expect(c.rcpt("nobody%d@example.test" % i), 550, "5.1.1")
    assert connect_outcome(smtp, "127.0.0.52") == "accepted"


def test_harvest_counts_across_sessions(harvest):
    n, s = N_HARVEST, harvest
    smtp = s.ports["smtp"]
    ip = "127.0.0.53"
    for i in range(n):
        with GConn(smtp, src=ip) as c:
            expect(c.greeting, 220)
            expect(c.ehlo(), 250)
            expect(c.mail("sender@other.test"), 250)
            expect(c.rcpt("nobody%d@example.test" % i), 550, "5.1.1")
            expect(c.cmd("QUIT"), 221)
    assert connect_outcome(smtp, ip) == "refused"


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_ipv6_client_is_counted_and_blocked_per_64(fresh_server):
    """A native IPv6 client (::1): its block covers its /64 (guard.ipv6-prefix)."""
    port = free_port("::1")
    s = guarded(fresh_server, settings=dict(rules(dos=(2, 300, 300)),
                                            **{"smtp.address": "[::1]:%d" % port}))
    for _ in range(2):
        assert connect_outcome(port, "::1") == "accepted"
    assert connect_outcome(port, "::1") == "refused"
    b = wait_ban(s, "::/64")
    assert b["rule"] == "dos" and b["kind"] == "connections", b
    # IPv4 clients are not affected.
    assert connect_outcome(s.ports["submission"], "127.0.0.36") == "accepted"


def test_window_slides(fresh_server):
    """count 3 in a 2 s window: 2 connections, then (once they are older than
    the window) 3 more are accepted, as the window holds only them; the
    next is refused."""
    window = int(2 * FACTOR)
    s = guarded(fresh_server, settings=rules(dos=(3, window, 300)))
    smtp = s.ports["smtp"]
    ip = "127.0.0.37"
    t0 = time.monotonic()
    for _ in range(2):
        assert connect_outcome(smtp, ip) == "accepted"
    # Let the first two leave the window (waiting for time, not for a result).
    time.sleep(max(0, window + 0.3 - (time.monotonic() - t0)))
    t1 = time.monotonic()
    for _ in range(3):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"
    assert time.monotonic() - t1 < window, "too slow to test the window"


def test_rules_are_editable_live(fresh_server):
    """config set guard.rule.dos.count on a running server takes effect."""
    s = guarded(fresh_server)
    smtp = s.ports["smtp"]
    assert "guard.rule.dos.count" in s.cli_ok("config", "list").stdout
    s.set("guard.rule.dos.count", "2")
    n = [0]

    def applied():
        n[0] += 1
        ip = "127.0.40.%d" % n[0]          # a fresh address for every probe
        got = [connect_outcome(smtp, ip) for _ in range(3)]
        return got == ["accepted", "accepted", "refused"]
    assert wait_until(applied, interval=0.2), "dos count 2 set live never applied"
    b = wait_ban(s, "127.0.40.%d/32" % n[0])
    assert b["rule"] == "dos" and b["attempts"] == 2, b
    # And off again.
    s.set("guard.rule.dos.count", "0")

    def off():
        n[0] += 1
        ip = "127.0.40.%d" % n[0]
        return all(connect_outcome(smtp, ip) == "accepted" for _ in range(4))
    assert wait_until(off, interval=0.2), "dos count 0 set live never applied"
