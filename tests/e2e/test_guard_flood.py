"""Flood drops (issue 4): a blocked or denied range that keeps connecting is
refused with 421 for its first guard.flood-drop connections, then dropped in
the kernel: its SYNs go unanswered on every listener that does not take PROXY
headers, until the block or deny entry ends. Other addresses, and addresses
allowed inside a denied range, are never dropped."""

import os
import socket

import pytest

from conftest import FACTOR, wait_until
from guardlib import (connect_outcome, guarded, lines_matching, log_lines, rules, settle,
                      shared_server, stats, wait_lines, wait_outcome, wait_stats)

# The kernel (6.x) lets only CAP_NET_ADMIN attach a filter to a TCP socket:
# the server's helper has it when the server was started as root.
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="kernel drops need the server "
                                "started as root (its filter helper keeps CAP_NET_ADMIN)")

N = 5             # guard.flood-drop for these tests
SYN_WAIT = 0.5    # loopback answers a SYN in microseconds: 0.5 s is "never"
DOS_BLOCK = 10    # seconds: long enough for a loaded ASan run to flood it first


@pytest.fixture(scope="module")
def srv():
    yield from shared_server({"guard.flood-drop": str(N),
                              "submission.proxy-protocol": "on",
                              "proxy.trusted": "127.0.0.1",
                              **rules(dos=(3, 300, DOS_BLOCK))})


