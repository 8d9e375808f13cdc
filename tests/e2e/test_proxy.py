"""PROXY protocol v1/v2: the real client address is the one the guard counts
and blocks; untrusted or malformed headers close the connection; IPv6 is
counted per /64; and Mailwarden behind a real HAProxy (send-proxy-v2)."""

import ipaddress
import os
import shutil
import signal
import socket
import struct
import subprocess
import time

import pytest

from conftest import (SOCK_TIMEOUT, LIVE_TIMEOUT, ALICE, expect, free_port,
                      tls_context, wait_until, make_message)

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport=40000):
    fam = "TCP6" if ":" in src else "TCP4"
    dst = "::1" if fam == "TCP6" else "127.0.0.1"
    return ("PROXY %s %s %s %d 25\r\n" % (fam, src, dst, sport)).encode()


def v2(src, sport=40000, local=False):
    if local:
        return V2_SIG + bytes([0x20, 0x00, 0, 0])
    a = ipaddress.ip_address(src)
    if a.version == 4:
        body = a.packed + bytes([127, 0, 0, 1]) + struct.pack("!HH", sport, 25)
        fam = 0x11
    else:
        body = a.packed + ipaddress.ip_address("::1").packed + \
            struct.pack("!HH", sport, 25)
        fam = 0x21
    return V2_SIG + bytes([0x21, fam]) + struct.pack("!H", len(body)) + body


def greet(port, header, source="127.0.0.1"):
    """Connects from source, sends header; returns the first line or b''
    when the server closed without a word."""
    s = socket.create_connection(("127.0.0.1", port), timeout=SOCK_TIMEOUT,
                                 source_address=(source, 0))
    try:
        s.sendall(header)
        data = b""
        while b"\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        return data
    except ConnectionResetError:
        return b""
    finally:
        s.close()


PROXY_ON = {
    "smtp.proxy-protocol": "on",
    "smtps.proxy-protocol": "on",
    "proxy.trusted": "127.0.0.1",
}


def test_v1_and_v2_name_the_client(fresh_server):
    srv = fresh_server(settings=PROXY_ON)
    assert greet(srv.ports["smtp"], v1("203.0.113.7")).startswith(b"220 ")
    assert greet(srv.ports["smtp"], v2("198.51.100.9")).startswith(b"220 ")
    assert greet(srv.ports["smtp"], v2("2001:db8::5")).startswith(b"220 ")
    log = os.path.join(srv.log_dir(), "mailwarden.log")
    text = open(log).read()
    for ip in ("203.0.113.7", "198.51.100.9", "2001:db8::5"):
        assert "event=connect listener=smtp ip=%s " % ip in text


def test_v2_local_and_v1_unknown_keep_the_peer(fresh_server):
    srv = fresh_server(settings=PROXY_ON)
    assert greet(srv.ports["smtp"], v2(None, local=True)).startswith(b"220 ")
    assert greet(srv.ports["smtp"], b"PROXY UNKNOWN\r\n").startswith(b"220 ")


def test_session_works_after_header(fresh_server):
    srv = fresh_server(settings=PROXY_ON)
    s = socket.create_connection(("127.0.0.1", srv.ports["smtp"]),
                                 timeout=SOCK_TIMEOUT)
    s.sendall(v1("203.0.113.50"))
    f = s.makefile("rb")
    assert f.readline().startswith(b"220 ")
    s.sendall(b"EHLO x\r\n")
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    assert line.startswith(b"250 ")
    tok = "proxytok%d" % os.getpid()
    for cmd, code in ((b"MAIL FROM:<a@other.test>\r\n", b"250"),
                      (b"RCPT TO:<%s>\r\n" % ALICE.encode(), b"250"),
                      (b"DATA\r\n", b"354")):
        s.sendall(cmd)
        assert f.readline().startswith(code)
    s.sendall(b"Subject: " + tok.encode() + b"\r\n\r\nhi\r\n.\r\n")
    assert f.readline().startswith(b"250")
    s.close()
    (raw,) = srv.wait_mail(ALICE, tok)
    assert b"[203.0.113.50]" in raw


def test_tls_client_hello_in_same_segment_as_header(fresh_server):
    srv = fresh_server(settings=PROXY_ON)
    s = socket.create_connection(("127.0.0.1", srv.ports["smtps"]),
                                 timeout=SOCK_TIMEOUT)
    s.sendall(v2("198.51.100.77"))
    t = tls_context().wrap_socket(s)
    assert t.recv(100).startswith(b"220 ")
    t.close()


@pytest.mark.parametrize("header", [
    b"PROXY TCP4 1.2.3.4\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 25\r\n",
    b"PROXY TCP4 ::1 127.0.0.1 1 25\r\n",
    b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 junk\r\n",
    b"PROXY TCP4 1.2.3.4\x00 5.6.7.8 1 2\r\n",
    b"EHLO client.test\r\n",
    V2_SIG + bytes([0x31, 0x11, 0, 12]) + bytes(12),
    V2_SIG + bytes([0x21, 0x11, 0, 4]) + bytes(4),
    b"PROXY " + b"A" * 200,
])
def test_malformed_header_closes(fresh_server_module, header):
    srv = fresh_server_module
    assert greet(srv.ports["smtp"], header) == b""


