"""STARTTLS (RFC 3207) and implicit TLS in qmail-smtpd, with real peers:
swaks --tls, openssl s_client -starttls smtp and Python's smtplib and ssl,
against qmail-smtpd under Debian's tcpserver with a tcprules cdb. The
certificate is control/servercert.pem (certificate and key in one file),
self-signed by openssl in the test."""
import re
import smtplib
import socket
import ssl
import subprocess

import pytest

from smtpd_util import Capture, reset_controls, smtpd_root, write_rules
from tls_util import client_context, make_cert, smtpd_server

RULES = '127.0.0.2:allow,RELAYCLIENT=""\n:allow\n'
CONTROLS = {"me": "mail.example.org\n", "rcpthosts": "example.org\n"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("tls")
    reset_controls(root, **CONTROLS)
    der = make_cert(root / "control" / "servercert.pem", "one.example.org")
    cap = Capture(base)
    rules = write_rules(base / "tcp.smtp.cdb", RULES)
    log = base / "smtpd.log"
    with smtpd_server(root, rules, env=cap.env(), log=log) as port, \
            smtpd_server(root, rules, env=dict(cap.env(), SMTPS="1"), log=log) as sport:
        yield {"root": root, "port": port, "smtps": sport, "cap": cap, "der": der,
               "log": log, "base": base, "rules": rules}
    (root / "control" / "servercert.pem").unlink(missing_ok=True)


def ehlo_keywords(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        return [l.split()[0].upper() for l in text.decode().splitlines()[1:]]


def test_starttls_offered_only_with_a_certificate(setup):
    cert = setup["root"] / "control" / "servercert.pem"
    assert "STARTTLS" in ehlo_keywords(setup["port"])
    saved = cert.read_bytes()
    cert.unlink()
    try:
        # No certificate: no STARTTLS, and the command is unknown (qmail's reply).
        assert "STARTTLS" not in ehlo_keywords(setup["port"])
        with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
            s.ehlo("client.test")
            assert s.docmd("STARTTLS") == (502, b"unimplemented (#5.5.1)")
    finally:
        cert.write_bytes(saved)


def test_swaks_tls_message_records_version_and_cipher(setup):
    cap = setup["cap"]
    cap.clear()
    p = subprocess.run(["swaks", "--server", f"127.0.0.1:{setup['port']}", "--tls",
                        "--helo", "client.test", "--from", "a@client.test",
                        "--to", "joe@example.org", "--header", "Subject: over tls",
                        "--timeout", "20"], capture_output=True, timeout=60)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    assert "TLS started with cipher" in out, out
    [(msg, sender, rcpts)] = cap.messages()
    assert (sender, rcpts) == ("a@client.test", ["joe@example.org"])
    first = msg.decode().split("\n\n")[0].split("\nSubject")[0]
    assert re.match(r"Received: from unknown \(HELO client\.test\) \(127\.0\.0\.1\)\n"
                    r"  by localhost with ESMTPS \(TLSv1\.3 cipher TLS_[A-Z0-9_]+\); ", first), first
    assert b"Subject: over tls" in msg


def s_client(port, *opts, stdin=b"EHLO client.test\r\nQUIT\r\n"):
    return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                           "-servername", "localhost", "-ign_eof", *opts],
                          input=stdin, capture_output=True, timeout=30)


def test_openssl_s_client_starttls(setup):
    p = s_client(setup["port"], "-starttls", "smtp", "-brief")
    out = (p.stdout + p.stderr).decode()
    assert p.returncode == 0, out
    assert "Protocol version: TLSv1.3" in out, out
    assert "CN = one.example.org" in out or "CN=one.example.org" in out, out
    # Inside TLS the EHLO answer no longer offers STARTTLS.
    assert "250-PIPELINING" in out and "STARTTLS" not in p.stdout.decode().split("250-")[-1]
    assert "221 mail.example.org" in out


