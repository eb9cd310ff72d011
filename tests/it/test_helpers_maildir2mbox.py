"""maildir2mbox(1): messages read back from the mbox with Python's mailbox
module; failures leave the maildir and the mbox as they were."""
import calendar
import mailbox
import os
import time

import pytest

from conftest import small_tmpfs

from command_env import run_helper

HOUR = 3600


def make_maildir(path):
    r = run_helper(["maildirmake", str(path)])
    assert r.returncode == 0, r.stderr
    return path


def put(md, sub, name, data, age):
    """A message file whose modification time is age seconds ago."""
    p = md / sub / name
    p.write_bytes(data)
    t = time.time() - age
    os.utime(p, (t, t))
    return p


def move(md, mbox, tmp=None, **kw):
    env = {"MAILDIR": str(md), "MAIL": str(mbox),
           "MAILTMP": str(tmp or mbox.parent / ".mbox.tmp")}
    env.update(kw)
    return run_helper(["maildir2mbox"], env=env)


def snapshot(md):
    return {str(p.relative_to(md)): p.read_bytes()
            for p in md.rglob("*") if p.is_file()}


@pytest.fixture
def md(tmp_path):
    return make_maildir(tmp_path / "Maildir")


def test_moves_messages_in_time_order(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    put(md, "new", "3.c.host", b"Return-Path: <c@x>\nSubject: third\n\nc\n", 1 * HOUR)
    put(md, "cur", "1.a.host:2,S", b"Return-Path: <a@x>\nSubject: first\n\na\n", 3 * HOUR)
    put(md, "new", "2.b.host", b"Return-Path: <b@x>\nSubject: second\n\nb\n", 2 * HOUR)
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    msgs = list(mailbox.mbox(str(mbox)))
    assert [m["Subject"] for m in msgs] == ["first", "second", "third"]
    assert [m.get_from().split()[0] for m in msgs] == ["a@x", "b@x", "c@x"]
    # The messages left the maildir; tmp/ new/ cur/ remain.
    assert snapshot(md) == {}
    assert sorted(os.listdir(md)) == ["cur", "new", "tmp"]
    assert not (tmp_path / ".mbox.tmp").exists()


def test_from_line_sender_and_date(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    when = calendar.timegm((2024, 2, 3, 4, 5, 6))
    for name, first in (("1.a", b"Return-Path: <>\n"),
                        ("2.b", b"Subject: no return path\n"),
                        ("3.c", b"Return-Path: <we ird\tname@x>\n")):
        p = put(md, "new", name, first + b"\nbody\n", 0)
        os.utime(p, (when, when))
        when += 60
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    froms = [l for l in mbox.read_bytes().split(b"\n") if l.startswith(b"From ")]
    assert froms[0] == b"From MAILER-DAEMON Sat Feb  3 04:05:06 2024" or \
        froms[0] == b"From MAILER-DAEMON Sat Feb 03 04:05:06 2024"
    assert froms[1].startswith(b"From XXX Sat Feb ")
    assert froms[2].startswith(b"From we-ird-name@x Sat Feb ")
    # The Return-Path line itself stays in the message.
    assert list(mailbox.mbox(str(mbox)))[0]["Return-Path"] == "<>"


def test_appends_to_existing_mbox(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    old = mailbox.mbox(str(mbox))
    old.add(b"Subject: old one\n\nkept\n")
    old.flush()
    old.close()
    before = mbox.read_bytes()
    put(md, "new", "1.a", b"Return-Path: <a@x>\nSubject: new one\n\nhi\n", HOUR)
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    assert mbox.read_bytes().startswith(before)
    assert [m["Subject"] for m in mailbox.mbox(str(mbox))] == ["old one", "new one"]


def test_quotes_from_lines_and_ends_last_line(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    body = (b"Return-Path: <a@x>\nSubject: quoting\n\n"
            b"From the start\n>From quoted\n>>From twice\nFromage\n From space\n"
            b"no final newline")
    put(md, "new", "1.a", body, 2 * HOUR)
    put(md, "new", "2.b", b"Return-Path: <b@x>\nSubject: next\n\nx\n", HOUR)
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    msgs = list(mailbox.mbox(str(mbox)))
    # An unquoted "From " line would have split the first message.
    assert [m["Subject"] for m in msgs] == ["quoting", "next"]
    assert msgs[0].get_payload() == (
        ">From the start\n>>From quoted\n>>>From twice\nFromage\n From space\n"
        "no final newline\n")
    assert b"no final newline\n\nFrom b@x " in mbox.read_bytes()


def test_binary_and_long_lines_survive(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    body = b"Return-Path: <a@x>\n\n\0nul\xff\n" + b"L" * (1 << 20) + b"\n"
    put(md, "new", "1.a", body, HOUR)
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    data = mbox.read_bytes()
    first_nl = data.index(b"\n")
    assert data[first_nl + 1:] == body + b"\n"


def test_nothing_to_do_leaves_mbox_alone(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    (md / "new" / ".hidden").write_bytes(b"Subject: dot file\n\n")
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    assert not mbox.exists()
    assert (md / "new" / ".hidden").exists()


def test_message_of_this_second_waits(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    put(md, "new", "1.a", b"Subject: old\n\n", HOUR)
    fresh = md / "new" / "2.b"
    fresh.write_bytes(b"Subject: fresh\n\n")
    os.utime(fresh, (time.time() + 5, time.time() + 5))
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    assert [m["Subject"] for m in mailbox.mbox(str(mbox))] == ["old"]
    assert fresh.exists()


def test_old_tmp_files_are_cleaned(md, tmp_path):
    stale = put(md, "tmp", "stale", b"x", 37 * HOUR)
    recent = put(md, "tmp", "recent", b"x", HOUR)
    r = move(md, tmp_path / "Mailbox")
    assert r.returncode == 0, r.stderr
    assert not stale.exists()
    assert recent.exists()


def test_relative_names_are_inside_maildir(md, tmp_path):
    put(md, "new", "1.a", b"Subject: rel\n\n", HOUR)
    r = run_helper(["maildir2mbox"], env={
        "MAILDIR": str(md), "MAIL": "../Mailbox", "MAILTMP": "../Mailbox.tmp"})
    assert r.returncode == 0, r.stderr
    assert [m["Subject"] for m in mailbox.mbox(str(tmp_path / "Mailbox"))] == ["rel"]


@pytest.mark.parametrize("var", ["MAIL", "MAILTMP", "MAILDIR"])
def test_needs_environment(md, tmp_path, var):
    put(md, "new", "1.a", b"Subject: x\n\n", HOUR)
    env = {"MAILDIR": str(md), "MAIL": str(tmp_path / "Mailbox"),
           "MAILTMP": str(tmp_path / "tmp")}
    r = run_helper(["maildir2mbox"], env=env, unset=[var])
    assert r.returncode == 111
    assert f"{var} not set".encode() in r.stderr
    assert (md / "new" / "1.a").exists()


def test_missing_maildir(tmp_path):
    r = move(tmp_path / "nope", tmp_path / "Mailbox")
    assert r.returncode == 111
    assert b"unable to chdir" in r.stderr


# ------------------------------------------------------------- failures

def check_intact(md, mbox, before_md, before_mbox, tmp):
    assert snapshot(md) == before_md
    assert mbox.read_bytes() == before_mbox
    assert not tmp.exists()
    assert len(mailbox.mbox(str(mbox))) == 1


def seed(md, mbox, n=3, size=1000):
    box = mailbox.mbox(str(mbox))
    box.add(b"Subject: already here\n\nold\n")
    box.flush()
    box.close()
    for i in range(n):
        put(md, "new", f"{i}.m", b"Return-Path: <a@x>\nSubject: m\n\n" +
            b"b" * size + b"\n", HOUR - i)
    return snapshot(md), mbox.read_bytes()


def test_mailtmp_not_creatable(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    before = seed(md, mbox)
    tmp = tmp_path / "no-such-dir" / "tmp"
    r = move(md, mbox, tmp)
    assert r.returncode == 111
    assert b"maildir2mbox: fatal: unable to create" in r.stderr
    check_intact(md, mbox, *before, tmp)


@pytest.fixture
def small_fs(tmp_path):
    """A tmpfs of 256 KB mounted for the test (the tests run as root)."""
    with small_tmpfs(tmp_path / "small", "256k") as mnt:
        yield mnt


def test_full_disk_leaves_everything_intact(md, small_fs):
    mbox = small_fs / "Mailbox"
    tmp = small_fs / ".Mailbox.tmp"
    # 100 KB of mbox plus 200 KB of messages do not fit twice in 256 KB.
    before = seed(md, mbox, n=4, size=50 * 1024)
    with open(mbox, "ab") as f:
        f.write(b"x" * 100 * 1024 + b"\n\n")
    before = (before[0], mbox.read_bytes())
    r = move(md, mbox, tmp)
    assert r.returncode == 111
    assert b"unable to write to" in r.stderr
    assert b"No space left" in r.stderr
    check_intact(md, mbox, *before, tmp)


def test_mailtmp_on_other_filesystem(md, tmp_path, small_fs):
    # The rename, the last step before the messages are removed, fails.
    mbox = tmp_path / "Mailbox"
    tmp = small_fs / ".Mailbox.tmp"
    before = seed(md, mbox)
    r = move(md, mbox, tmp)
    assert r.returncode == 111
    assert b"unable to move" in r.stderr
    check_intact(md, mbox, *before, tmp)


def test_runs_again_after_failure(md, tmp_path):
    mbox = tmp_path / "Mailbox"
    seed(md, mbox)
    assert move(md, mbox, tmp_path / "no" / "tmp").returncode == 111
    r = move(md, mbox)
    assert r.returncode == 0, r.stderr
    assert len(mailbox.mbox(str(mbox))) == 4
    assert snapshot(md) == {}