@pytest.fixture(scope="module")
def fresh_server_module():
    from conftest import make_server, finish_server
    s = make_server(settings=PROXY_ON)
    yield s
    finish_server(s)


def test_untrusted_peer_is_refused(fresh_server):
    settings = dict(PROXY_ON)
    settings["proxy.trusted"] = "127.0.0.2"
    srv = fresh_server(settings=settings)
    # From 127.0.0.1, which is not trusted: closed without a greeting.
    assert greet(srv.ports["smtp"], v1("203.0.113.7")) == b""
    # From the trusted address it works.
    assert greet(srv.ports["smtp"], v1("203.0.113.7"),
                 source="127.0.0.2").startswith(b"220 ")


def test_header_not_accepted_where_off(fresh_server):
    srv = fresh_server(settings={"proxy.trusted": "127.0.0.1"})
    line = greet(srv.ports["smtp"], v1("203.0.113.7"))
    # No PROXY support on this listener: a normal greeting, and the header
    # is just a bad command.
    assert line.startswith(b"220 ")


def test_dos_counts_the_real_client(fresh_server):
    settings = dict(PROXY_ON)
    settings["guard.rule.dos.count"] = "3"
    srv = fresh_server(settings=settings)
    port = srv.ports["smtp"]
    for _ in range(3):
        assert greet(port, v1("203.0.113.7")).startswith(b"220 ")
    assert greet(port, v1("203.0.113.7")).startswith(b"421 4.7.0")
    # Another client behind the same proxy is not affected.
    assert greet(port, v1("203.0.113.8")).startswith(b"220 ")
    # Blocks reach the database a moment after they take effect.
    assert wait_until(lambda: "203.0.113.7/32" in
                      srv.cli_ok("ban", "list", "--json").stdout)
    assert "203.0.113.8" not in srv.cli_ok("ban", "list", "--json").stdout


def test_ipv6_counted_per_64(fresh_server):
    settings = dict(PROXY_ON)
    settings["guard.rule.dos.count"] = "3"
    srv = fresh_server(settings=settings)
    port = srv.ports["smtp"]
    # Rotating addresses inside one /64 evades nothing.
    for i in range(3):
        assert greet(port, v2("2001:db8:1:2::%x" % (i + 1))).startswith(b"220")
    assert greet(port, v2("2001:db8:1:2:ffff::9")).startswith(b"421 4.7.0")
    # The neighbouring /64 is someone else.
    assert greet(port, v2("2001:db8:1:3::1")).startswith(b"220 ")
    assert wait_until(lambda: "2001:db8:1:2::/64" in
                      srv.cli_ok("ban", "list").stdout)


def test_ipv6_prefix_setting(fresh_server):
    settings = dict(PROXY_ON)
    settings["guard.rule.dos.count"] = "2"
    settings["guard.ipv6-prefix"] = "128"
    srv = fresh_server(settings=settings)
    port = srv.ports["smtp"]
    for i in range(2):
        assert greet(port, v2("2001:db8::1")).startswith(b"220")
    assert greet(port, v2("2001:db8::1")).startswith(b"421")
    assert greet(port, v2("2001:db8::2")).startswith(b"220")


HAPROXY_CFG = """
global
    maxconn 100
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend mx
    bind 127.0.0.1:{front}
    default_backend mailwarden
backend mailwarden
    server mw 127.0.0.1:{back} send-proxy-v2
"""


@pytest.mark.skipif(shutil.which("haproxy") is None,
                    reason="haproxy not installed (scripts/install-deps --test)")
def test_behind_real_haproxy(fresh_server, tmp_path):
    settings = {"smtp.proxy-protocol": "on", "proxy.trusted": "127.0.0.1",
                "guard.rule.dos.count": "3"}
    srv = fresh_server(settings=settings)
    front = free_port()
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(HAPROXY_CFG.format(front=front, back=srv.ports["smtp"]))
    hp = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def up():
            try:
                socket.create_connection(("127.0.0.1", front), 0.5).close()
                return True
            except OSError:
                return False
        # The probe above is a connection through HAProxy from 127.0.0.1:
        # it counts. Clients below use other loopback addresses.
        assert wait_until(up)
        client = "127.0.0.9"
        for _ in range(3):
            assert greet(front, b"", source=client).startswith(b"220 ")
        # The client's own address (not HAProxy's) was counted and blocked.
        assert greet(front, b"", source=client).startswith(b"421 4.7.0")
        assert greet(front, b"", source="127.0.0.10").startswith(b"220 ")
        assert wait_until(lambda: "127.0.0.9/32" in
                          srv.cli_ok("ban", "list").stdout)
        assert "127.0.0.1/32" not in srv.cli_ok("ban", "list").stdout
    finally:
        hp.send_signal(signal.SIGTERM)
        try:
            hp.wait(5)
        except subprocess.TimeoutExpired:
            hp.kill()
            hp.wait()
