"""Helpers for the guard's end-to-end tests (test_guard_*.py).

The guard counts per client address, so the tests act as many clients by
binding their sockets to different loopback addresses (all of 127.0.0.0/8
is loopback on Linux).  Everything here polls with a timeout; nothing
sleeps a fixed time to decide a result.
"""

import json
import os
import re
import socket
import ssl
import time

from conftest import (ALICE, FACTOR, LIVE_TIMEOUT, SOCK_TIMEOUT, Server, SMTPConn,
                      SMTPProtocolError, b64, expect, finish_server, plain_blob, tls_context,
                      wait_until)

def rules(**rules):
    """Settings for guard rules: rules(dos=(count, window, block), ...);
    a rule name uses '_' for '-' (bad_sessions, invalid_login...)."""
    out = {}
    for name, spec in rules.items():
        name = name.replace("_", "-")
        count, window, block = (tuple(spec) + (None, None))[:3]
        out["guard.rule.%s.count" % name] = str(count)
        if window is not None:
            out["guard.rule.%s.window" % name] = str(window)
        if block is not None:
            out["guard.rule.%s.block" % name] = str(block)
    return out


class GConn(SMTPConn):
    """An SMTP client whose socket is bound to a chosen source address
    (127.0.0.1 unless told), optionally sending a PROXY header first."""

    def __init__(self, port, src="127.0.0.1", **kw):
        super().__init__(port, src=src, **kw)


def connect_outcome(port, src="127.0.0.1", proxy_header=None, host=None):
    """'accepted' (a 220 greeting; the session is ended with QUIT) or
    'refused' (exactly one '421 4.7.0' line, then the server closed)."""
    host = host or ("::1" if ":" in src else "127.0.0.1")
    c = GConn(port, src=src, host=host, greeting=False, proxy_header=proxy_header)
    try:
        r = c.reply()
        if r.code == 220:
            try:
                expect(c.cmd("QUIT"), 221)
                c.at_eof()
            except (OSError, SMTPProtocolError):
                pass
            return "accepted"
        assert r.code == 421 and r.lines[0].startswith("4.7.0 "), \
            "refusal must be '421 4.7.0 ...', got %r" % r
        assert c.at_eof(), "server did not close after its 421 refusal"
        assert c.buf == b"", "server sent more after its 421 refusal: %r" % c.buf
        return "refused"
    finally:
        c.close()


def line_outcome(c, proto, greeted, logout, refusal):
    """connect_outcome for a line protocol (c: an IMAPConn or POP3Conn made
    with greeting=False): 'accepted' when greeted(first line) holds, then
    logout(c); or 'refused': exactly the refusal line, then the close."""
    try:
        ln = c.read_greeting()
        if greeted(ln):
            logout(c)
            return "accepted"
        assert ln == refusal, "refusal on %s must be %r, got %r" % (proto, refusal, ln)
        assert c.at_eof(), "server did not close after %r" % refusal
        assert c.buf == b"", "server sent more after its refusal: %r" % c.buf
        return "refused"
    finally:
        c.close()


def read_to_eof(sock, data=b""):
    """Read until the server closes: (all data, True), or (data so far,
    False) on a timeout."""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        return data, True
    except (socket.timeout, TimeoutError):
        return data, False


