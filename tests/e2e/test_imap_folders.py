"""IMAP folders (docs/imap.md "Mailboxes"): the SPECIAL-USE folders made at
the first login, LIST and LSUB with CHILDREN attributes and wildcards,
STATUS, CREATE/RENAME/DELETE with hierarchy and the INBOX rules,
SUBSCRIBE/UNSUBSCRIBE, mailbox names that try to leave the user's Maildir
(refused, and nothing made on disk), modified UTF-7, and users that cannot
see each other's mail.

One server for the module; each test uses users of its own."""

import os

from conftest import box_files, deliver, folder_dir, new_user, token
from imaplib_helpers import (ALREADYEXISTS, INVALID_NAME, NONEXISTENT, SPECIAL_USE, files_with,
                             imaplib_close, imaplib_login, login, q, s, selected)

TOP = ["INBOX", "Sent", "Drafts", "Trash", "Junk"]


def listing(c, ref="", pattern="*", cmd="LIST"):
    """{name: set of attributes} of LIST/LSUB (the delimiter must be ".")."""
    r = c.cmd("%s %s %s" % (cmd, q(ref), q(pattern)))
    assert r.ok, "%s %r %r: %r" % (cmd, ref, pattern, r)
    out = {}
    for attrs, delim, name in r.named(cmd):
        name = s(name)
        assert delim == b"." or delim == ".", "delimiter %r" % delim
        assert name not in out, "%s lists %s twice: %r" % (cmd, name, r)
        out[name] = set(str(a).lower() for a in attrs)
    return out


def list_names(c, ref, pattern):
    """The names LIST gives; none when it refuses (NO or BAD)."""
    r = c.cmd("LIST %s %s" % (q(ref), q(pattern)))
    if not r.ok:
        assert r.status in ("NO", "BAD") and not r.untagged, r
        return set()
    return set(s(x[2]) for x in r.named("LIST"))


def a(*attrs):
    return set(x.lower() for x in attrs)


def msg(tok):
    return ("From: <f@other.test>\r\nSubject: folder %s\r\n\r\nbody %s\r\n" % (tok, tok)).encode()


def status(c, box, items="(MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)"):
    r = c.cmd("STATUS %s %s" % (q(box), items))
    assert r.ok, "STATUS %s: %r" % (box, r)
    (st,) = r.named("STATUS")
    assert s(st[0]) == box, st
    vals = st[1]
    return {str(vals[i]).upper(): int(vals[i + 1]) for i in range(0, len(vals), 2)}


def dirs_of(server, user):
    """The Maildir++ folder directories of a user (".A.B" names)."""
    return sorted(f for f in os.listdir(server.maildir(user))
                  if f.startswith(".") and os.path.isdir(os.path.join(server.maildir(user), f)))


# -- first login, LIST, LSUB ---------------------------------------------------------------------

def test_special_use_folders_created_at_first_login(server):
    u = new_user(server)
    with login(server, u) as c:
        got = listing(c)
        assert got == {"INBOX": a("\\HasNoChildren"), "Sent": a("\\HasNoChildren", "\\Sent"),
                       "Drafts": a("\\HasNoChildren", "\\Drafts"),
                       "Trash": a("\\HasNoChildren", "\\Trash"),
                       "Junk": a("\\HasNoChildren", "\\Junk")}, got
        for name in SPECIAL_USE:
            for sub in ("cur", "new", "tmp"):
                assert os.path.isdir(os.path.join(folder_dir(server, u, name), sub)), (name, sub)
        assert dirs_of(server, u) == sorted("." + n for n in SPECIAL_USE)
        assert set(listing(c, cmd="LSUB")) == set(TOP)
        with open(os.path.join(server.maildir(u), "subscriptions")) as f:
            subs = set(f.read().split())
        assert subs >= set(SPECIAL_USE) and subs <= set(TOP), subs
        r = c.cmd('LIST "" ""')
        assert r.ok and r.lines() == ['* LIST (\\Noselect) "." ""'], r
        c.logout()
    # A second login changes nothing.
    with login(server, u) as c:
        assert set(listing(c)) == set(TOP)
        c.logout()
    m = imaplib_login(server, u)
    try:
        typ, data = m.list()
        assert typ == "OK" and len(data) == 5 and any(b"\\Trash" in d for d in data), data
        m.logout()
    finally:
        imaplib_close(m)


