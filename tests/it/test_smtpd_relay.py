"""The relay matrix: address forms that try to get mail relayed, sent by
real SMTP clients to qmail-smtpd under Debian's tcpserver, with a rules
cdb compiled by tcprules from a tcp.smtp file as qmail's documentation
shows it. From 127.0.0.1 (":allow", no RELAYCLIENT) no form may ever
leave for a foreign host: it is refused at RCPT, or accepted as an
address of one of our own domains. From 127.0.0.2 (RELAYCLIENT="") and
127.0.0.3 (RELAYCLIENT="+x") everything is accepted, with RELAYCLIENT's
value appended."""
import smtplib

import pytest

from smtpd_util import Capture, reset_controls, smtpd_root, tcpserver, write_rules

LOCAL = {"example.org", "mail.example.org", "localhost"}
RCPTHOSTS = "example.org\n.example.org\nmail.example.org\nlocalhost\n"
RULES = """# /etc/tcp.smtp
127.0.0.2:allow,RELAYCLIENT=""
127.0.0.3:allow,RELAYCLIENT="+x"
127.0.0.4:deny
:allow
"""

# (RCPT argument, what the envelope must hold when accepted)
FORMS = [
    ("<user@foreign.test>", "user@foreign.test"),
    ("<USER@FOREIGN.TEST>", "USER@FOREIGN.TEST"),
    ("user@foreign.test", "user@foreign.test"),
    (" <user@foreign.test>", "user@foreign.test"),
    ("<user%foreign.test@example.org>", "user%foreign.test@example.org"),
    ("<user%example.org@foreign.test>", "user%example.org@foreign.test"),
    ("<user@foreign.test%example.org>", "user@foreign.test%example.org"),
    ("<@example.org:user@foreign.test>", "user@foreign.test"),
    ("<@example.org,@localhost:user@foreign.test>", "user@foreign.test"),
    ("<@foreign.test:user@example.org>", "user@example.org"),
    ("<foreign.test!user@example.org>", "foreign.test!user@example.org"),
    ("<foreign.test!user>", "foreign.test!user"),
    ("<example.org!user@foreign.test>", "example.org!user@foreign.test"),
    ('<"user@foreign.test"@example.org>', "user@foreign.test@example.org"),
    ('<"user@example.org"@foreign.test>', "user@example.org@foreign.test"),
    ('<"user"@foreign.test>', "user@foreign.test"),
    ("<user\\@foreign.test@example.org>", "user@foreign.test@example.org"),
    ("<user@foreign.test@example.org>", "user@foreign.test@example.org"),
    ("<user@example.org@foreign.test>", "user@example.org@foreign.test"),
    ("<user@foreign.test>@example.org", "user@foreign.test"),
    ("<user@foreign.test.>", "user@foreign.test."),
    ("<user@example.org.>", "user@example.org."),
    ("<user@example.org.foreign.test>", "user@example.org.foreign.test"),
    ("<user@notexample.org>", "user@notexample.org"),
    ("<user@.example.org>", "user@.example.org"),
    ("<user@[192.0.2.1]>", "user@[192.0.2.1]"),
    ("<user@[127.0.0.1]>", "user@mail.example.org"),
    ("<user@[IPv6:::1]>", "user@mail.example.org"),
    ("<user@localhost.foreign.test>", "user@localhost.foreign.test"),
    ("<user@foreign.test(example.org)>", "user@foreign.test(example.org)"),
    ("<user@example.org(foreign.test)>", "user@example.org(foreign.test)"),
    # legitimate local addresses
    ("<user@example.org>", "user@example.org"),
    ("<User@Example.ORG>", "User@Example.ORG"),
    ("<user@sub.example.org>", "user@sub.example.org"),
    ("<user@mail.example.org>", "user@mail.example.org"),
    ("<user@localhost>", "user@localhost"),
    ("<user@LOCALHOST>", "user@LOCALHOST"),
    ("<postmaster>", "postmaster"),
    ("<Postmaster>", "Postmaster"),
    ('<"john doe"@example.org>', "john doe@example.org"),
]
LEGIT = {f for f, _ in FORMS[-9:]}


def is_ours(addr):
    at = addr.rfind("@")
    if at < 0:
        return True
    dom = addr[at + 1:].lower()
    return dom in LOCAL or dom.endswith(".example.org")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = smtpd_root(tmp_path_factory)
    base = tmp_path_factory.mktemp("relay")
    cap = Capture(base)
    rules = write_rules(base / "tcp.smtp.cdb", RULES)
    reset_controls(root, me="mail.example.org\n", rcpthosts=RCPTHOSTS)
    with tcpserver(root, rules, cap.env()) as port:
        yield port, cap


def send_each(port, source, forms):
    """One session per client: a RCPT per form, then DATA; returns
    {form: reply code} and the recipients the queue received."""
    replies = {}
    with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("sender@client.test")[0] == 250
        for form, _ in forms:
            s.putcmd("RCPT TO:" + form)
            replies[form] = s.getreply()
        code, _ = s.data(b"Subject: relay test\r\n\r\nhello\r\n")
        assert code == 250
    return replies


def test_no_relay_for_strangers(server):
    port, cap = server
    cap.clear()
    replies = send_each(port, "127.0.0.1", FORMS)
    [(_, _, rcpts)] = cap.messages()
    for form, expect in FORMS:
        code, text = replies[form]
        if form in LEGIT:
            assert code == 250, form
        if code == 250:
            assert expect in rcpts, form
            assert is_ours(expect), f"{form} accepted for a foreign host"
        else:
            assert (code, text) == (553, b"sorry, that domain isn't in my list of allowed "
                                         b"rcpthosts (#5.7.1)"), form
    assert all(is_ours(r) for r in rcpts)
    refused = [f for f, _ in FORMS if replies[f][0] == 553]
    print(len(refused), "refused of", len(FORMS))
    assert len(refused) >= 20


@pytest.mark.parametrize("source,suffix", [("127.0.0.2", ""), ("127.0.0.3", "+x")])
def test_relayclient_accepts_all_with_value_appended(server, source, suffix):
    port, cap = server
    cap.clear()
    replies = send_each(port, source, FORMS)
    [(_, _, rcpts)] = cap.messages()
    assert all(replies[f][0] == 250 for f, _ in FORMS), replies
    assert rcpts == [e + suffix for _, e in FORMS]


def test_denied_client_gets_no_session(server):
    port, _ = server
    with pytest.raises((smtplib.SMTPServerDisconnected, ConnectionError)):
        with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.4", 0), timeout=10) as s:
            s.noop()
