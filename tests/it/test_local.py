"""qmail-local: every rule of dot-qmail(5), qmail-local(8) and qmail-command(8).

Each case is a real delivery by the installed qmail-local into a scratch home
directory; results are read back with Python's mailbox module, and forwards
through a capturing queue program named by QMAILQUEUE.
"""
import mailbox
import os
import subprocess

import pytest

from conftest import bin_path, run, small_tmpfs

MSG = b"From: a@example.org\nSubject: test\n\nFrom the start\nbody line\n"


class Home:
    """A home directory, a capturing queue program and a qmail-local runner."""

    def __init__(self, path):
        self.path = path
        path.mkdir(mode=0o755, exist_ok=True)
        os.chmod(path, 0o755)
        self.capture = path.parent / (path.name + "-queue")
        self.capture.mkdir()
        self.queue = path.parent / (path.name + "-qq")
        self.queue.write_text(
            "#!/bin/sh\n"
            'cat > "$CAPTURE/msg" || exit 54\n'
            'cat <&1 > "$CAPTURE/env" || exit 54\n'
            'exit "${QQ_EXIT:-0}"\n')
        self.queue.chmod(0o755)

    def write(self, name, text, mode=0o644):
        p = self.path / name
        p.write_bytes(text.encode() if isinstance(text, str) else text)
        os.chmod(p, mode)
        return p

    def maildir(self, name="Maildir"):
        for sub in ("tmp", "new", "cur"):
            (self.path / name / sub).mkdir(parents=True, exist_ok=True)
        return self.path / name

    def deliver(self, local="joe", dash="", ext="", sender="sender@example.org",
                message=MSG, flags=(), default="./Mailbox", host="example.com",
                env=None, user="joe"):
        e = {"QMAILQUEUE": str(self.queue), "CAPTURE": str(self.capture)}
        e.update(env or {})
        args = [bin_path("qmail-local"), *flags, "--", user, str(self.path), local, dash,
                ext, host, sender, default]
        msgfile = self.path.parent / (self.path.name + "-message")
        msgfile.write_bytes(message)
        with open(msgfile, "rb") as f:
            return subprocess.run(args, stdin=f, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env={**os.environ, **e},
                                  timeout=120)

    def forwarded(self):
        """(sender, [recipients], message bytes), or None when nothing was queued."""
        env = self.capture / "env"
        if not env.exists():
            return None
        fields = env.read_bytes().split(b"\0")
        sender = fields[0][1:].decode()
        recips = [f[1:].decode() for f in fields[1:] if f.startswith(b"T")]
        return sender, recips, (self.capture / "msg").read_bytes()

    def mbox(self, name="Mailbox"):
        return list(mailbox.mbox(str(self.path / name)))

    def maildir_messages(self, name="Maildir"):
        return list(mailbox.Maildir(str(self.path / name), factory=None))


@pytest.fixture
def home(tmp_path):
    return Home(tmp_path / "home")


def ok(r):
    assert r.returncode == 0, r.stderr.decode()
    return r


# --- the five kinds of line -------------------------------------------------

def test_missing_dotqmail_uses_defaultdelivery_mbox(home):
    r = ok(home.deliver())
    assert r.stdout == b"did 1+0+0\n"
    (m,) = home.mbox()
    assert m["Return-Path"] == "<sender@example.org>"
    assert m["Delivered-To"] == "joe@example.com"
    assert m["Subject"] == "test"
    assert m.get_from().startswith("sender@example.org ")
    raw = (home.path / "Mailbox").read_bytes()
    assert raw.startswith(b"From sender@example.org ")
    assert b"\n>From the start\n" in raw
    assert raw.endswith(b"body line\n\n")


def test_empty_dotqmail_uses_defaultdelivery(home):
    home.write(".qmail", "")
    home.maildir()
    ok(home.deliver(default="./Maildir/\n"))
    (m,) = home.maildir_messages()
    assert m["Delivered-To"] == "joe@example.com"


