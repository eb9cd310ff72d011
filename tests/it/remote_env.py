"""Helpers for the qmail-remote tests: a real DNS server (dnsmasq), real
SMTP receivers (Postfix's smtp-sink, aiosmtpd, a scripted raw server),
control files for the install root, and a parser for qmail-remote's
result protocol. Imported by tests/it/test_remote_*.py."""
import asyncio
import contextlib
import os
import pathlib
import shutil
import socket
import struct
import tempfile
import subprocess
import threading
import time

from conftest import PREFIX, bin_path, free_port, run

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"


def free_port_both():
    """A port free on both 127.0.0.1 and ::1 (for MX tests that put one
    exchanger on each address)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no port free on both loopback addresses")


def _dns_query(port, name, qtype=1):
    q = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.3)
        s.sendto(q, ("127.0.0.1", port))
        return s.recv(4096)


class Dns:
    """dnsmasq on 127.0.0.1, authoritative for .test only (anything else
    is REFUSED: a temporary failure for qmail-remote)."""

    def __init__(self, *records):
        self.port = free_port()
        args = [DNSMASQ, "-k", "--no-resolv", "--no-hosts",
                f"--port={self.port}", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--pid-file=", "--local=/test/",
                "--host-record=ready.test,127.0.0.9"]
        args += list(records)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq: " + self.proc.stderr.read().decode())
            try:
                _dns_query(self.port, "ready.test")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dnsmasq did not answer")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Remote:
    """The shared install root set up for qmail-remote; control files
    written here are removed again at teardown."""

    def __init__(self, prefix=PREFIX):
        self.prefix = pathlib.Path(prefix)
        self.control = self.prefix / "control"
        self.saved = {}
        (self.prefix / "queue" / "lock").mkdir(parents=True, exist_ok=True)
        self.ctl("helohost", "relay.nqmail.test\n")
        # Our receivers live on loopback addresses, which are ours: say
        # they are not, except where a test proves the opposite.
        self.ctl("notipme", "127.0.0.1\n::1\n")

    def ctl(self, name, text):
        path = self.control / name
        if name not in self.saved:
            self.saved[name] = path.read_bytes() if path.exists() else None
        if text is None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        else:
            path.write_text(text)

    def use_dns(self, dns):
        self.ctl("dnsservers", f"127.0.0.1:{dns.port}\n")

    def restore(self):
        for name, data in self.saved.items():
            path = self.control / name
            if data is None:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            else:
                path.write_bytes(data)
        run([bin_path("qmail-tcpok", self.prefix)])

    def send(self, host, sender, recips, message, timeout=60):
        """Runs qmail-remote; returns (reports, CompletedProcess), reports
        being a list of (letter, text) in order."""
        # As under qmail-rspawn, the message is a file on fd 0.
        with tempfile.TemporaryFile() as f:
            f.write(message)
            f.seek(0)
            p = subprocess.run([bin_path("qmail-remote", self.prefix), host, sender] + list(recips),
                               stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout)
        return parse_reports(p.stdout), p


def parse_reports(out):
    assert out.endswith(b"\0"), out
    parts = out[:-1].split(b"\0")
    return [(p[:1].decode(), p[1:].decode("utf-8", "replace")) for p in parts]


class SmtpSink:
    """Postfix's smtp-sink; extra args set its failure modes. Each
    transaction is dumped to a file in dumpdir."""

    def __init__(self, tmp_path, *args, host="127.0.0.1", port=None):
        self.port = port or free_port()
        self.dumpdir = tmp_path / f"sink-{self.port}"
        self.dumpdir.mkdir()
        # smtp-sink insists on -u when started by root; root keeps the
        # dump directory (under pytest's private tmp) writable.
        user = ["-u", "root"] if os.getuid() == 0 else []
        addr = f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"
        self.proc = subprocess.Popen(
            [SMTP_SINK] + user + ["-d", f"{self.dumpdir}/%M."] + list(args) + [addr, "64"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_listening(host, self.port)

    def dumps(self):
        """The messages received. (smtp-sink opens a dump file for every
        transaction; one that ended before the message stays empty.)"""
        files = [p.read_bytes() for p in self.dumpdir.iterdir() if p.is_file()]
        return sorted(d for d in files if d)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def wait_listening(host, port, limit=10):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.time() + limit
    while time.time() < deadline:
        with socket.socket(family) as s:
            if s.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {host}:{port}")


class Recorder:
    """An aiosmtpd handler that keeps what it receives and answers as told:
    rcpt_replies maps a recipient to its reply, mail_reply / data_reply
    replace the 250s, data_delay makes DATA hang that many seconds."""

    def __init__(self, rcpt_replies=None, mail_reply=None, data_reply=None, data_delay=0):
        self.rcpt_replies = rcpt_replies or {}
        self.mail_reply = mail_reply
        self.data_reply = data_reply
        self.data_delay = data_delay
        self.messages = []   # (mail_from, rcpt_tos, mail_options, content bytes)
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              list(envelope.mail_options), envelope.original_content))
        return "250 2.0.0 queued"


class Aio:
    """aiosmtpd (Debian's python3-aiosmtpd) on host:port."""

    def __init__(self, handler, host="127.0.0.1", port=None, line_limit=None, **kw):
        from aiosmtpd.controller import Controller

        from aiosmtpd.smtp import SMTP

        class Server(SMTP):
            # the stream reader takes its limit from the class at creation
            line_length_limit = line_limit or SMTP.line_length_limit

        class Ctl(Controller):
            def factory(self):
                return Server(self.handler, **self.SMTP_kwargs)

        self.handler = handler
        self.port = port or free_port()
        self.controller = Ctl(handler, hostname=host, port=self.port, **kw)
        self.controller.start()

    def stop(self):
        self.controller.stop()


class RawServer:
    """A scripted SMTP server for what the real ones cannot be made to do:
    script(conn) runs for each connection in a thread."""

    def __init__(self, script, host="127.0.0.1", port=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port or 0))
        self.port = self.sock.getsockname()[1]
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.script = script
        self.connections = 0
        self.log = []
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(10)
            try:
                self.script(self, conn)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=5)
        self.sock.close()


def read_line(conn, limit=10):
    data = b""
    deadline = time.time() + limit
    while not data.endswith(b"\n") and time.time() < deadline:
        chunk = conn.recv(1)
        if not chunk:
            break
        data += chunk
    return data
