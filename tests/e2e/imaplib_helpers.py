"""Helpers for the IMAP end-to-end tests (test_imap*.py, docs/imap.md).

IMAPConn is a small IMAP client over a raw socket: exact bytes out, whole
responses in (literals included), strict about CRLF framing.  parse()
reads IMAP data (atoms, strings, literals, NIL, lists) so that FETCH,
ENVELOPE, BODYSTRUCTURE, LIST and STATUS can be checked field by field.
The rest are small helpers shared by the IMAP test modules: logins and
Maildir views (users of their own and delivery are in conftest.py).

Only the standard library; all traffic goes to loopback."""

import datetime
import os
import re
import socket
import time

from conftest import (SOCK_TIMEOUT, RawConn, SMTPProtocolError, folder_dir, plain_blob,
                      tls_context, wait_until)

# -- the contract's fixed texts ------------------------------------------------------

BASE_CAPS = ("IMAP4rev1", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE",
             "UIDPLUS", "MOVE", "UNSELECT", "CHILDREN", "SPECIAL-USE", "QUOTA")
DEFAULT_MAX_LITERAL = 52428800
GREETING_RE = re.compile(r"^\* OK \[CAPABILITY ([^\]]*)\] Mailwarden IMAP server ready$")
LOGGED_IN_RE = re.compile(r"^OK \[CAPABILITY ([^\]]*)\] Logged in$")
AUTH_FAILED = "NO [AUTHENTICATIONFAILED] Authentication failed"
PRIVACY = "NO [PRIVACYREQUIRED] Plaintext authentication disallowed, use STARTTLS first"
CANCELLED = "BAD Authentication cancelled"
UNSUPPORTED_MECH = "NO Unsupported authentication mechanism"
USER_LIMIT = "NO [LIMIT] Too many sessions for this user"
STARTTLS_OK = "OK Begin TLS negotiation now"
TLS_ACTIVE = "BAD TLS already active"
UNKNOWN = "BAD Unknown command"
WRONG_STATE = "BAD Command not valid in this state"
LINE_TOO_LONG = "* BAD Line too long"
LITERAL_TOO_LARGE = "BAD Literal too large"
TOOBIG = "NO [TOOBIG] Literal too large"
BYE_TOOBIG = "* BYE [TOOBIG] Literal too large"
TOO_MANY_ERRORS = "* BYE Too many errors, closing connection"
AUTOLOGOUT = "* BYE Autologout, idle for too long"
SHUTDOWN = "* BYE Server shutting down"
BYE_LOGOUT = "* BYE Logging out"
LOGOUT_OK = "OK Logout completed"
DENIED = "* BYE Access denied"
TOO_MANY_IP = "* BYE [UNAVAILABLE] Too many connections from your address"
NONEXISTENT = "NO [NONEXISTENT] Mailbox does not exist"
ALREADYEXISTS = "NO [ALREADYEXISTS] Mailbox already exists"
INVALID_NAME = "NO [CANNOT] Invalid mailbox name"
OVERQUOTA = "NO [OVERQUOTA] Quota exceeded"
READY_LITERAL = "+ Ready for literal data"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk"}
WRONG = "Wrong-imap-pw-0001"


class IMAPProtocolError(SMTPProtocolError):
    """A response that breaks IMAP framing, or a close mid-response (a
    subclass of SMTPProtocolError, so that wait_until treats it alike)."""


# -- data parsing --------------------------------------------------------------------

class Atom(str):
    """An IMAP atom (a flag, a number, a keyword); strings are bytes, NIL is None."""


_LITERAL_END = re.compile(rb"\{(\d+)\}$")
_STATUS_LINE = re.compile(rb"^(\+|\S+ (OK|NO|BAD|BYE|PREAUTH)\b)", re.I)


