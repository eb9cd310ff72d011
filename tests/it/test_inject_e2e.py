"""qmail-inject and sendmail through the real queue: qmail-queue ->
qmail-send -> qmail-lspawn (users/assign via lib/users) -> qmail-local ->
Maildir, read back with Python's mailbox module."""
import subprocess

import pytest

from conftest import bin_path
from inject_capture import clean_env

import queuelib  # noqa: E402


@pytest.fixture(scope="module")
def q(tmp_path_factory):
    qi = queuelib.QueueInstance(tmp_path_factory, "inj")
    for u in ("joe", "bob"):
        qi.add_user(u)
    (qi.homes / "joe" / ".qmail-list").write_text("./Maildir/\n")
    qi.start()
    yield qi
    qi.stop()


def run_in(q, prog, args, message, **env):
    e = clean_env(QMAILUSER="sam", **env)
    return subprocess.run([bin_path(prog, q.root), *args], input=message,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=60)


def test_inject_to_local_maildir(q):
    before = len(q.messages("joe")) if (q.homes / "joe").exists() else 0
    r = run_in(q, "qmail-inject", [], b"To: joe\nSubject: e2e one\n\nhello\n",
               QMAILNAME="Sam Smith")
    assert r.returncode == 0, r.stderr
    msgs = q.wait_mail("joe", before + 1)
    m = [m for m in msgs if m["Subject"] == "e2e one"][0]
    assert m["To"] == "joe@test.example"
    assert m["From"] == '"Sam Smith" <sam@test.example>'
    assert m["Return-Path"] == "<sam@test.example>"
    assert m["Delivered-To"] == "joe@test.example"
    assert m["Date"].endswith("-0000") and m["Message-ID"].endswith(".qmail@test.example>")
    assert m["Received"].startswith("(qmail ")
    assert m.get_payload() == "hello\n"


def test_extension_through_users_assign(q):
    r = run_in(q, "qmail-inject", ["joe-list"], b"Subject: e2e list\n\n")
    assert r.returncode == 0, r.stderr
    m = queuelib.wait_until(
        lambda: [m for m in q.messages("joe") if m["Subject"] == "e2e list"], 30, "joe-list")
    assert m[0]["Delivered-To"] == "joe-list@test.example"


def test_sendmail_t_with_bcc(q):
    msg = b"To: joe@test.example\nBcc: bob\nSubject: e2e bcc\n\nsecret list\n"
    r = run_in(q, "sendmail", ["-t", "-i", "-f", "lists@example.net"], msg)
    assert r.returncode == 0, r.stderr
    got = queuelib.wait_until(
        lambda: [m for m in q.messages("bob") if m["Subject"] == "e2e bcc"], 30, "bob's copy")
    m = got[0]
    assert m["Bcc"] is None
    assert m["Return-Path"] == "<lists@example.net>"
    assert m["From"] == "lists@example.net"
    queuelib.wait_until(
        lambda: [m for m in q.messages("joe") if m["Subject"] == "e2e bcc"], 30, "joe's copy")
