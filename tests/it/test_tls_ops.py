"""The submission services in operation: qmailctl with SUBMISSION=yes runs
qmail-submission (STARTTLS + AUTH) and qmail-smtps (implicit TLS + AUTH)
next to qmail-smtpd under a real svscan, and `make run` offers both with a
self-signed certificate it makes with openssl."""
import pathlib
import re
import smtplib
import subprocess

import pytest

from conftest import free_port
from opslib import Supervised, maildir_count, maildir_messages, wait_until
from test_ops_run import MakeRun, instance_processes
from tls_util import client_context, crypt_hash, make_cert

SERVICES = ("qmail-send", "qmail-smtpd", "qmail-submission", "qmail-smtps")


@pytest.fixture
def inst(tmp_path_factory):
    i = Supervised(tmp_path_factory, "tlsops")
    i.subport, i.smtpsport = free_port(), free_port()
    with open(i.root / "etc" / "qmailctl.conf", "a") as f:
        f.write(f"SUBMISSION=yes\nSUBMISSION_PORT={i.subport}\nSMTPS_PORT={i.smtpsport}\n")
    make_cert(i.root / "control" / "servercert.pem", "localhost")
    pw = i.root / "control" / "smtppasswd"
    pw.write_text(f"carol:{crypt_hash('c4rol pass')}\n")
    pw.chmod(0o600)
    try:
        yield i
    finally:
        i.close()


def submit(port, implicit, user, password, rcpt, subject):
    cls = smtplib.SMTP_SSL if implicit else smtplib.SMTP
    kw = {"context": client_context()} if implicit else {}
    with cls("127.0.0.1", port, timeout=30, **kw) as s:
        if not implicit:
            s.starttls(context=client_context())
        s.ehlo("laptop.test")
        s.login(user, password)
        return s.sendmail(f"{user}@ops.test", [rcpt], f"Subject: {subject}\r\n\r\nhi\r\n")


def smtp_up(port):
    try:
        with smtplib.SMTP_SSL("127.0.0.1", port, timeout=5, context=client_context()) as s:
            return s.noop()[0] == 250
    except OSError:
        return False


def test_qmailctl_runs_the_submission_services(inst):
    inst.start_svscan()
    r = inst.ctl("start")
    assert r.returncode == 0, r.stderr
    for s in SERVICES:
        assert (inst.service / s).is_symlink(), s
    inst.wait_smtp()
    wait_until(lambda: smtp_up(inst.smtpsport), 30, "qmail-smtps")
    out = inst.ctl("stat").stdout.decode()
    for s in SERVICES:
        for d in (s, s + "/log"):
            assert re.search(rf"supervise/{d}: up \(pid \d+\) \d+ seconds", out), out

    # port 587-style: MAIL before AUTH is refused, AUTH then relays
    with smtplib.SMTP("127.0.0.1", inst.subport, timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("laptop.test")
        assert s.mail("x@ops.test")[0] == 530
    assert submit(inst.subport, False, "carol", "c4rol pass", "demo@ops.test", "587") == {}
    assert submit(inst.smtpsport, True, "carol", "c4rol pass", "demo@ops.test", "465") == {}
    wait_until(lambda: maildir_count(inst.maildir) == 2, 30, "two submitted messages")
    subjects = sorted(m["Subject"] for m in maildir_messages(inst.maildir))
    assert subjects == ["465", "587"]
    for m in maildir_messages(inst.maildir):
        received = " ".join(m.get_all("Received"))
        assert "(carol@" in received and "with ESMTPSA (TLSv1." in received, received
    wait_until(lambda: "AUTH accepted: user carol" in inst.log("qmail-submission"), 10,
               "the submission log")

    r = inst.ctl("restart")
    assert r.returncode == 0, r.stderr
    assert "Restarting qmail-submission." in r.stdout.decode()
    wait_until(lambda: smtp_up(inst.smtpsport), 30, "qmail-smtps after restart")

    r = inst.ctl("stop")
    assert r.returncode == 0, r.stderr
    for s in SERVICES:
        assert ": down " in inst.svstat(s), s


def test_submission_service_refuses_to_start_without_a_certificate(inst):
    (inst.root / "control" / "servercert.pem").unlink()
    inst.start_svscan()
    assert inst.ctl("start").returncode == 0
    wait_until(lambda: "not starting: no " in inst.log("qmail-submission"), 30,
               "the refusal in the log")
    assert "servercert.pem" in inst.log("qmail-submission")
    inst.wait_smtp()  # plain SMTP is not affected


def test_make_run_offers_submission(tmp_path):
    instance = tmp_path / "run"
    port = free_port()
    run = MakeRun(instance, port)
    try:
        text = run.wait_ready()
        maildir = pathlib.Path(re.search(r"It lands in: (\S+)", text).group(1))
        cert = instance / "root" / "control" / "servercert.pem"
        assert b"BEGIN CERTIFICATE" in cert.read_bytes()
        assert cert.stat().st_mode & 0o077 == 0
        lines = [l.strip() for l in text.splitlines() if l.strip().startswith("swaks ")]
        tls_cmds = [l for l in lines if "--auth" in l]
        assert len(tls_cmds) == 2 and "--tls" in tls_cmds[0] and "--tlsc" in tls_cmds[1], text
        for n, cmd in enumerate(tls_cmds, 1):
            r = subprocess.run(cmd.split() + ["--header", f"Subject: submission {n}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
            assert r.returncode == 0, r.stdout.decode()
            assert b"235 ok, go ahead" in r.stdout
            wait_until(lambda: maildir_count(maildir.parent) == n, 60, f"submission {n}")
        run.interrupt()
        assert "Stopped." in run.text(), run.text()
        assert instance_processes(instance) == []
    finally:
        run.kill()