def test_comment_lines_are_ignored(home):
    home.write(".qmail", "# a comment\n./Mailbox\n# another\n")
    r = ok(home.deliver())
    assert r.stdout == b"did 1+0+0\n"
    assert len(home.mbox()) == 1


def test_maildir_line_delivers_reliably(home):
    home.maildir()
    home.write(".qmail", "./Maildir/\n")
    ok(home.deliver())
    (m,) = home.maildir_messages()
    assert m["Return-Path"] == "<sender@example.org>"
    assert m.get_payload() == "From the start\nbody line\n"
    assert list((home.path / "Maildir/tmp").iterdir()) == []
    name = next((home.path / "Maildir/new").iterdir()).name
    assert ":" not in name and "/" not in name


def test_absolute_maildir_and_mbox_paths(home):
    md = home.maildir("Other")
    home.write(".qmail", f"{md}/\n{home.path}/Box\n")
    assert ok(home.deliver()).stdout == b"did 2+0+0\n"
    assert len(home.maildir_messages("Other")) == 1
    assert len(home.mbox("Box")) == 1


def test_mbox_appends_and_quotes_from_lines(home):
    home.write(".qmail", "./Mailbox\n")
    ok(home.deliver())
    ok(home.deliver(message=b"Subject: two\n\nFrom x\n>From y\n>>From z\nFromage\n"))
    msgs = home.mbox()
    assert [m["Subject"] for m in msgs] == ["test", "two"]
    raw = (home.path / "Mailbox").read_bytes()
    assert b"\n>From x\n>>From y\n>>>From z\nFromage\n\n" in raw


def test_message_without_final_newline(home):
    home.maildir()
    home.write(".qmail", "./Maildir/\n./Mailbox\n")
    ok(home.deliver(message=b"Subject: x\n\nno newline"))
    (m,) = home.maildir_messages()
    assert m.get_payload() == "no newline"
    raw = (home.path / "Mailbox").read_bytes()
    assert raw.endswith(b"\n\nno newline\n\n")
    (mb,) = home.mbox()
    assert mb.get_payload() == "no newline\n"


def test_program_gets_message_and_environment(home):
    home.write(".qmail-list-default",
               "|env > prog.env; cat > prog.in\n")
    r = ok(home.deliver(local="joe-list-Foo.Bar", dash="-", ext="list-Foo.Bar",
                        host="mail.example.co.uk", sender="s@x.org"))
    assert r.stdout == b"did 0+0+1\n"
    env = dict(l.split("=", 1) for l in (home.path / "prog.env").read_text().split("\n")
               if "=" in l and not l.startswith(" "))
    assert env["SENDER"] == "s@x.org"
    assert env["NEWSENDER"] == "s@x.org"
    assert env["RECIPIENT"] == "joe-list-Foo.Bar@mail.example.co.uk"
    assert env["USER"] == "joe"
    assert env["HOME"] == str(home.path)
    assert env["LOCAL"] == "joe-list-Foo.Bar"
    assert env["HOST"] == "mail.example.co.uk"
    assert env["HOST2"] == "mail.example.co"
    assert env["HOST3"] == "mail.example"
    assert env["HOST4"] == "mail"
    assert env["EXT"] == "list-Foo.Bar"
    assert env["EXT2"] == "Foo.Bar"
    assert env["EXT3"] == ""
    assert env["EXT4"] == ""
    assert env["DEFAULT"] == "Foo.Bar"
    assert env["DTLINE"] == "Delivered-To: joe-list-Foo.Bar@mail.example.co.uk"
    assert env["RPLINE"] == "Return-Path: <s@x.org>"
    assert env["UFLINE"].startswith("From s@x.org ")
    # the program reads the message as it came, without the new header lines
    assert (home.path / "prog.in").read_bytes() == MSG


def test_program_runs_in_home_directory_with_sh(home):
    home.write(".qmail", "|pwd > where; echo $0 > shell\n")
    ok(home.deliver())
    assert (home.path / "where").read_text().strip() == str(home.path)
    assert (home.path / "shell").read_text().strip() in ("/bin/sh", "sh")


