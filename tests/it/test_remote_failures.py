"""qmail-remote's failure cases, each against a real (or scripted)
receiver: the report letters and texts qmail-send relies on to retry or
bounce, and no message accepted twice or lost."""
import socket
import time

import pytest

from conftest import bin_path, free_port, run
from remote_env import Aio, Dns, RawServer, Recorder, Remote, SmtpSink, read_line

MSG = b"Subject: failure cases\n\nbody\n"


@pytest.fixture
def remote():
    r = Remote()
    yield r
    r.restore()


def route_to(remote, port, host="127.0.0.1"):
    remote.ctl("smtproutes", f":{host}:{port}\n")


def letters(reports):
    return [r[0] for r in reports]


def test_usage_error_is_a_permanent_report():
    p = run([bin_path("qmail-remote"), "host", "sender"])
    assert p.returncode == 0
    assert p.stdout == b"DI (qmail-remote) was invoked improperly. (#5.3.5)\n\0"


def test_connection_refused_is_temporary(remote):
    port = free_port()  # nothing listens there
    route_to(remote, port)
    reports, p = remote.send("refused.test", "s@nqmail.test", ["u@refused.test"], MSG)
    assert p.returncode == 0
    assert reports == [("Z", "Sorry, I wasn't able to establish an SMTP connection. (#4.4.1)\n")]
    # a refusal is not a timeout: nothing remembered
    assert run([bin_path("qmail-tcpto")]).stdout == b""


@pytest.mark.parametrize("args,expect", [
    (["-Q", "CONNECT"], ("Z", "Connected to 127.0.0.1 but greeting failed.\nRemote host said: 421")),
    (["-f", "MAIL"], ("D", "Connected to 127.0.0.1 but sender was rejected.\nRemote host said: 5")),
    (["-r", "MAIL"], ("Z", "Connected to 127.0.0.1 but sender was rejected.\nRemote host said: 4")),
    (["-f", "DATA"], ("D", "127.0.0.1 failed on DATA command.\nRemote host said: 5")),
    (["-r", "DATA"], ("Z", "127.0.0.1 failed on DATA command.\nRemote host said: 4")),
    (["-f", "."], ("D", "127.0.0.1 failed after I sent the message.\nRemote host said: 5")),
    (["-r", "."], ("Z", "127.0.0.1 failed after I sent the message.\nRemote host said: 4")),
])
def test_smtp_sink_refusals(remote, tmp_path, args, expect):
    sink = SmtpSink(tmp_path, *args)
    try:
        route_to(remote, sink.port)
        reports, _ = remote.send("sink.test", "s@nqmail.test", ["u@sink.test"], MSG)
    finally:
        sink.stop()
    assert reports[-1][0] == expect[0], reports
    assert reports[-1][1].startswith(expect[1]), reports


@pytest.mark.parametrize("code,letter", [("550", "h"), ("450", "s")])
def test_every_recipient_refused(remote, tmp_path, code, letter):
    sink = SmtpSink(tmp_path, "-f" if code[0] == "5" else "-r", "RCPT")
    try:
        route_to(remote, sink.port)
        reports, _ = remote.send("sink.test", "s@nqmail.test", ["a@sink.test", "b@sink.test"], MSG)
    finally:
        sink.stop()
    assert letters(reports) == [letter, letter, "D"]
    assert reports[0][1].startswith("127.0.0.1 does not like recipient.\nRemote host said: " + code[0])
    assert reports[2][1] == "Giving up on 127.0.0.1.\n"
    assert sink.dumps() == []


def test_partial_recipient_acceptance(remote):
    rec = Recorder(rcpt_replies={"bad@part.test": "550 5.1.1 no such user",
                                 "later@part.test": "451 4.2.0 mailbox busy"})
    srv = Aio(rec)
    try:
        route_to(remote, srv.port)
        reports, _ = remote.send("part.test", "s@nqmail.test",
                                 ["good@part.test", "bad@part.test", "later@part.test", "fine@part.test"],
                                 MSG)
    finally:
        srv.stop()
    assert letters(reports) == ["r", "h", "s", "r", "K"]
    assert reports[1][1] == "127.0.0.1 does not like recipient.\nRemote host said: 550 5.1.1 no such user\n"
    assert reports[2][1] == "127.0.0.1 does not like recipient.\nRemote host said: 451 4.2.0 mailbox busy\n"
    assert [m[1] for m in rec.messages] == [["good@part.test", "fine@part.test"]]


