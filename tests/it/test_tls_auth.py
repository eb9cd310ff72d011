"""AUTH PLAIN and LOGIN (RFC 4954) in qmail-smtpd, only inside TLS, with
passwords checked by qmail-checkpw through the checkpassword interface:
swaks --auth and Python's smtplib against qmail-smtpd under tcpserver
(`qmail-smtpd qmail-checkpw`), a message submitted with AUTH delivered
end to end by the queue and read back from the Maildir, and
qmail-checkpw on its own."""
import base64
import re
import smtplib
import subprocess
import time

import pytest

import queuelib
from conftest import bin_path
from smtpd_util import Capture, reset_controls, smtpd_root, write_rules
from tls_util import client_context, crypt_hash, make_cert, smtpd_server

RULES = ":allow\n"
USERS = {"alice": ("wonderland", "$y$"), "bob": ("b0b's secret: x", "$6$")}


def write_passwords(root, users=USERS, mode=0o600):
    path = root / "control" / "smtppasswd"
    lines = "# user:hash\n" + "".join(f"{u}:{crypt_hash(p, m)}\n" for u, (p, m) in users.items())
    path.write_text(lines)
    path.chmod(mode)
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("auth")
    reset_controls(root, me="mail.example.org\n", rcpthosts="example.org\n")
    make_cert(root / "control" / "servercert.pem")
    write_passwords(root)
    cap = Capture(base)
    rules = write_rules(base / "tcp.smtp.cdb", RULES)
    log = base / "smtpd.log"
    checker = [bin_path("qmail-checkpw", root)]
    with smtpd_server(root, rules, checker, env=cap.env(), log=log) as port, \
            smtpd_server(root, rules, checker, env=dict(cap.env(), SMTPS="1"), log=log) as sport, \
            smtpd_server(root, rules, checker, env=dict(cap.env(), REQUIRE_AUTH="1"),
                         log=log) as rport, \
            smtpd_server(root, rules, (), env=cap.env(), log=log) as nport:
        yield {"root": root, "port": port, "smtps": sport, "required": rport,
               "nochecker": nport, "cap": cap, "log": log}
    for f in ("servercert.pem", "smtppasswd"):
        (root / "control" / f).unlink(missing_ok=True)


def swaks(port, *args, tls=True):
    cmd = ["swaks", "--server", f"127.0.0.1:{port}", "--from", "me@client.test",
           "--helo", "client.test", "--timeout", "20", *args]
    if tls:
        cmd.insert(1, "--tls")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    return p.returncode, p.stdout.decode(errors="replace")


