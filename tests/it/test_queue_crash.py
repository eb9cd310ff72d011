"""Crash safety: 2,000 injections while qmail-send, qmail-lspawn and
qmail-local are killed with SIGKILL at random moments (at least 50 kills).
A supervisor loop restarts qmail-start whenever qmail-send dies, as
daemontools would. Afterwards every message whose qmail-queue exited 0
must be in the Maildir; duplicates are counted and reported.
"""
import collections
import os
import random
import signal
import threading
import time

from queuelib import QueueInstance, processes, wait_until

N = 2000
MIN_KILLS = 50


def group_procs(pgid):
    """(pid, comm) of every process in the process group pgid."""
    return [(pid, name) for pid, name, pg, _ in processes() if pg == pgid]


def test_no_acknowledged_message_is_lost(tmp_path_factory):
    q = QueueInstance(tmp_path_factory, "crash")
    q.add_user("c")
    q.control("concurrencylocal", "20")
    lock = threading.Lock()
    stop = threading.Event()
    acked = set()
    failed_inject = collections.Counter()
    kills = collections.Counter()
    starts = [0]
    pgids = set()

    def supervise():
        while not stop.is_set():
            with lock:
                if q.proc is None or q.proc.poll() is not None:
                    if q.proc is not None:
                        q.proc = None
                        q.log.close()
                    q.start()
                    pgids.add(q.proc.pid)
                    starts[0] += 1
            time.sleep(0.02)

    def inject(worker, count):
        for i in range(worker, N, count):
            msg = f"Subject: crash-{i}\nMessage-ID: <crash-{i}@test>\n\nmessage {i}\n" + "x" * (i % 3000)
            code, _ = q.inject(msg, recips=["c@test.example"])
            if code == 0:
                with lock:
                    acked.add(i)
            else:
                failed_inject[code] += 1

    def killer():
        rnd = random.Random(20261126)
        while not stop.is_set():
            time.sleep(rnd.uniform(0.05, 0.25))
            want = rnd.choice(["qmail-send", "qmail-lspawn", "qmail-local", "qmail-local"])
            # A qmail-local lives a millisecond or two: look for one many
            # times, or on a slow or busy machine none is ever caught.
            targets = []
            for _ in range(200 if want == "qmail-local" else 1):
                with lock:
                    if q.proc is None:
                        break
                    procs = group_procs(q.proc.pid)
                targets = [p for p, c in procs if c == want]
                if targets:
                    break
                time.sleep(0.001)
            if not targets:
                continue
            try:
                os.kill(rnd.choice(targets), signal.SIGKILL)
                kills[want] += 1
            except ProcessLookupError:
                pass

    sup = threading.Thread(target=supervise, daemon=True)
    sup.start()
    wait_until(lambda: starts[0] >= 1, 30, "first start")
    kill_thread = threading.Thread(target=killer, daemon=True)
    kill_thread.start()
    injectors = [threading.Thread(target=inject, args=(w, 8)) for w in range(8)]
    t0 = time.time()
    for t in injectors:
        t.start()
    for t in injectors:
        t.join(timeout=300)
    # keep killing until enough kills happened (bounded)
    end = time.time() + 60
    while sum(kills.values()) < MIN_KILLS and time.time() < end:
        time.sleep(0.1)
    stop.set()
    kill_thread.join(timeout=10)
    sup.join(timeout=10)
    inject_time = time.time() - t0

    # a final, undisturbed run: make everything due and wait for an empty
    # queue, still restarting qmail-send if a late kill of qmail-lspawn
    # makes it exit (it leaves once that helper's last delivery is over)
    end = time.time() + 120
    while time.time() < end and q.queue_files("mess"):
        if q.proc is None or q.proc.poll() is not None:
            if q.proc is not None:
                q.proc = None
                q.log.close()
            q.start()
            starts[0] += 1
        q.signal(signal.SIGALRM)
        time.sleep(1)
    remaining = q.queue_files("mess")
    q.stop()

    seen = collections.Counter()
    for m in q.messages("c"):
        seen[m["Subject"]] += 1
    delivered = {int(s.split("-")[1]) for s in seen}
    lost = sorted(acked - delivered)
    dups = sum(n - 1 for n in seen.values() if n > 1)
    print(f"\ncrash test: {len(acked)} acknowledged of {N}, injection failures "
          f"{dict(failed_inject)}, kills {dict(kills)}, qmail-start runs {starts[0]}, "
          f"delivered {len(delivered)}, duplicates {dups}, lost {len(lost)}, "
          f"left in queue {len(remaining)}, {inject_time:.1f}s")
    assert sum(kills.values()) >= MIN_KILLS, kills
    assert kills["qmail-send"] and kills["qmail-lspawn"] and kills["qmail-local"], kills
    assert len(acked) >= N * 0.9
    assert not lost, f"lost {len(lost)} acknowledged messages: {lost[:20]}"
    assert not remaining
