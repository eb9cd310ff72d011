"""Compatibility audit: behaviour qmail's man pages document (and netqmail
1.06 shows) that the programs once got wrong. Each test pins one detail
of an output format or exit code a user or script would rely on."""
import re
import subprocess

import pytest

from conftest import bin_path, run
from queuelib import QueueInstance


@pytest.fixture(scope="module")
def qi(tmp_path_factory):
    q = QueueInstance(tmp_path_factory, "audit")
    yield q
    q.stop()


def test_queue_refuses_addresses_of_1003_bytes_with_11(qi):
    """qmail-queue(8): exit code 11 means "address too long"; qmail takes
    addresses up to 1002 bytes."""
    from queuelib import qmail_queue
    ok = "a" * 996 + "@b.com"          # 1002 bytes
    long = "a" * 997 + "@b.com"        # 1003 bytes
    assert len(ok) == 1002 and len(long) == 1003
    before = qi.queue_files("mess")
    assert qmail_queue(qi.root, b"Subject: x\n\n", long, ["x@y.z"])[0] == 11
    assert qmail_queue(qi.root, b"Subject: x\n\n", "s@x.y", ["x@y.z", long])[0] == 11
    assert qi.queue_files("mess") == before
    assert qmail_queue(qi.root, b"Subject: x\n\n", ok, [ok])[0] == 0
    for d in ("mess", "todo"):
        for name in set(qi.queue_files(d)) - set(before):
            (qi.root / "queue" / d / name).unlink()


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


