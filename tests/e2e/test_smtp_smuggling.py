"""SMTP smuggling: no bare-LF / bare-CR end-of-data variant ever ends a
message early, so a smuggled second message never exists."""

import pytest

from conftest import ALICE, BOB, SMTPProtocolError, expect, make_message, strip_trace, token

FAKE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "cr-dot-crlf": b"\r.\r\n",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-cr": b"\r.\r",
    "lf-dot-cr": b"\n.\r",
    "cr-dot-lf": b"\r.\n",
    "crlf-dot-cr-lf-in-line": b"\r\n.\r\r\n",
    "crlf-dot-nul-crlf": b"\r\n.\x00\r\n",
    "crlf-dot-space-crlf": b"\r\n. \r\n",
}


def _drain(c):
    """Read every reply until the server closes (after our QUIT)."""
    replies = []
    while True:
        try:
            replies.append(c.reply())
        except (SMTPProtocolError, OSError):
            return replies
        if replies[-1].code == 221:
            c.at_eof()
            return replies


def _check_no_smuggled_message(server, tok, replies):
    files = server.mail_with(tok)
    assert len(files) <= 1, "smuggling produced %d messages: %r; replies %r" % (len(files), files, replies)
    for p in files:
        with open(p, "rb") as f:
            raw = f.read()
        assert b"real-part-" + tok.encode() in raw, \
            "a message holds only the smuggled part: %r" % raw[-300:]
    assert server.mail_with("smuggled-" + tok, BOB) == [], "bob received the smuggled message"
    assert not any(r.code == 354 for r in replies), "a second DATA was started: %r" % replies


@pytest.mark.parametrize("name", sorted(FAKE_ENDS))
def test_fake_end_of_data_does_not_split_message(server, name):
    tok = token()
    fake = FAKE_ENDS[name]
    payload = (b"Subject: real " + tok.encode() + b"\r\n\r\n"
               b"real-part-" + tok.encode() + fake +
               b"MAIL FROM:<evil@other.test>\r\n"
               b"RCPT TO:<bob@example.test>\r\n"
               b"DATA\r\n"
               b"Subject: smuggled\r\n\r\n"
               b"smuggled-" + tok.encode() + b"\r\n"
               b"\r\n.\r\n"
               b"QUIT\r\n")
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.cmd("DATA"), 354)
        try:
            c.send(payload)
        except OSError:
            pass  # the server may hang up on a bare line end
        replies = _drain(c)
    assert replies, "no reply at all after the data"
    first = replies[0]
    assert first.code == 250 or 500 <= first.code < 600, "reply to end of data: %r" % first
    _check_no_smuggled_message(server, tok, replies)
    # Exactly the replies to "end of data" and "QUIT", nothing for the smuggled
    # commands; a server may also reject bare line ends with 5xx and hang up.
    codes = [r.code for r in replies]
    ok = (len(codes) == 2 and codes[1] == 221) or (len(codes) == 1 and 500 <= codes[0] < 600)
    assert ok, "smuggled commands were answered: %r" % replies


def test_bare_lf_in_text_rejected_or_normalised(server):
    tok = token()
    body = b"line one " + tok.encode() + b"\nline two\r\nline three\rstill three\r\n"
    msg = make_message(tok, body=body)
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        r = c.data(msg + b".\r\n")
        assert r.code == 250 or 500 <= r.code < 600, r
        if r.code == 250:
            expect(c.cmd("QUIT"), 221)
        else:
            try:
                c.send("QUIT\r\n")  # the server may also have hung up
            except OSError:
                pass
            replies = _drain(c)
            assert all(x.code == 221 for x in replies), "extra replies: %r" % replies
    files = server.mail_with(tok)
    if r.code == 250:
        assert len(files) == 1, files
        with open(files[0], "rb") as f:
            stored = strip_trace(f.read())
        bare_lf = stored.replace(b"\r\n", b"").count(b"\n")
        bare_cr = stored.replace(b"\r\n", b"").count(b"\r")
        assert bare_lf == 0 and bare_cr == 0, "bare LF/CR stored as is: %r" % stored
    else:
        assert files == [], "rejected message was delivered"


def test_end_of_data_split_across_writes(server):
    """The real terminator arriving one byte per packet still ends the data once."""
    tok = token()
    msg = make_message(tok)
    with server.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)
        expect(c.cmd("DATA"), 354)
        c.send(msg)
        for b in b".\r\n":
            c.send(bytes([b]))
        expect(c.reply(), 250)
        expect(c.cmd("QUIT"), 221)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg


def test_whole_session_one_byte_at_a_time(server):
    tok = token()
    msg = make_message(tok, body=b".leading\r\n" + tok.encode() + b"\r\n")
    stuffed = msg.replace(b"\r\n.leading", b"\r\n..leading")
    with server.conn() as c:
        for line in (b"EHLO client.test\r\n", b"MAIL FROM:<sender@other.test>\r\n",
                     b"RCPT TO:<alice@example.test>\r\n", b"DATA\r\n"):
            for b in line:
                c.send(bytes([b]))
            r = c.reply()
            assert r.code in (250, 354), r
        for b in stuffed + b".\r\n":
            c.send(bytes([b]))
        expect(c.reply(), 250)
    (raw,) = server.wait_mail(ALICE, tok)
    assert strip_trace(raw) == msg
