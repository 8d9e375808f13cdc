"""The guard's logs and counters (DESIGN 8, issue 4): invalid-passwords.log
(time, IP, protocol, username, outcome; never the password), intrusion.log
(blocks, lifts, expiries, deny-list hits), one key=value line per event,
reopened on SIGHUP; `guard stats` counts every defensive action."""

import base64
import os
import re
import signal
import socket

from conftest import ALICE, FACTOR, SOCK_TIMEOUT, expect
import pytest

from guardlib import (auth_once, connect_outcome, failed_login_lines, guarded, has_fields, ip_re,
                      lines_matching, log_lines, log_path, no_password_in_logs, rules,
                      shared_server, stats, tls_session, wait_lines, wait_outcome, wait_stats,
                      wait_until)

TS = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?\s"
PW_WRONG = "Canary-Wrong-pw-7719"
PW_LOGIN = "Canary-LOGIN-pw-4471"
PW_GHOST = "Canary-Ghost-pw-1288"


@pytest.fixture(scope="module")
def srv():
    yield from shared_server(rules(invalid_login=(3, 600, 600)))


def test_invalid_passwords_log_and_no_password_anywhere(srv):
    s = srv
    ip = "127.0.0.111"
    secrets = [PW_WRONG, PW_LOGIN, PW_GHOST, s.users[ALICE]]
    expect(auth_once(s, ip, ALICE, PW_WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, "ghost@example.test", PW_GHOST)[0], 535, "5.7.8")
    with tls_session(s, ip, "smtps") as c:
        expect(c.auth_login(ALICE, PW_LOGIN), 535, "5.7.8")      # 3rd: blocks
        expect(c.auth_login(ALICE, s.users[ALICE]), 535, "5.7.8")  # pretended
    for ln in failed_login_lines(s, ip, "smtp"):
        assert re.match(TS, ln), "no time at the start: %r" % ln
    # A login from elsewhere that succeeds is not a failed login.
    expect(auth_once(s, "127.0.0.112", ALICE, s.users[ALICE])[0], 235, "2.7.0")
    no_password_in_logs(s, secrets)


def test_username_cannot_forge_log_lines(srv):
    s = srv
    ip = "127.0.0.113"
    evil = 'x" outcome=ok ip=10.9.9.9\r\n2030-01-01T00:00:00Z info guard event=login-failed ip=10.9.9.9'
    with tls_session(s, ip) as c:
        blob = base64.b64encode(("\0%s\0%s" % (evil, PW_WRONG)).encode()).decode()
        expect(c.cmd("AUTH PLAIN " + blob), 535, "5.7.8")
    lines = wait_lines(s, "invalid-passwords.log", ip_re(ip))
    # One line: the CR LF inside the username did not start a new one.
    assert len(lines) == 1, lines
    assert not [ln for ln in log_lines(s, "invalid-passwords.log") if "10.9.9.9" in ln
                and not re.search(ip_re(ip), ln)], log_lines(s, "invalid-passwords.log")
    # Read as key=value with quoted values, the line has each key once and
    # the real values: the quote in the username did not end the value.
    kv = re.findall(r'(?:^|\s)([a-z][a-z_-]*)=("(?:[^"\\]|\\.)*"|[^\s"]*)(?=\s|$)', lines[0])
    keys = [k for k, _ in kv]
    assert all(keys.count(k) == 1 for k in ("event", "ip", "protocol", "user", "outcome")), kv
    d = dict(kv)
    assert d["ip"] == ip and d["outcome"] == "unknown-user" and d["event"] == "login-failed", kv
    assert d["user"].startswith('"x') and "\r" not in d["user"] and "\n" not in d["user"], kv


def test_intrusion_log_block_lift_expire_and_deny_hit(fresh_server):
    short = int(2 * FACTOR)
    s = guarded(fresh_server, settings=rules(invalid_login=(3, 600, 600),
                                             dos=(4, 300, short)))
    smtp = s.ports["smtp"]
    # A login block, lifted by the administrator.
    ip = "127.0.0.121"
    for _ in range(3):
        expect(auth_once(s, ip, ALICE, PW_WRONG)[0], 535, "5.7.8")
    (blk,) = wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re(ip))
    assert re.match(TS, blk), blk
    has_fields(blk, "kind=logins", "rule=invalid-login", "protocol=smtp", "attempts=3",
               "seconds=600")
    s.cli_ok("ban", "del", ip)
    (lift,) = wait_lines(s, "intrusion.log", r"\bevent=lift\b", ip_re(ip))
    assert re.search(r"\bkind=logins\b", lift) and re.search(r"\brule=invalid-login\b", lift), lift
    # A connection block that expires.
    ip2 = "127.0.0.122"
    for _ in range(4):
        assert connect_outcome(smtp, ip2) == "accepted"
    assert connect_outcome(smtp, ip2) == "refused"
    (blk2,) = wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re(ip2))
    has_fields(blk2, "kind=connections", "rule=dos", "protocol=smtp", "attempts=4",
               "seconds=%d" % short)
    (exp,) = wait_lines(s, "intrusion.log", r"\bevent=expire\b", ip_re(ip2),
                        timeout=short + 5 * FACTOR)
    assert re.search(r"\brule=dos\b", exp), exp
    # A deny-list hit.
    ip3 = "127.0.0.123"
    s.cli_ok("deny", "add", "127.0.0.120/30")
    wait_outcome(smtp, ip3, "refused")
    hit = wait_lines(s, "intrusion.log", r"\bevent=deny-hit\b", r"\bip=127\.0\.0\.123\b")[0]
    assert re.search(r"\brange=127\.0\.0\.120/30\b", hit) and re.search(r"\bprotocol=smtp\b", hit), hit
    # An administrator's ban, lifted: rule=admin.
    s.cli_ok("ban", "add", "127.0.0.124")
    wait_outcome(smtp, "127.0.0.124", "refused")
    s.cli_ok("ban", "del", "127.0.0.124")
    (lift2,) = wait_lines(s, "intrusion.log", r"\bevent=lift\b", ip_re("127.0.0.124"))
    assert re.search(r"\brule=admin\b", lift2), lift2
    # Every line is one event, key=value, with a time.
    for ln in log_lines(s, "intrusion.log"):
        assert re.match(TS, ln) and re.search(r"\bevent=[a-z-]+\b", ln), ln


