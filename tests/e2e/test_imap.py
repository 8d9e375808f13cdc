"""IMAP protocol (docs/imap.md, issue 7): the greeting and CAPABILITY before
and after STARTTLS and on imaps, LOGINDISABLED and auth.plaintext, LOGIN and
AUTHENTICATE PLAIN (SASL-IR, continuation, cancel), STARTTLS injection,
NOOP, ID, NAMESPACE, ENABLE, LOGOUT, errors and limits (line length, bogus
literal sizes, a 10 MB literal, imap.max-literal with TOOBIG, max-errors,
max-per-user), pipelining, idle timeouts and the shutdown BYE.

Most tests share one server; each test that logs in uses a fresh user."""

import imaplib
import time

import pytest

from conftest import ALICE, FACTOR, deliver, make_server, finish_server, new_user, tls_context
from imaplib_helpers import (imaplib_close, AUTH_FAILED, AUTOLOGOUT, BASE_CAPS, BYE_LOGOUT, BYE_TOOBIG,
                             CANCELLED, DEFAULT_MAX_LITERAL, GREETING_RE, LINE_TOO_LONG,
                             LITERAL_TOO_LARGE, LOGGED_IN_RE, LOGOUT_OK, PRIVACY,
                             SHUTDOWN, STARTTLS_OK, TLS_ACTIVE, TOO_MANY_ERRORS,
                             TOOBIG, UNKNOWN, UNSUPPORTED_MECH, USER_LIMIT, WRONG, WRONG_STATE,
                             caps_of, crlf, imap_raw, imaplib_login, login, plain_blob, q,
                             wait_for)


def greeting_caps(c):
    m = GREETING_RE.match(c.greeting)
    assert m, "greeting %r" % c.greeting
    return caps_of(m.group(1))


def check_caps(caps, tls, plaintext=False, max_literal=DEFAULT_MAX_LITERAL, where=""):
    """The contract's CAPABILITY list for a session in that state."""
    what = "%s: %r" % (where, caps)
    for k in BASE_CAPS:
        assert k.upper() in caps, "%s lacks %s" % (what, k)
    assert "APPENDLIMIT=%d" % max_literal in caps, what
    assert len(caps) == len(set(caps)), "a capability twice in %s" % what
    assert caps[0] == "IMAP4REV1", "IMAP4rev1 must come first (RFC 3501 7.2.1): %s" % what
    if tls:
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, what
    else:
        assert "STARTTLS" in caps, what
        assert ("LOGINDISABLED" in caps) == (not plaintext), what
    assert ("AUTH=PLAIN" in caps) == (tls or plaintext), what
    assert not [c for c in caps if c.startswith("AUTH=") and c != "AUTH=PLAIN"], what


def logged_in_caps(r):
    m = LOGGED_IN_RE.match(r.text)
    assert m, "login reply %r" % r
    return caps_of(m.group(1))


# -- greeting, CAPABILITY, STARTTLS ----------------------------------------------------

def test_greeting_and_capability_before_and_after_starttls(server):
    u = new_user(server)
    with imap_raw(server, "imap") as c:
        caps = greeting_caps(c)
        check_caps(caps, tls=False, where="greeting on imap")
        assert c.capability() == caps, "CAPABILITY differs from the greeting's"
        c.starttls()
        caps = c.capability()
        check_caps(caps, tls=True, where="CAPABILITY after STARTTLS")
        r = c.cmd("STARTTLS")
        assert r.text == TLS_ACTIVE, r
        caps = logged_in_caps(c.login(u, server.users[u]))
        for k in BASE_CAPS:
            assert k.upper() in caps, "after login %r lacks %s" % (caps, k)
        assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps, caps
        assert c.capability() == caps, "CAPABILITY differs from the login reply's"
        c.logout()


