"""A full disk: with the queue on a small tmpfs, qmail-queue fails with a
temporary error (53, "qq write error or disk full") and leaves the
messages already queued intact and deliverable.
"""
import os

import pytest

from conftest import small_tmpfs

from queuelib import QueueInstance, make_queue_tree, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs")


def test_full_queue_disk_is_a_temporary_failure(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "disk")
    qi.add_user("d")
    queue = qi.root / "queue"
    with small_tmpfs(queue, "512k", mode="750"):
        make_queue_tree(queue)
        small = [f"Subject: small-{i}\n\n{'y' * 1000}\n" for i in range(5)]
        for m in small:
            code, err = qi.inject(m, recips=["d@test.example"])
            assert code == 0, err
        before = {n: (queue / "mess" / n).read_bytes() for n in qi.queue_files("mess")}
        assert len(before) == 5
        # far more than the tmpfs holds
        code, err = qi.inject("Subject: big\n\n" + ("z" * 1023 + "\n") * 1024,
                              recips=["d@test.example"])
        assert code == 53, (code, err)
        # the failed injection left nothing behind, the others are untouched
        assert qi.queue_files("tmp") == []
        assert {n: (queue / "mess" / n).read_bytes() for n in qi.queue_files("mess")} == before
        # and they are delivered
        qi.start()
        try:
            wait_until(lambda: len(qi.maildir("d")) == 5, 30, "five deliveries")
            wait_until(lambda: not qi.queue_files("mess"), 30, "empty queue")
        finally:
            qi.stop()
        assert sorted(m["Subject"] for m in qi.messages("d")) == [f"small-{i}" for i in range(5)]
        # with room again, injection works again
        code, err = qi.inject("Subject: after\n\nok\n", recips=["d@test.example"])
        assert code == 0, err
