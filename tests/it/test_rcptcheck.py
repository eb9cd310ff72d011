"""Recipient checks at RCPT time (qmail-rcptd(8), qmail-smtpd(8)).

A table of addresses across every routing form (locals, user-ext with
.qmail-ext and -default files, virtualdomains, users/assign exact and
wildcard entries, the alias user, upper case, names not in passwd) is sent
to qmail-smtpd under tcpserver; each must be answered at RCPT as delivery
decides: the existing ones are also delivered and found in the right
Maildir, the missing ones get 550 5.1.1, and with control/rcptcheck 0 they
are accepted and bounced with qmail's "no mailbox" text instead. A stopped
checker means qmail's accept-then-bounce; a checker that cannot decide
means 451.

The passwd accounts (an alias user of our own included) live in a private
mount namespace whose /etc/passwd is a copy of the machine's plus ours, so
nothing outside the test changes; qmail-rcptd and qmail-start run inside
it, qmail-smtpd does not need to (it only talks to the socket).
"""
import os
import pathlib
import signal
import smtplib
import shutil
import subprocess
import tempfile

import pytest

import conftest
from conftest import bin_path
from queuelib import QueueInstance, wait_until
from smtpd_util import tcpserver, write_rules
from test_queue_system import system_root  # noqa: F401 (a fixture: a system install)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root for the mount namespace")

UID = 60000 + os.getpid() % 1000 * 4  # four accounts' worth, unlikely to be in use
USERS = {"rcjoe": UID, "rcbob": UID + 1, "alias": UID + 2, "rcnohome": UID + 3}

# (address, exists): what delivery decides for each routing form
TABLE = [
    ("rcjoe@rcpt.test", True),               # passwd user, its .qmail
    ("RCJOE@rcpt.test", True),               # upper case: qmail-getpw lowercases
    ("rcjoe-list@rcpt.test", True),          # user-ext with .qmail-list
    ("RcJoe-LIST@RCPT.TEST", True),          # any case, .qmail names are lower case
    ("rcjoe-dept-sales@rcpt.test", True),    # .qmail-dept-default
    ("rcjoe-missing@rcpt.test", False),      # ext without a file and no -default
    ("rcbob-anything@rcpt.test", True),      # .qmail-default
    ("list@virt.test", True),                # virtualdomains virt.test:rcjoe -> rcjoe-list
    ("nope@virt.test", False),               # -> rcjoe-nope: no such file
    ("exact@rcpt.test", True),               # users/assign =exact -> .qmail-list
    ("exact2@rcpt.test", False),             # users/assign =exact2 -> .qmail-nothere
    ("club-gold@rcpt.test", True),           # users/assign +club- wildcard -> .qmail-club-gold
    ("Club-Silver@rcpt.test", False),        # wildcard, no .qmail-club-silver
    ("foo@rcpt.test", True),                 # not in passwd -> alias, ~alias/.qmail-foo
    ("Foo@rcpt.test", True),                 # same, any case
    ("nosuchuser@rcpt.test", False),         # not in passwd, alias has no .qmail-default
    ("rcnohome@rcpt.test", False),           # in passwd but not owning its home -> alias
]
MAILDIR = {"rcjoe": "rcjoe", "RCJOE": "rcjoe", "rcjoe-list": "rcjoe", "RcJoe-LIST": "rcjoe",
           "rcjoe-dept-sales": "rcjoe", "rcbob-anything": "rcbob", "list": "rcjoe",
           "exact": "rcjoe", "club-gold": "rcjoe", "foo": "alias", "Foo": "alias"}


