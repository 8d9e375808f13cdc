"""Basic SMTP receiving: greeting, EHLO, local delivery byte-exact, several
recipients, aliases, unknown users, dot-stuffing, VRFY, pipelining, swaks."""

import os
import smtplib
import subprocess

import pytest

from conftest import (ALICE, BOB, SOCK_TIMEOUT, FACTOR, dot_stuff, expect,
                      make_message, split_trace, strip_trace, tls_context, token,
                      wait_until, LIVE_TIMEOUT)


def smtp_client(server, listener="smtp"):
    return smtplib.SMTP("127.0.0.1", server.ports[listener], local_hostname="client.test",
                        timeout=SOCK_TIMEOUT)


def test_greeting(server):
    with server.conn() as c:
        expect(c.greeting, 220)
        expect(c.cmd("QUIT"), 221)


def test_ehlo_extensions(server):
    with server.conn() as c:
        r = expect(c.ehlo(), 250)
        for kw in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "STARTTLS"):
            assert kw in r.keywords, "EHLO lacks %s: %r" % (kw, r)
        assert "AUTH" not in r.keywords, "smtp listener advertises AUTH by default: %r" % r


def test_helo_and_lowercase_commands(server):
    tok = token()
    msg = make_message(tok)
    with server.conn() as c:
        expect(c.cmd("helo client.test"), 250)
        expect(c.cmd("mail from:<sender@other.test>"), 250)
        expect(c.cmd("rcpt to:<alice@example.test>"), 250)
        expect(c.cmd("data"), 354)
        c.send(msg + b".\r\n")
        expect(c.reply(), 250)
        expect(c.cmd("quit"), 221)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_delivery_byte_exact_with_smtplib(server):
    tok = token()
    msg = make_message(tok, extra=b"X-Folded: first\r\n  second\r\n\tthird\r\n")
    with smtp_client(server) as s:
        refused = s.sendmail("sender@other.test", [ALICE], msg)
        assert refused == {}
    (raw,) = server.wait_mail(ALICE, tok)
    rp, received, rest = split_trace(raw)
    assert rp == b"Return-Path: <sender@other.test>\r\n"
    assert received.startswith(b"Received: ")
    assert b";" in received and b"by " in received, "Received: lacks by/date: %r" % received
    assert rest == msg


def test_maildir_layout(server):
    tok = token()
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.send_message("sender@other.test", [BOB], make_message(tok, rcpt=BOB)), 250)
    server.wait_mail(BOB, tok)
    md = server.maildir(BOB)
    for sub in ("new", "cur", "tmp"):
        assert os.path.isdir(os.path.join(md, sub)), "Maildir lacks %s/" % sub
    assert not server._with([os.path.join(md, "tmp", f) for f in os.listdir(os.path.join(md, "tmp"))], tok), \
        "the delivered message is still in tmp/"


def test_null_sender(server):
    tok = token()
    msg = make_message(tok)
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.cmd("MAIL FROM:<>"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert raw.startswith(b"Return-Path: <>\r\n")
    assert strip_trace(raw) == msg


def test_several_recipients_each_get_a_copy(server):
    tok = token()
    msg = make_message(tok, rcpt="alice@example.test, bob@example.test")
    with smtp_client(server) as s:
        assert s.sendmail("sender@other.test", [ALICE, BOB], msg) == {}
    (a,) = server.wait_mail(ALICE, tok)
    (b,) = server.wait_mail(BOB, tok)
    assert strip_trace(a) == msg
    assert strip_trace(b) == msg


def test_several_messages_in_one_session(server):
    toks = [token() for _ in range(3)]
    with server.conn() as c:
        expect(c.ehlo(), 250)
        for t in toks:
            expect(c.send_message("sender@other.test", [ALICE], make_message(t)), 250)
        expect(c.cmd("QUIT"), 221)
    for t in toks:
        (raw,) = server.wait_mail(ALICE, t)
        assert strip_trace(raw) == make_message(t)


def test_rset_forgets_transaction(server):
    tok = token()
    msg = make_message(tok)
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.cmd("RSET"), 250)
        expect(c.cmd("NOOP"), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(BOB), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
        expect(c.cmd("QUIT"), 221)
    server.wait_mail(BOB, tok)
    assert server.mail_with(tok, ALICE) == []


def test_bad_sequence(server):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.rcpt(ALICE), 503)
        r = c.cmd("DATA")
        assert r.code in (503, 554), r
        expect(c.mail("sender@other.test"), 250)
        r = c.cmd("DATA")
        assert r.code in (503, 554), "DATA without RCPT: %r" % r
        expect(c.cmd("NOOP"), 250)


def test_unknown_command(server):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.cmd("FROBNICATE now"), 500, "5.5.1")
        expect(c.cmd("NOOP"), 250)