def tls_outcome(port, src, proto, refusal, greeted, logout, proxy_header=None):
    """connect_outcome for an implicit-TLS listener (proto: "imaps", "pop3s").
    The refusal may come in clear before the TLS handshake or right after
    it; either way exactly the refusal line, then the close.  'accepted'
    when greeted(first line) holds; then logout (bytes) is sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=SOCK_TIMEOUT,
                                    source_address=(src, 0))
    try:
        if proxy_header is not None:
            sock.sendall(proxy_header)
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = tls_context().wrap_bio(inc, out)
        first = True
        while True:
            try:
                tls.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                done = False
            pending = out.read()
            if pending:
                try:
                    sock.sendall(pending)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            if done:
                break
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if first and chunk[:1] != b"\x16":
                # Not a TLS record: the refusal in clear.
                data, eof = read_to_eof(sock, chunk)
                assert data == (refusal + "\r\n").encode(), \
                    "refusal on %s must be %r, got %r" % (proto, refusal, data)
                assert eof, "server did not close after %r" % refusal
                return "refused"
            first = False
            assert chunk, "%s closed during the TLS handshake" % proto
            inc.write(chunk)
        # Inside TLS: the greeting, or the refusal.
        buf = b""
        while b"\r\n" not in buf:
            try:
                buf += tls.read(65536)
                continue
            except ssl.SSLWantReadError:
                pass
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
            chunk = sock.recv(65536)
            if not chunk:
                break
            inc.write(chunk)
        line, _, rest = buf.partition(b"\r\n")
        if greeted(line.decode("utf-8", "replace")):
            tls.write(logout)
            sock.sendall(out.read())
            return "accepted"
        assert line == refusal.encode(), \
            "refusal on %s must be %r, got %r" % (proto, refusal, buf)
        assert rest == b"", "server sent more after its refusal: %r" % rest
        _, eof = read_to_eof(sock)
        assert eof, "server did not close after %r" % refusal
        return "refused"
    finally:
        sock.close()


def is_refused(port, src="127.0.0.1", proxy_header=None):
    return connect_outcome(port, src, proxy_header) == "refused"


def is_accepted(port, src="127.0.0.1", proxy_header=None):
    return connect_outcome(port, src, proxy_header) == "accepted"


def wait_outcome(port, src, want, timeout=LIVE_TIMEOUT, outcome=connect_outcome, proto="SMTP"):
    """Poll until outcome(port, src) is want (the server applies CLI changes
    to blocks and lists within about a second)."""
    last = [None]

    def probe():
        last[0] = outcome(port, src)
        return last[0] == want
    ok = wait_until(probe, timeout=timeout, interval=0.1)
    assert ok, "%s connection from %s still %s after %ss (wanted %s)" % (
        proto, src, last[0], timeout, want)


def tls_session(server, src, listener="submission"):
    """EHLO, (STARTTLS, EHLO): ready for AUTH."""
    port = server.ports[listener]
    c = GConn(port, src=src, implicit_tls=(listener == "smtps"))
    expect(c.greeting, 220)
    expect(c.ehlo(), 250)
    if listener != "smtps":
        c.starttls()
        expect(c.ehlo(), 250)
    return c


def auth_once(server, src, user, password, listener="submission"):
    """One AUTH PLAIN on its own session; returns (reply, seconds from the
    AUTH line to its reply)."""
    with tls_session(server, src, listener) as c:
        t0 = time.monotonic()
        r = c.auth_plain(user, password)
        dt = time.monotonic() - t0
        try:
            c.cmd("QUIT")
        except (OSError, SMTPProtocolError):
            pass
        return r, dt


def parallel_auth(server, src, attempts, listener="submission"):
    """Open one ready session per attempt (user, password), then send every
    AUTH line before reading any answer; returns the replies in order."""
    conns = [tls_session(server, src, listener) for _ in attempts]
    try:
        for c, (user, pw) in zip(conns, attempts):
            c.send("AUTH PLAIN " + plain_blob(user, pw) + "\r\n")
        return [c.reply() for c in conns]
    finally:
        for c in conns:
            c.close()


# -- CLI views ---------------------------------------------------------------

def ban_list(server):
    r = server.cli_ok("ban", "list", "--json")
    return json.loads(r.stdout)


def ban_for(server, rng):
    for b in ban_list(server):
        if b["range"] == rng:
            return b
    return None


def wait_ban(server, rng, present=True, timeout=LIVE_TIMEOUT):
    got = wait_until(lambda: (ban_for(server, rng) is not None) == present,
                     timeout=timeout)
    assert got, "block on %s %s in `ban list` after %ss: %r" % (
        rng, "not" if present else "still", timeout, ban_list(server))
    return ban_for(server, rng)


def stats(server):
    r = server.cli_ok("guard", "stats", "--json")
    return json.loads(r.stdout)


def wait_stats(server, pred, timeout=LIVE_TIMEOUT, interval=0.2):
    """Poll `guard stats` (the file is rewritten every second) until
    pred(stats) holds; return the stats."""
    last = [None]

    def probe():
        last[0] = stats(server)
        return pred(last[0])
    ok = wait_until(probe, timeout=timeout, interval=interval)
    assert ok, "guard stats never satisfied the condition: %r" % last[0]
    return last[0]


# -- logs --------------------------------------------------------------------

def log_path(server, name):
    return os.path.join(server.log_dir(), name)


def log_lines(server, name):
    try:
        with open(log_path(server, name), "r", errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def lines_matching(server, name, *patterns):
    """Lines of DATA/log/NAME that match every regex in patterns."""
    regs = [re.compile(p) for p in patterns]
    return [ln for ln in log_lines(server, name) if all(r.search(ln) for r in regs)]


def wait_lines(server, name, *patterns, count=1, timeout=LIVE_TIMEOUT):
    got = wait_until(lambda: (lambda ls: ls if len(ls) >= count else None)(
        lines_matching(server, name, *patterns)), timeout=timeout)
    assert got, "fewer than %d line(s) matching %r in %s; it has:\n%s" % (
        count, patterns, name, "\n".join(log_lines(server, name)[-30:]))
    return got


def ip_re(ip):
    """ip=ADDR or ip=ADDR/32 (one IPv4 address), exactly."""
    return r"\bip=%s(/32)?(\s|$)" % re.escape(ip)


def all_log_bytes(server):
    out = b""
    for dirpath, _, files in os.walk(server.log_dir()):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                out += fh.read()
    return out


def has_fields(line, *kvs):
    """Assert that the log line has each key=value of kvs."""
    for kv in kvs:
        assert re.search(r"\b%s(\s|$)" % kv, line), "%s missing: %r" % (kv, line)


def failed_login_lines(server, ip, proto):
    """The invalid-passwords.log lines of the logs tests' four failed logins
    from ip: wrong password, unknown user, wrong password (the 3rd, which
    blocks), the right password while blocked; each with event=login-failed
    and protocol=proto.  Returns the lines."""
    lines = wait_lines(server, "invalid-passwords.log", ip_re(ip), count=4)
    assert len(lines) == 4, "\n".join(lines)
    for ln in lines:
        assert (re.search(r"\bevent=login-failed\b", ln)
                and re.search(r"\bprotocol=%s\b" % proto, ln)), ln
    want = [('user="alice@example.test"', "wrong-password"),
            ('user="ghost@example.test"', "unknown-user"),
            ('user="alice@example.test"', "wrong-password"),
            ('user="alice@example.test"', "blocked")]
    got = [(re.search(r'user="[^"]*"', ln).group(0), re.search(r"\boutcome=(\S+)", ln).group(1))
           for ln in lines]
    assert got == want, "\n".join(lines)
    return lines


def no_password_in_logs(server, secrets, forms=()):
    """Never a password of secrets in any log: in clear, base64, in a PLAIN
    blob (of alice or the ghost user), or as f(password) for f in forms."""
    logs = all_log_bytes(server)
    for pw in secrets:
        for form in [pw, b64(pw), plain_blob(ALICE, pw), plain_blob("ghost@example.test", pw)] + \
                [f(pw) for f in forms]:
            assert form.encode() not in logs, "a password (%s) is in DATA/log" % form


# -- alerts ------------------------------------------------------------------

ALERT_MARK = "Automatic alert from Mailwarden - DO NOT reply"


def alerts(server, addr):
    """Contents of every alert e-mail in addr's new/."""
    out = []
    for p in server.mail_with(ALERT_MARK, addr):
        with open(p, "rb") as f:
            out.append(f.read())
    return out


