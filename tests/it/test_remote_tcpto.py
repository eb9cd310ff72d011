"""Dead-host memory: qmail-remote notes connection timeouts in
queue/lock/tcpto; qmail-tcpto prints the table, qmail-tcpok clears it; an
address with two timeouts is skipped for about an hour."""
import re
import socket
import struct
import time

import pytest

from conftest import PREFIX, bin_path, run
from remote_env import Aio, Recorder, Remote

MSG = b"Subject: tcpto\n\nbody\n"
TABLE = PREFIX / "queue" / "lock" / "tcpto"


@pytest.fixture
def remote():
    r = Remote()
    run([bin_path("qmail-tcpok")])
    yield r
    r.restore()


@pytest.fixture
def blackhole():
    """A loopback port whose accept queue is full: SYNs go unanswered, so
    connecting times out, as with a dead host."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.2)
    yield port
    for c in fillers:
        c.close()
    lsock.close()


def tcpto_lines():
    p = run([bin_path("qmail-tcpto")])
    assert p.returncode == 0, p.stderr
    return p.stdout.decode().splitlines()


def write_entry(ip4, count, age):
    """One record in the documented format (qmail-tcpto(8))."""
    rec = bytes(10) + b"\xff\xff" + socket.inet_aton(ip4) + bytes([count]) + bytes(7)
    rec += struct.pack(">Q", int(time.time()) - age)
    TABLE.write_bytes(rec + bytes(32 * 63))


def test_connect_timeout_is_remembered(remote, blackhole):
    remote.ctl("smtproutes", f":127.0.0.1:{blackhole}\n")
    remote.ctl("timeoutconnect", "1\n")
    t0 = time.time()
    reports, _ = remote.send("dead.test", "s@nqmail.test", ["u@dead.test"], MSG)
    assert time.time() - t0 < 10
    assert reports == [("Z", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")]
    lines = tcpto_lines()
    assert len(lines) == 1
    assert re.fullmatch(r"127\.0\.0\.1 timed out \d+ seconds ago; # recent timeouts: 1", lines[0])
    # a second timeout within two minutes is the same incident
    remote.send("dead.test", "s@nqmail.test", ["u@dead.test"], MSG)
    assert tcpto_lines()[0].endswith("# recent timeouts: 1")


def test_dead_host_is_skipped_until_tcpok(remote):
    rec = Recorder()
    srv = Aio(rec)
    try:
        remote.ctl("smtproutes", f":127.0.0.1:{srv.port}\n")
        write_entry("127.0.0.1", 2, 30)
        assert re.fullmatch(r"127\.0\.0\.1 timed out 3\d seconds ago; # recent timeouts: 2",
                            tcpto_lines()[0])
        skipped, _ = remote.send("live.test", "s@nqmail.test", ["u@live.test"], MSG)
        assert skipped == [("Z", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")]
        assert rec.sessions == 0  # not even tried

        assert run([bin_path("qmail-tcpok")]).returncode == 0
        assert tcpto_lines() == []
        sent, _ = remote.send("live.test", "s@nqmail.test", ["u@live.test"], MSG)
        assert sent[-1][0] == "K"

        # long ago counts no more
        write_entry("127.0.0.1", 2, 3 * 3600)
        again, _ = remote.send("live.test", "s@nqmail.test", ["u@live.test"], MSG)
        assert again[-1][0] == "K"
    finally:
        srv.stop()
    # a connection that worked clears the address
    assert tcpto_lines() == []
    assert len(rec.messages) == 2
