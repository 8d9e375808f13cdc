"""The command-line contract: domain, user, alias, config, check."""

import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BIN, FACTOR


@pytest.fixture
def mw():
    root = tempfile.mkdtemp(prefix="mw-e2e-cli-")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")

    def run(*args, input=None):
        return subprocess.run([BIN, "-d", data] + list(args), input=input,
                              capture_output=True, text=True, timeout=30 * FACTOR)

    run.data = data
    yield run
    shutil.rmtree(root, ignore_errors=True)


def ok(r):
    assert r.returncode == 0, "exit %d: stdout=%r stderr=%r" % (r.returncode, r.stdout, r.stderr)
    return r


def one_line_error(r):
    assert r.returncode != 0, "expected failure, got exit 0: stdout=%r" % r.stdout
    err = r.stderr.strip("\n")
    assert err, "no error message on stderr"
    assert "\n" not in err, "error is not one line: %r" % r.stderr
    return err


def as_json(r):
    ok(r)
    try:
        return json.loads(r.stdout)
    except ValueError:
        pytest.fail("--json output is not JSON: %r" % r.stdout)


def mentions(obj, s):
    return s in json.dumps(obj)


@pytest.mark.parametrize("args", [
    ("domain", "list"),
    ("user", "list"),
    ("alias", "list"),
    ("config", "list"),
    ("config", "get", "hostname"),
    ("check",),
])
def test_any_subcommand_creates_data_dir(mw, args):
    assert not os.path.exists(mw.data)
    ok(mw(*args))
    assert os.path.isdir(mw.data)
    assert os.path.isfile(os.path.join(mw.data, "mailwarden.db"))


def test_domain_add_list_del(mw):
    ok(mw("domain", "add", "example.test"))
    ok(mw("domain", "add", "other.example"))
    assert "example.test" in ok(mw("domain", "list")).stdout
    d = as_json(mw("domain", "list", "--json"))
    assert mentions(d, "example.test") and mentions(d, "other.example")
    ok(mw("domain", "del", "other.example"))
    assert "other.example" not in ok(mw("domain", "list")).stdout
    assert not mentions(as_json(mw("domain", "list", "--json")), "other.example")


def test_domain_del_missing_fails(mw):
    ok(mw("domain", "add", "example.test"))
    one_line_error(mw("domain", "del", "nope.example"))


def test_user_add_list_passwd_del(mw):
    pw = "Cli-Secret-pw-99231"
    ok(mw("domain", "add", "example.test"))
    ok(mw("user", "add", "alice@example.test", input=pw + "\n"))
    ok(mw("user", "add", "bob@example.test", input="Other-pw-1\n"))
    assert "alice@example.test" in ok(mw("user", "list")).stdout
    j = as_json(mw("user", "list", "--json"))
    assert mentions(j, "alice@example.test") and mentions(j, "bob@example.test")
    assert pw not in json.dumps(j)
    ok(mw("user", "passwd", "alice@example.test", input="New-pw-77124\n"))
    ok(mw("user", "del", "bob@example.test"))
    j = as_json(mw("user", "list", "--json"))
    assert mentions(j, "alice@example.test") and not mentions(j, "bob@example.test")


def test_password_is_not_stored_in_clear(mw):
    pw = "Cleartext-Canary-58213"
    ok(mw("domain", "add", "example.test"))
    ok(mw("user", "add", "alice@example.test", input=pw + "\n"))
    for dirpath, _, files in os.walk(mw.data):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                assert pw.encode() not in fh.read(), "password in clear in %s" % f


def test_user_del_missing_fails(mw):
    ok(mw("domain", "add", "example.test"))
    one_line_error(mw("user", "del", "ghost@example.test"))


def test_alias_add_list_del(mw):
    ok(mw("domain", "add", "example.test"))
    ok(mw("user", "add", "alice@example.test", input="pw-Alias-1234\n"))
    ok(mw("alias", "add", "sales@example.test", "alice@example.test"))
    out = ok(mw("alias", "list")).stdout
    assert "sales@example.test" in out and "alice@example.test" in out
    j = as_json(mw("alias", "list", "--json"))
    assert mentions(j, "sales@example.test") and mentions(j, "alice@example.test")
    ok(mw("alias", "del", "sales@example.test"))
    assert not mentions(as_json(mw("alias", "list", "--json")), "sales@example.test")


