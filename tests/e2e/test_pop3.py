"""POP3 (docs/pop3.md, DESIGN 6): greeting and CAPA before and after TLS,
USER/PASS and AUTH PLAIN (STLS, pop3s, auth.plaintext), STAT/LIST/UIDL/
RETR/TOP byte-exact against what SMTP stored (dot-stuffing included, a
large message streamed), UIDL stability, the UPDATE state (DELE, RSET, a
dropped connection, RETR marks seen, TOP does not), snapshots, files
changed behind the server's back, STLS injection, the per-user lock,
per-address limit, line and error limits, pipelining, curl, and live
listener settings.

Most tests share one server; each test gets its own fresh user (created
while the server runs) so that mailboxes never interfere."""

import os
import random
import re
import shutil
import socket
import subprocess
import time
import uuid

import poplib
import pytest

from conftest import (ALICE, FACTOR, POP3Conn, b64, box_files, deliver, expect, greets,
                      new_user, port_refused, tls_context, wait_until)

GREETING = "+OK Mailwarden POP3 server ready"
PLAIN_REFUSED = "-ERR [AUTH] Plaintext authentication disallowed, use STLS first"
AUTH_FAILED = "-ERR [AUTH] Authentication failed"
IN_USE = "-ERR [IN-USE] Mailbox is locked by another session"
TOO_MANY = "-ERR [SYS/TEMP] Too many connections from your address"
NO_SUCH = "-ERR No such message"
UNKNOWN = "-ERR Unknown command"
WRONG_STATE = "-ERR Command not valid in this state"
TOO_LONG = "-ERR Line too long"
CANCELLED = "-ERR Authentication cancelled"
SHUTDOWN = "-ERR [SYS/TEMP] Server shutting down"
LOGGED_IN = re.compile(r"^\+OK Logged in, (\d+) messages? \((\d+) octets\)$")
COUNT = re.compile(r"^\+OK (\d+) messages? \((\d+) octets\)$")
BYE_DELETED = re.compile(r"^\+OK Bye, (\d+) messages? deleted$")
UID_RE = re.compile(r"^[\x21-\x7e]{1,70}$")
WRONG = "Wrong-pop3-pw-0001"


def gone(i):
    return "-ERR [SYS/TEMP] Message %d is no longer available" % i


def already(i):
    return "-ERR Message %d already deleted" % i


# -- helpers --------------------------------------------------------------------

def login(s, user, listener="pop3s", src=None, password=None):
    """A session in TRANSACTION state (STLS first on pop3); the message count
    and octets of the login reply are in c.count and c.octets."""
    c = s.pop3_raw(listener, src=src)
    try:
        assert c.greeting == GREETING, c.greeting
        if listener == "pop3":
            c.stls()
        st = c.login(user, password or s.users[user])
        m = LOGGED_IN.match(st)
        assert m, "login of %s: %r" % (user, st)
        c.count, c.octets = int(m.group(1)), int(m.group(2))
    except BaseException:
        c.close()
        raise
    return c


def capa(c):
    """CAPA as {KEYWORD: [params]}, checking the status line."""
    st, body = c.multi("CAPA")
    assert st == "+OK Capability list follows", st
    out = {}
    for ln in body.decode().split("\r\n")[:-1]:
        parts = ln.split()
        assert parts, "empty CAPA line: %r" % body
        assert parts[0].upper() not in out, "CAPA lists %s twice: %r" % (parts[0], body)
        out[parts[0].upper()] = parts[1:]
    return out


def top_of(raw, n):
    """What TOP i n must send: the header, the blank line, n body lines."""
    i = raw.index(b"\r\n\r\n") + 4
    lines = raw[i:].split(b"\r\n")[:-1]
    return raw[:i] + b"".join(ln + b"\r\n" for ln in lines[:n])


def uidl_map(c):
    st, lst = c.listing("UIDL")
    return lst


def ok_session_count(s, user, listener="pop3s"):
    """Logs in, returns the login's message count, QUITs; None if the login
    fails (used while waiting for a lock to be released)."""
    try:
        c = s.pop3_raw(listener)
    except OSError:
        return None
    with c:
        if listener == "pop3":
            c.stls()
        st = c.login(user, s.users[user])
        m = LOGGED_IN.match(st)
        if not m:
            return None
        c.quit()
        return (int(m.group(1)),)


# -- greeting, CAPA ----------------------------------------------------------------

BASE_CAPS = ("TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING")


def test_greeting_and_capa_before_and_after_stls(server):
    with server.pop3_raw() as c:
        assert c.greeting == GREETING, "greeting %r (no APOP stamp expected)" % c.greeting
        caps = capa(c)
        for k in BASE_CAPS + ("STLS",):
            assert k in caps, "CAPA before TLS lacks %s: %r" % (k, caps)
        assert caps["IMPLEMENTATION"] == ["Mailwarden"], caps
        # No login is possible before TLS (auth.plaintext off): not offered.
        assert "USER" not in caps and "SASL" not in caps, caps
        assert "APOP" not in caps, caps
        c.stls()
        caps = capa(c)
        for k in BASE_CAPS + ("USER",):
            assert k in caps, "CAPA after STLS lacks %s: %r" % (k, caps)
        assert "PLAIN" in [p.upper() for p in caps.get("SASL", [])], caps
        assert "STLS" not in caps, "STLS offered again inside TLS: %r" % caps
        assert caps["IMPLEMENTATION"] == ["Mailwarden"], caps
        assert c.cmd("QUIT") == "+OK Bye"
        assert c.at_eof() and c.buf == b"", c.buf


