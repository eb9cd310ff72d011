"""The queue end to end: qmail-queue -> qmail-send -> qmail-lspawn ->
qmail-local -> Maildir/mbox/program/forward (qmail-queue(8), qmail-send(8),
qmail-log(5)), in a user instance. Messages are read back with mailbox.
"""
import mailbox
import math
import os
import re
import signal
import time

import pytest

from conftest import bin_path
from queuelib import QueueInstance, wait_until

MSG = "From: a@example.org\nTo: joe@test.example\nSubject: {}\n\nbody {}\n"


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "e2e")
    qi.control("locals", "test.example\nother.example")
    qi.control("virtualdomains", "virt.example:joe\n.wild.example:joe\nvjoe@full.example:bob")
    qi.control("percenthack", "hack.example")
    qi.control("envnoathost", "test.example")
    qi.control("bouncefrom", "BOUNCER")
    qi.control("bouncehost", "bounce.example")
    qi.control("doublebounceto", "dbl")
    qi.control("doublebouncehost", "test.example")
    for u in ("joe", "bob", "sender", "dbl", "prog", "mb", "fw", "tmp", "perm", "part"):
        qi.add_user(u)
    qi.start()
    yield qi
    qi.stop()


def subjects(q, user):
    return sorted(m["Subject"] for m in q.messages(user))


def test_received_line_and_durable_file_without_qmail_send(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "noq")
    code, err = qi.inject(MSG.format("s", 1))
    assert code == 0, err
    mess = qi.queue_files("mess")
    assert len(mess) == 1
    data = (qi.root / "queue" / "mess" / mess[0]).read_bytes()
    assert re.search(rb"Received: \(qmail \d+ invoked by uid %d\); \d+ \w{3} \d{4} "
                     rb"\d\d:\d\d:\d\d -0000\nFrom: a@example.org" % os.getuid(), data)
    assert qi.queue_files("todo") == mess
    assert qi.queue_files("tmp") == []


def test_localtime_received_line(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "lt")
    qi.control("localtime", "1")
    code, err = qi.inject("Subject: x\n\n", env={"TZ": "Europe/Berlin"})
    assert code == 0, err
    data = (qi.root / "queue" / "mess" / qi.queue_files("mess")[0]).read_bytes()
    m = re.search(rb"Received: \(qmail \d+ invoked by uid \d+\); .* ([+-]\d{4})\n", data)
    assert m and m.group(1) in (b"+0100", b"+0200"), data[:200]


@pytest.mark.parametrize("env,code", [
    (b"", 54),                       # no envelope at all
    (b"Xbad\0\0", 91),               # not an F field
    (b"Fa@b\0Xc\0\0", 91),           # not a T field
    (b"Fa@b\0Tc@d\0", 54),           # cut short before the final NUL
])
def test_envelope_errors_exit_codes(q, env, code, tmp_path):
    r, w = os.pipe()
    import subprocess
    p = subprocess.Popen([bin_path("qmail-queue", q.root)], stdin=subprocess.PIPE, stdout=r,
                         stderr=subprocess.PIPE)
    os.close(r)
    p.stdin.write(b"Subject: x\n\nx\n")
    p.stdin.close()
    os.write(w, env)
    os.close(w)
    assert p.wait(timeout=30) == code
    assert q.queue_files("tmp") == []


def test_maildir_delivery_and_log_lines(q):
    code, err = q.inject(MSG.format("maildir", 1), sender="a@example.org",
                         recips=["joe@test.example"])
    assert code == 0, err
    msgs = q.wait_mail("joe")
    m = [x for x in msgs if x["Subject"] == "maildir"][0]
    assert m["Return-Path"] == "<a@example.org>"
    assert m["Delivered-To"] == "joe@test.example"
    assert "invoked by uid" in m["Received"]
    assert m.get_payload() == "body 1\n"
    log = q.wait_log("end msg")
    assert re.search(r"^new msg \d+$", log, re.M)
    assert re.search(r"^info msg \d+: bytes \d+ from <a@example.org> qp \d+ uid \d+$", log, re.M)
    assert re.search(r"^starting delivery \d+: msg \d+ to local joe@test.example$", log, re.M)
    assert re.search(r"^delivery \d+: success: did_1\+0\+0/$", log, re.M)
    assert re.search(r"^status: local \d+/10 remote \d+/20$", log, re.M)
    wait_until(q.queue_empty, 10, "queue empty")


