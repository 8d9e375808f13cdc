"""The guard on POP3 (docs/pop3.md "Guard", DESIGN 8): failed POP3 logins
count for invalid-login exactly as SMTP's do, a login-blocked address gets
the same "-ERR [AUTH]" reply even with the right password until the block
ends, connection blocks, bans and the deny list refuse POP3 and POP3S at
connect with "-ERR [SYS/PERM] Access denied", POP3 connections count for
the dos rule, a PROXY header names the client, and the logs say
protocol=pop3 and never hold a password.

Each test acts from its own loopback addresses (all of 127.0.0.0/8)."""

import re
import time

import pytest

from conftest import ALICE, FACTOR, POP3Conn, expect
from guardlib import auth_once as smtp_auth_once
from guardlib import (connect_outcome, failed_login_lines, guarded, has_fields, ip_re,
                      line_outcome, lines_matching, no_password_in_logs, rules, shared_server,
                      tls_outcome, wait_ban, wait_lines, wait_outcome, wait_until)

GREETING = "+OK Mailwarden POP3 server ready"
AUTH_FAILED = "-ERR [AUTH] Authentication failed"
DENIED = "-ERR [SYS/PERM] Access denied"
IN_USE = "-ERR [IN-USE] Mailbox is locked by another session"
LOGGED_IN = re.compile(r"^\+OK Logged in, (\d+) messages? \((\d+) octets\)$")
WRONG = "Wrong-pop3-Guess-0001"
DELAY = 200


@pytest.fixture(scope="module")
def srv():
    st = rules(invalid_login=(3, 600, 600))
    st["auth.failure-delay"] = str(DELAY)
    yield from shared_server(st)


def session(s, src, listener="pop3s", proxy_header=None):
    """A session ready for USER/PASS or AUTH (STLS done on pop3)."""
    c = POP3Conn(s.ports[listener], src=src, implicit_tls=(listener == "pop3s"),
                 proxy_header=proxy_header)
    try:
        assert c.greeting == GREETING, c.greeting
        if listener == "pop3":
            c.stls()
    except BaseException:
        c.close()
        raise
    return c


def pass_once(s, src, user, password, listener="pop3s"):
    """USER/PASS on a session of its own: (PASS reply, seconds it took).
    A successful login is ended with QUIT (and the lock released)."""
    with session(s, src, listener) as c:
        assert c.cmd("USER " + user) == "+OK"
        t0 = time.monotonic()
        r = c.cmd("PASS " + password)
        dt = time.monotonic() - t0
        if r.startswith("+OK"):
            c.quit()
        return r, dt


def auth_once(s, src, user, password, listener="pop3"):
    with session(s, src, listener) as c:
        r = c.auth_plain(user, password)
        if r.startswith("+OK"):
            c.quit()
        return r


def pop3_outcome(port, src, tls=False, proxy_header=None):
    """'accepted' (the greeting; the session is ended with QUIT) or
    'refused' (exactly the denial line, then the server closed)."""
    if tls:
        return tls_outcome(port, src, "pop3s", DENIED, lambda ln: ln == GREETING, b"QUIT\r\n",
                           proxy_header)
    c = POP3Conn(port, src=src, greeting=False, proxy_header=proxy_header)
    return line_outcome(c, "pop3", lambda ln: ln == GREETING, quit_bye, DENIED)


def quit_bye(c):
    assert c.cmd("QUIT") == "+OK Bye"


def wait_pop3_outcome(port, src, want, tls=False, proxy_header=None):
    wait_outcome(port, src, want, outcome=lambda p, a: pop3_outcome(p, a, tls, proxy_header),
                 proto="POP3S" if tls else "POP3")


# -- login blocks --------------------------------------------------------------------

