"""qmailctl on a real supervised instance: svscan on a scratch service
directory, the instance's qmail-send and qmail-smtpd services started,
paused, reloaded, stopped and restarted through qmailctl, SMTP access rules
compiled by qmailctl cdb, mail read back from the Maildir."""
import re
import time

import pytest

from conftest import bin_path, run
from opslib import (Supervised, maildir_count, maildir_messages, rcpt_reply, smtp_refused,
                    smtp_send, wait_until)

COMMANDS = ["start", "stop", "restart", "doqueue", "flush", "alrm", "reload", "hup", "stat",
            "pause", "cont", "cdb", "queue", "help"]


@pytest.fixture(scope="module")
def idle(tmp_path_factory):
    """An instance that nothing supervises (no svscan), shared by the tests
    of messages and rules."""
    return Supervised(tmp_path_factory, "idle")


@pytest.fixture
def inst(tmp_path_factory):
    i = Supervised(tmp_path_factory)
    yield i
    i.close()


def queued(inst):
    r = inst.ctl("queue")
    assert r.returncode == 0, r.stderr
    m = re.search(rb"messages in queue: (\d+)", r.stdout)
    assert m, r.stdout
    return int(m.group(1))


def run_ctl(prefix, *args):
    return run([bin_path("qmailctl", prefix), *args])


def test_help_lists_every_command(prefix):
    r = run_ctl(prefix, "help")
    assert r.returncode == 0
    out = r.stdout.decode()
    for c in COMMANDS:
        assert re.search(rf"^\s*{c} -- ", out, re.M) or c == "help", c
        assert c in out.splitlines()[0], c


def test_unknown_command_is_a_usage_error(prefix):
    r = run_ctl(prefix, "frobnicate")
    assert r.returncode == 1
    assert b"usage: qmailctl" in r.stderr


def test_commands_name_the_unsupervised_service(idle):
    i = idle
    for cmd in ("doqueue", "reload", "pause", "cont"):
        r = i.ctl(cmd)
        assert r.returncode == 1, cmd
        err = r.stderr.decode()
        assert "qmail-send: not running under supervise" in err, err
        assert "svscan" in err and str(i.service) in err, err
    r = i.ctl("stat")
    assert r.returncode == 1
    assert b"supervise not running" in r.stdout


def test_cdb_compiles_and_refuses_broken_rules(idle):
    i = idle
    cdb = i.rules.with_name("tcp.smtp.cdb")
    i.write_rules('# comment\n127.0.0.1:allow,RELAYCLIENT=""\n:allow\n')
    r = i.ctl("cdb")
    assert r.returncode == 0, r.stderr
    good = cdb.read_bytes()
    assert b"RELAYCLIENT" in good
    assert oct(cdb.stat().st_mode & 0o777) == "0o644"
    # a line that is no rule at all (Debian's tcprules would spin on it)
    for broken in ("127.0.0.1:allow\nbogus line\n:deny\n",
                   "127.:ALLOW\n",
                   ":allow,RELAYCLIENT=unquoted\n",
                   ":allow,\n"):
        i.write_rules(broken)
        t0 = time.time()
        r = i.ctl("cdb")
        assert time.time() - t0 < 30
        assert r.returncode == 1, broken
        err = r.stderr.decode()
        assert str(i.rules) in err and "left unchanged" in err, err
        assert cdb.read_bytes() == good
        assert not cdb.with_name("tcp.smtp.cdb.tmp").exists()
    i.write_rules("127.0.0.1:allow\nbogus line\n")
    assert "2:bogus line" in i.ctl("cdb").stderr.decode()
    i.rules.unlink()
    r = i.ctl("cdb")
    assert r.returncode == 1 and b"no rules file" in r.stderr
    assert cdb.read_bytes() == good