def test_capa_on_pop3s_and_no_stls_there(server):
    with server.pop3_raw("pop3s") as c:
        assert c.greeting == GREETING
        caps = capa(c)
        for k in BASE_CAPS + ("USER",):
            assert k in caps, "CAPA on pop3s lacks %s: %r" % (k, caps)
        assert "PLAIN" in [p.upper() for p in caps.get("SASL", [])], caps
        assert "STLS" not in caps, caps
        assert c.cmd("STLS").startswith("-ERR"), "STLS accepted inside implicit TLS"
        # The session goes on.
        u = new_user(server)
        st = c.login(u, server.users[u])
        assert LOGGED_IN.match(st), st
        # After login: no STLS, and CAPA still answers.
        assert "STLS" not in capa(c)
        c.quit()


# -- logins ------------------------------------------------------------------------

def test_plaintext_login_refused_before_tls(server):
    u = new_user(server)
    pw = server.users[u]
    with server.pop3_raw() as c:
        assert c.cmd("USER " + u) == PLAIN_REFUSED
        assert c.cmd("PASS " + pw) == PLAIN_REFUSED
        assert c.cmd("AUTH PLAIN " + b64("\0%s\0%s" % (u, pw))) == PLAIN_REFUSED
        assert c.cmd("AUTH PLAIN") == PLAIN_REFUSED, "a continuation before TLS"
        # Nothing was half-done: after STLS, PASS alone is no login.
        c.stls()
        assert c.cmd("PASS " + pw).startswith("-ERR"), "PASS without USER logged in"
        st = c.login(u, pw)
        assert LOGGED_IN.match(st), st
        c.quit()
    # poplib sees the same refusal.
    p = server.pop3()
    try:
        with pytest.raises(poplib.error_proto) as ei:
            p.user(u)
        assert ei.value.args[0] == PLAIN_REFUSED.encode()
    finally:
        p.close()


def test_poplib_login_over_stls_and_pop3s(server):
    u = new_user(server)
    (m,) = deliver(server, u)
    pw = server.users[u]
    p = server.pop3()
    try:
        assert p.getwelcome() == GREETING.encode()
        p.stls(tls_context())
        assert p.user(u) == b"+OK"
        resp = p.pass_(pw).decode()
        mm = LOGGED_IN.match(resp)
        assert mm and (int(mm.group(1)), int(mm.group(2))) == (1, m.size), resp
        assert p.stat() == (1, m.size)
        assert p.quit().startswith(b"+OK Bye")
    finally:
        p.close()
    p = server.pop3(tls=True)
    try:
        assert p.getwelcome() == GREETING.encode()
        p.user(u)
        resp = p.pass_(pw).decode()
        mm = LOGGED_IN.match(resp)
        assert mm and (int(mm.group(1)), int(mm.group(2))) == (1, m.size), resp
        assert p.stat() == (1, m.size)
        resp, lines, octets = p.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == m.raw
        assert p.quit().startswith(b"+OK Bye")
    finally:
        p.close()


def test_wrong_password_and_unknown_user_look_alike(server):
    u = new_user(server)
    with server.pop3_raw("pop3s") as c:
        r_known = c.cmd("USER " + u)
        t0 = time.monotonic()
        r1 = c.cmd("PASS " + WRONG)
        t1 = time.monotonic() - t0
        r_ghost = c.cmd("USER ghost-%s@example.test" % uuid.uuid4().hex[:8])
        t0 = time.monotonic()
        r2 = c.cmd("PASS " + WRONG)
        t2 = time.monotonic() - t0
        r3 = c.auth_plain(u, WRONG)
        assert r_known == r_ghost == "+OK", (r_known, r_ghost)
        assert r1 == r2 == r3 == AUTH_FAILED, (r1, r2, r3)
        # auth.failure-delay is 100 ms in these tests (+-10%).
        assert t1 >= 0.085 and t2 >= 0.085, (t1, t2)
        # Still in AUTHORIZATION: the right password works now.
        st = c.login(u, server.users[u])
        assert LOGGED_IN.match(st), st
        c.quit()


@pytest.mark.parametrize("listener", ["pop3", "pop3s"])
def test_auth_plain_with_and_without_initial_response_and_cancel(server, listener):
    u = new_user(server)
    pw = server.users[u]
    for initial in (True, False):
        with server.pop3_raw(listener) as c:
            if listener == "pop3":
                c.stls()
            st = c.auth_plain(u, pw, initial=initial)
            m = LOGGED_IN.match(st)
            assert m and m.group(1) == "0", "AUTH PLAIN (initial=%s): %r" % (initial, st)
            assert c.cmd("STAT") == "+OK 0 0"
            c.quit()
    with server.pop3_raw(listener) as c:
        if listener == "pop3":
            c.stls()
        st = c.cmd("AUTH PLAIN")
        assert st in ("+", "+ "), "no '+ ' continuation: %r" % st
        assert c.cmd("*") == CANCELLED
        # A wrong password through the continuation fails like PASS.
        assert c.cmd("AUTH PLAIN") in ("+", "+ ")
        assert c.cmd(b64("\0%s\0%s" % (u, WRONG))) == AUTH_FAILED
        # An unknown mechanism and broken base64 are refused, and the
        # session goes on.
        assert c.cmd("AUTH CRAM-MD5").startswith("-ERR")
        assert c.cmd("AUTH PLAIN !!!notbase64!!!").startswith("-ERR")
        # No proxy logins: an authorization id other than the user fails;
        # the user's own is fine.
        assert c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (ALICE, u, pw))).startswith("-ERR")
        st = c.auth_plain(u, pw, initial=False)
        assert LOGGED_IN.match(st), st
        c.quit()
    with server.pop3_raw(listener) as c:
        if listener == "pop3":
            c.stls()
        st = c.cmd("AUTH PLAIN " + b64("%s\0%s\0%s" % (u, u, pw)))
        assert LOGGED_IN.match(st), st
        c.quit()