@pytest.mark.parametrize("key,value", [
    ("hostname", "mx1.example.test"),
    ("admin.email", "postmaster@example.test"),
    ("relay.networks", "127.0.0.0/8,::1/128"),
    ("auth.plaintext", "on"),
    ("auth.failure-delay", "100"),
    ("message.max-size", "1048576"),
    ("smtp.max-recipients", "50"),
    ("smtp.max-commands", "500"),
    ("smtp.timeout", "60"),
    ("smtp.enabled", "off"),
    ("smtp.address", "127.0.0.1:2525"),
    ("smtp.address", "[::1]:2525"),
    ("smtp.auth", "on"),
    ("submission.enabled", "off"),
    ("submission.address", "127.0.0.1:2587"),
    ("submission.auth", "off"),
    ("smtps.enabled", "off"),
    ("smtps.address", "127.0.0.1:2465"),
    ("smtps.auth", "on"),
])
def test_config_set_get_roundtrip(mw, key, value):
    ok(mw("config", "set", key, value))
    assert ok(mw("config", "get", key)).stdout.strip() == value


def test_config_defaults(mw):
    assert ok(mw("config", "get", "relay.networks")).stdout.strip() == ""
    assert ok(mw("config", "get", "auth.plaintext")).stdout.strip() == "off"
    assert ok(mw("config", "get", "smtp.auth")).stdout.strip() == "off"
    assert ok(mw("config", "get", "submission.auth")).stdout.strip() == "on"
    assert ok(mw("config", "get", "smtps.auth")).stdout.strip() == "on"
    for lst in ("smtp", "submission", "smtps"):
        assert ok(mw("config", "get", lst + ".enabled")).stdout.strip() == "on"


def test_config_list_plain_and_json(mw):
    ok(mw("config", "set", "hostname", "mx2.example.test"))
    out = ok(mw("config", "list")).stdout
    for key in ("hostname", "admin.email", "relay.networks", "auth.plaintext",
                "auth.failure-delay", "message.max-size", "smtp.max-recipients",
                "smtp.max-commands", "smtp.timeout", "smtp.enabled", "smtp.address",
                "smtp.auth", "submission.enabled", "submission.address",
                "submission.auth", "smtps.enabled", "smtps.address", "smtps.auth"):
        assert key in out, "config list lacks %s" % key
    assert "mx2.example.test" in out
    j = as_json(mw("config", "list", "--json"))
    assert mentions(j, "smtp.address") and mentions(j, "mx2.example.test")


def test_config_unknown_key(mw):
    one_line_error(mw("config", "set", "no.such.key", "1"))
    one_line_error(mw("config", "get", "no.such.key"))


@pytest.mark.parametrize("key,value", [
    ("smtp.address", "not-an-address"),
    ("smtp.address", "127.0.0.1:99999"),
    ("smtp.address", "127.0.0.1"),
    ("submission.address", "[::1:2587"),
    ("auth.plaintext", "sometimes"),
    ("smtp.enabled", "perhaps"),
    ("smtps.auth", "2"),
    ("message.max-size", "abc"),
    ("message.max-size", "-5"),
    ("smtp.max-recipients", "12x"),
    ("smtp.max-commands", "-1"),
    ("smtp.timeout", "99999999999999999999999"),
    ("auth.failure-delay", "fast"),
    ("relay.networks", "300.1.1.1/8"),
    ("relay.networks", "10.0.0.0/33"),
    ("relay.networks", "127.0.0.0/8,garbage"),
    ("admin.email", "not an address"),
])
def test_config_bad_value(mw, key, value):
    before = ok(mw("config", "get", key)).stdout
    one_line_error(mw("config", "set", key, value))
    assert ok(mw("config", "get", key)).stdout == before, "a rejected value changed the setting"


def test_check_valid_settings(mw):
    ok(mw("domain", "add", "example.test"))
    ok(mw("config", "set", "smtp.address", "127.0.0.1:2525"))
    ok(mw("check"))