def test_five_wrong_then_right_fails_until_the_block_expires(fresh_server):
    block = int(3 * FACTOR)
    st = rules(invalid_login=(5, 600, block))
    st["auth.failure-delay"] = "30"
    s = guarded(fresh_server, settings=st)
    ip = "127.0.0.61"
    pw = s.users[ALICE]
    # Exactly count attempts: after 4 failures the right password still works.
    for listener in ("pop3s", "pop3", "pop3s", "pop3"):
        assert pass_once(s, ip, ALICE, WRONG, listener)[0] == AUTH_FAILED
    assert LOGGED_IN.match(pass_once(s, ip, ALICE, pw)[0])
    # The 5th failure (AUTH PLAIN counts too) blocks logins from ip.
    assert auth_once(s, ip, ALICE, WRONG) == AUTH_FAILED
    for listener in ("pop3s", "pop3"):
        assert pass_once(s, ip, ALICE, pw, listener)[0] == AUTH_FAILED, \
            "right password accepted from a login-blocked address on %s" % listener
    assert auth_once(s, ip, ALICE, pw) == AUTH_FAILED
    assert auth_once(s, ip, ALICE, pw, "pop3s") == AUTH_FAILED
    # The block is for that address only.
    assert LOGGED_IN.match(pass_once(s, "127.0.0.62", ALICE, pw)[0])
    b = wait_ban(s, "127.0.0.61/32")
    assert b["kind"] == "logins" and b["rule"] == "invalid-login", b
    assert b["attempts"] == 5 and b["protocol"] == "pop3", b
    # A login block does not refuse the connection.
    with POP3Conn(s.ports["pop3s"], src=ip, implicit_tls=True) as c:
        assert c.greeting == GREETING, "a login block refused the connection"
    # Expiry: then the right password works.
    wait_ban(s, "127.0.0.61/32", present=False, timeout=block + 5 * FACTOR)
    assert LOGGED_IN.match(pass_once(s, ip, ALICE, pw)[0])
    # ... and the address counts afresh.
    for _ in range(4):
        assert pass_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    assert LOGGED_IN.match(pass_once(s, ip, ALICE, pw)[0])
    assert pass_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    assert pass_once(s, ip, ALICE, pw)[0] == AUTH_FAILED


def test_pop3_failures_block_smtp_auth_too(srv):
    """One guard: failures counted on POP3 block logins on SMTP as well."""
    s = srv
    ip = "127.0.0.69"
    for _ in range(3):
        assert pass_once(s, ip, ALICE, WRONG)[0] == AUTH_FAILED
    expect(smtp_auth_once(s, ip, ALICE, s.users[ALICE])[0], 535, "5.7.8")
    expect(smtp_auth_once(s, "127.0.0.70", ALICE, s.users[ALICE])[0], 235, "2.7.0")


def test_logs_say_pop3_and_never_the_password_and_delay_is_kept(srv):
    s = srv
    ip = "127.0.0.63"
    canaries = ["Canary-pop3-PASS-1174", "Canary-pop3-Ghost-5521", "Canary-pop3-AUTH-8830"]
    pw = s.users[ALICE]
    r1, t1 = pass_once(s, ip, ALICE, canaries[0])
    r2, t2 = pass_once(s, ip, "ghost@example.test", canaries[1], "pop3")
    r3 = auth_once(s, ip, ALICE, canaries[2])           # 3rd: blocks
    r4, t4 = pass_once(s, ip, ALICE, pw)                 # pretended
    assert r1 == r2 == r3 == r4 == AUTH_FAILED, (r1, r2, r3, r4)
    floor = DELAY * 0.9 / 1000 - 0.01
    for name, t in (("wrong", t1), ("unknown user", t2), ("right, blocked", t4)):
        assert t >= floor, "%s password answered after %.3fs, before the %d ms delay" % (
            name, t, DELAY)
    failed_login_lines(s, ip, "pop3")
    (blk,) = wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re(ip))
    has_fields(blk, "kind=logins", "rule=invalid-login", "protocol=pop3", "attempts=3")
    no_password_in_logs(s, canaries + [pw])


def test_in_use_is_not_a_failed_login(srv):
    """IN-USE comes after a correct password: it must not count as a failure
    (count 3 here, 4 IN-USE replies) nor be logged as one."""
    s = srv
    ip = "127.0.0.68"
    pw = s.users["bob@example.test"]
    with session(s, ip) as first:
        assert LOGGED_IN.match(first.login("bob@example.test", pw))
        for listener in ("pop3s", "pop3", "pop3s", "pop3"):
            with session(s, ip, listener) as c:
                assert c.login("bob@example.test", pw) == IN_USE
        first.quit()
    ok = wait_until(lambda: LOGGED_IN.match(pass_once(s, ip, "bob@example.test", pw)[0]))
    assert ok, "the right password fails after IN-USE replies"
    assert lines_matching(s, "invalid-passwords.log", ip_re(ip)) == []


# -- connection refusals ------------------------------------------------------------------

