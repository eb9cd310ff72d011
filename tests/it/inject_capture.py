"""Helpers for the qmail-inject and sendmail tests: a stand-in for
qmail-queue that records what it was given.

QMAILQUEUE names a program run with the message on fd 0 and the envelope
on fd 1 (qmail-queue(8)). The capture program saves both to files and
exits with a code the test chooses, so that a test can read back exactly
what qmail-inject queued.
"""
import email
import email.policy
import os

from conftest import PREFIX

CONTROL = PREFIX / "control"
CONTROL_FILES = ("me", "defaultdomain", "defaulthost", "plusdomain", "idhost", "localtime")


class Capture:
    def __init__(self, d, code=0):
        self.dir = d
        self.program = d / "capture-queue"
        self.program.write_text(
            "#!/bin/sh\n"
            f"cat > '{d}/message' || exit 54\n"
            f"cat 0<&1 > '{d}/envelope' || exit 54\n"
            f"exit {code}\n")
        self.program.chmod(0o755)
        self.env = {"QMAILQUEUE": str(self.program)}

    def ran(self):
        return (self.dir / "message").exists()

    def raw(self):
        return (self.dir / "message").read_bytes()

    def message(self):
        return email.message_from_bytes(self.raw(), policy=email.policy.compat32)

    def envelope(self):
        """(sender, [recipients]) from qmail-queue's envelope format."""
        data = (self.dir / "envelope").read_bytes()
        assert data.endswith(b"\0\0"), data
        parts = data[:-2].split(b"\0")
        assert parts[0].startswith(b"F"), data
        recips = [p[1:].decode() for p in parts[1:]]
        assert all(p.startswith(b"T") for p in parts[1:]), data
        return parts[0][1:].decode(), recips


def set_controls(values):
    """Writes control files of the shared root; returns what to restore."""
    saved = {}
    for name in CONTROL_FILES:
        p = CONTROL / name
        saved[name] = p.read_bytes() if p.exists() else None
        if p.exists():
            p.unlink()
    for name, value in values.items():
        (CONTROL / name).write_text(value + "\n")
    return saved


def restore_controls(saved):
    for name, value in saved.items():
        p = CONTROL / name
        if value is None:
            if p.exists():
                p.unlink()
        else:
            p.write_bytes(value)


def clean_env(**extra):
    """An environment without the variables qmail-inject looks at."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("QMAIL") or k in ("MAILUSER", "USER", "LOGNAME", "MAILHOST",
                                                  "MAILNAME", "NAME"))}
    env.update(extra)
    return env