def parse(data):
    """IMAP data as Python values: lists for parenthesised lists, bytes for
    quoted strings and literals, None for NIL, Atom for the rest.  An atom
    keeps a bracketed part with its spaces (BODY[HEADER.FIELDS (A B)]<0>)."""
    if isinstance(data, str):
        data = data.encode()
    pos = 0
    n = len(data)
    stack = [[]]
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) < 2:
                raise IMAPProtocolError("unbalanced ')' at %d in %r" % (pos, data[:300]))
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while True:
                if pos >= n:
                    raise IMAPProtocolError("unterminated quoted string in %r" % data[:300])
                ch = data[pos:pos + 1]
                if ch == b"\\":
                    out += data[pos + 1:pos + 2]
                    pos += 2
                elif ch == b'"':
                    pos += 1
                    break
                elif ch in (b"\r", b"\n"):
                    raise IMAPProtocolError("CR or LF in a quoted string: %r" % data[:300])
                else:
                    out += ch
                    pos += 1
            stack[-1].append(bytes(out))
        elif c == b"{":
            m = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
            if not m:
                raise IMAPProtocolError("malformed literal at %d in %r" % (pos, data[:300]))
            size = int(m.group(1))
            start = m.end()
            if start + size > n:
                raise IMAPProtocolError("literal of %d octets runs past the data" % size)
            stack[-1].append(data[start:start + size])
            pos = start + size
        else:
            start = pos
            depth = 0
            while pos < n:
                ch = data[pos:pos + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")"):
                    break
                elif depth > 0 and ch == b'"':
                    j = data.index(b'"', pos + 1)
                    pos = j
                pos += 1
            word = data[start:pos].decode("utf-8", "replace")
            stack[-1].append(None if word.upper() == "NIL" else Atom(word))
    if len(stack) != 1:
        raise IMAPProtocolError("unbalanced '(' in %r" % data[:300])
    return stack[0]


def s(v):
    """A string value as text (None stays None)."""
    if v is None:
        return None
    return v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)


def fetch_items(resp):
    """'* n FETCH (...)' -> (n, {ITEM: value}); item names upper-cased."""
    v = parse(resp)
    assert len(v) == 4 and v[0] == "*" and str(v[2]).upper() == "FETCH" and isinstance(v[3], list), \
        "not a FETCH response: %r" % resp[:300]
    items = v[3]
    assert len(items) % 2 == 0, "odd FETCH item list: %r" % resp[:300]
    out = {}
    for i in range(0, len(items), 2):
        key = str(items[i]).upper()
        assert key not in out, "FETCH gives %s twice: %r" % (key, resp[:300])
        out[key] = items[i + 1]
    return int(v[1]), out


def seqset(text):
    """'1:3,7' -> [1, 2, 3, 7] (in the order given; a:b with a > b counts down)."""
    out = []
    for part in str(text).split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            step = 1 if a <= b else -1
            out.extend(range(a, b + step, step))
        else:
            out.append(int(part))
    return out


def crlf(data):
    """Every line end as CRLF (bare LF and CRLF alike)."""
    return re.sub(rb"\r?\n", b"\r\n", data)


def imap_date(dt):
    """An INTERNALDATE / APPEND date-time string."""
    return dt.strftime("%d-%b-%Y %H:%M:%S %z")


def parse_imap_date(text):
    return datetime.datetime.strptime(s(text).strip(), "%d-%b-%Y %H:%M:%S %z")