@pytest.mark.parametrize("reply,letter", [("554 5.6.0 rejected", "D"), ("451 4.3.0 try later", "Z")])
def test_refusal_after_data_from_aiosmtpd(remote, reply, letter):
    rec = Recorder(data_reply=reply)
    srv = Aio(rec)
    try:
        route_to(remote, srv.port)
        reports, _ = remote.send("aio.test", "s@nqmail.test", ["u@aio.test"], MSG)
    finally:
        srv.stop()
    assert reports == [("r", ""), (letter, f"127.0.0.1 failed after I sent the message.\nRemote host said: {reply}\n")]


def test_mail_from_refused_by_aiosmtpd(remote):
    srv = Aio(Recorder(mail_reply="553 5.7.1 sender not welcome"))
    try:
        route_to(remote, srv.port)
        reports, _ = remote.send("aio.test", "s@nqmail.test", ["u@aio.test"], MSG)
    finally:
        srv.stop()
    assert reports == [("D", "Connected to 127.0.0.1 but sender was rejected.\n"
                             "Remote host said: 553 5.7.1 sender not welcome\n")]


def test_timeout_after_the_final_dot_warns_of_duplicates(remote):
    """The server takes the message and never answers the final dot:
    temporary failure, flagged as a possible duplicate."""
    rec = Recorder(data_delay=6)
    srv = Aio(rec)
    try:
        route_to(remote, srv.port)
        remote.ctl("timeoutremote", "2\n")
        t0 = time.time()
        reports, _ = remote.send("slow.test", "s@nqmail.test", ["u@slow.test"], MSG)
        took = time.time() - t0
    finally:
        srv.stop()
    assert reports == [("r", ""), ("Z", "Connected to 127.0.0.1 but connection died. "
                                        "Possible duplicate! (#4.4.2)\n")]
    assert took < 5


def test_timeout_in_the_middle_of_data(remote):
    """The server stops reading during DATA: temporary failure, and no
    duplicate warning since the final dot never went out."""
    def script(server, conn):
        conn.sendall(b"220 raw\r\n")
        read_line(conn)
        conn.sendall(b"250 raw\r\n")
        for _ in range(2):
            read_line(conn)
            conn.sendall(b"250 ok\r\n")
        read_line(conn)
        conn.sendall(b"354 go\r\n")
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        time.sleep(6)  # read nothing more

    srv = RawServer(script)
    big = b"Subject: big\n\n" + (b"x" * 70 + b"\n") * 200000  # 14 MB: fills every buffer
    try:
        route_to(remote, srv.port)
        remote.ctl("timeoutremote", "2\n")
        reports, _ = remote.send("raw.test", "s@nqmail.test", ["u@raw.test"], big)
    finally:
        srv.stop()
    assert reports == [("r", ""), ("Z", "Connected to 127.0.0.1 but connection died. (#4.4.2)\n")]


def test_connection_dropped_mid_conversation(remote, tmp_path):
    sink = SmtpSink(tmp_path, "-q", "RCPT")
    try:
        route_to(remote, sink.port)
        reports, _ = remote.send("sink.test", "s@nqmail.test", ["u@sink.test"], MSG)
    finally:
        sink.stop()
    assert reports == [("Z", "Connected to 127.0.0.1 but connection died. (#4.4.2)\n")]


def mail_params_server(size_limit):
    seen = {}

    def script(server, conn):
        conn.sendall(b"220 raw\r\n")
        read_line(conn)
        conn.sendall(b"250-raw\r\n250-8BITMIME\r\n250 SIZE %d\r\n" % size_limit)
        line = read_line(conn)
        seen.setdefault("commands", []).append(line)
        if not line.startswith(b"MAIL"):
            return
        conn.sendall(b"250 ok\r\n")
        read_line(conn)
        conn.sendall(b"250 ok\r\n")
        read_line(conn)
        conn.sendall(b"354 go\r\n")
        while read_line(conn) not in (b".\r\n", b""):
            pass
        conn.sendall(b"250 ok\r\n")
        read_line(conn)

    return seen, script


def test_size_and_8bit_are_declared(remote):
    msg = b"Subject: 8bit\n\n\xc3\xa9t\xc3\xa9\n"
    seen, script = mail_params_server(1000000)
    srv = RawServer(script)
    try:
        route_to(remote, srv.port)
        reports, _ = remote.send("raw.test", "s@nqmail.test", ["u@raw.test"], msg)
    finally:
        srv.stop()
    assert letters(reports) == ["r", "K"]
    size = len(msg.replace(b"\n", b"\r\n"))
    assert seen["commands"] == [b"MAIL FROM:<s@nqmail.test> SIZE=%d BODY=8BITMIME\r\n" % size]


