"""`make install` as root: a system install into a scratch root creates
qmail's users, gives the queue and qmail-queue qmail's owners and modes,
writes the site files (control files from the host name, alias .qmail
files, service directories, SMTP rules), and a second run changes nothing,
least of all a site's edited control files. With DESTDIR and the standard
root the Life with qmail paths (/etc/tcp.smtp, /var/log/qmail) land under
DESTDIR, and SENDMAIL=1 adds the sendmail links."""
import fcntl
import grp
import hashlib
import os
import pathlib
import pwd
import shutil
import socket
import stat
import subprocess

import pytest

from conftest import BUILDDIR, REPO, SAN, run

pytestmark = [
    pytest.mark.skipif(os.getuid() != 0, reason="a system install needs root"),
]

USERS = ["alias", "qmaild", "qmaill", "qmailp", "qmailq", "qmailr", "qmails"]
GROUPS = ["qmail", "nofiles"]


def exists(db, name):
    try:
        db(name)
        return True
    except KeyError:
        return False


@pytest.fixture(autouse=True)
def qmail_accounts():
    """Serializes with the other tests that create qmail's accounts (the
    queue's system test takes the same lock) and removes the accounts this
    test created, so the machine is left as it was."""
    with open("/tmp/nqmail-test-alias.lock", "w") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        had_users = {u for u in USERS if exists(pwd.getpwnam, u)}
        had_groups = {g for g in GROUPS if exists(grp.getgrnam, g)}
        try:
            yield
        finally:
            for u in USERS:
                if u not in had_users and exists(pwd.getpwnam, u):
                    subprocess.run(["userdel", u], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
            for g in GROUPS:
                if g not in had_groups and exists(grp.getgrnam, g):
                    subprocess.run(["groupdel", g], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)


def make_install(builddir, prefix, destdir="", **extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "NQ_INSTALL_MODE")}
    args = ["make", "-s", "-C", str(REPO), "install", f"BUILDDIR={builddir}",
            f"PREFIX={prefix}", f"SAN={SAN}"]
    if destdir:
        args.append(f"DESTDIR={destdir}")
    args += [f"{k}={v}" for k, v in extra.items()]
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                       timeout=600)
    assert r.returncode == 0, r.stdout.decode(errors="replace")


def builddir_copy(tmp_path):
    b = tmp_path / "build"
    if BUILDDIR.exists():
        shutil.copytree(BUILDDIR, b, symlinks=True, ignore=shutil.ignore_patterns("root", "instances"))
    return b


def owner(p):
    st = os.lstat(p)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name


def mode(p):
    return stat.S_IMODE(os.lstat(p).st_mode)