def test_unknown_local_user(server):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt("nobody@example.test"), 550, "5.1.1")
        expect(c.rcpt(ALICE), 250)
        expect(c.cmd("QUIT"), 221)


def test_alias_delivers_to_target(server):
    server.cli_ok("alias", "add", "sales@example.test", ALICE)

    def rcpt_ok():
        with server.conn() as c:
            expect(c.ehlo(), 250)
            expect(c.mail("sender@other.test"), 250)
            return c.rcpt("sales@example.test").code == 250

    assert wait_until(rcpt_ok), "alias not accepted at RCPT within %ss" % LIVE_TIMEOUT
    tok = token()
    msg = make_message(tok, rcpt="sales@example.test")
    with smtp_client(server) as s:
        assert s.sendmail("sender@other.test", ["sales@example.test"], msg) == {}
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg
    assert not os.path.exists(server.maildir("sales@example.test"))


DOTTY = (b"Subject: dots\r\n\r\n"
         b".\r\n"
         b"..\r\n"
         b"...\r\n"
         b".leading dot\r\n"
         b"..two leading dots\r\n"
         b" .not leading\r\n"
         b"middle . dot\r\n"
         b".\r\n")


def test_dot_stuffing_raw(server):
    tok = token()
    msg = DOTTY.replace(b"Subject: dots", b"Subject: dots " + tok.encode())
    wire = dot_stuff(msg) + b".\r\n"
    assert b"\r\n..leading dot\r\n" in wire and b"\r\n...two leading dots\r\n" in wire
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(wire), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_dot_stuffing_smtplib(server):
    tok = token()
    msg = DOTTY.replace(b"Subject: dots", b"Subject: dots " + tok.encode())
    with smtp_client(server) as s:
        assert s.sendmail("sender@other.test", [BOB], msg) == {}
    (raw,) = server.wait_mail(BOB, tok)
    assert strip_trace(raw) == msg


def test_8bit_and_long_message_byte_exact(server):
    tok = token()
    body = "Grüße, ünïcödé – 日本語 %s\r\n" % tok
    body = body.encode("utf-8") + b"".join(b"line %06d " % i + bytes(range(0x80, 0xff)) + b"\r\n"
                                           for i in range(2000))
    msg = make_message(tok, body=body, extra=b"Content-Type: text/plain; charset=utf-8\r\n"
                                             b"Content-Transfer-Encoding: 8bit\r\n")
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test", "BODY=8BITMIME"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_vrfy_does_not_disclose_users(server):
    with server.conn() as c:
        expect(c.ehlo(), 250)
        a = c.cmd("VRFY alice@example.test")
        b = c.cmd("VRFY nobody-here@example.test")
        c2 = c.cmd("VRFY alice")
    assert a.code == 252, a
    assert (a.code, a.enhanced) == (b.code, b.enhanced) == (c2.code, c2.enhanced)
    norm = lambda r, arg: r.text.replace(arg, "X")  # noqa: E731
    assert norm(a, "alice@example.test") == norm(b, "nobody-here@example.test"), \
        "VRFY replies differ: %r vs %r" % (a, b)


def test_pipelining_replies_in_order(server):
    tok = token()
    msg = make_message(tok, rcpt="alice, bob")
    with server.conn() as c:
        c.send("EHLO client.test\r\nMAIL FROM:<sender@other.test>\r\n"
               "RCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n")
        r = expect(c.reply(), 250)
        assert "PIPELINING" in r.keywords, "first reply is not the EHLO reply: %r" % r
        expect(c.reply(), 250)
        expect(c.reply(), 250)
        expect(c.reply(), 250)
        expect(c.reply(), 354)
        c.send(dot_stuff(msg) + b".\r\nNOOP\r\nQUIT\r\n")
        expect(c.reply(), 250)
        expect(c.reply(), 250)
        expect(c.reply(), 221)
    (a,) = server.wait_mail(ALICE, tok)
    (b,) = server.wait_mail(BOB, tok)
    assert strip_trace(a) == msg and strip_trace(b) == msg