def test_message_over_the_size_limit_is_not_sent(remote):
    seen, script = mail_params_server(1000)
    srv = RawServer(script)
    try:
        route_to(remote, srv.port)
        reports, _ = remote.send("raw.test", "s@nqmail.test", ["u@raw.test"], b"x" * 3000 + b"\n")
    finally:
        srv.stop()
    assert letters(reports) == ["D"]
    assert "#5.3.4" in reports[0][1]
    assert seen["commands"] == [b"QUIT\r\n"]


def test_partial_final_line_is_refused(remote, tmp_path):
    sink = SmtpSink(tmp_path)
    try:
        route_to(remote, sink.port)
        # From a file (as qmail-rspawn gives it) it is caught before connecting.
        reports, _ = remote.send("sink.test", "s@nqmail.test", ["u@sink.test"], b"no newline")
        # From a pipe it cannot look ahead: it stops before the final dot,
        # so the server keeps nothing either.
        p = run([bin_path("qmail-remote"), "sink.test", "s@nqmail.test", "u@sink.test"],
                input=b"no newline")
    finally:
        sink.stop()
    assert reports == [("D", "SMTP cannot transfer messages with partial final lines. (#5.6.2)\n")]
    assert p.stdout.endswith(b"DSMTP cannot transfer messages with partial final lines. (#5.6.2)\n\0")
    assert sink.dumps() == []


def test_no_such_domain_is_permanent(remote):
    dns = Dns("--host-record=exists.test,127.0.0.1")
    try:
        remote.use_dns(dns)
        reports, _ = remote.send("nx.test", "s@nqmail.test", ["u@nx.test"], MSG)
    finally:
        dns.stop()
    assert reports == [("D", "Sorry, I couldn't find any host named nx.test. (#5.1.2)\n")]


def test_dns_failure_is_temporary(remote):
    # dnsmasq refuses names outside .test: a server that cannot answer
    dns = Dns()
    try:
        remote.use_dns(dns)
        refused, _ = remote.send("example.org", "s@nqmail.test", ["u@example.org"], MSG)
    finally:
        dns.stop()
    # nobody answers at all
    remote.ctl("dnsservers", f"127.0.0.1:{free_port()}\n")
    silent, _ = remote.send("example.org", "s@nqmail.test", ["u@example.org"], MSG)
    for reports in (refused, silent):
        assert len(reports) == 1 and reports[0][0] == "Z", reports


def test_mx_pointing_back_to_us_is_refused(remote, tmp_path):
    """The best MX is one of our own addresses: sending there would loop."""
    dns = Dns("--mx-host=loop.test,mx.loop.test,10", "--host-record=mx.loop.test,127.0.0.1",
              "--mx-host=worse.test,mx.loop.test,10", "--mx-host=worse.test,far.worse.test,20",
              "--host-record=far.worse.test,::1")
    sink = SmtpSink(tmp_path)
    try:
        remote.use_dns(dns)
        remote.ctl("notipme", None)
        remote.ctl("smtproutes", f"loop.test::{sink.port}\nworse.test::{sink.port}\n")
        looped, _ = remote.send("loop.test", "s@nqmail.test", ["u@loop.test"], MSG)
        worse, _ = remote.send("worse.test", "s@nqmail.test", ["u@worse.test"], MSG)
    finally:
        sink.stop()
        dns.stop()
    text = ("Sorry. Although I'm listed as a best-preference MX or A for that host,\n"
            "it isn't in my control/locals file, so I don't treat it as local. (#5.4.6)\n")
    assert looped == [("D", text)]
    assert worse == [("D", text)]   # only a better MX than us could be tried
    assert sink.dumps() == []


def test_without_helohost_or_me_it_waits(remote):
    remote.ctl("helohost", None)
    remote.ctl("me", None)
    remote.ctl("smtproutes", f":127.0.0.1:{free_port()}\n")
    reports, p = remote.send("x.test", "s@nqmail.test", ["u@x.test"], MSG)
    assert p.returncode == 0
    assert reports == [("Z", "Unable to read control files. (#4.3.0)\n")]
    # control/me alone is enough
    remote.ctl("me", "me.nqmail.test\n")
    reports, _ = remote.send("x.test", "s@nqmail.test", ["u@x.test"], MSG)
    assert reports[-1][1].startswith("Sorry, I wasn't able to establish")
