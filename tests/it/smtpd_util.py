"""Helpers for the qmail-smtpd tests: an install root of their own, a
capturing queue program, pipe sessions and a real tcpserver."""
import contextlib
import os
import pathlib
import socket
import subprocess
import time

from conftest import bin_path, free_port, new_instance

CAPTURE = r"""#!/bin/sh
# Stands in for qmail-queue: saves the message (fd 0) and the envelope
# (fd 1) under $CAPTURE_DIR, then exits with the code in $CAPTURE_DIR/exit.
d=${CAPTURE_DIR:?}
n=$$
cat > "$d/$n.msg.tmp" || exit 54
cat <&1 > "$d/$n.env.tmp" || exit 54
# Like qmail-queue: no envelope means the client gave up; keep nothing.
[ -s "$d/$n.env.tmp" ] || { rm -f "$d/$n.msg.tmp" "$d/$n.env.tmp"; exit 81; }
mv "$d/$n.msg.tmp" "$d/$n.msg"
mv "$d/$n.env.tmp" "$d/$n.env"
code=0
[ -f "$d/exit" ] && code=$(cat "$d/exit")
exit "$code"
"""

_root = {}


def free_port6():
    """A TCP port on ::1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET6) as s:
        s.bind(("::1", 0))
        return s.getsockname()[1]


def smtpd_root(tmp_path_factory):
    """One install root for all smtpd tests (controls are reset per test)."""
    if "root" not in _root:
        _root["root"] = new_instance(tmp_path_factory, "smtpd")
    return _root["root"]


class Capture:
    """A directory where the capturing queue program leaves messages."""

    def __init__(self, base):
        self.dir = pathlib.Path(base) / "capture"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.prog = pathlib.Path(base) / "capture-queue"
        self.prog.write_text(CAPTURE)
        self.prog.chmod(0o755)

    def env(self):
        return {"QMAILQUEUE": str(self.prog), "CAPTURE_DIR": str(self.dir)}

    def set_exit(self, code):
        (self.dir / "exit").write_text(f"{code}\n")

    def messages(self):
        """[(message bytes, sender, [recipients])] in the order queued."""
        out = []
        envs = sorted(self.dir.glob("*.env"), key=lambda p: p.stat().st_mtime_ns)
        for e in envs:
            msg = e.with_suffix(".msg").read_bytes()
            parts = e.read_bytes().split(b"\0")
            sender = parts[0][1:].decode("latin-1") if parts and parts[0][:1] == b"F" else None
            rcpts = [p[1:].decode("latin-1") for p in parts[1:] if p[:1] == b"T"]
            out.append((msg, sender, rcpts))
        return out

    def clear(self):
        for p in self.dir.iterdir():
            p.unlink()


def reset_controls(root, **files):
    """Empties control/ and writes the given files (name=text)."""
    ctl = pathlib.Path(root) / "control"
    for p in ctl.iterdir():
        if p.is_file():
            p.unlink()
    (ctl / "defaultdelivery").write_text("./Maildir/\n")
    for name, text in files.items():
        (ctl / name.replace("_", ".")).write_text(text)


def smtpd_pipe(root, data, env=None, timeout=30):
    """Runs qmail-smtpd on a pipe; returns (stdout bytes, stderr, exit code)."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TCP")
            and k not in ("RELAYCLIENT", "DATABYTES")}
    full.update({"TCPREMOTEIP": "192.0.2.7", "TCPLOCALIP": "127.0.0.1"})
    full.update(env or {})
    full = {k: v for k, v in full.items() if v is not None}
    p = subprocess.run([bin_path("qmail-smtpd", root)], input=data,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=full, timeout=timeout)
    return p.stdout, p.stderr.decode("latin-1"), p.returncode


def replies(out):
    """Splits server output into reply lines (str, CRLF stripped)."""
    assert out.endswith(b"\r\n") or out == b"", out
    return [l.decode("latin-1") for l in out.split(b"\r\n")[:-1]]


def write_rules(path, text):
    """Compiles a tcp.smtp-style rules file with Debian's tcprules."""
    path = pathlib.Path(path)
    src = path.with_suffix(".txt")
    src.write_text(text)
    with open(src, "rb") as f:
        subprocess.run(["tcprules", str(path), str(path) + ".tmp"], stdin=f,
                       check=True)
    return path


@contextlib.contextmanager
def tcpserver(root, rules_cdb, env=None, host="127.0.0.1"):
    """qmail-smtpd under a real tcpserver on host (no DNS: -H -R -l)."""
    port = free_port() if host == "127.0.0.1" else free_port6()
    full = dict(os.environ)
    full.update(env or {})
    log = open(pathlib.Path(rules_cdb).parent / f"tcpserver-{port}.log", "wb")
    p = subprocess.Popen(
        ["tcpserver", "-v", "-H", "-R", "-l", "localhost", "-x", str(rules_cdb),
         "-c", "20", host, str(port), bin_path("qmail-smtpd", root)],
        env=full, stdout=log, stderr=log)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            with socket.socket(family) as s:
                if s.connect_ex((host, port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("tcpserver did not start")
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)
        log.close()
