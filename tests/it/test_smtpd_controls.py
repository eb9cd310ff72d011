"""Each control file and environment variable of qmail-smtpd changes what
a client sees; each test here fails when its file or variable is ignored.
(me, smtpgreeting, databytes, DATABYTES, badmailfrom, timeoutsmtpd,
localtime, QMAILQUEUE and the TCP* variables of the Received line are
covered in test_smtpd_pipe.py.)"""
import subprocess

import pytest

from conftest import bin_path
from smtpd_util import Capture, reset_controls, replies, smtpd_pipe, smtpd_root

ME = "mail.example.org"
NOGW = "553 sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)"


@pytest.fixture
def root(tmp_path_factory):
    r = smtpd_root(tmp_path_factory)
    reset_controls(r, me=ME + "\n")
    return r


@pytest.fixture
def cap(tmp_path):
    return Capture(tmp_path)


def rcpt_replies(root, cap, addrs, env=None):
    data = b"MAIL FROM:<a@sender.test>\r\n" + b"".join(
        b"RCPT TO:<" + a.encode() + b">\r\n" for a in addrs) + b"DATA\r\n\r\n.\r\nQUIT\r\n"
    e = cap.env()
    e.update(env or {})
    out, err, _ = smtpd_pipe(root, data, e)
    r = replies(out)
    queued = cap.messages()
    cap.clear()
    return r[2:2 + len(addrs)], (queued[0][2] if queued else []), err


def test_rcpthosts_exact_and_wildcard_lines(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="Example.ORG\n.wild.test\n# comment\n\n")
    addrs = ["a@example.org", "b@EXAMPLE.org", "c@sub.example.org", "d@wild.test.",
             "e@wild.test", "f@x.wild.test", "g@x.y.WILD.test", "h@notwild.test",
             "i@foreign.test", "j@.wild.test", "k@example.org.foreign.test", "postmaster"]
    r, env, _ = rcpt_replies(root, cap, addrs)
    verdict = dict(zip(addrs, r))
    # ".wild.test" covers the hosts under wild.test, not wild.test itself.
    ok = {"a@example.org", "b@EXAMPLE.org", "f@x.wild.test",
          "g@x.y.WILD.test", "postmaster"}
    for a in addrs:
        assert verdict[a] == ("250 ok" if a in ok else NOGW), a
    assert env == [a for a in addrs if a in ok]


def test_missing_rcpthosts_is_an_open_relay_with_a_warning(root, cap):
    r, env, err = rcpt_replies(root, cap, ["x@anywhere.test"])
    assert r == ["250 ok"]
    assert "open relay" in err and "rcpthosts" in err
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\n")
    r, env, err = rcpt_replies(root, cap, ["x@anywhere.test"])
    assert r == [NOGW] and "open relay" not in err