def test_guard_stats_counts_each_defensive_action(fresh_server):
    s = guarded(fresh_server, settings=rules(invalid_login=(2, 600, 600)), start=False)
    s.cli_ok("ban", "add", "127.0.0.132")
    s.cli_ok("deny", "add", "127.0.0.133")
    s.start()
    smtp = s.ports["smtp"]
    before = stats(s)
    for k in ("refused_blocked", "refused_denied", "logins_pretended", "blocks_created",
              "blocks_in_force", "tracked", "evictions"):
        assert k in before, before
    assert before["blocks_created"] == 0 and before["refused_blocked"] == 0, before
    assert before["blocks_in_force"] == 1, before
    # 1 block by a rule, 2 pretended logins.
    ip = "127.0.0.131"
    for _ in range(2):
        expect(auth_once(s, ip, ALICE, PW_WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, s.users[ALICE])[0], 535, "5.7.8")
    expect(auth_once(s, ip, ALICE, PW_WRONG)[0], 535, "5.7.8")
    # 3 connections refused for a block, 2 for the deny list.
    for _ in range(3):
        assert connect_outcome(smtp, "127.0.0.132") == "refused"
    for _ in range(2):
        assert connect_outcome(smtp, "127.0.0.133") == "refused"
    st = wait_stats(s, lambda st: st["refused_blocked"] >= 3 and st["refused_denied"] >= 2
                    and st["logins_pretended"] >= 2)
    assert st["refused_blocked"] == 3, st
    assert st["refused_denied"] == 2, st
    assert st["blocks_created"] == 1, st          # the admin's ban is not a rule's
    assert st["blocks_in_force"] == 2, st
    assert st["logins_pretended"] == 2, st
    assert st["tracked"] >= 1, st
    # The plain form too.
    out = s.cli_ok("guard", "stats").stdout
    assert re.search(r"(?m)^blocks_created\s+1$", out), out
    # No server, no live statistics.
    assert s.stop() == 0
    r = s.cli("guard", "stats")
    assert r.returncode != 0, r.stdout


def test_tracking_table_is_capped_evicts_and_logs_it(fresh_server):
    """guard.max-tracked (smallest: 1000): a flood from more addresses evicts
    entries, says so in intrusion.log, and never evicts a block."""
    cap = 1000
    st = rules(dos=(3, 300, 300))
    st["guard.max-tracked"] = str(cap)
    s = guarded(fresh_server, settings=st)
    smtp = s.ports["smtp"]
    for _ in range(3):
        assert connect_outcome(smtp, "127.2.0.1") == "accepted"
    assert connect_outcome(smtp, "127.2.0.1") == "refused"
    # 1200 other addresses, one connection each (no block: count 3).
    for i in range(1200):
        src = "127.3.%d.%d" % (i // 250, 1 + i % 250)
        c = socket.create_connection(("127.0.0.1", smtp), timeout=SOCK_TIMEOUT,
                                     source_address=(src, 0))
        c.close()
    st = wait_stats(s, lambda st: st["evictions"] >= 200)
    assert st["tracked"] <= cap, st
    (ev,) = wait_lines(s, "intrusion.log", r"\bevent=evict\b")[:1]
    assert re.search(r"\bcap=%d\b" % cap, ev), ev
    assert connect_outcome(smtp, "127.2.0.1") == "refused", "an eviction lifted a block"


def test_intrusion_log_reopened_on_sighup(fresh_server):
    s = guarded(fresh_server, settings=rules(dos=(1, 300, 300)))
    smtp = s.ports["smtp"]
    assert connect_outcome(smtp, "127.0.0.141") == "accepted"
    wait_lines(s, "intrusion.log", r"\bevent=block\b", ip_re("127.0.0.141"))
    path = log_path(s, "intrusion.log")
    os.rename(path, path + ".1")
    os.kill(s.pid, signal.SIGHUP)
    # Lines written after the SIGHUP go to a new intrusion.log.
    n = [0]

    def new_file_used():
        n[0] += 1
        connect_outcome(smtp, "127.0.0.%d" % (141 + n[0]))
        return os.path.exists(path) and lines_matching(s, "intrusion.log", r"\bevent=block\b")
    assert wait_until(new_file_used, interval=0.2), "no new intrusion.log after SIGHUP"
    with open(path + ".1") as f:
        assert "127.0.0.141" in f.read()