def test_list_children_and_wildcards(server):
    u = new_user(server)
    with login(server, u) as c:
        assert c.cmd("CREATE a.b.c").ok
        assert c.cmd("CREATE x.y").ok
        assert c.cmd("DELETE x.y").ok
        got = listing(c)
        assert got["a"] == a("\\HasChildren") and got["a.b"] == a("\\HasChildren"), got
        assert got["a.b.c"] == a("\\HasNoChildren") and got["x"] == a("\\HasNoChildren"), got
        assert set(got) == set(TOP) | {"a", "a.b", "a.b.c", "x"}, got
        assert {".a", ".a.b", ".a.b.c", ".x"} <= set(dirs_of(server, u))
        assert set(listing(c, "", "%")) == set(TOP) | {"a", "x"}
        assert set(listing(c, "", "a.%")) == {"a.b"}
        assert set(listing(c, "a.", "%")) == {"a.b"}
        assert set(listing(c, "", "a*")) == {"a", "a.b", "a.b.c"}
        assert set(listing(c, "", "a.%.c")) == {"a.b.c"}
        assert set(listing(c, "", "*c")) == {"a.b.c"}
        assert set(listing(c, "", "%.b")) == {"a.b"}
        assert listing(c, "", "inbox") == {"INBOX": a("\\HasNoChildren")}
        assert listing(c, "", "No-Such") == {}
        c.logout()


def test_status(server):
    u = new_user(server)
    deliver(server, u, [None, None, None])
    with login(server, u) as c:
        st = status(c, "INBOX")
        assert (st["MESSAGES"], st["RECENT"], st["UNSEEN"]) == (3, 3, 3), st
        assert st["UIDNEXT"] >= 4 and st["UIDVALIDITY"] > 0, st
        # STATUS changes nothing: SELECT still sees them \Recent.
        r = c.select()
        assert "* 3 RECENT" in r.lines() and ("* OK [UIDVALIDITY %d] UIDs valid" % st["UIDVALIDITY"]) \
            in r.lines(), r
        assert c.cmd("STORE 1 +FLAGS.SILENT (\\Seen)").ok
        st2 = status(c, "INBOX")
        assert (st2["MESSAGES"], st2["UNSEEN"], st2["UIDNEXT"]) == (3, 2, st["UIDNEXT"]), st2
        assert status(c, "Trash")["MESSAGES"] == 0
        assert c.cmd("STATUS No-Such (MESSAGES)").text == NONEXISTENT
        assert c.cmd("STATUS INBOX (NOTANITEM)").status == "BAD"
        c.logout()
    m = imaplib_login(server, u)
    try:
        typ, data = m.status("INBOX", "(MESSAGES UNSEEN)")
        assert typ == "OK" and data == [b"INBOX (MESSAGES 3 UNSEEN 2)"], data
        m.logout()
    finally:
        imaplib_close(m)


# -- CREATE, RENAME, DELETE ------------------------------------------------------------------------

def test_create_rename_delete(server):
    u = new_user(server)
    (inbox_msg,) = deliver(server, u)
    with login(server, u) as c:
        assert c.cmd("CREATE Projects").ok
        assert c.cmd("CREATE Projects").text == ALREADYEXISTS
        assert c.cmd("CREATE INBOX").status == "NO"
        assert c.cmd("CREATE inbox").status == "NO"
        assert c.cmd("CREATE Projects.2024.Q1").ok
        assert {"Projects", "Projects.2024", "Projects.2024.Q1"} <= set(listing(c))
        t1, t2 = token(), token()
        c.append_ok("Projects", msg(t1))
        c.append_ok("Projects.2024.Q1", msg(t2))
        # RENAME takes the children along.
        assert c.cmd("RENAME Projects Work").ok
        names = set(listing(c))
        assert {"Work", "Work.2024", "Work.2024.Q1"} <= names, names
        assert not [n for n in names if n.startswith("Projects")], names
        assert ".Projects" not in dirs_of(server, u) and ".Work.2024.Q1" in dirs_of(server, u)
        assert len(files_with(server, u, t1, "Work")) == 1
        assert len(files_with(server, u, t2, "Work.2024.Q1")) == 1
        assert c.cmd("RENAME Work.2024.Q1 Archive.Old.Q1").ok
        names = set(listing(c))
        assert {"Archive", "Archive.Old", "Archive.Old.Q1"} <= names, names
        assert status(c, "Archive.Old.Q1", "(MESSAGES)") == {"MESSAGES": 1}
        assert c.cmd("RENAME Work Archive").text == ALREADYEXISTS
        assert c.cmd("RENAME No-Such Other").text == NONEXISTENT
        assert c.cmd("RENAME Work INBOX").text.startswith("NO [CANNOT]")
        assert c.cmd("RENAME Work inbox").text.startswith("NO [CANNOT]")
        # DELETE.
        assert c.cmd("DELETE INBOX").text.startswith("NO [CANNOT]")
        assert c.cmd("DELETE inbox").text.startswith("NO [CANNOT]")
        assert c.cmd("DELETE No-Such").text == NONEXISTENT
        # A folder with children: its messages go, it stays as \Noselect.
        assert c.cmd("DELETE Work").ok
        got = listing(c)
        assert "\\noselect" in got["Work"] and "\\haschildren" in got["Work"], got
        assert "Work.2024" in got
        assert files_with(server, u, t1, "Work") == []
        assert c.select("Work").status == "NO"
        assert c.cmd("DELETE Archive.Old.Q1").ok
        assert "Archive.Old.Q1" not in listing(c)
        assert ".Archive.Old.Q1" not in dirs_of(server, u)
        # RENAME INBOX: its messages move; INBOX stays, empty.
        assert c.cmd("RENAME INBOX Old-Inbox").ok
        assert status(c, "Old-Inbox", "(MESSAGES)") == {"MESSAGES": 1}
        assert status(c, "INBOX", "(MESSAGES)") == {"MESSAGES": 0}
        assert box_files(server, u) == {"new": [], "cur": []}
        assert len(files_with(server, u, inbox_msg.tok, "Old-Inbox")) == 1
        assert "INBOX" in listing(c)
        assert c.select().ok
        c.logout()


