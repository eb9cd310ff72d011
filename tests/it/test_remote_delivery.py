"""qmail-remote delivers to real receivers found through real DNS
(dnsmasq): MX order and fallback, A/AAAA fallback, CNAMEs, smtproutes,
and the message arrives byte for byte as SMTP requires."""
import pytest

from remote_env import Aio, Dns, RawServer, Recorder, Remote, SmtpSink, free_port_both, read_line

MSG = b"From: a@nqmail.test\nTo: x@example.test\nSubject: hello\n\nbody line\n.leading dot\n..two dots\n.\n"


@pytest.fixture
def remote():
    r = Remote()
    yield r
    r.restore()


def wire(msg):
    """What SMTP carries for msg: CR LF line ends (aiosmtpd gives back the
    content with the dots already undoubled)."""
    return msg.replace(b"\n", b"\r\n")


def test_mx_delivery_to_smtp_sink(remote, tmp_path):
    dns = Dns("--mx-host=example.test,mx1.example.test,10",
              "--host-record=mx1.example.test,127.0.0.1")
    sink = SmtpSink(tmp_path)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"example.test::{sink.port}\n")
        reports, p = remote.send("example.test", "a@nqmail.test", ["x@example.test"], MSG)
    finally:
        sink.stop()
        dns.stop()
    assert p.returncode == 0
    assert reports[0] == ("r", "")
    assert reports[1][0] == "K"
    assert reports[1][1].startswith("127.0.0.1 accepted message.\nRemote host said: 250")
    dumps = sink.dumps()
    assert len(dumps) == 1
    assert b"X-Rcpt-Args: <x@example.test>" in dumps[0] or b"x@example.test" in dumps[0]
    assert b"\nbody line\n.leading dot\n..two dots\n.\n" in dumps[0].replace(b"\r\n", b"\n")


def test_body_arrives_byte_for_byte(remote):
    """Dots, 8-bit bytes, a line far over 998 bytes, bare CRs: all arrive
    as sent."""
    body = (b"Subject: bytes\n\n.\n..\n.x\n\xe9t\xe9 \xff\x80\n" + b"L" * 5000 + b"\n"
            b"cr\rinside\n\n\nend\n")
    dns = Dns("--host-record=plain.test,127.0.0.1")
    rec = Recorder()
    srv = Aio(rec, line_limit=100000)
    strict = Aio(Recorder())  # aiosmtpd's default: lines up to 1001 bytes
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"plain.test::{srv.port}\nstrict.test:127.0.0.1:{strict.port}\n")
        reports, _ = remote.send("plain.test", "s@nqmail.test", ["u@plain.test"], body)
        refused, _ = remote.send("strict.test", "s@nqmail.test", ["u@strict.test"], body)
    finally:
        srv.stop()
        strict.stop()
        dns.stop()
    # qmail-remote sends long lines as they are; a receiver that refuses
    # them is the one that decides, and its word is final.
    assert refused[-1][0] == "D"
    assert refused[-1][1].startswith("127.0.0.1 failed after I sent the message.\nRemote host said: 500")
    assert [r[0] for r in reports] == ["r", "K"]
    (mail_from, rcpts, _, content), = rec.messages
    assert mail_from == "s@nqmail.test"
    assert rcpts == ["u@plain.test"]
    assert content == wire(body)


def test_mx_preference_fallback(remote):
    """The best MX refuses connections; the next one (AAAA only, on ::1)
    gets the message."""
    port = free_port_both()
    dns = Dns("--mx-host=pref.test,best.pref.test,10",
              "--mx-host=pref.test,second.pref.test,20",
              "--mx-host=pref.test,third.pref.test,30",
              "--host-record=best.pref.test,127.0.0.1",
              "--host-record=second.pref.test,::1",
              "--host-record=third.pref.test,127.0.0.1")
    rec = Recorder()
    srv = Aio(rec, host="::1", port=port)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"pref.test::{port}\n")
        reports, _ = remote.send("pref.test", "s@nqmail.test", ["u@pref.test"], MSG)
    finally:
        srv.stop()
        dns.stop()
    assert reports[-1][0] == "K", reports
    assert reports[-1][1].startswith("::1 accepted message.")
    assert len(rec.messages) == 1