def test_commands_in_the_wrong_state(server):
    u = new_user(server)
    with server.pop3_raw("pop3s") as c:
        for cmd in ("STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "UIDL", "TOP 1 0", "RSET"):
            assert c.cmd(cmd) == WRONG_STATE, "%s before login" % cmd
        st = c.login(u, server.users[u])
        assert LOGGED_IN.match(st), st
        c.quit()
    c = login(server, u)
    with c:
        for cmd in ("USER " + u, "PASS " + server.users[u], "STLS",
                    "AUTH PLAIN " + b64("\0%s\0%s" % (u, server.users[u]))):
            assert c.cmd(cmd) == WRONG_STATE, "%s after login" % cmd.split()[0]
        assert c.cmd("NOOP") == "+OK"
        c.quit()


def test_unknown_command_and_syntax(server):
    u = new_user(server)
    (m,) = deliver(server, u)
    with server.pop3_raw("pop3s") as c:
        assert c.cmd("FOO") == UNKNOWN
        assert c.cmd("XYZZY bar") == UNKNOWN
        assert c.cmd("APOP %s 0123456789abcdef0123456789abcdef" % u).startswith("-ERR")
        assert c.cmd("QUIT") == "+OK Bye"
    with login(server, u) as c:
        assert c.cmd("FOO") == UNKNOWN
        assert c.cmd("RETR 0") == NO_SUCH
        assert c.cmd("RETR 2") == NO_SUCH
        # Numbers that wrap to 1 in 64 or 32 bits are no message.
        assert c.cmd("LIST 18446744073709551617").startswith("-ERR")
        assert c.cmd("LIST 4294967297").startswith("-ERR")
        assert c.cmd("RETR").startswith("-ERR")
        assert c.cmd("RETR x").startswith("-ERR")
        # Commands are case-insensitive.
        assert c.cmd("stat") == "+OK 1 %d" % m.size
        assert c.cmd("list 1") == "+OK 1 %d" % m.size
        c.quit()


def test_too_many_errors_close_the_session(server):
    with server.pop3_raw("pop3s") as c:
        c.send(b"FOO\r\n" * 30)
        assert c.at_eof(), "30 bad commands and the session is still open"
        lines = c.buf.split(b"\r\n")
        assert lines[-1] == b"", c.buf
        lines = lines[:-1]
        assert lines[:10] == [UNKNOWN.encode()] * 10, lines
        assert len(lines) <= 12 and all(ln.startswith(b"-ERR") for ln in lines), lines


def test_line_too_long(server):
    with server.pop3_raw("pop3s") as c:
        # 255 octets with the CRLF (RFC 2449 4) is allowed.
        line = "USER " + "a" * 248
        assert len(line) + 2 == 255
        assert c.cmd(line) == "+OK"
        assert c.cmd("X" * 300) == TOO_LONG
        assert "TOP" in capa(c), "session broken after a long line"
        assert c.cmd("CAPA " + "Y" * 3000) == TOO_LONG
        assert "TOP" in capa(c), "session broken after a very long line"
        u = new_user(server)
        st = c.login(u, server.users[u])
        assert LOGGED_IN.match(st), st
        c.quit()


# -- STAT, LIST, RETR, TOP -----------------------------------------------------------

def test_stat_list_sizes_are_the_file_sizes(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, b"short\r\n", b"".join(b"line %d\r\n" % i for i in range(300))])
    sizes = [os.path.getsize(m.path) for m in msgs]
    assert sizes == [m.size for m in msgs]
    assert len(set(sizes)) == 3
    for m in msgs:
        assert m.name.endswith(",S=%d" % m.size), m.name
    total = sum(sizes)
    with login(server, u) as c:
        assert (c.count, c.octets) == (3, total)
        assert c.cmd("STAT") == "+OK 3 %d" % total
        st, lst = c.listing("LIST")
        m = COUNT.match(st)
        assert m and (int(m.group(1)), int(m.group(2))) == (3, total), st
        assert lst == [(1, str(sizes[0])), (2, str(sizes[1])), (3, str(sizes[2]))]
        for i in (1, 2, 3):
            assert c.cmd("LIST %d" % i) == "+OK %d %d" % (i, sizes[i - 1])
        assert c.cmd("LIST 4") == NO_SUCH
        assert c.cmd("LIST 0") == NO_SUCH
        # Oldest first: message i is the i-th delivered.
        for i, msg in enumerate(msgs, 1):
            st, body = c.multi("RETR %d" % i)
            assert st == "+OK %d octets" % msg.size, st
            assert body == msg.raw, "RETR %d is not the %d-th delivered message" % (i, i)
        c.quit()


DOTTY_BODY = (b".hidden line\r\n"
              b"..\r\n"
              b".\r\n"
              b"...three dots\r\n"
              b"normal line\r\n"
              b". dot space\r\n"
              b"\r\n"
              b".\r\n"
              b"last line\r\n")