def test_subscribe_and_unsubscribe(server):
    u = new_user(server)
    with login(server, u) as c:
        assert c.cmd("CREATE Lists.Tech").ok
        assert set(listing(c, cmd="LSUB")) == set(TOP)
        assert c.cmd("SUBSCRIBE Lists.Tech").ok
        assert set(listing(c, cmd="LSUB")) == set(TOP) | {"Lists.Tech"}
        assert set(listing(c, "", "Lists.*", cmd="LSUB")) == {"Lists.Tech"}
        assert c.cmd("UNSUBSCRIBE Trash").ok
        assert set(listing(c, cmd="LSUB")) == set(TOP) - {"Trash"} | {"Lists.Tech"}
        c.logout()
    with open(os.path.join(server.maildir(u), "subscriptions")) as f:
        subs = set(f.read().split())
    assert "Lists.Tech" in subs and "Trash" not in subs, subs
    with login(server, u) as c:
        assert set(listing(c, cmd="LSUB")) == set(TOP) - {"Trash"} | {"Lists.Tech"}
        assert c.cmd("UNSUBSCRIBE Lists.Tech").ok
        assert "Lists.Tech" not in listing(c, cmd="LSUB")
        assert c.cmd("SUBSCRIBE ../etc").status in ("NO", "BAD")
        c.logout()
    m = imaplib_login(server, u)
    try:
        assert m.subscribe("Trash")[0] == "OK"
        typ, data = m.lsub()
        assert typ == "OK" and any(d.endswith(b"Trash") for d in data), data
        m.logout()
    finally:
        imaplib_close(m)


# -- names ------------------------------------------------------------------------------------------

BAD_NAMES = ["../x", "..", ".", "a..b", ".a", "a/b", "a/../../b", "a\\b", "a*b", "a%b",
             "&Jjo", "&AGE-", "&Jjo-&AGE", "&"]


def tree(root):
    out = set()
    for dirpath, dirs, files in os.walk(root):
        for d in dirs:
            out.add(os.path.join(dirpath, d))
    return out


