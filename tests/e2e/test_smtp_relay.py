"""Relay control: never an open relay, relay for authenticated users and
relay.networks, and no recipient can write outside the mail store."""

import os

import pytest

from conftest import (ALICE, BOB, DOMAIN, dot_stuff, expect, make_message, token,
                      wait_until)

TRICKS = [
    "user@other.test",
    "user@OTHER.TEST",
    "user%other.test@example.test",
    "<@example.test:user@other.test>",
    "<@example.test,@relay.other.test:user@other.test>",
    "other.test!user@example.test",
    '"user@other.test"@example.test',
    "user@[127.0.0.1]",
    "user@[IPv6:::1]",
    "user@example.test.other.test",
]


@pytest.mark.parametrize("rcpt", TRICKS)
def test_stranger_cannot_relay(server, rcpt):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(rcpt), 554, "5.7.1")
        expect(c.cmd("QUIT"), 221)


def test_stranger_relay_denied_then_local_still_works(server):
    tok = token()
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt("victim@other.test"), 554, "5.7.1")
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(make_message(tok)) + b".\r\n"), 250)
    server.wait_mail(ALICE, tok)
    assert server.queue_with(tok) == []


def test_stranger_cannot_relay_through_submission_without_auth(server):
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 530, "5.7.0")


def _relay(c, tok, rcpt="friend@other.test", sender=ALICE):
    expect(c.mail(sender), 250)
    expect(c.rcpt(rcpt), 250)
    msg = make_message(tok, rcpt=rcpt, sender=sender)
    expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    expect(c.cmd("QUIT"), 221)
    return msg


def _assert_queued_not_delivered(server, tok):
    assert wait_until(lambda: server.queue_with(tok)), \
        "relayed message not found under DATA/queue (files: %r)" % server.queue_files()
    assert server.mail_with(tok) == [], "relayed message landed in a Maildir"


@pytest.mark.parametrize("listener", ["submission", "smtps"])
def test_authenticated_user_may_relay(server, listener):
    tok = token()
    with server.authed(listener) as c:
        _relay(c, tok)
    _assert_queued_not_delivered(server, tok)


def test_authenticated_relay_with_local_and_remote_recipients(server):
    tok = token()
    with server.authed("submission", user=BOB) as c:
        expect(c.mail(BOB), 250)
        expect(c.rcpt("friend@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        msg = make_message(tok, sender=BOB)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert wait_until(lambda: server.queue_with(tok)), "remote copy not queued"


def test_relay_networks_allows_relay(fresh_server):
    s = fresh_server(settings={"relay.networks": "10.0.0.0/8,127.0.0.0/8"})
    tok = token()
    with s.conn() as c:
        expect(c.ehlo(), 250)
        _relay(c, tok, sender="someone@other.test")
    _assert_queued_not_delivered(s, tok)


def test_relay_networks_not_matching_denies(fresh_server):
    s = fresh_server(settings={"relay.networks": "10.0.0.0/8,192.168.0.0/16,::1/128"})
    with s.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("someone@other.test"), 250)
        expect(c.rcpt("friend@other.test"), 554, "5.7.1")


# -- path traversal through the recipient ------------------------------------

def _snapshot(root):
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.join(dirpath, n))
    return out


def _allowed(server, path):
    data = server.data
    rel = os.path.relpath(path, data)
    if rel.startswith(".."):
        return False
    parts = rel.split(os.sep)
    if parts[0] == "log" or parts[0].startswith("mailwarden.db"):
        return True
    if parts[:2] == ["mail", DOMAIN] and len(parts) >= 3:
        real = os.path.realpath(path)
        base = os.path.realpath(os.path.join(data, "mail", DOMAIN))
        return parts[2] not in (".", "..") and real.startswith(base + os.sep)
    return False


def test_recipient_cannot_escape_mail_store(server):
    tok = token()
    esc = "esc" + tok
    rcpts = [
        "../x@example.test",
        "..%2f@example.test",
        "..%2F..%2F" + esc + "@example.test",
        "..@example.test",
        ".@example.test",
        "../" + esc + "@example.test",
        "../../" + esc + "@example.test",
        "../../../" + esc + "@example.test",
        "../../../../" + esc + "@example.test",
        "../../../../../../../../" + esc + "@example.test",
        "a/../../" + esc + "@example.test",
        "alice/../bob@example.test",
        '"../' + esc + '"@example.test',
        '"../../' + esc + '"@example.test',
        "..\\" + esc + "@example.test",
        "/" + esc + "@example.test",
        "x/y@example.test",
    ]
    before = _snapshot(server.root)
    for rcpt in rcpts:
        with server.conn() as c:
            expect(c.ehlo(), 250)
            expect(c.mail("sender@other.test"), 250)
            r = c.rcpt(rcpt)
            if r.code == 250:
                expect(c.data(dot_stuff(make_message(tok, rcpt=rcpt)) + b".\r\n"), 250)
            else:
                assert 500 <= r.code < 600, "odd reply to RCPT %s: %r" % (rcpt, r)
            expect(c.cmd("QUIT"), 221)
    after = _snapshot(server.root)
    bad = sorted(p for p in after - before if not _allowed(server, p))
    assert bad == [], "created outside DATA/mail/example.test/*: %r" % bad
    base = os.path.join(server.data, "mail", DOMAIN)
    for level in range(1, 12):
        p = os.path.normpath(os.path.join(base, *([".."] * level), esc))
        assert not os.path.exists(p), "escaped the mail store: %s" % p
    # Nothing that looks like a traversal was delivered anywhere but a plain child.
    for p in server.mail_with(tok):
        assert _allowed(server, p), p
    assert server.queue_with(tok) == [], "a local-domain recipient was queued for relay"


def test_domain_is_case_insensitive(server):
    tok = token()
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt("alice@EXAMPLE.Test"), 250)
        expect(c.data(dot_stuff(make_message(tok)) + b".\r\n"), 250)
    server.wait_mail(ALICE, tok)
    assert server.queue_with(tok) == []
