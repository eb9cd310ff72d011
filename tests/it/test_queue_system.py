"""The system install (as root): qmail's users and groups, ownerships and
modes, the privilege split of qmail-start, setuid qmail-queue, delivery to
a real passwd user and to the alias user. Accounts this test had to create
are removed afterwards; it holds the machine-wide alias lock that
test_users_getpw uses.
"""
import fcntl
import os
import pathlib
import pwd
import grp
import re
import shutil
import stat
import subprocess
import tempfile
import time

import pytest

import conftest
from conftest import bin_path
from queuelib import QueueInstance, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

QMAIL_USERS = ["alias", "qmaild", "qmaill", "qmailp", "qmailq", "qmailr", "qmails"]
QMAIL_GROUPS = ["qmail", "nofiles"]


def exists_user(n):
    try:
        pwd.getpwnam(n)
        return True
    except KeyError:
        return False


def exists_group(n):
    try:
        grp.getgrnam(n)
        return True
    except KeyError:
        return False


def passwd_tool(args):
    for _ in range(20):
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode not in (1, 10):
            return r
        time.sleep(0.2)
    return r


def proc_uid(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])


@pytest.fixture
def system_root(tmp_path_factory):
    with open("/tmp/nqmail-test-alias.lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        had_users = {u for u in QMAIL_USERS if exists_user(u)}
        had_groups = {g for g in QMAIL_GROUPS if exists_group(g)}
        # a root every system user can reach (pytest's temp dirs are 700)
        base = pathlib.Path(tempfile.mkdtemp(prefix="nqsys-", dir="/var/tmp"))
        os.chmod(base, 0o755)
        root = base / "root"
        builddir = conftest.REPO / "build" / "instances" / f"sys-{os.getpid()}"
        if conftest.BUILDDIR.exists() and not builddir.exists():
            shutil.copytree(conftest.BUILDDIR, builddir, symlinks=True,
                            ignore=shutil.ignore_patterns("root", "instances"))
        conftest._install(builddir, root, mode="system")
        try:
            yield root, builddir
        finally:
            for u in QMAIL_USERS:
                if u not in had_users:
                    passwd_tool(["userdel", u])
            for g in QMAIL_GROUPS:
                if g not in had_groups:
                    passwd_tool(["groupdel", g])
            shutil.rmtree(base, ignore_errors=True)


def test_system_install(system_root, tmp_path_factory):
    root, builddir = system_root
    ids = dict(l.split("=", 1) for l in (root / "etc/ids").read_text().split())
    assert ids["mode"] == "system"
    for u in QMAIL_USERS:
        pw = pwd.getpwnam(u)
        assert ids[u] == f"{pw.pw_uid}:{pw.pw_gid}"
    qmailq = pwd.getpwnam("qmailq")
    qmails = pwd.getpwnam("qmails")
    gq = grp.getgrnam("qmail").gr_gid
    st = os.stat(root / "bin/qmail-queue")
    assert st.st_uid == qmailq.pw_uid and st.st_mode & stat.S_ISUID
    for d, owner, mode in (("queue", qmailq, 0o750), ("queue/mess", qmailq, 0o2750),
                           ("queue/todo", qmailq, 0o2750), ("queue/tmp", qmailq, 0o2700),
                           ("queue/info", qmails, 0o700), ("queue/bounce", qmails, 0o700)):
        st = os.stat(root / d)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (owner.pw_uid, gq, mode), d
    assert stat.S_ISFIFO(os.stat(root / "queue/lock/trigger").st_mode)

    # installing again changes nothing and keeps queue contents
    (root / "queue/mess/keep").write_text("x")
    conftest._install(builddir, root, mode="system")
    assert (root / "queue/mess/keep").read_text() == "x"
    (root / "queue/mess/keep").unlink()
    assert os.stat(root / "bin/qmail-queue").st_mode & stat.S_ISUID

    # a real user, found by qmail-getpw, and the alias user
    name = f"nqq{os.getpid() % 100000}"
    home = root.parent / name
    home.mkdir()
    r = passwd_tool(["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", name])
    assert r.returncode == 0, r.stderr
    try:
        pw = pwd.getpwnam(name)
        for d in ("", "Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
            (home / d).mkdir(exist_ok=True)
            os.chown(home / d, pw.pw_uid, pw.pw_gid)
        (home / ".qmail").write_text("./Maildir/\n")
        alias = pwd.getpwnam("alias")
        ahome = pathlib.Path(alias.pw_dir)
        # an alias account left by another install on this machine is not ours to use
        own_alias = ahome == root / "alias"
        if own_alias:
            for d in ("Maildir", "Maildir/new", "Maildir/cur", "Maildir/tmp"):
                (ahome / d).mkdir(exist_ok=True)
                os.chown(ahome / d, alias.pw_uid, alias.pw_gid)
            (ahome / ".qmail-default").write_text("./Maildir/\n")

        qi = QueueInstance(tmp_path_factory, "sys", root=root)
        qi.control("me", "test.example")
        qi.control("locals", "test.example")  # the install wrote the host's name
        qi.start()
        try:
            time.sleep(0.3)
            uids = {}
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        comm = pathlib.Path(f"/proc/{d}/comm").read_text().strip()
                        if os.getpgid(int(d)) == qi.proc.pid:
                            uids[comm] = proc_uid(d)
                    except (OSError, ProcessLookupError):
                        pass
            assert uids["qmail-send"] == qmails.pw_uid
            assert uids["qmail-lspawn"] == 0
            assert uids["qmail-rspawn"] == pwd.getpwnam("qmailr").pw_uid
            assert uids["qmail-clean"] == qmailq.pw_uid

            code, err = qi.inject("Subject: to-user\n\nhello\n", recips=[f"{name}@test.example"])
            assert code == 0, err
            if own_alias:
                code, err = qi.inject("Subject: to-alias\n\nhello\n",
                                      recips=["nosuchuser@test.example"])
                assert code == 0, err
            # as an ordinary user, through the setuid qmail-queue
            r, w = os.pipe()
            p = subprocess.Popen([bin_path("qmail-queue", root)], stdin=subprocess.PIPE,
                                 stdout=r, stderr=subprocess.PIPE,
                                 preexec_fn=lambda: (os.setgid(pw.pw_gid), os.setuid(pw.pw_uid)))
            os.close(r)
            p.stdin.write(b"Subject: from-user\n\nhi\n")
            p.stdin.close()
            os.write(w, f"F{name}@test.example\0T{name}@test.example\0\0".encode())
            os.close(w)
            assert p.wait(timeout=30) == 0, p.stderr.read()

            md = home / "Maildir/new"
            wait_until(lambda: len(os.listdir(md)) == 2, 30, "two messages for the user")
            for f in os.listdir(md):
                st = os.stat(md / f)
                assert st.st_uid == pw.pw_uid
            texts = [(md / f).read_text() for f in os.listdir(md)]
            assert any("invoked by uid 0)" in t and "Subject: to-user" in t for t in texts)
            assert any(f"invoked by uid {pw.pw_uid})" in t and "Subject: from-user" in t
                       for t in texts)
            if not own_alias:
                return
            amd = ahome / "Maildir/new"
            wait_until(lambda: len(os.listdir(amd)) == 1, 30, "a message for alias")
            t = (amd / os.listdir(amd)[0]).read_text()
            assert "Subject: to-alias" in t
            assert re.search(r"Delivered-To: (alias-)?nosuchuser@test.example", t)
        finally:
            qi.stop()
    finally:
        passwd_tool(["userdel", name])