def test_retr_byte_exact_with_dot_lines(server):
    u = new_user(server)
    (m,) = deliver(server, u, [DOTTY_BODY])
    # What SMTP stored: unstuffed lines, CRLF.
    assert m.raw.endswith(b"\r\n\r\n" + DOTTY_BODY), m.raw[-200:]
    with login(server, u) as c:
        st, body = c.multi("RETR 1")
        assert st == "+OK %d octets" % m.size, st
        assert body == m.raw
        # On the wire every line that starts with a dot was stuffed.
        wire = c.last_raw
        assert wire.endswith(b"\r\n\r\n" + b"..hidden line\r\n...\r\n..\r\n....three dots\r\n"
                             b"normal line\r\n.. dot space\r\n\r\n..\r\nlast line\r\n"), wire[-200:]
        c.quit()
    # poplib agrees.
    p = server.pop3(tls=True)
    try:
        p.user(u)
        p.pass_(server.users[u])
        resp, lines, octets = p.retr(1)
        assert resp == ("+OK %d octets" % m.size).encode()
        assert b"\r\n".join(lines) + b"\r\n" == m.raw
        p.quit()
    finally:
        p.close()


def dotted_body(size, seed=1939):
    """size octets or a little more of lines that all start with a dot, of
    random lengths (some just "."): wherever the server cuts its chunks,
    cuts fall at line starts and between CR and LF."""
    rnd = random.Random(seed)
    pool = bytes(rnd.choice(b"abcdefghij.KLM ") for _ in range(65536))
    lines = []
    total = 0
    while total < size:
        n = rnd.choice((0, 0, 1, 2, rnd.randrange(3, 200)))
        at = rnd.randrange(0, len(pool) - n)
        ln = b"." + pool[at:at + n] + b"\r\n"
        lines.append(ln)
        total += len(ln)
    return b"".join(lines)


def test_large_message_streamed_to_a_slow_reader_byte_exact(server):
    """6 MB, more than the kernel buffers hold: while one client does not
    read its RETR, another session works; then every octet arrives, dot
    lines stuffed exactly across the server's chunks."""
    u, v = new_user(server), new_user(server)
    (m,) = deliver(server, u, [dotted_body(6000000)])
    (small,) = deliver(server, v)
    assert m.size > 6000000
    a = POP3Conn(server.ports["pop3s"], implicit_tls=True)
    with a:
        a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        assert a.greeting == GREETING
        assert LOGGED_IN.match(a.login(u, server.users[u]))
        assert a.cmd("LIST 1") == "+OK 1 %d" % m.size
        a.send("RETR 1\r\n")                  # and read nothing for now
        with login(server, v) as b:
            assert b.cmd("STAT") == "+OK 1 %d" % small.size
            assert b.multi("RETR 1")[1] == small.raw
            b.quit()
        st = a.line()
        assert st == "+OK %d octets" % m.size, st
        got = a.body()
        assert len(got) == m.size, "RETR sent %d octets, the file has %d" % (len(got), m.size)
        assert got == m.raw, "RETR of a large message differs from the file"
        st, got = a.multi("TOP 1 20")
        assert st.startswith("+OK"), st
        assert got == top_of(m.raw, 20)
        a.quit()


def test_top(server):
    u = new_user(server)
    (m,) = deliver(server, u, [DOTTY_BODY])
    n_body = DOTTY_BODY.count(b"\r\n")
    with login(server, u) as c:
        for n in (0, 1, 2, 3, n_body - 1, n_body, n_body + 5, 1000000):
            st, got = c.multi("TOP 1 %d" % n)
            assert st.startswith("+OK"), "TOP 1 %d: %r" % (n, st)
            want = top_of(m.raw, n)
            assert got == want, "TOP 1 %d:\n%r\nwanted\n%r" % (n, got[-300:], want[-300:])
        assert top_of(m.raw, 0).endswith(b"\r\n\r\n")
        assert c.cmd("TOP 2 0") == NO_SUCH
        assert c.cmd("TOP 1").startswith("-ERR")
        assert c.cmd("TOP 1 -1").startswith("-ERR")
        assert c.cmd("NOOP") == "+OK"
        c.quit()


# -- UIDL ----------------------------------------------------------------------------

def test_uidl_unique_and_stable_across_sessions_and_flag_changes(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None, None])
    with login(server, u) as c:
        lst = uidl_map(c)
        assert [n for n, _ in lst] == [1, 2, 3]
        uids = [v for _, v in lst]
        assert len(set(uids)) == 3, uids
        for uid, msg in zip(uids, msgs):
            assert UID_RE.match(uid), uid
            if UID_RE.match(msg.uniq):
                assert uid == msg.uniq, "UIDL %r is not the Maildir unique name %r" % (uid, msg.uniq)
        for i in (1, 2, 3):
            assert c.cmd("UIDL %d" % i) == "+OK %d %s" % (i, uids[i - 1])
        assert c.cmd("UIDL 4") == NO_SUCH
        c.quit()
    with login(server, u) as c:
        assert [v for _, v in uidl_map(c)] == uids, "UIDL changed between sessions"
        # RETR 1 moves it to cur/ with the S flag at QUIT.
        assert c.multi("RETR 1")[0].startswith("+OK")
        c.quit()
    assert box_files(server, u)["cur"] == [msgs[0].uniq + ":2,S"]
    with login(server, u) as c:
        assert [v for _, v in uidl_map(c)] == uids, "UIDL changed when the message was seen"
        assert c.cmd("DELE 2") == "+OK Message 2 deleted"
        c.quit()
    with login(server, u) as c:
        assert uidl_map(c) == [(1, uids[0]), (2, uids[2])]
        c.quit()


