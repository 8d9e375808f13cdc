"""The guard against password guessing (DESIGN 8, issue 4): the invalid-login
rule blocks logins exactly at its count, a login block pretends (the right
password fails with the same reply and delay as a wrong one), blocks expire
and are lifted, and parallel attempts cannot overshoot the count.

Most tests share one server (invalid-login: 5 in 600 s, blocks 600 s;
brute-force: 30 in 600 s, connections blocked), each test from its own
client addresses."""

import time

import pytest

from conftest import ALICE, BOB, FACTOR, expect, make_message, token
from guardlib import (GConn, auth_once, ban_for, connect_outcome, guarded, ip_re,
                      lines_matching, parallel_auth, rules, shared_server, stats,
                      wait_ban, wait_lines, wait_stats, wait_until)

WRONG = "Wrong-Guess-pw-0001"


def settings(count=5, window=600, block=600, delay=None):
    s = rules(invalid_login=(count, window, block))
    if delay is not None:
        s["auth.failure-delay"] = str(delay)
    return s


@pytest.fixture(scope="module")
def srv():
    st = settings(5)
    st.update(rules(brute_force=(30, 600, 600)))
    yield from shared_server(st)


# -- exactness, expiry, the first second -------------------------------------------

def test_five_wrong_then_right_fails_until_the_block_expires(fresh_server):
    block = int(3 * FACTOR)
    s = guarded(fresh_server, settings=settings(5, 600, block, delay=30))
    ip = "127.0.0.11"
    pw = s.users[ALICE]
    # Exactly count attempts: after 4 failures the right password still works.
    for _ in range(4):
        expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, pw)[0], 235, "2.7.0")
    # The 5th failure blocks logins from ip; the right password now fails.
    r5 = expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    blocked = expect(auth_once(s, ip, ALICE, pw)[0], 535, "5.7.8")
    assert blocked.lines == r5.lines, "a blocked login must look like a wrong password"
    expect(auth_once(s, ip, BOB, s.users[BOB])[0], 535, "5.7.8")
    # The block is for logins from that address only.
    expect(auth_once(s, "127.0.0.12", ALICE, pw)[0], 235, "2.7.0")
    b = wait_ban(s, "127.0.0.11/32")
    assert b["kind"] == "logins" and b["rule"] == "invalid-login", b
    assert b["attempts"] == 5, b
    # Expiry: the block leaves `ban list` at its end; then the right password works.
    wait_ban(s, "127.0.0.11/32", present=False, timeout=block + 5 * FACTOR)
    expect(auth_once(s, ip, ALICE, pw)[0], 235, "2.7.0")
    # ... and the address counts afresh: 4 more failures are allowed, the 5th blocks.
    for _ in range(4):
        expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, pw)[0], 235, "2.7.0")
    expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, pw)[0], 535, "5.7.8")


def test_failures_right_after_start_are_counted(fresh_server):
    """Not settled: the guard counts from its first moment.  The failures are
    spread over the server's first guard tick (one second after start) and
    must all still count when the count is reached after it."""
    s = fresh_server(settings=settings(5))
    ip = "127.0.0.10"
    pw = s.users[ALICE]
    t_start = time.monotonic()
    expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    # Let the first tick (1 s after start) pass between the failures.
    first = stats(s)["time"]
    wait_stats(s, lambda st: st["time"] > first, timeout=5 * FACTOR, interval=0.05)
    for _ in range(3):
        expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    r = auth_once(s, ip, ALICE, pw)[0]
    assert r.code == 535, (
        "5 failures within %.1fs of the start, then the right password was accepted "
        "(%r): failures made before the guard's first tick were forgotten"
        % (time.monotonic() - t_start, r))
    wait_ban(s, "127.0.0.10/32")


def test_blocked_right_password_has_the_same_reply_and_delay(fresh_server):
    delay = 250
    s = guarded(fresh_server, settings=settings(2, delay=delay))
    ip = "127.0.0.14"
    pw = s.users[ALICE]
    # Real failures, from addresses that are not blocked.  Three samples of
    # each kind; the fastest of each is compared (least disturbed by load).
    samples = [auth_once(s, "127.0.0.%d" % (150 + i), ALICE, WRONG) for i in range(3)]
    wrong_free, t_wrong_free = samples[0][0], min(t for _, t in samples)
    for _ in range(2):
        expect(auth_once(s, ip, ALICE, WRONG)[0], 535, "5.7.8")
    wrong_blocked, t_wrong_blocked = auth_once(s, ip, ALICE, WRONG)
    samples = [auth_once(s, ip, ALICE, pw) for _ in range(3)]
    right_blocked, t_right_blocked = samples[0][0], min(t for _, t in samples)
    for r, _ in samples:
        expect(r, 535, "5.7.8")
    for r in (wrong_free, wrong_blocked, right_blocked):
        expect(r, 535, "5.7.8")
    assert right_blocked.lines == wrong_free.lines
    # The failure delay varies by +-10%: every failure takes at least 90%.
    floor = delay * 0.9 / 1000 - 0.01
    for name, t in (("wrong", t_wrong_free), ("wrong, blocked", t_wrong_blocked),
                    ("right, blocked", t_right_blocked)):
        assert t >= floor, "%s password answered after %.3fs, before the %d ms failure delay" % (
            name, t, delay)
    assert abs(t_right_blocked - t_wrong_free) < 0.25 * FACTOR, (
        "blocked right password %.3fs vs wrong password %.3fs" % (t_right_blocked, t_wrong_free))