@pytest.mark.parametrize("code,expect", [
    (0, 0), (100, 100), (64, 100), (65, 100), (70, 100), (76, 100), (77, 100),
    (78, 100), (112, 100), (111, 111), (1, 111), (2, 111), (75, 111)])
def test_program_exit_codes(home, code, expect):
    home.write(".qmail", f"|exit {code}\n")
    r = home.deliver()
    assert r.returncode == expect


def test_program_crash_is_temporary(home):
    home.write(".qmail", "|kill -SEGV $$\n")
    r = home.deliver()
    assert r.returncode == 111
    assert b"crashed" in r.stderr


def test_program_error_text_is_reported(home):
    home.write(".qmail", "|echo over quota >&2; exit 100\n")
    r = home.deliver()
    assert r.returncode == 100
    assert b"over quota" in r.stderr


def test_exit_99_stops_but_earlier_forwards_go(home):
    home.write(".qmail", "&first@example.net\n./Mailbox\n|exit 99\n./Second\n&second@example.net\n")
    ok(home.deliver())
    assert len(home.mbox()) == 1
    assert not (home.path / "Second").exists()
    sender, recips, _ = home.forwarded()
    assert recips == ["first@example.net"]


# --- forwards ---------------------------------------------------------------

def test_forward_lines_with_and_without_ampersand(home):
    home.write(".qmail", "&me@new.job.com\nother@example.net\n9lives@example.net\n")
    r = ok(home.deliver())
    assert r.stdout.startswith(b"did 0+3+0\nqp ")
    sender, recips, msg = home.forwarded()
    assert sender == "sender@example.org"
    assert recips == ["me@new.job.com", "other@example.net", "9lives@example.net"]
    assert msg == b"Delivered-To: joe@example.com\n" + MSG
    assert b"Return-Path" not in msg


@pytest.mark.parametrize("line", [
    "&", "& me@new.job.com", "&me@new.job.com (New Address)",
    "&<me@new.job.com>"])
def test_wrong_forward_lines_are_temporary_failures(home, line):
    home.write(".qmail", f"./Mailbox\n{line}\n")
    r = home.deliver()
    assert r.returncode == 111
    assert b"line 2" in r.stderr
    assert not (home.path / "Mailbox").exists()
    assert home.forwarded() is None


def test_forwards_happen_after_everything_else(home):
    home.write(".qmail", "&a@example.net\n./nodir/Mailbox\n")
    r = home.deliver()
    assert r.returncode == 111
    assert home.forwarded() is None


def test_forward_queue_failures(home):
    home.write(".qmail", "&a@example.net\n")
    r = home.deliver(env={"QQ_EXIT": "53"})
    assert r.returncode == 111
    r = home.deliver(env={"QQ_EXIT": "31"})
    assert r.returncode == 100
    assert r.stderr.startswith(b"Unable to forward message: ")


def test_many_forwards_in_one_injection(home):
    home.write(".qmail", "".join(f"&user{i}@example.net\n" for i in range(500)))
    ok(home.deliver())
    _, recips, _ = home.forwarded()
    assert len(recips) == 500


def test_owner_sets_envelope_sender(home):
    home.write(".qmail-list", "&a@example.net\n")
    home.write(".qmail-list-owner", "&owner@example.net\n")
    ok(home.deliver(local="joe-list", dash="-", ext="list"))
    assert home.forwarded()[0] == "joe-list-owner@example.com"


def test_owner_default_makes_verp(home):
    home.write(".qmail-list", "&a@example.net\n")
    home.write(".qmail-list-owner", "&owner@example.net\n")
    home.write(".qmail-list-owner-default", "&owner@example.net\n")
    ok(home.deliver(local="joe-list", dash="-", ext="list"))
    assert home.forwarded()[0] == "joe-list-owner-@example.com-@[]"


