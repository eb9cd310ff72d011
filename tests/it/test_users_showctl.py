"""qmail-showctl: the configuration explained, line by line in qmail's
wording."""
import shutil

import pytest

from conftest import PREFIX, bin_path, run

CONTROL = PREFIX / "control"


@pytest.fixture
def control(tmp_path):
    """The shared root's control/, restored afterwards."""
    keep = tmp_path / "control.saved"
    shutil.copytree(CONTROL, keep)
    for p in CONTROL.iterdir():
        p.unlink()
    yield CONTROL
    shutil.rmtree(CONTROL)
    shutil.copytree(keep, CONTROL)


def showctl():
    r = run([bin_path("qmail-showctl")])
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def test_defaults(control):
    out = showctl()
    assert out.startswith(f"qmail home directory: {PREFIX}.\nuser-ext delimiter: -.\n")
    assert "\nconcurrencylocal: (Default.) Local concurrency is 10.\n" in out
    assert "\nqueuelifetime: (Default.) Message lifetime in the queue is 604800 seconds.\n" in out
    assert "\nme: (Default.) My name is undefined! Uh-oh.\n" in out
    assert "\ndefaulthost: (Default.) Default host name is defaulthost.\n" in out
    assert "\nlocals: (Default.) Messages for me are delivered locally.\n" in out
    assert "\nlocaltime: (Default.) Dates are written in GMT as -0000.\n" in out


def test_values_and_me_as_default(control):
    (control / "me").write_text("mx.example.org\n")
    (control / "concurrencylocal").write_text("3\n")
    (control / "locals").write_text("example.org\n# comment\nlocalhost\n")
    (control / "rcpthosts").write_text("example.org\n")
    (control / "localtime").write_text("1\n")
    (control / "virtualdomains").write_text("virt.example.org:alice\n")
    (control / "mystery").write_text("x\n")
    out = showctl()
    assert "\nme: My name is mx.example.org.\n" in out
    # Files that default to me say so.
    assert "\ndefaulthost: (Default.) Default host name is mx.example.org.\n" in out
    assert "\nidhost: (Default.) Message-ID host name is mx.example.org.\n" in out
    assert "\nbouncefrom: (Default.) Bounce user name is MAILER-DAEMON.\n" in out
    assert "\nconcurrencylocal: Local concurrency is 3.\n" in out
    assert ("\nlocals: \nMessages for example.org are delivered locally.\n"
            "Messages for localhost are delivered locally.\n") in out
    assert ("\nrcpthosts: \nSMTP clients may send messages to recipients at example.org.\n"
            "\nmorercpthosts: (Default.) No effect.\n") in out
    assert "\nvirtualdomains: \nVirtual domain: virt.example.org:alice\n" in out
    assert "\nlocaltime: Dates are written in local time with its offset.\n" in out
    assert "\nmystery: I have no idea what this file does.\n" in out
    assert "me: I have no idea" not in out


def test_number_without_digits_shows_the_default_in_use(control):
    """qmail-send and qmail-smtpd take "-5" or "none" as no setting at all;
    qmail-showctl must say what they use, not 0."""
    (control / "concurrencylocal").write_text("-5\n")
    (control / "databytes").write_text("none\n")
    out = showctl()
    assert "\nconcurrencylocal: (Default.) Local concurrency is 10.\n" in out
    assert "\ndatabytes: (Default.) SMTP DATA limit is 0 bytes.\n" in out


def test_tls_client_files_shown_only_when_present(control):
    """qmail-remote's TLS files are explained, not called unknown; absent,
    they add nothing, so the output stays qmail's."""
    out = showctl()
    assert "tlsdestinations" not in out and "clientcert.pem" not in out
    (control / "tlsdestinations").write_text("example.com:ca\n.example.net:encrypt\n")
    (control / "clientcert.pem").write_text("not really a certificate\n")
    out = showctl()
    assert ("\ntlsdestinations: \nTLS policy: example.com:ca\n"
            "TLS policy: .example.net:encrypt\n") in out
    assert "\nclientcert.pem: qmail-remote shows this certificate to servers" in out
    assert "I have no idea" not in out


def test_smtpd_tls_files_explained_never_shown(control):
    """qmail-smtpd's certificate and qmail-checkpw's password file are
    explained when present, their secrets never printed."""
    out = showctl()
    assert "servercert.pem" not in out and "smtppasswd" not in out
    (control / "servercert.pem").write_text("-----BEGIN PRIVATE KEY-----\nSECRETKEY\n")
    pw = control / "smtppasswd"
    pw.write_text("# users\nalice:$6$salt$HASHONE\nbob:$y$j9T$salt$HASHTWO\n")
    pw.chmod(0o600)
    (control / "tlsserverciphers").write_text("ECDHE+AESGCM\n")
    out = showctl()
    assert "\nservercert.pem: qmail-smtpd offers STARTTLS with this certificate and key.\n" in out
    assert "\nsmtppasswd: SMTP AUTH passwords (qmail-checkpw) for 2 users.\n" in out
    assert "\ntlsserverciphers: qmail-smtpd's TLS 1.2 ciphers: ECDHE+AESGCM.\n" in out
    assert "SECRET" not in out and "HASH" not in out and "I have no idea" not in out
    pw.chmod(0o644)
    assert "other users may read this file, so qmail-checkpw refuses it" in showctl()


def test_dsn_and_rcptcheck_switches_explained(control):
    """bouncedsn, dsnmaxbytes and rcptcheck are explained when present,
    absent they add nothing."""
    out = showctl()
    assert "bouncedsn" not in out and "rcptcheck" not in out and "dsnmaxbytes" not in out
    (control / "bouncedsn").write_text("1\n")
    (control / "dsnmaxbytes").write_text("5000\n")
    (control / "rcptcheck").write_text("0\n")
    out = showctl()
    assert "\nbouncedsn: Bounces are RFC 3464 delivery status notifications.\n" in out
    assert ("\ndsnmaxbytes: A DSN carries the whole message up to 5000 bytes,"
            " only its header above.\n") in out
    assert "\nrcptcheck: qmail-smtpd accepts every local recipient; unknown ones bounce later.\n" in out
    assert "I have no idea" not in out
    (control / "bouncedsn").write_text("0\n")
    (control / "rcptcheck").write_text("1\n")
    out = showctl()
    assert "\nbouncedsn: Bounces are qmail's plain QSBMF text.\n" in out
    assert "\nrcptcheck: qmail-smtpd asks qmail-rcptd whether a local recipient exists.\n" in out
