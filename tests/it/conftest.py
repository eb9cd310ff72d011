"""Shared fixtures for the black-box integration tests.

The tests run the installed programs of one scratch install root, given by
NQ_PREFIX (`make test` builds and installs it). Run by hand, pytest builds
and installs build/it/root itself. A test that needs a whole instance of
its own (a queue, control files) calls `new_instance`, which builds and
installs nqmail for a fresh root: the root is compiled in, as in qmail.
"""
import os
import pathlib
import contextlib
import shutil
import socket
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SAN = os.environ.get("NQ_SAN", "0")


def _install(builddir, prefix, mode="user"):
    # mode "user": a user instance owned by whoever runs the tests (root
    # here); "system" creates qmail's users and ownerships (scripts/install.sh).
    subprocess.run(
        ["make", "-s", "-C", str(REPO), "install", f"BUILDDIR={builddir}",
         f"PREFIX={prefix}", f"SAN={SAN}"],
        check=True, stdout=subprocess.DEVNULL,
        env=dict(os.environ, NQ_INSTALL_MODE=mode))


def _default_prefix():
    p = os.environ.get("NQ_PREFIX")
    if p:
        return pathlib.Path(p)
    prefix = REPO / "build/it/root"
    _install(REPO / "build/it", prefix)
    os.environ["NQ_PREFIX"] = str(prefix)
    return prefix


PREFIX = _default_prefix()
BUILDDIR = pathlib.Path(os.environ.get("NQ_BUILDDIR", REPO / "build/it"))
if not BUILDDIR.is_absolute():
    BUILDDIR = REPO / BUILDDIR


def bin_path(name, prefix=None):
    return str(pathlib.Path(prefix or PREFIX) / "bin" / name)


def run(args, input=b"", env=None, cwd=None, timeout=60, **kw):
    """Runs a program with bytes on stdin; returns CompletedProcess."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(args, input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=full_env, cwd=cwd,
                          timeout=timeout, **kw)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def small_tmpfs(path, size, mode="700"):
    """Mounts a tmpfs of size (e.g. "256k") on path for a full-disk test
    (the tests run as root); unmounts it afterwards."""
    path.mkdir(exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs",
                        str(path)], stderr=subprocess.PIPE)
    if r.returncode != 0:
        pytest.fail("cannot mount a tmpfs: " + r.stderr.decode())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.fixture
def prefix():
    return PREFIX


_instance_count = [0]


def new_instance(tmp_path_factory, name="inst"):
    """Builds and installs nqmail for a fresh install root; returns the root."""
    base = tmp_path_factory.mktemp(name)
    _instance_count[0] += 1
    builddir = REPO / "build" / "instances" / f"{os.getpid()}-{_instance_count[0]}"
    # Reuse the compiled library of the main build when possible: only the
    # install root differs, and make rebuilds what depends on it.
    if BUILDDIR.exists() and not builddir.exists():
        shutil.copytree(BUILDDIR, builddir, symlinks=True,
                        ignore=shutil.ignore_patterns("root", "instances"))
    root = base / "root"
    _install(builddir, root)
    return root