def test_morercpthosts_cdb_from_qmail_newmrh(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\n",
                   morercpthosts="More.test\n.wildmore.test  \n# no.test\n")
    p = subprocess.run([bin_path("qmail-newmrh", root)], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert (root / "control/morercpthosts.cdb").exists()
    assert not (root / "control/morercpthosts.tmp").exists()
    addrs = ["a@example.org", "b@more.test", "c@MORE.TEST", "d@x.wildmore.test",
             "e@no.test", "f@foreign.test"]
    r, _, _ = rcpt_replies(root, cap, addrs)
    assert r == ["250 ok"] * 4 + [NOGW] * 2
    # The cdb only counts together with rcpthosts, as in qmail.
    (root / "control/rcpthosts").unlink()
    r, _, _ = rcpt_replies(root, cap, ["f@foreign.test"])
    assert r == ["250 ok"]


def test_qmail_newmrh_needs_morercpthosts(root):
    p = subprocess.run([bin_path("qmail-newmrh", root)], capture_output=True)
    assert p.returncode == 111
    assert b"qmail-newmrh: fatal: unable to read control/morercpthosts" in p.stderr
    assert not (root / "control/morercpthosts.cdb").exists()


def test_qmail_newmrh_replaces_the_cdb(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\n", morercpthosts="one.test\n")
    subprocess.run([bin_path("qmail-newmrh", root)], check=True)
    (root / "control/morercpthosts").write_text("two.test\n")
    subprocess.run([bin_path("qmail-newmrh", root)], check=True)
    r, _, _ = rcpt_replies(root, cap, ["a@one.test", "b@two.test"])
    assert r == [NOGW, "250 ok"]
    out = subprocess.run(["cdb", "-d", str(root / "control/morercpthosts.cdb")],
                         capture_output=True, check=True).stdout
    assert out.strip() == b"+8,0:two.test->"


def test_relayclient_ignores_rcpthosts_and_is_appended(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\n")
    r, env, _ = rcpt_replies(root, cap, ["x@foreign.test", "y@example.org"],
                             {"RELAYCLIENT": ""})
    assert r == ["250 ok", "250 ok"] and env == ["x@foreign.test", "y@example.org"]
    r, env, _ = rcpt_replies(root, cap, ["x@foreign.test", "local"], {"RELAYCLIENT": "-relay"})
    assert env == ["x@foreign.test-relay", "local-relay"]
    r, env, _ = rcpt_replies(root, cap, ["x@foreign.test"])
    assert r == [NOGW]


def test_localiphost_rewrites_our_own_ip_literals(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\nlocal.example.org\n",
                   localiphost="local.example.org\n")
    r, env, _ = rcpt_replies(root, cap, ["a@[127.0.0.1]", "b@[IPv6:::1]", "c@[192.0.2.99]"])
    assert r == ["250 ok", "250 ok", NOGW]
    assert env == ["a@local.example.org", "b@local.example.org"]


def test_localiphost_defaults_to_me(root, cap):
    reset_controls(root, me="example.org\n", rcpthosts="example.org\n")
    r, env, _ = rcpt_replies(root, cap, ["a@[127.0.0.1]"])
    assert env == ["a@example.org"]
    # Without either file the literal stays as it is.
    reset_controls(root, smtpgreeting="greeting.test\n", rcpthosts="example.org\n")
    r, env, _ = rcpt_replies(root, cap, ["a@[127.0.0.1]"])
    assert r == [NOGW]


def test_tcplocalhost_and_tcplocalip_name_the_receiver(root, cap):
    def by(env):
        e = cap.env()
        e.update(env)
        smtpd_pipe(root, b"MAIL FROM:<>\r\nRCPT TO:<x>\r\nDATA\r\n\r\n.\r\n", e)
        [(m, _, _)] = cap.messages()
        cap.clear()
        return m.split(b"\n")[1].split(b" with ")[0]
    assert by({"TCPLOCALHOST": "mx.example.org", "TCPLOCALIP": "10.1.1.1"}) == b"  by mx.example.org"
    assert by({"TCPLOCALIP": "10.1.1.1"}) == b"  by 10.1.1.1"


def test_tcpremoteip_and_tcpremotehost_name_the_sender(root, cap):
    e = cap.env()
    e.update({"TCPREMOTEIP": "198.51.100.4", "TCPREMOTEHOST": "client.example.net"})
    smtpd_pipe(root, b"MAIL FROM:<>\r\nRCPT TO:<x>\r\nDATA\r\n\r\n.\r\n", e)
    [(m, _, _)] = cap.messages()
    assert m.startswith(b"Received: from client.example.net (198.51.100.4)\n")


def test_moreipme_and_notipme_decide_which_literals_are_ours(root, cap):
    reset_controls(root, me=ME + "\n", rcpthosts="example.org\n", localiphost="example.org\n",
                   moreipme="192.0.2.99\n", notipme="127.0.0.1\n")
    r, env, _ = rcpt_replies(root, cap, ["a@[192.0.2.99]", "b@[127.0.0.1]"])
    assert r == ["250 ok", NOGW]
    assert env == ["a@example.org"]
