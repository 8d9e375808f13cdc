"""Loopback stand-ins for the Internet, for the outbound queue's tests
(test_queue_*.py): a DNS server that answers from a dict, and SMTP sinks
that record every transaction and answer by a script.

Everything listens on 127.0.0.0/8 (and ::1 when a test asks for it).  The
server under test reaches them through its settings: `delivery.dns-servers
127.0.0.1:DNSPORT` and `delivery.port PORT` -- one port for every sink of a
lab, since the server has one global delivery port; different MX hosts are
different loopback addresses (127.0.0.2 .. 127.0.0.254).  A host that is
"down" is an address with no listener (connection refused at once).

Standard library only, plus Debian's python3-dnslib for the DNS wire format.
Every thread started here is stopped by stop() (the fixtures do it).
"""

import atexit
import base64
import email
import email.policy
import itertools
import json
import os
import re
import select
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import pytest
from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSRecord, MX, SOA

from conftest import FACTOR, LIVE_TIMEOUT, expect, free_port, wait_until

# Waits that include at least one retry (retry-min 1, retry-max 2) and a
# delivery: generous, because they are upper bounds, never expectations.
DELIVERY_TIMEOUT = 15 * FACTOR
# The server applies CLI changes to its queue "within a second".
NOTICE = 1.0 * FACTOR


# --------------------------------------------------------------------------
# DNS
# --------------------------------------------------------------------------