@pytest.mark.parametrize("bounce_sender", ["", "#@[]"])
def test_bounces_keep_their_sender(home, bounce_sender):
    home.write(".qmail-list", "&a@example.net\n")
    home.write(".qmail-list-owner", "&owner@example.net\n")
    ok(home.deliver(local="joe-list", dash="-", ext="list", sender=bounce_sender))
    assert home.forwarded()[0] == bounce_sender


def test_newsender_without_owner_is_sender(home):
    home.write(".qmail-list", "|echo $NEWSENDER > ns\n")
    ok(home.deliver(local="joe-list", dash="-", ext="list"))
    assert (home.path / "ns").read_text().strip() == "sender@example.org"


# --- extension addresses ----------------------------------------------------

@pytest.mark.parametrize("files,ext,used,default", [
    ({".qmail-foo-bar", ".qmail-foo-default", ".qmail-default"}, "foo-bar", ".qmail-foo-bar", None),
    ({".qmail-foo-default", ".qmail-default"}, "foo-bar", ".qmail-foo-default", "bar"),
    ({".qmail-default"}, "foo-bar", ".qmail-default", "foo-bar"),
    ({".qmail-foo-bar-default"}, "foo-bar-baz-x", ".qmail-foo-bar-default", "baz-x"),
    ({".qmail-foo:bar"}, "foo.bar", ".qmail-foo:bar", None),
    ({".qmail-foo-bar"}, "Foo-BAR", ".qmail-foo-bar", None),
    ({".qmail-default"}, "Foo.Bar", ".qmail-default", "Foo.Bar"),
])
def test_extension_file_search(home, files, ext, used, default):
    for f in files:
        home.write(f, f"|echo {f} > used; echo \"$DEFAULT\" > default\n")
    ok(home.deliver(local="joe-" + ext, dash="-", ext=ext))
    assert (home.path / "used").read_text().strip() == used
    assert (home.path / "default").read_text().strip() == (default or "")


def test_missing_extension_file_bounces(home):
    home.write(".qmail", "./Mailbox\n")
    r = home.deliver(local="joe-nobody", dash="-", ext="nobody")
    assert r.returncode == 100
    assert r.stderr == b"Sorry, no mailbox here by that name. (#5.1.1)\n"
    assert not (home.path / "Mailbox").exists()


def test_dot_in_extension_never_reaches_parent_files(home):
    home.write(".qmail-x", "|echo wrong > used\n")
    r = home.deliver(local="joe-../x", dash="-", ext="../x")
    assert r.returncode == 100
    assert not (home.path / "used").exists()


def test_empty_extension_file_uses_default_delivery(home):
    home.write(".qmail-foo", "")
    ok(home.deliver(local="joe-foo", dash="-", ext="foo"))
    assert len(home.mbox()) == 1


def test_alias_style_delivery_with_dash_and_empty_ext(home):
    home.write(".qmail-", "./Mailbox\n")
    ok(home.deliver(local="joe-", dash="-", ext=""))
    assert len(home.mbox()) == 1


# --- Delivered-To loops -----------------------------------------------------

def test_message_with_my_delivered_to_bounces_as_loop(home):
    msg = b"Delivered-To: joe@example.com\nSubject: loop\n\nbody\n"
    r = home.deliver(message=msg)
    assert r.returncode == 100
    assert b"looping" in r.stderr
    assert not (home.path / "Mailbox").exists()


def test_delivered_to_in_body_or_for_others_is_fine(home):
    msg = (b"Delivered-To: other@example.com\nSubject: x\n\n"
           b"Delivered-To: joe@example.com\n")
    ok(home.deliver(message=msg))
    (m,) = home.mbox()
    assert m.get_all("Delivered-To") == ["joe@example.com", "other@example.com"]


# --- safety rules -----------------------------------------------------------

