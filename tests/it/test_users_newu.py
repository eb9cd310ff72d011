"""qmail-newu: users/assign compiled into users/cdb (qmail-users(5), qmail-newu(8)).

The database is checked with tinycdb's own `cdb` tool, so the file format
is the one qmail uses, not just one our reader understands; lookups as
qmail-lspawn makes them are covered by tests/unit/test_users.c.
"""
import os
import subprocess

import pytest

from conftest import PREFIX, bin_path, run

USERS = PREFIX / "users"


@pytest.fixture
def users_dir():
    """users/ of the shared root, restored afterwards."""
    saved = {}
    for name in ("assign", "cdb"):
        p = USERS / name
        if p.exists():
            saved[name] = p.read_bytes()
    yield USERS
    for name in ("assign", "cdb", "cdb.tmp"):
        p = USERS / name
        if name in saved:
            p.write_bytes(saved[name])
        elif p.exists():
            p.unlink()


def cdb_records():
    """Every (key, value) of users/cdb in file order, read by tinycdb's
    cdb tool (its dump format: +klen,dlen:key->data)."""
    r = subprocess.run(["cdb", "-d", str(USERS / "cdb")], stdout=subprocess.PIPE, check=True)
    out, pos, recs = r.stdout, 0, []
    while pos < len(out) and out[pos:pos + 1] == b"+":
        comma = out.index(b",", pos)
        colon = out.index(b":", comma)
        klen, dlen = int(out[pos + 1:comma]), int(out[comma + 1:colon])
        key = out[colon + 1:colon + 1 + klen]
        start = colon + 1 + klen + 2  # skip "->"
        recs.append((key, out[start:start + dlen]))
        pos = start + dlen + 1  # skip the newline
    return recs


def fields(*f):
    """A users/cdb value: the six fields NUL-separated, no final NUL."""
    return b"\0".join(x.encode() for x in f)


def cdb_get(key):
    """The first value for key, as a cdb reader finds it."""
    key = key.encode()
    for k, v in cdb_records():
        if k == key:
            return v
    return None


def test_simple_and_wildcard_entries(users_dir):
    (users_dir / "assign").write_text(
        "=Joe.Shmoe:joe:503:78:/home/joe:::\n"
        "+:alias:7790:2108:/var/qmail/alias:-::\n"
        "+joe-:joe:507:100:/home/joe:-::\n"
        "=joe:joe:507:100:/home/joe:::\n"
        "+list-:lists:600:60:/home/lists:-:l-:\n"
        ".\n")
    r = run([bin_path("qmail-newu")])
    assert r.returncode == 0, r.stderr
    # Simple assignments are keyed "!local\0", lowercased.
    assert cdb_get("!joe.shmoe\0") == fields("joe", "503", "78", "/home/joe", "", "")
    assert cdb_get("!joe\0") == fields("joe", "507", "100", "/home/joe", "", "")
    # Wildcards are keyed "!prefix" and carry their ext prefix.
    assert cdb_get("!joe-") == fields("joe", "507", "100", "/home/joe", "-", "")
    assert cdb_get("!list-") == fields("lists", "600", "60", "/home/lists", "-", "l-")
    assert cdb_get("!") == fields("alias", "7790", "2108", "/var/qmail/alias", "-", "")
    # The empty key lists the last byte of every non-empty wildcard prefix.
    assert sorted(cdb_get("")) == sorted(b"-")
    assert cdb_get("!bill\0") is None
    st = os.stat(users_dir / "cdb")
    assert st.st_mode & 0o777 == 0o644
    assert not (users_dir / "cdb.tmp").exists()


def test_first_of_duplicate_entries_is_kept_first(users_dir):
    (users_dir / "assign").write_text(
        "=joe:first:1:1:/h1:::\n=JOE:second:2:2:/h2:::\n.\n")
    assert run([bin_path("qmail-newu")]).returncode == 0
    assert cdb_get("!joe\0").startswith(b"first\0")
    assert [v[:6] for k, v in cdb_records() if k == b"!joe\0"] == [b"first\0", b"second"]


def test_ignores_lines_after_the_dot(users_dir):
    (users_dir / "assign").write_text("=a:u:1:1:/h:::\n.\ngarbage\n")
    assert run([bin_path("qmail-newu")]).returncode == 0
    assert cdb_get("!a\0") == fields("u", "1", "1", "/h", "", "")


@pytest.mark.parametrize("bad, line", [
    ("=joe:joe:507:100:/home/joe::\n.\n", 1),          # too few fields
    ("=ok:u:1:1:/h:::\njoe:joe:507:100:/home/joe:::\n.\n", 2),  # no = or +
    ("=ok:u:1:1:/h:::\n=joe:joe:abc:100:/home/joe:::\n.\n", 2),  # uid not numeric
    ("=ok:u:1:1:/h:::\n=joe\n.\n", 2),                 # no colon
    ("=ok:u:1:1:/h:::\n", 2),                         # no final dot
    ("=ok:u:1:1:/h:::\n\n.\n", 2),                    # blank line
    ("=ok:u:1:1:/h:::\n=x:u:1:1:/h:::", 2),          # unterminated line
])
def test_malformed_assign_keeps_old_cdb(users_dir, bad, line):
    (users_dir / "assign").write_text("=old:olduser:9:9:/old:::\n.\n")
    assert run([bin_path("qmail-newu")]).returncode == 0
    before = (users_dir / "cdb").read_bytes()
    (users_dir / "assign").write_text(bad)
    r = run([bin_path("qmail-newu")])
    assert r.returncode == 111
    err = r.stderr.decode()
    assert err.startswith("qmail-newu: fatal: bad format in users/assign line %d:" % line), err
    assert (users_dir / "cdb").read_bytes() == before
    assert cdb_get("!old\0") == fields("olduser", "9", "9", "/old", "", "")
    assert not (users_dir / "cdb.tmp").exists()


def test_missing_assign_is_temporary(users_dir):
    p = users_dir / "assign"
    if p.exists():
        p.unlink()
    r = run([bin_path("qmail-newu")])
    assert r.returncode == 111
    assert b"unable to open users/assign" in r.stderr
