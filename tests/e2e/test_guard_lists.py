"""Allow and deny lists and administrator bans (DESIGN 8, issue 4): the
allow list is never counted or blocked and may relay; the deny list is
refused at connect; longest prefix wins; `ban add/del/list` work live."""

import json

import pytest

from conftest import ALICE, expect
from guardlib import (GConn, auth_once, ban_for, ban_list, connect_outcome, guarded,
                      rules, shared_server, wait_outcome, wait_until)

ALL_RULES = rules(invalid_login=(2, 600, 600), brute_force=(3, 600, 600),
                  dos=(3, 300, 300), bad_sessions=(2, 300, 300),
                  harvest=(2, 300, 300))


@pytest.fixture(scope="module")
def srv():
    """A server without rules for the live list and ban tests."""
    yield from shared_server()


def test_allowed_ip_is_never_counted_or_blocked_and_may_relay(fresh_server):
    s = guarded(fresh_server, settings=ALL_RULES, start=False)
    s.cli_ok("allow", "add", "127.0.0.61/32", "--comment", "the office")
    s.start()
    smtp = s.ports["smtp"]
    ip = "127.0.0.61"
    # Far more than any rule's count of everything.
    for _ in range(8):
        assert connect_outcome(smtp, ip) == "accepted"
    for i in range(5):
        expect(auth_once(s, ip, ALICE, "Wrong-pw-%d" % i)[0], 535, "5.7.8")
    with GConn(smtp, src=ip) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        for i in range(5):
            expect(c.rcpt("nobody%d@example.test" % i), 550, "5.1.1")
        # May relay: a recipient in another domain is accepted without AUTH.
        expect(c.rcpt("friend@elsewhere.test"), 250)
        expect(c.cmd("RSET"), 250)
        expect(c.cmd("QUIT"), 221)
    # Still in, and the right password still works.
    assert connect_outcome(smtp, ip) == "accepted"
    expect(auth_once(s, ip, ALICE, s.users[ALICE])[0], 235, "2.7.0")
    assert ban_for(s, "127.0.0.61/32") is None
    # A stranger may not relay.
    with GConn(smtp, src="127.0.0.62") as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt("friend@elsewhere.test"), 554, "5.7.1")
    lst = json.loads(s.cli_ok("allow", "list", "--json").stdout)
    assert [(e["range"], e["comment"], e["expires"]) for e in lst] == [
        ("127.0.0.61/32", "the office", "never")], lst


def test_allow_add_live_overrides_a_block(srv):
    s = srv
    smtp = s.ports["smtp"]
    ip = "127.0.0.63"
    s.cli_ok("ban", "add", ip)
    wait_outcome(smtp, ip, "refused")
    s.cli_ok("allow", "add", ip)
    wait_outcome(smtp, ip, "accepted")
    for _ in range(5):
        assert connect_outcome(smtp, ip) == "accepted"
    # Removed from the list, it is blocked again (the block never ended).
    s.cli_ok("allow", "del", ip)
    wait_outcome(smtp, ip, "refused")


def test_denied_ip_is_refused_at_connect_on_every_listener(srv):
    s = srv
    ip = "127.0.0.71"
    s.cli_ok("deny", "add", ip, "--comment", "spammer")
    wait_outcome(s.ports["smtp"], ip, "refused")
    assert connect_outcome(s.ports["submission"], ip) == "refused"
    # Implicit TLS: the refusal comes before any handshake.
    assert connect_outcome(s.ports["smtps"], ip) == "refused"
    assert connect_outcome(s.ports["smtp"], "127.0.0.72") == "accepted"
    lst = json.loads(s.cli_ok("deny", "list", "--json").stdout)
    assert [(e["range"], e["comment"]) for e in lst
            if e["range"].startswith("127.0.0.7")] == [("127.0.0.71/32", "spammer")], lst
    # An entry with an expiry lists it.
    s.cli_ok("deny", "add", "127.0.0.73", "--minutes", "5")
    lst = json.loads(s.cli_ok("deny", "list", "--json").stdout)
    (e,) = [e for e in lst if e["range"] == "127.0.0.73/32"]
    assert e["expires"] != "never", e
    wait_outcome(s.ports["smtp"], "127.0.0.73", "refused")
    s.cli_ok("deny", "del", "127.0.0.71/32")
    wait_outcome(s.ports["smtp"], ip, "accepted")
    lst = json.loads(s.cli_ok("deny", "list", "--json").stdout)
    assert "127.0.0.71/32" not in [e["range"] for e in lst], lst


