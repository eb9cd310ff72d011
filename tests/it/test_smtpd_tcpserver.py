"""qmail-smtpd under Debian's tcpserver with a tcprules cdb, driven by
real clients (Python's smtplib and swaks)."""
import re
import smtplib
import subprocess

import pytest

from smtpd_util import (Capture, reset_controls, smtpd_root, tcpserver,
                         write_rules)

RULES = '127.0.0.2:allow,RELAYCLIENT=""\n:allow\n'


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("tcpsrv")
    cap = Capture(base)
    rules = write_rules(base / "tcp.smtp.cdb", RULES)
    reset_controls(root, me="mail.example.org\n", rcpthosts="example.org\n",
                   databytes="100000\n")
    with tcpserver(root, rules, cap.env()) as port:
        yield port, cap


def swaks(port, *args):
    return subprocess.run(["swaks", "--server", f"127.0.0.1:{port}", "--helo", "swaks.test",
                           "--from", "sender@client.test", "--timeout", "20", *args],
                          capture_output=True, timeout=60)


def test_smtplib_sendmail(server):
    port, cap = server
    cap.clear()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("pipelining") and s.has_extn("8bitmime")
        assert s.esmtp_features["size"] == "100000"
        refused = s.sendmail("a@client.test", ["joe@example.org", "Bob@Example.Org"],
                             b"Subject: hello\r\n\r\nfirst line\r\n.leading dot\r\n")
        assert refused == {}
    [(m, sender, rcpts)] = cap.messages()
    assert sender == "a@client.test" and rcpts == ["joe@example.org", "Bob@Example.Org"]
    lines = m.split(b"\n")
    assert lines[0] == b"Received: from unknown (HELO client.test) (127.0.0.1)"
    assert re.fullmatch(rb"  by localhost with SMTP; .* -0000", lines[1])
    assert lines[2:] == [b"Subject: hello", b"", b"first line", b".leading dot", b""]


def test_smtplib_relay_refused_and_size(server):
    port, cap = server
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@client.test", ["x@foreign.test"], b"Subject: x\r\n\r\nx\r\n")
        assert e.value.recipients["x@foreign.test"] == (
            553, b"sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")
        with pytest.raises(smtplib.SMTPSenderRefused) as e:
            s.sendmail("a@client.test", ["joe@example.org"], b"x" * 100001)
        assert e.value.smtp_code == 552


def test_swaks_delivers_with_pipelining(server):
    port, cap = server
    cap.clear()
    p = swaks(port, "--to", "joe@example.org,ann@example.org", "--pipeline",
              "--header", "Subject: via swaks", "--body", "swaks body")
    assert p.returncode == 0, p.stdout.decode()
    assert b"<** " not in p.stdout
    [(m, _, rcpts)] = cap.messages()
    assert rcpts == ["joe@example.org", "ann@example.org"]
    assert b"\nSubject: via swaks\n" in m and b"\n\nswaks body\n" in m
    assert b"\r" not in m


def test_swaks_relay_refused_unless_rules_allow(server):
    port, cap = server
    cap.clear()
    p = swaks(port, "--to", "x@foreign.test")
    assert p.returncode != 0
    assert b"553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)" in p.stdout
    assert cap.messages() == []
    # The rules file gives 127.0.0.2 RELAYCLIENT="" (tcprules, as in tcp.smtp).
    p = swaks(port, "--to", "x@foreign.test", "--local-interface", "127.0.0.2")
    assert p.returncode == 0, p.stdout.decode()
    [(_, _, rcpts)] = cap.messages()
    assert rcpts == ["x@foreign.test"]


def test_swaks_smuggling_attempt_is_one_message(server):
    port, cap = server
    cap.clear()
    body = ("hi\r\n.\rMAIL FROM:<x@y.test>\r\nRCPT TO:<evil@example.org>\r\nDATA\r\n"
            "smuggled\r\n")
    p = swaks(port, "--to", "joe@example.org", "--body", body)
    assert p.returncode == 0, p.stdout.decode()
    msgs = cap.messages()
    assert [r for _, _, r in msgs] == [["joe@example.org"]]


def test_ipv6_client_on_loopback(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("tcpsrv6")
    cap = Capture(base)
    rules = write_rules(base / "tcp.smtp.cdb", ":allow\n")
    reset_controls(root, me="mail.example.org\n", rcpthosts="example.org\n")
    with tcpserver(root, rules, cap.env(), host="::1") as port:
        with smtplib.SMTP("::1", port, timeout=30) as s:
            s.ehlo("client6.test")
            assert s.sendmail("a@client.test", ["joe@example.org"], b"Subject: v6\r\n\r\nx\r\n") == {}
    [(m, _, rcpts)] = cap.messages()
    assert rcpts == ["joe@example.org"]
    assert m.startswith(b"Received: from unknown (HELO client6.test) (::1)\n  by localhost with SMTP; ")