def test_foreign_files_sizes_retr_and_uidl(server):
    """Files another Maildir tool put there: an LF-only file under a name
    longer than 70 characters (size counted with CRLF, UIDL a short hash),
    a Dovecot-style name with S= (file size) and W= (wire size), a file
    without a final line end and one with mixed line ends.  Sizes and RETR
    are the message on the wire: CRLF lines, ending in CRLF."""
    u = new_user(server)
    (own,) = deliver(server, u)   # the server makes the Maildir
    new = os.path.join(server.maildir(u), "new")
    dove = b"From: <y@other.test>\nSubject: dovecot\n\nhello\n"
    dove_name = "1700000001.M2P2Q2.host,S=%d,W=%d" % (len(dove), len(dove) + 4)
    foreign = {
        "1700000000.M1P1Q1." + "h" * 80 + ".example":
            (b"From: <x@other.test>\nSubject: lf only\n\n.dot line\nbody line\n\n",
             b"From: <x@other.test>\r\nSubject: lf only\r\n\r\n.dot line\r\nbody line\r\n\r\n"),
        dove_name: (dove, dove.replace(b"\n", b"\r\n")),
        "1700000002.M3P3Q3.host":
            (b"Subject: no final line end\n\nlast", b"Subject: no final line end\r\n\r\nlast\r\n"),
        "1700000003.M4P4Q4.host":
            (b"Subject: mixed\r\nX-A: b\n\none\r\ntwo\n", b"Subject: mixed\r\nX-A: b\r\n\r\none\r\ntwo\r\n"),
    }
    for name, (data, _) in foreign.items():
        with open(os.path.join(new, name), "wb") as f:
            f.write(data)
    want = {own.raw} | {wire for _, wire in foreign.values()}
    n = len(want)
    with login(server, u) as c:
        assert c.count == n and c.octets == sum(map(len, want)), (c.count, c.octets)
        st, lst = c.listing("LIST")
        assert sorted(int(v) for _, v in lst) == sorted(map(len, want)), lst
        got = set()
        for i in range(1, n + 1):
            st, body = c.multi("RETR %d" % i)
            assert st == "+OK %d octets" % len(body), st
            assert c.cmd("LIST %d" % i) == "+OK %d %d" % (i, len(body))
            got.add(body)
        assert got == want
        uids = uidl_map(c)
        c.quit()
    vals = [v for _, v in uids]
    assert len(set(vals)) == n and all(UID_RE.match(v) for v in vals), vals
    assert dove_name in vals and own.uniq in vals, vals
    with login(server, u) as c:
        assert uidl_map(c) == uids, "UIDL of foreign files not stable"
        c.quit()


def test_uidl_stable_across_restart_and_shutdown_drops_the_session(fresh_server):
    s = fresh_server()
    u = new_user(s)
    msgs = deliver(s, u, [None, DOTTY_BODY])
    with login(s, u) as c:
        uids = uidl_map(c)
        c.quit()
    held = login(s, u)
    try:
        assert held.cmd("DELE 1") == "+OK Message 1 deleted"
        assert held.multi("RETR 2")[0].startswith("+OK")
        assert s.stop() == 0
        assert held.line() == SHUTDOWN
        assert held.at_eof()
    finally:
        held.close()
    # A session ended by the shutdown updates nothing.
    assert box_files(s, u) == {"new": sorted(m.name for m in msgs), "cur": []}
    s.start()
    with login(s, u) as c:
        assert uidl_map(c) == uids, "UIDL changed across a restart"
        st, body = c.multi("RETR 2")
        assert body == msgs[1].raw
        c.quit()


# -- UPDATE state ------------------------------------------------------------------

def test_dele_quit_removes_from_new_and_cur(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None, None])
    with login(server, u) as c:
        assert c.multi("RETR 1")[0].startswith("+OK")
        c.quit()
    assert box_files(server, u) == {"new": sorted([msgs[1].name, msgs[2].name]),
                              "cur": [msgs[0].uniq + ":2,S"]}
    with login(server, u) as c:
        assert c.cmd("DELE 1") == "+OK Message 1 deleted"
        assert c.cmd("DELE 2") == "+OK Message 2 deleted"
        assert c.cmd("STAT") == "+OK 1 %d" % msgs[2].size
        st, lst = c.listing("LIST")
        assert lst == [(3, str(msgs[2].size))]
        m = COUNT.match(st)
        assert m and (m.group(1), m.group(2)) == ("1", str(msgs[2].size)), st
        assert c.cmd("LIST 1") == already(1)
        assert c.cmd("RETR 2") == already(2)
        assert c.cmd("DELE 1") == already(1)
        assert c.cmd("TOP 2 0") == already(2)
        assert c.cmd("UIDL 1") == already(1)
        st = c.cmd("QUIT")
        m = BYE_DELETED.match(st)
        assert m and m.group(1) == "2", st
        # +OK comes after the UPDATE: the files are gone now, no waiting.
        assert box_files(server, u) == {"new": [msgs[2].name], "cur": []}
        assert c.at_eof()
    with login(server, u) as c:
        assert (c.count, c.octets) == (1, msgs[2].size)
        st, body = c.multi("RETR 1")
        assert body == msgs[2].raw
        c.quit()


def test_dele_rset_keeps(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None, None])
    total = sum(m.size for m in msgs)
    with login(server, u) as c:
        assert c.cmd("DELE 1") == "+OK Message 1 deleted"
        assert c.cmd("DELE 3") == "+OK Message 3 deleted"
        assert c.cmd("STAT") == "+OK 1 %d" % msgs[1].size
        st = c.cmd("RSET")
        m = COUNT.match(st)
        assert m and (int(m.group(1)), int(m.group(2))) == (3, total), st
        assert c.cmd("STAT") == "+OK 3 %d" % total
        st, body = c.multi("RETR 1")
        assert body == msgs[0].raw
        st = c.cmd("QUIT")
        m = BYE_DELETED.match(st)
        assert m and m.group(1) == "0", st
        assert c.at_eof()
    b = box_files(server, u)
    assert b == {"new": sorted([msgs[1].name, msgs[2].name]), "cur": [msgs[0].uniq + ":2,S"]}, b


