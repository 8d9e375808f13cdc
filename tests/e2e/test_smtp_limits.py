"""Limits with clear replies: SIZE, command line (512), text line (1000),
recipients, commands per session, idle timeout."""

import time

import pytest

from conftest import (ALICE, BOB, FACTOR, dot_stuff, expect, make_message,
                      make_server, finish_server, strip_trace, token)

MAX_SIZE = 20000
MAX_RCPT = 3
CAROL = "carol@example.test"
DAVE = "dave@example.test"


@pytest.fixture(scope="module")
def limited():
    s = make_server(settings={"message.max-size": str(MAX_SIZE),
                              "smtp.max-recipients": str(MAX_RCPT)},
                    users={CAROL: "Carol-pw-5523", DAVE: "Dave-pw-1187"})
    yield s
    finish_server(s)


def body_of(size, tok):
    line = b"0123456789" * 7 + b"\r\n"
    head = ("first line %s\r\n" % tok).encode()
    n = max(0, (size - len(head)) // len(line))
    return head + line * n


# -- SIZE -----------------------------------------------------------------------

def test_ehlo_advertises_size(limited):
    with limited.conn() as c:
        r = expect(c.ehlo(), 250)
        assert r.ehlo_param("SIZE") == [str(MAX_SIZE)], "EHLO SIZE: %r" % r


def test_declared_size_too_big(limited):
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test", "SIZE=%d" % (MAX_SIZE + 1)), 552, "5.3.4")
        expect(c.mail("sender@other.test", "SIZE=%d" % (MAX_SIZE * 1000)), 552, "5.3.4")
        expect(c.mail("sender@other.test", "SIZE=100"), 250)


def test_actual_size_too_big(limited):
    tok, tok2 = token(), token()
    big = make_message(tok, body=body_of(MAX_SIZE + 10000, tok))
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test", "SIZE=1000"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(big) + b".\r\n"), 552, "5.3.4")
        # The session carries on.
        small = make_message(tok2)
        expect(c.send_message("sender@other.test", [ALICE], small), 250)
        expect(c.cmd("QUIT"), 221)
    limited.wait_mail(ALICE, tok2)
    assert limited.mail_with(tok) == [], "an oversized message was delivered"


def test_message_under_limit_is_delivered(limited):
    tok = token()
    msg = make_message(tok, body=body_of(MAX_SIZE - 5000, tok))
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test", "SIZE=%d" % len(msg)), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    (raw,) = limited.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


# -- command line length ---------------------------------------------------------

def test_command_line_of_512_octets_is_accepted(limited):
    line = "NOOP " + "x" * (512 - 5 - 2)
    assert len(line) + 2 == 512
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.cmd(line), 250)


@pytest.mark.parametrize("length", [513, 600, 2000, 100000])
def test_long_command_line(limited, length):
    line = "NOOP " + "x" * (length - 5 - 2)
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        # The over-long line and a NOOP in one write: exactly one error for
        # the long line (its tail must not be read as further commands).
        c.send(line + "\r\nNOOP\r\n")
        expect(c.reply(), 500, "5.5.2")
        expect(c.reply(), 250)
        expect(c.cmd("QUIT"), 221)
        c.at_eof()
        assert c.buf == b"", "extra replies: %r" % c.buf


def test_long_mail_from_line(limited):
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.cmd("MAIL FROM:<%s@other.test>" % ("a" * 600)), 500, "5.5.2")
        expect(c.mail("sender@other.test"), 250)


# -- text line length --------------------------------------------------------------

def test_text_line_of_1000_octets_is_accepted(limited):
    tok = token()
    body = ("start %s\r\n" % tok).encode() + b"y" * 998 + b"\r\nend\r\n"
    msg = make_message(tok, body=body)
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.send_message("sender@other.test", [ALICE], msg), 250)
    (raw,) = limited.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


@pytest.mark.parametrize("length", [1001, 5000])
def test_long_text_line_is_rejected(limited, length):
    tok, tok2 = token(), token()
    body = ("start %s\r\n" % tok).encode() + b"z" * (length - 2) + b"\r\nend\r\n"
    msg = make_message(tok, body=body)
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        r = c.data(dot_stuff(msg) + b".\r\n")
        assert 500 <= r.code < 600, "text line of %d octets accepted: %r" % (length, r)
        # The session carries on: one reply per command, nothing extra.
        expect(c.cmd("NOOP"), 250)
        expect(c.send_message("sender@other.test", [ALICE], make_message(tok2)), 250)
        expect(c.cmd("QUIT"), 221)
    limited.wait_mail(ALICE, tok2)
    assert limited.mail_with(tok) == [], "message with an over-long line was delivered"


# -- recipients ----------------------------------------------------------------------

def test_too_many_recipients(limited):
    tok = token()
    msg = make_message(tok)
    with limited.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        for r in (ALICE, BOB, CAROL):
            expect(c.rcpt(r), 250)
        expect(c.rcpt(DAVE), 452, "4.5.3")
        expect(c.data(dot_stuff(msg) + b".\r\n"), 250)
    for r in (ALICE, BOB, CAROL):
        (raw,) = limited.wait_mail(r, tok)
        assert strip_trace(raw) == msg
    assert limited.mail_with(tok, DAVE) == []


# -- commands per session and idle timeout ---------------------------------------------

def test_max_commands_per_session(fresh_server):
    limit = 20
    s = fresh_server(settings={"smtp.max-commands": str(limit)})
    with s.conn() as c:
        replies = [c.ehlo()]
        while replies[-1].code != 421 and len(replies) < limit + 10:
            replies.append(c.cmd("NOOP"))
        codes = [r.code for r in replies]
        assert 421 in codes, "no 421 after %d commands (limit %d): %r" % (len(codes), limit, codes)
        k = codes.index(421) + 1
        assert limit - 1 <= k <= limit + 1, "421 at command %d, limit %d" % (k, limit)
        assert all(x == 250 for x in codes[:k - 1]), codes
        assert c.at_eof(), "connection not closed after 421"
    # A new session is served normally.
    with s.conn() as c:
        expect(c.ehlo(), 250)


@pytest.mark.slow
def test_idle_timeout(fresh_server):
    s = fresh_server(settings={"smtp.timeout": "2"})
    with s.conn() as c:
        expect(c.ehlo(), 250)
        t0 = time.monotonic()
        assert c.at_eof(timeout=2 + 15 * FACTOR), "idle session not closed"
        elapsed = time.monotonic() - t0
        assert elapsed >= 1.5, "closed after %.1fs, before the 2 s idle timeout" % elapsed
        if c.buf:
            assert c.buf.startswith(b"421"), "unexpected data before close: %r" % c.buf
    with s.conn() as c:
        expect(c.ehlo(), 250)


def test_max_connections(fresh_server):
    """server.max-connections: the one past the limit gets 421 4.3.2 and is
    closed; a slot frees up when a session ends."""
    srv = fresh_server(settings={"server.max-connections": "10"})
    held = [srv.conn() for _ in range(10)]
    try:
        extra = srv.conn(greeting=False)
        expect(extra.reply(), 421, "4.3.2")
        assert extra.at_eof()
        extra.close()
        expect(held.pop().cmd("QUIT"), 221)

        def one_more():
            c = srv.conn(greeting=False)
            r = c.reply()
            c.close()
            return r.code == 220
        from conftest import wait_until
        assert wait_until(one_more)
    finally:
        for c in held:
            c.close()