def test_tls12_accepted_tls11_and_older_refused(setup):
    p = s_client(setup["port"], "-starttls", "smtp", "-brief", "-tls1_2")
    out = (p.stdout + p.stderr).decode()
    assert p.returncode == 0 and "Protocol version: TLSv1.2" in out, out
    before = setup["log"].read_text()
    for proto in ("-tls1_1", "-tls1"):
        # The client is allowed every cipher, so only the server can refuse.
        p = s_client(setup["port"], "-starttls", "smtp", proto, "-cipher", "DEFAULT@SECLEVEL=0")
        out = (p.stdout + p.stderr).decode()
        assert p.returncode != 0, out
        assert "Protocol  : TLSv1.1" not in out and "Cipher is (NONE)" in out or \
            "alert" in out or "error" in out, out
    after = setup["log"].read_text()[len(before):]
    assert after.count("TLS handshake with 127.0.0.1 failed") == 2, after


def test_state_is_reset_after_starttls(setup):
    cap = setup["cap"]
    cap.clear()
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.ehlo("plain.test")
        assert s.mail("early@client.test")[0] == 250
        s.starttls(context=client_context())
        # MAIL from before the handshake is forgotten: RCPT needs a new one.
        assert s.docmd("RCPT TO:<joe@example.org>")[0] == 503
        # So is the HELO name: without a new EHLO the Received line has none.
        assert s.docmd("MAIL FROM:<late@client.test>")[0] == 250
        assert s.docmd("RCPT TO:<joe@example.org>")[0] == 250
        assert s.docmd("DATA")[0] == 354
        s.send(b"Subject: reset\r\n\r\nbody\r\n.\r\n")
        assert s.getreply()[0] == 250
    [(msg, sender, _)] = cap.messages()
    assert sender == "late@client.test"
    assert b"HELO plain.test" not in msg
    assert msg.startswith(b"Received: from unknown (127.0.0.1)\n  by localhost with ESMTPS (TLSv1.3")


def test_second_starttls_and_arguments_refused(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.ehlo("client.test")
        assert s.docmd("STARTTLS now")[0] == 501
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert "starttls" not in s.esmtp_features
        assert s.docmd("STARTTLS")[0] == 503


def recv_line(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            break
        data += chunk
    return data


def test_commands_pipelined_with_starttls_are_discarded(setup):
    """CVE-2011-0411: commands sent in the same packet as STARTTLS must
    not be executed inside TLS as if the client had sent them there."""
    cap = setup["cap"]
    cap.clear()
    with socket.create_connection(("127.0.0.1", setup["port"]), timeout=30) as raw:
        assert recv_line(raw).startswith(b"220 ")
        raw.sendall(b"EHLO client.test\r\n")
        while not recv_line(raw).startswith(b"250 "):
            pass
        raw.sendall(b"STARTTLS\r\nMAIL FROM:<evil@attacker.test>\r\n"
                    b"RCPT TO:<joe@example.org>\r\n")
        assert recv_line(raw) == b"220 ready for tls\r\n"
        tls = client_context().wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"NOOP\r\n")
        # The first reply inside TLS answers NOOP, not the injected MAIL.
        assert recv_line(tls) == b"250 ok\r\n"
        tls.sendall(b"RCPT TO:<joe@example.org>\r\n")
        assert recv_line(tls).startswith(b"503 MAIL first")
        tls.sendall(b"DATA\r\n")
        assert recv_line(tls).startswith(b"503 MAIL first")
        tls.sendall(b"QUIT\r\n")
        assert recv_line(tls).startswith(b"221 ")
    assert cap.messages() == []


def test_implicit_tls_port(setup):
    cap = setup["cap"]
    cap.clear()
    with smtplib.SMTP_SSL("127.0.0.1", setup["smtps"], timeout=30,
                          context=client_context()) as s:
        assert s.sock.version() == "TLSv1.3"
        s.ehlo("client.test")
        assert "starttls" not in s.esmtp_features
        assert s.sendmail("a@client.test", ["joe@example.org"], b"Subject: 465\r\n\r\nhi\r\n") == {}
    [(msg, _, _)] = cap.messages()
    assert b"with ESMTPS (TLSv1.3 cipher TLS_" in msg.split(b"\n\n")[0]
    # Plain text on the implicit TLS port gets no greeting and no session.
    with socket.create_connection(("127.0.0.1", setup["smtps"]), timeout=30) as raw:
        raw.sendall(b"EHLO client.test\r\n")
        try:
            got = raw.recv(4096)
        except ConnectionResetError:
            got = b""
        assert b"220" not in got


def peer_der(port, starttls=True):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=client_context())
        return s.sock.getpeercert(binary_form=True)