def test_equal_preferences_are_shuffled(remote):
    """Two exchangers with the same preference both get used."""
    port = free_port_both()
    dns = Dns("--mx-host=eq.test,a.eq.test,10", "--mx-host=eq.test,b.eq.test,10",
              "--host-record=a.eq.test,127.0.0.1", "--host-record=b.eq.test,::1")
    rec4, rec6 = Recorder(), Recorder()
    s4, s6 = Aio(rec4, port=port), Aio(rec6, host="::1", port=port)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"eq.test::{port}\n")
        for _ in range(24):
            reports, _ = remote.send("eq.test", "s@nqmail.test", ["u@eq.test"], MSG)
            assert reports[-1][0] == "K"
    finally:
        s4.stop()
        s6.stop()
        dns.stop()
    assert len(rec4.messages) + len(rec6.messages) == 24
    # 2 * 2**-24 chance of a false failure
    assert rec4.messages and rec6.messages


def test_a_fallback_and_aaaa_only_host(remote):
    """No MX: the host's own address is used, IPv4 or IPv6."""
    port = free_port_both()
    dns = Dns("--host-record=v4.test,127.0.0.1", "--host-record=v6.test,::1")
    rec4, rec6 = Recorder(), Recorder()
    s4, s6 = Aio(rec4, port=port), Aio(rec6, host="::1", port=port)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"v4.test::{port}\nv6.test::{port}\n")
        r4, _ = remote.send("v4.test", "s@nqmail.test", ["u@v4.test"], MSG)
        r6, _ = remote.send("v6.test", "s@nqmail.test", ["u@v6.test"], MSG)
    finally:
        s4.stop()
        s6.stop()
        dns.stop()
    assert r4[-1][1].startswith("127.0.0.1 accepted message."), r4
    assert r6[-1][1].startswith("::1 accepted message."), r6
    assert [m[1] for m in rec4.messages] == [["u@v4.test"]]
    assert [m[1] for m in rec6.messages] == [["u@v6.test"]]


def test_cnames_are_followed(remote):
    """The host is a CNAME of a name with an MX; a recipient domain that is
    an alias is sent as its canonical name, as qmail-remote does."""
    dns = Dns("--mx-host=real.test,mx.real.test,5", "--host-record=mx.real.test,127.0.0.1",
              "--host-record=other.test,127.0.0.1",
              "--cname=alias.test,other.test")
    rec = Recorder()
    srv = Aio(rec)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", f"alias.test::{srv.port}\n")
        reports, _ = remote.send("alias.test", "s@nqmail.test",
                                 ["one@alias.test", "two@real.test"], MSG)
    finally:
        srv.stop()
        dns.stop()
    assert [r[0] for r in reports] == ["r", "r", "K"], reports
    assert rec.messages[0][1] == ["one@other.test", "two@real.test"]


def test_smtproutes(remote, tmp_path):
    """Routes override MX: exact domain, .domain wildcard, the default
    route, [ip] and IPv6 relays."""
    port = free_port_both()
    dns = Dns("--mx-host=routed.test,nowhere.routed.test,10",
              "--host-record=nowhere.routed.test,127.0.0.1",
              "--host-record=relay.test,127.0.0.1")
    rec4, rec6 = Recorder(), Recorder()
    s4, s6 = Aio(rec4, port=port), Aio(rec6, host="::1", port=port)
    try:
        remote.use_dns(dns)
        remote.ctl("smtproutes", "\n".join([
            f"routed.test:[::1]:{port}",
            f".sub.test:relay.test:{port}",
            f":127.0.0.1:{port}",
            ""]))
        exact, _ = remote.send("routed.test", "s@nqmail.test", ["a@routed.test"], MSG)
        wild, _ = remote.send("x.sub.test", "s@nqmail.test", ["b@x.sub.test"], MSG)
        default, _ = remote.send("anything.example", "s@nqmail.test", ["c@anything.example"], MSG)
    finally:
        s4.stop()
        s6.stop()
        dns.stop()
    assert exact[-1][1].startswith("::1 accepted message."), exact
    assert wild[-1][1].startswith("127.0.0.1 accepted message."), wild
    assert default[-1][1].startswith("127.0.0.1 accepted message."), default
    assert [m[1] for m in rec6.messages] == [["a@routed.test"]]
    assert [m[1] for m in rec4.messages] == [["b@x.sub.test"], ["c@anything.example"]]