class Checked:
    """A user instance with qmail-send, qmail-rcptd and tcpserver running."""

    def __init__(self, tmp_path_factory):
        # an install root and homes the accounts can reach (pytest's
        # temporary directories are root's, mode 700)
        self.base = pathlib.Path(tempfile.mkdtemp(prefix="nqrcpt-", dir="/var/tmp"))
        os.chmod(self.base, 0o755)
        builddir = conftest.REPO / "build" / "instances" / f"rcpt-{os.getpid()}"
        if conftest.BUILDDIR.exists() and not builddir.exists():
            shutil.copytree(conftest.BUILDDIR, builddir, symlinks=True,
                            ignore=shutil.ignore_patterns("root", "instances"))
        conftest._install(builddir, self.base / "root")
        self.q = QueueInstance(tmp_path_factory, "rcpt", me="rcpt.test", root=self.base / "root")
        self.passwd = self.base / "passwd"
        self.q.homes = self.base  # where QueueInstance.messages looks
        self.homes = {}
        lines = [l for l in pathlib.Path("/etc/passwd").read_text().splitlines(True)
                 if l.split(":")[0] not in USERS]
        for name, uid in USERS.items():
            home = self.base / name
            home.mkdir()
            lines.append(f"{name}:x:{uid}:{uid}::{home}:/usr/sbin/nologin\n")
            self.homes[name] = home
        self.passwd.write_text("".join(lines))
        self.dotqmail("rcjoe", "", ".qmail-list", ".qmail-dept-default", ".qmail-club-gold")
        self.dotqmail("rcbob", ".qmail-default")
        self.dotqmail("alias", ".qmail-foo")
        for name, uid in USERS.items():
            if name != "rcnohome":  # its home stays root's: not a user by qmail-getpw(8)
                subprocess.run(["chown", "-R", f"{uid}:{uid}", str(self.homes[name])], check=True)
        q = self.q
        q.control("locals", "rcpt.test")
        q.control("rcpthosts", "rcpt.test\nvirt.test")
        q.control("virtualdomains", "virt.test:rcjoe")
        joe, juid = self.homes["rcjoe"], USERS["rcjoe"]
        q.assign = [f"=exact:rcjoe:{juid}:{juid}:{joe}:-:list:",
                    f"=exact2:rcjoe:{juid}:{juid}:{joe}:-:nothere:",
                    f"+club-:rcjoe:{juid}:{juid}:{joe}:-:club-:"]
        q.newu()
        self.rules = write_rules(self.base / "rules.cdb", ":allow\n")
        self.rcptd = None

    def dotqmail(self, user, *names):
        h = self.homes[user]
        for d in ("new", "cur", "tmp"):
            (h / "Maildir" / d).mkdir(parents=True, exist_ok=True)
        for n in names:
            (h / (n or ".qmail")).write_text("./Maildir/\n")

    def ns(self, argv):
        """argv run in a private mount namespace that sees our passwd."""
        return ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount --bind "$0" /etc/passwd && exec "$@"', str(self.passwd), *argv]

    def start_send(self):
        q = self.q
        q.log = open(q.logfile, "ab")
        start = q.logfile.stat().st_size
        q.proc = subprocess.Popen(self.ns([bin_path("qmail-start", q.root), "./Maildir/"]),
                                  stdout=q.log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: b"status:" in q.logfile.read_bytes()[start:], 30, "qmail-send")

    def start_rcptd(self):
        sock = self.q.root / "rcptd" / "socket"
        sock.unlink(missing_ok=True)
        self.rcptd_log = open(self.base / "rcptd.log", "ab")
        self.rcptd = subprocess.Popen(self.ns([bin_path("qmail-rcptd", self.q.root)]),
                                      stdout=self.rcptd_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        wait_until(sock.exists, 10, "qmail-rcptd's socket")

    def stop_rcptd(self):
        if self.rcptd:
            os.killpg(self.rcptd.pid, signal.SIGTERM)
            self.rcptd.wait(timeout=10)
            self.rcptd_log.close()
            self.rcptd = None

    def maildir_subjects(self, user):
        return [m["Subject"] for m in self.q.messages(user)]


@pytest.fixture(scope="module")
def inst(tmp_path_factory):
    c = Checked(tmp_path_factory)
    c.start_send()
    c.start_rcptd()
    try:
        with tcpserver(c.q.root, c.rules) as port:
            c.port = port
            yield c
    finally:
        c.stop_rcptd()
        c.q.stop()
        shutil.rmtree(c.base, ignore_errors=True)


def rcpt_codes(port, rcpts, sender="rcbob-sender@rcpt.test"):
    """{address: (code, text)} for RCPT TO of each, in one session."""
    out = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        s.ehlo()
        assert s.mail(sender)[0] == 250
        for r in rcpts:
            code, text = s.rcpt(r)
            out[r] = (code, text.decode())
    return out


def send(port, rcpts, subject, sender="rcbob-sender@rcpt.test"):
    """Sends one message; returns smtplib's dict of refused recipients."""
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
        return s.sendmail(sender, rcpts, f"Subject: {subject}\n\nbody\n")


def bounces_to_bob(c):
    return [m for m in c.q.messages("rcbob") if m["Subject"] == "failure notice"]


def test_table_answered_at_rcpt_as_delivery_decides(inst):
    codes = rcpt_codes(inst.port, [a for a, _ in TABLE])
    for addr, exists in TABLE:
        code, text = codes[addr]
        if exists:
            assert code == 250, (addr, code, text)
        else:
            assert code == 550 and text.startswith("5.1.1 "), (addr, code, text)
    # every existing address really is delivered, to the right mailbox
    for addr, exists in TABLE:
        if exists:
            assert send(inst.port, [addr], f"to {addr}") == {}
    for addr, exists in TABLE:
        if exists:
            user = MAILDIR[addr.split("@")[0]]
            wait_until(lambda: f"to {addr}" in inst.maildir_subjects(user), 30,
                       f"delivery of {addr} to {user}")
    # refused recipients never reach the queue, so nothing bounces
    refused = send(inst.port, ["rcjoe@rcpt.test"] + [a for a, e in TABLE if not e], "mixed")
    assert set(refused) == {a for a, e in TABLE if not e}
    wait_until(lambda: "mixed" in inst.maildir_subjects("rcjoe"), 30, "the mixed message")
    inst.q.wait_log("end msg", count=sum(e for _, e in TABLE) + 1)
    assert bounces_to_bob(inst) == []
    assert "bounce msg" not in inst.q.log_text()


def test_alias_default_catches_everything(inst):
    (inst.homes["alias"] / ".qmail-default").write_text("./Maildir/\n")
    try:
        codes = rcpt_codes(inst.port, ["nosuchuser@rcpt.test", "rcnohome@rcpt.test",
                                       "rcjoe-missing@rcpt.test"])
        assert codes["nosuchuser@rcpt.test"][0] == 250
        assert codes["rcnohome@rcpt.test"][0] == 250
        # a passwd user's missing extension is still the user's business
        assert codes["rcjoe-missing@rcpt.test"][0] == 550
    finally:
        (inst.homes["alias"] / ".qmail-default").unlink()


def test_not_local_is_not_checked(inst):
    # rcpthosts decides for other domains; RELAYCLIENT sessions are never checked
    codes = rcpt_codes(inst.port, ["someone@far.example"])
    assert codes["someone@far.example"][0] == 553
    rules = write_rules(inst.base / "relay.cdb", ':allow,RELAYCLIENT=""\n')
    with tcpserver(inst.q.root, rules) as port:
        codes = rcpt_codes(port, ["rcjoe-missing@rcpt.test", "someone@far.example"])
    assert codes["rcjoe-missing@rcpt.test"][0] == 250
    assert codes["someone@far.example"][0] == 250


def expect_accept_then_bounce(inst, subject, missing):
    assert send(inst.port, missing, subject) == {}
    def bounced():
        for m in bounces_to_bob(inst):
            text = m.as_string()
            if f"Subject: {subject}" in text:
                return text
    text = wait_until(bounced, 30, f"the bounce of {subject!r}")
    for a in missing:
        # qmail-send shows the address as sent (before virtualdomains)
        assert f"<{a}>:\nSorry, no mailbox here by that name. (#5.1.1)\n" in text, a
    return text


def test_switch_off_restores_accept_then_bounce(inst):
    missing = [a for a, e in TABLE if not e]
    inst.q.control("rcptcheck", "0")
    try:
        codes = rcpt_codes(inst.port, missing)
        assert all(c == 250 for c, _ in codes.values()), codes
        # delivery agrees with what the checker would have said: each bounces
        expect_accept_then_bounce(inst, "switched off", missing)
    finally:
        (inst.q.root / "control" / "rcptcheck").unlink()
    assert rcpt_codes(inst.port, ["rcjoe-missing@rcpt.test"])["rcjoe-missing@rcpt.test"][0] == 550


def test_checker_down_means_accept_as_qmail(inst):
    inst.stop_rcptd()
    try:
        # the socket is left behind: connection refused
        assert (inst.q.root / "rcptd" / "socket").exists()
        codes = rcpt_codes(inst.port, ["rcjoe-missing@rcpt.test"])
        assert codes["rcjoe-missing@rcpt.test"][0] == 250
        expect_accept_then_bounce(inst, "checker down", ["rcjoe-missing@rcpt.test"])
        # no socket at all (never set up): the same, without a warning
        (inst.q.root / "rcptd" / "socket").unlink()
        assert rcpt_codes(inst.port, ["rcjoe-x@rcpt.test"])["rcjoe-x@rcpt.test"][0] == 250
    finally:
        inst.start_rcptd()
    assert rcpt_codes(inst.port, ["rcjoe-missing@rcpt.test"])["rcjoe-missing@rcpt.test"][0] == 550


def test_undecidable_is_a_temporary_refusal(inst):
    # a users/cdb that cannot be read defers delivery; RCPT says 451
    cdb = inst.q.root / "users" / "cdb"
    good = cdb.read_bytes()
    cdb.write_bytes(b"garbage")
    try:
        codes = rcpt_codes(inst.port, ["rcjoe-missing@rcpt.test"])
        code, text = codes["rcjoe-missing@rcpt.test"]
        assert code == 451 and text.startswith("4.3.0 "), (code, text)
    finally:
        cdb.write_bytes(good)
    assert rcpt_codes(inst.port, ["rcjoe@rcpt.test"])["rcjoe@rcpt.test"][0] == 250


def test_home_is_examined_as_its_user(inst):
    # A home its own user cannot enter defers delivery (qmail-local runs as
    # that user); root could look inside, the checker must not: 451.
    home = inst.homes["rcbob"]
    home.chmod(0)
    try:
        code, text = rcpt_codes(inst.port, ["rcbob-x@rcpt.test"])["rcbob-x@rcpt.test"]
        assert code == 451, (code, text)
    finally:
        home.chmod(0o755)
    assert rcpt_codes(inst.port, ["rcbob-x@rcpt.test"])["rcbob-x@rcpt.test"][0] == 250


def test_sticky_home_defers_while_the_user_edits(inst):
    """dot-qmail(5), safe .qmail editing: with the home sticky, delivery is
    deferred, so RCPT gets 451, not 550, for an extension whose file is
    not written yet; once the file is there and the bit is off, 250 and
    delivery."""
    home, uid = inst.homes["rcjoe"], USERS["rcjoe"]
    addr = "rcjoe-newlist@rcpt.test"
    assert rcpt_codes(inst.port, [addr])[addr][0] == 550
    home.chmod(0o1755)
    try:
        code, text = rcpt_codes(inst.port, [addr])[addr]
        assert code == 451 and text.startswith("4.3.0 "), (code, text)
        f = home / ".qmail-newlist"
        f.write_text("./Maildir/\n")
        os.chown(f, uid, uid)
    finally:
        home.chmod(0o755)
    try:
        assert send(inst.port, [addr], "after editing") == {}
        wait_until(lambda: "after editing" in inst.maildir_subjects("rcjoe"), 30, "delivery")
    finally:
        (home / ".qmail-newlist").unlink()


def test_writable_home_defers(inst):
    # qmail-local defers on a home others can write: so does RCPT
    home = inst.homes["rcjoe"]
    home.chmod(0o777)
    try:
        code, text = rcpt_codes(inst.port, ["rcjoe-missing@rcpt.test"])["rcjoe-missing@rcpt.test"]
        assert code == 451 and text.startswith("4.3.0 "), (code, text)
    finally:
        home.chmod(0o755)


def smtpd_as(root, uid, gid, rcpts):
    """A qmail-smtpd session on a pipe, run as uid:gid (no other groups)."""
    lines = ["HELO client.test", "MAIL FROM:<a@client.test>"]
    lines += [f"RCPT TO:<{r}>" for r in rcpts] + ["QUIT", ""]
    env = {"TCPREMOTEIP": "192.0.2.9", "TCPLOCALIP": "127.0.0.1", "PATH": "/usr/bin:/bin"}
    for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if k in os.environ:
            env[k] = os.environ[k]
    p = subprocess.run([bin_path("qmail-smtpd", root)], input="\r\n".join(lines).encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=60,
                       user=uid, group=gid, extra_groups=[])
    replies = [l for l in p.stdout.decode().split("\r\n") if l[:3].isdigit()]
    # the greeting, HELO and MAIL come first
    return [int(l[:3]) for l in replies[3:3 + len(rcpts)]], p.stderr.decode()


def test_system_install_only_qmail_users_reach_the_checker(system_root):
    """In a system install qmail-smtpd runs as qmaild (group nofiles): it can
    ask; any other unprivileged user cannot, and then gets qmail's
    behaviour (accept), never a refusal."""
    import grp
    import pwd
    root, _ = system_root
    nofiles = grp.getgrnam("nofiles").gr_gid
    qmaild = pwd.getpwnam("qmaild").pw_uid
    for f, v in (("me", "sys.test"), ("locals", "sys.test"), ("rcpthosts", "sys.test")):
        (root / "control" / f).write_text(v + "\n")
    home = root.parent / "known"
    home.mkdir()
    (home / ".qmail-x").write_text("./Maildir/\n")
    os.chown(home, 65534, 65534)
    home.chmod(0o700)
    (root / "users" / "assign").write_text(f"+known-:nobody:65534:65534:{home}:-::\n.\n")
    subprocess.run([bin_path("qmail-newu", root)], cwd=root, check=True)
    st = os.stat(root / "rcptd")
    assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, nofiles, 0o750)
    p = subprocess.Popen([bin_path("qmail-rcptd", root)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    try:
        sock = root / "rcptd" / "socket"
        wait_until(sock.exists, 10, "qmail-rcptd's socket")
        st = os.stat(sock)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, nofiles, 0o770)
        codes, _ = smtpd_as(root, qmaild, nofiles, ["known-x@sys.test", "known-y@sys.test"])
        assert codes == [250, 550]
        codes, err = smtpd_as(root, 65534, 65534, ["known-y@sys.test"])
        assert codes == [250]
        assert "recipient checker not answering" in err
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(timeout=10)
