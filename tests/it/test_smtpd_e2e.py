"""End to end: SMTP clients (smtplib, swaks) -> tcpserver -> qmail-smtpd
-> qmail-queue -> qmail-send -> qmail-local -> Maildir, read back with
Python's mailbox module; and the relay matrix once more, this time
watching what qmail-send does with what qmail-smtpd accepted."""
import re
import smtplib
import subprocess

import pytest

import queuelib  # noqa: E402
QueueInstance, wait_until = queuelib.QueueInstance, queuelib.wait_until

from smtpd_util import tcpserver, write_rules  # noqa: E402
from test_smtpd_relay import FORMS, is_ours  # noqa: E402

RULES = '127.0.0.2:allow,RELAYCLIENT=""\n:allow\n'


@pytest.fixture(scope="module")
def mta(tmp_path_factory):
    q = QueueInstance(tmp_path_factory, "smtpe2e", me="example.org")
    q.control("rcpthosts", "example.org\nlocalhost\n")
    q.control("locals", "example.org\nlocalhost\n")
    q.add_user("joe")
    q.add_user("ann")
    q.add_user("bounces")
    q.add_user("user")
    q.start()
    rules = write_rules(tmp_path_factory.mktemp("e2erules") / "tcp.smtp.cdb", RULES)
    env = {"QMAILQUEUE": ""}
    try:
        with tcpserver(q.root, rules, env) as port:
            yield q, port
    finally:
        q.stop()


def test_smtplib_message_reaches_the_maildir(mta):
    q, port = mta
    body = "Subject: end to end\r\n\r\nhello joe\r\n.a dotted line\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.sendmail("someone@client.test", ["joe@example.org"], body) == {}
    [m] = q.wait_mail("joe")
    assert m["Subject"] == "end to end"
    assert m["Return-Path"] == "<someone@client.test>"
    received = m.get_all("Received")
    assert any(re.match(r"from unknown \(HELO client\.test\) \(127\.0\.0\.1\)\s+by localhost "
                        r"with SMTP; ", r) for r in received), received
    assert m.get_payload() == "hello joe\n.a dotted line\n"


def test_swaks_pipelined_to_two_users(mta):
    q, port = mta
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--pipeline",
                        "--from", "x@client.test", "--to", "ann@example.org,ANN@localhost",
                        "--header", "Subject: swaks e2e", "--body", "via swaks",
                        "--timeout", "20"], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout.decode()
    msgs = q.wait_mail("ann", 2)
    assert all(m["Subject"] == "swaks e2e" for m in msgs)
    assert sorted(m["Delivered-To"].lower() for m in msgs) == ["ann@example.org", "ann@localhost"]


def test_relay_forms_never_leave_for_a_foreign_host(mta):
    q, port = mta
    off = len(q.log_text())
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("bounces@example.org")
        accepted = []
        for form, expect in FORMS:
            s.putcmd("RCPT TO:" + form)
            code, _ = s.getreply()
            if code == 250:
                accepted.append(expect)
        assert s.data(b"Subject: relay matrix\r\n\r\nhi\r\n")[0] == 250
    assert accepted and all(is_ours(a) for a in accepted)
    # qmail-send starts a delivery for every accepted recipient, and every
    # one of them is local (delivered, bounced or deferred here): nothing
    # is handed to qmail-remote.
    wait_until(lambda: q.log_text()[off:].count("starting delivery") >= len(accepted), 30,
               "a delivery per accepted recipient")
    log = q.log_text()[off:]
    assert " to remote " not in log
    assert log.count(" to local ") >= len(accepted)
    # The legitimate forms of user's address reached user's Maildir.
    msgs = q.wait_mail("user", 4)
    assert all(m["Subject"] == "relay matrix" for m in msgs)


def test_relayclient_mail_goes_to_remote_delivery(mta):
    q, port = mta
    with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.2", 0), timeout=30) as s:
        s.sendmail("joe@example.org", ["friend@foreign.test"], b"Subject: out\r\n\r\nx\r\n")
    q.wait_log("to remote friend@foreign.test", 30)
