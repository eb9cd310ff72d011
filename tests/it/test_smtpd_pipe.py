"""qmail-smtpd driven on a pipe: exact replies, the Received line, DATA
transparency, and the safety rules (bare LF, smuggling, NUL, long lines,
pipelining, timeouts, limits). A capturing program stands in for
qmail-queue through QMAILQUEUE."""
import os
import re
import subprocess
import time

import pytest

from conftest import bin_path
from smtpd_util import Capture, reset_controls, replies, smtpd_pipe, smtpd_root

ME = "mail.example.org"


@pytest.fixture
def root(tmp_path_factory):
    r = smtpd_root(tmp_path_factory)
    reset_controls(r, me=ME + "\n", rcpthosts="example.org\nlocalhost\n")
    return r


@pytest.fixture
def cap(tmp_path):
    return Capture(tmp_path)


def session(root, cap, data, env=None):
    e = cap.env()
    e.update(env or {})
    out, err, code = smtpd_pipe(root, data, e)
    return replies(out), err, code


def msg_session(body=b"Subject: t\r\n\r\nhello\r\n", rcpts=(b"joe@example.org",),
                sender=b"alice@sender.test", helo=b"HELO client.test\r\n", quit=True):
    d = helo + b"MAIL FROM:<" + sender + b">\r\n"
    for r in rcpts:
        d += b"RCPT TO:<" + r + b">\r\n"
    return d + b"DATA\r\n" + body + b".\r\n" + (b"QUIT\r\n" if quit else b"")


def test_greeting_and_simple_commands(root, cap):
    r, _, code = session(root, cap, b"HELO c\r\nNOOP\r\nVRFY joe\r\nHELP\r\nRSET\r\n"
                         b"FOO bar\r\n\r\nQUIT\r\n")
    assert r[0] == f"220 {ME} ESMTP"
    assert r[1] == f"250 {ME}"
    assert r[2] == "250 ok"
    assert r[3] == "252 send some mail, i'll try my best"
    assert r[4].startswith("214 ")
    assert r[5] == "250 flushed"
    assert r[6] == "502 unimplemented (#5.5.1)"
    assert r[7] == "502 unimplemented (#5.5.1)"
    assert r[8] == f"221 {ME}"
    assert code == 0


def test_commands_ignore_case(root, cap):
    r, _, _ = session(root, cap, b"helo c\r\nnOoP\r\nmail from:<a@b.test>\r\n"
                      b"rcpt to:<x@example.org>\r\nquit\r\n")
    assert r[1:] == [f"250 {ME}", "250 ok", "250 ok", "250 ok", f"221 {ME}"]


def test_smtpgreeting_overrides_me(root, cap):
    reset_controls(root, me=ME + "\n", smtpgreeting="greet.example.net hello there\n")
    r, _, _ = session(root, cap, b"HELO x\r\nQUIT\r\n")
    assert r == ["220 greet.example.net hello there ESMTP",
                 "250 greet.example.net hello there", "221 greet.example.net hello there"]


def test_empty_smtpgreeting_falls_back_to_me(root, cap):
    reset_controls(root, me=ME + "\n", smtpgreeting="\n")
    r, _, _ = session(root, cap, b"HELO x\r\nQUIT\r\n")
    assert r == [f"220 {ME} ESMTP", f"250 {ME}", f"221 {ME}"]


def test_no_me_and_no_greeting_refuses_to_run(root, cap):
    reset_controls(root)
    r, err, code = session(root, cap, b"HELO x\r\n")
    assert r == ["421 unable to read controls (#4.3.0)"]
    assert code != 0
    assert "smtpgreeting" in err


def test_ehlo_extensions(root, cap):
    r, _, _ = session(root, cap, b"EHLO c.test\r\nQUIT\r\n")
    assert r[1:5] == [f"250-{ME}", "250-PIPELINING", "250-8BITMIME", "250 SIZE 0"]
    reset_controls(root, me=ME + "\n", databytes="12345\n")
    r, _, _ = session(root, cap, b"EHLO c.test\r\nQUIT\r\n")
    assert "250 SIZE 12345" in r


