"""AUTH and TLS: AUTH off on smtp, STARTTLS + AUTH on submission, implicit
TLS on smtps, AUTH replies, STARTTLS command injection and state reset."""

import smtplib

import pytest

from conftest import (ALICE, BOB, SOCK_TIMEOUT, b64, dot_stuff, expect, make_message,
                      strip_trace, tls_context, token, wait_until)


# -- AUTH disabled on the smtp (MX) listener ----------------------------------

def test_smtp_listener_has_no_auth(server):
    with server.conn() as c:
        r = expect(c.ehlo(), 250)
        assert "AUTH" not in r.keywords, r
        expect(c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (ALICE, server.users[ALICE]))), 500, "5.5.1")
        expect(c.cmd("AUTH LOGIN"), 500, "5.5.1")
        c.starttls()
        r = expect(c.ehlo(), 250)
        assert "AUTH" not in r.keywords, "AUTH advertised after STARTTLS on smtp: %r" % r
        expect(c.auth_plain(ALICE, server.users[ALICE]), 500, "5.5.1")
        expect(c.cmd("NOOP"), 250)


# -- submission -----------------------------------------------------------------

def test_submission_no_auth_before_tls(server):
    with server.conn("submission") as c:
        r = expect(c.ehlo(), 250)
        assert "STARTTLS" in r.keywords, r
        assert "AUTH" not in r.keywords, "AUTH offered before TLS: %r" % r
        expect(c.auth_plain(ALICE, server.users[ALICE]), 538, "5.7.11")
        expect(c.cmd("AUTH LOGIN"), 538, "5.7.11")
        expect(c.mail(ALICE), 530, "5.7.0")


def test_submission_auth_advertised_after_tls(server):
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        r = expect(c.ehlo(), 250)
        mechs = {m.upper() for m in (r.ehlo_param("AUTH") or [])}
        assert {"PLAIN", "LOGIN"} <= mechs, "AUTH mechanisms after STARTTLS: %r" % r
        assert "STARTTLS" not in r.keywords, "STARTTLS advertised inside TLS: %r" % r


def test_submission_mail_before_auth(server):
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.mail(ALICE), 530, "5.7.0")
        r = c.rcpt(BOB)
        assert r.code in (503, 530), "RCPT without a transaction: %r" % r


