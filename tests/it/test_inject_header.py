"""qmail-inject: header completion and rewriting (qmail-header(5)) and
envelope decisions (qmail-inject(8)), read back from a capturing
stand-in for qmail-queue."""
import email.utils
import re
import subprocess
import time

import pytest

from conftest import bin_path
from inject_capture import Capture, clean_env, restore_controls, set_controls

CONTROLS = {"me": "mx.example.org", "defaulthost": "example.org",
            "defaultdomain": "example.org", "plusdomain": "plus.example.org",
            "idhost": "id.example.org"}


@pytest.fixture
def controls():
    saved = set_controls(CONTROLS)
    yield
    restore_controls(saved)


@pytest.fixture
def cap(tmp_path, controls):
    return Capture(tmp_path)


def inject(cap, message, args=(), **env):
    e = clean_env(QMAILUSER="sam", **env)
    e.update(cap.env)
    return subprocess.run([bin_path("qmail-inject"), *args], input=message,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=30)


def test_adds_date_message_id_and_from(cap):
    before = int(time.time())
    r = inject(cap, b"To: fred@example.com\nSubject: hi\n\nhello\n", QMAILNAME="Sam Smith")
    assert r.returncode == 0, r.stderr
    m = cap.message()
    assert m["Subject"] == "hi"
    assert m.get_payload() == "hello\n"
    # Date in GMT written as -0000, parseable, and now.
    assert m["Date"].endswith(" -0000")
    assert abs(email.utils.mktime_tz(email.utils.parsedate_tz(m["Date"])) - before) < 60
    assert re.fullmatch(r"<\d{14}\.\d+\.qmail@id\.example\.org>", m["Message-ID"])
    assert email.utils.parseaddr(m["From"]) == ("Sam Smith", "sam@example.org")
    assert cap.envelope() == ("sam@example.org", ["fred@example.com"])


def test_keeps_existing_fields(cap):
    msg = (b"From: Joe <joe@elsewhere.net>\nDate: 1 Jan 2020 00:00:00 -0000\n"
           b"Message-ID: <abc@def>\nTo: fred@example.com\n\nbody\n")
    assert inject(cap, msg).returncode == 0
    m = cap.message()
    assert m.get_all("From") == ["Joe <joe@elsewhere.net>"]
    assert m.get_all("Date") == ["1 Jan 2020 00:00:00 -0000"]
    assert m.get_all("Message-ID") == ["<abc@def>"]


def test_qmailinject_flags_drop_from_and_message_id(cap):
    msg = b"From: joe@elsewhere.net\nMessage-ID: <abc@def>\nTo: fred@example.com\n\n"
    assert inject(cap, msg, QMAILINJECT="fi", QMAILNAME="Sam").returncode == 0
    m = cap.message()
    assert m.get_all("From") == ['"Sam" <sam@example.org>']
    assert m["Message-ID"] != "<abc@def>"
    assert inject(cap, b"To: x@y.z\n\n", QMAILINJECT="c", QMAILNAME="Sam").returncode == 0
    assert cap.message()["From"] == "sam@example.org (Sam)"


def test_addresses_are_qualified(cap):
    msg = (b"To: fred, djb@silverton, eric@mammoth.cs+, joe@[127.0.0.1]\n"
           b"Cc: Some One <one>, two (Mr Two), group: g1, g2@x.y;\n"
           b"Reply-To: <@route.example,@r2:reply@host.example.com>\n\n")
    assert inject(cap, msg).returncode == 0
    m = cap.message()
    # (email.utils cannot parse domain literals: split by hand.)
    to = [a.strip() for a in m["To"].split(",")]
    assert to == ["fred@example.org", "djb@silverton.example.org",
                  "eric@mammoth.cs.plus.example.org", "joe@[127.0.0.1]"]
    assert "Some One <one@example.org>" in m["Cc"]
    assert "two@example.org (Mr Two)" in m["Cc"]
    assert "group: g1@example.org, g2@x.y;" in m["Cc"]
    assert m["Reply-To"] == "<reply@host.example.com>"
    sender, recips = cap.envelope()
    assert sorted(recips) == sorted([
        "fred@example.org", "djb@silverton.example.org", "eric@mammoth.cs.plus.example.org",
        "joe@[127.0.0.1]", "one@example.org", "two@example.org", "g1@example.org", "g2@x.y"])


