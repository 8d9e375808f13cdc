"""Blocks survive a restart (DESIGN 8, issue 4): a block made by a rule or by
the administrator is still in force after SIGTERM and a new start, and still
ends on time; a lifted block stays lifted."""

from conftest import ALICE, FACTOR, expect
from guardlib import (GConn, auth_once, ban_for, ban_list, connect_outcome, guarded, rules,
                      settle, wait_ban, wait_outcome)


def test_blocks_survive_a_restart(fresh_server):
    s = guarded(fresh_server, settings=rules(harvest=(2, 300, 300), invalid_login=(2, 600, 600)))
    smtp = s.ports["smtp"]
    conn_ip, login_ip = "127.0.0.91", "127.0.0.92"
    # A connection block and a login block made by rules ...
    with GConn(smtp, src=conn_ip) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        for i in range(2):
            expect(c.rcpt("nobody%d@example.test" % i), 550, "5.1.1")
    assert connect_outcome(smtp, conn_ip) == "refused"
    for _ in range(2):
        expect(auth_once(s, login_ip, ALICE, "Wrong-pw-1")[0], 535, "5.7.8")
    expect(auth_once(s, login_ip, ALICE, s.users[ALICE])[0], 535, "5.7.8")
    # ... and one by the administrator.
    s.cli_ok("ban", "add", "127.0.0.93", "--minutes", "30", "--reason", "keep out")
    wait_outcome(smtp, "127.0.0.93", "refused")
    # Stop right away: the server must not lose a block it has made.
    assert s.stop() == 0
    s.start()
    settle(s)
    assert connect_outcome(smtp, conn_ip) == "refused"
    assert connect_outcome(smtp, "127.0.0.93") == "refused"
    assert connect_outcome(smtp, login_ip) == "accepted"
    expect(auth_once(s, login_ip, ALICE, s.users[ALICE])[0], 535, "5.7.8")
    # Others are not affected.
    assert connect_outcome(smtp, "127.0.0.94") == "accepted"
    expect(auth_once(s, "127.0.0.94", ALICE, s.users[ALICE])[0], 235, "2.7.0")
    got = {b["range"]: (b["kind"], b["rule"]) for b in ban_list(s)}
    assert got == {"127.0.0.91/32": ("connections", "harvest"),
                   "127.0.0.92/32": ("logins", "invalid-login"),
                   "127.0.0.93/32": ("connections", "admin")}, got


def test_restored_block_still_ends_on_time(fresh_server):
    block = int(4 * FACTOR)
    s = guarded(fresh_server, settings=rules(dos=(2, 300, block)))
    smtp = s.ports["smtp"]
    ip = "127.0.0.95"
    for _ in range(2):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"
    until = wait_ban(s, "127.0.0.95/32")["until"]
    assert s.stop() == 0
    s.start()
    if ban_for(s, "127.0.0.95/32") is not None:
        assert connect_outcome(smtp, ip) == "refused"
    # It ends (the probe that gets in is connection 1 of 2 afresh).
    wait_outcome(smtp, ip, "accepted", timeout=block + 5 * FACTOR)
    assert ban_for(s, "127.0.0.95/32") is None, until


def test_lifted_block_stays_lifted_after_a_restart(fresh_server):
    s = guarded(fresh_server, settings=rules(dos=(2, 300, 300)))
    smtp = s.ports["smtp"]
    ip = "127.0.0.96"
    for _ in range(2):
        assert connect_outcome(smtp, ip) == "accepted"
    assert connect_outcome(smtp, ip) == "refused"
    wait_ban(s, "127.0.0.96/32")
    s.cli_ok("ban", "del", ip)
    wait_outcome(smtp, ip, "accepted")
    assert s.stop() == 0
    s.start()
    assert connect_outcome(smtp, ip) == "accepted"
    assert ban_list(s) == []


def test_bans_and_lists_made_while_stopped_apply_at_start(fresh_server):
    s = guarded(fresh_server)
    assert s.stop() == 0
    s.cli_ok("ban", "add", "127.0.0.97")
    s.cli_ok("deny", "add", "127.0.0.98")
    s.start()
    smtp = s.ports["smtp"]
    assert connect_outcome(smtp, "127.0.0.97") == "refused"
    assert connect_outcome(smtp, "127.0.0.98") == "refused"
    assert connect_outcome(smtp, "127.0.0.99") == "accepted"
