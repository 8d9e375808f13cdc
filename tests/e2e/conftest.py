"""End-to-end test harness for Mailwarden.

Starts the real server binary (build/mailwarden, or $MW_BIN) on free loopback
ports with a throw-away data directory, and gives tests small, strict helpers:
raw SMTP and POP3 clients that show every reply exactly, Maildir readers, and a
poller for settings that a running server applies live.

Only the standard library and pytest.  All traffic goes to 127.0.0.1 / ::1.
Every process started here is stopped by its PID.

Environment:
  MW_BIN             path of the binary (default build/mailwarden)
  MW_TIMEOUT_FACTOR  multiply every timeout (default 1, or 3 when MW_BIN looks
                     like a sanitizer build)
  MW_KEEP            keep the temporary data directories (for debugging)
"""

import base64
import imaplib
import os
import poplib
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.abspath(os.path.join(ROOT, os.environ.get("MW_BIN", "build/mailwarden")))
FACTOR = float(os.environ.get("MW_TIMEOUT_FACTOR",
                              "3" if ("asan" in BIN or "san" in os.path.basename(os.path.dirname(BIN))) else "1"))

READY_TIMEOUT = 20 * FACTOR      # serve must print "ready" within this
GUARD_RULES = ("invalid-login", "brute-force", "dos", "bad-sessions",
               "harvest", "auth-volume")
LIVE_TIMEOUT = 5 * FACTOR        # live settings: poll for up to this long
SOCK_TIMEOUT = 10 * FACTOR       # every socket operation
STOP_TIMEOUT = 10 * FACTOR       # SIGTERM -> exit

DOMAIN = "example.test"
ALICE = "alice@example.test"
BOB = "bob@example.test"
PASSWORDS = {
    ALICE: "Alice-Secret-pw-7731",
    BOB: "Bob-Secret-pw-4410",
}

SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"runtime error:",
                     b"ERROR: LeakSanitizer", b"ERROR: UndefinedBehaviorSanitizer")

_live_servers = []


def token():
    """A unique marker to find one test's message among others."""
    return "T" + uuid.uuid4().hex[:20]


def b64(data):
    """Base64 of bytes (or of a str as UTF-8), as a str."""
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain_blob(user, password, authzid=""):
    """A SASL PLAIN response, base64-encoded."""
    return b64("%s\0%s\0%s" % (authzid, user, password))


def _port_range():
    """Where this test process picks ports: below the kernel's range for
    outgoing connections, so that no client socket (a flood test's, say)
    can take one before the server binds it, and a share of its own per
    pytest-xdist worker, so that two workers never pick the same port
    before either binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError):
        low = 32768
    low = max(low, 10002)
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    try:
        n = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
        i = int(worker[2:]) % n
    except ValueError:
        n, i = 1, 0
    share = (low - 10000) // n
    return 10000 + i * share, 10000 + (i + 1) * share


def free_port(host="127.0.0.1"):
    """A free port in this process's range (see _port_range)."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    first, end = _port_range()
    for _ in range(200):
        port = random.randrange(first, end)
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
                return port
            except OSError:
                continue
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_refused(port, host="127.0.0.1"):
    """True if a connection to the port is refused (nothing listens), False
    if it is accepted or fails in another way."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
    except ConnectionRefusedError:
        return True
    except OSError:
        return False
    finally:
        s.close()
    return False


def greets(conn_class, port, ok, **kw):
    """True if a conn_class client (3 s timeout) is greeted and ok(greeting)
    holds; False on any error."""
    try:
        with conn_class(port, timeout=3, **kw) as c:
            return bool(ok(c.greeting))
    except Exception:
        return False


def ipv6_available():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def tls_context():
    """Client context that accepts the server's self-signed certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def wait_until(fn, timeout=LIVE_TIMEOUT, interval=0.05):
    """Poll fn() until it returns something truthy; return that (or the last
    falsy value on timeout).  Polling, never a fixed sleep as an assertion."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = fn()
        except (OSError, AssertionError, SMTPProtocolError):
            v = None
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# --------------------------------------------------------------------------
# Raw SMTP client
# --------------------------------------------------------------------------

class SMTPProtocolError(Exception):
    pass


class Reply:
    def __init__(self, code, lines):
        self.code = code
        self.lines = lines          # text after "ddd-" / "ddd "

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        m = re.match(r"^([245]\.\d{1,3}\.\d{1,3})\b", self.lines[0] if self.lines else "")
        return m.group(1) if m else None

    @property
    def keywords(self):
        """EHLO keywords (upper case, first word of each line after the first)."""
        return {ln.split()[0].upper() for ln in self.lines[1:] if ln.split()}

    def ehlo_param(self, kw):
        for ln in self.lines[1:]:
            parts = ln.split()
            if parts and parts[0].upper() == kw.upper():
                return parts[1:]
        return None

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


def expect(reply, code, enhanced=None):
    """Assert a reply's code and (optionally) its enhanced status code."""
    assert reply.code == code, "expected %s %s, got %r" % (code, enhanced or "", reply)
    if enhanced is not None:
        assert reply.enhanced == enhanced, "expected %s %s, got %r" % (code, enhanced, reply)
    return reply