def wait_alerts(server, addr, count, timeout=LIVE_TIMEOUT):
    got = wait_until(lambda: (lambda a: a if len(a) >= count else None)(
        alerts(server, addr)), timeout=timeout)
    assert got, "fewer than %d alert e-mail(s) in %s: %d" % (
        count, addr, len(alerts(server, addr)))
    return got


def no_more_alerts(server, addr, count, grace=1.5):
    """After the fact that should have caused them is over: poll for a
    grace period that more than count alerts never appear."""
    more = wait_until(lambda: len(alerts(server, addr)) > count,
                      timeout=grace * FACTOR, interval=0.1)
    assert not more, "expected exactly %d alert(s), got %d" % (
        count, len(alerts(server, addr)))


def body_of(raw):
    """The body of a delivered message (after the first empty line)."""
    i = raw.find(b"\r\n\r\n")
    assert i >= 0, "no header/body separator in %r" % raw[:300]
    return raw[i + 4:]


def header(raw, name):
    head = raw[:raw.find(b"\r\n\r\n")].decode("utf-8", "replace")
    m = re.search(r"(?im)^%s:[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)" % re.escape(name), head)
    return m.group(1).replace("\r\n", "").strip() if m else None


# -- servers -------------------------------------------------------------------

def settle(server):
    """Wait until the running server's guard has ticked once since its start
    (its stats file is rewritten by the first one-second tick).

    Most tests call this, so that they test what they are about and not
    the first second after start; test_guard_login.py has one test that
    counts from the very first second on purpose."""
    first = stats(server)["time"]
    wait_stats(server, lambda st: st["time"] > first, timeout=5 * FACTOR, interval=0.05)
    return server


def guarded(fresh_server, settings=None, users=None, start=True):
    """fresh_server(...) and, when started, settle()."""
    s = fresh_server(settings=settings, users=users, start=start)
    if start:
        settle(s)
    return s


def shared_server(settings=None, users=None, prepare=None):
    """For a module-scoped fixture (`yield from shared_server(...)`): one
    settled server that several tests use, each from its own addresses.
    prepare(server) runs before the start (CLI changes while stopped)."""
    s = Server(settings=settings, users=users)
    try:
        if prepare is not None:
            prepare(s)
        s.start()
        settle(s)
        yield s
    finally:
        finish_server(s)
