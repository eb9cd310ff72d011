"""How qmail-queue tells qmail-send about a new message (docs/QUEUE.md):
its ID on lock/trigger while qmail-send reads it, a todo/ marker
otherwise; the message file is written without a name and linked into
mess/ only when complete; lock/trigger is writable by everybody, so what
arrives there is only a name to look at."""
import os
import shutil
import subprocess

from queuelib import QueueInstance, envelope, wait_until


def test_running_send_gets_the_id_and_no_todo_marker(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "hint")
    qi.add_user("joe")
    qi.start()
    try:
        for i in range(5):
            assert qi.inject(f"Subject: hint {i}\n\nbody {i}\n")[0] == 0
            # the hint went through the FIFO: no marker was ever made
            assert qi.queue_files("todo") == []
        msgs = qi.wait_mail("joe", 5)
        assert sorted(m["Subject"] for m in msgs) == [f"hint {i}" for i in range(5)]
        assert qi.log_text().count("new msg ") == 5
    finally:
        qi.stop()


def test_stopped_send_gets_a_todo_marker(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "nohint")
    qi.add_user("joe")
    assert qi.inject("Subject: waits\n\nx\n")[0] == 0
    assert qi.queue_files("todo") == qi.queue_files("mess")
    qi.start()
    try:
        qi.wait_mail("joe", 1)
        wait_until(lambda: qi.queue_files("todo") == [], 30, "todo/ marker removed")
    finally:
        qi.stop()


def test_trigger_garbage_and_false_ids_lose_nothing(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "junk")
    qi.add_user("joe")
    qi.start()
    try:
        fd = os.open(qi.root / "queue" / "lock" / "trigger", os.O_WRONLY | os.O_NONBLOCK)
        try:
            # IDs of no message, a number too long, junk, a half line
            os.write(fd, b"999999999\n12345678901234567890123\nhello\n\x00\x01\xff\n4")
        finally:
            os.close(fd)
        assert qi.inject("Subject: after junk\n\nx\n")[0] == 0
        [msg] = qi.wait_mail("joe", 1)
        assert msg["Subject"] == "after junk"
        assert qi.proc.poll() is None, "qmail-send died"
        assert "warning" not in qi.log_text() and "alert" not in qi.log_text()
    finally:
        qi.stop()


def test_message_is_written_without_a_name(tmp_path_factory, tmp_path):
    qi = QueueInstance(tmp_path_factory, "tmpfile")
    trace = tmp_path / "trace"
    r, w = os.pipe()  # qmail-queue reads the envelope on fd 1
    os.write(w, envelope("a@example.org", ["joe@test.example"]))
    os.close(w)
    p = subprocess.run(["strace", "-o", str(trace), "-e", "trace=open,openat,creat,linkat,rename,fsync,fdatasync",
                        str(qi.root / "bin" / "qmail-queue")],
                       input=b"Subject: x\n\nx\n", stdout=r, stderr=subprocess.PIPE, timeout=60)
    os.close(r)
    assert p.returncode == 0, p.stderr
    calls = trace.read_text()
    assert "O_TMPFILE" in calls and "linkat(" in calls, calls
    # the pool is empty: its slots are looked at, nothing is made in tmp/
    tmp_calls = [c for c in calls.splitlines() if '"tmp/' in c]
    assert all(c.startswith("rename(\"pool/") and "ENOENT" in c for c in tmp_calls), calls
    [mid] = qi.queue_files("mess")
    assert f'"mess/{mid}"' in calls
    # one fsync, after the name is given: data, inode and name together
    syncs = [c for c in calls.splitlines() if c.startswith(("fsync(", "fdatasync("))]
    assert len(syncs) == 1, calls
    assert calls.index("linkat(") < calls.index(syncs[0]), calls
    assert qi.queue_files("tmp") == []