class RawConn:
    """What the raw clients share: a socket to a port, bound to src when
    given (the guard counts per address), a PROXY header sent first when
    given, then implicit TLS when asked for, and the greeting read unless
    greeting is False.  Data received and not yet read is in self.buf."""

    def __init__(self, port, host="127.0.0.1", src=None, implicit_tls=False, greeting=True,
                 timeout=SOCK_TIMEOUT, proxy_header=None):
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(src, 0) if src else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.tls = False
        if proxy_header is not None:
            self.sock.sendall(proxy_header)
        if implicit_tls:
            self.sock = tls_context().wrap_socket(self.sock)
            self.tls = True
        self.greeting = self.read_greeting() if greeting else None

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def at_eof(self, timeout=SOCK_TIMEOUT):
        """Wait until the server closes; True if it did (remaining data is
        kept in self.buf for inspection)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False
        except ssl.SSLError:
            return True
        finally:
            try:
                self.sock.settimeout(SOCK_TIMEOUT)
            except OSError:
                pass

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


class SMTPConn(RawConn):
    """A minimal SMTP client over a raw socket: exact bytes out, exact replies in."""

    def read_greeting(self):
        return self.reply()

    # -- low level
    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise SMTPProtocolError("connection closed by server (buffer %r)" % self.buf)
        self.buf += chunk

    def readline(self):
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            ln = self.readline()
            m = re.match(r"^(\d{3})([ -])(.*)$", ln) or re.match(r"^(\d{3})()()$", ln)
            if not m:
                raise SMTPProtocolError("malformed reply line %r" % ln)
            lines.append(m.group(3))
            if m.group(2) != "-":
                return Reply(int(m.group(1)), lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    # -- SMTP verbs
    def ehlo(self, name="client.test"):
        return self.cmd("EHLO " + name)

    def starttls(self):
        r = expect(self.cmd("STARTTLS"), 220)
        assert self.buf == b"", "server sent data after 220 to STARTTLS: %r" % self.buf
        self.sock = tls_context().wrap_socket(self.sock)
        self.tls = True
        return r

    def auth_plain(self, user, password, initial=True):
        blob = plain_blob(user, password)
        if initial:
            return self.cmd("AUTH PLAIN " + blob)
        r = self.cmd("AUTH PLAIN")
        if r.code != 334:
            return r
        return self.cmd(blob)

    def auth_login(self, user, password):
        r = self.cmd("AUTH LOGIN")
        if r.code != 334:
            return r
        r = self.cmd(b64(user))
        if r.code != 334:
            return r
        return self.cmd(b64(password))

    def mail(self, sender, params=""):
        return self.cmd("MAIL FROM:<%s>%s" % (sender, (" " + params) if params else ""))

    def rcpt(self, rcpt):
        if rcpt.startswith("<"):
            return self.cmd("RCPT TO:" + rcpt)
        return self.cmd("RCPT TO:<%s>" % rcpt)

    def data(self, raw_with_terminator):
        """DATA; then send the given bytes verbatim (they must include the
        dot-stuffing and the final CRLF.CRLF); return the final reply."""
        expect(self.cmd("DATA"), 354)
        self.send(raw_with_terminator)
        return self.reply()

    def send_message(self, sender, rcpts, msg):
        """A whole transaction; msg is the message as delivered (CRLF lines,
        ending in CRLF); dot-stuffing is done here."""
        expect(self.mail(sender), 250)
        for r in rcpts:
            expect(self.rcpt(r), 250)
        return self.data(dot_stuff(msg) + b".\r\n")


def dot_stuff(msg):
    assert msg.endswith(b"\r\n")
    lines = msg.split(b"\r\n")
    return b"\r\n".join((b"." + ln) if ln.startswith(b".") else ln for ln in lines)


def make_message(tok, rcpt=ALICE, sender="sender@other.test", body=None, extra=b""):
    body = body if body is not None else ("Hello %s.\r\nSecond line.\r\n" % tok).encode()
    return (("From: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\nMessage-ID: <%s@other.test>\r\n"
             % (sender, rcpt, tok, tok)).encode() + extra + b"\r\n" + body)


def split_trace(raw):
    """Split a delivered file into (Return-Path line, Received header, rest)."""
    assert raw.startswith(b"Return-Path: <"), "no leading Return-Path: %r" % raw[:200]
    i = raw.index(b"\r\n") + 2
    assert raw[i:].startswith(b"Received:"), "no Received: after Return-Path: %r" % raw[:400]
    j = raw.index(b"\r\n", i) + 2
    while raw[j:j + 1] in (b" ", b"\t"):
        j = raw.index(b"\r\n", j) + 2
    return raw[:i], raw[i:j], raw[j:]


def strip_trace(raw):
    return split_trace(raw)[2]


# --------------------------------------------------------------------------
# Raw POP3 client
# --------------------------------------------------------------------------

class POP3ProtocolError(SMTPProtocolError):
    """A POP3 reply that breaks RFC 1939 framing, or a close mid-reply
    (a subclass of SMTPProtocolError, so that wait_until treats it alike)."""


class POP3Conn(RawConn):
    """A minimal POP3 client over a raw socket: exact bytes out, status lines
    and multi-line bodies in, strict about CRLF framing."""

    def __init__(self, *args, **kw):
        self.last_raw = None
        super().__init__(*args, **kw)

    def read_greeting(self):
        return self.line()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise POP3ProtocolError("connection closed by server (buffer %r)" % self.buf[-300:])
        self.buf += chunk

    def line(self):
        """One status line, without its CRLF (which must be there)."""
        while b"\n" not in self.buf:
            self._fill()
        ln, _, self.buf = self.buf.partition(b"\n")
        if not ln.endswith(b"\r") or b"\r" in ln[:-1]:
            raise POP3ProtocolError("line not ended by CRLF: %r" % ln)
        return ln[:-1].decode("utf-8", "replace")

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def body(self):
        """The rest of a multi-line response: the data up to CRLF.CRLF,
        dot-unstuffed, every line with its CRLF (b"" for an empty one).
        The data as it came on the wire (still stuffed) is kept in last_raw."""
        data = bytearray(self.buf)
        self.buf = b""
        pos = 0
        while True:
            if data[:3] == b".\r\n":
                self.buf = bytes(data[3:])
                self.last_raw = b""
                return b""
            i = data.find(b"\r\n.\r\n", pos)
            if i >= 0:
                raw, self.buf = bytes(data[:i + 2]), bytes(data[i + 5:])
                self.last_raw = raw
                break
            pos = max(0, len(data) - 4)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise POP3ProtocolError("connection closed inside a multi-line response "
                                        "(%d octets, ends %r)" % (len(data), bytes(data[-100:])))
            data += chunk
        lines = raw[:-2].split(b"\r\n")
        for ln in lines:
            if b"\n" in ln or b"\r" in ln:
                raise POP3ProtocolError("bare CR or LF in a multi-line response: %r" % ln[:200])
        return b"".join((ln[1:] if ln.startswith(b".") else ln) + b"\r\n" for ln in lines)

    def multi(self, line):
        """A command with a multi-line answer: (status line, body or None
        when the status is not +OK)."""
        st = self.cmd(line)
        return st, (self.body() if st.startswith("+OK") else None)

    def listing(self, line):
        """LIST or UIDL without argument: (status, [(number, value), ...])."""
        st, b = self.multi(line)
        assert st.startswith("+OK"), "%s: %r" % (line, st)
        out = []
        for ln in b.decode().split("\r\n")[:-1]:
            n, v = ln.split(" ")
            out.append((int(n), v))
        return st, out

    def login(self, user, password):
        st = self.cmd("USER " + user)
        assert st.startswith("+OK"), "USER: %r" % st
        return self.cmd("PASS " + password)

    def auth_plain(self, user, password, initial=True):
        blob = plain_blob(user, password)
        if initial:
            return self.cmd("AUTH PLAIN " + blob)
        st = self.cmd("AUTH PLAIN")
        if not st.startswith("+"):
            return st
        assert st in ("+", "+ "), "AUTH PLAIN continuation: %r" % st
        return self.cmd(blob)

    def stls(self):
        st = self.cmd("STLS")
        assert st == "+OK Begin TLS negotiation", "STLS: %r" % st
        assert self.buf == b"", "server sent data after +OK to STLS: %r" % self.buf
        self.sock = tls_context().wrap_socket(self.sock)
        self.tls = True
        return st

    def quit(self):
        st = self.cmd("QUIT")
        assert st.startswith("+OK"), "QUIT: %r" % st
        assert self.at_eof(), "server did not close after QUIT"
        return st


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

class Server:
    LISTENERS = ("smtp", "submission", "smtps", "pop3", "pop3s", "imap", "imaps")

    def __init__(self, settings=None, users=None, keep=False):
        self.root = tempfile.mkdtemp(prefix="mw-e2e-")
        # Make the tree traversable, as any real parent of a data dir is,
        # so that the server can work after it drops privileges.
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.ports = {}
        self.proc = None
        self.expect_dead = False
        self.users = dict(PASSWORDS)
        if users:
            self.users.update(users)
        self._stdout_lines = []
        self._ready = threading.Event()
        self.keep = keep or bool(os.environ.get("MW_KEEP"))
        try:
            self._setup(settings or {})
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    # -- CLI
    def cli(self, *args, input=None, timeout=30 * FACTOR):
        return subprocess.run([BIN, "-d", self.data] + [str(a) for a in args],
                              input=input, capture_output=True, text=True,
                              timeout=timeout)

    def cli_ok(self, *args, input=None):
        r = self.cli(*args, input=input)
        assert r.returncode == 0, "mailwarden %s failed (%d): %s%s" % (
            " ".join(map(str, args)), r.returncode, r.stdout, r.stderr)
        return r

    def set(self, key, value):
        return self.cli_ok("config", "set", key, value)

    def unused_port(self):
        """A free port that none of this server's listeners has."""
        p = free_port()
        while p in self.ports.values():
            p = free_port()
        return p

    def _setup(self, settings):
        for name in self.LISTENERS:
            p = self.unused_port()
            self.ports[name] = p
            self.set(name + ".address", "127.0.0.1:%d" % p)
        self.set("auth.failure-delay", "100")
        # Outbound delivery never leaves loopback: lookups go to a port
        # where nothing answers and MX hosts are looked for on a closed
        # port, unless a test points these at its own servers (mxlib).
        if "delivery.dns-servers" not in settings:
            self.set("delivery.dns-servers", "127.0.0.1:%d" % free_port())
        if "delivery.port" not in settings:
            self.set("delivery.port", str(free_port()))
        # These suites act as one busy client from 127.0.0.1: the guard's
        # rules are off unless a test sets them (the guard tests do).
        for rule in GUARD_RULES:
            key = "guard.rule.%s.count" % rule
            if key not in settings:
                self.set(key, "0")
        for k, v in settings.items():
            self.set(k, v)
        self.cli_ok("domain", "add", DOMAIN)
        for addr, pw in self.users.items():
            self.cli_ok("user", "add", addr, input=pw + "\n")

    # -- process
    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        self._ready.clear()
        self._stdout_lines = []
        self.errpath = os.path.join(self.root, "serve.stderr.%d" % int(time.time() * 1000))
        self._err = open(self.errpath, "wb")
        self.proc = subprocess.Popen([BIN, "-d", self.data, "serve"],
                                     stdout=subprocess.PIPE, stderr=self._err,
                                     stdin=subprocess.DEVNULL)
        self.expect_dead = False
        t = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        t.start()
        if not self._ready.wait(READY_TIMEOUT):
            rc = self.proc.poll()
            self.stop()
            raise RuntimeError("server did not print 'ready' within %ss (rc=%s)\nstdout: %r\nstderr: %s"
                               % (READY_TIMEOUT, rc, self._stdout_lines[-20:], self.stderr_tail()))
        if self not in _live_servers:
            _live_servers.append(self)
        return self

    def _drain(self, proc):
        for line in proc.stdout:
            s = line.decode("utf-8", "replace").rstrip("\n")
            self._stdout_lines.append(s)
            if s.strip() == "ready":
                self._ready.set()

    def stderr_text(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read()
        except (OSError, AttributeError):
            return b""

    def stderr_tail(self, n=3000):
        return self.stderr_text()[-n:].decode("utf-8", "replace")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID, wait, SIGKILL if needed.  Returns the exit status."""
        if self.proc is None:
            return None
        self.expect_dead = True
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                self._err.close()
                return "killed"
        self._err.close()
        return self.proc.returncode

    def kill9(self):
        self.expect_dead = True
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._err.close()

    def sanitizer_report(self):
        err = self.stderr_text()
        for m in SANITIZER_MARKERS:
            if m in err:
                return err.decode("utf-8", "replace")[-6000:]
        return None

    def cleanup(self):
        if self in _live_servers:
            _live_servers.remove(self)
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- connections
    def conn(self, listener="smtp", **kw):
        if listener == "smtps":
            kw.setdefault("implicit_tls", True)
        return SMTPConn(self.ports[listener], **kw)

    def pop3(self, tls=False, port=None, timeout=SOCK_TIMEOUT):
        """A poplib client (greeting read) on pop3, or on pop3s when tls."""
        if tls:
            return poplib.POP3_SSL("127.0.0.1", port or self.ports["pop3s"],
                                   context=tls_context(), timeout=timeout)
        return poplib.POP3("127.0.0.1", port or self.ports["pop3"], timeout=timeout)

    def imap(self, tls=False, port=None, timeout=SOCK_TIMEOUT):
        """An imaplib client (greeting read) on imap, or on imaps when tls."""
        if tls:
            return imaplib.IMAP4_SSL("127.0.0.1", port or self.ports["imaps"],
                                     ssl_context=tls_context(), timeout=timeout)
        return imaplib.IMAP4("127.0.0.1", port or self.ports["imap"], timeout=timeout)

    def pop3_raw(self, listener="pop3", **kw):
        """A POP3Conn on a listener (implicit TLS on pop3s)."""
        kw.setdefault("implicit_tls", listener == "pop3s")
        return POP3Conn(self.ports[listener], **kw)

    def authed(self, listener="submission", user=ALICE, password=None):
        """A session that has done EHLO, (STARTTLS, EHLO,) AUTH PLAIN."""
        c = self.conn(listener)
        expect(c.ehlo(), 250)
        if listener != "smtps":
            c.starttls()
            expect(c.ehlo(), 250)
        expect(c.auth_plain(user, password or self.users[user]), 235, "2.7.0")
        return c

    # -- storage
    def maildir(self, addr):
        local, domain = addr.split("@")
        return os.path.join(self.data, "mail", domain, local)

    def new_files(self, addr):
        d = os.path.join(self.maildir(addr), "new")
        try:
            return sorted(os.path.join(d, f) for f in os.listdir(d) if not f.startswith("."))
        except FileNotFoundError:
            return []

    def all_mail_files(self):
        """Every regular file in any Maildir (new/, cur/ and tmp/) of any user."""
        out = []
        for dirpath, _, files in os.walk(os.path.join(self.data, "mail")):
            for f in files:
                if os.path.basename(dirpath) in ("new", "cur", "tmp"):
                    out.append(os.path.join(dirpath, f))
        return out

    def queue_files(self):
        out = []
        for dirpath, _, files in os.walk(os.path.join(self.data, "queue")):
            out.extend(os.path.join(dirpath, f) for f in files)
        return out

    @staticmethod
    def _with(paths, marker):
        if isinstance(marker, str):
            marker = marker.encode()
        out = []
        for p in paths:
            try:
                with open(p, "rb") as f:
                    if marker in f.read():
                        out.append(p)
            except (FileNotFoundError, IsADirectoryError):
                pass
        return out

    def mail_with(self, marker, addr=None):
        """Delivered files (new/ of addr, or new/ and cur/ of everyone) containing marker."""
        if addr:
            return self._with(self.new_files(addr), marker)
        return self._with([p for p in self.all_mail_files()
                           if os.path.basename(os.path.dirname(p)) in ("new", "cur")], marker)

    def queue_with(self, marker):
        return self._with(self.queue_files(), marker)

    def wait_mail(self, addr, marker, count=1, timeout=LIVE_TIMEOUT):
        """Wait for count files with marker in addr's new/ and return their contents."""
        files = wait_until(lambda: (lambda f: f if len(f) >= count else None)(self.mail_with(marker, addr)),
                           timeout=timeout)
        assert files, "no message with %s arrived in %s new/ (has %r)" % (
            marker, addr, self.new_files(addr))
        out = []
        for p in files:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def log_dir(self):
        return os.path.join(self.data, "log")


def make_server(settings=None, users=None):
    s = Server(settings=settings, users=users)
    try:
        s.start()
    except BaseException:
        s.cleanup()
        raise
    return s


def finish_server(s):
    """Stop a server at teardown and fail loudly on crashes, a non-zero exit
    after SIGTERM, or sanitizer reports."""
    problems = []
    if s.proc is not None:
        if s.proc.poll() is None:
            rc = s.stop()
            if rc != 0:
                problems.append("exit status after SIGTERM: %s" % rc)
        elif not s.expect_dead:
            problems.append("server exited during the test with status %s" % s.proc.returncode)
        else:
            s.stop()
    rep = s.sanitizer_report()
    if rep:
        problems.append("sanitizer report:\n" + rep)
    elif problems:
        problems.append("stderr tail:\n" + s.stderr_tail())
    s.cleanup()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# --------------------------------------------------------------------------
# Users and mail of one test (the POP3 and IMAP suites)
# --------------------------------------------------------------------------

def new_user(server, prefix="user"):
    """A user of its own for one test (added while the server runs)."""
    addr = "%s%s@example.test" % (prefix, uuid.uuid4().hex[:12])
    pw = "Pw-%s-x7" % uuid.uuid4().hex[:16]
    server.cli_ok("user", "add", addr, input=pw + "\n")
    server.users[addr] = pw
    return addr


class Msg:
    """A message deliver() sent, and the file it was stored in."""

    def __init__(self, tok, sent, path, raw):
        self.tok, self.sent, self.path, self.raw = tok, sent, path, raw

    @property
    def name(self):
        return os.path.basename(self.path)

    @property
    def uniq(self):
        return self.name.split(":2,")[0]

    @property
    def size(self):
        return len(self.raw)


def deliver(server, rcpt, bodies=(None,), messages=None):
    """Sends one message per body (or the given whole messages) to rcpt over
    SMTP in one session, in order; returns [Msg] with the stored file and
    its contents (checked: the trace headers, then exactly what was sent)."""
    if messages is None:
        toks = [token() for _ in bodies]
        sent = [make_message(t, rcpt=rcpt, body=b) for t, b in zip(toks, bodies)]
    else:
        toks = []
        sent = []
        for m in messages:
            t = token()
            toks.append(t)
            sent.append(m.replace(b"@TOKEN@", t.encode()))
            assert t.encode() in sent[-1], "a message for deliver() needs @TOKEN@"
    with server.conn() as c:
        expect(c.ehlo(), 250)
        for m in sent:
            expect(c.send_message("sender@other.test", [rcpt], m), 250)
        expect(c.cmd("QUIT"), 221)
    out = []
    for t, m in zip(toks, sent):
        server.wait_mail(rcpt, t)
        paths = server.mail_with(t, rcpt)
        assert len(paths) == 1, paths
        with open(paths[0], "rb") as f:
            raw = f.read()
        assert strip_trace(raw) == m
        out.append(Msg(t, m, paths[0], raw))
    return out


def folder_dir(server, user, folder=None):
    """The Maildir of a folder (None or INBOX: the user's Maildir)."""
    root = server.maildir(user)
    if folder is None or folder.upper() == "INBOX":
        return root
    return os.path.join(root, "." + folder)


def box_files(server, user, folder=None):
    """{'new': sorted names, 'cur': sorted names} of a folder."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(folder_dir(server, user, folder), sub)
        try:
            out[sub] = sorted(f for f in os.listdir(d) if not f.startswith("."))
        except FileNotFoundError:
            out[sub] = []
    return out


@pytest.fixture(scope="module")
def server():
    """One server shared by the tests of a module (tests tell their messages
    apart by a unique token).  Default settings."""
    s = make_server()
    yield s
    finish_server(s)


@pytest.fixture(scope="module")
def plain():
    """One server with auth.plaintext on, shared by a module's tests."""
    s = make_server(settings={"auth.plaintext": "on"})
    yield s
    finish_server(s)


@pytest.fixture
def fresh_server():
    """A factory: fresh_server(settings={...}, users={...}) -> running Server,
    stopped at the end of the test."""
    made = []

    def factory(settings=None, users=None, start=True):
        s = Server(settings=settings, users=users)
        made.append(s)
        if start:
            s.start()
        return s

    yield factory
    for s in made:
        finish_server(s)


@pytest.fixture(autouse=True)
def _servers_still_alive():
    """After each test, every server that should be running still is."""
    yield
    for s in list(_live_servers):
        if s.proc is not None and not s.expect_dead and s.proc.poll() is not None:
            s.expect_dead = True
            pytest.fail("server (pid %d) died during the test, status %s\n%s"
                        % (s.proc.pid, s.proc.returncode, s.stderr_tail()), pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: a test that waits for a server timer")


def pytest_sessionstart(session):
    if not os.access(BIN, os.X_OK):
        raise pytest.UsageError("%s is not built (run make, or set MW_BIN)" % BIN)
