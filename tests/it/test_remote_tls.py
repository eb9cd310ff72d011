"""qmail-remote's STARTTLS client against a real Postfix configured here
with TLS (a self-signed certificate on one port, one signed by a test CA
on another), Postfix relaying what it receives to an aiosmtpd recorder so
that the test reads the delivered message and Postfix's Received line
("using TLSv1.3 with cipher ..."). control/tlsdestinations policies:
opportunistic, encrypt, ca (test CA file, host name check), pin (SHA-256
of certificate or public key), and refusals that leave the message for
later without a plaintext send."""
import base64
import hashlib
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import free_port
from remote_env import Aio, Dns, RawServer, Recorder, Remote, SmtpSink, read_line, wait_listening

MSG = b"From: a@nqmail.test\nTo: u@tls.test\nSubject: over tls\n\nsecret body\n"

MASTER_CF = """\
127.0.0.1:{self_port} inet n - n - - smtpd
  -o smtpd_tls_chain_files={dir}/self.pem
127.0.0.1:{ca_port} inet n - n - - smtpd
  -o smtpd_tls_chain_files={dir}/server.pem
127.0.0.1:{broken_port} inet n - n - - smtpd
  -o smtpd_tls_chain_files={dir}/self.pem
  -o smtpd_tls_mandatory_protocols=TLSv1.1
  -o smtpd_tls_protocols=TLSv1.1
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
tlsmgr    unix  - - n 1000? 1 tlsmgr
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = /dev/stdout
mail_owner = postfix
setgid_group = postdrop
myhostname = receiver.postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:{relay_port}
smtp_dns_support_level = disabled
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtp_tls_security_level = none
"""


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def make_certs(d):
    """A test CA, a server certificate it signs (mx.tls.test), and a
    self-signed certificate (self.tls.test); key and chain in one PEM
    each, as Postfix's smtpd_tls_chain_files takes them."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=nqmail test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mx.tls.test",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=DNS:mx.tls.test\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt", cwd=d)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=self.tls.test", "-addext", "subjectAltName=DNS:self.tls.test",
            "-keyout", "self.key", "-out", "self.crt", cwd=d)
    (d / "server.pem").write_bytes((d / "server.key").read_bytes() +
                                   (d / "server.crt").read_bytes())
    (d / "self.pem").write_bytes((d / "self.key").read_bytes() + (d / "self.crt").read_bytes())
    for f in ("server.pem", "self.pem"):
        os.chmod(d / f, 0o600)


def fingerprints(crt):
    """SHA-256 of the certificate's DER and of its public key's DER."""
    pem = crt.read_text()
    der = base64.b64decode("".join(l for l in pem.splitlines() if "-----" not in l))
    key = subprocess.run(["openssl", "x509", "-in", str(crt), "-noout", "-pubkey"],
                         check=True, capture_output=True).stdout
    kder = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=key,
                          check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest(), hashlib.sha256(kder).hexdigest()


class Postfix:
    """Postfix on three loopback ports: self-signed, CA-signed, and one
    that only speaks TLS 1.1 (so our TLS 1.2+ handshake fails). It relays
    everything to relay_port."""

    def __init__(self, certs, relay_port):
        # Postfix's daemons run as postfix: their directory cannot be
        # under pytest's private (0700) temporary directory.
        d = self.dir = pathlib.Path(tempfile.mkdtemp(prefix="nq-postfix-"))
        d.chmod(0o755)
        for f in ("self.pem", "server.pem"):
            shutil.copy(certs / f, d / f)
        for sub in ("queue", "data"):
            (d / sub).mkdir(parents=True)
        shutil.chown(d / "data", "postfix")
        self.self_port, self.ca_port, self.broken_port = free_port(), free_port(), free_port()
        while len({self.self_port, self.ca_port, self.broken_port}) < 3:
            self.ca_port, self.broken_port = free_port(), free_port()
        (d / "main.cf").write_text(MAIN_CF.format(dir=d, relay_port=relay_port))
        (d / "master.cf").write_text(MASTER_CF.format(
            dir=d, self_port=self.self_port, ca_port=self.ca_port,
            broken_port=self.broken_port))
        self.log = open(d / "maillog", "wb")
        self.master = subprocess.Popen(["postfix", "-c", str(d), "start-fg"],
                                       stdout=self.log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            for port in (self.self_port, self.ca_port, self.broken_port):
                wait_listening("127.0.0.1", port, limit=120)
        except RuntimeError:
            log = self.maillog()
            self.stop()
            raise RuntimeError("Postfix did not start:\n" + log[-3000:])

    def maillog(self):
        return (self.dir / "maillog").read_text(errors="replace")

    def stop(self):
        subprocess.run(["postfix", "-c", str(self.dir), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.master.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.master.pid, signal.SIGKILL)
            self.master.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def peers(tmp_path_factory):
    d = tmp_path_factory.mktemp("tlspeers")
    make_certs(d)
    rec = Recorder()
    aio = Aio(rec)
    pf = Postfix(d, aio.port)
    dns = Dns("--mx-host=tls.test,mx.tls.test,10", "--host-record=mx.tls.test,127.0.0.1",
              "--mx-host=other.test,mx.other.test,10", "--host-record=mx.other.test,127.0.0.1")
    try:
        yield {"dir": d, "rec": rec, "postfix": pf, "dns": dns}
    finally:
        dns.stop()
        pf.stop()
        aio.stop()


@pytest.fixture
def remote(peers):
    r = Remote()
    r.use_dns(peers["dns"])
    yield r
    r.restore()


def relayed(peers, subject, limit=30):
    """The message Postfix relayed to the recorder, found by subject."""
    deadline = time.time() + limit
    while time.time() < deadline:
        for m in peers["rec"].messages:
            if b"\r\nSubject: " + subject.encode() + b"\r\n" in m[3]:
                return m
        time.sleep(0.1)
    raise AssertionError(f"no relayed message {subject!r}; Postfix log:\n" +
                         peers["postfix"].maillog()[-3000:])


def never_relayed(peers, subject):
    """No message with this subject reached Postfix (and so the recorder):
    checked after Postfix had time to relay one."""
    time.sleep(1.5)
    assert not [m for m in peers["rec"].messages
                if b"\r\nSubject: " + subject.encode() + b"\r\n" in m[3]]


def message(subject):
    return MSG.replace(b"Subject: over tls", b"Subject: " + subject.encode())


def send(remote, peers, port, subject, policy=None, domain="tls.test"):
    remote.ctl("smtproutes", f"{domain}::{port}\n")
    remote.ctl("tlsdestinations", policy)
    return remote.send(domain, "a@nqmail.test", [f"u@{domain}"], message(subject))


def test_opportunistic_tls_to_postfix(remote, peers):
    """No policy: STARTTLS because Postfix offers it; Postfix's Received
    line says TLS 1.3 was used; the report says so too."""
    reports, p = send(remote, peers, peers["postfix"].self_port, "opportunistic")
    assert p.returncode == 0
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].startswith("127.0.0.1 accepted message.\nRemote host said: 250 2.0.0 Ok")
    assert re.search(r"\nTLS: TLSv1\.3 with cipher [A-Z0-9_]+\n$", reports[1][1]), reports
    _, rcpts, _, content = relayed(peers, "opportunistic")
    assert rcpts == ["u@tls.test"]
    head = content.split(b"\r\n\r\n", 1)[0].decode()
    assert "by receiver.postfix.test (Postfix) with ESMTPS" in head
    assert "(using TLSv1.3 with cipher" in head
    assert content.endswith(b"\r\n\r\nsecret body\r\n")


def test_encrypt_policy_with_self_signed_certificate(remote, peers):
    reports, _ = send(remote, peers, peers["postfix"].self_port, "encrypt",
                      "tls.test:encrypt\n")
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert "(using TLSv1.3 with cipher" in relayed(peers, "encrypt")[3].decode()


def test_ca_policy_with_test_ca_and_mx_name(remote, peers):
    """The CA-signed certificate names mx.tls.test, the MX host: verified."""
    ca = peers["dir"] / "ca.pem"
    reports, _ = send(remote, peers, peers["postfix"].ca_port, "ca-ok", f"tls.test:ca:{ca}\n")
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].endswith(", certificate verified\n")
    assert "(using TLSv1.3 with cipher" in relayed(peers, "ca-ok")[3].decode()


def test_ca_policy_refusals(remote, peers):
    """Self-signed certificate, the system's CA store (which does not know
    the test CA), and a certificate for another name: each a temporary
    failure, nothing delivered."""
    ca = peers["dir"] / "ca.pem"
    selfsigned, _ = send(remote, peers, peers["postfix"].self_port, "ca-self",
                         f"tls.test:ca:{ca}\n")
    system, _ = send(remote, peers, peers["postfix"].ca_port, "ca-system", "tls.test:ca\n")
    # other.test's MX is mx.other.test: the certificate names mx.tls.test.
    wrongname, _ = send(remote, peers, peers["postfix"].ca_port, "ca-name",
                        f"other.test:ca:{ca}\n", domain="other.test")
    for reports in (selfsigned, system, wrongname):
        assert len(reports) == 1 and reports[0][0] == "Z", reports
        assert reports[0][1].startswith("Connected to 127.0.0.1 but its certificate was refused: "
                                        "certificate verification failed: ")
        assert "control/tlsdestinations requires TLS for this destination. (#4.7.5)" in reports[0][1]
    assert "self-signed certificate" in selfsigned[0][1]
    assert "unable to get local issuer certificate" in system[0][1]
    assert "hostname mismatch" in wrongname[0][1]
    for subject in ("ca-self", "ca-system", "ca-name"):
        never_relayed(peers, subject)


def test_ca_policy_uses_the_default_store(remote, peers, monkeypatch):
    """"ca" without a file means OpenSSL's default store, which
    SSL_CERT_FILE can point elsewhere: here at the test CA."""
    monkeypatch.setenv("SSL_CERT_FILE", str(peers["dir"] / "ca.pem"))
    reports, _ = send(remote, peers, peers["postfix"].ca_port, "ca-store", "tls.test:ca\n")
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].endswith(", certificate verified\n")
    relayed(peers, "ca-store")


def test_unusable_client_certificate_is_temporary(remote, peers):
    """A control/clientcert.pem that cannot be loaded is our own fault:
    the message waits rather than going out some other way."""
    remote.ctl("clientcert.pem", "not a certificate\n")
    reports, _ = send(remote, peers, peers["postfix"].self_port, "badclientcert")
    assert len(reports) == 1 and reports[0][0] == "Z", reports
    assert reports[0][1].startswith("Unable to load control/clientcert.pem: ")
    assert reports[0][1].endswith(". (#4.3.0)\n")
    never_relayed(peers, "badclientcert")


def test_pinned_fingerprints(remote, peers):
    """A pin of the certificate or of its public key is accepted (with or
    without colons); any other pin is refused."""
    cert, key = fingerprints(peers["dir"] / "self.crt")
    colons = ":".join(cert[i:i + 2] for i in range(0, 64, 2)).upper()
    port = peers["postfix"].self_port
    r1, _ = send(remote, peers, port, "pin-cert", f"tls.test:pin:{colons}\n")
    r2, _ = send(remote, peers, port, "pin-key", f"tls.test:pin:{'0' * 64},{key}\n")
    wrong = "ab" * 32
    r3, _ = send(remote, peers, port, "pin-wrong", f".test:pin:{wrong}\n")
    assert [r[0] for r in r1] == ["r", "K"], r1
    assert r1[1][1].endswith(", certificate pinned\n")
    assert [r[0] for r in r2] == ["r", "K"], r2
    relayed(peers, "pin-cert")
    relayed(peers, "pin-key")
    assert r3[0][0] == "Z" and len(r3) == 1, r3
    assert r3[0][1].startswith("Connected to 127.0.0.1 but its certificate was refused: "
                               "certificate fingerprint " + colons + " matches no pin;")
    never_relayed(peers, "pin-wrong")


def test_required_tls_without_starttls_is_never_sent_in_plaintext(remote, peers, tmp_path):
    """smtp-sink offers no STARTTLS: with a required policy the message
    waits (Z) and the sink sees no MAIL; without one it goes in plaintext."""
    sink = SmtpSink(tmp_path)  # smtp-sink speaks no TLS
    try:
        required, _ = send(remote, peers, sink.port, "no-tls", "tls.test:encrypt\n")
        dumps_required = sink.dumps()
        plain, _ = send(remote, peers, sink.port, "plain", None)
    finally:
        sink.stop()
    assert required == [("Z", "Connected to 127.0.0.1 but it does not offer STARTTLS; "
                         "control/tlsdestinations requires TLS for this destination. "
                         "(#4.7.4)\n")]
    assert dumps_required == []
    assert [r[0] for r in plain] == ["r", "K"]
    assert "TLS:" not in plain[1][1]


def test_required_tls_with_helo_only_server(remote):
    """A server that refuses EHLO has no STARTTLS either."""
    log = []

    def script(server, conn):
        conn.sendall(b"220 old ESMTP\r\n")
        while True:
            line = read_line(conn)
            if not line:
                return
            log.append(line)
            if line.startswith(b"EHLO"):
                conn.sendall(b"502 what?\r\n")
            elif line.startswith(b"QUIT"):
                conn.sendall(b"221 bye\r\n")
                return
            else:
                conn.sendall(b"250 ok\r\n")

    srv = RawServer(script)
    try:
        remote.ctl("smtproutes", f"old.test:127.0.0.1:{srv.port}\n")
        remote.ctl("tlsdestinations", "old.test:ca\n")
        reports, _ = remote.send("old.test", "a@nqmail.test", ["u@old.test"], MSG)
    finally:
        srv.stop()
    assert reports[0][0] == "Z" and "does not speak ESMTP (no STARTTLS)" in reports[0][1]
    assert not any(l.startswith((b"MAIL", b"HELO")) for l in log), log


def test_failed_handshake(remote, peers):
    """The receiver offers STARTTLS but speaks only TLS 1.1: opportunistic
    delivery falls back to plaintext on a new connection; a required
    policy makes the message wait."""
    port = peers["postfix"].broken_port
    plain, _ = send(remote, peers, port, "fallback")
    required, _ = send(remote, peers, port, "broken-required", "tls.test:encrypt\n")
    assert [r[0] for r in plain] == ["r", "K"], plain
    assert "TLS:" not in plain[1][1]
    head = relayed(peers, "fallback")[3].split(b"\r\n\r\n", 1)[0].decode()
    assert "with ESMTP id" in head and "using TLS" not in head
    assert required[0][0] == "Z" and len(required) == 1, required
    assert required[0][1].startswith("Connected to 127.0.0.1 but the TLS handshake failed: ")
    never_relayed(peers, "broken-required")


def test_next_mx_when_the_first_fails_the_policy(remote, peers, tmp_path):
    """Two exchangers: the better one offers no TLS, the second does; a
    required policy skips the first and delivers through the second."""
    sink = SmtpSink(tmp_path)
    dns = Dns("--mx-host=two.test,a.two.test,10", "--mx-host=two.test,b.two.test,20",
              "--host-record=a.two.test,127.0.0.1", "--host-record=b.two.test,127.0.0.2")
    try:
        remote.use_dns(dns)
        # Both exchangers on one port number: 127.0.0.1 is smtp-sink,
        # 127.0.0.2 is Postfix's self-signed port forwarded by a relay.
        fwd = RawForward(("127.0.0.2", sink.port), ("127.0.0.1", peers["postfix"].self_port))
        try:
            remote.ctl("smtproutes", f"two.test::{sink.port}\n")
            remote.ctl("tlsdestinations", "two.test:encrypt\n")
            reports, _ = remote.send("two.test", "a@nqmail.test", ["u@two.test"],
                                     message("second-mx"))
        finally:
            fwd.stop()
    finally:
        dns.stop()
        sink.stop()
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].startswith("127.0.0.2 accepted message.")
    assert sink.dumps() == []
    relayed(peers, "second-mx")


class RawForward:
    """A TCP forwarder: listen address to target address, for giving a
    receiver a second loopback address."""

    def __init__(self, listen, target):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(listen)
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.target = target
        self.stopping = False
        self.threads = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                try:
                    s.shutdown(2)
                except OSError:
                    pass

    def _serve(self):
        import socket
        import threading
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            c.settimeout(None)
            t = socket.create_connection(self.target, timeout=10)
            t.settimeout(None)
            for a, b in ((c, t), (t, c)):
                th = threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                th.start()
                self.threads.append(th)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()
        for th in self.threads:
            th.join(timeout=5)


def test_bad_policy_line_is_temporary(remote, peers):
    reports, _ = send(remote, peers, peers["postfix"].self_port, "badline",
                      "tls.test:pin:nothex\n")
    assert reports == [("Z", "Bad line in control/tlsdestinations. (#4.3.0)\n")]


def test_client_certificate_is_presented(remote, tmp_path):
    """control/clientcert.pem goes to a server that asks for a client
    certificate (a Python TLS server here, which records what it got)."""
    import ssl
    d = tmp_path
    make_certs(d)
    got = {}

    def script(server, conn):
        conn.sendall(b"220 tls ESMTP\r\n")
        read_line(conn)
        conn.sendall(b"250-tls\r\n250 STARTTLS\r\n")
        read_line(conn)
        conn.sendall(b"220 go ahead\r\n")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(d / "self.pem"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(str(d / "ca.pem"))
        t = ctx.wrap_socket(conn, server_side=True)
        got["cert"] = t.getpeercert()
        got["version"] = t.version()
        t.sendall(b"221 enough\r\n")
        t.close()

    srv = RawServer(script)
    try:
        remote.ctl("smtproutes", f"cc.test:127.0.0.1:{srv.port}\n")
        # The client certificate: the CA-signed one (its issuer is the
        # CA the server trusts).
        remote.ctl("clientcert.pem", (d / "server.pem").read_text())
        reports, _ = remote.send("cc.test", "a@nqmail.test", ["u@cc.test"], MSG)
    finally:
        srv.stop()
    assert got.get("version") in ("TLSv1.2", "TLSv1.3"), reports
    subject = dict(x[0] for x in got["cert"]["subject"])
    assert subject["commonName"] == "mx.tls.test"


def test_plaintext_after_starttls_reply_is_discarded(remote, tmp_path):
    """A server (or a man in the middle) that sends more plaintext right
    behind its 220 to STARTTLS: those bytes are not taken as replies
    inside TLS (the client side of the CVE-2011-0411 class)."""
    import ssl
    make_certs(tmp_path)
    seen = []

    def script(server, conn):
        conn.sendall(b"220 tls ESMTP\r\n")
        seen.append(read_line(conn))
        conn.sendall(b"250-tls\r\n250 STARTTLS\r\n")
        seen.append(read_line(conn))
        # One write: the reply and the injected lines arrive together.
        conn.sendall(b"220 go ahead\r\n250-injected\r\n250 PIPELINING\r\n")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(tmp_path / "self.pem"))
        t = ctx.wrap_socket(conn, server_side=True)
        replies = {b"EHLO": b"250 inside\r\n", b"MAIL": b"250 ok\r\n", b"RCPT": b"250 ok\r\n",
                   b"DATA": b"354 go\r\n", b"QUIT": b"221 bye\r\n"}
        in_data = False
        while True:
            line = read_line(t)
            if not line:
                return
            seen.append(line)
            if in_data:
                if line == b".\r\n":
                    in_data = False
                    t.sendall(b"250 accepted inside\r\n")
                continue
            verb = line[:4].upper()
            in_data = verb == b"DATA"
            t.sendall(replies.get(verb, b"500 what\r\n"))
            if verb == b"QUIT":
                return

    srv = RawServer(script)
    try:
        remote.ctl("smtproutes", f"inj.test:127.0.0.1:{srv.port}\n")
        reports, _ = remote.send("inj.test", "a@nqmail.test", ["u@inj.test"], MSG)
    finally:
        srv.stop()
    assert [r[0] for r in reports] == ["r", "K"], reports
    assert reports[1][1].startswith("127.0.0.1 accepted message.\nRemote host said: "
                                    "250 accepted inside\n")
    # Inside TLS the client waited for each reply: no PIPELINING was
    # believed from the injected lines, so MAIL went alone.
    assert seen[2] == b"EHLO relay.nqmail.test\r\n"
    assert seen[3].startswith(b"MAIL FROM:<a@nqmail.test>")
