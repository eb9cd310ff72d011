"""qmail-remote talking to a second nqmail instance: its qmail-smtpd under
Debian's tcpserver, found through dnsmasq, with the queue program standing
in as a capture so that what arrived can be compared byte for byte."""
import pytest

from remote_env import Dns, Remote
from smtpd_util import Capture, reset_controls, smtpd_root, tcpserver, write_rules

MSG = (b"From: a@nqmail.test\nTo: joe@dest.test\nSubject: to a second nqmail\n\n"
       b"first line\n.dotted line\n\xc3\xa9 8-bit\n" + b"y" * 1200 + b"\nlast\n")


@pytest.fixture
def remote():
    r = Remote()
    yield r
    r.restore()


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)  # shared with the smtpd tests: builds cost
    reset_controls(root, me="mx.dest.test\n", rcpthosts="dest.test\n")
    base = tmp_path_factory.mktemp("receiver-run")
    cap = Capture(base)
    rules = write_rules(base / "rules.cdb", ":allow\n")
    with tcpserver(root, rules, cap.env()) as port:
        yield port, cap


def test_delivery_to_nqmail_smtpd(remote, receiver):
    port, cap = receiver
    cap.clear()
    dns = Dns("--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.1")
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"dest.test::{port}\n")
        reports, _ = remote.send("dest.test", "a@nqmail.test",
                                 ["joe@dest.test", "stranger@elsewhere.test"], MSG)
    finally:
        dns.stop()
    # qmail-smtpd refuses the domain that is not in its rcpthosts
    assert [r[0] for r in reports] == ["r", "h", "K"], reports
    assert reports[1][1].startswith("127.0.0.1 does not like recipient.\nRemote host said: 553")
    assert reports[2][1].startswith("127.0.0.1 accepted message.\nRemote host said: 250 ok")
    (msg, sender, rcpts), = cap.messages()
    assert sender == "a@nqmail.test"
    assert rcpts == ["joe@dest.test"]
    # qmail-smtpd puts its Received line on top; the rest is ours, unchanged
    assert msg.startswith(b"Received: from ")
    assert b"(HELO relay.nqmail.test)" in msg.split(b"\n", 1)[0]
    assert msg.endswith(b"\n" + MSG)
    added = msg[:-len(MSG)].split(b"\n")[:-1]  # one Received field, maybe folded
    assert all(line[:1] in (b" ", b"\t") for line in added[1:])