@pytest.mark.parametrize("mode", [0o664, 0o646, 0o666])
def test_writable_dotqmail_is_temporary_failure(home, mode):
    home.write(".qmail", "./Mailbox\n", mode=mode)
    r = home.deliver()
    assert r.returncode == 111
    assert b".qmail file is writable" in r.stderr
    assert not (home.path / "Mailbox").exists()


@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_writable_home_is_temporary_failure(home, mode):
    os.chmod(home.path, mode)
    r = home.deliver()
    assert r.returncode == 111
    assert b"home directory is writable" in r.stderr


def test_sticky_home_defers_delivery(home):
    os.chmod(home.path, 0o1755)
    r = home.deliver()
    assert r.returncode == 111
    assert b"sticky" in r.stderr
    assert not (home.path / "Mailbox").exists()
    r = home.deliver(flags=["-n"])
    assert r.returncode == 0
    assert b"sticky" in r.stderr


@pytest.mark.parametrize("line", ["./Mailbox", "./Maildir/", "|true"])
def test_executable_dotqmail_allows_only_forwards(home, line):
    home.maildir()
    home.write(".qmail", f"&a@example.net\n{line}\n", mode=0o755)
    r = home.deliver()
    assert r.returncode == 111
    assert b"x bit" in r.stderr
    assert home.forwarded() is None


def test_executable_dotqmail_with_forwards_works(home):
    home.write(".qmail", "# list\n&a@example.net\n&b@example.net\n", mode=0o755)
    ok(home.deliver())
    assert home.forwarded()[1] == ["a@example.net", "b@example.net"]


def test_plus_list_line_allows_only_forwards_after_it(home):
    home.write(".qmail", "./Mailbox\n+list\n|true\n")
    assert home.deliver().returncode == 111
    home.write(".qmail", "./Mailbox\n+list\n&a@example.net\n")
    ok(home.deliver())


def test_blank_first_line_is_temporary_failure(home):
    home.write(".qmail", "\n./Mailbox\n")
    r = home.deliver()
    assert r.returncode == 111
    assert b"first line" in r.stderr


def test_trailing_space_and_later_blank_lines_are_fine(home):
    home.maildir()
    home.write(".qmail", "./Mailbox \t\n\n\n./Maildir/\t\n&a@example.net  \n")
    r = ok(home.deliver())
    assert r.stdout.startswith(b"did 2+1+0\n")
    assert len(home.mbox()) == 1
    assert len(home.maildir_messages()) == 1
    assert home.forwarded()[1] == ["a@example.net"]


def test_relative_homedir_is_usage_error(home):
    r = run([bin_path("qmail-local"), "joe", "home", "joe", "", "", "h", "s", "./Mailbox"])
    assert r.returncode == 100
    assert b"usage" in r.stderr


def test_wrong_argument_count_is_usage_error():
    r = run([bin_path("qmail-local"), "joe"])
    assert r.returncode == 100
    assert b"usage" in r.stderr


def test_missing_home_is_temporary_failure(tmp_path):
    r = run([bin_path("qmail-local"), "joe", str(tmp_path / "none"), "joe", "", "",
             "h", "s", "./Mailbox"])
    assert r.returncode == 111


# --- qmail-local -n ---------------------------------------------------------

