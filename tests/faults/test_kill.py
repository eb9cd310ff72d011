"""Random SIGKILL of any nqmail process during an SMTP run.

Several Python SMTP clients send NQ_FAULTS_MESSAGES (20,000) messages,
each with a unique token, to qmail-smtpd under tcpserver, delivered to a
Maildir by the running queue. Meanwhile a killer sends SIGKILL, every
tenth of a second or so, to a random process among qmail-send,
qmail-lspawn, qmail-rspawn, qmail-clean, qmail-local, qmail-queue and
qmail-smtpd (at least NQ_FAULTS_KILLS, 200), and plays supervisor: when
qmail-send or one of its helpers is gone it kills what is left of them
and runs qmail-start again, as svscan would.

Afterwards every message answered 250 must be in the Maildir, whole;
duplicates (a delivery killed after its file was in new/ and before it
reported) are allowed, counted and reported.
"""
import os
import random
import signal
import threading
import time

from conftest import report
from faultlib import SmtpInstance, processes_in_sessions, send_many

NAMES = {"qmail-send", "qmail-lspawn", "qmail-rspawn", "qmail-clean", "qmail-local",
         "qmail-queue", "qmail-smtpd"}
DAEMONS = {"qmail-send", "qmail-lspawn", "qmail-rspawn", "qmail-clean"}
MESSAGES = int(os.environ.get("NQ_FAULTS_MESSAGES", "20000"))
KILLS = int(os.environ.get("NQ_FAULTS_KILLS", "200"))
CLIENTS = 8


def restart(si):
    si.stop(signal.SIGKILL, timeout=10)
    si.start()


def test_random_sigkill_loses_no_accepted_message(tmp_path_factory):
    rnd = random.Random(int(os.environ.get("NQ_FAULTS_SEED", "8")))
    si = SmtpInstance(tmp_path_factory, "kill")
    si.add_user("f")
    si.control("concurrencylocal", "10")
    si.start()
    si.start_smtpd()
    tokens = [f"k{i:05d}" for i in range(MESSAGES)]
    accepted, failed = [], []
    stop = threading.Event()
    clients = [threading.Thread(target=send_many,
                                args=(si.port, tokens[k::CLIENTS], "f@test.example", accepted,
                                      failed, stop))
               for k in range(CLIENTS)]
    kills = {n: 0 for n in NAMES}
    restarts = 0
    kills_sending = 0
    t0 = time.monotonic()
    for c in clients:
        c.start()
    try:
        # kill until the clients are done and there were enough kills;
        # spread the kills over the run (several per second)
        deadline = t0 + 900
        while time.monotonic() < deadline:
            sending = any(c.is_alive() for c in clients)
            if not sending and sum(kills.values()) >= KILLS:
                break
            time.sleep(rnd.uniform(0.01, 0.1) if sending else 0.05)
            alive = processes_in_sessions({si.proc.pid, si.smtpd.pid}, NAMES)
            if si.proc.poll() is not None or \
                    not DAEMONS <= {n for _, n in alive}:
                restart(si)
                restarts += 1
                continue
            # half the time any process (so mostly the many short-lived
            # qmail-smtpd, qmail-queue, qmail-local), half the time a
            # random kind (so the daemons too)
            if rnd.random() < 0.5:
                pid, victim = rnd.choice(alive)
            else:
                victim = rnd.choice(sorted({n for _, n in alive}))
                pid = rnd.choice([p for p, n in alive if n == victim])
            try:
                os.kill(pid, signal.SIGKILL)
                kills[victim] += 1
                kills_sending += sending
            except ProcessLookupError:
                pass
        stop.set()
        for c in clients:
            c.join(timeout=120)
        send_secs = time.monotonic() - t0
        # recovery: a complete queue again (still supervised: the last
        # kill may take effect only now), deferred deliveries retried now
        want = set(accepted)
        end = time.monotonic() + 300
        got = {}
        while time.monotonic() < end:
            time.sleep(0.2)
            alive = processes_in_sessions({si.proc.pid}, NAMES)
            if si.proc.poll() is not None or not DAEMONS <= {n for _, n in alive}:
                restart(si)
                restarts += 1
            try:
                si.signal(signal.SIGALRM)
            except ProcessLookupError:
                continue
            got = si.delivered("f")
            if want <= set(got) and not si.queue_files("mess"):
                break
            time.sleep(1)
        got = si.delivered("f")
    finally:
        stop.set()
        si.stop_smtpd()
        si.stop()
    lost = sorted(want - set(got))
    dups = sum(len(v) - 1 for v in got.values())
    partial = sorted(t for t, v in got.items() if not all(v))
    strangers = sorted(t for t in got if t.startswith("?"))
    extra = len(set(got) - want)  # queued, but the 250 never reached the client
    report(f"kill: {MESSAGES} messages sent in {send_secs:.0f} s by {CLIENTS} SMTP clients, "
           f"{len(accepted)} answered 250, {len(failed)} failed (4xx or cut off); "
           f"{sum(kills.values())} SIGKILLs ({kills_sending} while the clients sent; {', '.join(f'{n} {k}' for n, k in sorted(kills.items()))}), "
           f"{restarts} restarts of qmail-start; delivered {len(got)} distinct, lost {len(lost)}, "
           f"duplicates {dups}, delivered without a 250 {extra}, partial {len(partial)}")
    assert sum(kills.values()) >= KILLS
    assert not lost, f"{len(lost)} accepted messages lost, e.g. {lost[:5]}"
    assert not partial, f"half-written deliveries: {partial[:5]}"
    assert not strangers, f"messages without a token: {strangers[:5]}"
    assert len(accepted) > MESSAGES // 2, "most messages should get through"
