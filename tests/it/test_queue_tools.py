"""qmail-qread and qmail-qstat on a queue with waiting messages
(qmail-qread(8), qmail-qstat(8))."""
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
        assert "\tremote\tfar@remote.example\n\tdone\tlocal\tjoe@test.example\n" in out, out
        assert "\tremote\tother@remote.example\n" in out
    finally:
        qi.stop()
