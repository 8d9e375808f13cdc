"""mbsync (Debian isync) against Mailwarden over IMAPS with its self-signed
certificate (CertificateFile: a host certificate is trusted as it is):
existing mail pulled, a local message and a local folder pushed, flag
changes both ways, deletions both ways, and a second run that changes
nothing.  The configuration and the local Maildir live in the test's
temporary directory; HOME points there too."""

import os
import re
import shutil
import ssl
import subprocess
import time

import pytest

from conftest import FACTOR, deliver, new_user, token
from imaplib_helpers import crlf, files_with, login, selected

MBSYNC = shutil.which("mbsync")
pytestmark = pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed "
                                "(isync; scripts/install-deps --test)")


CONFIG = """IMAPAccount remote
Host 127.0.0.1
Port {port}
User {user}
Pass {password}
SSLType IMAPS
CertificateFile {cert}
SystemCertificates no
AuthMechs LOGIN
Timeout {timeout}

IMAPStore remote
Account remote

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
"""


class Sync:
    def __init__(self, server, user, tmp):
        self.server, self.user, self.tmp = server, user, str(tmp)
        self.local = os.path.join(self.tmp, "mail")
        os.makedirs(self.local)
        cert = os.path.join(self.tmp, "server.pem")
        with open(cert, "w") as f:
            f.write(ssl.get_server_certificate(("127.0.0.1", server.ports["imaps"])))
        self.cfg = os.path.join(self.tmp, "mbsyncrc")
        with open(self.cfg, "w") as f:
            f.write(CONFIG.format(port=server.ports["imaps"], user=user,
                                  password=server.users[user], cert=cert, local=self.local,
                                  timeout=int(20 * FACTOR)))

    def run(self):
        env = dict(os.environ, HOME=self.tmp)
        r = subprocess.run([MBSYNC, "-c", self.cfg, "-a"], capture_output=True, text=True,
                           env=env, timeout=90 * FACTOR)
        assert r.returncode == 0, "mbsync failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr)
        return r

    def folder(self, name="INBOX"):
        return os.path.join(self.local, name)

    def files(self, name="INBOX"):
        """{path: contents} of the local folder's messages (new/ and cur/)."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.folder(name), sub)
            if not os.path.isdir(d):
                continue
            for f in os.listdir(d):
                with open(os.path.join(d, f), "rb") as fh:
                    out[os.path.join(d, f)] = fh.read()
        return out

    def find(self, marker, name="INBOX"):
        got = [p for p, data in self.files(name).items() if marker.encode() in data]
        assert len(got) <= 1, got
        return got[0] if got else None

    def add(self, data, name="INBOX", info=""):
        d = self.folder(name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        uniq = "%d.M%dP%d.localhost" % (time.time(), time.time_ns() % 1000000, os.getpid())
        tmp = os.path.join(d, "tmp", uniq)
        with open(tmp, "wb") as f:
            f.write(data)
        dst = os.path.join(d, "cur" if info else "new", uniq + ((":2," + info) if info else ""))
        os.rename(tmp, dst)
        return dst


def unlocal(data):
    """A local copy as the server has it: CRLF, without mbsync's X-TUID."""
    return crlf(re.sub(rb"(?m)^X-TUID: [^\n]*\n", b"", data))


def local_flags(path):
    name = os.path.basename(path)
    return name.split(":2,", 1)[1] if ":2," in name else ""


def set_local_flags(path, letters):
    """Renames a local message to cur/ with these Maildir flags."""
    d = os.path.dirname(os.path.dirname(path))
    base = os.path.basename(path).split(":2,")[0]
    dst = os.path.join(d, "cur", base + ":2," + "".join(sorted(letters)))
    os.rename(path, dst)
    return dst


