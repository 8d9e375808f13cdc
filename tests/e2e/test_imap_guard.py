"""The guard and the listeners on IMAP (docs/imap.md, issue 7 point 4):
failed IMAP logins count for invalid-login like SMTP's and POP3's; a
login-blocked address gets the same "NO [AUTHENTICATIONFAILED]" after the
same delay even with the right password, until the block ends; bans and
the deny list refuse imap and imaps with "* BYE Access denied" at
connect; IMAP connections count for the dos rule; imap.max-per-ip; a
PROXY header names the client; the logs say protocol=imap and never hold
a password; the listeners move and close live.

Each test acts from its own loopback addresses (all of 127.0.0.0/8)."""

import re
import time

import pytest

from conftest import ALICE, BOB, FACTOR, expect, greets, port_refused
from guardlib import auth_once as smtp_auth_once
from guardlib import (connect_outcome, failed_login_lines, guarded, has_fields, ip_re,
                      line_outcome, no_password_in_logs, rules, shared_server, tls_outcome,
                      wait_ban, wait_lines, wait_outcome, wait_until)
from imaplib_helpers import (AUTH_FAILED, DENIED, GREETING_RE, LOGGED_IN_RE, TOO_MANY_IP, WRONG,
                             IMAPConn, IMAPProtocolError, q)

DELAY = 200
POP3_LOGGED_IN = re.compile(r"^\+OK Logged in, (\d+) messages? \((\d+) octets\)$")


@pytest.fixture(scope="module")
def srv():
    st = rules(invalid_login=(3, 600, 600))
    st["auth.failure-delay"] = str(DELAY)
    st["imap.max-per-ip"] = "3"
    yield from shared_server(st)


def session(s, src, listener="imaps", proxy_header=None):
    """A session ready for LOGIN/AUTHENTICATE (STARTTLS done on imap)."""
    c = IMAPConn(s.ports[listener], src=src, implicit_tls=(listener == "imaps"),
                 proxy_header=proxy_header)
    try:
        assert GREETING_RE.match(c.greeting), c.greeting
        if listener == "imap":
            c.starttls()
    except BaseException:
        c.close()
        raise
    return c


def login_once(s, src, user, password, listener="imaps", sasl=False):
    """LOGIN (or AUTHENTICATE PLAIN) on a session of its own: (the tagged
    text, seconds it took).  A successful login is ended with LOGOUT."""
    with session(s, src, listener) as c:
        t0 = time.monotonic()
        r = c.auth_plain(user, password) if sasl else c.login(user, password)
        dt = time.monotonic() - t0
        if r.ok:
            c.logout()
        return r.text, dt


def ok(text):
    return LOGGED_IN_RE.match(text) is not None


# -- outcome at connect ---------------------------------------------------------------------

def imap_outcome(port, src, tls=False, proxy_header=None, refusal=DENIED):
    """'accepted' (the greeting; ended with LOGOUT) or 'refused' (exactly
    the refusal line, then the server closed)."""
    if tls:
        return tls_outcome(port, src, "imaps", DENIED, GREETING_RE.match, b"Z LOGOUT\r\n",
                           proxy_header)
    c = IMAPConn(port, src=src, greeting=False, proxy_header=proxy_header)
    return line_outcome(c, "imap", GREETING_RE.match, IMAPConn.logout, refusal)


def wait_imap_outcome(port, src, want, tls=False):
    wait_outcome(port, src, want, outcome=lambda p, a: imap_outcome(p, a, tls),
                 proto="IMAPS" if tls else "IMAP")


# -- login blocks ----------------------------------------------------------------------------

