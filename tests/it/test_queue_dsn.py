"""Bounces as RFC 3464 delivery status notifications (control/bouncedsn):
permanent local and remote failures and queuelifetime expiry, read back
with Python's email package; double bounces and the default stay qmail's
plain QSBMF form. Remote failures come from a real qmail-remote talking
to an aiosmtpd receiver."""
import email
import email.policy
import signal
import time

import pytest

from queuelib import QueueInstance, wait_until
from remote_env import Aio, Recorder

MSG = "From: a@example.org\nTo: x@test.example\nSubject: {}\n\nbody line {}\n"


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    srv = Aio(Recorder(rcpt_replies={"bad@far.test": "550 5.1.1 no such user here",
                                     "old@far.test": "451 4.2.0 mailbox busy"}))
    qi = QueueInstance(tmp_path_factory, "dsn")
    qi.control("bouncehost", "bounce.example")
    qi.control("doublebounceto", "dbl")
    qi.control("doublebouncehost", "test.example")
    qi.control("smtproutes", f"far.test:127.0.0.1:{srv.port}")
    qi.control("notipme", "127.0.0.1\n::1")
    qi.control("bouncedsn", "1")
    for u in ("sender", "dbl", "perm"):
        qi.add_user(u)
    (qi.homes / "perm" / ".qmail-bad").write_text("|echo no such thing here; exit 100\n")
    qi.start()
    yield qi
    qi.stop()
    srv.stop()


def bounces(q, user, subject):
    """The raw bounces to user that quote subject."""
    md = q.maildir(user)
    out = []
    for k in md.keys():
        raw = md.get_bytes(k)
        if b"Subject: failure notice" in raw and subject.encode() in raw:
            out.append(raw)
    return out


def dsn_of(q, user, subject):
    raw = wait_until(lambda: bounces(q, user, subject), 30, f"bounce quoting {subject!r}")[0]
    return raw, email.message_from_bytes(raw, policy=email.policy.compat32)


def report_parts(msg):
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg["MIME-Version"] == "1.0"
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts[:2]] == ["text/plain", "message/delivery-status"]
    assert len(parts) == 3
    human = parts[0].get_payload()
    blocks = parts[1].get_payload()  # per-message fields, then one block per recipient
    return human, blocks[0], blocks[1:], parts[2]


def test_local_failures_give_a_multipart_report(q):
    assert q.inject(MSG.format("local-fail", 1), sender="sender@test.example",
                    recips=["perm-bad@test.example", "perm-nobox@test.example"])[0] == 0
    raw, msg = dsn_of(q, "sender", "local-fail")
    human, per_msg, recips, orig = report_parts(msg)
    assert msg["From"] == "MAILER-DAEMON@bounce.example"
    assert msg["To"] == "sender@test.example"
    # the human-readable part keeps qmail's words
    assert human.startswith("Hi. This is the qmail-send program at bounce.example.\n"
                            "I'm afraid I wasn't able to deliver your message to the following "
                            "addresses.\nThis is a permanent error; I've given up. Sorry it didn't "
                            "work out.\n\n")
    assert "<perm-bad@test.example>:\nno such thing here\n" in human
    assert "<perm-nobox@test.example>:\nSorry, no mailbox here by that name. (#5.1.1)\n" in human
    assert per_msg["Reporting-MTA"] == "dns; test.example"
    assert per_msg["Arrival-Date"]
    by_rcpt = {r["Final-Recipient"]: r for r in recips}
    assert set(by_rcpt) == {"rfc822; perm-bad@test.example", "rfc822; perm-nobox@test.example"}
    for r in recips:
        assert r["Action"] == "failed"
        assert r["Diagnostic-Code"] is None  # only remote replies are quoted
    assert by_rcpt["rfc822; perm-bad@test.example"]["Status"] == "5.0.0"
    assert by_rcpt["rfc822; perm-nobox@test.example"]["Status"] == "5.1.1"
    # the original message, whole
    assert orig.get_content_type() == "message/rfc822"
    inner = orig.get_payload()[0]
    assert inner["Subject"] == "local-fail"
    assert inner.get_payload() == "body line 1\n"
    assert raw.rstrip(b"\n").endswith(b"--")


