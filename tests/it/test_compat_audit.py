"""Compatibility audit: behaviour qmail's man pages document (and netqmail
1.06 shows) that the programs once got wrong. Each test pins one detail
of an output format or exit code a user or script would rely on."""
import re

import pytest

from conftest import bin_path, run
from queuelib import QueueInstance


@pytest.fixture(scope="module")
def qi(tmp_path_factory):
    q = QueueInstance(tmp_path_factory, "audit")
    yield q
    q.stop()


def test_qread_layout_bouncing_and_unprintable_sender(qi):
    """qmail-qread(8): a message with failure reports waiting says
    "<sender>  bouncing" (two spaces); bytes outside printable ASCII in
    the sender show as '_'."""
    assert qi.inject("Subject: q\n\nx\n", sender="caf\u00e9@example.org",
                     recips=["far@remote.example"])[0] == 0
    ids = qi.queue_files("mess")
    assert len(ids) == 1
    (qi.root / "queue" / "bounce" / ids[0]).write_bytes(b"")
    try:
        out = run([bin_path("qmail-qread", qi.root)]).stdout.decode()
    finally:
        (qi.root / "queue" / "bounce" / ids[0]).unlink()
        for d in ("mess", "todo", "info", "local", "remote", "intd"):
            p = qi.root / "queue" / d / ids[0]
            if p.exists():
                p.unlink()
    assert re.search(r"^\d+ \w{3} \d{4} \d\d:\d\d:\d\d GMT  #%s  \d+  "
                     r"<caf__@example\.org>  bouncing\n" % ids[0], out, re.M), out