def test_supervised_lifecycle(inst):
    inst.start_svscan()
    # start links both services into svscan's directory and brings them up
    r = inst.ctl("start")
    assert r.returncode == 0, r.stderr
    assert (inst.service / "qmail-send").is_symlink()
    assert (inst.service / "qmail-smtpd").is_symlink()
    assert (inst.service / "qmail-rcptd").is_symlink()
    inst.wait_smtp()
    sent = 0

    smtp_send(inst.port, ["demo@ops.test"], "Subject: first\n\nfirst body\n")
    sent += 1
    wait_until(lambda: maildir_count(inst.maildir) == 1, 30, "first delivery")
    msg = maildir_messages(inst.maildir)[0]
    assert msg["Subject"] == "first"
    assert msg.get_payload() == "first body\n"

    r = inst.ctl("stat")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout.decode()
    for svc in ("qmail-send", "qmail-send/log", "qmail-smtpd", "qmail-smtpd/log",
                "qmail-rcptd", "qmail-rcptd/log"):
        assert re.search(rf"supervise/{svc}: up \(pid \d+\) \d+ seconds", out), out
    # both logs carry TAI64N stamps
    wait_until(lambda: inst.log("qmail-send").startswith("@4000"), 10, "qmail-send log")
    wait_until(lambda: inst.log("qmail-smtpd").startswith("@4000"), 10, "qmail-smtpd log")

    # pause: SMTP still accepts, nothing is delivered; the queue shows it
    r = inst.ctl("pause")
    assert r.returncode == 0, r.stderr
    for n in range(3):
        smtp_send(inst.port, ["demo@ops.test"], f"Subject: paused {n}\n\nwhile paused\n")
        sent += 1
    time.sleep(2)
    assert maildir_count(inst.maildir) == 1
    assert queued(inst) == 3
    assert "paused" in inst.svstat("qmail-send")

    r = inst.ctl("cont")
    assert r.returncode == 0, r.stderr
    wait_until(lambda: maildir_count(inst.maildir) == 4, 30, "deliveries after cont")
    wait_until(lambda: queued(inst) == 0, 30, "an empty queue")

    r = inst.ctl("doqueue")
    assert r.returncode == 0 and b"ALRM" in r.stdout

    # reload: qmail-send learns a new virtual domain without a restart
    send_pid = re.search(r"pid (\d+)", inst.svstat("qmail-send")).group(1)
    inst.control("virtualdomains", "virt.test:demo")
    inst.control("rcpthosts", "ops.test\nvirt.test")
    r = inst.ctl("reload")
    assert r.returncode == 0 and b"HUP" in r.stdout
    time.sleep(1)
    smtp_send(inst.port, ["joe@virt.test"], "Subject: virtual\n\nvia virtualdomains\n")
    sent += 1
    wait_until(lambda: maildir_count(inst.maildir) == 5, 30, "delivery to the virtual domain")
    virt = [m for m in maildir_messages(inst.maildir) if m["Subject"] == "virtual"][0]
    assert "demo-joe@virt.test" in virt.get_all("Delivered-To")[0]
    assert re.search(r"pid (\d+)", inst.svstat("qmail-send")).group(1) == send_pid

    # cdb: who may relay
    assert rcpt_reply(inst.port, "someone@elsewhere.example") == 553
    inst.write_rules('127.0.0.1:allow,RELAYCLIENT=""\n:allow\n')
    r = inst.ctl("cdb")
    assert r.returncode == 0, r.stderr
    assert rcpt_reply(inst.port, "someone@elsewhere.example") == 250
    # a broken rules file is refused and the old rules stay in force
    inst.write_rules(':allow\n127.0.0.1:allow,RELAYCLIENT=""x\n')
    r = inst.ctl("cdb")
    assert r.returncode == 1
    assert b"left unchanged" in r.stderr
    assert rcpt_reply(inst.port, "someone@elsewhere.example") == 250
    inst.write_rules(":allow\n")
    assert inst.ctl("cdb").returncode == 0
    assert rcpt_reply(inst.port, "someone@elsewhere.example") == 553

    # stop: messages accepted just before are not lost; SMTP is refused
    for n in range(3):
        smtp_send(inst.port, ["demo@ops.test"], f"Subject: before stop {n}\n\nx\n")
        sent += 1
    r = inst.ctl("stop")
    assert r.returncode == 0, r.stderr
    assert smtp_refused(inst.port)
    assert ": down " in inst.svstat("qmail-send")
    assert ": down " in inst.svstat("qmail-smtpd")
    assert maildir_count(inst.maildir) + queued(inst) == sent
    # qmail-send ended on its own after TERM, and its logger kept the line
    wait_until(lambda: "status: exiting" in inst.log("qmail-send"), 10, "the exit in the log")
    time.sleep(1)
    assert smtp_refused(inst.port)

    # restart: everything back, what was queued is delivered
    r = inst.ctl("restart")
    assert r.returncode == 0, r.stderr
    inst.wait_smtp()
    r = inst.ctl("doqueue")
    wait_until(lambda: maildir_count(inst.maildir) == sent, 30, "queued mail after restart")
    smtp_send(inst.port, ["demo@ops.test"], "Subject: after restart\n\nback\n")
    sent += 1
    wait_until(lambda: maildir_count(inst.maildir) == sent, 30, "delivery after restart")
    subjects = sorted(m["Subject"] for m in maildir_messages(inst.maildir))
    assert len(subjects) == len(set(subjects)) == sent

    # restart while running sends qmail-send TERM: a new qmail-send
    old = re.search(r"pid (\d+)", inst.svstat("qmail-send")).group(1)
    assert inst.ctl("restart").returncode == 0
    wait_until(lambda: re.search(r"up \(pid (\d+)\)", inst.svstat("qmail-send"))
               and re.search(r"pid (\d+)", inst.svstat("qmail-send")).group(1) != old,
               60, "a new qmail-send")
    inst.wait_smtp()