def test_message_is_queued_with_envelope_and_received(root, cap):
    r, _, _ = session(root, cap, msg_session(
        body=b"Subject: t\r\n\r\nline one\r\n..starts with dot\r\n",
        rcpts=(b"joe@example.org", b"bob@localhost")),
        env={"TCPREMOTEHOST": "client.test", "TCPLOCALHOST": "mx.example.org"})
    assert r[-3] == "354 go ahead"
    assert re.fullmatch(r"250 ok \d+ qp \d+", r[-2])
    [(msg, sender, rcpts)] = cap.messages()
    assert sender == "alice@sender.test"
    assert rcpts == ["joe@example.org", "bob@localhost"]
    first, second, rest = msg.split(b"\n", 2)
    assert re.fullmatch(rb"Received: from client\.test \(192\.0\.2\.7\)", first)
    assert re.fullmatch(rb"  by mx\.example\.org with SMTP; \d{1,2} [A-Z][a-z]{2} \d{4} "
                        rb"\d\d:\d\d:\d\d -0000", second)
    assert rest == b"Subject: t\n\nline one\n.starts with dot\n"


def test_received_shows_helo_when_it_differs_and_remoteinfo(root, cap):
    session(root, cap, msg_session(helo=b"HELO Liar.Example\r\n"),
            env={"TCPREMOTEHOST": "client.test", "TCPREMOTEINFO": "ident7"})
    session(root, cap, msg_session(helo=b"EHLO CLIENT.test\r\n"),
            env={"TCPREMOTEHOST": "client.test"})
    (m1, _, _), (m2, _, _) = cap.messages()
    assert m1.startswith(b"Received: from client.test (HELO Liar.Example) (ident7@192.0.2.7)\n"
                         b"  by 127.0.0.1 with SMTP; ")
    assert m2.startswith(b"Received: from client.test (192.0.2.7)\n")


def test_received_without_host_names(root, cap):
    session(root, cap, msg_session(helo=b""), env={"TCPLOCALIP": None, "TCPREMOTEIP": None})
    [(m, _, _)] = cap.messages()
    assert m.startswith(b"Received: from unknown (unknown)\n  by unknown with SMTP; ")


def test_received_escapes_remote_strings(root, cap):
    session(root, cap, msg_session(helo=b"HELO evil\rX-Injected: yes;<b>\r\n"),
            env={"TCPREMOTEHOST": "bad host\nX-Bad: 1", "TCPREMOTEINFO": "a b\"c"})
    [(m, _, _)] = cap.messages()
    first = m.split(b"\n")[0]
    assert first == (b"Received: from bad?host?X-Bad:?1 (HELO evil?X-Injected:?yes??b?) "
                     b"(a?b?c@192.0.2.7)")
    assert b"\nX-Bad" not in m and b"\nX-Injected" not in m


def test_localtime_control_gives_local_offset(root, cap):
    reset_controls(root, me=ME + "\n", localtime="1\n")
    session(root, cap, msg_session(), env={"TZ": "XYZ-3"})
    [(m, _, _)] = cap.messages()
    assert re.search(rb"with SMTP; .* \d\d:\d\d:\d\d \+0300\n", m)


def test_crlf_becomes_lf_and_bare_cr_is_data(root, cap):
    body = b"Subject: t\r\n\r\na\rb\r\n\r\r\n.\rx\r\n"
    r, _, _ = session(root, cap, msg_session(body=body))
    assert r[-2].startswith("250 ok")
    [(m, _, _)] = cap.messages()
    assert m.split(b"\n", 2)[2] == b"Subject: t\n\na\rb\n\r\n.\rx\n"


@pytest.mark.parametrize("bad", [b"bare\nLF\r\n", b"\n.\n", b"x\r\n.\n", b"x\n.\r\n",
                                 b".\n", b"ok\r\n..\n"])