def test_extension_mbox_program_and_forward(q):
    h = q.homes / "mb"
    (h / ".qmail-box").write_text("./Mailbox\n")
    (h / ".qmail-prog").write_text(f"|cat > {h}/prog.out\n")
    (h / ".qmail-fw").write_text("&fw@test.example\n")
    for ext in ("box", "prog", "fw"):
        assert q.inject(MSG.format(ext, ext), recips=[f"mb-{ext}@test.example"])[0] == 0
    wait_until(lambda: (h / "Mailbox").exists() and (h / "prog.out").exists()
               and b"Subject: prog" in (h / "prog.out").read_bytes(), 30, "deliveries")
    mb = mailbox.mbox(str(h / "Mailbox"))
    assert [m["Subject"] for m in mb] == ["box"]
    assert b"Subject: prog" in (h / "prog.out").read_bytes()
    fw = q.wait_mail("fw")
    assert fw[0]["Subject"] == "fw"
    assert fw[0]["Delivered-To"] == "fw@test.example"


def test_locals_envnoathost_and_percenthack(q):
    assert q.inject(MSG.format("locals", 1), recips=["bob@other.example"])[0] == 0
    assert q.inject(MSG.format("noat", 1), recips=["bob"])[0] == 0
    assert q.inject(MSG.format("pct", 1), recips=["bob%test.example@hack.example"])[0] == 0
    wait_until(lambda: len(q.maildir("bob")) >= 3, 30, "three messages for bob")
    assert {"locals", "noat", "pct"} <= set(subjects(q, "bob"))
    log = q.log_text()
    assert "to local bob@test.example" in log
    assert "to local bob@other.example" in log


def test_virtualdomains_prefix_rewriting(q):
    h = q.homes / "joe"
    (h / ".qmail-x").write_text("./Maildir/\n")
    (h / ".qmail-y").write_text("./Maildir/\n")
    (h / ".qmail-vjoe").write_text("./Maildir/\n")
    assert q.inject(MSG.format("virt", 1), recips=["x@virt.example"])[0] == 0
    assert q.inject(MSG.format("wild", 1), recips=["y@sub.wild.example"])[0] == 0
    wait_until(lambda: {"virt", "wild"} <= set(subjects(q, "joe")), 30, "virtual mail")
    log = q.log_text()
    assert "to local joe-x@virt.example" in log
    assert "to local joe-y@sub.wild.example" in log
    m = [x for x in q.messages("joe") if x["Subject"] == "virt"][0]
    assert m["Delivered-To"] == "joe-x@virt.example"
    # a whole-address entry wins over the domain
    (q.homes / "bob" / ".qmail-vjoe").write_text("./Maildir/\n")
    assert q.inject(MSG.format("full", 1), recips=["vjoe@full.example"])[0] == 0
    wait_until(lambda: "full" in subjects(q, "bob"), 30, "whole-address virtual mail")


def test_temporary_failure_is_retried_on_alarm(q):
    h = q.homes / "tmp"
    flag = h / "fail-once"
    flag.write_text("")
    (h / ".qmail").write_text(f"|if [ -e {flag} ]; then rm {flag}; echo busy now; exit 111; fi\n"
                              "./Maildir/\n")
    assert q.inject(MSG.format("retry", 1), recips=["tmp@test.example"])[0] == 0
    log = q.wait_log("deferral: busy_now/")
    assert len(q.maildir("tmp")) == 0
    # qmail's schedule: the first retry of a local delivery is birth + 10^2 s
    # (info/ID's header, docs/QUEUE.md: NQI1 birth nsec next_local ...)
    msg = re.findall(r"starting delivery \d+: msg (\d+) to local tmp@test.example", log)[-1]
    birth, _, next_local = (q.root / "queue" / "info" / msg).read_bytes()[:96].split()[1:4]
    # (floor(sqrt(t - birth)) + 10)^2 with t the failed try, a second or
    # two after birth on a busy machine
    d = int(next_local) - int(birth)
    k = math.isqrt(d) - 10
    assert (k + 10) ** 2 == d and 0 <= k <= 3, d
    time.sleep(1.1)  # the retry schedule is in seconds: be past "now"
    q.signal(signal.SIGALRM)
    msgs = q.wait_mail("tmp")
    assert msgs[0]["Subject"] == "retry"