def answered(port, src, timeout=SYN_WAIT):
    """True when a TCP connection from src to port completes (the SYN was
    answered), False when it does not within timeout."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        return True
    except (socket.timeout, TimeoutError):
        return False
    finally:
        s.close()


def flood(srv, src, n=N):
    """n connections from src, each refused with 421."""
    for i in range(n):
        assert connect_outcome(srv.ports["smtp"], src) == "refused", "refusal %d" % (i + 1)


def test_banned_address_is_dropped_after_n_refusals_until_lifted(srv):
    ip, other = "127.0.0.71", "127.0.0.72"
    srv.cli_ok("ban", "add", ip)
    wait_outcome(srv.ports["smtp"], ip, "refused")
    flood(srv, ip, N - 1)   # wait_outcome's refusal was the first
    # The Nth refusal switched the drop on: no SYN of ip is answered now,
    # on any listener without PROXY headers.
    for name in ("smtp", "smtps", "pop3", "imap"):
        assert not answered(srv.ports[name], ip), (name, log_lines(srv, "intrusion.log")[-20:])
    # The proxied listener keeps its socket unfiltered (its peer is the proxy).
    assert answered(srv.ports["submission"], ip)
    assert answered(srv.ports["smtp"], other)
    assert connect_outcome(srv.ports["smtp"], other) == "accepted"
    line, = wait_lines(srv, "intrusion.log", r"event=flood-drop ip=127\.0\.0\.71/32 refused=%d\b" % N)
    st = wait_stats(srv, lambda st: st["flood_dropped"] >= 1)
    assert st["flood_drops"] >= 1, st
    # Lifted: answered and greeted again; the drop's end is logged.
    srv.cli_ok("ban", "del", ip)
    assert wait_until(lambda: answered(srv.ports["smtp"], ip))
    wait_outcome(srv.ports["smtp"], ip, "accepted")
    wait_lines(srv, "intrusion.log", r"event=flood-drop-end ip=127\.0\.0\.71/32 seconds=\d+")


def test_fewer_refusals_keep_getting_421(srv):
    ip = "127.0.0.73"
    srv.cli_ok("ban", "add", ip)
    wait_outcome(srv.ports["smtp"], ip, "refused")
    flood(srv, ip, N - 2)   # N - 1 refusals in all, each a 421
    assert not lines_matching(srv, "intrusion.log", r"event=flood-drop ip=127\.0\.0\.73/")
    srv.cli_ok("ban", "del", ip)


def test_dos_block_drops_and_the_drop_ends_with_the_block(srv):
    ip = "127.0.0.74"
    for _ in range(3):
        assert connect_outcome(srv.ports["smtp"], ip) == "accepted"
    flood(srv, ip)
    assert not answered(srv.ports["smtp"], ip), "\n".join(log_lines(srv, "intrusion.log")[-20:])
    # The dos block ends; then the address is answered and greeted.
    assert wait_until(lambda: answered(srv.ports["smtp"], ip), timeout=DOS_BLOCK + 15 * FACTOR)
    assert connect_outcome(srv.ports["smtp"], ip) == "accepted"


def test_denied_range_is_dropped_whole(srv):
    rng = "127.0.6.0/24"
    srv.cli_ok("deny", "add", rng)
    wait_outcome(srv.ports["smtp"], "127.0.6.1", "refused")
    flood(srv, "127.0.6.1", N - 1)
    assert not answered(srv.ports["smtp"], "127.0.6.1")
    assert not answered(srv.ports["smtp"], "127.0.6.200")
    assert answered(srv.ports["smtp"], "127.0.7.1")
    srv.cli_ok("deny", "del", rng)
    assert wait_until(lambda: answered(srv.ports["smtp"], "127.0.6.200"))


def test_denied_range_with_an_allowed_hole_is_not_dropped(srv):
    srv.cli_ok("deny", "add", "127.0.5.0/24")
    srv.cli_ok("allow", "add", "127.0.5.7/32")
    try:
        wait_outcome(srv.ports["smtp"], "127.0.5.1", "refused")
        flood(srv, "127.0.5.1", N + 3)
        # Dropping the /24 would shut out the allowed address: it stays on 421.
        assert connect_outcome(srv.ports["smtp"], "127.0.5.1") == "refused"
        assert connect_outcome(srv.ports["smtp"], "127.0.5.7") == "accepted"
    finally:
        srv.cli_ok("allow", "del", "127.0.5.7/32")
        srv.cli_ok("deny", "del", "127.0.5.0/24")


def test_flood_drop_off_always_replies(fresh_server):
    s = guarded(fresh_server, settings={"guard.flood-drop": "0"})
    ip = "127.0.0.75"
    s.cli_ok("ban", "add", ip)
    wait_outcome(s.ports["smtp"], ip, "refused")
    flood(s, ip, 3 * N)
    assert stats(s)["flood_drops"] == 0
    # Switched on live: dropped within the next N refusals.
    s.set("guard.flood-drop", str(N))
    tries = []

    def dropped():
        if not answered(s.ports["smtp"], ip):
            return True
        tries.append(connect_outcome(s.ports["smtp"], ip))
        return False
    assert wait_until(dropped, timeout=10 * FACTOR), tries
    assert set(tries) <= {"refused"}, tries
    assert wait_stats(s, lambda st: st["flood_drops"] == 1)


def helper_of(server_pid):
    """The filter helper: the server's child named mailwarden-filt."""
    kids = []
    for task in os.listdir("/proc/%d/task" % server_pid):
        with open("/proc/%d/task/%s/children" % (server_pid, task)) as f:
            kids += [int(p) for p in f.read().split()]
    for pid in kids:
        with open("/proc/%d/comm" % pid) as f:
            if f.read().strip() == "mailwarden-filt":
                return pid
    return None


def test_filter_helper_keeps_only_cap_net_admin(srv):
    pid = helper_of(srv.pid)
    assert pid is not None, "no filter helper under the server"
    status = dict(line.split(":", 1) for line in open("/proc/%d/status" % pid))
    uids = status["Uid"].split()
    assert "0" not in uids, status["Uid"]
    assert int(status["CapEff"], 16) == 1 << 12, status["CapEff"]   # CAP_NET_ADMIN
    assert int(status["CapPrm"], 16) == 1 << 12, status["CapPrm"]
    assert status["NoNewPrivs"].strip() == "1"
    # Nothing open but stdio and its socket to the server.
    assert sorted(int(fd) for fd in os.listdir("/proc/%d/fd" % pid)) == [0, 1, 2, 3]