def q(text):
    """An IMAP quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def caps_of(text):
    """The capability names of a '[CAPABILITY ...]' text or '* CAPABILITY' line
    (upper-cased, APPENDLIMIT=N kept whole)."""
    words = text.split()
    if words[:2] == ["*", "CAPABILITY"]:
        words = words[2:]
    return [w.upper() for w in words]


# -- responses -----------------------------------------------------------------------

class Result:
    """The answer to one command: the untagged responses (bytes, literals
    inline, without the final CRLF) and the tagged line."""

    def __init__(self, tag, untagged, tagged):
        self.tag = tag
        self.untagged = untagged
        self.tagged = tagged
        rest = tagged[len(tag) + 1:]
        self.status = rest.split(" ", 1)[0].upper()
        self.text = rest            # "OK [..] text"

    @property
    def ok(self):
        return self.status == "OK"

    def lines(self):
        return [u.decode("utf-8", "replace") for u in self.untagged]

    def named(self, name):
        """Untagged data responses '* NAME ...' (parsed, without '*' and NAME)."""
        out = []
        for u in self.untagged:
            m = re.match(rb"^\* ([A-Za-z]+)(?: |$)", u)
            if m and m.group(1).upper() == name.upper().encode():
                out.append(parse(u[m.end():]))
        return out

    def numbered(self, name):
        """Numbers n of '* n NAME' responses (EXISTS, RECENT, EXPUNGE) in order."""
        out = []
        for u in self.untagged:
            m = re.match(rb"^\* (\d+) ([A-Za-z]+)$", u)
            if m and m.group(2).upper() == name.upper().encode():
                out.append(int(m.group(1)))
        return out

    def fetches(self):
        """[(n, {ITEM: value})] of the untagged FETCH responses, in order."""
        return [fetch_items(u) for u in self.untagged if re.match(rb"^\* \d+ FETCH ", u, re.I)]

    def fetch_map(self):
        """{n: items} with the FETCH responses of one message merged."""
        out = {}
        for n, items in self.fetches():
            out.setdefault(n, {}).update(items)
        return out

    def code(self, name):
        """The argument text of response code [NAME ...] in an untagged OK or
        the tagged line ('' for a bare code), or None."""
        for ln in self.lines() + [self.tagged]:
            m = re.search(r"\[%s(?: ([^\]]*))?\]" % re.escape(name), ln, re.I)
            if m:
                return m.group(1) or ""
        return None

    def __repr__(self):
        return "Result(%r, untagged=%r)" % (self.tagged, [u[:200] for u in self.untagged][:30])


class IMAPConn(RawConn):
    """A minimal IMAP client over a raw socket (see RawConn for src and
    proxy_header)."""

    def __init__(self, *args, **kw):
        self.n = 0
        super().__init__(*args, **kw)

    def read_greeting(self):
        return self.textline()

    # -- low level
    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise IMAPProtocolError("connection closed by server (buffer %r)" % self.buf[-300:])
        self.buf += chunk

    def line(self):
        """One line without its CRLF (which must be there), as bytes."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                break
            self._fill()
        ln, self.buf = self.buf[:i + 1], self.buf[i + 1:]
        if not ln.endswith(b"\r\n") or b"\r" in ln[:-2]:
            raise IMAPProtocolError("line not ended by CRLF: %r" % ln[:300])
        return ln[:-2]

    def take(self, size):
        while len(self.buf) < size:
            self._fill()
        out, self.buf = self.buf[:size], self.buf[size:]
        return out

    def resp(self):
        """One whole response as bytes (literals inline: '{n}\\r\\n' and
        their n octets, as sent), without the final CRLF."""
        out = self.line()
        if _STATUS_LINE.match(out):
            return out
        while True:
            m = _LITERAL_END.search(out)
            if not m:
                return out
            out += b"\r\n" + self.take(int(m.group(1)))
            out += self.line()

    def textline(self):
        return self.line().decode("utf-8", "replace")

    def tag(self):
        self.n += 1
        return "A%03d" % self.n

    def read_tagged(self, tag):
        """Responses up to the tagged one for tag."""
        untagged = []
        while True:
            r = self.resp()
            if r.startswith(b"* "):
                untagged.append(r)
                continue
            if r.startswith(b"+"):
                raise IMAPProtocolError("unexpected continuation %r (after %r)" % (r, untagged[-3:]))
            t = r.decode("utf-8", "replace")
            if not t.startswith(tag + " "):
                raise IMAPProtocolError("expected the reply tagged %s, got %r" % (tag, t))
            return Result(tag, untagged, t)

    def cmd(self, text, tag=None):
        """Sends 'tag text' and returns its Result."""
        tag = tag or self.tag()
        self.send(("%s %s\r\n" % (tag, text)).encode() if isinstance(text, str)
                  else tag.encode() + b" " + text + b"\r\n")
        return self.read_tagged(tag)

    def ok(self, text):
        r = self.cmd(text)
        assert r.ok, "%s -> %r" % (text, r)
        return r

    def quiet_for(self, seconds):
        """True if nothing arrives for that long (data that does is kept)."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
            self.buf += chunk
            return False
        except (socket.timeout, TimeoutError):
            return True
        finally:
            self.sock.settimeout(SOCK_TIMEOUT)

    # -- commands
    def capability(self):
        r = self.ok("CAPABILITY")
        lines = [u.decode() for u in r.untagged if u.upper().startswith(b"* CAPABILITY ")]
        assert len(lines) == 1, "CAPABILITY: %r" % r
        return caps_of(lines[0])

    def starttls(self):
        tag = self.tag()
        self.send("%s STARTTLS\r\n" % tag)
        t = self.textline()
        assert t == "%s %s" % (tag, STARTTLS_OK), "STARTTLS: %r" % t
        assert self.buf == b"", "server sent data after its STARTTLS reply: %r" % self.buf
        self.sock = tls_context().wrap_socket(self.sock)
        self.tls = True
        return t

    def login(self, user, password):
        return self.cmd("LOGIN %s %s" % (q(user), q(password)))

    def auth_plain(self, user, password, initial=True):
        if initial:
            return self.cmd("AUTHENTICATE PLAIN " + plain_blob(user, password))
        tag = self.tag()
        self.send("%s AUTHENTICATE PLAIN\r\n" % tag)
        ln = self.textline()
        if not ln.startswith("+"):
            return Result(tag, [], ln) if ln.startswith(tag + " ") else self._unexpected(ln)
        assert ln == "+ ", "AUTHENTICATE continuation: %r" % ln
        self.send(plain_blob(user, password) + "\r\n")
        return self.read_tagged(tag)

    def _unexpected(self, ln):
        raise IMAPProtocolError("unexpected line %r" % ln)

    def select(self, box="INBOX", examine=False):
        return self.cmd("%s %s" % ("EXAMINE" if examine else "SELECT", q(box)))

    def logout(self):
        r = self.cmd("LOGOUT")
        assert r.text == LOGOUT_OK and BYE_LOGOUT.encode() in r.untagged, "LOGOUT: %r" % r
        assert self.at_eof(), "server did not close after LOGOUT"
        return r

    def append(self, box, msg, flags=None, date=None, plus=False):
        """APPEND with a synchronising literal (or LITERAL+ when plus)."""
        tag = self.tag()
        head = "%s APPEND %s" % (tag, q(box))
        if flags is not None:
            head += " (%s)" % " ".join(flags)
        if date is not None:
            head += ' "%s"' % (date if isinstance(date, str) else imap_date(date))
        head += " {%d%s}\r\n" % (len(msg), "+" if plus else "")
        self.send(head)
        if not plus:
            ln = self.resp()
            if not ln.startswith(b"+"):
                t = ln.decode("utf-8", "replace")
                assert t.startswith(tag + " "), "APPEND: %r" % t
                return Result(tag, [], t)
            assert ln == READY_LITERAL.encode(), "APPEND continuation: %r" % ln
        self.send(msg + b"\r\n")
        return self.read_tagged(tag)

    def append_ok(self, box, msg, **kw):
        """APPEND that must work: (uidvalidity, uid) from APPENDUID."""
        r = self.append(box, msg, **kw)
        m = re.match(r"^OK \[APPENDUID (\d+) (\d+)\] Append completed$", r.text)
        assert m, "APPEND: %r" % r
        return int(m.group(1)), int(m.group(2))

    def fetch(self, seqs, items, uid=False):
        r = self.cmd("%sFETCH %s %s" % ("UID " if uid else "", seqs, items))
        assert r.ok, "FETCH %s %s: %r" % (seqs, items, r)
        return r

    def fetch1(self, seq, items, uid=False):
        """The merged FETCH items of one message (by number, or UID when uid)."""
        r = self.fetch(seq, items, uid)
        fm = r.fetch_map()
        if uid:
            got = [it for it in fm.values() if int(it.get("UID", -1)) == int(seq)]
            assert len(got) == 1, "UID FETCH %s: %r" % (seq, r)
            return got[0]
        assert int(seq) in fm, "FETCH %s: %r" % (seq, r)
        return fm[int(seq)]

    def search(self, criteria, uid=False):
        r = self.cmd("%sSEARCH %s" % ("UID " if uid else "", criteria))
        assert r.ok, "SEARCH %s: %r" % (criteria, r)
        got = r.named("SEARCH")
        assert len(got) == 1, "SEARCH %s: one '* SEARCH' wanted: %r" % (criteria, r)
        return [int(x) for x in got[0]]

    def uids(self):
        """[uid of message 1, 2, ...] of the selected mailbox."""
        r = self.cmd("FETCH 1:* (UID)")
        if not r.ok:
            return []
        fm = r.fetch_map()
        return [int(fm[i]["UID"]) for i in sorted(fm)]

    def flags(self, seq):
        return set(str(f) for f in self.fetch1(seq, "(FLAGS)")["FLAGS"])


def imap_raw(server, listener="imaps", **kw):
    """An IMAPConn on a listener (implicit TLS on imaps), greeting read."""
    kw.setdefault("implicit_tls", listener == "imaps")
    return IMAPConn(server.ports[listener], **kw)


def login(server, user, listener="imaps", src=None, password=None):
    """An authenticated IMAPConn (STARTTLS first on imap)."""
    c = imap_raw(server, listener, src=src)
    try:
        assert GREETING_RE.match(c.greeting), c.greeting
        if listener == "imap":
            c.starttls()
        r = c.login(user, password or server.users[user])
        assert LOGGED_IN_RE.match(r.text), "LOGIN %s: %r" % (user, r)
    except BaseException:
        c.close()
        raise
    return c


def selected(server, user, box="INBOX", examine=False, **kw):
    """A session with box selected; the SELECT Result is in c.selected."""
    c = login(server, user, **kw)
    try:
        r = c.select(box, examine)
        assert r.ok, "SELECT %s: %r" % (box, r)
        c.selected = r
    except BaseException:
        c.close()
        raise
    return c


def imaplib_login(server, user, tls=True):
    """An imaplib client logged in as user (imaps, or imap + STARTTLS)."""
    m = server.imap(tls=tls)
    try:
        if not tls:
            m.starttls(tls_context())
        typ, _ = m.login(user, server.users[user])
        assert typ == "OK"
    except BaseException:
        imaplib_close(m)
        raise
    return m


# -- users, mail, Maildir ---------------------------------------------------------------

def files_with(server, user, marker, folder=None):
    """Paths of the folder's messages (new/ and cur/) that contain marker."""
    if isinstance(marker, str):
        marker = marker.encode()
    out = []
    d = folder_dir(server, user, folder)
    for sub in ("new", "cur"):
        try:
            names = os.listdir(os.path.join(d, sub))
        except FileNotFoundError:
            continue
        for f in names:
            p = os.path.join(d, sub, f)
            try:
                with open(p, "rb") as fh:
                    if marker in fh.read():
                        out.append(p)
            except FileNotFoundError:
                pass
    return sorted(out)


