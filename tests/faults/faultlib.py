"""Helpers for the fault-injection tests: an nqmail instance with both
qmail-smtpd (under Debian's tcpserver) and the queue running, SMTP clients
that remember which messages were answered 250, and Maildir read-back by
a unique token per message."""
import os
import re
import signal
import smtplib
import subprocess

from conftest import bin_path, free_port
from queuelib import QueueInstance, processes, wait_until

TOKEN_RE = re.compile(rb"^X-Fault-Token: (\S+)\r?$", re.M)
BODY_LINES = 20


def body_for(token, pad=0):
    """A message whose token also fixes its whole body, so that a
    truncated delivery shows; pad adds that many 80-byte lines first."""
    pads = "".join(f"{token} pad {i:06d} {'p' * 60}\r\n" for i in range(pad))
    lines = "".join(f"{token} line {i:03d} {'x' * 40}\r\n" for i in range(BODY_LINES))
    return (f"From: faults@client.example\r\nTo: f@test.example\r\nSubject: {token}\r\n"
            f"Message-ID: <{token}@client.example>\r\nX-Fault-Token: {token}\r\n\r\n"
            f"{pads}{lines}").encode()


def check_body(data, token):
    """1 when the delivered message carries its whole body."""
    want = "".join(f"{token} line {i:03d} {'x' * 40}\n" for i in range(BODY_LINES)).encode()
    return data.replace(b"\r\n", b"\n").endswith(want)


class SmtpInstance(QueueInstance):
    """QueueInstance plus tcpserver running qmail-smtpd on a free port."""

    def __init__(self, tmp_path_factory, name="faults"):
        super().__init__(tmp_path_factory, name)
        self.control("rcpthosts", "test.example")
        self.smtpd = None
        self.port = None

    def start_smtpd(self):
        self.port = free_port()
        self.smtpd = subprocess.Popen(
            ["tcpserver", "-q", "-H", "-R", "-l", "test.example", "-c", "40",
             "127.0.0.1", str(self.port), bin_path("qmail-smtpd", self.root)],
            stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: _connects(self.port), 20, "tcpserver to listen")

    def stop_smtpd(self):
        if self.smtpd is None:
            return
        try:
            os.killpg(self.smtpd.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.smtpd.wait(timeout=10)
        self.smtpd = None

    def delivered(self, user):
        """{token: [complete?, ...]} for every message in user's Maildir."""
        out = {}
        md = self.homes / user / "Maildir"
        for sub in ("new", "cur"):
            for name in os.listdir(md / sub):
                data = (md / sub / name).read_bytes()
                m = TOKEN_RE.search(data)
                tok = m.group(1).decode() if m else f"?{name}"
                out.setdefault(tok, []).append(check_body(data, tok))
        return out


def _connects(port):
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def send_many(port, tokens, rcpt, accepted, failed, stop, per_conn=20):
    """Sends one message per token over SMTP; a token answered 250 goes to
    accepted, any other outcome (4xx, a dropped connection) to failed."""
    s = None
    n = 0
    for tok in tokens:
        if stop.is_set():
            break
        try:
            if s is None:
                s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=60)
                n = 0
            s.sendmail("faults@client.example", [rcpt], body_for(tok))
        except (smtplib.SMTPException, OSError):
            failed.append(tok)
            try:
                if s is not None:
                    s.close()
            except OSError:
                pass
            s = None
            continue
        accepted.append(tok)
        n += 1
        if n >= per_conn:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
            s = None
    if s is not None:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def processes_in_sessions(sids, names):
    """[(pid, name)] of the processes named in names whose session is one
    of sids."""
    return [(pid, name) for pid, name, _, sid in processes(names) if sid in sids]