def bounce_of(q, user, subject):
    def find():
        for m in q.messages(user):
            if m["Subject"] == "failure notice" and subject in m.as_string():
                return m
    return wait_until(find, 30, f"bounce for {subject!r} to {user}")


def test_permanent_failure_bounces_only_failed_recipients(q):
    h = q.homes / "perm"
    (h / ".qmail-bad").write_text("|echo no such thing here; exit 100\n")
    code, _ = q.inject(MSG.format("partial-fail", 1), sender="sender@test.example",
                       recips=["perm-bad@test.example", "part@test.example"])
    assert code == 0
    b = bounce_of(q, "sender", "partial-fail")
    text = b.as_string()
    assert b["From"] == "BOUNCER@bounce.example"
    assert b["To"] == "sender@test.example"
    assert b["Return-Path"] == "<>"
    assert "Hi. This is the qmail-send program at bounce.example.\n" in text
    assert ("I'm afraid I wasn't able to deliver your message to the following addresses.\n"
            "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
            "<perm-bad@test.example>:\nno such thing here\n\n"
            "--- Below this line is a copy of the message.\n\n"
            "Return-Path: <sender@test.example>\n") in text
    assert "<part@test.example>" not in text
    assert "Subject: partial-fail" in text
    assert [m["Subject"] for m in q.messages("part")] == ["partial-fail"]
    assert re.search(r"^bounce msg \d+ qp \d+$", q.log_text(), re.M)
    assert re.search(r"^delivery \d+: failure: no_such_thing_here/$", q.log_text(), re.M)


def test_bounce_shows_address_before_virtualdomain_rewriting(q):
    code, _ = q.inject(MSG.format("vbounce", 1), sender="sender@test.example",
                       recips=["nobody@virt.example"])
    assert code == 0
    text = bounce_of(q, "sender", "vbounce").as_string()
    assert "<nobody@virt.example>:\n" in text


def test_double_bounce_and_triple_bounce(q):
    # the bounce to a failing sender goes to doublebounceto@doublebouncehost
    code, _ = q.inject(MSG.format("dbl-fail", 1), sender="perm-bad@test.example",
                       recips=["perm-bad@test.example"])
    assert code == 0
    b = bounce_of(q, "dbl", "dbl-fail")
    text = b.as_string()
    assert b["Return-Path"] == "<#@[]>"
    assert "I tried to deliver a bounce message to this address, but the bounce bounced!" in text
    assert "--- Below this line is the original bounce." in text
    # a double bounce that fails is dropped and logged
    code, _ = q.inject(MSG.format("triple", 1), sender="#@[]", recips=["perm-bad@test.example"])
    assert code == 0
    q.wait_log("triple bounce: discarding bounce/")


def test_hup_rereads_virtualdomains(q):
    (q.homes / "bob" / ".qmail-late").write_text("./Maildir/\n")
    q.control("virtualdomains", "virt.example:joe\n.wild.example:joe\n"
              "vjoe@full.example:bob\nlate.example:bob")
    q.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert q.inject(MSG.format("late", 1), recips=["late@late.example"])[0] == 0
    wait_until(lambda: "late" in subjects(q, "bob"), 30, "mail for the new virtual domain")