def test_pipelining_when_offered(remote):
    """MAIL, RCPTs and DATA go out in one write to a server that offers
    PIPELINING; the replies are matched to recipients in order."""
    seen = {}

    def script(server, conn):
        conn.sendall(b"220 raw ESMTP\r\n")
        read_line(conn)
        conn.sendall(b"250-raw\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        import time
        time.sleep(0.5)  # let the whole batch arrive
        batch = conn.recv(65536)
        seen["batch"] = batch
        conn.sendall(b"250 ok\r\n250 ok\r\n550 no such user\r\n250 ok\r\n354 go\r\n")
        data = b""
        while not data.endswith(b"\r\n.\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        seen["data"] = data
        conn.sendall(b"250 accepted\r\n")
        read_line(conn)

    srv = RawServer(script)
    try:
        remote.ctl("smtproutes", f"pipe.test:127.0.0.1:{srv.port}\n")
        reports, _ = remote.send("pipe.test", "s@nqmail.test",
                                 ["a@pipe.test", "b c@pipe.test", "x@y@pipe.test"], MSG)
    finally:
        srv.stop()
    lines = seen["batch"].split(b"\r\n")
    # local parts that need it are quoted
    assert lines[:5] == [b"MAIL FROM:<s@nqmail.test>", b"RCPT TO:<a@pipe.test>",
                         b'RCPT TO:<"b c"@pipe.test>', b'RCPT TO:<"x@y"@pipe.test>', b"DATA"]
    assert [r[0] for r in reports] == ["r", "h", "r", "K"]
    assert reports[1][1] == "127.0.0.1 does not like recipient.\nRemote host said: 550 no such user\n"
    assert seen["data"].endswith(b"\r\n..\r\n.\r\n")


def test_secondary_mx_sends_only_to_better_exchangers(remote):
    """We are MX 20 (127.0.0.1 counts as ours here); the primary, MX 10 on
    ::1, gets the mail. With the primary down the message waits: never a
    worse or equal exchanger, never ourselves."""
    port = free_port_both()
    dns = Dns("--mx-host=backup.test,primary.backup.test,10",
              "--mx-host=backup.test,us.backup.test,20",
              "--mx-host=backup.test,worse.backup.test,30",
              "--host-record=primary.backup.test,::1",
              "--host-record=us.backup.test,127.0.0.1",
              "--host-record=worse.backup.test,127.0.0.1")
    rec4 = Recorder()
    ours = Aio(rec4, port=port)  # stands for "us": must never be used
    try:
        remote.use_dns(dns)
        remote.ctl("notipme", "::1\n")
        remote.ctl("smtproutes", f"backup.test::{port}\n")
        down, _ = remote.send("backup.test", "s@nqmail.test", ["u@backup.test"], MSG)
        rec6 = Recorder()
        primary = Aio(rec6, host="::1", port=port)
        try:
            up, _ = remote.send("backup.test", "s@nqmail.test", ["u@backup.test"], MSG)
        finally:
            primary.stop()
    finally:
        ours.stop()
        dns.stop()
    assert down == [("Z", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")]
    assert up[-1][1].startswith("::1 accepted message.")
    assert rec4.sessions == 0 and len(rec6.messages) == 1