def test_remote_refusal_status_and_diagnostic_from_the_reply(q):
    assert q.inject(MSG.format("remote-fail", 2), sender="sender@test.example",
                    recips=["bad@far.test"])[0] == 0
    _, msg = dsn_of(q, "sender", "remote-fail")
    human, _, recips, _ = report_parts(msg)
    assert "<bad@far.test>:\n127.0.0.1 does not like recipient.\n" \
           "Remote host said: 550 5.1.1 no such user here\n" in human
    assert len(recips) == 1
    r = recips[0]
    assert r["Final-Recipient"] == "rfc822; bad@far.test"
    assert r["Action"] == "failed"
    assert r["Status"] == "5.1.1"
    assert r["Diagnostic-Code"] == "smtp; 550 5.1.1 no such user here"


def test_double_bounce_stays_plain(q):
    assert q.inject(MSG.format("dbl-plain", 3), sender="perm-bad@test.example",
                    recips=["perm-bad@test.example"])[0] == 0
    raw = wait_until(lambda: bounces(q, "dbl", "dbl-plain"), 30, "double bounce")[0]
    assert b"MIME-Version" not in raw.split(b"\n\n", 1)[0]
    assert b"I tried to deliver a bounce message to this address, but the bounce bounced!" in raw
    assert b"--- Below this line is the original bounce." in raw


def restart_with(q, **controls):
    q.stop()
    for name, value in controls.items():
        if value is None:
            (q.root / "control" / name).unlink(missing_ok=True)
        else:
            q.control(name, value)
    q.start()


def test_large_original_is_sent_as_headers_only(q):
    restart_with(q, dsnmaxbytes="200")
    try:
        body = "x" * 500
        assert q.inject(MSG.format("big-fail", body), sender="sender@test.example",
                        recips=["perm-bad@test.example"])[0] == 0
        raw, msg = dsn_of(q, "sender", "big-fail")
        _, _, _, orig = report_parts(msg)
        assert orig.get_content_type() == "text/rfc822-headers"
        assert "Subject: big-fail" in orig.get_payload()
        assert body.encode() not in raw
    finally:
        restart_with(q, dsnmaxbytes=None)


def test_queuelifetime_expiry_status_4_4_7(q):
    restart_with(q, queuelifetime="1")
    try:
        (q.homes / "perm" / ".qmail-slow").write_text("|echo still busy; exit 111\n")
        assert q.inject(MSG.format("expired", 4), sender="sender@test.example",
                        recips=["perm-slow@test.example", "old@far.test"])[0] == 0
        q.wait_log("deferral: still_busy/")
        q.wait_log("mailbox_busy")
        time.sleep(2.1)
        q.signal(signal.SIGALRM)
        wait_until(lambda: sum(b"perm-slow" in b or b"old@far.test" in b
                               for b in bounces(q, "sender", "expired")) >= 1, 30, "bounce")
        # both recipients end up in one bounce or in two
        recips = {}
        def collect():
            for raw in bounces(q, "sender", "expired"):
                msg = email.message_from_bytes(raw, policy=email.policy.compat32)
                for r in report_parts(msg)[2]:
                    recips[r["Final-Recipient"]] = r
            return len(recips) == 2
        wait_until(collect, 30, "both recipients reported")
        local = recips["rfc822; perm-slow@test.example"]
        remote = recips["rfc822; old@far.test"]
        assert local["Action"] == remote["Action"] == "failed"
        assert local["Status"] == remote["Status"] == "4.4.7"
        assert remote["Diagnostic-Code"] == "smtp; 451 4.2.0 mailbox busy"
    finally:
        restart_with(q, queuelifetime=None)


def test_plain_bounce_without_the_control_file(q):
    restart_with(q, bouncedsn=None)
    try:
        assert q.inject(MSG.format("plain-fail", 5), sender="sender@test.example",
                        recips=["perm-bad@test.example"])[0] == 0
        raw = wait_until(lambda: bounces(q, "sender", "plain-fail"), 30, "plain bounce")[0]
        head, text = raw.split(b"\n\n", 1)
        assert b"MIME-Version" not in head and b"Content-Type" not in head
        assert text.startswith(b"Hi. This is the qmail-send program at bounce.example.\n")
        assert (b"<perm-bad@test.example>:\nno such thing here\n\n"
                b"--- Below this line is a copy of the message.\n\n"
                b"Return-Path: <sender@test.example>\n") in text
    finally:
        restart_with(q, bouncedsn="1")
