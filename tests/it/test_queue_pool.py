"""queue/pool (docs/QUEUE.md): qmail-clean keeps the emptied files of
finished messages, and qmail-queue writes new messages into them, so a
steady flow of mail does not allocate and free an inode per message."""
import os
import shutil

from queuelib import QueueInstance, wait_until


def pool_files(qi):
    return sorted((qi.root / "queue" / "pool").iterdir())


def test_finished_messages_are_emptied_into_the_pool(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "pool")
    qi.add_user("joe")
    qi.start()
    try:
        for i in range(5):
            assert qi.inject(f"Subject: m{i}\n\n" + "secret body\n" * 200)[0] == 0
            qi.wait_mail("joe", i + 1)
            wait_until(qi.queue_empty, 30, "queue empty")
        pool = pool_files(qi)
        assert 1 <= len(pool) <= 5
        for f in pool:
            st = f.stat()
            # nothing of the old message is left to read
            assert st.st_size == 0 and st.st_nlink == 1
            assert 0 <= int(f.name) < 4096
    finally:
        qi.stop()


def test_a_pooled_file_carries_the_next_message_intact(tmp_path_factory):
    """A long message, then short ones written into its emptied inode:
    each arrives byte for byte, with nothing of the old one after it."""
    qi = QueueInstance(tmp_path_factory, "reuse")
    qi.add_user("joe")
    qi.start()
    try:
        assert qi.inject("Subject: long\n\n" + "L" * 60 + "\n" * 1 + ("tail line\n" * 3000))[0] == 0
        qi.wait_mail("joe", 1)
        wait_until(lambda: qi.queue_empty() and pool_files(qi), 30, "message pooled")
        pooled = {f.stat().st_ino for f in pool_files(qi)}
        qi.stop()
        # qmail-send not running: the new message stays in mess/ to look at
        assert qi.inject("Subject: short\n\nshort body\n")[0] == 0
        [mid] = qi.queue_files("mess")
        assert int(mid) in pooled  # the ID is the reused inode's number
        assert not pool_files(qi) or int(mid) not in {f.stat().st_ino for f in pool_files(qi)}
        qi.start()
        msgs = qi.wait_mail("joe", 2)
        short = [m for m in msgs if m["Subject"] == "short"]
        assert len(short) == 1 and short[0].get_payload() == "short body\n"
    finally:
        qi.stop()


def test_a_queue_without_a_pool_works_as_before(tmp_path_factory):
    """A queue made before pool/ existed: messages are created and
    removed as before, nothing fails."""
    qi = QueueInstance(tmp_path_factory, "nopool")
    qi.add_user("joe")
    shutil.rmtree(qi.root / "queue" / "pool")
    qi.start()
    try:
        for i in range(3):
            assert qi.inject(f"Subject: m{i}\n\nx\n")[0] == 0
        qi.wait_mail("joe", 3)
        wait_until(qi.queue_empty, 30, "queue empty")
        assert not os.path.exists(qi.root / "queue" / "pool")
        assert os.listdir(qi.root / "queue" / "tmp") == []
        assert "warning" not in qi.log_text().replace("warning: no rcpthosts", "")
    finally:
        qi.stop()
