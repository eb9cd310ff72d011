"""The helper programs used as dot-qmail(5) intends: named on |program lines
of a .qmail file and run by the installed qmail-local, which sets their
environment. Results are read back from the mailboxes and the captured
queue injection."""
import mailbox
import os
import time

import pytest

from command_env import run_helper
from conftest import PREFIX
from test_local import Home

URGENT = b"From: a@example.org\nSubject: urgent: call me\n\nFrom the start\n"
PLAIN = b"From: a@example.org\nSubject: hello\n\nbody\n"
BIN = f"{PREFIX}/bin"


@pytest.fixture
def home(tmp_path):
    return Home(tmp_path / "home")


def test_condredirect_then_maildir(home):
    home.maildir()
    home.write(".qmail", f"|{BIN}/condredirect boss@example.net "
                         "grep -q '^Subject: urgent'\n./Maildir/\n")
    r = home.deliver(message=URGENT, sender="s@example.org")
    assert r.returncode == 0, r.stderr
    sender, recips, msg = home.forwarded()
    assert (sender, recips) == ("s@example.org", ["boss@example.net"])
    assert msg == b"Delivered-To: joe@example.com\n" + URGENT
    # Exit 99 ended the .qmail file: nothing in the maildir.
    assert home.maildir_messages() == []

    r = home.deliver(message=PLAIN)
    assert r.returncode == 0, r.stderr
    assert len(home.maildir_messages()) == 1


def test_bouncesaying_reason_reaches_the_report(home):
    home.write(".qmail", f"|{BIN}/bouncesaying 'This address is closed.'\n./Mailbox\n")
    r = home.deliver()
    assert r.returncode == 100
    assert b"This address is closed." in r.stderr
    assert not (home.path / "Mailbox").exists()


def test_bouncesaying_with_except_filter(home):
    home.maildir()
    home.write(".qmail", f"|{BIN}/bouncesaying 'Members only.' {BIN}/except "
                         "grep -q '^From:.*@example\\.org'\n./Maildir/\n")
    assert home.deliver(message=PLAIN).returncode == 0
    r = home.deliver(message=PLAIN.replace(b"example.org", b"example.net"))
    assert r.returncode == 100
    assert b"Members only." in r.stderr
    assert len(home.maildir_messages()) == 1


def test_forward_builds_address_from_extension(home):
    home.write(".qmail-fwd-default", f'|{BIN}/forward "$DEFAULT"@example.net\n')
    r = home.deliver(local="joe-fwd-carol", dash="-", ext="fwd-carol",
                     sender="s@example.org", message=PLAIN)
    assert r.returncode == 0, r.stderr
    sender, recips, msg = home.forwarded()
    assert (sender, recips) == ("s@example.org", ["carol@example.net"])
    assert msg == b"Delivered-To: joe-fwd-carol@example.com\n" + PLAIN


def test_preline_feeds_an_mbox_writer(home):
    # A stand-in for procmail: appends what it gets (no From lines in the
    # bodies here, since it does not quote them).
    home.write(".qmail", f"|{BIN}/preline sh -c 'cat >> filtered'\n")
    for m in (PLAIN.replace(b"hello", b"first"), PLAIN):
        r = home.deliver(message=m, sender="s@example.org")
        assert r.returncode == 0, r.stderr
    msgs = list(mailbox.mbox(str(home.path / "filtered")))
    assert [m["Subject"] for m in msgs] == ["first", "hello"]
    assert msgs[0].get_from().startswith("s@example.org ")
    assert msgs[0]["Return-Path"] == "<s@example.org>"
    assert msgs[0]["Delivered-To"] == "joe@example.com"


def test_maildir_delivery_then_maildir2mbox(home, tmp_path):
    md = home.path / "Maildir"
    assert run_helper(["maildirmake", str(md)]).returncode == 0
    home.write(".qmail", "./Maildir/\n")
    for m in (PLAIN, URGENT):
        assert home.deliver(message=m).returncode == 0
    # maildir2mbox leaves messages of the current second; age them.
    for i, p in enumerate(sorted((md / "new").iterdir())):
        t = time.time() - 100 + i
        os.utime(p, (t, t))
    r = run_helper(["maildir2mbox"], env={
        "MAILDIR": str(md), "MAIL": str(home.path / "Mailbox"),
        "MAILTMP": str(home.path / ".Mailbox.tmp")})
    assert r.returncode == 0, r.stderr
    msgs = home.mbox()
    assert sorted(m["Subject"] for m in msgs) == ["hello", "urgent: call me"]
    assert all(m.get_from().startswith("sender@example.org ") for m in msgs)
    assert home.maildir_messages() == []