def test_capability_on_imaps(server):
    u = new_user(server)
    with imap_raw(server, "imaps") as c:
        caps = greeting_caps(c)
        check_caps(caps, tls=True, where="greeting on imaps")
        assert c.capability() == caps
        assert c.cmd("STARTTLS").text == TLS_ACTIVE
        r = c.auth_plain(u, server.users[u])
        caps = logged_in_caps(r)
        assert "STARTTLS" not in caps and "IMAP4REV1" in caps, caps
        c.logout()


def test_login_and_authenticate_refused_before_tls(server):
    u = new_user(server)
    pw = server.users[u]
    with imap_raw(server, "imap") as c:
        assert c.login(u, pw).text == PRIVACY
        assert c.cmd("AUTHENTICATE PLAIN " + plain_blob(u, pw)).text == PRIVACY
        assert c.auth_plain(u, pw, initial=False).text == PRIVACY
        # Still not logged in, and the session goes on normally.
        assert c.cmd("SELECT INBOX").text == WRONG_STATE
        c.starttls()
        assert LOGGED_IN_RE.match(c.login(u, pw).text)
        c.logout()


def test_imaplib_starttls_and_imaps(server):
    u = new_user(server)
    (m1,) = deliver(server, u)
    m = server.imap()
    try:
        assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities, m.capabilities
        with pytest.raises(imaplib.IMAP4.error) as e:
            m.login(u, server.users[u])
        assert "PRIVACYREQUIRED" in str(e.value), e.value
        m.starttls(tls_context())
        assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities, m.capabilities
        typ, data = m.login(u, server.users[u])
        assert typ == "OK" and data[0].startswith(b"[CAPABILITY IMAP4rev1"), data
        typ, data = m.select("INBOX")
        assert (typ, data) == ("OK", [b"1"]), data
        typ, data = m.fetch("1", "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == m1.raw
        typ, data = m.logout()
        assert typ == "BYE", (typ, data)
    finally:
        imaplib_close(m)
    m = server.imap(tls=True)
    try:
        assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
        typ, _ = m.login(u, server.users[u])
        assert typ == "OK"
        typ, data = m.select("INBOX", readonly=True)
        assert (typ, data) == ("OK", [b"1"])
        m.logout()
    finally:
        imaplib_close(m)


def test_starttls_injection_is_never_answered(server):
    u = new_user(server)
    pw = server.users[u]
    for injected in (b"A2 CAPABILITY\r\n", b"A2 LOGIN %s %s\r\n" % (q(u).encode(), q(pw).encode()),
                     b"A2 NOOP\r\nA3 NOOP\r\n"):
        with imap_raw(server, "imap") as c:
            c.send(b"A1 STARTTLS\r\n" + injected)
            assert c.textline() == "A1 " + STARTTLS_OK
            assert c.buf == b"", "server answered plaintext pipelined after STARTTLS: %r" % c.buf
            c.sock = tls_context().wrap_socket(c.sock)
            # The first answer inside TLS must be to what is sent now.
            r = c.cmd("NOOP", tag="B1")
            assert r.ok and r.untagged == [], "injected %r answered inside TLS: %r" % (injected, r)
            # The injected LOGIN did not log in.
            assert c.cmd("SELECT INBOX", tag="B2").text == WRONG_STATE
            assert LOGGED_IN_RE.match(c.login(u, pw).text)
            c.logout()
            assert c.buf == b"", c.buf


def test_wrong_password_and_unknown_user_look_alike(server):
    u = new_user(server)
    floor = 0.1 * 0.9          # auth.failure-delay is 100 ms in conftest
    with imap_raw(server, "imaps") as c:
        for user, pw in ((u, WRONG), ("ghost-imap@example.test", WRONG),
                         ("no-domain-user", server.users[u])):
            t0 = time.monotonic()
            r = c.login(user, pw)
            dt = time.monotonic() - t0
            assert r.text == AUTH_FAILED, (user, r)
            assert dt >= floor, "failure for %s answered after %.3fs" % (user, dt)
            t0 = time.monotonic()
            r = c.auth_plain(user, pw)
            assert r.text == AUTH_FAILED, (user, r)
            assert time.monotonic() - t0 >= floor
        # The session is still usable.
        assert LOGGED_IN_RE.match(c.login(u, server.users[u]).text)
        c.logout()


@pytest.mark.parametrize("listener", ["imap", "imaps"])
def test_authenticate_plain_forms(server, listener):
    u = new_user(server)
    pw = server.users[u]
    with imap_raw(server, listener) as c:
        if listener == "imap":
            c.starttls()
        # "*" cancels.
        tag = c.tag()
        c.send("%s AUTHENTICATE PLAIN\r\n" % tag)
        assert c.textline() == "+ "
        c.send("*\r\n")
        assert c.read_tagged(tag).text == CANCELLED
        # Other mechanisms.
        for mech in ("LOGIN", "CRAM-MD5", "XOAUTH2"):
            assert c.cmd("AUTHENTICATE " + mech).text == UNSUPPORTED_MECH, mech
        # Wrong password both ways, garbage base64.
        assert c.auth_plain(u, WRONG).text == AUTH_FAILED
        assert c.auth_plain(u, WRONG, initial=False).text == AUTH_FAILED
        r = c.cmd("AUTHENTICATE PLAIN !!!notbase64!!!")
        assert r.status in ("BAD", "NO"), r
        # The continuation form works.
        r = c.auth_plain(u, pw, initial=False)
        assert LOGGED_IN_RE.match(r.text), r
        assert c.auth_plain(u, pw).text == WRONG_STATE
        c.logout()
    with imap_raw(server, listener) as c:
        if listener == "imap":
            c.starttls()
        # SASL-IR, command and mechanism names in lower case.
        r = c.cmd("authenticate plain " + plain_blob(u, pw))
        assert LOGGED_IN_RE.match(r.text), "SASL-IR: %r" % r
        c.logout()
    with imap_raw(server, listener) as c:
        if listener == "imap":
            c.starttls()
        # authzid equal to the user is the same login.
        r = c.cmd("AUTHENTICATE PLAIN " + plain_blob(u, pw, authzid=u))
        assert LOGGED_IN_RE.match(r.text), r
        c.logout()
    # imaplib's AUTHENTICATE (no initial response).
    m = server.imap(tls=True)
    try:
        typ, _ = m.authenticate("PLAIN", lambda _: ("\0%s\0%s" % (u, pw)).encode())
        assert typ == "OK"
        assert m.select("INBOX")[0] == "OK"
        m.logout()
    finally:
        imaplib_close(m)


# -- NOOP, ID, NAMESPACE, ENABLE, LOGOUT ------------------------------------------------------

def test_noop_id_namespace_enable(server):
    u = new_user(server)
    with imap_raw(server, "imaps") as c:
        assert c.cmd("NOOP").ok
        r = c.cmd('ID ("name" "e2e-test" "version" "1.0")')
        assert r.ok, r
        ids = r.named("ID")
        assert len(ids) == 1 and (ids[0] == [None] or (isinstance(ids[0][0], list)
                                                        and len(ids[0][0]) % 2 == 0)), r
        assert c.cmd("ID NIL").ok
        assert c.cmd("NAMESPACE").text == WRONG_STATE
        assert c.cmd("ENABLE UTF8=ACCEPT").text == WRONG_STATE
        assert LOGGED_IN_RE.match(c.login(u, server.users[u]).text)
        r = c.cmd("NAMESPACE")
        assert r.ok and r.lines() == ['* NAMESPACE (("" ".")) NIL NIL'], r
        r = c.cmd("ENABLE X-NOT-A-THING")
        assert r.ok and r.lines() == ["* ENABLED"], "RFC 5161 3.1: ENABLED even if empty: %r" % r
        assert c.cmd("ID NIL").ok
        r = c.cmd("NOOP")
        assert r.ok and r.untagged == [], r
        c.select()
        r = c.cmd("NOOP")
        assert r.ok and r.untagged == [], r
        assert c.cmd("CHECK").ok
        c.logout()


def test_logout_in_every_state(server):
    u = new_user(server)
    with imap_raw(server, "imap") as c:
        c.logout()
        assert c.buf == b"", c.buf
    with login(server, u) as c:
        c.logout()
    with login(server, u) as c:
        assert c.select().ok
        r = c.logout()
        assert r.lines() == [BYE_LOGOUT], r
    m = imaplib_login(server, u)
    try:
        assert m.logout()[0] == "BYE"
    finally:
        imaplib_close(m)


# -- errors and limits -----------------------------------------------------------------------

def test_unknown_command_wrong_state_and_syntax(server):
    """Each session stays under imap.max-errors (20): every BAD counts."""
    u = new_user(server)
    pw = server.users[u]
    with imap_raw(server, "imaps") as c:
        assert c.cmd("FROBNICATE").text == UNKNOWN
        for cmd in ("SELECT INBOX", "EXAMINE INBOX", "LIST \"\" *", "CREATE x", "FETCH 1 FLAGS",
                    "APPEND INBOX {1+}\r\nx", "NAMESPACE", "IDLE", "STATUS INBOX (MESSAGES)",
                    "CLOSE", "EXPUNGE", "UID FETCH 1 FLAGS"):
            assert c.cmd(cmd).text == WRONG_STATE, cmd
        assert c.cmd("LOGIN").status == "BAD"
        assert c.cmd("LOGIN onlyuser").status == "BAD"
        assert c.capability()
        assert LOGGED_IN_RE.match(c.cmd("login %s %s" % (q(u), q(pw))).text)
        c.logout()
    with login(server, u) as c:
        for cmd in ("SELECT", "STATUS INBOX", "CREATE", "RENAME a", "LIST \"\"", "SUBSCRIBE"):
            assert c.cmd(cmd).status == "BAD", cmd
        for cmd in ("FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "EXPUNGE",
                    "CLOSE", "UNSELECT", "COPY 1 Trash", "MOVE 1 Trash", "UID FETCH 1 FLAGS"):
            assert c.cmd(cmd).text == WRONG_STATE, cmd
        assert c.cmd("LOGIN %s %s" % (q(u), q(pw))).text == WRONG_STATE
        assert c.cmd("STARTTLS").status == "BAD"
        assert c.select().ok
        c.logout()
    with login(server, u) as c:
        assert c.select().ok
        for cmd in ("FETCH", "FETCH 1", "FETCH x FLAGS", "FETCH 1 (FLAGS", "FETCH 1 NOTANITEM",
                    "STORE 1 FLAGS", "STORE 1 BADITEM (\\Seen)", "SEARCH", "SEARCH NOTAKEY",
                    "SEARCH (ALL", "UID", "UID NOTACOMMAND 1"):
            r = c.cmd(cmd)
            assert r.status == "BAD", "%s -> %r" % (cmd, r)
        # An empty line and a line without a command.
        c.send("\r\n")
        assert c.textline().startswith("* BAD"), "empty line"
        c.send("A99\r\n")
        assert c.textline().startswith("A99 BAD")
        assert c.cmd("NOOP").ok
        c.logout()


def test_too_many_errors_close_the_session(server):
    with imap_raw(server, "imaps") as c:
        c.send(b"".join(b"E%d FOO\r\n" % i for i in range(30)))
        assert c.at_eof(), "30 bad commands and the session is still open"
        lines = c.buf.split(b"\r\n")
        assert lines[-1] == b"", c.buf[-200:]
        lines = [ln.decode() for ln in lines[:-1]]
        assert lines[:20] == ["E%d %s" % (i, UNKNOWN) for i in range(20)], lines
        assert lines[-1] == TOO_MANY_ERRORS, lines
        assert len(lines) <= 22, lines


def test_line_too_long(server):
    u = new_user(server)
    with imap_raw(server, "imaps") as c:
        # 65536 octets with the CRLF: a line, answered with its tag.
        pad = 65536 - 2 - len('A1 ID ("x" "")')
        line = 'A1 ID ("x" "%s")' % ("y" * pad)
        assert len(line) + 2 == 65536
        c.send(line + "\r\n")
        r = c.read_tagged("A1")
        assert r.status in ("OK", "BAD"), r
        assert LINE_TOO_LONG.encode() not in r.untagged, "a 65536-octet line is allowed: %r" % r
        # One octet more: too long, dropped, and the session goes on.
        line = 'A2 ID ("x" "%s")' % ("y" * (pad + 1))
        c.send(line + "\r\n")
        assert c.textline() == LINE_TOO_LONG
        assert c.cmd("NOOP", tag="A3").ok
        # Far too long (1 MiB), sent in one go.
        c.send(b"A4 LOGIN " + b"z" * (1 << 20) + b" x\r\n")
        assert c.textline() == LINE_TOO_LONG
        r = c.cmd("NOOP", tag="A5")
        assert r.ok and r.untagged == [], r
        assert LOGGED_IN_RE.match(c.login(u, server.users[u]).text)
        c.logout()


def test_bogus_literal_sizes_are_bad(server):
    u = new_user(server)
    with imap_raw(server, "imaps") as c:
        # Before login, in LOGIN; a literal in a non-APPEND command over 64 KiB.
        assert c.cmd("LOGIN {99999999999999999999}").status == "BAD"
        assert c.cmd("LOGIN {-1}").status == "BAD"
        assert c.cmd("LOGIN {70000}").text == LITERAL_TOO_LARGE
        assert c.cmd("NOOP").ok, "session broken after bogus literals"
        # A literal LOGIN works.
        tag = c.tag()
        c.send("%s LOGIN {%d}\r\n" % (tag, len(u)))
        assert c.textline().startswith("+")
        c.send("%s {%d}\r\n" % (u, len(server.users[u])))
        assert c.textline().startswith("+")
        c.send(server.users[u] + "\r\n")
        assert LOGGED_IN_RE.match(c.read_tagged(tag).text)
        for size in ("99999999999999999999", "-1", "18446744073709551616",
                     "9223372036854775808", "1x", "", " 5", "0x10"):
            r = c.cmd("APPEND INBOX {%s}" % size)
            assert r.status == "BAD", "{%s}: %r" % (size, r)
        # Below 2^63 but over imap.max-literal: nothing read.
        assert c.cmd("APPEND INBOX {9223372036854775807}").text == TOOBIG
        assert c.cmd("APPEND INBOX {%d}" % (DEFAULT_MAX_LITERAL + 1)).text == TOOBIG
        r = c.cmd("NOOP")
        assert r.ok and r.untagged == [], r
        r = c.cmd("STATUS INBOX (MESSAGES)")
        assert r.ok and r.lines() == ["* STATUS INBOX (MESSAGES 0)"], r
    with login(server, u) as c:
        r = c.cmd("APPEND INBOX {99999999999999999999+}")
        assert r.status == "BAD", r


def big_message(size):
    head = b"From: <big@other.test>\r\nSubject: ten megabytes\r\n\r\n"
    line = b"".join(bytes([0x41 + (i % 26)]) for i in range(76)) + b"\r\n"
    body = line * ((size - len(head)) // len(line))
    body += b"x" * (size - len(head) - len(body) - 2) + b"\r\n"
    return head + body


def test_ten_megabyte_append_literal(server):
    u = new_user(server)
    msg = big_message(10 * 1024 * 1024)
    assert len(msg) == 10 * 1024 * 1024
    with login(server, u) as c:
        _, uid1 = c.append_ok("INBOX", msg)
        msg2 = msg.replace(b"Subject: ten megabytes", b"Subject: ten megabytez")
        _, uid2 = c.append_ok("INBOX", msg2, plus=True)
        assert uid2 > uid1
        assert c.select().ok
        it = c.fetch1(uid1, "(RFC822.SIZE BODY.PEEK[])", uid=True)
        assert int(it["RFC822.SIZE"]) == len(msg)
        assert it["BODY[]"] == msg, "10 MB message not byte-exact"
        it = c.fetch1(uid2, "(RFC822.SIZE BODY.PEEK[]<0.60>)", uid=True)
        assert int(it["RFC822.SIZE"]) == len(msg2) and it["BODY[]<0>"] == msg2[:60]
        c.logout()


def test_pipelined_commands_answered_in_order(server):
    u = new_user(server)
    msgs = deliver(server, u, [None, b"second\r\n"])
    with imap_raw(server, "imaps") as c:
        c.send("P1 LOGIN %s %s\r\nP2 SELECT INBOX\r\nP3 FETCH 1:2 (BODY.PEEK[])\r\n"
               "P4 STORE 2 +FLAGS (\\Flagged)\r\nP5 NOOP\r\nP6 FETCH 2 (FLAGS)\r\nP7 LOGOUT\r\n"
               % (q(u), q(server.users[u])))
        assert LOGGED_IN_RE.match(c.read_tagged("P1").text)
        r = c.read_tagged("P2")
        assert r.ok and r.numbered("EXISTS") == [2], r
        r = c.read_tagged("P3")
        fm = r.fetch_map()
        assert [fm[1]["BODY[]"], fm[2]["BODY[]"]] == [m.raw for m in msgs]
        r = c.read_tagged("P4")
        assert r.ok and "\\Flagged" in [str(f) for f in r.fetch_map()[2]["FLAGS"]], r
        assert c.read_tagged("P5").ok
        assert "\\Flagged" in [str(f) for f in c.read_tagged("P6").fetch_map()[2]["FLAGS"]]
        r = c.read_tagged("P7")
        assert r.text == LOGOUT_OK
        assert c.at_eof()
        assert c.buf == b"", c.buf


# -- imap.max-literal, max-errors, max-per-user (small limits) ------------------------------------

@pytest.fixture(scope="module")
def small():
    s = make_server(settings={"imap.max-literal": "1000", "imap.max-errors": "3",
                              "imap.max-per-user": "2"})
    yield s
    finish_server(s)


def test_max_literal_toobig(small):
    s = small
    u = new_user(s)
    with login(s, u) as c:
        caps = c.capability()
        assert "APPENDLIMIT=1000" in caps, caps
        # Synchronising: refused before any octet is sent.
        tag = c.tag()
        c.send("%s APPEND INBOX {1001}\r\n" % tag)
        assert c.textline() == "%s %s" % (tag, TOOBIG)
        r = c.cmd("NOOP")
        assert r.ok, r
        msg = crlf(b"Subject: fits\n\n" + b"x" * 900 + b"\n")
        msg += b"y" * (1000 - len(msg))
        assert len(msg) == 1000
        c.append_ok("INBOX", msg)
        c.append_ok("INBOX", msg, plus=True)
        # Non-synchronising: the octets are on their way: BYE and close.
        c.send(b"%s APPEND INBOX {1001+}\r\n" % c.tag().encode() + b"z" * 1001 + b"\r\n")
        ln = c.textline()
        assert ln == BYE_TOOBIG, ln
        assert c.at_eof(), "not closed after BYE [TOOBIG]"
    with login(s, u) as c:
        r = c.cmd("STATUS INBOX (MESSAGES)")
        assert r.lines() == ["* STATUS INBOX (MESSAGES 2)"], r
        c.logout()


def test_max_errors_setting(small):
    with imap_raw(small, "imaps") as c:
        c.send(b"".join(b"E%d FOO\r\n" % i for i in range(10)))
        assert c.at_eof(), "10 bad commands with imap.max-errors 3 and still open"
        lines = [ln.decode() for ln in c.buf.split(b"\r\n")[:-1]]
        assert lines[:3] == ["E%d %s" % (i, UNKNOWN) for i in range(3)], lines
        assert lines[-1] == TOO_MANY_ERRORS and len(lines) <= 5, lines


def test_max_per_user(small):
    s = small
    u = new_user(s)
    first = login(s, u)
    second = login(s, u)
    try:
        with imap_raw(s, "imaps") as c:
            assert c.login(u, WRONG).text == AUTH_FAILED, "LIMIT told before the password"
            assert c.login(u, s.users[u]).text == USER_LIMIT
            # Another user is not affected.
            v = new_user(s)
            assert LOGGED_IN_RE.match(c.login(v, s.users[v]).text)
            c.logout()
        assert first.cmd("NOOP").ok and second.cmd("NOOP").ok
        first.logout()

        def admitted():
            with imap_raw(s, "imaps") as c:
                if not LOGGED_IN_RE.match(c.login(u, s.users[u]).text):
                    return False
                c.logout()
                return True
        assert wait_for(admitted, "the freed session slot is not reused")
    finally:
        first.close()
        second.close()


# -- auth.plaintext on ----------------------------------------------------------------------------

def test_plaintext_allowed(plain):
    s = plain
    u = new_user(s)
    with imap_raw(s, "imap") as c:
        check_caps(greeting_caps(c), tls=False, plaintext=True, where="greeting, auth.plaintext on")
        r = c.login(u, s.users[u])
        assert LOGGED_IN_RE.match(r.text), r
        assert c.cmd("STARTTLS").status == "BAD", "STARTTLS accepted after login"
        assert c.select().ok
        c.logout()
    with imap_raw(s, "imap") as c:
        assert LOGGED_IN_RE.match(c.auth_plain(u, s.users[u], initial=False).text)
        c.logout()
    m = s.imap()
    try:
        assert "LOGINDISABLED" not in m.capabilities
        assert m.login(u, s.users[u])[0] == "OK"
        assert m.select()[0] == "OK"
        m.logout()
    finally:
        imaplib_close(m)


def test_auth_plaintext_is_live(plain):
    s = plain

    def disabled():
        with imap_raw(s, "imap") as c:
            return "LOGINDISABLED" in greeting_caps(c)
    try:
        s.set("auth.plaintext", "off")
        wait_for(disabled, "auth.plaintext off not applied")
        with imap_raw(s, "imap") as c:
            assert c.login(ALICE, s.users[ALICE]).text == PRIVACY
    finally:
        s.set("auth.plaintext", "on")
    wait_for(lambda: not disabled(), "auth.plaintext on not applied")


# -- timers -----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_login_and_idle_timeouts(fresh_server):
    s = fresh_server(settings={"imap.login-timeout": "5", "imap.timeout": "10"})
    u = new_user(s)
    t0 = time.monotonic()
    pre = imap_raw(s, "imaps")
    idle = login(s, u)
    busy = login(s, u)
    try:
        assert idle.select().ok
        assert busy.select().ok
        assert pre.at_eof(timeout=(5 + 5) * FACTOR), "not logged out before login"
        dt = time.monotonic() - t0
        assert dt >= 4.5, "logged out after %.1fs with imap.login-timeout 5" % dt
        assert pre.buf == (AUTOLOGOUT + "\r\n").encode(), pre.buf
        # busy keeps talking; idle does not.
        while time.monotonic() - t0 < 8:
            assert busy.cmd("NOOP").ok
            time.sleep(1)
        assert idle.at_eof(timeout=(10 + 5) * FACTOR), "not logged out when idle"
        dt = time.monotonic() - t0
        assert dt >= 9.5, "logged out after %.1fs with imap.timeout 10" % dt
        assert idle.buf == (AUTOLOGOUT + "\r\n").encode(), idle.buf
        r = busy.cmd("NOOP")
        assert r.ok, "a session active 2 s ago was logged out: %r" % r
        busy.logout()
    finally:
        for c in (pre, idle, busy):
            c.close()


def test_shutdown_says_bye(fresh_server):
    s = fresh_server()
    u = new_user(s)
    c = login(s, u)
    d = imap_raw(s, "imap")
    try:
        assert c.select().ok
        assert s.stop() == 0
        for x in (c, d):
            assert x.at_eof(), "session open after the server stopped"
            assert x.buf == (SHUTDOWN + "\r\n").encode(), x.buf
    finally:
        c.close()
        d.close()
