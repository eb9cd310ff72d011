"""Remote delivery through the whole system: a RELAYCLIENT client submits
to qmail-smtpd (under tcpserver), qmail-send hands the message to
qmail-rspawn and qmail-remote, which finds the receiver through dnsmasq.
Temporary failures are retried, permanent ones bounce, nothing is lost or
delivered twice, concurrencyremote is respected."""
import signal
import smtplib
import threading
import time

import pytest

from remote_env import Aio, Dns, Recorder
from smtpd_util import tcpserver, write_rules

import queuelib  # noqa: E402

BODY = (b"From: client@outside.test\r\nTo: friend@dest.test\r\nSubject: relayed\r\n\r\n"
        b"first line\r\n.line with a dot\r\n\xc3\xa9t\xc3\xa9\r\n" + b"z" * 900 + b"\r\nend\r\n")


class Counting(Recorder):
    """Also counts the SMTP sessions open at once."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.open = 0
        self.most = 0
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
        return await super().handle_MAIL(server, session, envelope, address, mail_options)

    async def handle_DATA(self, server, session, envelope):
        try:
            return await super().handle_DATA(server, session, envelope)
        finally:
            with self.lock:
                self.open -= 1


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """One running instance for the module (an instance costs a build):
    mail for dest.test goes, by MX, to an aiosmtpd receiver."""
    rec = Counting()
    srv = Aio(rec)
    dns = Dns("--mx-host=dest.test,mx.dest.test,10", "--host-record=mx.dest.test,127.0.0.1")
    q = queuelib.QueueInstance(tmp_path_factory, "relay", me="relay.nqmail.test")
    q.control("dnsservers", f"127.0.0.1:{dns.port}")
    q.control("notipme", "127.0.0.1\n::1")
    q.control("smtproutes", f"dest.test::{srv.port}")
    q.add_user("owner")
    base = tmp_path_factory.mktemp("relay-smtpd")
    rules = write_rules(base / "rules.cdb", '127.0.0.1:allow,RELAYCLIENT=""\n:allow\n')
    q.start()
    try:
        with tcpserver(q.root, rules) as port:
            yield q, rec, port, srv
    finally:
        q.stop()
        srv.stop()
        dns.stop()


@pytest.fixture
def system(running):
    """The running instance with a fresh receiver record and an empty queue."""
    q, rec, port, _ = running
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    rec.__init__()
    return q, rec, port


def submit(port, sender, recips, body):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail(sender, recips, body)


def test_relay_client_message_arrives_intact(system):
    q, rec, port = system
    submit(port, "client@outside.test", ["friend@dest.test"], BODY)
    queuelib.wait_until(lambda: rec.messages, 60, "the relayed message")
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    (mail_from, rcpts, _, content), = rec.messages
    assert mail_from == "client@outside.test"
    assert rcpts == ["friend@dest.test"]
    # Received fields on top (qmail-smtpd's, qmail-queue's), then the
    # body byte for byte
    assert content.endswith(b"\r\n" + BODY)
    added = content[:-len(BODY)].split(b"\r\n")[:-1]
    assert added[0].startswith(b"Received: ")
    assert all(line[:1] in (b" ", b"\t") or line.startswith(b"Received: ") for line in added)
    log = q.log_text()
    assert "success: 127.0.0.1_accepted_message." in log


def test_temporary_failure_is_retried_once_fixed(system):
    q, rec, port = system
    rec.data_reply = "451 4.3.0 not now"
    submit(port, "client@outside.test", ["later@dest.test"], BODY)
    q.wait_log("deferral: 127.0.0.1_failed_after_I_sent_the_message.", 60)
    assert rec.messages == [] and not q.queue_empty()
    rec.data_reply = None
    q.signal(signal.SIGALRM)  # retry now rather than on qmail's schedule
    queuelib.wait_until(lambda: rec.messages, 60, "the retried message")
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    time.sleep(1)
    assert len(rec.messages) == 1


def test_required_tls_keeps_the_message_queued(system):
    """control/tlsdestinations requires TLS for dest.test; the receiver
    (aiosmtpd) offers no STARTTLS: the delivery is deferred with the
    reason in qmail-send's log, nothing reaches the receiver; once the
    policy is removed the retry delivers."""
    q, rec, port = system
    q.control("tlsdestinations", "dest.test:encrypt")
    try:
        submit(port, "client@outside.test", ["secret@dest.test"], BODY)
        q.wait_log("deferral: Connected_to_127.0.0.1_but_it_does_not_offer_STARTTLS;"
                   "_control/tlsdestinations_requires_TLS_for_this_destination._(#4.7.4)/", 60)
        time.sleep(0.5)
        assert rec.messages == [] and not q.queue_empty()
    finally:
        (q.root / "control" / "tlsdestinations").unlink()
    q.signal(signal.SIGALRM)
    queuelib.wait_until(lambda: rec.messages, 60, "the retried message")
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    assert [m[1] for m in rec.messages] == [["secret@dest.test"]]


def test_permanent_failure_bounces_to_the_sender(system):
    q, rec, port = system
    rec.rcpt_replies = {"nobody@dest.test": "550 5.1.1 no such user here"}
    submit(port, "owner@relay.nqmail.test", ["nobody@dest.test", "friend@dest.test"], BODY)
    q.wait_mail("owner", 1, 60)
    bounce = q.messages("owner")[0]
    text = bounce.as_bytes()
    assert b"<nobody@dest.test>" in text
    assert b"does not like recipient." in text
    assert b"550 5.1.1 no such user here" in text
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    assert [m[1] for m in rec.messages] == [["friend@dest.test"]]


def test_concurrencyremote_is_respected(running):
    q, rec, _, srv = running
    queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    rec.__init__(data_delay=0.5)
    q.stop()
    q.control("concurrencyremote", "2")
    try:
        for i in range(8):
            code, err = q.inject(f"Subject: {i}\n\nbody\n", recips=(f"r{i}@dest.test",))
            assert code == 0, err
        q.start()
        queuelib.wait_until(lambda: len(rec.messages) == 8, 60, "eight deliveries")
        queuelib.wait_until(q.queue_empty, 30, "an empty queue")
    finally:
        q.stop()
        q.control("concurrencyremote", "20")
        q.start()
    assert rec.most == 2


def test_relay_to_a_second_nqmail_instance(running, tmp_path_factory):
    """The receiver is another nqmail, whole: its qmail-smtpd queues the
    message and qmail-local puts it in joe's Maildir, body intact."""
    q, _, port, srv = running
    other = queuelib.QueueInstance(tmp_path_factory, "receiver", me="dest2.test")
    other.control("locals", "dest2.test")
    other.control("rcpthosts", "dest2.test")
    other.add_user("joe")
    rules = write_rules(tmp_path_factory.mktemp("receiver-smtpd") / "rules.cdb", ":allow\n")
    other.start()
    try:
        with tcpserver(other.root, rules) as other_port:
            # qmail-remote reads smtproutes at every run: no restart needed
            q.control("smtproutes", f"dest.test::{srv.port}\ndest2.test:127.0.0.1:{other_port}")
            submit(port, "client@outside.test", ["joe@dest2.test"], BODY)
            other.wait_mail("joe", 1, 60)
            queuelib.wait_until(q.queue_empty, 30, "the sender's queue to empty")
    finally:
        other.stop()
        q.control("smtproutes", f"dest.test::{srv.port}")
    new = list((other.homes / "joe" / "Maildir" / "new").iterdir())
    assert len(new) == 1
    delivered = new[0].read_bytes()
    body = BODY.replace(b"\r\n", b"\n")
    assert delivered.endswith(b"\n" + body)
    head = delivered[:-len(body)]
    assert b"Delivered-To: joe@dest2.test\n" in head
    assert b"(HELO relay.nqmail.test)" in head  # the receiver's qmail-smtpd saw our EHLO name