def test_pipelining_with_a_rejected_recipient(server):
    tok = token()
    msg = make_message(tok)
    with server.conn() as c:
        expect(c.ehlo(), 250)
        c.send("MAIL FROM:<sender@other.test>\r\nRCPT TO:<ghost@example.test>\r\n"
               "RCPT TO:<alice@example.test>\r\nDATA\r\n")
        expect(c.reply(), 250)
        expect(c.reply(), 550, "5.1.1")
        expect(c.reply(), 250)
        expect(c.reply(), 354)
        c.send(dot_stuff(msg) + b".\r\n")
        expect(c.reply(), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


# -- swaks ------------------------------------------------------------------

def swaks(*args):
    return subprocess.run(["swaks", "--timeout", str(int(SOCK_TIMEOUT)), "--helo", "client.test"]
                          + list(args), capture_output=True, text=True, timeout=60 * FACTOR)


def swaks_tls_available():
    r = subprocess.run(["swaks", "--support"], capture_output=True, text=True)
    return "TLS supported" in (r.stdout + r.stderr)


def test_swaks_plain(server):
    tok = token()
    r = swaks("--server", "127.0.0.1:%d" % server.ports["smtp"], "--to", ALICE,
              "--from", "sender@other.test", "--header", "Subject: swaks " + tok,
              "--body", "swaks body " + tok)
    assert r.returncode == 0, r.stdout + r.stderr
    (raw,) = server.wait_mail(ALICE, tok)
    assert b"swaks body " + tok.encode() in strip_trace(raw)


@pytest.mark.parametrize("method", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth_on_submission(server, method):
    if not swaks_tls_available():
        pytest.fail("swaks has no TLS support: scripts/install-deps should install libnet-ssleay-perl")
    tok = token()
    r = swaks("--server", "127.0.0.1:%d" % server.ports["submission"], "--tls",
              "--auth", method, "--auth-user", ALICE, "--auth-password", server.users[ALICE],
              "--to", BOB, "--from", ALICE, "--header", "Subject: swaks " + tok,
              "--body", "swaks tls body " + tok)
    assert r.returncode == 0, r.stdout + r.stderr
    (raw,) = server.wait_mail(BOB, tok)
    assert b"swaks tls body " + tok.encode() in strip_trace(raw)


def test_swaks_smtps(server):
    if not swaks_tls_available():
        pytest.fail("swaks has no TLS support: scripts/install-deps should install libnet-ssleay-perl")
    tok = token()
    r = swaks("--server", "127.0.0.1:%d" % server.ports["smtps"], "--tlsc",
              "--auth", "PLAIN", "--auth-user", BOB, "--auth-password", server.users[BOB],
              "--to", ALICE, "--from", BOB, "--header", "Subject: swaks " + tok,
              "--body", "swaks smtps body " + tok)
    assert r.returncode == 0, r.stdout + r.stderr
    server.wait_mail(ALICE, tok)


def test_smtplib_submission_starttls_login(server):
    tok = token()
    msg = make_message(tok, sender=ALICE, rcpt=BOB)
    with smtp_client(server, "submission") as s:
        s.starttls(context=tls_context())
        s.login(ALICE, server.users[ALICE])
        assert s.sendmail(ALICE, [BOB], msg) == {}
    (raw,) = server.wait_mail(BOB, tok)
    assert strip_trace(raw) == msg
    assert raw.startswith(b"Return-Path: <alice@example.test>\r\n")


# -- process and concurrency ----------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="only meaningful when started as root")
def test_server_drops_root(server):
    with open("/proc/%d/status" % server.pid) as f:
        ids = {ln.split(":")[0]: ln.split()[1:] for ln in f if ln.startswith(("Uid:", "Gid:"))}
    assert "0" not in ids["Uid"], "server still runs with a root uid: %r" % ids
    assert "0" not in ids["Gid"], "server still runs with a root gid: %r" % ids


def test_concurrent_sessions(server):
    import threading
    toks = [token() for _ in range(24)]
    errors = []

    def send(i, t):
        try:
            with smtp_client(server) as s:
                s.sendmail("sender@other.test", [(ALICE, BOB)[i % 2]], make_message(t))
        except Exception as e:  # reported below
            errors.append((t, repr(e)))

    threads = [threading.Thread(target=send, args=(i, t)) for i, t in enumerate(toks)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60 * FACTOR)
    assert errors == []
    for t in toks:
        assert len(server.mail_with(t)) == 1, "message %s not delivered exactly once" % t


def test_slow_client_does_not_block_others(server):
    tok_a, tok_b = token(), token()
    msg_a = make_message(tok_a)
    with server.conn() as a:
        expect(a.ehlo(), 250)
        expect(a.mail("slow@other.test"), 250)
        expect(a.rcpt(ALICE), 250)
        expect(a.cmd("DATA"), 354)
        a.send(msg_a[:40])                      # and then nothing for a while
        with server.conn() as b:
            expect(b.ehlo(), 250)
            expect(b.send_message("fast@other.test", [BOB], make_message(tok_b, rcpt=BOB)), 250)
        server.wait_mail(BOB, tok_b)
        a.send(msg_a[40:] + b".\r\n")
        expect(a.reply(), 250)
    (raw,) = server.wait_mail(ALICE, tok_a)
    assert strip_trace(raw) == msg_a