def test_dropped_connection_keeps_everything_and_releases_the_lock(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None])
    before = box_files(server, u)
    c = login(server, u, listener="pop3")
    assert c.cmd("DELE 1") == "+OK Message 1 deleted"
    st, body = c.multi("RETR 2")
    assert body == msgs[1].raw
    c.close()                        # no QUIT
    # The lock goes with the connection; nothing was deleted or marked.
    got = wait_until(lambda: ok_session_count(server, u))
    assert got == (2,), "after a dropped session: %r" % (got,)
    assert box_files(server, u) == before


def test_retr_marks_seen_top_does_not(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None, None])
    with login(server, u) as c:
        assert c.multi("RETR 1")[1] == msgs[0].raw
        assert c.multi("TOP 2 0")[1] == top_of(msgs[1].raw, 0)
        assert c.multi("TOP 3 5")[0].startswith("+OK")
        c.quit()
    b = box_files(server, u)
    assert b["cur"] == [msgs[0].uniq + ":2,S"], b
    assert b["new"] == sorted([msgs[1].name, msgs[2].name]), "TOP marked a message seen: %r" % b
    with open(os.path.join(server.maildir(u), "cur", msgs[0].uniq + ":2,S"), "rb") as f:
        assert f.read() == msgs[0].raw
    # Retrieved again: still just S.
    with login(server, u) as c:
        assert c.count == 3
        assert c.multi("RETR 1")[1] == msgs[0].raw
        c.quit()
    assert box_files(server, u)["cur"] == [msgs[0].uniq + ":2,S"]


@pytest.mark.slow
def test_idle_timeout_logs_out_and_updates_nothing(fresh_server):
    s = fresh_server(settings={"pop3.timeout": "10"})     # the smallest allowed
    u = new_user(s)
    msgs = deliver(s, u, [None, None])
    before = box_files(s, u)
    with login(s, u) as c:
        assert c.cmd("DELE 1") == "+OK Message 1 deleted"
        assert c.multi("RETR 2")[1] == msgs[1].raw
        t0 = time.monotonic()
        c.sock.settimeout(10 + 10 * FACTOR)
        assert c.line() == "-ERR Autologout, idle for too long"
        assert time.monotonic() - t0 >= 9.5, "autologout before pop3.timeout"
        assert c.at_eof() and c.buf == b""
    assert box_files(s, u) == before, "a timed-out session changed the maildrop"
    assert wait_until(lambda: ok_session_count(s, u)) == (2,)


def test_message_delivered_during_a_session_shows_in_the_next(server):
    u = new_user(server)
    (m1,) = deliver(server, u)
    with login(server, u) as c:
        assert (c.count, c.octets) == (1, m1.size)
        (m2,) = deliver(server, u)
        assert c.cmd("STAT") == "+OK 1 %d" % m1.size
        assert c.listing("LIST")[1] == [(1, str(m1.size))]
        assert c.cmd("LIST 2") == NO_SUCH
        assert c.cmd("RETR 2") == NO_SUCH
        assert len(uidl_map(c)) == 1
        c.quit()
    with login(server, u) as c:
        assert (c.count, c.octets) == (2, m1.size + m2.size)
        assert c.multi("RETR 2")[1] == m2.raw
        c.quit()


def test_file_deleted_behind_the_servers_back(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, None])
    with login(server, u) as c:
        os.unlink(msgs[0].path)
        assert c.cmd("RETR 1") == gone(1)
        assert c.cmd("TOP 1 0") == gone(1)
        assert c.cmd("NOOP") == "+OK"
        assert c.multi("RETR 2")[1] == msgs[1].raw
        # Deleting what is already gone is no error at QUIT.
        assert c.cmd("DELE 1") == "+OK Message 1 deleted"
        st = c.cmd("QUIT")
        assert BYE_DELETED.match(st), st
        assert c.at_eof()
    with login(server, u) as c:
        assert (c.count, c.octets) == (1, msgs[1].size)
        c.quit()


def test_file_moved_behind_the_servers_back_is_found(server):
    """Maildir is the truth: a message moved from new/ to cur/ with a flag
    (as an IMAP client or mutt would) is found again by its unique name."""
    u = new_user(server)
    (m,) = deliver(server, u)
    with login(server, u) as c:
        uid = uidl_map(c)
        os.rename(m.path, os.path.join(server.maildir(u), "cur", m.uniq + ":2,F"))
        st, body = c.multi("RETR 1")
        assert st == "+OK %d octets" % m.size, st
        assert body == m.raw
        c.quit()
    assert box_files(server, u) == {"new": [], "cur": [m.uniq + ":2,FS"]}
    with login(server, u) as c:
        assert uidl_map(c) == uid
        c.quit()


# -- sessions, locks, limits ---------------------------------------------------------

def test_second_session_gets_in_use_after_the_right_password_only(server):
    u = new_user(server)
    (m,) = deliver(server, u)
    pw = server.users[u]
    first = login(server, u)
    try:
        with server.pop3_raw("pop3s") as c:
            assert c.login(u, WRONG) == AUTH_FAILED
            assert c.login(u, pw) == IN_USE
            assert c.auth_plain(u, pw) == IN_USE
            # The first session is untouched.
            assert first.cmd("STAT") == "+OK 1 %d" % m.size
            first.quit()
            # Once the first has quit, a login works, also on this session.
            assert wait_until(lambda: ok_session_count(server, u)) == (1,), \
                "still locked after the first session quit"
            st = c.login(u, pw)
            assert LOGGED_IN.match(st), st
            assert c.cmd("STAT") == "+OK 1 %d" % m.size
            c.quit()
    finally:
        first.close()


