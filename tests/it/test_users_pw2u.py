"""qmail-pw2u: passwd lines to qmail-users(5) assignments (qmail-pw2u(8)),
and the result accepted by qmail-newu."""
import os

import pytest

from conftest import PREFIX, bin_path, run

USERS = PREFIX / "users"
FILES = ("include", "exclude", "mailnames", "subusers", "append", "assign", "cdb")


@pytest.fixture
def users_dir():
    saved = {n: (USERS / n).read_bytes() for n in FILES if (USERS / n).exists()}
    for n in saved:
        (USERS / n).unlink()
    yield USERS
    for n in FILES:
        p = USERS / n
        if p.exists():
            p.unlink()
        if n in saved:
            p.write_bytes(saved[n])


@pytest.fixture
def homes(tmp_path):
    """Home directories owned by the uids of PASSWD (root may chown to
    any uid, no account needed)."""
    tmp_path.chmod(0o755)
    for name, uid in (("alias", 7790), ("joe", 507), ("mary", 508), ("Upper", 509),
                      ("notmine", 510)):
        d = tmp_path / name
        d.mkdir()
        os.chown(d, uid if name != "notmine" else 999, 100)
    return tmp_path


def passwd(h):
    return (f"root:x:0:0:root:/root:/bin/sh\n"
            f"alias:*:7790:2108::{h}/alias:/bin/true\n"
            f"joe:x:507:100:Joe:{h}/joe:/bin/sh\n"
            f"mary:x:508:100:Mary:{h}/mary:/bin/sh\n"
            f"Upper:x:509:100::{h}/Upper:/bin/sh\n"
            f"notmine:x:510:100::{h}/notmine:/bin/sh\n"
            f"gone:x:511:100::{h}/gone:/bin/sh\n"
            f"broken:x:512\n").encode()


def pw2u(h, *args):
    r = run([bin_path("qmail-pw2u"), *args], input=passwd(h))
    return r.returncode, r.stdout.decode().splitlines(), r.stderr


def test_default_rules(users_dir, homes):
    code, lines, err = pw2u(homes)
    assert code == 0, err
    h = homes
    assert lines == [
        f"+:alias:7790:2108:{h}/alias:-::",
        f"=alias:alias:7790:2108:{h}/alias:::",
        f"+alias-:alias:7790:2108:{h}/alias:-::",
        f"=joe:joe:507:100:{h}/joe:::",
        f"+joe-:joe:507:100:{h}/joe:-::",
        f"=mary:mary:508:100:{h}/mary:::",
        f"+mary-:mary:508:100:{h}/mary:-::",
        ".",
    ]
    # qmail-newu takes the result as it is.
    (users_dir / "assign").write_text("\n".join(lines) + "\n")
    assert run([bin_path("qmail-newu")]).returncode == 0


def test_home_and_case_options(users_dir, homes):
    _, lines, _ = pw2u(homes, "-u")
    assert any(l.startswith("=Upper:") for l in lines)
    _, lines, _ = pw2u(homes, "-H")
    assert any(l.startswith("=notmine:") for l in lines)
    assert any(l.startswith("=gone:") for l in lines)
    code, lines, err = pw2u(homes, "-h")
    assert code == 111
    assert b"unable to stat" in err


def test_break_options(users_dir, homes):
    _, lines, _ = pw2u(homes, "-C")
    assert f"=joe:joe:507:100:{homes}/joe:::" in lines
    assert not any(l.startswith("+joe") for l in lines)
    _, lines, _ = pw2u(homes, "-c+")
    assert f"+joe+:joe:507:100:{homes}/joe:-::" in lines
    _, lines, _ = pw2u(homes, "-/")
    assert f"+joe-:joe:507:100:{homes}/joe:-/::" in lines


def test_users_files(users_dir, homes):
    (users_dir / "exclude").write_text("mary\n")
    (users_dir / "mailnames").write_text("joe:joe.shmoe:js\n")
    (users_dir / "subusers").write_text("sales:joe:sales:\n")
    (users_dir / "append").write_text("=extra:joe:507:100:/x:::\n")
    code, lines, err = pw2u(homes)
    assert code == 0, err
    h = homes
    assert not any(":mary:" in l for l in lines)
    assert f"=joe.shmoe:joe:507:100:{h}/joe:::" in lines
    assert f"+joe.shmoe-:joe:507:100:{h}/joe:-::" in lines
    assert f"=js:joe:507:100:{h}/joe:::" in lines
    assert not any(l.startswith("=joe:") for l in lines)
    assert f"=sales:joe:507:100:{h}/joe:-:sales:" in lines
    assert f"+sales-:joe:507:100:{h}/joe:-:sales-:" in lines
    assert lines[-2:] == ["=extra:joe:507:100:/x:::", "."]
    (users_dir / "include").write_text("alias\n")
    code, lines, err = pw2u(homes)
    # joe is no longer a user, so his subuser cannot be resolved.
    assert code == 111
    assert b"unable to find joe user for subuser" in err


def test_needs_alias_user(users_dir):
    r = run([bin_path("qmail-pw2u"), "-H"], input=b"joe:x:507:100::/home/joe:/bin/sh\n")
    assert r.returncode == 111
    assert b"unable to find alias user" in r.stderr
    assert run([bin_path("qmail-pw2u"), "-q"], input=b"").returncode == 100
