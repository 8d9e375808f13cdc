"""Alert e-mails (DESIGN 8, issue 4): exactly one e-mail per block, in the
administrator's Maildir, in the documented format; a burst of blocks gives
one immediate alert and then one digest, not one e-mail per block.

test_burst_digest_arrives_after_the_period waits for the digest period
(alert.digest-minutes = 1, the smallest): it is marked slow and takes
about a minute; the rest of this file takes a few seconds."""

import re

import pytest

from conftest import (ALICE, BOB, FACTOR, Server, expect, finish_server, make_message,
                      token)
from guardlib import (ALERT_MARK, GConn, auth_once, ban_list, body_of, connect_outcome,
                      guarded, header, ip_re, lines_matching, no_more_alerts, rules,
                      settle, wait_alerts, wait_ban, wait_lines, wait_stats)

HOST = "mail.example.test"
MARKER_IP = "127.0.0.200"
WRONG = "Wrong-Alert-pw-5521"


def _deliver_marker(s, addr=ALICE):
    """Send a message to addr and wait for it: everything the server did
    before it has had time to be delivered too."""
    tok = token()
    with GConn(s.ports["smtp"], src=MARKER_IP) as c:
        expect(c.greeting, 220)
        expect(c.ehlo(), 250)
        expect(c.send_message("sender@other.test", [addr], make_message(tok, rcpt=addr)), 250)
        expect(c.cmd("QUIT"), 221)
    s.wait_mail(addr, tok)


def test_one_alert_per_block_with_the_right_content(fresh_server):
    s = guarded(fresh_server, settings=dict(
        rules(invalid_login=(5, 600, 600)), **{"admin.email": ALICE, "hostname": HOST}))
    for _ in range(5):
        expect(auth_once(s, "127.0.0.1", ALICE, WRONG)[0], 535, "5.7.8")
    raw = wait_alerts(s, ALICE, 1)[0]
    # More attempts while blocked, right and wrong: no new block, no new e-mail.
    for _ in range(3):
        expect(auth_once(s, "127.0.0.1", ALICE, WRONG)[0], 535, "5.7.8")
    expect(auth_once(s, "127.0.0.1", ALICE, s.users[ALICE])[0], 535, "5.7.8")
    _deliver_marker(s)
    no_more_alerts(s, ALICE, 1)
    assert s.mail_with(ALERT_MARK, BOB) == []

    assert re.search(r"MAILER-DAEMON@%s\b" % re.escape(HOST), header(raw, "From")), header(raw, "From")
    assert ALICE in header(raw, "To")
    assert "127.0.0.1" in header(raw, "Subject")
    assert (header(raw, "Auto-Submitted") or "").lower().startswith("auto-generated")
    body = body_of(raw).decode("utf-8")
    lines = body.split("\r\n")
    assert lines[0] == "Automatic alert from Mailwarden - DO NOT reply", body
    assert lines[1] == "Host Name: %s" % HOST, body
    assert re.match(r"^IP Address: [0-9a-fA-F.:]+$", lines[2]), body
    assert re.match(r"^-{20,}$", lines[3]), body
    text = " ".join(lines[4:])
    assert "Too many invalid login attempts made from 127.0.0.1" in text, body
    assert "Total attempts so far: 5" in text, body
    assert "10 minutes" in text, body
    assert "SMTP server on %s" % HOST in text, body
    # Never a password.
    for secret in (WRONG, s.users[ALICE]):
        assert secret.encode() not in raw


def test_alert_switch_per_rule(fresh_server):
    """invalid-login with alert off sends nothing; a dos block right after
    is then the first alert, and it says what happened."""
    st = rules(invalid_login=(2, 600, 600), dos=(6, 300, 300))
    st.update({"admin.email": ALICE, "hostname": HOST,
               "guard.rule.invalid-login.alert": "off"})
    s = guarded(fresh_server, settings=st)
    for _ in range(2):
        expect(auth_once(s, "127.0.0.2", ALICE, WRONG)[0], 535, "5.7.8")
    wait_ban(s, "127.0.0.2/32")
    for _ in range(6):
        assert connect_outcome(s.ports["smtp"], "127.0.0.3") == "accepted"
    assert connect_outcome(s.ports["smtp"], "127.0.0.3") == "refused"
    raw = wait_alerts(s, ALICE, 1)[0]
    _deliver_marker(s)
    no_more_alerts(s, ALICE, 1)
    body = body_of(raw).decode("utf-8")
    assert "Too many connections made from 127.0.0.3" in body, body
    assert "Total attempts so far: 6" in body, body
    assert "127.0.0.2" not in body, body