def test_ban_refuses_pop3_and_pop3s_at_connect(srv):
    s = srv
    ip = "127.0.0.64"
    assert pop3_outcome(s.ports["pop3"], ip) == "accepted"
    s.cli_ok("ban", "add", ip, "--reason", "pop3 test")
    wait_pop3_outcome(s.ports["pop3"], ip, "refused")
    assert pop3_outcome(s.ports["pop3s"], ip, tls=True) == "refused"
    assert pop3_outcome(s.ports["pop3"], ip) == "refused"
    # Others get in.
    assert pop3_outcome(s.ports["pop3"], "127.0.0.164") == "accepted"
    assert pop3_outcome(s.ports["pop3s"], "127.0.0.164", tls=True) == "accepted"
    s.cli_ok("ban", "del", ip)
    wait_pop3_outcome(s.ports["pop3"], ip, "accepted")
    assert pop3_outcome(s.ports["pop3s"], ip, tls=True) == "accepted"


def test_deny_list_refuses_pop3(srv):
    s = srv
    ip = "127.0.0.65"
    s.cli_ok("deny", "add", ip + "/32", "--comment", "pop3 test")
    wait_pop3_outcome(s.ports["pop3s"], ip, "refused", tls=True)
    assert pop3_outcome(s.ports["pop3"], ip) == "refused"
    hit = wait_lines(s, "intrusion.log", r"\bevent=deny-hit\b", ip_re(ip))[0]
    assert re.search(r"\bprotocol=pop3\b", hit), hit
    s.cli_ok("deny", "del", ip + "/32")
    wait_pop3_outcome(s.ports["pop3"], ip, "accepted")


def test_logins_only_ban_pretends_on_pop3(srv):
    s = srv
    ip = "127.0.0.66"
    pw = s.users[ALICE]
    s.cli_ok("ban", "add", ip, "--logins-only")
    ok = wait_until(lambda: pass_once(s, ip, ALICE, pw)[0] == AUTH_FAILED, interval=0.2)
    assert ok, "the right password still works after `ban add --logins-only`"
    assert auth_once(s, ip, ALICE, pw) == AUTH_FAILED
    assert pop3_outcome(s.ports["pop3"], ip) == "accepted"
    s.cli_ok("ban", "del", ip)
    ok = wait_until(lambda: LOGGED_IN.match(pass_once(s, ip, ALICE, pw)[0]), interval=0.2)
    assert ok, "the right password still fails after `ban del`"


def test_dos_rule_counts_pop3_connections(fresh_server):
    s = guarded(fresh_server, settings=rules(dos=(3, 300, 300)))
    ip = "127.0.0.67"
    assert pop3_outcome(s.ports["pop3"], ip) == "accepted"
    assert pop3_outcome(s.ports["pop3s"], ip, tls=True) == "accepted"
    assert pop3_outcome(s.ports["pop3"], ip) == "accepted"
    assert pop3_outcome(s.ports["pop3"], ip) == "refused"
    assert pop3_outcome(s.ports["pop3s"], ip, tls=True) == "refused"
    assert connect_outcome(s.ports["smtp"], ip) == "refused"
    assert pop3_outcome(s.ports["pop3"], "127.0.0.167") == "accepted"
    b = wait_ban(s, "127.0.0.67/32")
    assert b["kind"] == "connections" and b["rule"] == "dos", b
    assert b["attempts"] == 3 and b["protocol"] == "pop3", b
    (blk,) = wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re(ip))
    assert re.search(r"\bprotocol=pop3\b", blk) and re.search(r"\brule=dos\b", blk), blk


def test_proxy_header_names_the_client(fresh_server):
    s = guarded(fresh_server, settings={"pop3.proxy-protocol": "on",
                                        "pop3s.proxy-protocol": "on",
                                        "proxy.trusted": "127.0.0.1"}, start=False)
    s.cli_ok("ban", "add", "203.0.113.9")
    s.start()

    def v1(src):
        return ("PROXY TCP4 %s 127.0.0.1 40000 110\r\n" % src).encode()
    for name, tls in (("pop3", False), ("pop3s", True)):
        port = s.ports[name]
        assert pop3_outcome(port, "127.0.0.1", tls, v1("203.0.113.9")) == "refused"
        assert pop3_outcome(port, "127.0.0.1", tls, v1("203.0.113.10")) == "accepted"
    # A full session behind the header.
    c = POP3Conn(s.ports["pop3"], proxy_header=v1("198.51.100.20"))
    with c:
        assert c.greeting == GREETING
        c.stls()
        assert LOGGED_IN.match(c.login(ALICE, s.users[ALICE]))
        c.quit()
    # A failed login is counted for the address the header named.
    with POP3Conn(s.ports["pop3s"], implicit_tls=True, proxy_header=v1("198.51.100.21")) as c:
        assert c.login(ALICE, WRONG) == AUTH_FAILED
    ln = wait_lines(s, "invalid-passwords.log", ip_re("198.51.100.21"))[0]
    assert re.search(r"\bprotocol=pop3\b", ln), ln