def test_five_wrong_then_right_fails_with_the_same_answer(fresh_server):
    delay = 100
    st = rules(invalid_login=(5, 600, 600))
    st["auth.failure-delay"] = str(delay)
    s = guarded(fresh_server, settings=st)
    ip = "127.0.0.81"
    pw = s.users[ALICE]
    floor = delay * 0.9 / 1000 - 0.01
    # After 4 failures the right password still works.
    for listener, sasl in (("imaps", False), ("imap", False), ("imaps", True), ("imap", True)):
        text, dt = login_once(s, ip, ALICE, WRONG, listener, sasl)
        assert text == AUTH_FAILED and dt >= floor, (text, dt)
    assert ok(login_once(s, ip, ALICE, pw)[0])
    # The 5th failure blocks logins from ip: the right password gets the
    # wrong password's answer, after the same delay.
    assert login_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    for listener in ("imaps", "imap"):
        for sasl in (False, True):
            text, dt = login_once(s, ip, ALICE, pw, listener, sasl)
            assert text == AUTH_FAILED, \
                "right password accepted from a login-blocked address on %s: %r" % (listener, text)
            assert dt >= floor, "blocked login answered after %.3fs, before the delay" % dt
    # The block is for that address only.
    assert ok(login_once(s, "127.0.0.82", ALICE, pw)[0])
    b = wait_ban(s, "127.0.0.81/32")
    assert b["kind"] == "logins" and b["rule"] == "invalid-login", b
    assert b["attempts"] == 5 and b["protocol"] == "imap", b
    # A login block does not refuse the connection.
    assert imap_outcome(s.ports["imap"], ip) == "accepted"
    assert imap_outcome(s.ports["imaps"], ip, tls=True) == "accepted"


@pytest.mark.slow
def test_login_block_expires(fresh_server):
    block = int(3 * FACTOR)
    st = rules(invalid_login=(5, 600, block))
    st["auth.failure-delay"] = "30"
    s = guarded(fresh_server, settings=st)
    ip = "127.0.0.83"
    pw = s.users[ALICE]
    for _ in range(5):
        assert login_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    assert login_once(s, ip, ALICE, pw)[0] == AUTH_FAILED
    wait_ban(s, "127.0.0.83/32", present=False, timeout=block + 5 * FACTOR)
    assert ok(login_once(s, ip, ALICE, pw)[0]), "right password refused after the block ended"
    # ... and the address counts afresh.
    for _ in range(4):
        assert login_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    assert ok(login_once(s, ip, ALICE, pw)[0])


def test_imap_failures_block_pop3_and_smtp_too(srv):
    """One guard: failures counted on IMAP block logins everywhere."""
    s = srv
    ip = "127.0.0.84"
    for _ in range(3):
        assert login_once(s, ip, BOB, WRONG)[0] == AUTH_FAILED
    expect(smtp_auth_once(s, ip, BOB, s.users[BOB])[0], 535, "5.7.8")
    with s.pop3_raw("pop3s", src=ip) as p:
        assert p.login(BOB, s.users[BOB]) == "-ERR [AUTH] Authentication failed"
    assert ok(login_once(s, "127.0.0.85", BOB, s.users[BOB])[0])


def test_logs_say_imap_and_never_the_password(srv):
    s = srv
    ip = "127.0.0.86"
    canaries = ["Canary-imap-LOGIN-3391", "Canary-imap-Ghost-7702", "Canary-imap-AUTH-1184"]
    pw = s.users[ALICE]
    r1, t1 = login_once(s, ip, ALICE, canaries[0])
    r2, t2 = login_once(s, ip, "ghost@example.test", canaries[1], "imap")
    r3, _ = login_once(s, ip, ALICE, canaries[2], sasl=True)       # 3rd: blocks
    r4, t4 = login_once(s, ip, ALICE, pw)                          # pretended
    assert r1 == r2 == r3 == r4 == AUTH_FAILED, (r1, r2, r3, r4)
    floor = DELAY * 0.9 / 1000 - 0.01
    for name, t in (("wrong", t1), ("unknown user", t2), ("right, blocked", t4)):
        assert t >= floor, "%s password answered after %.3fs, before the %d ms delay" % (
            name, t, DELAY)
    failed_login_lines(s, ip, "imap")
    (blk,) = wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re(ip))
    has_fields(blk, "kind=logins", "rule=invalid-login", "protocol=imap", "attempts=3")
    no_password_in_logs(s, canaries + [pw], forms=[q])


