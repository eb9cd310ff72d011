"""Helpers for the operations tests: a supervised instance driven by qmailctl.

Supervised builds a user instance (conftest.new_instance), points its
etc/qmailctl.conf at a scratch svscan directory, a free port on 127.0.0.1
and its own rules file, gives it control files and a sample user whose
Maildir lives under the test's temporary directory, and runs svscan in a
session of its own. close() stops the services the way an operator would
(svc -dx), then kills whatever is left in svscan's session; every wait is
bounded.
"""
import mailbox
import os
import pathlib
import signal
import smtplib
import subprocess
import time

from conftest import bin_path, free_port, new_instance, run


def wait_until(pred, timeout=30, what="condition", step=0.1):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def session_pids(sid):
    """Live processes whose session is sid (svscan's, and all it started);
    zombies waiting for init to reap them do not count."""
    out = subprocess.run(["ps", "-e", "-o", "pid=", "-o", "sid=", "-o", "stat="],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    pids = []
    for line in out.splitlines():
        f = line.split()
        if len(f) == 3 and int(f[1]) == sid and int(f[0]) != sid and not f[2].startswith("Z"):
            pids.append(int(f[0]))
    return pids


def kill_session(sid, timeout=10):
    """SIGKILL for every process of session sid; waits until none is left."""
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_until(lambda: not session_pids(sid), timeout, f"session {sid} to end")


def maildir_count(path):
    return len(mailbox.Maildir(str(path), factory=None, create=False))


def maildir_messages(path):
    md = mailbox.Maildir(str(path), factory=None, create=False)
    return [md[k] for k in md.keys()]


def smtp_send(port, rcpts, body="Subject: test\n\nhello\n", sender="tester@example.org"):
    """Sends one message; returns the server's reply to DATA (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        refused = s.sendmail(sender, rcpts, body)
        assert not refused, refused
        return 250


def rcpt_reply(port, rcpt, sender="tester@example.org"):
    """The reply code to RCPT TO:<rcpt>; no message is sent."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo()
        code, _ = s.mail(sender)
        assert code == 250
        code, _ = s.rcpt(rcpt)
        s.rset()
        return code


def smtp_refused(port):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5):
            return False
    except (ConnectionRefusedError, smtplib.SMTPServerDisconnected):
        return True


class Supervised:
    def __init__(self, tmp_path_factory, name="ops"):
        self.root = pathlib.Path(new_instance(tmp_path_factory, name))
        self.base = tmp_path_factory.mktemp(name + "svc")
        os.chmod(self.base, 0o755)
        self.service = self.base / "service"
        self.service.mkdir()
        self.rules = self.base / "tcp.smtp"
        self.port = free_port()
        self.svscan = None
        conf = (f"SUPERVISE={self.root}/supervise\n"
                f"SERVICE={self.service}\n"
                f"TCPRULES={self.rules}\n"
                f"TCPCDB={self.rules}.cdb\n"
                "SMTP_IP=127.0.0.1\n"
                f"SMTP_PORT={self.port}\n"
                "TCPSERVER_OPTS=-v -R -H\n"
                "STOPWAIT=30\n")
        (self.root / "etc" / "qmailctl.conf").write_text(conf)
        self.control("me", "ops.test")
        self.control("locals", "ops.test")
        self.control("rcpthosts", "ops.test")
        self.control("defaultdelivery", "./Maildir/")
        self.home = self.base / "demo"
        for d in ("new", "cur", "tmp"):
            (self.home / "Maildir" / d).mkdir(parents=True)
        (self.home / ".qmail").write_text("./Maildir/\n")
        (self.home / ".qmail-default").write_text("./Maildir/\n")
        uid, gid = os.getuid(), os.getgid()
        (self.root / "users" / "assign").write_text(
            f"=demo:demo:{uid}:{gid}:{self.home}:::\n"
            f"+demo-:demo:{uid}:{gid}:{self.home}:-::\n.\n")
        r = run([bin_path("qmail-newu", self.root)], cwd=self.root)
        assert r.returncode == 0, r.stderr
        self.write_rules(":allow\n")
        r = self.ctl("cdb")
        assert r.returncode == 0, r.stderr

    @property
    def maildir(self):
        return self.home / "Maildir"

    def control(self, name, text):
        (self.root / "control" / name).write_text(text + "\n")

    def write_rules(self, text):
        self.rules.write_text(text)

    def ctl(self, *args, timeout=120):
        return run([bin_path("qmailctl", self.root), *args], timeout=timeout)

    def start_svscan(self):
        log = open(self.base / "svscan.log", "ab")
        self.svscan = subprocess.Popen(["svscan", str(self.service)], stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        log.close()

    def wait_smtp(self, timeout=30):
        def up():
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                    return s.noop()[0] == 250
            except OSError:
                return False
        wait_until(up, timeout, f"qmail-smtpd on port {self.port}")

    def svstat(self, name):
        return run(["svstat", str(self.root / "supervise" / name)]).stdout.decode()

    def log(self, name):
        p = self.root / "log" / name / "current"
        return p.read_text(errors="replace") if p.exists() else ""

    def close(self):
        if self.svscan is None:
            return
        sid = self.svscan.pid
        self.svscan.kill()
        self.svscan.wait(timeout=10)
        sup = self.root / "supervise"
        dirs = [sup / "qmail-smtpd", sup / "qmail-send",
                sup / "qmail-smtpd" / "log", sup / "qmail-send" / "log"]
        run(["svc", "-dx", *map(str, dirs[:2])])
        try:
            wait_until(lambda: not any(run(["svok", str(d)]).returncode == 0 for d in dirs[:2]),
                       30, "the services to stop")
        except AssertionError:
            pass
        run(["svc", "-dx", *map(str, dirs[2:])])
        try:
            wait_until(lambda: not session_pids(sid), 10, "svscan's session to end")
        except AssertionError:
            pass
        kill_session(sid)
        self.svscan = None
