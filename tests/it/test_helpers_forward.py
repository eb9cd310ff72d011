"""forward(1) and condredirect(1): the copy that reaches the queue (read
back from a capturing QMAILQUEUE program) and the exit codes qmail-local
acts on."""
import os
import re
import subprocess

import pytest

from command_env import Queue, qmail_env, run_helper
from conftest import bin_path

MSG = b"From: alice@example.org\nSubject: hello\n\nline one\nFrom here\n"


@pytest.fixture
def queue(tmp_path):
    return Queue(tmp_path)


def env_with(queue, **kw):
    env = qmail_env(**kw)
    env.update(queue.env)
    return env


# ---------------------------------------------------------------- forward

def test_forward_queues_message_with_delivered_to_on_top(queue):
    env = env_with(queue, sender="alice@example.org",
                   newsender="bob-owner@example.com")
    r = run_helper(["forward", "carol@example.net", "dave@example.net"],
                   MSG, env)
    assert r.returncode == 0, r.stderr
    assert queue.message() == b"Delivered-To: bob@example.com\n" + MSG
    # The envelope sender is NEWSENDER, not SENDER.
    assert queue.envelope() == ("bob-owner@example.com",
                                ["carol@example.net", "dave@example.net"])
    assert re.fullmatch(rb"forward: qp \d+\n", r.stderr), r.stderr


def test_forward_keeps_empty_sender_of_bounce(queue):
    r = run_helper(["forward", "carol@example.net"], MSG,
                   env_with(queue, sender="", newsender=""))
    assert r.returncode == 0, r.stderr
    assert queue.envelope() == ("", ["carol@example.net"])


def test_forward_addresses_computed_by_shell_from_ext(queue, tmp_path):
    # The point of forward over a plain address line: the shell builds
    # the address, here from EXT as in "|forward "$EXT"@example.net".
    env = dict(os.environ)
    env.update(env_with(queue, ext="carol"))
    with open(tmp_path / "m", "wb+") as f:
        f.write(MSG)
        f.seek(0)
        r = subprocess.run(["sh", "-c", f'{bin_path("forward")} "$EXT"@example.net'],
                           stdin=f, env=env, capture_output=True)
    assert r.returncode == 0, r.stderr
    assert queue.envelope()[1] == ["carol@example.net"]


@pytest.mark.parametrize("body", [
    b"Subject: x\n\nno final newline",
    b"Subject: nul\n\nbinary \0 bytes \0\xff\xfe\n",
    b"",
], ids=["no-final-newline", "nul-bytes", "empty"])
def test_forward_passes_message_bytes_unchanged(queue, body):
    r = run_helper(["forward", "c@example.net"], body, env_with(queue))
    assert r.returncode == 0, r.stderr
    assert queue.message() == b"Delivered-To: bob@example.com\n" + body


def test_forward_large_message_intact(queue):
    body = b"Subject: big\n\n" + (b"x" * 999 + b"\n") * 8000  # 8 MB
    r = run_helper(["forward", "c@example.net"], body, env_with(queue))
    assert r.returncode == 0, r.stderr
    assert queue.message() == b"Delivered-To: bob@example.com\n" + body


@pytest.mark.parametrize("code,expect,text", [
    (31, 100, b"permanently rejected"),
    (11, 100, b"envelope address too long"),
    (71, 111, b"temporarily rejected"),
    (53, 111, b"write error or disk full"),
    (81, 111, b"internal bug"),
])
def test_forward_maps_queue_exit_codes(tmp_path, code, expect, text):
    q = Queue(tmp_path, exit_code=code)
    r = run_helper(["forward", "c@example.net"], MSG, env_with(q))
    assert r.returncode == expect
    assert r.stderr.startswith(b"forward: fatal: ")
    assert text in r.stderr


def test_forward_queue_program_missing_is_temporary(tmp_path):
    env = qmail_env(QMAILQUEUE=str(tmp_path / "no-such-queue"))
    r = run_helper(["forward", "c@example.net"], MSG, env)
    assert r.returncode == 111
    assert b"qmail-queue" in r.stderr or b"qq" in r.stderr


def test_forward_without_address_queues_for_nobody_like_qmail(queue):
    """"|forward `cat list`" with an empty list: qmail's forward queues
    the message with no recipients and succeeds; it must not bounce."""
    r = run_helper(["forward"], MSG, env_with(queue, newsender="bob-owner@example.com"))
    assert r.returncode == 0, r.stderr
    assert queue.envelope() == ("bob-owner@example.com", [])
    assert re.fullmatch(rb"forward: qp \d+\n", r.stderr), r.stderr