def test_mailbox_names_cannot_leave_the_maildir(server):
    u = new_user(server)
    tok = token()
    outside = "/tmp/mw-imap-%s" % tok
    names = BAD_NAMES + [outside, outside + "/x", "../../../../../../.." + outside,
                         "../" + u.split("@")[0], "..%s" % tok]
    with selected(server, u) as c:
        c.append_ok("INBOX", msg(tok))
        before = tree(server.data)
        for name in names:
            for cmd in ("CREATE %s", "DELETE %s", "STATUS %s (MESSAGES)", "RENAME Trash %s",
                        "RENAME %s Junk2", "SUBSCRIBE %s", "COPY 1 %s", "MOVE 1 %s"):
                r = c.cmd(cmd % q(name))
                assert r.status in ("NO", "BAD"), "%s -> %r" % (cmd % q(name), r)
                if cmd.startswith("CREATE"):
                    assert r.text == INVALID_NAME, "CREATE %r -> %r" % (name, r)
            r = c.append(name, msg(token()))
            assert r.status in ("NO", "BAD"), "APPEND %r -> %r" % (name, r)
            assert list_names(c, "", name) == set(), "LIST %r" % name
        assert len(c.uids()) == 1, "INBOX lost its message"
        assert set(listing(c)) == set(TOP), listing(c)
        for name in names[:6]:
            r = c.select(name)
            assert r.status == "NO", "SELECT %r -> %r" % (name, r)
            assert c.select().ok
        # Control characters and NUL, as literals.
        for raw in (b"x\x01y", b"x\x00y", b"x\ty", b"x\x7fy", b"x\r\ny"):
            r = c.cmd(b"CREATE {%d+}\r\n%s" % (len(raw), raw))
            assert r.status in ("NO", "BAD"), "CREATE %r -> %r" % (raw, r)
            if b"\x00" not in raw:
                assert r.text == INVALID_NAME or r.status == "BAD", (raw, r)
        assert c.cmd(b'CREATE "x\x01y"').status in ("NO", "BAD")
        # CREATE "a.": RFC 3501 6.3.3 says a trailing separator only
        # declares the intent to create children: either refused (docs/imap.md)
        # or the same as CREATE a; never a folder named "a.".
        r = c.cmd('CREATE "a."')
        assert r.text == INVALID_NAME or r.ok, r
        if r.ok:
            assert list_names(c, "", "a*") == {"a"}, list_names(c, "", "a*")
            assert c.cmd("DELETE a").ok
        for cmd in ('SELECT "a."', 'RENAME Trash "a."', 'APPEND "a." {1+}\r\nx'):
            assert c.cmd(cmd).status in ("NO", "BAD"), cmd
        assert c.select().ok
        # Limits: 200 octets are fine.
        assert c.cmd("CREATE %s" % ("n" * 200)).ok
        assert c.cmd("DELETE %s" % ("n" * 200)).ok
        assert tree(server.data) == before, "directories made or removed: %r" % (
            tree(server.data) ^ before)
        assert not os.path.exists(outside)
        # Over 200 octets: refused like any other invalid name.
        for n in (201, 1000):
            r = c.cmd("CREATE %s" % ("n" * n))
            assert r.text == INVALID_NAME, "CREATE of a %d-octet name: %r" % (n, r)
        c.logout()


def test_modified_utf7_names(server):
    u = new_user(server)
    with login(server, u) as c:
        for name in ("&ZeVnLIqe-", "Entw&APw-rfe", "a&-b", "Caf&AOk-.Men&APw-"):
            assert c.cmd("CREATE %s" % q(name)).ok, name
            assert name in listing(c), name
            assert c.select(name).ok
        assert ".Entw&APw-rfe" in dirs_of(server, u)
        assert ".Caf&AOk-.Men&APw-" in dirs_of(server, u)
        assert listing(c, "", "Caf&AOk-")["Caf&AOk-"] == a("\\HasChildren")
        c.logout()


def test_users_cannot_see_each_other(server):
    alice, bob = new_user(server, "imapa"), new_user(server, "imapb")
    tok = token()
    with login(server, alice) as c:
        assert c.cmd("CREATE Secret").ok
        c.append_ok("Secret", msg(tok))
        c.append_ok("INBOX", msg(tok))
        c.logout()
    alocal = alice.split("@")[0]
    with login(server, bob) as c:
        assert set(listing(c)) == set(TOP)
        assert c.select("Secret").text == NONEXISTENT
        assert status(c, "INBOX", "(MESSAGES)") == {"MESSAGES": 0}
        for name in ("../%s" % alocal, "../%s/.Secret" % alocal, "~%s" % alocal,
                     "#shared", "#users.%s" % alocal, "Other Users", "/" + server.maildir(alice)):
            r = c.select(name)
            assert r.status in ("NO", "BAD"), "SELECT %r -> %r" % (name, r)
            assert list_names(c, "", name + "*") == set(), name
        assert set(listing(c, "", "*")) == set(TOP)
        assert list_names(c, "..", "*") <= set(TOP)
        assert list_names(c, "../" + alocal, "*") <= set(TOP)
        assert list_names(c, "../" + alocal + "/", "*") <= set(TOP)
        assert c.select().ok
        assert c.search("TEXT %s" % tok) == []
        r = c.cmd("FETCH 1 (BODY[])")
        assert r.status in ("OK", "NO", "BAD") and tok.encode() not in b"".join(r.untagged), r
        c.logout()
    with login(server, alice) as c:
        assert status(c, "Secret", "(MESSAGES)") == {"MESSAGES": 1}
        c.logout()
