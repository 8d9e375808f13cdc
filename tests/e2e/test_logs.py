"""The SMTP conversation log: session ids, the AUTH username, and never any
password material (clear or base64) in any log file."""

import os
import re

import pytest

from conftest import ALICE, BOB, b64, expect, make_message, plain_blob, token, wait_until

SID = re.compile(r"\bsid=[0-9a-f]{16}\b")


@pytest.fixture(scope="module")
def logged(server):
    """Run sessions with right and wrong credentials in every form; return the
    secrets that must never reach a log."""
    secrets = []
    tok = token()

    def remember(user, pw):
        blob = plain_blob(user, pw)
        secrets.extend([pw, b64(pw.encode()), blob, blob[-12:]])

    # A: AUTH PLAIN with initial response, right password; sends a message.
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")
        remember(ALICE, server.users[ALICE])
        expect(c.send_message(ALICE, [ALICE], make_message(tok, sender=ALICE)), 250)
        expect(c.cmd("QUIT"), 221)
    # B: AUTH LOGIN, right password (username and password as continuations).
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.auth_login(BOB, server.users[BOB]), 235, "2.7.0")
        remember(BOB, server.users[BOB])
    # C: AUTH PLAIN as a continuation, wrong password.
    wrong1 = "Wrong-Canary-pw-3317"
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.auth_plain(ALICE, wrong1, initial=False), 535, "5.7.8")
        remember(ALICE, wrong1)
    # D: AUTH LOGIN on smtps, wrong password.
    wrong2 = "Wrong-Canary-LOGIN-8841"
    with server.conn("smtps") as c:
        expect(c.ehlo(), 250)
        expect(c.auth_login(ALICE, wrong2), 535, "5.7.8")
        remember(ALICE, wrong2)
    # E: AUTH where it is switched off (smtp listener): refused, still secret.
    off = "Smtp-Off-Canary-2291"
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.cmd("AUTH PLAIN " + plain_blob(ALICE, off)), 500, "5.5.1")
        remember(ALICE, off)
    # F: AUTH before TLS on submission: refused, still secret.
    pre = "PreTLS-Canary-5512"
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        expect(c.cmd("AUTH PLAIN " + plain_blob(ALICE, pre)), 538, "5.7.11")
        remember(ALICE, pre)
    server.wait_mail(ALICE, tok)
    conv = os.path.join(server.log_dir(), "smtp-conversation.log")

    def has_users():
        with open(conv, "r", errors="replace") as f:
            t = f.read()
        return ALICE in t and BOB in t

    wait_until(has_users)
    return {"secrets": secrets, "conv": conv}


def read_all_logs(server):
    out = {}
    for dirpath, _, files in os.walk(server.log_dir()):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[p] = fh.read()
    return out


def test_conversation_log_exists_with_session_ids(server, logged):
    assert os.path.isfile(logged["conv"]), "no DATA/log/smtp-conversation.log"
    with open(logged["conv"], "r", errors="replace") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    assert lines, "conversation log is empty"
    with_sid = [ln for ln in lines if SID.search(ln)]
    assert with_sid, "no line with sid=<16 hex>"
    without = [ln for ln in lines if not SID.search(ln)]
    assert without == [], "lines without a session id: %r" % without[:5]


def test_conversation_log_records_the_dialogue(server, logged):
    with open(logged["conv"], "r", errors="replace") as f:
        t = f.read().lower()
    assert "client.test" in t, "EHLO argument not logged"
    assert "mail from" in t, "MAIL command not logged"


def test_auth_username_logged(server, logged):
    with open(logged["conv"], "r", errors="replace") as f:
        t = f.read()
    assert ALICE in t, "AUTH PLAIN username not in the conversation log"
    assert BOB in t, "AUTH LOGIN username not in the conversation log"


def test_no_password_material_in_any_log(server, logged):
    logs = read_all_logs(server)
    assert logs, "no log files at all"
    leaks = []
    for path, content in logs.items():
        for sec in logged["secrets"]:
            if sec.encode() in content:
                leaks.append((os.path.relpath(path, server.data), sec))
    assert leaks == [], "password material in logs: %r" % leaks


def test_sighup_reopens_logs(fresh_server):
    import signal
    s = fresh_server()
    conv = os.path.join(s.log_dir(), "smtp-conversation.log")
    with s.conn() as c:
        expect(c.ehlo("before-rotate.test"), 250)
    assert wait_until(lambda: os.path.exists(conv))
    os.rename(conv, conv + ".1")
    os.kill(s.pid, signal.SIGHUP)

    def new_file_used():
        with s.conn() as c:
            expect(c.ehlo("after-rotate.test"), 250)
        if not os.path.exists(conv):
            return False
        with open(conv, "r", errors="replace") as f:
            return "after-rotate.test" in f.read()

    assert wait_until(new_file_used), "no new smtp-conversation.log after SIGHUP"
    assert s.alive()
