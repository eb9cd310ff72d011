"""benchlib: the parts the bench/ scripts share.

- packages: `need()` installs missing Debian packages (Postfix with debconf
  set to "No configuration", so it never becomes the system's mailer);
- ports: `free_port()`, `wait_port()` (loopback only, never port 25);
- load: `message()`, `smtp_source()` (Postfix's load generator),
  `Sink` (smtp-sink and its running message count), `send_tagged()`
  (Python SMTP clients in several processes, one time stamp per message),
  `maildir_latencies()`;
- the machine: `raw_fsync_rate()` (create+write+fsync+close per second,
  the ceiling of any durable queue on that file system);
- memory: `MemWatch`, the peak VmHWM of every process under given roots;
- the two MTAs: `Nqmail` (an installed tree, tcpserver + qmail-smtpd,
  qmail-start) and `Postfix` (its own config, queue and data directories,
  run in the foreground with `postfix start-fg`; nothing in /etc/postfix
  is touched, nothing listens on port 25).

Everything runs as root (Postfix needs it); delivery to a Maildir runs as
the unprivileged user `nobody` for both MTAs.
"""
import multiprocessing
import os
import pathlib
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


# ---- packages, ports


def need(pkgs):
    """Installs the Debian packages in pkgs that are missing."""
    missing = [p for p in pkgs if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL).stdout.decode().find("install ok installed") < 0]
    if not missing:
        return
    if os.geteuid() != 0:
        sys.exit("bench: please install " + " ".join(missing))
    print("bench: installing " + " ".join(missing), flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["debconf-set-selections"], input=b"postfix postfix/main_mailer_type "
                   b"select No configuration\n", check=True)
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
                   env=env, check=True, stdout=subprocess.DEVNULL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, limit=30):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"bench: nothing listens on port {port}")


def wait_for(pred, limit, step=0.05):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def wait_for_count(count, want, stall=300, step=0.1):
    """Waits until count() >= want, giving up only when it has not grown
    for stall seconds (a lost message then ends the run in minutes, not
    after an hour). Returns the last count."""
    last, since = count(), time.monotonic()
    while last < want:
        time.sleep(step)
        n = count()
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > stall:
            break
    return last


def missing_tags(md, n):
    """The X-Bench-Id numbers below n that are not in Maildir md's new/."""
    new = pathlib.Path(md) / "new"
    seen = {bench_id(new / name) for name in os.listdir(new)}
    return [i for i in range(n) if i not in seen]


# ---- the machine


