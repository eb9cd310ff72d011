"""The README's run command: `make run` builds nqmail, sets up a user
instance, runs it under svscan on 127.0.0.1 and prints how to send mail to
its sample user. The test follows those printed instructions (swaks, then
Python's smtplib), reads the mail back from the printed Maildir, stops it
with SIGINT to the process group (what Ctrl-C does) and checks that nothing
of the instance is left running; a second run reuses the instance."""
import os
import pathlib
import re
import shlex
import signal
import smtplib
import subprocess
import time


from conftest import REPO, free_port
from opslib import maildir_count, maildir_messages, wait_until


def instance_processes(root):
    """PIDs of processes whose command line or working directory is inside root."""
    root = str(root)
    found = []
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(d / "cwd")
        except OSError:
            continue
        if root in cmd or cwd.startswith(root):
            found.append((int(d.name), cmd))
    return found


class MakeRun:
    def __init__(self, instance, port):
        self.instance = instance
        self.port = port
        self.out = instance.parent / f"make-run-{time.time_ns()}.out"
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "NQ_INSTALL_MODE")}
        with open(self.out, "wb") as f:
            self.proc = subprocess.Popen(
                ["make", "-s", "-C", str(REPO), "run", f"PORT={port}", f"INSTANCE={instance}"],
                stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)

    def text(self):
        return self.out.read_text(errors="replace")

    def wait_ready(self, timeout=300):
        def ready():
            assert self.proc.poll() is None, self.text()
            return f"nqmail runs on 127.0.0.1:{self.port}" in self.text()
        wait_until(ready, timeout, "make run to print its instructions", step=0.5)
        return self.text()

    def interrupt(self, timeout=90):
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=timeout)
        finally:
            self.kill()

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        for pid, _ in instance_processes(self.instance):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def printed_command(text, program):
    line = next(l for l in text.splitlines() if l.strip().startswith(program + " "))
    return shlex.split(line.strip())


def test_make_run_delivers_and_stops_on_ctrl_c(tmp_path):
    instance = tmp_path / "run"
    port = free_port()
    run = MakeRun(instance, port)
    try:
        text = run.wait_ready()
        maildir = pathlib.Path(re.search(r"It lands in: (\S+)", text).group(1))
        assert str(maildir).startswith(str(instance))
        assert "swaks" in text and "smtplib" in text

        swaks = printed_command(text, "swaks")
        r = subprocess.run(swaks + ["--header", "Subject: via swaks"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout
        wait_until(lambda: maildir_count(maildir.parent) == 1, 60, "the swaks message")
        msg = maildir_messages(maildir.parent)[0]
        assert msg["Subject"] == "via swaks"
        assert msg["Delivered-To"].startswith("demo@localhost")

        py = printed_command(text, "python3")
        r = subprocess.run(["/usr/bin/python3"] + py[1:], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout
        wait_until(lambda: maildir_count(maildir.parent) == 2, 60, "the smtplib message")

        # qmail-rcptd runs too: an address delivery would bounce is refused at RCPT
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
            c.mail("you@example.com")
            assert c.rcpt("demo-nosuch@localhost")[0] == 550
            assert c.rcpt("demo@localhost")[0] == 250

        run.interrupt()
        assert "Stopped." in run.text(), run.text()
        assert instance_processes(instance) == []
    finally:
        run.kill()

    # again: the same instance, its mail kept, a new message delivered
    run = MakeRun(instance, port)
    try:
        text = run.wait_ready()
        assert maildir_count(maildir.parent) == 2
        r = subprocess.run(printed_command(text, "swaks"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        assert r.returncode == 0, r.stdout
        wait_until(lambda: maildir_count(maildir.parent) == 3, 60, "a message on the second run")
        run.interrupt()
        assert instance_processes(instance) == []
    finally:
        run.kill()