def test_max_per_ip(server):
    src = "127.0.0.77"
    held = []
    try:
        for _ in range(10):          # the default pop3.max-per-ip
            c = server.pop3_raw(src=src)
            held.append(c)
            assert c.greeting == GREETING
        with server.pop3_raw(src=src) as c:
            assert c.greeting == TOO_MANY
            assert c.at_eof(), "not closed after the per-address refusal"
            assert c.buf == b""
        # Another address is not affected.
        with server.pop3_raw(src="127.0.0.78") as c:
            assert c.greeting == GREETING
            assert c.cmd("QUIT") == "+OK Bye"
        # The held sessions still work.
        assert "TOP" in capa(held[0])
        held.pop().close()

        def admitted():
            with server.pop3_raw(src=src) as c:
                if c.greeting != GREETING:
                    return False
                assert c.cmd("QUIT") == "+OK Bye"
                return True
        assert wait_until(admitted), "a slot freed by a close is not reused"
    finally:
        for c in held:
            c.close()


def test_pipelined_commands_answered_in_order(server):
    u = new_user(server)
    msgs = deliver(server, u, [DOTTY_BODY, None, b"third\r\n"])
    with server.pop3_raw("pop3s") as c:
        # Login and transaction in one write.
        c.send("USER %s\r\nPASS %s\r\nSTAT\r\nRETR 1\r\nRETR 2\r\nLIST\r\nRETR 3\r\n"
               "UIDL 2\r\nTOP 1 0\r\nNOOP\r\nDELE 3\r\nRETR 3\r\nSTAT\r\nQUIT\r\n"
               % (u, server.users[u]))
        assert c.line() == "+OK"
        assert LOGGED_IN.match(c.line())
        total = sum(m.size for m in msgs)
        assert c.line() == "+OK 3 %d" % total
        for i in (1, 2):
            assert c.line() == "+OK %d octets" % msgs[i - 1].size
            assert c.body() == msgs[i - 1].raw
        assert COUNT.match(c.line())
        assert c.body() == b"".join(b"%d %d\r\n" % (i, m.size) for i, m in enumerate(msgs, 1))
        assert c.line() == "+OK %d octets" % msgs[2].size
        assert c.body() == msgs[2].raw
        assert re.match(r"^\+OK 2 [\x21-\x7e]{1,70}$", c.line())
        assert c.line().startswith("+OK")
        assert c.body() == top_of(msgs[0].raw, 0)
        assert c.line() == "+OK"
        assert c.line() == "+OK Message 3 deleted"
        assert c.line() == already(3)
        assert c.line() == "+OK 2 %d" % (msgs[0].size + msgs[1].size)
        assert BYE_DELETED.match(c.line())
        assert c.at_eof()
        assert c.buf == b"", c.buf
    assert box_files(server, u) == {"new": [], "cur": sorted(m.uniq + ":2,S" for m in msgs[:2])}


# -- STLS injection --------------------------------------------------------------------

def test_command_pipelined_after_stls_is_never_answered(server):
    u = new_user(server)
    pw = server.users[u]
    for injected in (b"CAPA\r\n", b"USER %s\r\n" % u.encode()):
        with server.pop3_raw() as c:
            c.send(b"STLS\r\n" + injected)
            assert c.line() == "+OK Begin TLS negotiation"
            assert c.buf == b"", "server answered plaintext pipelined after STLS: %r" % c.buf
            c.sock = tls_context().wrap_socket(c.sock)
            # The first answer inside TLS must be to what is sent now: PASS
            # alone (the injected USER must be forgotten) is no login.
            st = c.cmd("PASS " + pw)
            assert st.startswith("-ERR"), "injected %r survived STLS: PASS -> %r" % (injected, st)
            assert c.cmd("USER " + u) == "+OK"
            st = c.cmd("PASS " + pw)
            assert LOGGED_IN.match(st), "after STLS with %r: %r" % (injected, st)
            assert c.cmd("NOOP") == "+OK"
            st = c.cmd("QUIT")
            assert BYE_DELETED.match(st), st
            assert c.at_eof()
            assert c.buf == b"", "unprompted data inside TLS: %r" % c.buf


def test_poplib_stls_then_auth_plain(server):
    u = new_user(server)
    (m,) = deliver(server, u)
    p = server.pop3()
    try:
        p.stls(tls_context())
        blob = b64("\0%s\0%s" % (u, server.users[u]))
        resp = p._shortcmd("AUTH PLAIN " + blob).decode()
        mm = LOGGED_IN.match(resp)
        assert mm and (int(mm.group(1)), int(mm.group(2))) == (1, m.size), resp
        parts = p.uidl(1).split()
        assert parts[:2] == [b"+OK", b"1"] and UID_RE.match(parts[2].decode()), parts
        resp, lines, octets = p.retr(1)
        assert b"\r\n".join(lines) + b"\r\n" == m.raw
        p.quit()
    finally:
        p.close()


# -- curl ----------------------------------------------------------------------------

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")


def curl(*args):
    return subprocess.run([CURL, "-s", "-S", "--noproxy", "*", "--max-time", str(int(20 * FACTOR))]
                          + [str(a) for a in args], capture_output=True, timeout=40 * FACTOR)