class DNSServer:
    """A tiny authoritative DNS server on 127.0.0.1 (UDP and TCP, one port).

    zone: {name: {"MX": [(pref, host), ...], "A": [ip, ...], "AAAA": [...]}}
    (names lower case, without the final dot).  A name not in zone is
    NXDOMAIN; a name in zone without records of the asked type is NODATA
    (NOERROR, no answer).  A null MX is "MX": [(0, ".")].  Every question
    is recorded in self.queries as (name, type name)."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self.zone = {}
        self.queries = []
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        for _ in range(50):
            port = free_port(host)
            try:
                self.tcp.bind((host, port))
                self.udp.bind((host, port))
                break
            except OSError:
                self.tcp.close()
                self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            raise RuntimeError("no free port for the DNS server")
        self.port = port
        self.tcp.listen(16)
        self._stop = threading.Event()
        self._threads = []

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    # -- the zone
    def _node(self, name):
        return self.zone.setdefault(name.lower().rstrip("."), {})

    def set_mx(self, domain, *pairs):
        """MX records of domain: pairs of (preference, host)."""
        self._node(domain)["MX"] = list(pairs)

    def set_null_mx(self, domain):
        self._node(domain)["MX"] = [(0, ".")]

    def set_a(self, name, *ips):
        self._node(name)["A"] = list(ips)

    def set_aaaa(self, name, *ips):
        self._node(name)["AAAA"] = list(ips)

    def remove(self, name):
        self.zone.pop(name.lower().rstrip("."), None)

    def asked(self, name, qtype=None):
        name = name.lower().rstrip(".")
        with self.lock:
            return [q for q in self.queries if q[0] == name and (qtype is None or q[1] == qtype)]

    # -- answers
    def answer(self, data):
        try:
            req = DNSRecord.parse(data)
        except Exception:
            return None
        reply = req.reply()          # qr, aa, rd copied, ra
        if not req.questions:
            reply.header.rcode = RCODE.FORMERR
            return reply.pack()
        q = req.q
        qname = str(q.qname).lower().rstrip(".")
        qtype = QTYPE.get(q.qtype, str(q.qtype))
        with self.lock:
            self.queries.append((qname, qtype))
        node = self.zone.get(qname)
        if node is None:
            reply.header.rcode = RCODE.NXDOMAIN
            reply.add_auth(RR("test.", QTYPE.SOA, ttl=5, rdata=SOA(
                "ns.test.", "hostmaster.test.", (1, 60, 60, 60, 5))))
            return reply.pack()
        if qtype == "MX":
            for pref, host in node.get("MX", []):
                reply.add_answer(RR(q.qname, QTYPE.MX, ttl=5, rdata=MX(host, pref)))
        elif qtype == "A":
            for ip in node.get("A", []):
                reply.add_answer(RR(q.qname, QTYPE.A, ttl=5, rdata=A(ip)))
        elif qtype == "AAAA":
            for ip in node.get("AAAA", []):
                reply.add_answer(RR(q.qname, QTYPE.AAAA, ttl=5, rdata=AAAA(ip)))
        if not reply.rr:
            reply.add_auth(RR("test.", QTYPE.SOA, ttl=5, rdata=SOA(
                "ns.test.", "hostmaster.test.", (1, 60, 60, 60, 5))))
        return reply.pack()

    # -- threads
    def start(self):
        for fn in (self._serve_udp, self._serve_tcp):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _serve_udp(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.udp], [], [], 0.1)
            if not r:
                continue
            try:
                data, peer = self.udp.recvfrom(4096)
            except OSError:
                continue
            out = self.answer(data)
            if out is not None:
                try:
                    self.udp.sendto(out, peer)
                except OSError:
                    pass

    def _serve_tcp(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self.tcp], [], [], 0.1)
            if not r:
                continue
            try:
                c, _ = self.tcp.accept()
            except OSError:
                continue
            threading.Thread(target=self._tcp_conn, args=(c,), daemon=True).start()

    def _tcp_conn(self, c):
        c.settimeout(5)
        buf = b""
        try:
            while not self._stop.is_set():
                while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], "big"):
                    chunk = c.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                n = int.from_bytes(buf[:2], "big")
                msg, buf = buf[2:2 + n], buf[2 + n:]
                out = self.answer(msg)
                if out is None:
                    return
                c.sendall(len(out).to_bytes(2, "big") + bytes(out))
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()


def dns_query(port, name, qtype, host="127.0.0.1", tcp=False, timeout=2):
    """Ask the test DNS server (a check of the fixture itself)."""
    q = DNSRecord.question(name, qtype)
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as s:
            data = bytes(q.pack())
            s.sendall(len(data).to_bytes(2, "big") + data)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + int.from_bytes(buf[:2], "big"):
                buf += s.recv(4096)
            return DNSRecord.parse(buf[2:])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(bytes(q.pack()), (host, port))
        return DNSRecord.parse(s.recv(4096))


# --------------------------------------------------------------------------
# TLS certificate for the sinks
# --------------------------------------------------------------------------

_cert = {}
_cert_lock = threading.Lock()


def sink_cert():
    """(cert path, key path): one self-signed certificate per test run,
    made with `openssl req` in a temporary directory."""
    with _cert_lock:
        if not _cert:
            d = tempfile.mkdtemp(prefix="mw-mxlib-")
            crt, key = os.path.join(d, "sink.crt"), os.path.join(d, "sink.key")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                            "-keyout", key, "-out", crt, "-days", "2",
                            "-subj", "/CN=mx.sink.test"],
                           check=True, capture_output=True, timeout=30)
            _cert.update(dir=d, crt=crt, key=key)
        return _cert["crt"], _cert["key"]


def remove_sink_cert():
    with _cert_lock:
        if _cert:
            shutil.rmtree(_cert["dir"], ignore_errors=True)
            _cert.clear()


atexit.register(remove_sink_cert)


# --------------------------------------------------------------------------
# SMTP sinks
# --------------------------------------------------------------------------

class Transaction:
    """One MAIL transaction as the sink saw it."""

    def __init__(self, session, mail_from, mail_params):
        self.session = session
        self.mail_from = mail_from        # the address inside <>, "" for <>
        self.mail_params = mail_params    # the text after MAIL FROM:<...>
        self.rcpt_tried = []              # every RCPT address, in order
        self.rcpts = []                   # the ones answered 2xx
        self.rcpt_replies = []            # (address, reply line)
        self.data = None                  # unstuffed bytes, CRLF.CRLF removed
        self.raw_data = None              # as on the wire, up to and with CRLF.CRLF
        self.data_reply = None
        self.accepted = False             # DATA answered 2xx
        self.busy = None                  # (start, end) of a data_delay

    @property
    def tls(self):
        return self.session.tls

    def __repr__(self):
        return "<Transaction from=%r rcpts=%r tried=%r accepted=%s size=%s>" % (
            self.mail_from, self.rcpts, self.rcpt_tried, self.accepted,
            None if self.data is None else len(self.data))


class Session:
    def __init__(self, peer):
        self.peer = peer
        self.ehlo = None            # the EHLO/HELO argument
        self.verb = None            # "EHLO" or "HELO"
        self.ehlo_tried = []        # every EHLO/HELO line (verb, argument)
        self.tls = False
        self.tls_version = None
        self.transactions = []
        self.commands = []          # every command line, as received
        self.pipelined = []         # (command, lines already buffered behind it)
        self.errors = []            # protocol errors of the client
        self.auth = None            # (mechanism, user, password) once accepted
        self.auth_tried = []        # (AUTH arguments, over TLS)
        self.quit = False

    def __repr__(self):
        return "<Session %s %s %r tls=%s %r errors=%r>" % (
            self.peer, self.verb, self.ehlo, self.tls, self.transactions, self.errors)


class Rule:
    def __init__(self, reply, times):
        self.reply = reply
        self.times = times          # None: always

    def take(self):
        if self.times is None:
            return self.reply
        if self.times > 0:
            self.times -= 1
            return self.reply
        return None


class Sink:
    """A threaded SMTP server on (ip, port) that records everything and
    answers by a script:

      offer_starttls, pipelining   EHLO keywords offered
      ehlo_reply                   e.g. "502 5.5.1 no EHLO" (HELO then works)
      greeting                     e.g. "421 4.3.2 busy" (then closes)
      rcpt(addr, reply, times)     RCPT TO addr -> reply (times None: always)
      mail(reply, times), data(reply, times)   likewise for MAIL and end of DATA
      hold_mail                    with pipelining detection: wait up to this
                                   many seconds after MAIL for more lines
                                   (a pipelining client has sent them)

    All replies are full lines, "451 4.3.0 try later"."""

    def __init__(self, ip, port, offer_starttls=False, pipelining=True, ehlo_reply=None,
                 greeting=None, name=None, hold_mail=0.0, eightbitmime=True,
                 auth_users=None, auth_in_clear=False, data_delay=0.0):
        self.ip = ip
        self.port = port
        self.name = name or "sink-%s" % ip
        self.offer_starttls = offer_starttls
        self.pipelining = pipelining
        self.eightbitmime = eightbitmime
        self.ehlo_reply = ehlo_reply
        self.greeting = greeting
        self.hold_mail = hold_mail
        self.auth_users = dict(auth_users or {})
        self.auth_in_clear = auth_in_clear
        self.data_delay = data_delay  # seconds before the reply to the end of DATA
        self.active = 0               # sessions open now
        self.max_active = 0           # the most at once
        self.stall = None           # an Event: the end of DATA waits for it
        self.rules = {"rcpt": {}, "mail": [], "data": []}
        self.sessions = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self.sock = None
        self._tls_ctx = None

    # -- script
    def rcpt(self, addr, reply, times=None):
        with self.lock:
            self.rules["rcpt"].setdefault(addr.lower(), []).append(Rule(reply, times))
        return self

    def clear_rcpt(self, addr=None):
        with self.lock:
            if addr is None:
                self.rules["rcpt"].clear()
            else:
                self.rules["rcpt"].pop(addr.lower(), None)

    def mail(self, reply, times=None):
        with self.lock:
            self.rules["mail"].append(Rule(reply, times))
        return self

    def data(self, reply, times=None):
        with self.lock:
            self.rules["data"].append(Rule(reply, times))
        return self

    def stall_data(self):
        """From now on, the reply to the end of DATA waits until
        unstall() (the data is recorded first)."""
        self.stall = threading.Event()
        return self

    def unstall(self):
        ev, self.stall = self.stall, None
        if ev is not None:
            ev.set()

    def received_data(self, marker):
        """Transactions whose data (complete, answered or not) has marker."""
        if isinstance(marker, str):
            marker = marker.encode()
        return [t for t in self.transactions() if t.data is not None and marker in t.data]

    def clear(self):
        with self.lock:
            self.rules = {"rcpt": {}, "mail": [], "data": []}

    def _scripted(self, rules, default):
        with self.lock:
            for r in rules:
                got = r.take()
                if got is not None:
                    return got
        return default

    # -- views
    def transactions(self):
        with self.lock:
            return [t for s in self.sessions for t in s.transactions]

    def delivered(self):
        """Transactions whose DATA was answered 2xx."""
        return [t for t in self.transactions() if t.accepted]

    def with_marker(self, marker):
        if isinstance(marker, str):
            marker = marker.encode()
        return [t for t in self.delivered() if marker in t.data]

    def deliveries_to(self, addr, marker=None):
        """Accepted transactions that carried addr (and marker)."""
        return [t for t in (self.with_marker(marker) if marker else self.delivered())
                if addr.lower() in [r.lower() for r in t.rcpts]]

    def wait_marker(self, marker, count=1, timeout=DELIVERY_TIMEOUT):
        got = wait_until(lambda: (lambda x: x if len(x) >= count else None)(
            self.with_marker(marker)), timeout=timeout)
        assert got, "%s (%s:%d) did not receive %d message(s) with %s; it saw %r" % (
            self.name, self.ip, self.port, count, marker, self.sessions)
        return got

    def max_concurrent_data(self):
        """The most transactions that were waiting out data_delay at the
        same moment: connections truly in use at once (a connection being
        closed while the next one opens does not count)."""
        iv = [t.busy for t in self.transactions() if t.busy and t.busy[1] is not None]
        events = sorted([(a, 1) for a, _ in iv] + [(b, -1) for _, b in iv],
                        key=lambda e: (e[0], e[1]))
        n = best = 0
        for _, step in events:
            n += step
            best = max(best, n)
        return best

    def errors(self):
        with self.lock:
            return [e for s in self.sessions for e in s.errors]

    # -- server
    def start(self):
        fam = socket.AF_INET6 if ":" in self.ip else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        s.listen(64)
        self.sock = s
        self._stop.clear()
        if self.offer_starttls:
            crt, key = sink_cert()
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(crt, key)
            self._tls_ctx = ctx
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        """No listener any more (the host is "down"); open sessions closed."""
        self._stop.set()
        self.unstall()
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None
        with self.lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(3)
        self._threads = []

    @property
    def running(self):
        return self.sock is not None

    def _accept_loop(self):
        sock = self.sock
        while not self._stop.is_set():
            try:
                r, _, _ = select.select([sock], [], [], 0.1)
            except (OSError, ValueError):
                return
            if not r:
                continue
            try:
                c, peer = sock.accept()
            except OSError:
                continue
            with self.lock:
                self._conns.add(c)
            t = threading.Thread(target=self._session, args=(c, peer), daemon=True)
            t.start()
            self._threads.append(t)

    def _session(self, c, peer):
        sess = Session(peer)
        with self.lock:
            self.sessions.append(sess)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        io = _LineIO(c, self._stop)
        try:
            self._converse(io, sess)
        except (OSError, ssl.SSLError, _Closed):
            pass
        finally:
            with self.lock:
                self._conns.discard(c)
                self.active -= 1
            try:
                io.sock.close()
            except OSError:
                pass

    def _ehlo_lines(self, sess):
        kws = ["SIZE 104857600"]
        if self.pipelining:
            kws.append("PIPELINING")
        if self.eightbitmime:
            kws.append("8BITMIME")
        kws.append("ENHANCEDSTATUSCODES")
        if self.offer_starttls and not sess.tls:
            kws.append("STARTTLS")
        if self.auth_users and (sess.tls or self.auth_in_clear):
            kws.append("AUTH PLAIN LOGIN")
        return ["%s greets %s" % (self.name, sess.ehlo)] + kws

    def _converse(self, io, sess):
        if self.greeting:
            io.send_line(self.greeting)
            if self.greeting.startswith(("4", "5")):
                # 421/554: wait for QUIT (or anything) briefly, then close.
                try:
                    ln = io.read_line(timeout=2)
                    if ln is not None and ln.upper().startswith("QUIT"):
                        io.send_line("221 2.0.0 bye")
                except (OSError, _Closed):
                    pass
                return
        else:
            io.send_line("220 %s ESMTP test sink" % self.name)
        tx = None
        while not self._stop.is_set():
            line = io.read_line()
            if line is None:
                return
            sess.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            arg = line[len(verb) + 1:] if " " in line else ""
            if verb == "EHLO":
                sess.ehlo_tried.append(("EHLO", arg))
                if self.ehlo_reply:
                    io.send_line(self.ehlo_reply)
                    continue
                sess.verb, sess.ehlo = "EHLO", arg
                tx = None
                lines = self._ehlo_lines(sess)
                io.send_lines("250", lines)
            elif verb == "HELO":
                sess.ehlo_tried.append(("HELO", arg))
                sess.verb, sess.ehlo = "HELO", arg
                tx = None
                io.send_line("250 %s" % self.name)
            elif verb == "STARTTLS":
                if not self.offer_starttls or sess.tls:
                    sess.errors.append(line)
                    io.send_line("502 5.5.1 STARTTLS not offered")
                    continue
                if io.buffered():
                    sess.errors.append("data pipelined after STARTTLS: %r" % io.buf)
                io.send_line("220 2.0.0 go ahead")
                io.start_tls(self._tls_ctx)
                sess.tls = True
                sess.tls_version = io.sock.version()
                sess.verb = sess.ehlo = None
                tx = None
            elif verb == "MAIL":
                if sess.verb is None:
                    sess.errors.append("MAIL before EHLO/HELO")
                    io.send_line("503 5.5.1 EHLO first")
                    continue
                m = re.match(r"(?i)^FROM:\s*<([^>]*)>\s*(.*)$", arg)
                if not m:
                    sess.errors.append(line)
                    io.send_line("501 5.5.4 syntax")
                    continue
                if tx is not None:
                    sess.errors.append("nested MAIL")
                    io.send_line("503 5.5.1 nested MAIL")
                    continue
                if self.hold_mail:
                    behind = io.wait_more(self.hold_mail)
                    sess.pipelined.append(("MAIL", behind))
                reply = self._scripted(self.rules["mail"], "250 2.1.0 ok")
                if reply.startswith("2"):
                    tx = Transaction(sess, m.group(1), m.group(2))
                    with self.lock:
                        sess.transactions.append(tx)
                io.send_line(reply)
            elif verb == "RCPT":
                m = re.match(r"(?i)^TO:\s*<([^>]*)>\s*(.*)$", arg)
                if tx is None:
                    sess.errors.append("RCPT without MAIL: %s" % line)
                    io.send_line("503 5.5.1 MAIL first")
                    continue
                if not m:
                    sess.errors.append(line)
                    io.send_line("501 5.5.4 syntax")
                    continue
                addr = m.group(1)
                tx.rcpt_tried.append(addr)
                with self.lock:
                    rules = list(self.rules["rcpt"].get(addr.lower(), []))
                reply = self._scripted(rules, "250 2.1.5 ok")
                tx.rcpt_replies.append((addr, reply))
                if reply.startswith("2"):
                    tx.rcpts.append(addr)
                io.send_line(reply)
            elif verb == "DATA":
                if tx is None or not tx.rcpts:
                    io.send_line("554 5.5.1 no valid recipients" if tx is not None
                                 else "503 5.5.1 MAIL first")
                    continue
                io.send_line("354 go ahead, end with <CRLF>.<CRLF>")
                raw = io.read_data()
                tx.raw_data = raw
                tx.data = unstuff(raw)
                if self.data_delay:
                    tx.busy = (time.monotonic(), None)
                    time.sleep(self.data_delay)
                    tx.busy = (tx.busy[0], time.monotonic())
                stall = self.stall
                if stall is not None:
                    while not stall.wait(0.1):
                        if self._stop.is_set():
                            return
                reply = self._scripted(self.rules["data"], "250 2.0.0 ok: queued")
                tx.data_reply = reply
                tx.accepted = reply.startswith("2")
                io.send_line(reply)
                tx = None
            elif verb == "AUTH":
                sess.auth_tried.append((arg, sess.tls))
                parts = arg.split()
                mech = parts[0].upper() if parts else ""
                user = pw = None
                try:
                    if mech == "PLAIN":
                        blob = parts[1] if len(parts) > 1 else None
                        if blob is None:
                            io.send_line("334 ")
                            blob = io.read_line()
                            sess.commands.append(blob)
                        _, user, pw = base64.b64decode(blob).decode().split("\0")
                    elif mech == "LOGIN":
                        io.send_line("334 VXNlcm5hbWU6")
                        ln = io.read_line()
                        sess.commands.append(ln)
                        user = base64.b64decode(ln).decode()
                        io.send_line("334 UGFzc3dvcmQ6")
                        ln = io.read_line()
                        sess.commands.append(ln)
                        pw = base64.b64decode(ln).decode()
                except (ValueError, TypeError, UnicodeDecodeError):
                    pass
                if user is not None and self.auth_users.get(user) == pw:
                    sess.auth = (mech, user, pw)
                    io.send_line("235 2.7.0 authenticated")
                else:
                    sess.errors.append("AUTH failed: %r" % arg)
                    io.send_line("535 5.7.8 bad credentials")
            elif verb == "RSET":
                tx = None
                io.send_line("250 2.0.0 ok")
            elif verb == "NOOP":
                io.send_line("250 2.0.0 ok")
            elif verb == "QUIT":
                sess.quit = True
                io.send_line("221 2.0.0 bye")
                return
            else:
                sess.errors.append(line)
                io.send_line("502 5.5.2 unknown command")


class _Closed(Exception):
    pass


class _LineIO:
    def __init__(self, sock, stop):
        self.sock = sock
        self.sock.settimeout(60)
        self.buf = b""
        self.stop = stop

    def buffered(self):
        return bool(self.buf)

    def _fill(self, timeout=None):
        if timeout is not None:
            self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        finally:
            if timeout is not None:
                self.sock.settimeout(60)
        if not chunk:
            raise _Closed()
        self.buf += chunk

    def wait_more(self, seconds):
        """Wait up to seconds for more lines behind the current one; return
        the lines already buffered (a pipelining client sent them)."""
        deadline = time.monotonic() + seconds
        while b"\n" not in self.buf and time.monotonic() < deadline:
            try:
                self._fill(timeout=max(0.01, deadline - time.monotonic()))
            except (socket.timeout, TimeoutError):
                break
        return self.buf.decode("utf-8", "replace").split("\r\n")[:-1] if self.buf else []

    def read_line(self, timeout=None):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 10000:
                raise _Closed()
            try:
                self._fill(timeout)
            except (socket.timeout, TimeoutError):
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("utf-8", "replace")

    def read_data(self):
        """Everything up to and including CRLF.CRLF (the 354 was sent just
        after the DATA line, so the data starts at the beginning of a line)."""
        while True:
            if self.buf.startswith(b".\r\n"):
                raw, self.buf = b".\r\n", self.buf[3:]
                return raw
            i = self.buf.find(b"\r\n.\r\n")
            if i >= 0:
                raw, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                return raw
            self._fill()

    def send_line(self, line):
        self.sock.sendall((line + "\r\n").encode())

    def send_lines(self, code, lines):
        out = "".join("%s-%s\r\n" % (code, ln) for ln in lines[:-1])
        out += "%s %s\r\n" % (code, lines[-1])
        self.sock.sendall(out.encode())

    def start_tls(self, ctx):
        self.sock.settimeout(30)
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.sock.settimeout(60)


def unstuff(raw):
    """DATA as on the wire (ending CRLF.CRLF, or just .CRLF) -> the message."""
    if raw == b".\r\n":
        return b""
    assert raw.endswith(b"\r\n.\r\n")
    body = raw[:-3]
    lines = body.split(b"\r\n")
    return b"\r\n".join(ln[1:] if ln.startswith(b".") else ln for ln in lines)


# --------------------------------------------------------------------------
# The lab: one DNS server, sinks on one port
# --------------------------------------------------------------------------

# Loopback addresses are handed out across the whole run, so that no test
# meets a late retry of an earlier test's message.
_next_ip = itertools.count(2)
_ip_lock = threading.Lock()


def next_ip():
    with _ip_lock:
        n = next(_next_ip)
    return "127.0.0.%d" % (2 + (n - 2) % 253)


class MXLab:
    """A DNS server plus SMTP sinks, all on one port (delivery.port)."""

    def __init__(self):
        self.dns = DNSServer().start()
        self.sinks = []
        self.port = self._pick_port()
        self._domains = itertools.count(1)

    @staticmethod
    def _pick_port():
        for _ in range(50):
            p = free_port()
            ok = True
            for ip in ("127.0.0.2", "127.0.0.254"):
                with socket.socket() as s:
                    try:
                        s.bind((ip, p))
                    except OSError:
                        ok = False
            if ok:
                return p
        raise RuntimeError("no free port for the sinks")

    def settings(self):
        return {"delivery.dns-servers": self.dns.address,
                "delivery.port": str(self.port)}

    def ip(self):
        """A fresh loopback address (for a sink, or for a host left down)."""
        return next_ip()

    def domain(self, prefix="d"):
        return "%s%d-%s.test" % (prefix, next(self._domains), os.urandom(3).hex())

    def sink(self, ip=None, start=True, **kw):
        s = Sink(ip or self.ip(), self.port, **kw)
        self.sinks.append(s)
        if start:
            s.start()
        return s

    def mx_domain(self, hosts, domain=None, prefix="d"):
        """A domain with MX records: hosts is a list of (preference, ip)
        (or just ips, preferences 10, 20, ...); each MX host is named
        mxN.DOMAIN with an A record.  Returns the domain."""
        domain = domain or self.domain(prefix)
        pairs = []
        for i, h in enumerate(hosts):
            pref, ip = h if isinstance(h, tuple) else (10 * (i + 1), h)
            name = "mx%d.%s" % (i + 1, domain)
            if ":" in ip:
                self.dns.set_aaaa(name, ip)
            else:
                self.dns.set_a(name, ip)
            pairs.append((pref, name))
        self.dns.set_mx(domain, *pairs)
        return domain

    def all_errors(self):
        return [(s.name, e) for s in self.sinks for e in s.errors()]

    def stop(self):
        for s in self.sinks:
            s.stop()
        self.dns.stop()


@pytest.fixture
def mxlab():
    lab = MXLab()
    yield lab
    lab.stop()


# For the queue suites, which import these two.

@pytest.fixture(scope="module")
def lab():
    """One MXLab for all tests of a module."""
    lab = MXLab()
    yield lab
    lab.stop()


@pytest.fixture(autouse=True)
def sinks_saw_no_protocol_errors(lab):
    """After each test: the sinks saw the server keep to the SMTP protocol."""
    before = len(lab.all_errors())
    yield
    errs = lab.all_errors()[before:]
    assert errs == [], "the server's SMTP client broke the protocol: %r" % errs


def lab_settings(lab, **extra):
    """Server settings that keep delivery on loopback and retries fast."""
    st = lab.settings()
    st.update({"queue.retry-min": "1", "queue.retry-max": "2",
               "relay.networks": "127.0.0.0/8",
               "hostname": "mw.example.test"})
    for k, v in extra.items():
        st[k.replace("__", ".").replace("_", "-")] = str(v)
    return st


# --------------------------------------------------------------------------
# Queue views through the CLI and on disk
# --------------------------------------------------------------------------

def queue_list(server):
    r = server.cli("queue", "list", "--json")
    assert r.returncode == 0, "queue list --json failed (%d): %s%s" % (
        r.returncode, r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert isinstance(out, list), "queue list --json is not an array: %r" % r.stdout[:300]
    return out


def queue_entry(server, qid):
    for e in queue_list(server):
        if e.get("id") == qid:
            return e
    return None


def queue_show(server, qid):
    r = server.cli("queue", "show", qid, "--json")
    assert r.returncode == 0, "queue show %s --json failed (%d): %s%s" % (
        qid, r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def queue_ids_on_disk(server):
    d = os.path.join(server.data, "queue", "env")
    try:
        return sorted(f for f in os.listdir(d) if not f.startswith("."))
    except FileNotFoundError:
        return []


def queue_id(server, marker, timeout=LIVE_TIMEOUT):
    """The id of the queued message that contains marker (its file
    queue/msg/ID), waiting for it to be there."""
    if isinstance(marker, str):
        marker = marker.encode()
    d = os.path.join(server.data, "queue", "msg")

    def find():
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            return None
        for n in names:
            if n.startswith("."):
                continue
            try:
                with open(os.path.join(d, n), "rb") as f:
                    if marker in f.read():
                        return n
            except (FileNotFoundError, IsADirectoryError):
                pass
        return None
    qid = wait_until(find, timeout=timeout)
    assert qid, "no queue/msg file contains %s (queue: %r)" % (marker, server.queue_files())
    return qid


def wait_gone(server, qid, timeout=DELIVERY_TIMEOUT):
    """Wait until qid is neither in `queue list` nor on disk."""
    def gone():
        if os.path.exists(os.path.join(server.data, "queue", "env", qid)):
            return False
        return queue_entry(server, qid) is None
    ok = wait_until(gone, timeout=timeout, interval=0.1)
    assert ok, "message %s still queued: %r" % (qid, queue_entry(server, qid))


def wait_entry(server, qid, pred, timeout=DELIVERY_TIMEOUT, what="condition"):
    last = [None]

    def probe():
        last[0] = queue_entry(server, qid)
        return last[0] is not None and pred(last[0])
    ok = wait_until(probe, timeout=timeout, interval=0.1)
    assert ok, "queue entry %s never met %s: %r" % (qid, what, last[0])
    return last[0]


# --------------------------------------------------------------------------
# delivery.log
# --------------------------------------------------------------------------

DLOG_RE = re.compile(r'(?:^|\s)id=(?P<id>\S+) rcpt=(?P<rcpt>\S+) relay=(?P<relay>\S*) '
                     r'status=(?P<status>sent|deferred|bounced|expired) reply="(?P<reply>.*)"\s*$')


def delivery_log(server):
    try:
        with open(os.path.join(server.data, "log", "delivery.log"), "r",
                  errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def dlog_entries(server, qid=None, rcpt=None, status=None):
    out = []
    for ln in delivery_log(server):
        m = DLOG_RE.search(ln)
        if not m:
            continue
        d = m.groupdict()
        d["line"] = ln
        if qid and d["id"] != qid:
            continue
        if rcpt and d["rcpt"].strip("<>").lower() != rcpt.lower():
            continue
        if status and d["status"] != status:
            continue
        out.append(d)
    return out


def wait_dlog(server, qid=None, rcpt=None, status=None, count=1, timeout=DELIVERY_TIMEOUT):
    got = wait_until(lambda: (lambda x: x if len(x) >= count else None)(
        dlog_entries(server, qid, rcpt, status)), timeout=timeout)
    assert got, "fewer than %d delivery.log line(s) id=%s rcpt=%s status=%s; it has:\n%s" % (
        count, qid, rcpt, status, "\n".join(delivery_log(server)[-30:]))
    return got


# --------------------------------------------------------------------------
# DSNs
# --------------------------------------------------------------------------

class DSN:
    """A delivery status notification as delivered to a local Maildir."""

    def __init__(self, raw):
        self.raw = raw
        self.msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.text = ""
        self.per_message = {}
        self.per_recipient = []       # list of dicts (lower-case field names)
        self.headers_part = None
        self.status_raw = None
        if self.msg.is_multipart():
            for part in self.msg.get_payload():
                ct = part.get_content_type()
                if ct == "text/plain" and not self.text:
                    self.text = part.get_payload(decode=True).decode("utf-8", "replace")
                elif ct == "message/delivery-status":
                    self._parse_status(part)
                elif ct in ("text/rfc822-headers", "message/rfc822", "message/rfc822-headers"):
                    p = part.get_payload()
                    if isinstance(p, list):
                        self.headers_part = "".join(x.as_string() for x in p)
                    else:
                        self.headers_part = part.get_payload(decode=True).decode("utf-8", "replace")

    def _parse_status(self, part):
        p = part.get_payload()
        if isinstance(p, list):
            blocks = [[(k.lower(), " ".join(str(v).split())) for k, v in b.items()] for b in p]
            self.status_raw = "\n\n".join(b.as_string() for b in p)
        else:
            text = part.get_payload(decode=True).decode("utf-8", "replace")
            self.status_raw = text
            blocks = []
            for chunk in re.split(r"\r?\n\r?\n", text.strip()):
                fields = []
                for ln in re.split(r"\r?\n(?![ \t])", chunk):
                    if ":" in ln:
                        k, v = ln.split(":", 1)
                        fields.append((k.strip().lower(), " ".join(v.split())))
                blocks.append(fields)
        if blocks:
            self.per_message = dict(blocks[0])
            self.per_recipient = [dict(b) for b in blocks[1:] if b]

    def header(self, name):
        v = self.msg.get(name)
        return None if v is None else " ".join(str(v).split())

    def recipient(self, addr):
        for r in self.per_recipient:
            if addr.lower() in r.get("final-recipient", "").lower():
                return r
        return None

    def __repr__(self):
        return "<DSN %r>" % self.raw[:3000]


def dsns(server, addr, subject_re=r"Undelivered Mail Returned to Sender", marker=None):
    out = []
    for p in server.new_files(addr):
        try:
            with open(p, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            continue
        d = DSN(raw)
        subj = d.header("Subject") or ""
        if not re.search(subject_re, subj):
            continue
        if marker is not None:
            m = marker.encode() if isinstance(marker, str) else marker
            if m not in raw:
                continue
        out.append(d)
    return out


def wait_dsn(server, addr, marker, subject_re=r"Undelivered Mail Returned to Sender",
             count=1, timeout=DELIVERY_TIMEOUT):
    got = wait_until(lambda: (lambda x: x if len(x) >= count else None)(
        dsns(server, addr, subject_re, marker)), timeout=timeout)
    assert got, "no DSN (%s) with %s in %s's Maildir; new/ has %r\nqueue: %r\ndelivery.log:\n%s" % (
        subject_re, marker, addr, server.new_files(addr),
        server.cli("queue", "list", "--json").stdout[:2000],
        "\n".join(delivery_log(server)[-20:]))
    return got


# --------------------------------------------------------------------------
# Sending
# --------------------------------------------------------------------------

def msg_for(tok, rcpts, sender, body=None, extra=b""):
    body = body if body is not None else ("Hello %s.\r\nSecond line.\r\n" % tok).encode()
    to = ", ".join("<%s>" % r for r in rcpts)
    return (("From: <%s>\r\nTo: %s\r\nSubject: test %s\r\nMessage-ID: <%s@mw.test>\r\n"
             "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n"
             % (sender or "nobody@nowhere.test", to, tok, tok)).encode() + extra + b"\r\n" + body)


def never(fn, seconds):
    """Poll fn for seconds; True if it never returned something truthy.
    For "this must not happen" once the event that would cause it is
    over.  Not scaled by MW_TIMEOUT_FACTOR: a window that is too short
    under a sanitizer only makes the check weaker, never flaky."""
    return not wait_until(fn, timeout=seconds, interval=0.1)


def wait_past(unix_time):
    """Wait until the wall clock is past unix_time (a server's scheduled
    time, read from `queue list`): what was due by then has had its turn."""
    while time.time() <= unix_time:
        time.sleep(0.1)


def send(server, sender, rcpts, msg, user=None, listener=None):
    """One message over SMTP: authenticated on submission as user, or
    unauthenticated on the MX port (relay.networks lets 127.0.0.1 relay).
    Asserts the final 250."""
    if user:
        c = server.authed(listener or "submission", user=user)
    else:
        c = server.conn(listener or "smtp")
        expect(c.ehlo("client.test"), 250)
    try:
        r = c.send_message(sender, rcpts, msg)
        expect(r, 250)
        expect(c.cmd("QUIT"), 221)
    finally:
        c.close()
    return r