def raw_fsync_rate(directory, writers=1, seconds=3.0, size=4096):
    """Files created, written, fsynced and closed per second by writers
    threads in directory (then removed)."""
    d = pathlib.Path(directory) / f"rawfsync.{os.getpid()}"
    d.mkdir(parents=True, exist_ok=True)
    data = b"x" * size
    counts = [0] * writers
    end = time.monotonic() + seconds

    def work(i):
        n = 0
        while time.monotonic() < end:
            fn = d / f"{i}.{n}"
            fd = os.open(fn, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.unlink(fn)
            n += 1
        counts[i] = n

    t0 = time.monotonic()
    ts = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    shutil.rmtree(d, ignore_errors=True)
    return sum(counts) / (time.monotonic() - t0)


# ---- load


def message(size, headers=b""):
    head = b"From: bench@source.example\nTo: rcpt@bench.example\nSubject: bench\n" + headers + b"\n"
    line = b"x" * 70 + b"\n"
    return head + line * max(1, (size - len(head)) // len(line))


def smtp_source(port, count, size, sessions, rcpt, sender="bench@source.example"):
    """Postfix's smtp-source: count messages of size bytes over sessions
    parallel sessions, one message per connection; returns the seconds."""
    t0 = time.monotonic()
    src = subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(count), "-l", str(size),
                          "-f", sender, "-t", rcpt, "-M", "source.example", f"127.0.0.1:{port}"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if src.returncode != 0:
        sys.exit("bench: smtp-source: " + src.stdout.decode(errors="replace")[-2000:])
    return time.monotonic() - t0


class Sink:
    """smtp-sink -c: its running counters tell how many messages arrived."""

    def __init__(self):
        self.port = free_port()
        self.count = 0
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "root", "-c", f"127.0.0.1:{self.port}", "1024"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        threading.Thread(target=self._read, daemon=True).start()
        wait_port(self.port)

    def _read(self):
        buf = b""
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                return
            buf = (buf + chunk)[-256:]
            m = re.findall(rb"mesg=(\d+)", buf)
            if m:
                self.count = int(m[-1])

    def wait(self, target, limit=1800):
        if not wait_for(lambda: self.count >= target, limit, 0.02):
            sys.exit(f"bench: the sink got {self.count} of {target} messages")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _client(args):
    port, first, count, size, rcpt, tag = args
    stamps = []
    body = message(size, b"X-Bench-Id: %s-%d\n").replace(b"\n", b"\r\n")  # bytes go as they are
    s = None
    for i in range(first, first + count):
        if s is None:
            s = smtplib.SMTP("127.0.0.1", port, local_hostname="source.example", timeout=120)
        t = time.time()
        s.sendmail("bench@source.example", [rcpt], body.replace(b"%s-%d", b"%s-%d" % (
            tag.encode(), i), 1))
        stamps.append((i, t))
        # a new connection every 10 messages: some sessions, not one per message
        if i % 10 == 9:
            s.quit()
            s = None
    if s is not None:
        s.quit()
    return stamps


def send_tagged(port, count, size, sessions, rcpt, tag):
    """count messages, each with a header X-Bench-Id: TAG-N, over sessions
    client processes; returns {N: time the message's transaction began}."""
    per = [count // sessions + (1 if k < count % sessions else 0) for k in range(sessions)]
    jobs, first = [], 0
    for n in per:
        jobs.append((port, first, n, size, rcpt, tag))
        first += n
    with multiprocessing.Pool(sessions) as pool:
        out = {}
        for stamps in pool.map(_client, jobs):
            out.update(stamps)
    return out


def maildir_count(md):
    return len(os.listdir(pathlib.Path(md) / "new"))


ID_RE = re.compile(rb"^X-Bench-Id: [^-\n]+-(\d+)\r?$", re.M)


def bench_id(path):
    """The number in a delivered message's X-Bench-Id, or None."""
    with open(path, "rb") as f:
        m = ID_RE.search(f.read(8192))
    return int(m.group(1)) if m else None


def maildir_latencies(md, sent):
    """Seconds from each message's send time to its file's mtime in new/
    (the moment the delivery wrote it), sorted; and the last mtime."""
    lat, last = [], 0.0
    new = pathlib.Path(md) / "new"
    for name in os.listdir(new):
        p = new / name
        i = bench_id(p)
        mt = p.stat().st_mtime
        last = max(last, mt)
        if i in sent:
            lat.append(max(0.0, mt - sent[i]))
    lat.sort()
    return lat, last


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


# ---- memory


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _status(pid):
    name, hwm = None, None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Name:"):
                    name = line.split()[1]
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        return None
    return (name, hwm) if name and hwm is not None else None


class MemWatch:
    """Polls every process under the root pids; remembers each process's
    name and peak VmHWM (kB)."""

    # started per connection, per message or per delivery, or only to
    # start the daemons: not long-running
    TRANSIENT = {"qmail-smtpd", "qmail-queue", "qmail-local", "qmail-remote", "qmail-start",
                 "postfix", "postfix-script", "postsuper", "postlog", "sh", "sed", "cat"}

    def __init__(self, interval=0.25):
        self.roots = set()
        self.procs = {}  # pid -> [name, hwm]
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._t.start()

    def add(self, pid):
        self.roots.add(pid)
        self.poll()

    def _run(self, interval):
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(interval)

    def poll(self):
        kids = _children_map()
        todo, seen = list(self.roots), set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            todo.extend(kids.get(pid, ()))
            st = _status(pid)
            if not st:
                continue
            rec = self.procs.setdefault(pid, [st[0], 0])
            rec[0] = st[0]
            rec[1] = max(rec[1], st[1])

    def stop(self):
        self._stop.set()
        self._t.join()
        self.poll()

    def long_running(self):
        """{name: (peak VmHWM kB of one such process, how many were seen)}
        for the daemons (every name not in TRANSIENT)."""
        out = {}
        for name, hwm in self.procs.values():
            if name in self.TRANSIENT:
                continue
            peak, n = out.get(name, (0, 0))
            out[name] = (max(peak, hwm), n + 1)
        return out


# ---- the MTAs

BENCH_USER = "nobody"


def bench_home(base):
    """A home with a Maildir, owned by the delivery user."""
    pw = pwd.getpwnam(BENCH_USER)
    home = pathlib.Path(base) / "home"
    for d in ("tmp", "new", "cur"):
        (home / "Maildir" / d).mkdir(parents=True, exist_ok=True)
    for p in (home, home / "Maildir", *[home / "Maildir" / d for d in ("tmp", "new", "cur")]):
        os.chown(p, pw.pw_uid, pw.pw_gid)
    return home, pw.pw_uid, pw.pw_gid


def _kill_group(proc, sig=signal.SIGTERM, limit=60):
    if proc is None:
        return
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout=limit)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


class Nqmail:
    """A fresh nqmail instance: the install root base/root is removed and
    installed again from build dir base/build (the root is compiled in, so
    it stays the same path and nothing is recompiled between instances);
    the Maildir user's home is base/home."""

    name = "nqmail"

    def __init__(self, base, me="bench.example"):
        self.base = pathlib.Path(base)
        builddir = pathlib.Path(os.environ.get("BENCH_BUILDDIR", self.base / "build"))
        self.root = self.base / "root"
        for p in (self.root, self.base / "home", self.base / "send.log"):
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        r = subprocess.run(["make", "-s", "-C", str(REPO), "install", f"BUILDDIR={builddir}",
                            f"PREFIX={self.root}"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, env=dict(os.environ, NQ_INSTALL_MODE="user"))
        if r.returncode != 0:  # the linker's static-glibc warnings are noise otherwise
            sys.exit("bench: make install failed:\n" + r.stderr.decode(errors="replace"))
        self.control("me", me)
        self.control("rcpthosts", me)
        self.control("locals", me)
        self.home, uid, gid = bench_home(self.base)
        (self.home / ".qmail").write_text("./Maildir/\n")
        (self.root / "users/assign").write_text(
            f"=u:{BENCH_USER}:{uid}:{gid}:{self.home}:::\n.\n")
        subprocess.run([str(self.root / "bin/qmail-newu")], cwd=self.root, check=True)
        self.maildir = self.home / "Maildir"
        self.smtpd = self.send = None
        self.port = None
        self.log = open(self.base / "send.log", "wb")

    def control(self, name, text):
        (self.root / "control" / name).write_text(str(text) + "\n")

    def start_smtpd(self, watch=None):
        self.port = free_port()
        rules = self.base / "tcp.smtp"
        rules.write_text('127.:allow,RELAYCLIENT=""\n:allow\n')
        subprocess.run(["tcprules", f"{rules}.cdb", f"{rules}.tmp"], stdin=open(rules),
                       check=True)
        # A user instance: the tree belongs to root, so qmail-smtpd runs
        # as root too (qmail-queue is not setuid in a user instance).
        self.smtpd = subprocess.Popen(
            ["tcpserver", "-q", "-H", "-R", "-l", "bench", "-c", "200", "-b", "100",
             "-x", f"{rules}.cdb",
             "127.0.0.1", str(self.port), str(self.root / "bin/qmail-smtpd")],
            stdin=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port)
        if watch:
            watch.add(self.smtpd.pid)

    def start_send(self, watch=None):
        logf = self.base / "send.log"
        start = logf.stat().st_size
        self.send = subprocess.Popen([str(self.root / "bin/qmail-start"), "./Maildir/"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(lambda: b"status:" in logf.read_bytes()[start:], 30)
        if watch:
            watch.add(self.send.pid)

    def hold_remote(self):
        """Remote deliveries fail temporarily (no qmail-remote): remote mail
        stays queued."""
        (self.root / "bin/qmail-remote").unlink(missing_ok=True)

    def queued(self):
        return len(os.listdir(self.root / "queue/mess"))

    def settle_backlog(self, count, limit=3600):
        """Waits until qmail-send has taken in and tried every queued
        message once (its remote deliveries fail: see hold_remote)."""
        logf = self.base / "send.log"
        wait_for(lambda: not os.listdir(self.root / "queue/todo"), limit, 0.5)
        wait_for(lambda: logf.read_bytes().count(b"deferral:") >= count, limit, 0.5)

    def stop(self):
        _kill_group(self.smtpd)
        _kill_group(self.send)
        self.smtpd = self.send = None
        self.log.close()


POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  {conc} smtp
relay     unix  - - n -  {conc} smtp
showq     unix  n - n -  - showq
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
local     unix  - n n -  - local
virtual   unix  - n n -  - virtual
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/queue
data_directory = {dir}/data
maillog_file = /dev/stdout
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.postfix.example
mydomain = postfix.example
myorigin = $myhostname
mydestination =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
in_flow_delay = 0
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
message_size_limit = 10240000
biff = no
smtputf8_enable = no
default_destination_concurrency_limit = {conc}
initial_destination_concurrency = {conc}
smtp_destination_concurrency_limit = {conc}
virtual_destination_concurrency_limit = {conc}
virtual_mailbox_domains = bench.example
virtual_mailbox_base = {home}
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
"""


class Postfix:
    """Postfix with its own configuration under base; mail for
    @bench.example goes to one Maildir through Postfix's virtual(8)
    agent as the bench user; other mail is relayed to relay (host:port)
    or, with hold_remote, deferred (defer_transports = smtp, relay); with
    hold_all every message stops in the hold queue at the end of DATA."""

    name = "postfix"

    def __init__(self, base, conc=20, relay=None, hold_remote=False, hold_all=False):
        self.base = pathlib.Path(base)
        if self.base.exists():
            shutil.rmtree(self.base)
        for d in ("queue", "data"):
            (self.base / d).mkdir(parents=True)
        os.chmod(self.base, 0o755)
        shutil.chown(self.base / "data", "postfix")
        self.home, uid, gid = bench_home(self.base)
        self.maildir = self.home / "Maildir"
        self.port = free_port()
        cf = POSTFIX_MAIN_CF.format(dir=self.base, conc=conc, home=self.home, uid=uid, gid=gid)
        if relay:
            cf += f"relayhost = [127.0.0.1]:{relay}\n"
        else:
            cf += "relay_domains = remote.example\n"
        if hold_remote:
            # relay_domains go through the relay transport: both wait
            cf += "defer_transports = smtp, relay\n"
        if hold_all:
            cf += "smtpd_end_of_data_restrictions = check_client_access static:HOLD\n"
        (self.base / "main.cf").write_text(cf)
        (self.base / "master.cf").write_text(POSTFIX_MASTER_CF.format(port=self.port, conc=conc))
        self.log = open(self.base / "maillog", "wb")
        self.master = None

    def start(self, watch=None):
        self.master = subprocess.Popen(["postfix", "-c", str(self.base), "start-fg"],
                                       stdout=self.log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port)
        if watch:
            watch.add(self.master.pid)

    def _count(self, *queues):
        return sum(len(f) for q in queues for _, _, f in os.walk(self.base / "queue" / q))

    def queued(self):
        return self._count("incoming", "active", "deferred", "hold", "maildrop")

    def settle_backlog(self, count, limit=3600):
        """Waits until every queued message is in the deferred queue."""
        wait_for(lambda: self._count("deferred") >= count, limit, 0.5)

    def stop(self):
        if self.master is None:
            return
        subprocess.run(["postfix", "-c", str(self.base), "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.master.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.master.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.master = None
        self.log.close()
