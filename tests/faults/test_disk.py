"""A full disk under the queue, under a Maildir and under an mbox, with
the whole system running (tcpserver + qmail-smtpd, qmail-send): each is a
small tmpfs filled up by a filler file, later removed to free the space.

- queue: the SMTP client gets a 4xx for its DATA, the messages already
  queued stay byte for byte as they were, and once space is freed the
  client's retry is accepted and everything is delivered;
- Maildir: the delivery is deferred (nothing in new/, nothing left in
  tmp/), the message stays queued and is delivered whole after the space
  is freed (qmail-send retries on SIGALRM);
- mbox: the same, and the mbox is truncated back to its length before
  the failed delivery.
"""
import errno
import os
import smtplib
import signal

import pytest

from conftest import report, small_tmpfs
from faultlib import SmtpInstance, body_for, check_body
from queuelib import make_queue_tree, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


def fill(directory, leave=0):
    """Fills the file system under directory with directory/filler, then
    gives back about leave bytes."""
    path = directory / "filler"
    chunk = b"\0" * 4096
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
    if leave:
        os.truncate(path, max(0, path.stat().st_size - leave))
    return path


def smtp_send(port, token, size_lines=0, rcpt="f@test.example"):
    """(code, reply) of the end of DATA for one message."""
    body = body_for(token, pad=size_lines)
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example", timeout=60) as s:
        s.ehlo()
        s.mail("faults@client.example")
        s.rcpt(rcpt)
        code, msg = s.data(body)
        s.quit()
    return code, msg


def test_full_queue_disk(tmp_path_factory):
    si = SmtpInstance(tmp_path_factory, "fullq")
    si.add_user("f")
    queue = si.root / "queue"
    with small_tmpfs(queue, "1m", mode="750"):
        make_queue_tree(queue)
        si.start_smtpd()
        try:
            for i in range(3):
                assert smtp_send(si.port, f"q{i}")[0] == 250
            before = {n: (queue / "mess" / n).read_bytes() for n in si.queue_files("mess")}
            assert len(before) == 3
            filler = fill(queue)
            code, msg = smtp_send(si.port, "qfull")
            assert 400 <= code < 500, (code, msg)
            assert {n: (queue / "mess" / n).read_bytes()
                    for n in si.queue_files("mess")} == before
            assert si.queue_files("tmp") == []
            filler.unlink()
            assert smtp_send(si.port, "qfull")[0] == 250
            si.start()
            wait_until(lambda: set(si.delivered("f")) == {"q0", "q1", "q2", "qfull"}, 60,
                       "the four messages")
            wait_until(lambda: not si.queue_files("mess"), 30, "an empty queue")
        finally:
            si.stop_smtpd()
            si.stop()
    got = si.delivered("f")
    assert all(all(v) for v in got.values())
    assert all(len(v) == 1 for v in got.values())
    report(f"disk full, queue: DATA answered {code} {msg.decode(errors='replace')!r}; "
           f"3 queued messages intact; accepted and delivered after space was freed")


def deferred_then_delivered(si, user, token, home, check):
    """Sends token to user while home's file system is full: the delivery
    must be deferred, check() must hold, and after freeing the space and
    SIGALRM the message must arrive. Returns the deferral log line."""
    filler = fill(home, leave=8192)
    si.start()
    try:
        log0 = len(si.log_text())
        code, _ = smtp_send(si.port, token, size_lines=400, rcpt=f"{user}@test.example")  # ~30 KB
        assert code == 250
        wait_until(lambda: "deferral:" in si.log_text()[log0:], 60, "a deferral")
        line = next(l for l in si.log_text()[log0:].splitlines() if "deferral:" in l)
        assert len(si.queue_files("mess")) == 1
        check()
        filler.unlink()

        def retried():
            si.signal(signal.SIGALRM)  # retry now, not on the schedule
            return not si.queue_files("mess")
        try:
            wait_until(retried, 60, "the retried delivery")
        except AssertionError:
            raise AssertionError(si.log_text()[-3000:])
    finally:
        si.stop()
    return line


def test_full_maildir(tmp_path_factory):
    si = SmtpInstance(tmp_path_factory, "fullmd")
    home = si.homes / "f"
    home.mkdir()
    with small_tmpfs(home, "256k", mode="755"):
        si.add_user("f")
        si.start_smtpd()
        md = home / "Maildir"

        def check():
            assert os.listdir(md / "new") == []
            assert os.listdir(md / "tmp") == []

        try:
            line = deferred_then_delivered(si, "f", "mdfull", home, check)
        finally:
            si.stop_smtpd()
        got = si.delivered("f")
        assert list(got) == ["mdfull"] and got["mdfull"] == [True]
    report(f"disk full, Maildir: deferred ({line.strip()[:120]}), nothing in new/ or tmp/; "
           f"delivered whole after space was freed")


def test_full_mbox(tmp_path_factory):
    si = SmtpInstance(tmp_path_factory, "fullmbox")
    home = si.homes / "m"
    home.mkdir()
    with small_tmpfs(home, "256k", mode="755"):
        si.add_user("m", dotqmail="./mbox\n")
        box = home / "mbox"
        box.write_bytes(b"From old@example.org Thu Jan  1 00:00:00 2026\nSubject: old\n\nold\n\n")
        si.start_smtpd()
        before = box.read_bytes()

        def check():
            assert box.read_bytes() == before

        try:
            line = deferred_then_delivered(si, "m", "mboxfull", home, check)
        finally:
            si.stop_smtpd()
        data = box.read_bytes()
        assert data.startswith(before)
        assert data.count(b"\nFrom ") + data.startswith(b"From ") == 2
        assert check_body(data.rstrip(b"\n") + b"\n", "mboxfull")
    report(f"disk full, mbox: deferred ({line.strip()[:120]}), mbox truncated back to "
           f"{len(before)} bytes; delivered after space was freed")
