"""Settings changed with the CLI while the server runs take effect without a
restart (same process): listeners enabled/disabled and moved, AUTH switched,
relay networks, size limit, host name."""

import socket

import pytest

from conftest import (ALICE, LIVE_TIMEOUT, SMTPConn, expect, free_port, greets, ipv6_available,
                      port_refused, wait_until)


def answers(port, host="127.0.0.1", tls=False):
    return greets(SMTPConn, port, lambda g: g.code == 220, host=host, implicit_tls=tls)


def same_process(s, pid):
    assert s.alive() and s.pid == pid, "the server restarted or died"


@pytest.mark.parametrize("listener", ["smtp", "submission", "smtps"])
def test_disable_and_enable_listener(fresh_server, listener):
    s = fresh_server()
    pid = s.pid
    port = s.ports[listener]
    tls = listener == "smtps"
    assert answers(port, tls=tls)
    s.set(listener + ".enabled", "off")
    assert wait_until(lambda: port_refused(port)), \
        "%s still accepts %ss after disabling" % (listener, LIVE_TIMEOUT)
    other = "submission" if listener == "smtp" else "smtp"
    assert answers(s.ports[other]), "disabling %s broke %s" % (listener, other)
    same_process(s, pid)
    s.set(listener + ".enabled", "on")
    assert wait_until(lambda: answers(port, tls=tls)), "%s not back after enabling" % listener
    same_process(s, pid)


def test_move_smtp_port(fresh_server):
    s = fresh_server()
    pid = s.pid
    old = s.ports["smtp"]
    new = free_port()
    s.set("smtp.address", "127.0.0.1:%d" % new)
    assert wait_until(lambda: answers(new)), "smtp does not answer on its new port"
    assert wait_until(lambda: port_refused(old)), "old smtp port still open"
    same_process(s, pid)
    s.ports["smtp"] = new
    with s.conn() as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)


def test_existing_session_survives_listener_move(fresh_server):
    """Beyond the written contract, but what an administrator expects: moving a
    listener does not cut sessions already in progress."""
    s = fresh_server()
    with s.conn() as c:
        expect(c.ehlo(), 250)
        new = free_port()
        s.set("smtp.address", "127.0.0.1:%d" % new)
        assert wait_until(lambda: answers(new))
        expect(c.cmd("NOOP"), 250)
        expect(c.mail("sender@other.test"), 250)


@pytest.mark.skipif(not ipv6_available(), reason="no IPv6 loopback")
def test_listener_on_ipv6_loopback(fresh_server):
    s = fresh_server()
    port = free_port("::1")
    s.set("smtp.address", "[::1]:%d" % port)
    assert wait_until(lambda: answers(port, host="::1")), "no answer on [::1]:%d" % port
    with SMTPConn(port, host="::1") as c:
        expect(c.ehlo(), 250)
        expect(c.mail("sender@other.test"), 250)
        expect(c.rcpt(ALICE), 250)


def _auth_after_tls(s):
    with s.conn() as c:
        expect(c.ehlo(), 250)
        c.starttls()
        r = expect(c.ehlo(), 250)
        return "AUTH" in r.keywords


def test_switch_auth_on_smtp(fresh_server):
    s = fresh_server()
    pid = s.pid
    assert not _auth_after_tls(s)
    s.set("smtp.auth", "on")
    assert wait_until(lambda: _auth_after_tls(s)), "smtp.auth on: AUTH not advertised after STARTTLS"
    with s.conn() as c:
        r = expect(c.ehlo(), 250)
        assert "AUTH" not in r.keywords, "AUTH advertised before TLS with auth.plaintext off: %r" % r
        expect(c.auth_plain(ALICE, s.users[ALICE]), 538, "5.7.11")
        c.starttls()
        expect(c.ehlo(), 250)
        expect(c.auth_plain(ALICE, s.users[ALICE]), 235, "2.7.0")
        # An authenticated user may relay through the smtp listener too.
        expect(c.mail(ALICE), 250)
        expect(c.rcpt("friend@other.test"), 250)
    s.set("smtp.auth", "off")

    def auth_gone():
        with s.conn() as c:
            expect(c.ehlo(), 250)
            c.starttls()
            expect(c.ehlo(), 250)
            return c.auth_plain(ALICE, s.users[ALICE]).code == 500

    assert wait_until(auth_gone), "smtp.auth off: AUTH still works"
    same_process(s, pid)


def test_relay_networks_live(fresh_server):
    s = fresh_server()

    def rcpt_code():
        with s.conn() as c:
            expect(c.ehlo(), 250)
            expect(c.mail("sender@other.test"), 250)
            return c.rcpt("friend@other.test").code

    assert rcpt_code() == 554
    s.set("relay.networks", "127.0.0.0/8")
    assert wait_until(lambda: rcpt_code() == 250), "relay.networks change not applied"
    s.set("relay.networks", "")
    assert wait_until(lambda: rcpt_code() == 554), "emptied relay.networks not applied"


def test_max_size_live(fresh_server):
    s = fresh_server()

    def size():
        with s.conn() as c:
            return expect(c.ehlo(), 250).ehlo_param("SIZE")

    s.set("message.max-size", "123456")
    assert wait_until(lambda: size() == ["123456"]), "SIZE now %r" % size()


def test_hostname_live(fresh_server):
    s = fresh_server()
    s.set("hostname", "mx-live.example.test")

    def greeting_has_name():
        with s.conn() as c:
            return "mx-live.example.test" in c.greeting.text

    assert wait_until(greeting_has_name), "hostname not in the greeting"


def test_address_in_use_does_not_kill_server(fresh_server):
    s = fresh_server()
    pid = s.pid
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        s.set("smtp.address", "127.0.0.1:%d" % busy.getsockname()[1])
        # Give the server its chance to try (and fail) to bind: wait until the
        # other listeners have certainly seen the same reload.
        s.set("message.max-size", "654321")

        def reloaded():
            with s.conn("submission") as c:
                return expect(c.ehlo(), 250).ehlo_param("SIZE") == ["654321"]

        assert wait_until(reloaded)
        same_process(s, pid)
        new = free_port()
        s.set("smtp.address", "127.0.0.1:%d" % new)
        assert wait_until(lambda: answers(new)), "smtp does not recover on a free port"
        same_process(s, pid)
    finally:
        busy.close()