def test_dash_n_prints_instructions(home):
    home.write(".qmail", "# c\n|preline /usr/bin/vacation joe\n&me@new.job.com\n"
                         "./Mailbox\n./Maildir/\n")
    r = subprocess.run([bin_path("qmail-local"), "-n", "joe", str(home.path), "joe",
                        "", "", "", "", "./Mailbox"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0
    assert r.stdout == (b"program preline /usr/bin/vacation joe\nforward me@new.job.com\n"
                        b"mbox ./Mailbox\nmaildir ./Maildir/\ndid 2+1+1\n")
    assert not (home.path / "Mailbox").exists()


def test_seed_example_with_default_delivery(home):
    r = subprocess.run([bin_path("qmail-local"), "-n", "joe", str(home.path), "joe",
                        "", "", "", "", "./Mailbox"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.stdout == b"mbox ./Mailbox\ndid 1+0+0\n"


def test_message_on_a_pipe_is_accepted(home):
    home.write(".qmail", "./Mailbox\n|cat > copy\n")
    r = subprocess.run([bin_path("qmail-local"), "joe", str(home.path), "joe", "", "",
                        "example.com", "s@x.org", "./Mailbox"], input=MSG,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert r.returncode == 0, r.stderr
    assert (home.path / "copy").read_bytes() == MSG
    assert len(home.mbox()) == 1


# --- bad input --------------------------------------------------------------

def test_dotqmail_of_100000_lines(home):
    lines = ["# comment"] * 99_998 + ["./Mailbox", "&a@example.net"]
    home.write(".qmail", "\n".join(lines) + "\n")
    ok(home.deliver())
    assert len(home.mbox()) == 1
    assert home.forwarded()[1] == ["a@example.net"]


def test_dotqmail_with_megabyte_lines(home):
    big = "x" * 1_000_000
    home.write(".qmail", f"# {big}\n./Mailbox\n")
    ok(home.deliver())
    home.write(".qmail", f"./Mailbox\n&{big} x\n")  # a wrong forward line, reported short
    r = home.deliver()
    assert r.returncode == 111
    assert len(r.stderr) < 1000
    home.write(".qmail", f"./{big}\n")
    r = home.deliver()
    assert r.returncode == 111
    assert len(r.stderr) < 1000
    assert len(home.mbox()) == 1


def test_dotqmail_with_nul_byte(home):
    home.write(".qmail", b"./Mailbox\n&a@exa\0mple.net\n")
    r = home.deliver()
    assert r.returncode == 111
    assert b"NUL" in r.stderr
    assert not (home.path / "Mailbox").exists()


def test_fifty_megabyte_message(home):
    home.maildir()
    home.write(".qmail", "./Maildir/\n./Mailbox\n")
    body = (b"y" * 99 + b"\n") * 500_000
    ok(home.deliver(message=b"Subject: big\n\n" + body))
    new = list((home.path / "Maildir/new").iterdir())
    assert len(new) == 1
    assert new[0].stat().st_size > 50_000_000
    assert (home.path / "Mailbox").stat().st_size > 50_000_000


@pytest.fixture
def small_fs(tmp_path):
    with small_tmpfs(tmp_path / "small", "1m") as mnt:
        yield mnt


def test_full_disk_during_mbox_delivery_truncates_back(home, small_fs):
    box = small_fs / "Mailbox"
    home.write(".qmail", f"{box}\n")
    ok(home.deliver())
    before = box.read_bytes()
    r = home.deliver(message=b"Subject: big\n\n" + b"z" * 2_000_000 + b"\n")
    assert r.returncode == 111
    assert b"No space left" in r.stderr
    assert box.read_bytes() == before
    assert len(list(mailbox.mbox(str(box)))) == 1


def test_full_disk_during_maildir_delivery_leaves_nothing(home, small_fs):
    md = small_fs / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (md / sub).mkdir(parents=True)
    home.write(".qmail", f"{md}/\n")
    r = home.deliver(message=b"Subject: big\n\n" + b"z" * 2_000_000 + b"\n")
    assert r.returncode == 111
    assert list((md / "new").iterdir()) == []
    assert list((md / "tmp").iterdir()) == []
    ok(home.deliver())
    assert len(list((md / "new").iterdir())) == 1


def test_missing_maildir_is_temporary(home):
    home.write(".qmail", "./NoSuch/\n")
    r = home.deliver()
    assert r.returncode == 111
    assert b"NoSuch" in r.stderr


def test_first_failing_instruction_stops_delivery(home):
    home.maildir()
    home.write(".qmail", "./Maildir/\n|exit 111\n./Mailbox\n")
    r = home.deliver()
    assert r.returncode == 111
    assert len(home.maildir_messages()) == 1
    assert not (home.path / "Mailbox").exists()