# -- connection refusals ---------------------------------------------------------------------

def test_ban_and_deny_refuse_imap_and_imaps_at_connect(srv):
    s = srv
    ip = "127.0.0.87"
    assert imap_outcome(s.ports["imap"], ip) == "accepted"
    s.cli_ok("ban", "add", ip, "--reason", "imap test")
    wait_imap_outcome(s.ports["imap"], ip, "refused")
    assert imap_outcome(s.ports["imaps"], ip, tls=True) == "refused"
    # Others get in.
    assert imap_outcome(s.ports["imap"], "127.0.0.187") == "accepted"
    assert imap_outcome(s.ports["imaps"], "127.0.0.187", tls=True) == "accepted"
    s.cli_ok("ban", "del", ip)
    wait_imap_outcome(s.ports["imap"], ip, "accepted")
    assert imap_outcome(s.ports["imaps"], ip, tls=True) == "accepted"
    # The deny list.
    ip = "127.0.0.88"
    s.cli_ok("deny", "add", ip + "/32", "--comment", "imap test")
    wait_imap_outcome(s.ports["imaps"], ip, "refused", tls=True)
    assert imap_outcome(s.ports["imap"], ip) == "refused"
    hit = wait_lines(s, "intrusion.log", r"\bevent=deny-hit\b", ip_re(ip))[0]
    assert re.search(r"\bprotocol=imap\b", hit), hit
    s.cli_ok("deny", "del", ip + "/32")
    wait_imap_outcome(s.ports["imap"], ip, "accepted")


def test_logins_only_ban_pretends_on_imap(srv):
    s = srv
    ip = "127.0.0.89"
    pw = s.users[ALICE]
    s.cli_ok("ban", "add", ip, "--logins-only")
    assert wait_until(lambda: login_once(s, ip, ALICE, pw)[0] == AUTH_FAILED, interval=0.2), \
        "the right password still works after `ban add --logins-only`"
    assert login_once(s, ip, ALICE, pw, "imap", sasl=True)[0] == AUTH_FAILED
    assert imap_outcome(s.ports["imap"], ip) == "accepted"
    s.cli_ok("ban", "del", ip)
    assert wait_until(lambda: ok(login_once(s, ip, ALICE, pw)[0]), interval=0.2), \
        "the right password still fails after `ban del`"


def test_dos_rule_counts_imap_connections(fresh_server):
    s = guarded(fresh_server, settings=rules(dos=(3, 300, 300)))
    ip = "127.0.0.90"
    assert imap_outcome(s.ports["imap"], ip) == "accepted"
    assert imap_outcome(s.ports["imaps"], ip, tls=True) == "accepted"
    assert imap_outcome(s.ports["imap"], ip) == "accepted"
    assert imap_outcome(s.ports["imap"], ip) == "refused"
    assert imap_outcome(s.ports["imaps"], ip, tls=True) == "refused"
    assert connect_outcome(s.ports["smtp"], ip) == "refused"
    assert imap_outcome(s.ports["imap"], "127.0.0.190") == "accepted"
    b = wait_ban(s, "127.0.0.90/32")
    assert b["kind"] == "connections" and b["rule"] == "dos", b
    assert b["attempts"] == 3 and b["protocol"] == "imap", b


def test_max_per_ip(srv):
    s = srv
    src = "127.0.0.91"
    held = []
    try:
        for i in range(3):           # imap.max-per-ip is 3 here
            held.append(session(s, src, "imaps" if i % 2 else "imap"))
        assert imap_outcome(s.ports["imap"], src, refusal=TOO_MANY_IP) == "refused"
        c = IMAPConn(s.ports["imap"], src=src, greeting=False)
        with c:
            assert c.textline() == TOO_MANY_IP
            assert c.at_eof() and c.buf == b""
        # Another address is not affected; the held sessions still work.
        assert imap_outcome(s.ports["imap"], "127.0.0.191") == "accepted"
        assert held[0].cmd("NOOP").ok
        assert ok(held[1].login(ALICE, s.users[ALICE]).text)
        held.pop().close()

        def admitted():
            try:
                return imap_outcome(s.ports["imap"], src, refusal=TOO_MANY_IP) == "accepted"
            except IMAPProtocolError:
                return False
        assert wait_until(admitted), "a slot freed by a close is not reused"
    finally:
        for c in held:
            c.close()