def snapshot(root):
    """Everything a second install could change: type, owner, mode, contents."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = pathlib.Path(dirpath) / name
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                what = "->" + os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                what = hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                what = stat.S_IFMT(st.st_mode)
            snap[str(p.relative_to(root))] = (st.st_uid, st.st_gid, st.st_mode, what)
    return snap


def sendmail_state():
    p = "/usr/sbin/sendmail"
    if os.path.islink(p):
        return "->" + os.readlink(p)
    return os.path.exists(p) and hashlib.sha256(open(p, "rb").read()).hexdigest()


def hostname():
    r = subprocess.run(["hostname", "-f"], stdout=subprocess.PIPE, text=True)
    return r.stdout.strip() or socket.gethostname()


def test_system_install_and_again(tmp_path):
    os.chmod(tmp_path, 0o755)
    prefix = tmp_path / "qmail"
    build = builddir_copy(tmp_path)
    sendmail_before = sendmail_state()
    make_install(build, prefix)

    for u in USERS:
        pwd.getpwnam(u)
    for g in GROUPS:
        grp.getgrnam(g)
    assert (prefix / "etc/ids").read_text().startswith("mode=system")

    # qmail-queue is setuid qmailq; the queue belongs to qmail's users
    assert owner(prefix / "bin/qmail-queue")[0] == "qmailq"
    assert mode(prefix / "bin/qmail-queue") & 0o4000
    q = prefix / "queue"
    assert owner(q) == ("qmailq", "qmail") and mode(q) == 0o750
    assert owner(q / "mess")[0] == "qmailq"
    assert owner(q / "info")[0] == "qmails" and mode(q / "info") == 0o700
    assert owner(q / "bounce")[0] == "qmails" and mode(q / "bounce") == 0o700
    assert stat.S_ISFIFO(os.lstat(q / "lock/trigger").st_mode)
    assert owner(q / "lock/trigger")[0] == "qmails" and mode(q / "lock/trigger") == 0o622
    assert owner(prefix / "alias")[0] == "alias"

    # control files from the host name; the alias user's .qmail files
    host = hostname()
    for f in ("me", "locals", "rcpthosts"):
        assert (prefix / "control" / f).read_text() == host + "\n"
    assert (prefix / "control/defaultdelivery").exists()
    assert (prefix / "control/concurrencyincoming").read_text() == "20\n"
    for f in (".qmail-postmaster", ".qmail-root", ".qmail-mailer-daemon"):
        assert (prefix / "alias" / f).exists() and mode(prefix / "alias" / f) == 0o644

    # services: run scripts, loggers running multilog as qmaill, qmailctl
    for s in ("qmail-send", "qmail-smtpd"):
        d = prefix / "supervise" / s
        assert mode(d / "run") == 0o755 and mode(d / "log/run") == 0o755
        log = (d / "log/run").read_text()
        assert "setuidgid qmaill multilog t" in log
        logdir = pathlib.Path(log.split("L=")[1].split("\n")[0])
        assert str(logdir).startswith(str(prefix))
        assert owner(logdir)[0] == "qmaill"
    assert "qmail-start" in (prefix / "supervise/qmail-send/run").read_text()
    assert "tcpserver" in (prefix / "supervise/qmail-smtpd/run").read_text()
    conf = (prefix / "etc/qmailctl.conf").read_text()
    assert f"TCPRULES={prefix}/etc/tcp.smtp\n" in conf
    assert (prefix / "etc/tcp.smtp.cdb").exists()
    assert 'RELAYCLIENT=""' in (prefix / "etc/tcp.smtp").read_text()
    r = run([str(prefix / "bin/qmailctl"), "help"])
    assert r.returncode == 0 and b"doqueue" in r.stdout
    assert (prefix / "man/man8/qmailctl.8").exists()
    assert (prefix / "man/man5/qmail-control.5").exists()
    unit = (prefix / "doc/systemd/qmail-send.service").read_text()
    assert f"ExecStart={prefix}/supervise/qmail-send/run" in unit
    assert (prefix / "doc/systemd/qmail-smtpd.service").exists()
    if shutil.which("systemd-analyze"):
        units = [str(prefix / "doc/systemd" / u) for u in ("qmail-send.service", "qmail-smtpd.service")]
        r = run(["systemd-analyze", "verify", *units])
        assert r.returncode == 0, r.stderr
    # no sendmail link unless asked
    assert sendmail_state() == sendmail_before

    # a site edits its files; installing again changes nothing
    (prefix / "control/me").write_text("mail.site.example\n")
    (prefix / "control/rcpthosts").write_text("site.example\n")
    (prefix / "alias/.qmail-root").write_text("&admin@site.example\n")
    (prefix / "etc/tcp.smtp").write_text(":allow\n")
    before = snapshot(prefix)
    make_install(build, prefix)
    assert snapshot(prefix) == before
    assert (prefix / "control/me").read_text() == "mail.site.example\n"


def test_destdir_install_uses_life_with_qmail_paths(tmp_path):
    os.chmod(tmp_path, 0o755)
    dest = tmp_path / "dest"
    build = builddir_copy(tmp_path)
    make_install(build, "/var/qmail", destdir=dest, SENDMAIL=1)
    root = dest / "var/qmail"
    assert (root / "bin/qmailctl").exists()
    assert (dest / "etc/tcp.smtp").exists() and (dest / "etc/tcp.smtp.cdb").exists()
    assert owner(dest / "var/log/qmail")[0] == "qmaill"
    assert owner(dest / "var/log/qmail/smtpd")[0] == "qmaill"
    conf = (root / "etc/qmailctl.conf").read_text()
    assert "TCPRULES=/etc/tcp.smtp\n" in conf and "SUPERVISE=/var/qmail/supervise\n" in conf
    assert "P=/var/qmail\n" in (root / "supervise/qmail-smtpd/run").read_text()
    assert "L=/var/log/qmail/smtpd\n" in (root / "supervise/qmail-smtpd/log/run").read_text()
    assert os.readlink(dest / "usr/bin/qmailctl") == "/var/qmail/bin/qmailctl"
    for f in ("usr/sbin/sendmail", "usr/lib/sendmail"):
        assert os.readlink(dest / f) == "/var/qmail/bin/sendmail"
    # nothing escaped DESTDIR
    assert not os.path.exists("/var/qmail/etc/qmailctl.conf") or \
        os.path.samefile("/var/qmail", root)
