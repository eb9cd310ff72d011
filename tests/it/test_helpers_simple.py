"""maildirmake(1), except(1) and bouncesaying(1), run as a user or a
.qmail line would run them."""
import mailbox
import os
import stat
import subprocess

import pytest

from command_env import qmail_env, run_helper
from conftest import bin_path

MSG = b"From: alice@example.org\nSubject: spam offer\n\nbuy now\n"


# ------------------------------------------------------------ maildirmake

def test_maildirmake_makes_private_maildir(tmp_path):
    md = tmp_path / "Maildir"
    r = run_helper(["maildirmake", str(md)])
    assert r.returncode == 0, r.stderr
    for d in (md, md / "tmp", md / "new", md / "cur"):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    assert sorted(os.listdir(md)) == ["cur", "new", "tmp"]
    # A real maildir reader accepts it.
    box = mailbox.Maildir(str(md), create=False)
    box.add(b"Subject: t\n\nx\n")
    assert len(box) == 1


def test_maildirmake_mode_ignores_permissive_umask(tmp_path):
    md = tmp_path / "Maildir"
    r = subprocess.run(["sh", "-c", f"umask 000; {bin_path('maildirmake')} {md}"],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(md / "new").st_mode) == 0o700


def test_maildirmake_refuses_existing_directory(tmp_path):
    md = tmp_path / "Maildir"
    md.mkdir()
    (md / "keep").write_text("x")
    r = run_helper(["maildirmake", str(md)])
    assert r.returncode == 111
    assert b"maildirmake: fatal: unable to mkdir" in r.stderr
    assert str(md).encode() in r.stderr
    assert os.listdir(md) == ["keep"]


def test_maildirmake_missing_parent(tmp_path):
    r = run_helper(["maildirmake", str(tmp_path / "no" / "Maildir")])
    assert r.returncode == 111
    assert b"No such file" in r.stderr


def test_maildirmake_usage():
    r = run_helper(["maildirmake"])
    assert r.returncode == 100
    assert b"usage" in r.stderr


# ----------------------------------------------------------------- except

@pytest.mark.parametrize("code,expect", [
    (0, 100), (100, 0), (1, 0), (99, 0), (64, 0), (111, 111)])
def test_except_reverses_exit_code(code, expect):
    r = run_helper(["except", "sh", "-c", f"exit {code}"])
    assert r.returncode == expect


def test_except_crash_is_temporary():
    r = run_helper(["except", "sh", "-c", "kill -9 $$"])
    assert r.returncode == 111
    assert b"crashed" in r.stderr


def test_except_missing_program_counts_as_failure():
    r = run_helper(["except", "/no/such/program"])
    assert r.returncode == 0


def test_except_passes_message_and_arguments():
    r = run_helper(["except", "grep", "-q", "^Subject: spam"], MSG)
    assert r.returncode == 100
    r = run_helper(["except", "grep", "-q", "^Subject: ham"], MSG)
    assert r.returncode == 0


def test_except_usage():
    r = run_helper(["except"])
    assert r.returncode == 100
    assert b"usage" in r.stderr


# ----------------------------------------------------------- bouncesaying

def test_bouncesaying_always_bounces_with_text():
    text = "This address no longer accepts mail."
    r = run_helper(["bouncesaying", text], MSG, qmail_env())
    assert r.returncode == 100
    assert r.stderr == text.encode() + b"\n"


@pytest.mark.parametrize("code,expect", [
    (0, 100), (1, 0), (99, 0), (100, 0), (111, 111)])
def test_bouncesaying_program_decides(code, expect):
    r = run_helper(["bouncesaying", "No thanks.", "sh", "-c",
                    f"cat >/dev/null; exit {code}"], MSG, qmail_env())
    assert r.returncode == expect
    if expect == 100:
        assert r.stderr == b"No thanks.\n"


def test_bouncesaying_reads_message():
    r = run_helper(["bouncesaying", "No spam.", "grep", "-q", "^Subject: spam"],
                   MSG, qmail_env())
    assert r.returncode == 100
    assert r.stderr == b"No spam.\n"
    r = run_helper(["bouncesaying", "No spam.", "grep", "-q", "^Subject: ham"],
                   MSG, qmail_env())
    assert r.returncode == 0


def test_bouncesaying_with_except():
    # Bounce everything not from example.org.
    args = ["bouncesaying", "Members only.", bin_path("except"),
            "grep", "-q", "^From:.*@example\\.org"]
    assert run_helper(args, MSG, qmail_env()).returncode == 0
    other = MSG.replace(b"example.org", b"example.net")
    r = run_helper(args, other, qmail_env())
    assert r.returncode == 100
    assert r.stderr == b"Members only.\n"


def test_bouncesaying_crash_and_missing_program():
    r = run_helper(["bouncesaying", "x", "sh", "-c", "kill -9 $$"], MSG)
    assert r.returncode == 111
    r = run_helper(["bouncesaying", "x", "/no/such/program"], MSG)
    assert r.returncode == 0


def test_bouncesaying_usage():
    r = run_helper(["bouncesaying"])
    assert r.returncode == 100
    assert b"usage" in r.stderr