@pytest.mark.parametrize("how", ["plain-initial", "plain-continuation", "login"])
def test_submission_auth_succeeds_and_sends(server, how):
    user, pw = ALICE, server.users[ALICE]
    tok = token()
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        if how == "plain-initial":
            r = c.auth_plain(user, pw)
        elif how == "plain-continuation":
            r = c.auth_plain(user, pw, initial=False)
        else:
            r = c.auth_login(user, pw)
        expect(r, 235, "2.7.0")
        msg = make_message(tok, sender=ALICE, rcpt=BOB)
        expect(c.mail(ALICE), 250)
        expect(c.rcpt(BOB), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
        expect(c.cmd("QUIT"), 221)
    (raw,) = server.wait_mail(BOB, tok)
    assert strip_trace(raw) == msg


def test_auth_failures_look_identical(server):
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        wrong = expect(c.auth_plain(ALICE, "not-the-password"), 535, "5.7.8")
        unknown = expect(c.auth_plain("ghost@example.test", "not-the-password"), 535, "5.7.8")
        assert wrong.text == unknown.text, "unknown user and wrong password differ: %r %r" % (wrong, unknown)
        expect(c.auth_login(BOB, "also-wrong"), 535, "5.7.8")
        # The session carries on and the right password still works.
        expect(c.auth_plain(BOB, server.users[BOB]), 235, "2.7.0")


def test_auth_protocol_errors(server):
    with server.conn("submission") as c:
        expect(c.ehlo(), 250)
        c.starttls()
        expect(c.ehlo(), 250)
        r = c.cmd("AUTH CRAM-BOGUS")
        assert r.code == 504, "unknown mechanism: %r" % r
        expect(c.cmd("AUTH PLAIN"), 334)
        r = c.cmd("*")
        assert r.code == 501, "cancelled AUTH: %r" % r
        r = c.cmd("AUTH PLAIN !!!not-base64!!!")
        assert r.code == 501, "invalid base64: %r" % r
        expect(c.auth_plain(ALICE, server.users[ALICE]), 235, "2.7.0")
        r = c.auth_plain(ALICE, server.users[ALICE])
        assert r.code == 503, "second AUTH: %r" % r
        expect(c.cmd("NOOP"), 250)


# -- smtps (implicit TLS) -----------------------------------------------------------

def test_smtps_implicit_tls(server):
    with server.conn("smtps") as c:
        expect(c.greeting, 220)
        r = expect(c.ehlo(), 250)
        mechs = {m.upper() for m in (r.ehlo_param("AUTH") or [])}
        assert {"PLAIN", "LOGIN"} <= mechs, r
        assert "STARTTLS" not in r.keywords, r
        expect(c.mail(ALICE), 530, "5.7.0")
        expect(c.auth_login(ALICE, server.users[ALICE]), 235, "2.7.0")
        expect(c.mail(ALICE), 250)


def test_smtps_with_smtplib(server):
    tok = token()
    msg = make_message(tok, sender=BOB, rcpt=ALICE)
    with smtplib.SMTP_SSL("127.0.0.1", server.ports["smtps"], local_hostname="client.test",
                          context=tls_context(), timeout=SOCK_TIMEOUT) as s:
        s.login(BOB, server.users[BOB])
        assert s.sendmail(BOB, [ALICE], msg) == {}
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_smtps_wrong_password(server):
    with server.conn("smtps") as c:
        expect(c.ehlo(), 250)
        expect(c.auth_plain(ALICE, "Totally-Wrong-99"), 535, "5.7.8")


# -- auth.plaintext ---------------------------------------------------------------

def test_auth_plaintext_on_allows_auth_without_tls(fresh_server):
    s = fresh_server(settings={"auth.plaintext": "on"})
    with s.conn("submission") as c:
        r = expect(c.ehlo(), 250)
        assert "AUTH" in r.keywords, "auth.plaintext on: AUTH not offered before TLS: %r" % r
        expect(c.auth_plain(ALICE, s.users[ALICE]), 235, "2.7.0")
        expect(c.mail(ALICE), 250)


# -- password change and user removal while serving --------------------------------

def test_user_passwd_and_del_apply_live(fresh_server):
    s = fresh_server()
    old, new = s.users[BOB], "Bob-New-pw-8812"
    s.cli_ok("user", "passwd", BOB, input=new + "\n")

    def new_works():
        with s.conn("smtps") as c:
            expect(c.ehlo(), 250)
            return c.auth_plain(BOB, new).code == 235

    assert wait_until(new_works), "new password not accepted"
    with s.conn("smtps") as c:
        expect(c.ehlo(), 250)
        expect(c.auth_plain(BOB, old), 535, "5.7.8")
    s.cli_ok("user", "del", BOB)

    def gone():
        with s.conn() as c:
            expect(c.ehlo(), 250)
            expect(c.mail("x@other.test"), 250)
            return c.rcpt(BOB).code == 550

    assert wait_until(gone), "deleted user still accepted at RCPT"


# -- STARTTLS --------------------------------------------------------------------

def _starttls_injection(c, injected):
    expect(c.ehlo(), 250)
    c.send("STARTTLS\r\n" + injected)
    expect(c.reply(), 220)
    assert c.buf == b"", "server answered pipelined plaintext after STARTTLS: %r" % c.buf
    c.sock = tls_context().wrap_socket(c.sock)
    c.tls = True
    # The first reply inside TLS must be the reply to what we send now.
    r = expect(c.ehlo(), 250)
    assert "PIPELINING" in r.keywords and len(r.lines) > 1, \
        "first reply inside TLS is not the EHLO reply (an injected command was answered): %r" % r


@pytest.mark.parametrize("listener", ["smtp", "submission"])
def test_starttls_discards_pipelined_plaintext(server, listener):
    with server.conn(listener) as c:
        _starttls_injection(c, "NOOP\r\n")
        expect(c.cmd("NOOP"), 250)
        expect(c.cmd("QUIT"), 221)
        c.at_eof()
        assert c.buf == b"", "extra replies inside TLS: %r" % c.buf


def test_starttls_injected_transaction_is_discarded(server):
    with server.conn() as c:
        _starttls_injection(c, "MAIL FROM:<evil@other.test>\r\nRCPT TO:<alice@example.test>\r\n")
        r = c.cmd("DATA")
        assert r.code in (503, 554), "injected MAIL/RCPT survived STARTTLS: %r" % r
        expect(c.cmd("QUIT"), 221)


def test_starttls_injected_auth_is_discarded(server):
    with server.conn("submission") as c:
        blob = b64("\0%s\0%s" % (ALICE, server.users[ALICE]))
        _starttls_injection(c, "AUTH PLAIN %s\r\n" % blob)
        expect(c.mail(ALICE), 530, "5.7.0")


def test_starttls_resets_session(server):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        r = c.cmd("STARTTLS")
        if r.code == 503:
            # Refusing STARTTLS inside a transaction (as Postfix does) is fine.
            expect(c.cmd("RSET"), 250)
            r = c.cmd("STARTTLS")
        expect(r, 220)
        assert c.buf == b""
        c.sock = tls_context().wrap_socket(c.sock)
        c.tls = True
        r = c.mail("sender@other.test")
        assert r.code == 503, "MAIL accepted without EHLO after STARTTLS: %r" % r
        expect(c.ehlo(), 250)
        r = c.rcpt(ALICE)
        assert r.code == 503, "transaction from before STARTTLS survived: %r" % r
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        tok = token()
        msg = make_message(tok)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_mail_over_starttls_on_smtp(server):
    tok = token()
    msg = make_message(tok)
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], local_hostname="client.test",
                      timeout=SOCK_TIMEOUT) as s:
        s.starttls(context=tls_context())
        assert s.sendmail("sender@other.test", [ALICE], msg) == {}
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


