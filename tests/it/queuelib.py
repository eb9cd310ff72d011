"""Helpers for the queue tests: a running queue in a fresh instance.

QueueInstance builds a user instance (conftest.new_instance), gives it
control files and users/assign entries whose homes live under the test's
temporary directory, starts qmail-start in a process group of its own and
stops it again. inject() runs qmail-queue with the envelope on fd 1, as
qmail-queue(8) wants it.
"""
import mailbox
import os
import pathlib
import signal
import subprocess
import time

from conftest import bin_path, new_instance, run


def envelope(sender, recips):
    e = b"F" + sender.encode() + b"\0"
    for r in recips:
        e += b"T" + r.encode() + b"\0"
    return e + b"\0"


def qmail_queue(prefix, message, sender, recips, env=None, timeout=60):
    """Runs qmail-queue; returns (exit code, stderr)."""
    r, w = os.pipe()
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.Popen([bin_path("qmail-queue", prefix)], stdin=subprocess.PIPE,
                         stdout=r, stderr=subprocess.PIPE, env=full_env)
    os.close(r)
    try:
        try:
            p.stdin.write(message)
            p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            os.write(w, envelope(sender, recips))
        except BrokenPipeError:
            pass
    finally:
        os.close(w)
    err = p.stderr.read()
    return p.wait(timeout=timeout), err


def make_queue_tree(q):
    """An empty queue in directory q (a mount point, say), laid out as
    scripts/install.sh lays it out for a user instance."""
    for d, mode in (("tmp", 0o2700), ("pool", 0o2700), ("mess", 0o2750), ("todo", 0o2750), ("info", 0o700),
                    ("bounce", 0o700), ("lock", 0o750)):
        (q / d).mkdir()
        os.chmod(q / d, mode)
    os.mkfifo(q / "lock" / "trigger", 0o622)
    (q / "lock" / "sendmutex").write_text("")


def processes(names=None):
    """[(pid, name, pgid, sid)] of the live (not zombie) processes, only
    those named in names when given."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] == "Z" or (names is not None and name not in names):
            continue
        out.append((int(d), name, int(fields[2]), int(fields[3])))
    return out


def wait_until(pred, timeout=30, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class QueueInstance:
    def __init__(self, tmp_path_factory, name="q", me="test.example", root=None):
        self.root = pathlib.Path(root) if root else new_instance(tmp_path_factory, name)
        self.homes = tmp_path_factory.mktemp(name + "homes")
        os.chmod(self.homes, 0o755)
        self.proc = None
        self.logfile = self.root / "send.log"
        self.control("me", me)
        self.assign = []

    def control(self, name, text):
        p = self.root / "control" / name
        p.write_text(text + ("\n" if text and not text.endswith("\n") else ""))

    def home(self, name, dotqmail="./Maildir/\n", maildir=True):
        h = self.homes / name
        h.mkdir(exist_ok=True)
        if maildir:
            for d in ("new", "cur", "tmp"):
                (h / "Maildir" / d).mkdir(parents=True, exist_ok=True)
        if dotqmail is not None:
            (h / ".qmail").write_text(dotqmail)
        return h

    def add_user(self, name, dotqmail="./Maildir/\n", wildcard=True, uid=None, gid=None):
        """users/assign: name (and name-ext) delivered as uid into a home."""
        h = self.home(name, dotqmail)
        uid = os.getuid() if uid is None else uid
        gid = os.getgid() if gid is None else gid
        self.assign.append(f"={name}:{name}:{uid}:{gid}:{h}:::")
        if wildcard:
            self.assign.append(f"+{name}-:{name}:{uid}:{gid}:{h}:-::")
        self.newu()
        return h

    def newu(self):
        (self.root / "users" / "assign").write_text("\n".join(self.assign) + "\n.\n")
        r = run([bin_path("qmail-newu", self.root)], cwd=self.root)
        assert r.returncode == 0, r.stderr

    def start(self, defaultdelivery="./Maildir/"):
        assert self.proc is None
        self.log = open(self.logfile, "ab")
        start = self.logfile.stat().st_size
        self.proc = subprocess.Popen([bin_path("qmail-start", self.root), defaultdelivery],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        # ready (signal handlers in place) once it logs its first status
        try:
            wait_until(lambda: b"status:" in self.logfile.read_bytes()[start:], 30,
                       "qmail-send to start")
        except AssertionError:
            self.stop(signal.SIGKILL)
            raise
        return self.proc

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc is None:
            return
        try:
            os.kill(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=timeout)
        finally:
            # the helpers leave once qmail-send is gone; make sure
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc = None
            self.log.close()

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def inject(self, message, sender="sender@example.org", recips=("joe@test.example",),
               env=None):
        if isinstance(message, str):
            message = message.encode()
        return qmail_queue(self.root, message, sender, list(recips), env=env)

    def log_text(self):
        self.log.flush() if self.proc else None
        return self.logfile.read_text(errors="replace")

    def wait_log(self, text, timeout=30, count=1):
        wait_until(lambda: self.log_text().count(text) >= count, timeout,
                   f"{text!r} x{count} in the log")
        return self.log_text()

    def maildir(self, name):
        return mailbox.Maildir(str(self.homes / name / "Maildir"), factory=None, create=False)

    def messages(self, name):
        md = self.maildir(name)
        return [md[k] for k in md.keys()]

    def wait_mail(self, name, count=1, timeout=30):
        return wait_until(lambda: len(self.maildir(name)) >= count and self.messages(name),
                          timeout, f"{count} message(s) for {name}")

    def queue_files(self, d):
        """The message IDs with a file in queue/d (info/done is not one)."""
        return sorted(p.name for p in (self.root / "queue" / d).iterdir() if p.name.isdigit())

    def queue_empty(self):
        return not self.queue_files("mess") and not self.queue_files("info")