def test_space_separated_addresses_become_a_list(cap):
    assert inject(cap, b"To: djb fred\n\n").returncode == 0
    assert cap.message()["To"] == "djb@example.org, fred@example.org"


def test_env_overrides_control_files(cap):
    r = inject(cap, b"To: fred\n\n", QMAILDEFAULTHOST="h", QMAILDEFAULTDOMAIN="d.example",
               QMAILIDHOST="id2.example", QMAILHOST="mailhost.example")
    assert r.returncode == 0
    m = cap.message()
    assert m["To"] == "fred@h.d.example"
    assert m["From"] == "sam@mailhost.example"
    assert m["Message-ID"].endswith(".qmail@id2.example>")


def test_me_is_the_default_for_everything(tmp_path):
    saved = set_controls({"me": "mx.example.org"})
    try:
        cap = Capture(tmp_path)
        assert inject(cap, b"To: fred, joe@host+\n\n").returncode == 0
        m = cap.message()
        assert m["To"] == "fred@mx.example.org, joe@host.mx.example.org"
        assert m["Message-ID"].endswith(".qmail@mx.example.org>")
    finally:
        restore_controls(saved)


def test_bcc_removed_and_cc_line_added(cap):
    msg = b"Bcc: hidden@example.com\nSubject: s\n\nbody\n"
    assert inject(cap, msg).returncode == 0
    m = cap.message()
    assert m["Bcc"] is None
    assert m["Cc"] == "recipient list not shown: ;"
    assert cap.envelope()[1] == ["hidden@example.com"]
    assert b"hidden" not in cap.raw()


def test_return_path_and_content_length_removed(cap):
    msg = (b"Return-Path: <bounces@lists.example.com>\nContent-Length: 999\n"
           b"To: fred@example.com\n\nx\n")
    assert inject(cap, msg).returncode == 0
    m = cap.message()
    assert m["Return-Path"] is None and m["Content-Length"] is None
    assert cap.envelope()[0] == "bounces@lists.example.com"
    # s: the Return-Path is ignored (and still removed).
    assert inject(cap, msg, QMAILINJECT="s").returncode == 0
    assert cap.envelope()[0] == "sam@example.org"
    assert cap.message()["Return-Path"] is None


@pytest.mark.parametrize("args, recips", [
    ([], ["to@example.com", "cc@example.com", "bcc@example.com"]),      # -A: header
    (["arg@example.com"], ["arg@example.com"]),                          # -A: args
    (["-a", "arg@example.com"], ["arg@example.com"]),
    (["-h", "arg@example.com"], ["to@example.com", "cc@example.com", "bcc@example.com"]),
    (["-H", "arg"], ["arg@example.org", "to@example.com", "cc@example.com",
                     "bcc@example.com"]),
])
def test_recipient_strategies(cap, args, recips):
    msg = b"To: to@example.com\nCc: cc@example.com\nBcc: bcc@example.com\n\n"
    assert inject(cap, msg, args).returncode == 0
    assert sorted(cap.envelope()[1]) == sorted(recips)


def test_envelope_sender_choices(cap):
    msg = b"Return-Path: <rp@example.com>\nTo: x@example.com\n\n"
    # -f beats Return-Path and the environment; it is qualified too.
    assert inject(cap, msg, ["-f", "boss"], QMAILSUSER="su").returncode == 0
    assert cap.envelope()[0] == "boss@example.org"
    assert inject(cap, b"To: x@example.com\n\n", ["-f", ""]).returncode == 0
    assert cap.envelope()[0] == ""
    r = inject(cap, b"To: x@example.com\n\n", QMAILSUSER="su", QMAILSHOST="bounce.example")
    assert r.returncode == 0
    assert cap.envelope()[0] == "su@bounce.example"
    assert cap.message()["From"] == "sam@example.org"