def test_remote_delivery_through_qmail_rspawn(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "remote")
    # a stand-in qmail-remote that speaks qmail-remote(8)'s protocol
    out = qi.homes / "remote.args"
    stub = qi.root / "bin" / "qmail-remote"
    stub.write_text("#!/bin/sh\n"
                    f'echo "$@" >> {out}\n'
                    f'cat > {out}.msg\n'
                    'case "$3" in\n'
                    '  ok@*) printf "r127.0.0.1 accepted message.\\0Kdone\\0";;\n'
                    '  bad@*) printf "h127.0.0.1 does not like recipient.\\nRemote host said: 550 no\\0Dgiving up\\0";;\n'
                    '  *) printf "s127.0.0.1 try later\\0Zlater\\0";;\n'
                    'esac\n')
    stub.chmod(0o755)
    qi.add_user("sender")
    qi.start()
    try:
        assert qi.inject(MSG.format("r", 1), sender="sender@test.example",
                         recips=["ok@far.example", "bad@far.example", "later@far.example"])[0] == 0
        qi.wait_log("deferral: 127.0.0.1_try_later/")
        qi.wait_log("success: 127.0.0.1_accepted_message./done/")
        b = bounce_of(qi, "sender", "Subject: r")
        assert "<bad@far.example>:\n127.0.0.1 does not like recipient.\nRemote host said: 550 no\n" \
            in b.as_string()
        args = out.read_text().split("\n")
        assert "far.example sender@test.example ok@far.example" in args
        assert b"Subject: r" in (qi.homes / "remote.args.msg").read_bytes()
        # the deferred recipient stays queued (the bounce's own queue file
        # goes a moment after the bounce reached the mailbox)
        wait_until(lambda: len(qi.queue_files("mess")) == 1, 30, "only the deferred message queued")
    finally:
        qi.stop()


def test_missing_qmail_remote_keeps_message_queued(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "noremote")
    (qi.root / "bin" / "qmail-remote").unlink(missing_ok=True)
    qi.start()
    try:
        assert qi.inject(MSG.format("far", 1), recips=["x@far.example"])[0] == 0
        qi.wait_log("deferral: Unable_to_run_qmail-remote._(#4.3.0)/")
        assert len(qi.queue_files("mess")) == 1
    finally:
        qi.stop()
    # TERM let it finish: nothing lost, found again after a restart
    assert "status: exiting" in qi.log_text()
    qi.start()
    try:
        qi.signal(signal.SIGALRM)
        qi.wait_log("Unable_to_run_qmail-remote", count=2)
        assert len(qi.queue_files("mess")) == 1
    finally:
        qi.stop()


def test_queuelifetime_expiry_bounces(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "life")
    qi.control("queuelifetime", "1")
    qi.add_user("sender")
    h = qi.add_user("slow", dotqmail="|echo still busy; exit 111\n")
    qi.start()
    try:
        assert qi.inject(MSG.format("old", 1), sender="sender@test.example",
                         recips=["slow@test.example"])[0] == 0
        qi.wait_log("deferral: still_busy/")
        time.sleep(2.1)
        qi.signal(signal.SIGALRM)
        b = bounce_of(qi, "sender", "Subject: old")
        assert ("<slow@test.example>:\nstill busy\nI'm not going to try again; "
                "this message has been in the queue too long.\n") in b.as_string()
        wait_until(qi.queue_empty, 10, "queue empty")
    finally:
        qi.stop()
    assert h.exists()


def test_term_waits_for_running_deliveries(tmp_path_factory):
    qi = QueueInstance(tmp_path_factory, "term")
    qi.control("concurrencylocal", "2")
    h = qi.add_user("sl", dotqmail="|sleep 1\n./Maildir/\n")
    qi.add_user("par", dotqmail="|sleep 1\n./Maildir/\n")
    qi.start()
    try:
        # concurrencylocal holds: never more than two at once
        for i in range(4):
            assert qi.inject(MSG.format(f"par{i}", i), recips=["par@test.example"])[0] == 0
        wait_until(lambda: len(qi.maildir("par")) == 4, 60, "four deliveries")
        log = qi.log_text()
        assert "status: local 2/2 remote 0/20" in log
        assert not re.search(r"status: local [3-9]/2", log)
        # the four deliveries above already logged "starting delivery":
        # wait for the slow message's own
        started = log.count("starting delivery")
        assert qi.inject(MSG.format("slow", 1), recips=["sl@test.example"])[0] == 0
        qi.wait_log("starting delivery", count=started + 1)
        qi.signal(signal.SIGTERM)
        qi.proc.wait(timeout=30)
        log = qi.log_text()
        assert "status: exiting" in log
        assert "success: did_1+0+1/" in log.split("status: exiting")[0]
        assert len(qi.maildir("sl")) == 1
    finally:
        qi.stop()
    assert h.exists()
