"""sendmail: the compatibility command line, checked through what
qmail-inject finally hands to a capturing stand-in for qmail-queue."""
import subprocess

import pytest

from conftest import bin_path
from inject_capture import Capture, clean_env, restore_controls, set_controls


@pytest.fixture
def cap(tmp_path):
    saved = set_controls({"me": "mx.example.org", "defaulthost": "example.org",
                          "defaultdomain": "example.org"})
    yield Capture(tmp_path)
    restore_controls(saved)


def sendmail(cap, args, message=b"", argv0=None, **env):
    e = clean_env(QMAILUSER="sam", **env)
    e.update(cap.env)
    prog = argv0 or bin_path("sendmail")
    return subprocess.run([prog, *args], input=message, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=30)


MSG = b"To: to@example.com\nCc: cc@example.com\nBcc: bcc@example.com\nSubject: s\n\nbody\n"


def test_t_reads_recipients_from_header(cap):
    r = sendmail(cap, ["-t", "-i"], MSG)
    assert r.returncode == 0, r.stderr
    assert sorted(cap.envelope()[1]) == ["bcc@example.com", "cc@example.com", "to@example.com"]
    m = cap.message()
    assert m["Bcc"] is None
    assert m["Subject"] == "s"


def test_arguments_only_without_t(cap):
    assert sendmail(cap, ["-oi", "rcpt@example.net"], MSG).returncode == 0
    assert cap.envelope()[1] == ["rcpt@example.net"]
    # -t adds the header recipients to the arguments.
    assert sendmail(cap, ["-t", "extra"], MSG).returncode == 0
    assert sorted(cap.envelope()[1]) == ["bcc@example.com", "cc@example.com",
                                         "extra@example.org", "to@example.com"]


def test_sender_and_full_name(cap):
    r = sendmail(cap, ["-f", "list-bounces@lists.example.net", "-F", "The List", "x@example.com"],
                 b"Subject: s\n\n", QMAILNAME="Ignored")
    assert r.returncode == 0, r.stderr
    assert cap.envelope() == ("list-bounces@lists.example.net", ["x@example.com"])
    assert cap.message()["From"] == '"The List" <list-bounces@lists.example.net>'
    # Glued forms work as well.
    assert sendmail(cap, ["-fme@example.net", "-FMe", "x@example.com"], b"\n").returncode == 0
    assert cap.envelope()[0] == "me@example.net"
    assert cap.message()["From"] == '"Me" <me@example.net>'


def test_bracketed_and_null_sender(cap):
    assert sendmail(cap, ["-f", "<a@example.net>", "x@example.com"], b"\n").returncode == 0
    assert cap.envelope()[0] == "a@example.net"
    assert sendmail(cap, ["-f<>", "x@example.com"], b"\n").returncode == 0
    assert cap.envelope()[0] == ""
    assert cap.message()["From"] == "sam@example.org"


def test_ignored_options_are_accepted(cap):
    args = ["-i", "-oi", "-oem", "-odb", "-v", "-N", "never", "-Nsuccess,failure", "-m", "-x",
            "-em", "-B", "8BITMIME", "-pesmtp", "-bm", "-Jjunk", "--", "x@example.com"]
    r = sendmail(cap, args, b"Subject: s\n\n")
    assert r.returncode == 0, r.stderr
    assert cap.envelope()[1] == ["x@example.com"]


def test_usage_errors(cap):
    r = sendmail(cap, ["-z"], b"")
    assert r.returncode == 100
    assert b"usage" in r.stderr
    assert sendmail(cap, ["-bz"], b"").returncode == 100
    assert not cap.ran()


def test_newaliases_refuses(cap, tmp_path):
    link = tmp_path / "newaliases"
    link.symlink_to(bin_path("sendmail"))
    r = sendmail(cap, [], b"", argv0=str(link))
    assert r.returncode == 100


def test_bp_runs_qmail_qread(cap):
    r = sendmail(cap, ["-bp"])
    direct = subprocess.run([bin_path("qmail-qread")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert r.returncode == direct.returncode
    assert r.stdout == direct.stdout


def test_bs_speaks_smtp(cap):
    session = (b"HELO localhost\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
               b"DATA\r\nSubject: via smtp\r\n\r\nhi\r\n.\r\nQUIT\r\n")
    r = sendmail(cap, ["-bs"], session)
    assert r.stdout.startswith(b"220 ")
    assert b"\r\n250 " in r.stdout
    assert cap.envelope() == ("a@example.com", ["b@example.com"])
    assert cap.message()["Subject"] == "via smtp"