def info_flags(path):
    """The Maildir info letters of a file name ('' when there is no ':2,')."""
    name = os.path.basename(path)
    return name.split(":2,", 1)[1] if ":2," in name else ""


_drop_seq = [0]


def drop_file(server, user, content, folder=None, sub="new", info=None, mtime=None):
    """Puts a message into a folder behind the server's back, as a Maildir
    tool would (tmp/, then rename); returns its path."""
    d = folder_dir(server, user, folder)
    _drop_seq[0] += 1
    uniq = "%d.M%dP%dQ%d.e2e-tool" % (int(time.time()), int(time.time() * 1e6) % 1000000,
                                       os.getpid(), _drop_seq[0])
    tmp = os.path.join(d, "tmp", uniq)
    name = uniq + ((":2," + info) if info is not None else "")
    dst = os.path.join(d, sub, name)
    with open(tmp, "wb") as f:
        f.write(content)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.rename(tmp, dst)
    return dst


def wait_for(fn, what, timeout=None):
    """wait_until, failing with what when fn never holds."""
    kw = {} if timeout is None else {"timeout": timeout}
    v = wait_until(fn, **kw)
    assert v, what
    return v



def imaplib_close(m):
    """Closes an imaplib client whether or not it logged out (logout()
    closes the socket already)."""
    try:
        m.shutdown()
    except OSError:
        pass