def server_view(s, u, folder="INBOX"):
    """{token-less key: (flags, body)} of a server folder, by Subject."""
    with selected(s, u, folder, examine=True) as c:
        r = c.cmd("FETCH 1:* (FLAGS BODY.PEEK[])")
        out = {}
        if r.ok:
            for _, it in r.fetches():
                m = re.search(rb"Subject: ([^\r\n]*)", it["BODY[]"])
                out[m.group(1).decode()] = (set(str(f) for f in it["FLAGS"]) - {"\\Recent"},
                                            it["BODY[]"])
        c.logout()
    return out


def test_mbsync_both_ways(server, tmp_path):
    s = server
    u = new_user(s)
    m1, m2 = deliver(s, u, [None, b"second message\r\n"])
    with selected(s, u) as c:
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Flagged)").ok
        c.logout()
    sync = Sync(s, u, tmp_path)

    # 1. Pull: both messages, byte for byte (mbsync keeps LF line ends
    # locally and may add its X-TUID header), with the server's flags.
    sync.run()
    p1, p2 = sync.find(m1.tok), sync.find(m2.tok)
    assert p1 and p2, "messages not pulled: %r" % list(sync.files())
    files = sync.files()
    assert unlocal(files[p1]) == m1.raw and unlocal(files[p2]) == m2.raw
    assert "F" in local_flags(p1) and "S" not in local_flags(p2), (p1, p2)
    for folder in ("Sent", "Drafts", "Trash", "Junk"):
        assert os.path.isdir(os.path.join(sync.folder(folder), "cur")), "%s not made locally" % folder

    # 2. Push a new local message and a new local folder; flags both ways.
    tok = token()
    local_msg = ("From: <me@example.test>\nSubject: local %s\n\nwritten locally\n" % tok).encode()
    sync.add(local_msg)
    tok_f = token()
    folder_msg = ("From: <me@example.test>\nSubject: archived %s\n\nold\n" % tok_f).encode()
    sync.add(folder_msg, name="Archive", info="S")
    p2 = set_local_flags(p2, "S")
    with selected(s, u) as c:
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Answered)").ok
        c.logout()
    sync.run()
    view = server_view(s, u)
    assert len(view) == 3, sorted(view)
    flags, body = view["local " + tok]
    # mbsync adds its X-TUID header to what it uploads.
    assert unlocal(body) == crlf(local_msg), body
    assert view["test " + m2.tok][0] == {"\\Seen"}, view["test " + m2.tok]
    assert view["test " + m1.tok][0] == {"\\Flagged", "\\Answered"}, view["test " + m1.tok]
    p1 = sync.find(m1.tok)
    assert set(local_flags(p1)) == {"F", "R"}, p1
    archive = server_view(s, u, "Archive")
    assert {k: (f, unlocal(b)) for k, (f, b) in archive.items()} == \
        {"archived " + tok_f: ({"\\Seen"}, crlf(folder_msg))}, archive

    # 3. Deletions: one on the server (expunged), one locally (flagged T).
    with selected(s, u) as c:
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Deleted)").ok
        assert c.cmd("EXPUNGE").ok
        c.logout()
    set_local_flags(sync.find(tok), "T")
    sync.run()
    assert sync.find(m1.tok) is None, "a message expunged on the server is still local"
    assert sync.find(tok) is None, "a message deleted locally is still local"
    view = server_view(s, u)
    assert sorted(view) == ["test " + m2.tok], sorted(view)
    assert files_with(s, u, tok) == [] and files_with(s, u, m1.tok) == []

    # 4. Nothing left to do: a second run changes nothing on either side.
    before_local = sorted(sync.files())
    with selected(s, u) as c:
        before = (c.selected.lines(), c.uids())
        c.logout()
    r = sync.run()
    assert sorted(sync.files()) == before_local, r.stdout
    with selected(s, u) as c:
        uv = [ln for ln in c.selected.lines() if "UIDVALIDITY" in ln]
        assert uv == [ln for ln in before[0] if "UIDVALIDITY" in ln] and c.uids() == before[1]
        c.logout()
    with login(s, u) as c:
        assert c.cmd("NOOP").ok
        c.logout()