@pytest.mark.parametrize("var", ["NEWSENDER", "DTLINE"])
def test_forward_needs_environment(queue, var):
    r = run_helper(["forward", "c@example.net"], MSG, env_with(queue),
                   unset=[var])
    assert r.returncode == 100
    assert f"{var} not set".encode() in r.stderr
    assert not queue.called()


# ----------------------------------------------------------- condredirect

def test_condredirect_redirects_when_program_says_yes(queue):
    env = env_with(queue, sender="alice@example.org", newsender="x@y")
    r = run_helper(["condredirect", "boss@example.net",
                    "grep", "-q", "^Subject: hello"], MSG, env)
    assert r.returncode == 99, r.stderr  # delivered, skip the rest
    assert re.fullmatch(rb"condredirect: qp \d+\n", r.stderr), r.stderr
    # The program read the whole message; the copy still holds all of it.
    assert queue.message() == b"Delivered-To: bob@example.com\n" + MSG
    # As qmail's condredirect: the envelope sender is SENDER.
    assert queue.envelope() == ("alice@example.org", ["boss@example.net"])


def test_condredirect_program_sees_message_and_args(queue, tmp_path):
    seen = tmp_path / "seen"
    r = run_helper(["condredirect", "boss@example.net", "sh", "-c",
                    'cat > "$0"; echo "$1" >> "$0"', str(seen), "arg1"],
                   MSG, env_with(queue))
    assert r.returncode == 99, r.stderr
    assert seen.read_bytes() == MSG + b"arg1\n"


@pytest.mark.parametrize("code", [1, 2, 99, 100, 112])
def test_condredirect_other_exit_codes_go_on(queue, code):
    r = run_helper(["condredirect", "boss@example.net", "sh", "-c",
                    f"cat >/dev/null; exit {code}"], MSG, env_with(queue))
    assert r.returncode == 0, r.stderr
    assert not queue.called()


def test_condredirect_missing_program_goes_on(queue):
    r = run_helper(["condredirect", "boss@example.net", "/no/such/program"],
                   MSG, env_with(queue))
    assert r.returncode == 0
    assert not queue.called()


def test_condredirect_temporary_program_error(queue):
    r = run_helper(["condredirect", "boss@example.net", "sh", "-c",
                    "exit 111"], MSG, env_with(queue))
    assert r.returncode == 111
    assert b"temporary" in r.stderr
    assert not queue.called()


def test_condredirect_crashed_program_is_temporary(queue):
    r = run_helper(["condredirect", "boss@example.net", "sh", "-c",
                    "kill -9 $$"], MSG, env_with(queue))
    assert r.returncode == 111
    assert b"crashed" in r.stderr
    assert not queue.called()


@pytest.mark.parametrize("code,expect", [(31, 100), (71, 111)])
def test_condredirect_queue_failure(tmp_path, code, expect):
    q = Queue(tmp_path, exit_code=code)
    r = run_helper(["condredirect", "boss@example.net", "true"], MSG,
                   env_with(q))
    assert r.returncode == expect
    assert r.stderr.startswith(b"condredirect: fatal: ")


@pytest.mark.parametrize("args", [[], ["boss@example.net"]])
def test_condredirect_usage(queue, args):
    r = run_helper(["condredirect"] + args, MSG, env_with(queue))
    assert r.returncode == 100
    assert b"usage" in r.stderr


@pytest.mark.parametrize("var", ["SENDER", "DTLINE"])
def test_condredirect_needs_environment_to_redirect(queue, var):
    r = run_helper(["condredirect", "boss@example.net", "true"], MSG,
                   env_with(queue), unset=[var])
    assert r.returncode == 100
    assert f"{var} not set".encode() in r.stderr
    assert not queue.called()


def test_condredirect_unseekable_input_is_temporary(queue):
    r = run_helper(["condredirect", "boss@example.net", "true"], MSG,
                   env_with(queue), seekable=False)
    assert r.returncode == 111
    assert b"rewind" in r.stderr
    assert not queue.called()


def test_forward_unreadable_message_is_temporary_and_not_queued(queue, tmp_path):
    # A directory on standard input: every read fails. The queue program
    # must get no envelope, so that a real qmail-queue drops the copy.
    env = dict(os.environ)
    env.update(env_with(queue))
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        r = subprocess.run([bin_path("forward"), "c@example.net"], stdin=fd,
                           env=env, capture_output=True, timeout=60)
    finally:
        os.close(fd)
    assert r.returncode == 111
    assert b"unable to read message" in r.stderr
    assert (tmp_path / "envelope").read_bytes() == b""