def test_alert_goes_to_postmaster_without_admin_email(fresh_server):
    """admin.email empty: postmaster@hostname (here a local account)."""
    st = rules(dos=(1, 300, 300))
    st["hostname"] = "example.test"
    s = guarded(fresh_server, settings=st, users={"postmaster@example.test": "Postmaster-pw-1"})
    assert connect_outcome(s.ports["smtp"], "127.0.0.4") == "accepted"
    raw = wait_alerts(s, "postmaster@example.test", 1)[0]
    assert "Too many connections made from 127.0.0.4" in body_of(raw).decode()


# -- a burst of blocks -----------------------------------------------------------

BURST = ["127.0.1.%d" % i for i in range(1, 51)]


@pytest.fixture(scope="module")
def burst():
    """50 blocks within a second or two (dos rule with count 1: each address's
    first connection blocks it), alert.digest-minutes 1."""
    st = rules(dos=(1, 300, 300))
    st.update({"admin.email": ALICE, "hostname": HOST, "alert.digest-minutes": "1"})
    s = Server(settings=st)
    try:
        # The address that sends the marker messages must not make a block.
        s.cli_ok("allow", "add", MARKER_IP)
        s.start()
        settle(s)
        for ip in BURST:
            assert connect_outcome(s.ports["smtp"], ip) == "accepted"
        yield s
    finally:
        finish_server(s)


def test_burst_gives_one_immediate_alert_and_logs_every_block(burst):
    s = burst
    for ip in BURST:
        assert connect_outcome(s.ports["smtp"], ip) == "refused"
    wait_lines(s, "intrusion.log", r"\bevent=block\b", r"\brule=dos\b", count=len(BURST))
    for ip in BURST:
        assert len(lines_matching(s, "intrusion.log", r"\bevent=block\b", ip_re(ip))) == 1, ip
    wait_stats(s, lambda st: st["blocks_created"] == len(BURST))
    first = wait_alerts(s, ALICE, 1)[0]
    assert "Too many connections made from %s." % BURST[0] in body_of(first).decode(), first
    _deliver_marker(s)
    no_more_alerts(s, ALICE, 1, grace=2)


@pytest.mark.slow
def test_burst_digest_arrives_after_the_period(burst):
    """SLOW (about 60 s): the digest comes one alert.digest-minutes (1) after
    the first alert, and lists the 49 other blocks."""
    s = burst
    got = wait_alerts(s, ALICE, 2, timeout=90 * FACTOR)
    assert len(got) == 2, "expected the first alert and one digest, got %d e-mails" % len(got)
    digest = [a for a in got if ("Too many connections made from %s." % BURST[0]).encode()
              not in body_of(a)]
    assert len(digest) == 1, got
    d = digest[0]
    body = body_of(d).decode("utf-8")
    assert body.startswith(ALERT_MARK + "\r\n"), body[:200]
    assert "Host Name: %s" % HOST in body
    assert re.search(r"\b49\b", body) and re.search(r"\b49\b", header(d, "Subject")), (
        header(d, "Subject"), body[:500])
    for ip in BURST[1:]:
        assert re.search(r"\b%s\b" % re.escape(ip), body), "%s missing from the digest" % ip
    assert not re.search(r"\b%s\b" % re.escape(BURST[0]), body), "the first block was already mailed"
    no_more_alerts(s, ALICE, 2)


def test_auth_volume_alerts_once_when_a_user_sends_more_than_count(fresh_server):
    """auth-volume (kind none): more than count messages from one
    authenticated user in the window -> one alert, and the mail still flows."""
    st = rules(auth_volume=(3, 3600, 0))
    st.update({"admin.email": BOB, "hostname": HOST})
    s = guarded(fresh_server, settings=st)
    toks = []
    with s.authed() as c:
        for i in range(3):
            tok = token()
            toks.append(tok)
            expect(c.send_message(ALICE, [ALICE], make_message(tok, sender=ALICE)), 250)
        for tok in toks:
            s.wait_mail(ALICE, tok)
        # Exactly count messages: no alert.
        no_more_alerts(s, BOB, 0, grace=1)
        tok = token()
        toks.append(tok)
        expect(c.send_message(ALICE, [ALICE], make_message(tok, sender=ALICE)), 250)
        (raw,) = wait_alerts(s, BOB, 1)
        for _ in range(2):       # more within the window: no new alert
            tok = token()
            toks.append(tok)
            expect(c.send_message(ALICE, [ALICE], make_message(tok, sender=ALICE)), 250)
        expect(c.cmd("QUIT"), 221)
    for tok in toks:
        s.wait_mail(ALICE, tok)
    _deliver_marker(s, BOB)
    no_more_alerts(s, BOB, 1)
    body = body_of(raw).decode("utf-8")
    assert body.startswith(ALERT_MARK + "\r\n"), body
    assert re.search(r"\balice@example\.test\b.*\b3 messages\b", body, re.S), body
    (line,) = wait_lines(s, "intrusion.log", r"\bevent=rule-fired\b", r"\brule=auth-volume\b")
    assert 'user="alice@example.test"' in line, line
    assert ban_list(s) == []
