"""The loopback DNS server and SMTP sinks of mxlib.py, checked on their own
(no Mailwarden involved), so that a failure of the queue tests is never the
fixtures' fault."""

import smtplib
import socket

from dnslib import QTYPE, RCODE

from conftest import tls_context
from mxlib import dns_query, mxlab, unstuff  # noqa: F401,F811  (mxlab: a fixture)


def test_dns_answers_mx_a_aaaa_nxdomain_nodata_null_mx(mxlab):
    d = mxlab.mx_domain([(20, "127.0.0.9"), (10, "127.0.0.8")])
    mxlab.dns.set_a("plain.test", "127.0.0.7")
    mxlab.dns.set_aaaa("v6.test", "::1")
    mxlab.dns.set_null_mx("nullmx.test")
    port = mxlab.dns.port
    for tcp in (False, True):
        r = dns_query(port, d, "MX", tcp=tcp)
        assert r.header.rcode == RCODE.NOERROR
        got = sorted((rr.rdata.preference, str(rr.rdata.label)) for rr in r.rr)
        assert got == [(10, "mx2.%s." % d), (20, "mx1.%s." % d)], got
        r = dns_query(port, "mx2." + d, "A", tcp=tcp)
        assert [str(rr.rdata) for rr in r.rr] == ["127.0.0.8"]
    r = dns_query(port, "plain.test", "MX")
    assert r.header.rcode == RCODE.NOERROR and r.rr == []
    r = dns_query(port, "plain.test", "A")
    assert [str(rr.rdata) for rr in r.rr] == ["127.0.0.7"]
    r = dns_query(port, "v6.test", "AAAA")
    assert [str(rr.rdata) for rr in r.rr] == ["::1"]
    r = dns_query(port, "nowhere.test", "MX")
    assert r.header.rcode == RCODE.NXDOMAIN and r.rr == []
    r = dns_query(port, "nullmx.test", "MX")
    assert [(rr.rdata.preference, str(rr.rdata.label)) for rr in r.rr] == [(0, ".")]
    assert r.rr[0].rtype == QTYPE.MX
    assert mxlab.dns.asked(d, "MX")


def test_sink_records_transactions_and_follows_its_script(mxlab):
    sink = mxlab.sink(offer_starttls=True)
    sink.rcpt("temp@x.test", "451 4.2.0 later", times=1)
    sink.rcpt("gone@x.test", "550 5.1.1 no such user")
    msg = b"Subject: hi\r\n\r\n.leading dot\r\n..two\r\nend\r\n"
    with smtplib.SMTP(sink.ip, sink.port, local_hostname="client.test", timeout=10) as c:
        c.ehlo()
        assert c.has_extn("starttls") and c.has_extn("pipelining")
        c.starttls(context=tls_context())
        c.ehlo()
        assert not c.has_extn("starttls")
        refused = c.sendmail("s@y.test", ["ok@x.test", "temp@x.test", "gone@x.test"], msg)
        assert refused["temp@x.test"][0] == 451 and refused["gone@x.test"][0] == 550
        c.sendmail("", ["temp@x.test"], msg)
    (s,) = sink.sessions
    assert s.tls and s.ehlo == "client.test"
    t1, t2 = sink.delivered()
    assert t1.mail_from == "s@y.test" and t1.rcpts == ["ok@x.test"]
    assert t1.rcpt_tried == ["ok@x.test", "temp@x.test", "gone@x.test"]
    assert t1.data == msg and t1.raw_data.endswith(b"\r\n.\r\n")
    assert b"\r\n...two\r\n" in t1.raw_data
    assert t2.mail_from == "" and t2.rcpts == ["temp@x.test"]
    assert sink.errors() == []
    assert unstuff(b".\r\n") == b""


def test_sink_down_host_refuses_and_greeting_and_helo_scripts(mxlab):
    down = mxlab.ip()
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((down, mxlab.port)) != 0
    busy = mxlab.sink(greeting="421 4.3.2 busy")
    with socket.create_connection((busy.ip, busy.port), timeout=5) as s:
        assert s.recv(100).startswith(b"421 ")
    old = mxlab.sink(ehlo_reply="502 5.5.2 no EHLO here", pipelining=False)
    with smtplib.SMTP(old.ip, old.port, local_hostname="c.test", timeout=10) as c:
        c.sendmail("a@b.test", ["x@y.test"], b"Subject: x\r\n\r\nbody\r\n")
    (t,) = old.delivered()
    assert t.session.verb == "HELO" and t.session.ehlo_tried[0][0] == "EHLO"
    old.stop()
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((old.ip, old.port)) != 0


def test_sink_detects_pipelining(mxlab):
    sink = mxlab.sink(hold_mail=0.3)
    with socket.create_connection((sink.ip, sink.port), timeout=5) as s:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO c.test\r\n")
        while f.readline()[3:4] == b"-":
            pass
        s.sendall(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@y.test>\r\nDATA\r\n")
        assert f.readline().startswith(b"250")
        assert f.readline().startswith(b"250")
        assert f.readline().startswith(b"354")
        s.sendall(b"hi\r\n.\r\nMAIL FROM:<a@b.test>\r\n")
        assert f.readline().startswith(b"250")
        assert f.readline().startswith(b"250")   # the second MAIL, alone
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221")
    (sess,) = sink.sessions
    assert sess.pipelined[0] == ("MAIL", ["RCPT TO:<x@y.test>", "DATA"])
    assert sess.pipelined[1] == ("MAIL", [])


def test_sink_auth_after_starttls(mxlab):
    sink = mxlab.sink(offer_starttls=True, auth_users={"u": "p w"})
    with smtplib.SMTP(sink.ip, sink.port, local_hostname="c.test", timeout=10) as c:
        c.ehlo()
        assert not c.has_extn("auth")
        c.starttls(context=tls_context())
        c.ehlo()
        assert c.has_extn("auth")
        c.login("u", "p w")
        c.sendmail("a@b.test", ["x@y.test"], b"Subject: x\r\n\r\nbody\r\n")
    (s,) = sink.sessions
    assert s.auth[1:] == ("u", "p w") and s.auth_tried[0][1] is True
