"""IPv6 end to end on ::1: qmail-smtpd under Debian's tcpserver with an
IPv6 rules cdb (RELAYCLIENT by exact address and by prefix), [IPv6:...]
address literals of our own addresses in RCPT, the IPv6 address in the
Received line; qmail-remote to an AAAA-only name (dnsmasq) and to an
[IPv6:::1] literal, delivering to qmail-smtpd on ::1."""
import smtplib

import pytest

from remote_env import Aio, Dns, Recorder, Remote, free_port_both
from smtpd_util import Capture, reset_controls, smtpd_root, tcpserver, write_rules

MSG = b"From: a@nqmail.test\nSubject: v6\n\nbody over IPv6\n"


def controls(root):
    reset_controls(root, me="mail.example.org\n", rcpthosts="example.org\nmail.example.org\n",
                   localiphost="mail.example.org\n")


@pytest.mark.parametrize("rules,relays", [
    ('::1:allow,RELAYCLIENT=""\n:allow\n', True),           # the exact address
    (':::allow,RELAYCLIENT=""\n:allow\n', True),            # prefix "::"
    ('2001:db8::allow,RELAYCLIENT=""\n:allow\n', False),    # another prefix
    ('127.:allow,RELAYCLIENT=""\n:allow\n', False),         # IPv4 rules only
])
def test_relayclient_by_ipv6_rule(tmp_path_factory, rules, relays):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("rules6")
    cap = Capture(base)
    cdb = write_rules(base / "tcp.smtp.cdb", rules)
    controls(root)
    with tcpserver(root, cdb, cap.env(), host="::1") as port:
        with smtplib.SMTP("::1", port, timeout=30) as s:
            s.ehlo("client6.test")
            code, text = s.docmd("MAIL", "FROM:<a@client.test>")
            assert code == 250
            code, text = s.docmd("RCPT", "TO:<x@foreign.test>")
    if relays:
        assert code == 250
    else:
        assert (code, text) == (553, b"sorry, that domain isn't in my list of allowed rcpthosts"
                                     b" (#5.7.1)")


def test_ipv6_literals_and_received_line(tmp_path_factory):
    """[IPv6:::1] is one of our addresses: the recipient becomes
    box@localiphost, as qmail does for [127.0.0.1]; a literal that is
    not ours is a foreign domain. The Received line shows ::1."""
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("lit6")
    cap = Capture(base)
    cdb = write_rules(base / "tcp.smtp.cdb", ":allow\n")
    controls(root)
    with tcpserver(root, cdb, cap.env(), host="::1") as port:
        with smtplib.SMTP("::1", port, timeout=30) as s:
            s.ehlo("client6.test")
            with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
                s.sendmail("a@client.test", ["x@[IPv6:2001:db8::7]"], b"Subject: no\r\n\r\nx\r\n")
            assert e.value.recipients["x@[IPv6:2001:db8::7]"][0] == 553
            refused = s.sendmail("a@client.test",
                                 ["joe@[IPv6:::1]", "ann@[IPv6:0:0:0:0:0:0:0:1]",
                                  "bob@[127.0.0.1]"],
                                 b"Subject: literal\r\n\r\nx\r\n")
            assert refused == {}
    [(m, sender, rcpts)] = cap.messages()
    assert rcpts == ["joe@mail.example.org", "ann@mail.example.org", "bob@mail.example.org"]
    assert m.startswith(b"Received: from unknown (HELO client6.test) (::1)\n  by localhost with SMTP; ")


@pytest.fixture
def remote():
    r = Remote()
    yield r
    r.restore()


def test_qmail_remote_to_aaaa_only_name_and_literal(remote, tmp_path_factory):
    """qmail-remote finds ::1 through an AAAA record (no A, no MX) and
    through an [IPv6:::1] literal; the receiver is qmail-smtpd under
    tcpserver on ::1, which takes the literal recipient as local."""
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("remote6")
    cap = Capture(base)
    cdb = write_rules(base / "tcp.smtp.cdb", ":allow\n")
    controls(root)
    dns = Dns("--host-record=v6only.example.org,::1", "--local=/example.org/")
    try:
        with tcpserver(root, cdb, cap.env(), host="::1") as port:
            remote.use_dns(dns)
            # The AAAA name and the literal: their usual addresses, this
            # port (a literal's own colons do not end its domain).
            remote.ctl("smtproutes", f"v6only.example.org::{port}\n[IPv6:::1]::{port}\n")
            byname, _ = remote.send("v6only.example.org", "s@nqmail.test",
                                    ["joe@example.org"], MSG)
            literal, _ = remote.send("[IPv6:::1]", "s@nqmail.test", ["ann@[IPv6:::1]"],
                                     MSG.replace(b"Subject: v6\n", b"Subject: v6 literal\n"))
    finally:
        dns.stop()
    assert [r[0] for r in byname] == ["r", "K"], byname
    assert byname[1][1].startswith("::1 accepted message.\nRemote host said: 250 ok")
    assert [r[0] for r in literal] == ["r", "K"], literal
    msgs = cap.messages()
    assert [r for _, _, r in msgs] == [["joe@example.org"], ["ann@mail.example.org"]]
    for m, sender, _ in msgs:
        assert sender == "s@nqmail.test"
        assert m.startswith(b"Received: from unknown (HELO relay.nqmail.test) (::1)\n")
        assert m.endswith(b"\n\nbody over IPv6\n")


def test_qmail_remote_mx_with_aaaa_only_exchanger(remote):
    """An MX whose exchanger has only an AAAA record is reached on ::1."""
    rec = Recorder()
    srv = Aio(rec, host="::1", port=free_port_both())
    dns = Dns("--mx-host=mx6.test,ex.mx6.test,5", "--host-record=ex.mx6.test,::1")
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"mx6.test::{srv.port}\n")
        reports, _ = remote.send("mx6.test", "s@nqmail.test", ["u@mx6.test"], MSG)
    finally:
        srv.stop()
        dns.stop()
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].startswith("::1 accepted message.")
    assert [m[1] for m in rec.messages] == [["u@mx6.test"]]
