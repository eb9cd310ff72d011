"""preline(1): the lines it puts on top, its options, and its exit codes."""
import mailbox

import pytest

from command_env import qmail_env, run_helper

MSG = b"Subject: hi\n\nbody\nFrom the top\n"
ENV = qmail_env(sender="alice@example.org", user="bob", host="example.com")
UF = ENV["UFLINE"].encode()
RP = ENV["RPLINE"].encode()
DT = ENV["DTLINE"].encode()


def saved(tmp_path, opts, message=MSG, env=ENV):
    out = tmp_path / "out"
    r = run_helper(["preline"] + opts + ["sh", "-c", 'cat > "$0"', str(out)],
                   message, env)
    assert r.returncode == 0, r.stderr
    return out.read_bytes()


@pytest.mark.parametrize("opts,head", [
    ([], UF + RP + DT),
    (["-f"], RP + DT),
    (["-r"], UF + DT),
    (["-d"], UF + RP),
    (["-fr"], DT),
    (["-f", "-r", "-d"], b""),
    (["-fdr"], b""),
    (["-fF"], UF + RP + DT),
    (["-d", "-D"], UF + RP + DT),
    (["--"], UF + RP + DT),
])
def test_preline_puts_lines_on_top(tmp_path, opts, head):
    assert saved(tmp_path, opts) == head + MSG


def test_preline_leaves_command_options_alone(tmp_path):
    out = tmp_path / "out"
    r = run_helper(["preline", "-f", "sh", "-c", 'cat > "$0"; echo "$1" >> "$0"',
                    str(out), "-d"], MSG, ENV)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == RP + DT + MSG + b"-d\n"


@pytest.mark.parametrize("message", [
    b"Subject: x\n\nno final newline",
    b"Subject: nul\n\n\0\0 binary \xff\n",
    b"",
    b"Subject: long\n\n" + b"y" * (1 << 20) + b"\n",
], ids=["no-final-newline", "nul-bytes", "empty", "1mb-line"])
def test_preline_copies_message_bytes(tmp_path, message):
    assert saved(tmp_path, ["-f"], message) == RP + DT + message


def test_preline_output_is_a_readable_mbox(tmp_path):
    # The use preline exists for: a program appending to an mbox file.
    box = tmp_path / "mbox"
    for subject in (b"one", b"two"):
        msg = b"Subject: " + subject + b"\n\nhello\n\n"
        r = run_helper(["preline", "sh", "-c", 'cat >> "$0"', str(box)],
                       msg, ENV)
        assert r.returncode == 0, r.stderr
    msgs = list(mailbox.mbox(str(box)))
    assert [m["Subject"] for m in msgs] == ["one", "two"]
    assert msgs[0].get_from() == "alice@example.org " + "Thu Nov 26 08:41:00 2026"
    assert msgs[0]["Return-Path"] == "<alice@example.org>"
    assert msgs[0]["Delivered-To"] == "bob@example.com"


@pytest.mark.parametrize("code", [0, 1, 99, 100, 111, 42])
def test_preline_exits_like_command(code):
    r = run_helper(["preline", "sh", "-c", f"cat >/dev/null; exit {code}"],
                   MSG, ENV)
    assert r.returncode == code


def test_preline_command_that_stops_reading():
    # A filter may decide early (grep -q); preline must not turn that into
    # a write error, whatever the size of the message.
    big = b"Subject: match\n\n" + b"z" * (8 << 20) + b"\n"
    r = run_helper(["preline", "grep", "-q", "^Subject: match"], big, ENV)
    assert r.returncode == 0, r.stderr
    r = run_helper(["preline", "sh", "-c", "exit 99"], big, ENV)
    assert r.returncode == 99, r.stderr


def test_preline_crash_is_temporary():
    r = run_helper(["preline", "sh", "-c", "kill -9 $$"], MSG, ENV)
    assert r.returncode == 111
    assert b"crashed" in r.stderr


def test_preline_missing_command_is_permanent():
    r = run_helper(["preline", "/no/such/filter"], MSG, ENV)
    assert r.returncode == 100
    assert b"unable to run /no/such/filter" in r.stderr


@pytest.mark.parametrize("var", ["UFLINE", "RPLINE", "DTLINE"])
def test_preline_needs_environment(var):
    r = run_helper(["preline", "cat"], MSG, ENV, unset=[var])
    assert r.returncode == 100
    assert f"{var} not set".encode() in r.stderr


@pytest.mark.parametrize("args", [[], ["-f"], ["-x", "cat"], ["-fz", "cat"]])
def test_preline_usage(args):
    r = run_helper(["preline"] + args, MSG, ENV)
    assert r.returncode == 100
    assert b"usage" in r.stderr
