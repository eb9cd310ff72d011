"""What the helper-program tests share: the environment qmail-local gives a
delivery program (qmail-command(8)), running a helper with a seekable
message on standard input as qmail-local does, and a capturing stand-in
for qmail-queue that saves the message (fd 0) and the envelope (fd 1)."""
import os
import subprocess
import tempfile

from conftest import bin_path

UFDATE = "Thu Nov 26 08:41:00 2026"


def qmail_env(sender="alice@example.org", user="bob", host="example.com",
              ext="", newsender=None, **extra):
    """The variables qmail-local sets for a |program line."""
    local = user + ("-" + ext if ext else "")
    recipient = f"{local}@{host}"
    env = {
        "SENDER": sender,
        "NEWSENDER": sender if newsender is None else newsender,
        "RECIPIENT": recipient,
        "USER": user,
        "HOME": "/home/" + user,
        "HOST": host,
        "LOCAL": local,
        "EXT": ext,
        "DTLINE": f"Delivered-To: {recipient}\n",
        "RPLINE": f"Return-Path: <{sender}>\n",
        "UFLINE": f"From {sender or 'MAILER-DAEMON'} {UFDATE}\n",
    }
    env.update(extra)
    return env


def run_helper(args, message=b"", env=None, unset=(), seekable=True,
               cwd=None, timeout=60):
    """Runs an installed helper (args[0] is its name) the way qmail-local
    runs a .qmail command: the message on a seekable standard input, the
    given environment on top of ours minus the names in unset."""
    full = dict(os.environ)
    full.update(env or {})
    for name in unset:
        full.pop(name, None)
    argv = [bin_path(args[0])] + list(args[1:])
    if not seekable:
        return subprocess.run(argv, input=message, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=full, cwd=cwd,
                              timeout=timeout)
    with tempfile.TemporaryFile() as f:
        f.write(message)
        f.seek(0)
        return subprocess.run(argv, stdin=f, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=full, cwd=cwd,
                              timeout=timeout)


class Queue:
    """A stand-in for qmail-queue: saves what it reads on fd 0 and fd 1
    into files and exits with the code the test chose."""

    def __init__(self, directory, exit_code=0):
        self.dir = directory
        self.program = directory / "capture-queue"
        self.program.write_text(
            "#!/bin/sh\n"
            f"cat > '{directory}/message' || exit 54\n"
            f"cat <&1 > '{directory}/envelope' || exit 54\n"
            f"exit {exit_code}\n")
        self.program.chmod(0o755)

    @property
    def env(self):
        return {"QMAILQUEUE": str(self.program)}

    def called(self):
        return (self.dir / "message").exists()

    def message(self):
        return (self.dir / "message").read_bytes()

    def envelope(self):
        """(sender, [recipients]) as read from the envelope on fd 1."""
        raw = (self.dir / "envelope").read_bytes()
        assert raw.endswith(b"\0\0"), raw
        fields = raw[:-2].split(b"\0")
        assert fields[0].startswith(b"F"), raw
        assert all(f.startswith(b"T") for f in fields[1:]), raw
        return (fields[0][1:].decode(),
                [f[1:].decode() for f in fields[1:]])