def _local(tmp_path, dotqmail, message=b"Subject: t\n\nbody\n", flags=()):
    """Runs qmail-local for joe@example.com in a fresh home with a
    capturing queue program; returns (result, envelope bytes or None)."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / ".qmail").write_text(dotqmail)
    (home / ".qmail").chmod(0o644)
    cap = tmp_path / "cap"
    queue = tmp_path / "qq"
    queue.write_text(f"#!/bin/sh\ncat > {cap}.msg\ncat 0<&1 > {cap}.env\n")
    queue.chmod(0o755)
    msg = tmp_path / "msg"
    msg.write_bytes(message)
    with open(msg, "rb") as f:
        r = run([bin_path("qmail-local"), *flags, "joe", str(home), "joe", "", "", "example.com",
                 "sender@example.org", "./Mailbox"], input=None, stdin=f,
                env={"QMAILQUEUE": str(queue)})
    env = tmp_path / "cap.env"
    return r, env.read_bytes() if env.exists() else None


@pytest.mark.parametrize("line,recip", [("&me@localhost", b"me@localhost"),
                                        ("bob@intranet", b"bob@intranet"),
                                        ("&bob", b"bob")])
def test_local_forwards_to_dotless_domains_and_bare_users(tmp_path, line, recip):
    """dot-qmail(5): a forward line is passed to qmail-queue as it is; a
    domain without dots (or no domain, which qmail-send qualifies with
    envnoathost) is a real address that qmail forwards."""
    r, env = _local(tmp_path, line + "\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"did 0+1+0\nqp ")
    assert env == b"Fsender@example.org\0T" + recip + b"\0\0"


def _joe(qi):
    if not any(a.startswith("=joe:") for a in qi.assign):
        qi.add_user("joe")


def test_verp_sender_is_expanded_per_recipient_and_bounces_go_to_its_base(qi):
    """dot-qmail(5): with the envelope sender local-owner-@domain-@[] a
    recipient recip@reciphost sees local-owner-recip=reciphost@domain;
    qmail-inject(8)'s per-recipient VERP works the same way. Bounces go
    to local-owner-@domain."""
    from queuelib import wait_until
    _joe(qi)
    (qi.homes / "joe" / ".qmail-list-owner-default").write_text("./Maildir/\n")
    qi.start()
    try:
        assert qi.inject("Subject: verp\n\nx\n", sender="joe-list-owner-@test.example-@[]",
                         recips=["joe@test.example", "joe-nosuch@test.example"])[0] == 0
        msgs = wait_until(lambda: [m for m in qi.messages("joe") if m["Subject"] == "verp"],
                          30, "the VERP message")
        assert msgs[0]["Return-Path"] == "<joe-list-owner-joe=test.example@test.example>"
        log = qi.wait_log("bounce msg")
        assert re.search(r"^starting delivery \d+: msg \d+ to local "
                         r"joe-list-owner-@test\.example$", log, re.M), log
        bounce = wait_until(lambda: [m for m in qi.messages("joe")
                                     if m["Subject"] == "failure notice"], 30, "the bounce")[0]
        assert bounce["To"] == "joe-list-owner-@test.example"
        assert "\nReturn-Path: <joe-list-owner-@test.example>\n" in bounce.as_string()
    finally:
        qi.stop()


def test_concurrency_zero_holds_deliveries_and_qread_shows_them(qi):
    """qmail-send(8): concurrencyremote 0 puts remote deliveries on hold;
    qmail-qread(8) then lists the message in qmail's layout: local
    recipients first, the finished one marked "  done"."""
    from queuelib import wait_until
    qi.control("concurrencyremote", "0")
    _joe(qi)
    qi.start()
    try:
        assert qi.inject("Subject: hold\n\nx\n", sender="a@example.org",
                         recips=["far@remote.example", "joe@test.example"])[0] == 0
        qi.wait_mail("joe")
        qi.wait_log("status: local 0/10 remote 0/0")
        wait_until(lambda: "  done\tlocal\tjoe@test.example\n" in
                   run([bin_path("qmail-qread", qi.root)]).stdout.decode(), 10, "done mark")
        out = run([bin_path("qmail-qread", qi.root)]).stdout.decode()
        assert re.search(r"GMT  #\d+  \d+  <a@example\.org> \n"
                         r"  done\tlocal\tjoe@test\.example\n"
                         r"\tremote\tfar@remote\.example\n", out), out
        assert "to remote far@remote.example" not in qi.log_text()
    finally:
        qi.stop()
    (qi.root / "control" / "concurrencyremote").unlink()


def _session_process(sid, name):
    import os
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        # the helper is qmail-send's child (qmail-start becomes qmail-send);
        # a delivery it is starting has the same name until its exec
        if comm == name and int(fields[3]) == sid and int(fields[1]) == sid:
            return int(pid)
    return None


def test_send_logs_lost_helper_as_qmail_log_says(qi):
    """qmail-log(5): when a helper dies qmail-send logs
    "alert: oh no! lost ..." and exits."""
    import os
    import signal
    from queuelib import wait_until
    proc = qi.start()
    try:
        pid = wait_until(lambda: _session_process(proc.pid, "qmail-lspawn"), 10, "qmail-lspawn")
        os.kill(pid, signal.SIGKILL)
        qi.wait_log("alert: oh no! lost qmail-lspawn connection! dying...")
        proc.wait(timeout=30)
    finally:
        qi.stop()


def test_local_sticky_home_warning_in_n_mode(tmp_path):
    """qmail-local(8) -n with a sticky home: qmail's warning, then the plan."""
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o1755)
    (home / ".qmail").write_text("./Mailbox\n")
    r = run([bin_path("qmail-local"), "-n", "joe", str(home), "joe", "", "", "example.com",
             "sender@example.org", "./Mailbox"], input=None, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r
    assert b"Warning: home directory is sticky.\n" in r.stderr
    assert b"mbox ./Mailbox" in r.stdout


def test_local_mbox_that_cannot_be_opened_is_4_2_1(tmp_path):
    """qmail-local: a mailbox it cannot open is 'mailbox unavailable'
    (#4.2.1), a temporary failure; a write error would be #4.3.0."""
    r, _ = _local(tmp_path, "./no/such/dir/Mailbox\n")
    assert r.returncode == 111, r
    assert b"Unable to open ./no/such/dir/Mailbox: " in r.stdout + r.stderr
    assert b"(#4.2.1)" in r.stdout + r.stderr


def test_showctl_concurrency_limit_is_the_one_qmail_send_applies(tmp_path_factory):
    """qmail-showctl(8) prints the silent concurrency limit; qmail-send
    must cap concurrencylocal at that same number."""
    qi = QueueInstance(tmp_path_factory, "climit")
    out = run([bin_path("qmail-showctl", qi.root)]).stdout.decode()
    limit = int(re.search(r"^silent concurrency limit: (\d+)\.$", out, re.M).group(1))
    qi.control("concurrencylocal", f"{limit + 100}\n")
    qi.start()
    try:
        assert re.search(rf"^status: local 0/{limit} ", qi.log_text(), re.M), qi.log_text()
    finally:
        qi.stop()