# -- on the shared server ---------------------------------------------------------

def test_unknown_users_count_like_wrong_passwords(srv):
    ip = "127.0.0.13"
    for i in range(5):
        expect(auth_once(srv, ip, "ghost%d@example.test" % i, WRONG)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, srv.users[ALICE])[0], 535, "5.7.8")


def test_login_block_on_every_smtp_listener(srv):
    ip = "127.0.0.16"
    for listener in ("submission", "smtps", "submission", "smtps", "smtps"):
        expect(auth_once(srv, ip, ALICE, WRONG, listener=listener)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, srv.users[ALICE], listener="smtps")[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, srv.users[ALICE], listener="submission")[0], 535, "5.7.8")


def test_login_block_does_not_stop_mail_reception(srv):
    ip = "127.0.0.17"
    for _ in range(5):
        expect(auth_once(srv, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, srv.users[ALICE])[0], 535, "5.7.8")
    tok = token()
    with GConn(srv.ports["smtp"], src=ip) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.send_message("sender@other.test", [ALICE], make_message(tok)), 250)
        expect(c.cmd("QUIT"), 221)
    srv.wait_mail(ALICE, tok)


def test_four_parallel_wrong_attempts_still_let_the_right_password_in(srv):
    ip = "127.0.0.21"
    attempts = [(ALICE, WRONG + str(i)) for i in range(4)] + [(ALICE, srv.users[ALICE])]
    replies = parallel_auth(srv, ip, attempts)
    for r in replies[:4]:
        expect(r, 535, "5.7.8")
    expect(replies[4], 235, "2.7.0")
    assert ban_for(srv, "127.0.0.21/32") is None


def test_twenty_parallel_wrong_attempts_block_the_right_password(srv):
    ip = "127.0.0.22"
    attempts = [(ALICE, WRONG + str(i)) for i in range(20)] + [(ALICE, srv.users[ALICE])]
    replies = parallel_auth(srv, ip, attempts)
    for r in replies:
        expect(r, 535, "5.7.8")
    b = wait_ban(srv, "127.0.0.22/32")
    assert b["kind"] == "logins" and b["attempts"] == 5, b
    # Exactly `count` guesses were evaluated; the others were refused unseen.
    wait_lines(srv, "invalid-passwords.log", ip_re(ip), count=21)
    wrong = lines_matching(srv, "invalid-passwords.log", ip_re(ip), r"outcome=wrong-password\b")
    blocked = lines_matching(srv, "invalid-passwords.log", ip_re(ip), r"outcome=blocked\b")
    assert len(wrong) == 5, "attempts evaluated: %d, not exactly 5:\n%s" % (
        len(wrong), "\n".join(wrong))
    assert len(blocked) == 16, "\n".join(blocked)
    # Another address is not affected.
    expect(auth_once(srv, "127.0.0.23", ALICE, srv.users[ALICE])[0], 235, "2.7.0")


def test_parallel_burst_then_the_right_password(srv):
    """20 wrong in parallel, and only then (after every answer) the right one."""
    ip = "127.0.0.24"
    replies = parallel_auth(srv, ip, [(ALICE, WRONG + str(i)) for i in range(20)])
    for r in replies:
        expect(r, 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, srv.users[ALICE])[0], 535, "5.7.8")


def test_ban_del_lifts_a_login_block_and_the_address_counts_afresh(srv):
    ip = "127.0.0.25"
    pw = srv.users[ALICE]
    for _ in range(5):
        expect(auth_once(srv, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, pw)[0], 535, "5.7.8")
    wait_ban(srv, "127.0.0.25/32")
    r = srv.cli_ok("ban", "del", ip)
    assert "127.0.0.25" in r.stdout
    ok = wait_until(lambda: auth_once(srv, ip, ALICE, pw)[0].code == 235, interval=0.2)
    assert ok, "the right password still fails after `ban del`"
    # Afresh: 4 failures are allowed again, the 5th blocks.
    for _ in range(4):
        expect(auth_once(srv, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, pw)[0], 235, "2.7.0")
    expect(auth_once(srv, ip, ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(srv, ip, ALICE, pw)[0], 535, "5.7.8")


def test_brute_force_rule_blocks_connections(srv):
    """Guessing on after the login block (failures still count) reaches
    brute-force (30): from then on connections are refused."""
    ip = "127.0.0.26"
    replies = parallel_auth(srv, ip, [(ALICE, WRONG + str(i)) for i in range(30)])
    for r in replies:
        expect(r, 535, "5.7.8")
    b = wait_ban(srv, "127.0.0.26/32")
    assert b["kind"] == "connections" and b["rule"] == "brute-force", b
    assert b["attempts"] == 30, b
    assert connect_outcome(srv.ports["submission"], ip) == "refused"
    assert connect_outcome(srv.ports["smtp"], ip) == "refused"
    assert connect_outcome(srv.ports["smtp"], "127.0.0.27") == "accepted"
