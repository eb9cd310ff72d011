"""qmail-send's progress files (docs/QUEUE.md): a one-recipient message
keeps its state in memory and is noted in info/done when it finishes; an
info/ID file is written only when there is progress to keep, such as a
deferral and its retry time."""
import re
import signal
import time

from queuelib import QueueInstance, wait_until


def mess_stamp(qi, mid):
    """The birth stamp in mess/ID's header: 'NQM1 sec nsec ...'."""
    path = next((qi.root / "queue" / "mess").rglob(str(mid)))
    head = path.read_bytes()[:64].split()
    assert head[0] == b"NQM1"
    return int(head[1]), int(head[2])


def test_delivered_messages_leave_no_info_files(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "noinfo")
    qi.add_user("joe")
    qi.start()
    try:
        for i in range(3):
            assert qi.inject(f"Subject: m{i}\n\nx\n")[0] == 0
        qi.wait_mail("joe", 3)
        wait_until(qi.queue_empty, 30, "queue empty")
        assert qi.queue_files("info") == []
        # each finished message was noted, for a restart before its removal
        done = (qi.root / "queue" / "info" / "done").read_text()
        assert len(done.splitlines()) == 3
    finally:
        qi.stop()


def test_a_message_noted_done_is_not_delivered_again(tmp_path_factory):
    """As if qmail-send had been killed after the delivery and before
    qmail-clean removed the message."""
    qi = QueueInstance(tmp_path_factory, "redo")
    qi.add_user("joe")
    assert qi.inject("Subject: delivered already\n\nx\n")[0] == 0
    assert qi.inject("Subject: not yet\n\nx\n")[0] == 0
    first, second = sorted(qi.queue_files("mess"), key=lambda m: mess_stamp(qi, m))
    sec, nsec = mess_stamp(qi, first)
    (qi.root / "queue" / "info" / "done").write_text(f"{first} {sec} {nsec}\n")
    qi.start()
    try:
        [msg] = qi.wait_mail("joe", 1)
        assert msg["Subject"] == "not yet"
        wait_until(qi.queue_empty, 30, "queue empty")
        assert len(qi.messages("joe")) == 1
        assert f"end msg {first}" in qi.log_text()
    finally:
        qi.stop()


def test_a_stale_done_line_does_not_stop_a_new_message(tmp_path_factory):
    """A reused ID (inode number) with another birth stamp is a new message."""
    qi = QueueInstance(tmp_path_factory, "stale")
    qi.add_user("joe")
    assert qi.inject("Subject: new\n\nx\n")[0] == 0
    [mid] = qi.queue_files("mess")
    sec, nsec = mess_stamp(qi, mid)
    (qi.root / "queue" / "info" / "done").write_text(
        f"{mid} {sec - 5} {nsec}\ngarbage line\n{mid} {sec}\n")
    qi.start()
    try:
        [msg] = qi.wait_mail("joe", 1)
        assert msg["Subject"] == "new"
    finally:
        qi.stop()


def test_a_deferral_writes_info_and_keeps_its_retry_time(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "defer")
    qi.add_user("joe", dotqmail="|exit 111\n")
    qi.start()
    try:
        assert qi.inject("Subject: later\n\nx\n")[0] == 0
        qi.wait_log("deferral:")
        [mid] = qi.queue_files("mess")
        wait_until(lambda: qi.queue_files("info") == [mid], 30, "info file written")
        qi.stop()
        tries = qi.log_text().count("starting delivery")
        qi.start()
        # the retry is 100 seconds after birth: no new try at restart
        time.sleep(2)
        assert qi.log_text().count("starting delivery") == tries
        qi.signal(signal.SIGALRM)  # now it is retried
        wait_until(lambda: qi.log_text().count("starting delivery") == tries + 1, 30,
                   "a try after ALRM")
        assert re.search(r"delivery \d+: deferral:", qi.log_text())
    finally:
        qi.stop()
