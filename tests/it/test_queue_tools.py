"""qmail-qread and qmail-qstat on a queue with waiting messages
(qmail-qread(8), qmail-qstat(8))."""
import os
import re

from conftest import bin_path, run
from queuelib import QueueInstance, wait_until


def test_qstat_and_qread(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "tools")
    (qi.root / "bin" / "qmail-remote").unlink(missing_ok=True)  # remote mail must wait
    qi.add_user("joe")
    assert qi.inject("Subject: one\n\nx\n", sender="a@example.org",
                     recips=["far@remote.example", "joe@test.example"])[0] == 0
    assert qi.inject("Subject: two\n\nyy\n", sender="", recips=["other@remote.example"])[0] == 0
    r = run([bin_path("qmail-qstat", qi.root)])
    assert r.returncode == 0
    assert r.stdout == (b"messages in queue: 2\n"
                        b"messages in queue but not yet preprocessed: 2\n")
    r = run([bin_path("qmail-qread", qi.root)])
    assert r.returncode == 0
    out = r.stdout.decode()
    assert re.search(r"^\d+ \w{3} \d{4} \d\d:\d\d:\d\d GMT  #\d+  \d+  <a@example.org> \n"
                     r"\ttodo\tfar@remote.example\n\ttodo\tjoe@test.example\n", out, re.M), out
    assert "  <> \n\ttodo\tother@remote.example\n" in out

    qi.start()
    try:
        wait_until(lambda: len(qi.maildir("joe")) == 1, 30, "local delivery")
        qi.wait_log("Unable_to_run_qmail-remote", count=2)
        r = run([bin_path("qmail-qstat", qi.root)])
        assert r.stdout == (b"messages in queue: 2\n"
                            b"messages in queue but not yet preprocessed: 0\n")
        out = run([bin_path("qmail-qread", qi.root)]).stdout.decode()
        # qmail's layout: local recipients first, finished ones marked "  done"
        assert "  done\tlocal\tjoe@test.example\n\tremote\tfar@remote.example\n" in out, out
        assert "\tremote\tother@remote.example\n" in out
    finally:
        qi.stop()


def test_clean_removes_only_the_message_it_was_asked_for(tmp_path_factory):
    """Queue IDs are inode numbers: a removal meant for a finished message
    must not take a new message that got the same ID (qmail-clean(8))."""
    qi = QueueInstance(tmp_path_factory, "clean")
    assert qi.inject("Subject: keep\n\nx\n", recips=["a@test.example"])[0] == 0
    [mid] = qi.queue_files("mess")
    header = (qi.root / "queue" / "mess" / mid).read_bytes()[:64].split()
    birth, nsec = header[1].decode(), header[2].decode()
    clean = bin_path("qmail-clean", qi.root)

    # another birth stamp: an older message with this ID, gone already
    r = run([clean], input=f"m{mid} {int(birth) - 5} {nsec}\n".encode())
    assert r.stdout == b"+"
    assert qi.queue_files("mess") == [mid] and qi.queue_files("todo") == [mid]
    assert qi.queue_files("tmp") == []

    # a file a crash left aside while it was checked goes back at startup
    os.rename(qi.root / "queue" / "mess" / mid, qi.root / "queue" / "tmp" / f"rm.{mid}")
    r = run([clean], input=b"")
    assert qi.queue_files("mess") == [mid] and qi.queue_files("tmp") == []

    # the right stamp removes it, with its todo/ hint
    r = run([clean], input=f"m{mid} {birth} {nsec}\n".encode())
    assert r.stdout == b"+"
    assert qi.queue_files("mess") == [] and qi.queue_files("todo") == []
    assert qi.queue_files("tmp") == []