@needs_curl
def test_curl_pop3s_and_pop3_with_ssl_reqd(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, b"second message\r\n"])
    cred = "%s:%s" % (u, server.users[u])
    r = curl("-k", "pop3s://127.0.0.1:%d/" % server.ports["pop3s"], "--user", cred)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"".join(b"%d %d\r\n" % (i, m.size) for i, m in enumerate(msgs, 1)), r.stdout
    r = curl("-k", "pop3s://127.0.0.1:%d/1" % server.ports["pop3s"], "--user", cred)
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[0].raw
    r = curl("-k", "--ssl-reqd", "pop3://127.0.0.1:%d/2" % server.ports["pop3"], "--user", cred)
    assert r.returncode == 0, r.stderr
    assert r.stdout == msgs[1].raw
    # Without TLS (auth.plaintext off) there is no login.
    r = curl("pop3://127.0.0.1:%d/1" % server.ports["pop3"], "--user", cred)
    assert r.returncode != 0, "curl logged in without TLS: %r" % r.stdout[:200]
    assert msgs[0].tok.encode() not in r.stdout
    # Each RETR session marked its message seen; nothing was deleted.
    assert box_files(server, u) == {"new": [], "cur": sorted(m.uniq + ":2,S" for m in msgs)}


# -- auth.plaintext on ------------------------------------------------------------------

def test_plaintext_allowed_capa_and_logins(plain):
    s = plain
    u = new_user(s)
    (m,) = deliver(s, u)
    with s.pop3_raw() as c:
        caps = capa(c)
        assert "USER" in caps and "STLS" in caps, caps
        assert "PLAIN" in [p.upper() for p in caps.get("SASL", [])], caps
        st = c.login(u, s.users[u])
        assert LOGGED_IN.match(st), st
        assert "STLS" not in capa(c), "STLS offered after login"
        assert c.cmd("STLS") == WRONG_STATE
        assert c.multi("RETR 1")[1] == m.raw
        c.quit()
    with s.pop3_raw() as c:
        st = c.auth_plain(u, s.users[u], initial=False)
        assert LOGGED_IN.match(st), st
        c.quit()
    # RFC 2595 4: what was said before STLS is forgotten, USER included.
    with s.pop3_raw() as c:
        assert c.cmd("USER " + u) == "+OK"
        c.stls()
        st = c.cmd("PASS " + s.users[u])
        assert st.startswith("-ERR"), "USER given before STLS survived it: %r" % st
        assert LOGGED_IN.match(c.login(u, s.users[u]))
        c.quit()
    p = s.pop3()
    try:
        p.user(u)
        p.pass_(s.users[u])
        assert p.stat() == (1, m.size)
        p.quit()
    finally:
        p.close()


@needs_curl
def test_curl_pop3_plaintext(plain):
    s = plain
    u = new_user(s)
    (m,) = deliver(s, u)
    cred = "%s:%s" % (u, s.users[u])
    r = curl("pop3://127.0.0.1:%d/" % s.ports["pop3"], "--user", cred)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"1 %d\r\n" % m.size
    r = curl("pop3://127.0.0.1:%d/1" % s.ports["pop3"], "--user", cred)
    assert r.returncode == 0, r.stderr
    assert r.stdout == m.raw


def test_auth_plaintext_is_live(plain):
    s = plain

    def user_offered():
        with s.pop3_raw() as c:
            return "USER" in capa(c)
    try:
        s.set("auth.plaintext", "off")
        assert wait_until(lambda: not user_offered()), "auth.plaintext off not applied"
        with s.pop3_raw() as c:
            assert c.cmd("USER " + ALICE) == PLAIN_REFUSED
    finally:
        s.set("auth.plaintext", "on")
    assert wait_until(user_offered), "auth.plaintext on not applied"


# -- live listener settings ------------------------------------------------------------------

def answers(port, tls=False):
    return greets(POP3Conn, port, lambda g: g == GREETING, implicit_tls=tls)


def test_disable_and_enable_pop3_and_pop3s(fresh_server):
    s = fresh_server()
    pid = s.pid
    for name, tls in (("pop3", False), ("pop3s", True)):
        other = "pop3s" if name == "pop3" else "pop3"
        port = s.ports[name]
        assert answers(port, tls)
        s.set(name + ".enabled", "off")
        assert wait_until(lambda: port_refused(port)), "%s still accepts after disabling" % name
        assert answers(s.ports[other], not tls), "disabling %s broke %s" % (name, other)
        with s.conn() as c:
            expect(c.ehlo(), 250)
        s.set(name + ".enabled", "on")
        assert wait_until(lambda: answers(port, tls)), "%s not back after enabling" % name
        with login(s, new_user(s), listener=name) as c:
            c.quit()
    assert s.alive() and s.pid == pid


def test_move_pop3_and_pop3s_ports(fresh_server):
    s = fresh_server()
    pid = s.pid
    held = login(s, new_user(s), listener="pop3")
    try:
        for name, tls in (("pop3", False), ("pop3s", True)):
            old = s.ports[name]
            new = s.unused_port()
            s.set(name + ".address", "127.0.0.1:%d" % new)
            assert wait_until(lambda: answers(new, tls)), "%s does not answer on its new port" % name
            assert wait_until(lambda: port_refused(old)), "old %s port still open" % name
            s.ports[name] = new
        # A session from before the move goes on.
        assert held.cmd("NOOP") == "+OK"
        held.quit()
    finally:
        held.close()
    for name in ("pop3", "pop3s"):
        with login(s, new_user(s), listener=name) as c:
            c.quit()
    assert s.alive() and s.pid == pid