def test_auth_not_offered_or_accepted_before_starttls(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.ehlo("client.test")
        assert "auth" not in s.esmtp_features
        assert "starttls" in s.esmtp_features
        plain = base64.b64encode(b"\0alice\0wonderland").decode()
        assert s.docmd("AUTH PLAIN " + plain) == (530, b"must issue STARTTLS first (#5.7.0)")
        assert s.docmd("AUTH LOGIN")[0] == 530
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert s.esmtp_features["auth"].split() == ["LOGIN", "PLAIN"]


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth_relays_and_names_the_user(setup, mech):
    cap = setup["cap"]
    cap.clear()
    code, out = swaks(setup["port"], "--auth", mech, "--auth-user", "alice",
                      "--auth-password", "wonderland", "--to", "friend@elsewhere.test")
    assert code == 0, out
    assert "235 ok, go ahead (#2.0.0)" in out
    [(msg, sender, rcpts)] = cap.messages()
    assert rcpts == ["friend@elsewhere.test"]
    head = msg.decode().split("\n\n")[0]
    assert re.match(r"Received: from unknown \(HELO client\.test\) \(alice@127\.0\.0\.1\)\n"
                    r"  by localhost with ESMTPSA \(TLSv1\.3 cipher TLS_\w+\); ", head), head
    assert f"AUTH accepted: user alice from 127.0.0.1" in setup["log"].read_text()


def test_sha512_hash_and_swaks_refused_without_tls(setup):
    code, out = swaks(setup["port"], "--auth", "PLAIN", "--auth-user", "bob",
                      "--auth-password", "b0b's secret: x", "--to", "x@elsewhere.test")
    assert code == 0, out
    # Without --tls swaks sees no AUTH offered and gives up before MAIL.
    code, out = swaks(setup["port"], "--auth", "PLAIN", "--auth-user", "bob",
                      "--auth-password", "b0b's secret: x", "--to", "x@elsewhere.test", tls=False)
    assert code != 0
    assert "Host did not advertise authentication" in out, out


def test_wrong_password_refused_delayed_and_logged(setup):
    before = setup["log"].read_text()
    for user, pw in [("alice", "WONDERLAND"), ("nosuchuser", "wonderland"), ("bob", "")]:
        t0 = time.time()
        code, out = swaks(setup["port"], "--auth", "PLAIN", "--auth-user", user,
                          "--auth-password", pw, "--to", "x@elsewhere.test")
        assert code != 0
        assert "535 authentication failed (#5.7.8)" in out, out
        assert time.time() - t0 >= 1.9
    log = setup["log"].read_text()[len(before):]
    assert "AUTH refused: user alice from 127.0.0.1" in log
    assert "AUTH refused: user nosuchuser from 127.0.0.1" in log
    assert "wonderland" not in log and "WONDERLAND" not in log


def test_unauthenticated_tls_client_cannot_relay(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert s.mail("me@client.test")[0] == 250
        assert s.rcpt("friend@elsewhere.test") == (
            553, b"sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")
        assert s.rcpt("joe@example.org")[0] == 250
        # A failed AUTH does not open the relay either.
        s.rset()
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice", "wrong")
        s.mail("me@client.test")
        assert s.rcpt("friend@elsewhere.test")[0] == 553


def test_third_failure_ends_the_session(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        plain = base64.b64encode(b"\0alice\0nope").decode()
        assert s.docmd("AUTH PLAIN " + plain)[0] == 535
        assert s.docmd("AUTH PLAIN " + plain)[0] == 535
        assert s.docmd("AUTH PLAIN " + plain) == (
            421, b"too many authentication failures (#4.7.0)")


def test_exchange_details(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert s.docmd("AUTH CRAM-MD5")[0] == 504
        assert s.docmd("AUTH PLAIN not-base64!")[0] == 501
        # A cancelled exchange: 334, then "*".
        assert s.docmd("AUTH LOGIN") == (334, b"VXNlcm5hbWU6")
        assert s.docmd("*")[0] == 501
        # PLAIN without an initial response, then an authzid for someone else.
        assert s.docmd("AUTH PLAIN") == (334, b"")
        assert s.docmd(base64.b64encode(b"bob\0alice\0wonderland").decode())[0] == 501
        # LOGIN with the user name as initial response.
        assert s.docmd("AUTH LOGIN " + base64.b64encode(b"alice").decode()) == (
            334, b"UGFzc3dvcmQ6")
        assert s.docmd(base64.b64encode(b"wonderland").decode())[0] == 235
        assert s.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0wonderland").decode())[0] == 503
        s.ehlo("client.test")
        assert "auth" not in s.esmtp_features


def test_no_auth_during_a_transaction(setup):
    with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        s.mail("me@client.test")
        assert s.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0wonderland").decode())[0] == 503


def test_implicit_tls_port_offers_auth(setup):
    with smtplib.SMTP_SSL("127.0.0.1", setup["smtps"], timeout=30,
                          context=client_context()) as s:
        s.ehlo("client.test")
        assert "auth" in s.esmtp_features
        s.login("bob", "b0b's secret: x")
        assert s.sendmail("me@client.test", ["far@elsewhere.test"], b"Subject: 465\r\n\r\nx\r\n") == {}


def test_require_auth_refuses_mail_before_auth(setup):
    with smtplib.SMTP("127.0.0.1", setup["required"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert s.mail("me@client.test") == (530, b"authentication required (#5.7.0)")
        s.login("alice", "wonderland")
        assert s.mail("me@client.test")[0] == 250
        assert s.rcpt("far@elsewhere.test")[0] == 250


def test_without_a_checker_no_auth_even_inside_tls(setup):
    with smtplib.SMTP("127.0.0.1", setup["nochecker"], timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert "auth" not in s.esmtp_features
        assert s.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0wonderland").decode()) == (
            502, b"unimplemented (#5.5.1)")


# ---- qmail-checkpw on its own: the checkpassword interface (fd 3)

def checkpw(root, user, password, *prog):
    """Runs qmail-checkpw PROG with user\0password\0timestamp\0 on fd 3."""
    data = user.encode() + b"\0" + password.encode() + b"\0<1.2@x>\0"
    p = subprocess.run(["sh", "-c", 'exec "$@" 3<&0 </dev/null', "sh",
                        bin_path("qmail-checkpw", root), *prog],
                       input=data, capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr.decode()


def test_checkpw_exit_codes_and_program(setup, tmp_path):
    root = setup["root"]
    assert checkpw(root, "alice", "wonderland")[0] == 0
    assert checkpw(root, "bob", "b0b's secret: x")[0] == 0
    assert checkpw(root, "alice", "wonderlan")[0] == 1
    assert checkpw(root, "alic", "wonderland")[0] == 1
    assert checkpw(root, "alice:x", "wonderland")[0] == 1
    # On success it runs its arguments, as checkpassword does (no shell).
    code, out, _ = checkpw(root, "alice", "wonderland", "echo", "ran", "$HOME;")
    assert (code, out) == (0, b"ran $HOME;\n")
    code, out, _ = checkpw(root, "alice", "bad", "echo", "ran")
    assert (code, out) == (1, b"")


def test_checkpw_refuses_a_file_others_can_read(setup):
    root = setup["root"]
    path = root / "control" / "smtppasswd"
    path.chmod(0o644)
    try:
        code, _, err = checkpw(root, "alice", "wonderland")
        assert code == 111
        assert "other users may read or write it" in err
    finally:
        path.chmod(0o600)
    saved = path.read_text()
    # Hashes other than yescrypt and SHA-512 (here MD5-crypt) are refused.
    path.write_text("alice:" + crypt_hash("wonderland", "$1$") + "\n")
    try:
        assert checkpw(root, "alice", "wonderland")[0] == 1
    finally:
        path.write_text(saved)


def test_checkpw_missing_file_is_temporary(setup):
    root = setup["root"]
    path = root / "control" / "smtppasswd"
    path.rename(path.with_suffix(".off"))
    try:
        code, _, err = checkpw(root, "alice", "wonderland")
        assert code == 111 and "unable to open control/smtppasswd" in err
        with smtplib.SMTP("127.0.0.1", setup["port"], timeout=30) as s:
            s.starttls(context=client_context())
            s.ehlo("client.test")
            plain = base64.b64encode(b"\0alice\0wonderland").decode()
            assert s.docmd("AUTH PLAIN " + plain) == (
                454, b"temporary authentication failure (#4.3.0)")
    finally:
        path.with_suffix(".off").rename(path)


# ---- end to end: submission with AUTH, the queue, the Maildir

@pytest.fixture(scope="module")
def mta(tmp_path_factory):
    q = queuelib.QueueInstance(tmp_path_factory, "tlse2e", me="example.org")
    q.control("rcpthosts", "example.org\n")
    q.control("locals", "example.org\n")
    q.add_user("joe")
    make_cert(q.root / "control" / "servercert.pem")
    write_passwords(q.root)
    q.start()
    rules = write_rules(tmp_path_factory.mktemp("tlse2erules") / "tcp.smtp.cdb", RULES)
    try:
        with smtpd_server(q.root, rules, [bin_path("qmail-checkpw", q.root)],
                          env={"QMAILQUEUE": ""}) as port:
            yield q, port
    finally:
        q.stop()


def test_submitted_message_delivered_and_read_back(mta):
    q, port = mta
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("laptop.test")
        s.login("alice", "wonderland")
        assert s.sendmail("alice@example.org", ["joe@example.org"],
                          "Subject: submitted\r\n\r\nover TLS with AUTH\r\n") == {}
    [m] = q.wait_mail("joe")
    assert m["Subject"] == "submitted"
    assert m.get_payload() == "over TLS with AUTH\n"
    received = m.get_all("Received")
    assert any(re.match(r"from unknown \(HELO laptop\.test\) \(alice@127\.0\.0\.1\)\s+by localhost "
                        r"with ESMTPSA \(TLSv1\.3 cipher TLS_\w+\); ", r) for r in received), received