def test_proxy_header_names_the_client(fresh_server):
    s = guarded(fresh_server, settings={"imap.proxy-protocol": "on",
                                        "imaps.proxy-protocol": "on",
                                        "proxy.trusted": "127.0.0.1"}, start=False)
    s.cli_ok("ban", "add", "203.0.113.9")
    s.start()

    def v1(src):
        return ("PROXY TCP4 %s 127.0.0.1 40000 143\r\n" % src).encode()
    for name, tls in (("imap", False), ("imaps", True)):
        port = s.ports[name]
        assert imap_outcome(port, "127.0.0.1", tls, v1("203.0.113.9")) == "refused"
        assert imap_outcome(port, "127.0.0.1", tls, v1("203.0.113.10")) == "accepted"
    # A whole session behind the header.
    c = IMAPConn(s.ports["imap"], proxy_header=v1("198.51.100.20"))
    with c:
        assert GREETING_RE.match(c.greeting)
        c.starttls()
        assert ok(c.login(ALICE, s.users[ALICE]).text)
        assert c.select().ok
        c.logout()
    # A failed login counts for the address the header named.
    with IMAPConn(s.ports["imaps"], implicit_tls=True, proxy_header=v1("198.51.100.21")) as c:
        assert c.login(ALICE, WRONG).text == AUTH_FAILED
    ln = wait_lines(s, "invalid-passwords.log", ip_re("198.51.100.21"))[0]
    assert re.search(r"\bprotocol=imap\b", ln), ln
    # Without a header the connection is closed unanswered.
    c = IMAPConn(s.ports["imap"], greeting=False)
    with c:
        c.send("A1 CAPABILITY\r\n")
        assert c.at_eof(), "a connection without a PROXY header was served"
        assert not c.buf.startswith(b"* OK"), c.buf


# -- live listener settings ------------------------------------------------------------------

def answers(port, tls=False):
    return greets(IMAPConn, port, GREETING_RE.match, implicit_tls=tls)


def test_listeners_close_reopen_and_move_live(fresh_server):
    s = fresh_server()
    pid = s.pid
    held = session(s, "127.0.0.1", "imap")
    try:
        assert ok(held.login(ALICE, s.users[ALICE]).text)
        for name, tls in (("imap", False), ("imaps", True)):
            other = "imaps" if name == "imap" else "imap"
            port = s.ports[name]
            s.set(name + ".enabled", "off")
            assert wait_until(lambda: port_refused(port)), "%s still accepts after disabling" % name
            assert answers(s.ports[other], not tls), "disabling %s broke %s" % (name, other)
            s.set(name + ".enabled", "on")
            assert wait_until(lambda: answers(port, tls)), "%s not back after enabling" % name
        for name, tls in (("imap", False), ("imaps", True)):
            old = s.ports[name]
            new = s.unused_port()
            t0 = time.monotonic()
            s.set(name + ".address", "127.0.0.1:%d" % new)
            assert wait_until(lambda: answers(new, tls)), "%s does not answer on its new port" % name
            assert time.monotonic() - t0 < 1.5 * FACTOR + 0.5, "moving %s took %.1fs" % (
                name, time.monotonic() - t0)
            assert wait_until(lambda: port_refused(old)), "old %s port still open" % name
            s.ports[name] = new
        # A session from before all that goes on.
        assert held.select().ok
        held.logout()
    finally:
        held.close()
    for name in ("imap", "imaps"):
        with session(s, "127.0.0.1", name) as c:
            assert ok(c.login(BOB, s.users[BOB]).text)
            c.logout()
    assert s.alive() and s.pid == pid
