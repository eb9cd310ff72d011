"""queue/pool (docs/QUEUE.md): qmail-clean keeps the emptied files of
finished messages, and qmail-queue writes new messages into them, so a
steady flow of mail does not allocate and free an inode per message."""
import os
import shutil
import subprocess

from conftest import bin_path
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


def test_qmail_clean_empties_a_file_before_it_enters_the_pool(tmp_path_factory, tmp_path):
    """Once a file is in pool/, a qmail-queue may take it and write the
    next message into it at any moment. qmail-clean once emptied it
    there with truncate(2) by name: a lookup of pool/N just before a
    qmail-queue renamed it away emptied that next message after it had
    been acknowledged (a bench run lost one message of 10,000 that way).
    So the file is emptied under its private name tmp/rm.ID, and after
    the rename into pool/ qmail-clean touches no pool/ name again."""
    qi = QueueInstance(tmp_path_factory, "cleanorder")
    qi.add_user("joe")
    assert qi.inject("Subject: done\n\n" + "old body\n" * 300)[0] == 0
    [mid] = qi.queue_files("mess")
    head = (qi.root / "queue" / "mess" / mid).read_bytes()[:64].split()
    birth, nsec = head[1].decode(), head[2].decode()
    trace = tmp_path / "trace"
    r = subprocess.run(["strace", "-qq", "-o", str(trace), "-e",
                        "trace=truncate,ftruncate,rename,renameat,renameat2,open,openat,unlink",
                        bin_path("qmail-clean", qi.root)],
                       input=f"m{mid} {birth} {nsec}\n".encode(), stdout=subprocess.PIPE,
                       timeout=60)
    assert r.stdout == b"+"
    assert qi.queue_files("mess") == []
    [pooled] = pool_files(qi)
    assert pooled.stat().st_size == 0 and pooled.stat().st_ino == int(mid)
    calls = [line for line in trace.read_text().splitlines() if "(" in line]
    into_pool = [i for i, c in enumerate(calls) if c.startswith("renameat2(") and '"pool/' in c]
    emptied = [i for i, c in enumerate(calls)
               if c.startswith("truncate(") and f'"tmp/rm.{mid}"' in c]
    assert len(into_pool) == 1 and emptied and emptied[0] < into_pool[0], calls
    assert not any('"pool/' in c for c in calls[into_pool[0] + 1:]), calls


def test_qmail_clean_restart_drops_an_emptied_file_and_restores_a_message(tmp_path_factory):
    """A crash between emptying tmp/rm.ID and pooling it leaves an empty
    file: it is no message (every message file has a header), so the
    next qmail-clean removes it instead of putting an empty mess/ID back,
    where it would sit for ever. A whole file there is restored."""
    qi = QueueInstance(tmp_path_factory, "cleanrestart")
    qi.add_user("joe")
    assert qi.inject("Subject: keep\n\nkeep me\n")[0] == 0
    [mid] = qi.queue_files("mess")
    q = qi.root / "queue"
    os.rename(q / "mess" / mid, q / "tmp" / f"rm.{mid}")
    (q / "tmp" / "rm.777").write_bytes(b"")
    r = subprocess.run([bin_path("qmail-clean", qi.root)], input=b"", timeout=60)
    assert r.returncode == 0
    assert sorted(os.listdir(q / "tmp")) == []
    assert qi.queue_files("mess") == [mid]
    qi.start()
    try:
        [m] = qi.wait_mail("joe", 1)
        assert m.get_payload() == "keep me\n"
    finally:
        qi.stop()


def test_qmail_queue_leaves_a_pooled_file_with_a_second_name_untouched(tmp_path_factory):
    """A file in pool/ that also has another name (here: a queued
    message) is not qmail-queue's to write: it looks before it empties
    anything, and writes the new message elsewhere."""
    qi = QueueInstance(tmp_path_factory, "poollink")
    qi.add_user("joe")
    assert qi.inject("Subject: first\n\nkeep this body\n")[0] == 0
    [mid] = qi.queue_files("mess")
    q = qi.root / "queue"
    before = (q / "mess" / mid).read_bytes()
    for slot in range(4096):  # every slot: whichever qmail-queue probes
        os.link(q / "mess" / mid, q / "pool" / str(slot))
    assert qi.inject("Subject: second\n\nnew body\n")[0] == 0
    assert (q / "mess" / mid).read_bytes() == before
    assert len(qi.queue_files("mess")) == 2
    for p in pool_files(qi):
        p.unlink()
    qi.start()
    try:
        msgs = qi.wait_mail("joe", 2)
        assert sorted(m.get_payload() for m in msgs) == ["keep this body\n", "new body\n"]
    finally:
        qi.stop()