def test_verp_flags(cap):
    assert inject(cap, b"To: x@example.com\n\n", QMAILINJECT="r").returncode == 0
    assert cap.envelope()[0] == "sam-@example.org-@[]"
    assert inject(cap, b"To: x@example.com\n\n", QMAILINJECT="m").returncode == 0
    assert re.fullmatch(r"sam-\d+\.\d+@example\.org", cap.envelope()[0])


def test_resent_message(cap):
    msg = (b"From: orig@example.com\nDate: 1 Jan 2020 00:00:00 -0000\nTo: orig-to@example.com\n"
           b"Resent-To: newguy\nResent-Bcc: hidden@example.com\n\nbody\n")
    assert inject(cap, msg, QMAILNAME="Sam").returncode == 0
    m = cap.message()
    assert m["Resent-To"] == "newguy@example.org"
    assert m["Resent-Bcc"] is None
    assert m["Resent-From"] == '"Sam" <sam@example.org>'
    assert m["Resent-Date"].endswith("-0000")
    assert m["Resent-Message-ID"].endswith(".qmail@id.example.org>")
    assert m.get_all("From") == ["orig@example.com"]
    assert m["Message-ID"] is None  # a resent message gets no new Message-ID
    assert sorted(cap.envelope()[1]) == ["hidden@example.com", "newguy@example.org"]
    # No Resent-To or Resent-Cc: a Resent-Cc line, but no Cc line.
    assert inject(cap, b"Resent-Bcc: b@example.com\n\n").returncode == 0
    m = cap.message()
    assert m["Resent-Cc"] == "recipient list not shown: ;"
    assert m["Cc"] is None and m["Date"] is None


def test_print_instead_of_queue(cap):
    r = inject(cap, b"To: fred\n\nbody\n", ["-n", "-f", "s@example.com"])
    assert r.returncode == 0
    assert not cap.ran()
    out = r.stdout.decode()
    assert out.startswith("Return-Path: <s@example.com>\n")
    assert "\nTo: fred@example.org\n" in out
    assert out.endswith("\n\nbody\n")


def test_header_ends_at_first_non_field_line(cap):
    assert inject(cap, b"Subject: a\nthis is body\nmore\n").returncode == 0
    raw = cap.raw()
    assert raw.endswith(b"Subject: a\n\nthis is body\nmore\n")


def test_mbox_from_line_kept_as_field(cap):
    assert inject(cap, b"From someone Mon Jan  1 00:00:00 2020\nTo: x@y.z\n\n").returncode == 0
    assert cap.message()["MBOX-Line"] == "From someone Mon Jan  1 00:00:00 2020"


def test_continuation_lines_and_folding(cap):
    names = ", ".join(f"user{i}@host{i}.example.com" for i in range(10))
    msg = ("To: first@example.com,\n  second\n" + f"Cc: {names}\n\n").encode()
    assert inject(cap, msg).returncode == 0
    raw = cap.raw().decode()
    head = raw.split("\n\n")[0]
    assert all(len(line) <= 80 for line in head.split("\n"))
    m = cap.message()
    assert [a for _, a in email.utils.getaddresses(m.get_all("To"))] == [
        "first@example.com", "second@example.org"]
    assert len(email.utils.getaddresses(m.get_all("Cc"))) == 10


def test_localtime_control(tmp_path):
    saved = set_controls(dict(CONTROLS, localtime="1"))
    try:
        cap = Capture(tmp_path)
        assert inject(cap, b"To: x@y.z\n\n", TZ="XYZ-1").returncode == 0
        assert cap.message()["Date"].endswith(" +0100")
    finally:
        restore_controls(saved)