def test_bare_lf_in_data_is_refused(root, cap, bad):
    r, _, code = session(root, cap, msg_session(body=b"Subject: t\r\n\r\n" + bad))
    assert r[-1] == "451 See http://pobox.com/~djb/docs/smtplf.html."
    assert code != 0
    assert cap.messages() == []


SMUGGLE = (b"MAIL FROM:<spoof@victim.test>\r\nRCPT TO:<smuggled@example.org>\r\n"
           b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")


@pytest.mark.parametrize("end", [b"\r\n.\r", b"\r.\r", b"\r.\r\n", b"\r\n.\n", b"\n.\r\n",
                                 b"\n.\n", b"\r\n\x00.\r\n", b"\r\n.\x00\r\n"])
def test_smtp_smuggling_cannot_inject_a_second_message(root, cap, end):
    data = (b"HELO c\r\nMAIL FROM:<alice@sender.test>\r\nRCPT TO:<joe@example.org>\r\n"
            b"DATA\r\nSubject: first\r\n\r\nhello" + end + SMUGGLE + b".\r\nQUIT\r\n")
    r, _, _ = session(root, cap, data)
    msgs = cap.messages()
    assert len(msgs) <= 1
    for m, sender, rcpts in msgs:
        # Whatever was smuggled stays inside the first message's body.
        assert sender == "alice@sender.test" and rcpts == ["joe@example.org"]
        assert m.split(b"\n")[2] == b"Subject: first"


def test_pipelined_session_replies_in_order(root, cap):
    data = (b"EHLO c\r\nMAIL FROM:<a@sender.test>\r\nRCPT TO:<x@example.org>\r\n"
            b"RCPT TO:<y@foreign.test>\r\nRCPT TO:<z@example.org>\r\nDATA\r\n"
            b"Subject: p\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<q@localhost>\r\n"
            b"DATA\r\n\r\n.\r\nQUIT\r\n")
    r, _, _ = session(root, cap, data)
    assert r[5:9] == ["250 ok", "250 ok",
                      "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
                      "250 ok"]
    assert r[9] == "354 go ahead" and r[10].startswith("250 ok ")
    assert r[11:14] == ["250 ok", "250 ok", "354 go ahead"]
    assert r[14].startswith("250 ok ") and r[15] == f"221 {ME}"
    m = cap.messages()
    assert [(s, t) for _, s, t in m] == [("a@sender.test", ["x@example.org", "z@example.org"]),
                                        ("", ["q@localhost"])]


def test_pipelined_replies_leave_in_one_write(root, cap):
    """The server flushes only when it would wait, so a pipelined batch
    gets its replies together (RFC 2920)."""
    p = subprocess.Popen([bin_path("qmail-smtpd", root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={**cap.env(), "TCPREMOTEIP": "1.2.3.4"})
    fd = p.stdout.fileno()
    assert os.read(fd, 4096).startswith(b"220 ")
    p.stdin.write(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.org>\r\nRCPT TO:<y@example.org>\r\n")
    p.stdin.flush()
    time.sleep(0.3)
    got = os.read(fd, 4096)
    assert got == b"250 ok\r\n250 ok\r\n250 ok\r\n"
    p.stdin.close()
    p.wait(timeout=10)


def test_sequence_errors(root, cap):
    r, _, _ = session(root, cap, b"DATA\r\nRCPT TO:<x@example.org>\r\nMAIL FROM:<a@b.test>\r\n"
                      b"DATA\r\nRSET\r\nRCPT TO:<x@example.org>\r\nQUIT\r\n")
    assert r[1:] == ["503 MAIL first (#5.5.1)", "503 MAIL first (#5.5.1)", "250 ok",
                     "503 RCPT first (#5.5.1)", "250 flushed", "503 MAIL first (#5.5.1)",
                     f"221 {ME}"]


def test_helo_resets_transaction(root, cap):
    r, _, _ = session(root, cap, b"MAIL FROM:<a@b.test>\r\nEHLO x\r\nRCPT TO:<x@example.org>\r\n")
    assert r[-1] == "503 MAIL first (#5.5.1)"


def test_address_forms_in_envelope(root, cap):
    data = (b"MAIL FROM:bare@sender.test\r\nRCPT TO: <@relay.test,@r2.test:joe@example.org>\r\n"
            b"RCPT TO:<\"john doe\"@example.org>\r\nRCPT TO:postmaster\r\n"
            b"RCPT TO:<a\\\"b@example.org> NOTIFY=NEVER\r\nDATA\r\n\r\n.\r\n")
    r, _, _ = session(root, cap, data)
    assert r[1:6] == ["250 ok"] * 5
    [(_, s, t)] = cap.messages()
    assert s == "bare@sender.test"
    assert t == ["joe@example.org", "john doe@example.org", "postmaster", "a\"b@example.org"]


def test_address_in_brackets_without_keyword_like_qmail(root, cap):
    """qmail-smtpd takes the first <...> when FROM:/TO: is missing."""
    data = b"MAIL <a@b.test>\r\nRCPT <joe@example.org>\r\nDATA\r\n\r\n.\r\n"
    r, _, _ = session(root, cap, data)
    assert r[1:3] == ["250 ok"] * 2
    [(_, s, t)] = cap.messages()
    assert (s, t) == ("a@b.test", ["joe@example.org"])


@pytest.mark.parametrize("line", [b"MAIL a@b.test", b"MAIL FROM:<a@b.test",
                                  b"MAIL FROM:<@route.test>", b"MAIL FROM:<a\x01b@c.test>",
                                  b"MAIL FROM:<\"a@b.test>"])
def test_bad_mail_syntax(root, cap, line):
    r, _, _ = session(root, cap, line + b"\r\nRCPT TO:<x@example.org>\r\n")
    assert r[1] == "555 syntax error (#5.5.4)"
    assert r[2] == "503 MAIL first (#5.5.1)"


def test_empty_recipient_is_taken_as_local_like_qmail(root, cap):
    """qmail-smtpd accepts RCPT TO:<>: an address without "@" is local,
    so rcpthosts allows it, and RELAYCLIENT is appended to it."""
    r, _, _ = session(root, cap, msg_session(rcpts=[b""]))
    assert r[3] == "250 ok"
    [(_, _, t)] = cap.messages()
    assert t == [""]


def test_address_length_limit(root, cap):
    long_local = b"a" * 950
    r, _, _ = session(root, cap, b"MAIL FROM:<a@b.test>\r\nRCPT TO:<" + long_local +
                      b"@example.org>\r\nRCPT TO:<" + b"b" * 800 + b"@example.org>\r\n")
    assert r[2] == "555 syntax error (#5.5.4)"  # qmail's answer from 900 bytes on
    assert r[3] == "250 ok"
    # the boundary: 899 bytes pass, 900 do not (qmail's limit counts a NUL)
    at = b"@example.org"
    r, _, _ = session(root, cap, b"MAIL FROM:<a@b.test>\r\nRCPT TO:<" + b"c" * (899 - len(at)) +
                      at + b">\r\nRCPT TO:<" + b"d" * (900 - len(at)) + at + b">\r\n")
    assert r[2:4] == ["250 ok", "555 syntax error (#5.5.4)"]


def test_long_command_line_is_refused_and_session_goes_on(root, cap):
    r, _, _ = session(root, cap, b"NOOP " + b"x" * 5000 + b"\r\nNOOP\r\nQUIT\r\n")
    assert r[1:] == ["500 line too long (#5.5.2)", "250 ok", f"221 {ME}"]


def test_endless_line_ends_the_session(root, cap):
    r, _, code = session(root, cap, b"NOOP " + b"x" * 200000 + b"\r\nNOOP\r\n")
    assert r[1:] == ["500 line too long (#5.5.2)"]
    assert code != 0


def test_nul_in_command_is_refused(root, cap):
    r, _, _ = session(root, cap, b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x\x00y@foreign.test>\r\n"
                      b"RCPT TO:<x@example.org>\r\nQUIT\r\n")
    assert r[2] == "500 NUL byte in command (#5.5.2)"
    assert r[3] == "250 ok"


def test_nul_in_data_is_kept(root, cap):
    session(root, cap, msg_session(body=b"Subject: t\r\n\r\na\x00b\r\n"))
    [(m, _, _)] = cap.messages()
    assert m.endswith(b"\n\na\x00b\n")


def test_recipient_cap(root, cap):
    data = b"MAIL FROM:<a@b.test>\r\n" + b"".join(
        b"RCPT TO:<u%d@example.org>\r\n" % i for i in range(1005)) + b"DATA\r\n\r\n.\r\n"
    r, _, _ = session(root, cap, data)
    assert r[2:1002] == ["250 ok"] * 1000
    assert r[1002] == "452 too many recipients (#4.5.3)"
    [(_, _, t)] = cap.messages()
    assert len(t) == 1000


def test_silent_client_times_out(root, cap):
    reset_controls(root, me=ME + "\n", timeoutsmtpd="1\n")
    p = subprocess.Popen([bin_path("qmail-smtpd", root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={**cap.env(), "TCPREMOTEIP": "1.2.3.4"})
    start = time.time()
    out = p.stdout.read()  # the server closes after its 451
    p.stdin.close()
    elapsed = time.time() - start
    assert out == f"220 {ME} ESMTP\r\n451 timeout (#4.4.2)\r\n".encode()
    assert 0.5 < elapsed < 10
    assert p.wait(timeout=10) != 0


def test_default_timeout_is_not_one_second(root, cap):
    p = subprocess.Popen([bin_path("qmail-smtpd", root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={**cap.env(), "TCPREMOTEIP": "1.2.3.4"})
    time.sleep(2.5)
    p.stdin.write(b"NOOP\r\nQUIT\r\n")
    p.stdin.close()
    assert p.stdout.read().endswith(b"250 ok\r\n221 " + ME.encode() + b"\r\n")
    p.wait(timeout=10)


def test_timeout_during_data(root, cap):
    reset_controls(root, me=ME + "\n", timeoutsmtpd="1\n")
    p = subprocess.Popen([bin_path("qmail-smtpd", root)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, env={**cap.env(), "TCPREMOTEIP": "1.2.3.4"})
    p.stdin.write(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<x@example.org>\r\nDATA\r\nSubject: x\r\n")
    p.stdin.flush()
    out = p.stdout.read()
    p.stdin.close()
    assert out.endswith(b"354 go ahead\r\n451 timeout (#4.4.2)\r\n")
    p.wait(timeout=10)
    assert cap.messages() == []


@pytest.mark.parametrize("source", ["control", "env"])
def test_databytes_limit(root, cap, source):
    env = {}
    if source == "control":
        reset_controls(root, me=ME + "\n", rcpthosts="example.org\n", databytes="40\n")
    else:
        env["DATABYTES"] = "40"
    ok = b"Subject: x\r\n\r\n" + b"y" * 27 + b"\r\n"        # 40 bytes stored
    big = b"Subject: x\r\n\r\n" + b"y" * 28 + b"\r\n"       # 41 bytes stored
    r, _, _ = session(root, cap, msg_session(body=ok, quit=False) +
                      msg_session(body=big, helo=b""), env)
    assert r[5].startswith("250 ok ")
    assert r[9] == "552 sorry, that message size exceeds my databytes limit (#5.3.4)"
    assert len(cap.messages()) == 1


def test_databytes_env_overrides_control(root, cap):
    reset_controls(root, me=ME + "\n", databytes="10\n")
    r, _, _ = session(root, cap, msg_session(), {"DATABYTES": "0"})
    assert r[-2].startswith("250 ok ")


def test_declared_size_over_limit_is_refused_at_mail(root, cap):
    r, _, _ = session(root, cap, b"EHLO c\r\nMAIL FROM:<a@b.test> SIZE=1000\r\n"
                      b"MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME\r\n", {"DATABYTES": "500"})
    assert r[-2] == "552 sorry, that message size exceeds my databytes limit (#5.3.4)"
    assert r[-1] == "250 ok"


def test_badmailfrom(root, cap):
    reset_controls(root, me=ME + "\n", badmailfrom="spammer@bad.test\n@evil.test\n")
    bmf = "553 sorry, your envelope sender is in my badmailfrom list (#5.7.1)"
    for sender, refused in [(b"spammer@bad.test", True), (b"SPAMMER@Bad.Test", True),
                            (b"other@bad.test", False), (b"anyone@evil.test", True),
                            (b"anyone@sub.evil.test", False)]:
        r, _, _ = session(root, cap, b"MAIL FROM:<" + sender + b">\r\nRCPT TO:<x@example.org>\r\n")
        assert r[1] == "250 ok"
        assert (r[2] == bmf) == refused, sender


def test_hop_count_limit(root, cap):
    hdr = b"Received: from x by y; now\r\n" * 60 + b"Delivered-To: a@b\r\n" * 40
    r, _, _ = session(root, cap, msg_session(body=hdr + b"\r\nbody\r\n"))
    assert r[-2] == "554 too many hops, this message is looping (#5.4.6)"
    assert cap.messages() == []
    hdr = b"Received: from x by y; now\r\n" * 60 + b"Delivered-To: a@b\r\n" * 39
    r, _, _ = session(root, cap, msg_session(body=hdr + b"\r\nReceived: in body\r\n"))
    assert r[-2].startswith("250 ok ")


def test_hop_count_takes_every_received_and_delivered_field_like_qmail(root, cap):
    """qmail counts header lines that begin "received" or "delivered" in
    any case, so white space before the colon does not dodge the check."""
    hdr = (b"Received : from x\r\n" * 40 + b"RECEIVED-SPF: pass\r\n" * 30 +
           b"delivered-by: y\r\n" * 30)
    r, _, _ = session(root, cap, msg_session(body=hdr + b"\r\nbody\r\n"))
    assert r[-2] == "554 too many hops, this message is looping (#5.4.6)"
    assert cap.messages() == []
    hdr = b"Received : from x\r\n" * 99 + b" Received: a continuation line\r\nX-Received: no\r\n"
    r, _, _ = session(root, cap, msg_session(body=hdr + b"\r\nbody\r\n"))
    assert r[-2].startswith("250 ok ")


@pytest.mark.parametrize("code,reply", [
    (31, "554 mail server permanently rejected message (#5.3.0)"),
    (71, "451 mail server temporarily rejected message (#4.3.0)"),
    (53, "451 qq write error or disk full (#4.3.0)"),
    (91, "451 qq internal bug (#4.3.0)"),     # outside 11-40: temporary
    (115, "554 envelope address too long for qq (#5.1.3)"),
    (120, "451 unable to exec qq (#4.3.0)"),
])
def test_queue_exit_codes_become_replies(root, cap, code, reply):
    cap.set_exit(code)
    r, _, _ = session(root, cap, msg_session())
    assert r[-2] == reply


def test_qmailqueue_names_the_queue_program(root, cap, tmp_path):
    other = tmp_path / "other-queue"
    other.write_text("#!/bin/sh\ncat >/dev/null\nexit 31\n")
    other.chmod(0o755)
    r, _, _ = session(root, cap, msg_session(), {"QMAILQUEUE": str(other)})
    assert r[-2] == "554 mail server permanently rejected message (#5.3.0)"
    r, _, _ = session(root, cap, msg_session())
    assert r[-2].startswith("250 ok ")