def test_longest_prefix_wins(fresh_server):
    s = guarded(fresh_server, start=False)
    s.cli_ok("deny", "add", "127.0.0.0/8")
    s.cli_ok("allow", "add", "127.0.0.1/32", "--comment", "ourselves")
    s.cli_ok("allow", "add", "127.5.0.0/16")
    s.cli_ok("deny", "add", "127.5.5.0/24")
    s.cli_ok("allow", "add", "127.5.5.5/32")
    # Equal prefixes on both lists: deny.
    s.cli_ok("allow", "add", "127.6.0.0/16")
    s.cli_ok("deny", "add", "127.6.0.0/16")
    s.start()
    smtp = s.ports["smtp"]
    want = {
        "127.0.0.1": "accepted",     # /32 allowed inside the denied /8
        "127.0.0.2": "refused",      # /8
        "127.9.9.9": "refused",      # /8
        "127.5.1.1": "accepted",     # /16 allowed
        "127.5.5.1": "refused",      # /24 denied inside it
        "127.5.5.5": "accepted",     # /32 allowed inside that
        "127.6.1.1": "refused",      # allow and deny of the same /16
    }
    got = {ip: connect_outcome(smtp, ip) for ip in want}
    assert got == want


def test_ban_add_list_del(srv):
    s = srv
    smtp = s.ports["smtp"]
    r = s.cli_ok("ban", "add", "127.0.0.80", "--minutes", "5", "--reason", "by hand")
    wait_outcome(smtp, "127.0.0.80", "refused")
    b = ban_for(s, "127.0.0.80/32")
    assert b is not None, ban_list(s)
    assert b["kind"] == "connections" and b["rule"] == "admin", b
    assert b["reason"] == "by hand", b
    assert 280 <= b["seconds_left"] <= 300, b
    # Text output names the range too.
    assert "127.0.0.80/32" in s.cli_ok("ban", "list").stdout
    # A range.
    s.cli_ok("ban", "add", "127.0.10.0/24")
    wait_outcome(smtp, "127.0.10.7", "refused")
    assert connect_outcome(smtp, "127.0.11.7") == "accepted"
    assert ban_for(s, "127.0.10.0/24")["until"] == "never"
    # `ban del IP` lifts the block of a range that contains it.
    r = s.cli_ok("ban", "del", "127.0.10.7")
    assert "127.0.10.0/24" in r.stdout
    wait_outcome(smtp, "127.0.10.7", "accepted")
    s.cli_ok("ban", "del", "127.0.0.80/32")
    wait_outcome(smtp, "127.0.0.80", "accepted")
    assert ban_for(s, "127.0.0.80/32") is None and ban_for(s, "127.0.10.0/24") is None
    # Lifting what is not blocked fails.
    r = s.cli("ban", "del", "127.0.0.80")
    assert r.returncode != 0


def test_ban_add_logins_only(srv):
    s = srv
    ip = "127.0.0.81"
    s.cli_ok("ban", "add", ip, "--logins-only", "--reason", "stolen password")
    ok = wait_until(lambda: auth_once(s, ip, ALICE, s.users[ALICE])[0].code == 535,
                    interval=0.2)
    assert ok, "the right password still works after `ban add --logins-only`"
    assert connect_outcome(s.ports["smtp"], ip) == "accepted"
    b = ban_for(s, "127.0.0.81/32")
    assert b["kind"] == "logins" and b["until"] == "never", b
    expect(auth_once(s, "127.0.0.82", ALICE, s.users[ALICE])[0], 235, "2.7.0")
    s.cli_ok("ban", "del", ip)
    ok = wait_until(lambda: auth_once(s, ip, ALICE, s.users[ALICE])[0].code == 235,
                    interval=0.2)
    assert ok, "the right password still fails after `ban del`"


def test_cli_rejects_bad_input(fresh_server):
    s = fresh_server(start=False)
    for args in (("ban", "add", "not-an-ip"), ("ban", "add", "127.0.0.1/33"),
                 ("ban", "add", "127.0.0.1", "--minutes", "0"),
                 ("ban", "add", "127.0.0.1", "--bogus"),
                 ("allow", "add", "300.1.1.1"), ("deny", "add", "::1/129"),
                 ("deny", "del", "127.0.0.99"), ("allow", "del", "127.0.0.99")):
        r = s.cli(*args)
        assert r.returncode != 0, "mailwarden %s succeeded: %s" % (" ".join(args), r.stdout)
    assert json.loads(s.cli_ok("ban", "list", "--json").stdout) == []
    assert json.loads(s.cli_ok("allow", "list", "--json").stdout) == []
    assert json.loads(s.cli_ok("deny", "list", "--json").stdout) == []


def test_ipv6_ranges_on_the_lists(fresh_server):
    s = fresh_server(start=False)
    s.cli_ok("deny", "add", "2001:db8::/32", "--comment", "doc range")
    s.cli_ok("ban", "add", "2001:db8:1::/48", "--minutes", "10")
    lst = json.loads(s.cli_ok("deny", "list", "--json").stdout)
    assert [e["range"] for e in lst] == ["2001:db8::/32"], lst
    assert ban_for(s, "2001:db8:1::/48") is not None, ban_list(s)