def test_unparsable_sender_field_is_permanent(cap):
    r = inject(cap, b"From: (unclosed comment\nTo: x@y.z\n\n")
    assert r.returncode == 100
    assert b"qmail-inject: fatal: unable to parse this line" in r.stderr
    assert not cap.ran()
    # A recipient field that does not parse is passed on as it is.
    assert inject(cap, b"To: \"unclosed\n\n", ["x@y.z"]).returncode == 0
    assert cap.message()["To"] == '"unclosed'


def test_queue_failures(tmp_path, controls):
    cap = Capture(tmp_path, code=31)
    r = inject(cap, b"To: x@y.z\n\n")
    assert r.returncode == 100
    assert b"qmail-inject: fatal: mail server permanently rejected message" in r.stderr
    cap = Capture(tmp_path, code=53)
    r = inject(cap, b"To: x@y.z\n\n")
    assert r.returncode == 111
    assert b"qmail-inject: fatal: qq write error or disk full" in r.stderr


def test_bad_option_is_usage_error(cap):
    assert inject(cap, b"", ["-z"]).returncode == 100


def test_mail_followup_to_for_listed_lists(cap, tmp_path):
    lists = tmp_path / "lists"
    lists.write_text("list@lists.example.com\n")
    msg = b"To: list@lists.example.com, joe@example.com\nCc: fred\n\n"
    assert inject(cap, msg, QMAILMFTFILE=str(lists)).returncode == 0
    mft = cap.message()["Mail-Followup-To"]
    assert [a.strip() for a in mft.split(",")] == [
        "fred@example.org", "list@lists.example.com", "joe@example.com"]
    # Not to a listed list, or already there: nothing added.
    assert inject(cap, b"To: joe@example.com\n\n", QMAILMFTFILE=str(lists)).returncode == 0
    assert cap.message()["Mail-Followup-To"] is None
    msg = b"To: list@lists.example.com\nMail-Followup-To: me@example.com\n\n"
    assert inject(cap, msg, QMAILMFTFILE=str(lists)).returncode == 0
    assert cap.message().get_all("Mail-Followup-To") == ["me@example.com"]
    # "without regard to case" (qmail-inject(8))
    msg = b"To: List@Lists.Example.COM, joe@example.com\n\n"
    assert inject(cap, msg, QMAILMFTFILE=str(lists)).returncode == 0
    assert cap.message()["Mail-Followup-To"] is not None


def test_qmailplusdomain_overrides_plusdomain(cap):
    r = inject(cap, b"To: eric@mammoth.cs+, joe@host+\n\n", QMAILPLUSDOMAIN="env.example")
    assert r.returncode == 0
    to = [a.strip() for a in cap.message()["To"].split(",")]
    assert to == ["eric@mammoth.cs.env.example", "joe@host.env.example"]
    assert sorted(cap.envelope()[1]) == ["eric@mammoth.cs.env.example", "joe@host.env.example"]


@pytest.mark.parametrize("env,want", [
    ({"MAILUSER": "mu", "USER": "u", "LOGNAME": "ln"}, "mu@example.org"),
    ({"USER": "u", "LOGNAME": "ln"}, "u@example.org"),
    ({"LOGNAME": "ln"}, "ln@example.org"),
    ({"LOGNAME": "ln", "MAILHOST": "mh.example"}, "ln@mh.example"),
    ({"MAILUSER": "mu", "MAILNAME": "Mail Name", "NAME": "Plain"}, ("Mail Name", "mu@example.org")),
    ({"MAILUSER": "mu", "NAME": "Plain Name"}, ("Plain Name", "mu@example.org")),
])
def test_from_falls_back_on_mailuser_user_logname_mailhost_mailname_name(cap, env, want):
    e = clean_env(**env)
    e.update(cap.env)
    r = subprocess.run([bin_path("qmail-inject")], input=b"To: fred\n\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=e, timeout=30)
    assert r.returncode == 0, r.stderr
    if isinstance(want, tuple):
        assert email.utils.parseaddr(cap.message()["From"]) == want
    else:
        assert cap.message()["From"] == want
