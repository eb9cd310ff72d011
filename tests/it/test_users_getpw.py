"""qmail-getpw against real passwd accounts (qmail-getpw(8)).

The tests create their own accounts with useradd (they run as root) and
remove them afterwards. Account names carry the process id, since several
test runs may share the machine; the one shared account, "alias", is
created and removed under a lock file.
"""
import fcntl
import os
import pwd
import shutil
import subprocess
import time

import pytest

from conftest import bin_path, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create accounts")


def _passwd_tool(args):
    # useradd/userdel fail while another process holds the passwd lock.
    for _ in range(20):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode not in (1, 10):
            return r
        time.sleep(0.2)
    return r


P = f"nq{os.getpid()}"  # a prefix no other test run uses


class Accounts:
    def __init__(self, base):
        self.base = base
        self.created = []

    def add(self, name, uid=None, own_home=True, extra=()):
        home = self.base / name
        home.mkdir()
        args = ["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", *extra]
        if uid is not None:
            args += ["-o", "-u", str(uid)]
        r = _passwd_tool(args + [name])
        if r.returncode != 0:
            return None
        self.created.append(name)
        pw = pwd.getpwnam(name)
        if own_home:
            os.chown(home, pw.pw_uid, pw.pw_gid)
        return pw

    def remove_all(self):
        for name in reversed(self.created):
            _passwd_tool(["userdel", "-f", name])


@pytest.fixture
def accounts(tmp_path):
    tmp_path.chmod(0o755)
    a = Accounts(tmp_path)
    yield a
    a.remove_all()


@pytest.fixture
def alias_lock():
    """Holds the machine-wide lock for the alias account."""
    with open("/tmp/nqmail-test-alias.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def getpw(local):
    r = run([bin_path("qmail-getpw"), local])
    fields = r.stdout.split(b"\0")
    return r.returncode, fields


def expect(local, pw, dash, ext):
    code, fields = getpw(local)
    assert code == 0
    assert fields == [pw.pw_name.encode(), str(pw.pw_uid).encode(), str(pw.pw_gid).encode(),
                      pw.pw_dir.encode(), dash, ext, b""]


def ensure_alias(accounts):
    try:
        return pwd.getpwnam("alias")
    except KeyError:
        pw = accounts.add("alias")
        assert pw is not None
        return pw


def test_user_and_extensions(accounts):
    joe = accounts.add(P + "joe")
    expect(P + "joe", joe, b"", b"")
    expect(P + "joe-foo", joe, b"-", b"foo")
    # The split is at a '-', the extension keeps its case and its dashes.
    expect(P + "joe-Foo-Bar", joe, b"-", b"Foo-Bar")
    # The user may be written in any case at the front of the address.
    expect(P.upper()[:2] + P[2:] + "JOE-x", joe, b"-", b"x")
    expect(P + "joe-", joe, b"-", b"")


def test_longest_user_prefix_wins(accounts):
    joe = accounts.add(P + "joe")
    joelist = accounts.add(P + "joe-list")
    assert joelist is not None, "useradd refused a name with '-'"
    expect(P + "joe-list-x", joelist, b"-", b"x")
    expect(P + "joe-list", joelist, b"", b"")
    expect(P + "joe-lis", joe, b"-", b"lis")


def test_alias_handles_everything_else(alias_lock, accounts):
    alias = ensure_alias(accounts)
    accounts.add(P + "joe")
    expect(P + "joey", alias, b"-", (P + "joey").encode())
    expect("Nobody-Such-x", alias, b"-", b"Nobody-Such-x")


def test_root_and_foreign_home_are_not_users(alias_lock, accounts):
    alias = ensure_alias(accounts)
    assert accounts.add(P + "zero", uid=0, own_home=False) is not None
    expect(P + "zero", alias, b"-", (P + "zero").encode())
    # An account whose home belongs to someone else is not a user.
    assert accounts.add(P + "foreign", own_home=False) is not None
    expect(P + "foreign-x", alias, b"-", (P + "foreign-x").encode())
    # Nor is one whose home does not exist.
    gone = accounts.add(P + "gone")
    shutil.rmtree(gone.pw_dir)
    expect(P + "gone", alias, b"-", (P + "gone").encode())


def test_uppercase_account_names_never_match(alias_lock, accounts):
    alias = ensure_alias(accounts)
    if accounts.add("N" + P[1:] + "Up", extra=["--badname"]) is None:
        pytest.fail("useradd refused an uppercase name")
    expect("N" + P[1:] + "Up", alias, b"-", ("N" + P[1:] + "Up").encode())


def test_without_alias_user_prints_nothing(tmp_path):
    # Whether or not this machine has an alias account, qmail-getpw runs in
    # a private mount namespace whose /etc/passwd has none.
    passwd = tmp_path / "passwd"
    with open("/etc/passwd") as f:
        passwd.write_text("".join(l for l in f if not l.startswith("alias:")))
    r = run(["unshare", "-m", "--propagation", "private", "sh", "-c",
             'mount --bind "$1" /etc/passwd && exec "$2" nobody-such', "sh",
             str(passwd), bin_path("qmail-getpw")])
    assert r.returncode == 116, r.stderr
    assert r.stdout.split(b"\0") == [b""]


def test_usage():
    assert run([bin_path("qmail-getpw")]).returncode == 100