def test_replaced_certificate_applies_to_the_next_connection(setup):
    cert = setup["root"] / "control" / "servercert.pem"
    assert peer_der(setup["port"]) == setup["der"]
    saved = cert.read_bytes()
    try:
        der2 = make_cert(cert, "two.example.org")
        assert der2 != setup["der"]
        # No restart of tcpserver or anything else.
        assert peer_der(setup["port"]) == der2
        with smtplib.SMTP_SSL("127.0.0.1", setup["smtps"], timeout=30,
                              context=client_context()) as s:
            assert s.sock.getpeercert(binary_form=True) == der2
    finally:
        cert.write_bytes(saved)
    assert peer_der(setup["port"]) == setup["der"]


def test_unusable_certificate_gives_454_and_plain_text_goes_on(setup):
    cert = setup["root"] / "control" / "servercert.pem"
    saved = cert.read_bytes()
    before = setup["log"].read_text()
    cert.write_text("not a certificate\n")
    try:
        with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
            s.ehlo("client.test")
            assert s.docmd("STARTTLS") == (454, b"TLS not available due to temporary reason "
                                                b"(#4.3.0)")
            assert s.docmd("MAIL FROM:<a@client.test>")[0] == 250
    finally:
        cert.write_bytes(saved)
    assert "TLS is not available: unable to load the certificate" in \
        setup["log"].read_text()[len(before):]


def test_missing_tls_helper_gives_454_and_plain_text_goes_on(setup):
    """TLS is spoken by qmail-tls (qmail-tls(8)); without it STARTTLS is
    refused as for a broken certificate, and the session goes on."""
    helper = setup["root"] / "bin" / "qmail-tls"
    aside = helper.with_name("qmail-tls.aside")
    before = setup["log"].read_text()
    helper.rename(aside)
    try:
        with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
            s.ehlo("client.test")
            assert s.docmd("STARTTLS")[0] == 454
            assert s.docmd("MAIL FROM:<a@client.test>")[0] == 250
    finally:
        aside.rename(helper)
    assert "TLS is not available: unable to run qmail-tls" in setup["log"].read_text()[len(before):]


def test_tls_helper_run_by_hand_explains_itself(setup):
    r = subprocess.run([str(setup["root"] / "bin" / "qmail-tls"), "server", "60"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert r.returncode == 100
    assert b"qmail-tls: fatal: fd 3 is not open" in r.stderr
    r = subprocess.run([str(setup["root"] / "bin" / "qmail-tls")], capture_output=True, timeout=30)
    assert r.returncode == 100 and b"usage: qmail-tls server|client TIMEOUT" in r.stderr


def test_handshake_timeout_ends_the_session(setup):
    root = setup["root"]
    (root / "control" / "timeoutsmtpd").write_text("2\n")
    try:
        with socket.create_connection(("127.0.0.1", setup["port"]), timeout=30) as raw:
            assert recv_line(raw).startswith(b"220 ")
            raw.sendall(b"STARTTLS\r\n")
            assert recv_line(raw).startswith(b"220 ")
            # Say nothing: the server gives up after the timeout.
            raw.settimeout(20)
            assert raw.recv(100) == b""
    finally:
        (root / "control" / "timeoutsmtpd").unlink()


def test_no_tls_client_certificate_needed_and_ssl_module_agrees(setup):
    """Python's own ssl module with default client settings (TLS 1.2 minimum)
    negotiates TLS 1.3 and a strong AEAD cipher."""
    ctx = client_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.starttls(context=ctx)
        name, version, bits = s.sock.cipher()
        assert version == "TLSv1.3" and bits >= 128, (name, version, bits)