# -- the tarpit and sessions that leave -------------------------------------------------

def test_tarpit_does_not_block_other_clients(fresh_server):
    s = fresh_server(settings={"auth.failure-delay": "3000"})
    with s.conn("smtps") as a:
        expect(a.ehlo(), 250)
        a.send("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (ALICE, "wrong-pw-tarpit")))
        # While a's failure is held back, another client is served in full.
        with s.conn("smtps") as b:
            expect(b.ehlo(), 250)
            expect(b.auth_plain(BOB, s.users[BOB]), 235, "2.7.0")
            expect(b.cmd("NOOP"), 250)
        a.sock.settimeout(0.0)
        try:
            early = a.sock.recv(1024)
        except (BlockingIOError, OSError):
            early = b""
        a.sock.settimeout(SOCK_TIMEOUT)
        assert early == b"", "failed AUTH answered before the tarpit delay: %r" % early
        expect(a.reply(), 535, "5.7.8")


def test_client_gone_during_auth(fresh_server):
    s = fresh_server(settings={"auth.failure-delay": "300"})
    for pw in ("wrong-and-gone-1", s.users[ALICE]):
        c = s.conn("smtps")
        expect(c.ehlo(), 250)
        c.send("AUTH PLAIN %s\r\n" % b64("\0%s\0%s" % (ALICE, pw)))
        c.close()  # the result for this session must be dropped
    with s.conn("smtps") as c:
        expect(c.ehlo(), 250)
        expect(c.auth_plain(ALICE, s.users[ALICE]), 235, "2.7.0")
    assert s.alive()
