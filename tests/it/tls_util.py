"""Helpers for the TLS and AUTH tests: self-signed certificates made with
openssl, password hashes made with libcrypt, and qmail-smtpd under a real
tcpserver with a command line and environment of the test's choosing."""
import contextlib
import ctypes
import os
import pathlib
import socket
import ssl
import subprocess
import time

from conftest import bin_path, free_port

_libcrypt = ctypes.CDLL("libcrypt.so.1")
_libcrypt.crypt_gensalt.restype = ctypes.c_char_p
_libcrypt.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
_libcrypt.crypt.restype = ctypes.c_char_p
_libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]


def crypt_hash(password, method="$y$"):
    """A crypt(3) hash of password: "$y$" yescrypt or "$6$" SHA-512."""
    salt = _libcrypt.crypt_gensalt(method.encode(), 0, None, 0)
    assert salt, method
    return _libcrypt.crypt(password.encode(), salt).decode()


def make_cert(path, cn="mail.example.org"):
    """A self-signed certificate and its key (EC P-256), both in one PEM
    file at path, as control/servercert.pem wants them; returns the
    certificate's DER bytes."""
    path = pathlib.Path(path)
    key, crt = path.with_suffix(".key.tmp"), path.with_suffix(".crt.tmp")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}", "-days", "2",
                    "-keyout", str(key), "-out", str(crt)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    der = subprocess.run(["openssl", "x509", "-in", str(crt), "-outform", "DER"],
                         check=True, stdout=subprocess.PIPE).stdout
    tmp = path.with_suffix(".new")
    tmp.write_bytes(crt.read_bytes() + key.read_bytes())
    tmp.chmod(0o600)
    tmp.rename(path)
    key.unlink()
    crt.unlink()
    return der


def client_context():
    """A client TLS context that accepts the self-signed test certificate."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@contextlib.contextmanager
def smtpd_server(root, rules_cdb, args=(), env=None, log=None):
    """qmail-smtpd ARGS under tcpserver on 127.0.0.1 (no DNS); yields the
    port. Its stderr (qmail-smtpd's log lines) goes to the file log."""
    port = free_port()
    full = dict(os.environ)
    full.update(env or {})
    log = pathlib.Path(log or pathlib.Path(rules_cdb).parent / f"smtpd-{port}.log")
    with open(log, "ab") as f:
        p = subprocess.Popen(
            ["tcpserver", "-H", "-R", "-l", "localhost", "-x", str(rules_cdb), "-c", "20",
             "127.0.0.1", str(port), bin_path("qmail-smtpd", root), *args],
            env=full, stdout=f, stderr=f)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("tcpserver did not start")
        yield port
    finally:
        p.terminate()
        p.wait(timeout=10)
