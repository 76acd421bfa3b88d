#!/usr/bin/env python3
"""Soak benchmark: the live cluster headless for a while, traffic through the VIP, a random failure
or repair every 5 s, and what it costs.

    python3 Benchmarks/soak.py [--minutes 10] [--binary .build/release/hadeck] [--rate 20] [--seed 1]

Runs `hadeck --headless` on loopback addresses of its own (127.71.0.x), so it never meets a
`hadeck` on the default ones. Records the process's resident memory every 30 s, whether it crashed,
the requests that failed outside failover windows (a window opens with each failure command and
closes 12 s after the last one; one repair window too), and whether every command got its event
(or a one-line refusal on stderr). Prints a table and exits 1 when the run shows a problem.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NET = "127.71.0"

# (command, kind): failures open a failover window; each command is answered by an event of its type.
FAILURES = [
    ("kill lb1/haproxy", "process"),
    ("kill lb1/keepalived", "process"),
    ("stop lb1/keepalived", "process"),
    ("poweroff lb1", "host.power"),
    ("kill webA", "backend.process"),
    ("link lb1 down", "link"),
    ("partition lb1 lb2", "link"),
    ("drain webA", "backend.state"),
]
REPAIRS = [("restore lb1", None), ("restore webA", None), ("heal", "link")]


def cluster_files(directory, rate):
    """The article's cluster files moved to NET, stats sockets into `directory`."""
    source = os.path.join(ROOT, "Examples", "article")
    for name in os.listdir(source):
        with open(os.path.join(source, name)) as f:
            text = f.read()
        for a, b in [
            ("127.0.1.", NET + "."),
            ("127.0.2.1", NET + ".21"),
            ("127.0.2.2", NET + ".22"),
            ("127.0.0.99", NET + ".99"),
            ("/tmp/hadeck-lb", directory + "/lb"),
        ]:
            text = text.replace(a, b)
        if name == "cluster.yaml":
            text = text.replace("traffic: {rate: 4, clients: 4, on: true}", "traffic: {rate: %s, clients: 8, on: true}" % rate)
        with open(os.path.join(directory, name), "w") as f:
            f.write(text)
    return os.path.join(directory, "cluster.yaml")


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "hadeck"))
    ap.add_argument("--rate", type=float, default=20, help="requests/s of the built-in browsers")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="hadeck-soak-")
    try:
        cluster = cluster_files(work, args.rate)
        proc = subprocess.Popen(
            [args.binary, "--headless", "--cluster", cluster],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        events = []
        errors = []
        lock = threading.Lock()

        def read_out():
            for line in proc.stdout:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue
                with lock:
                    events.append((time.monotonic(), e))

        def read_err():
            for line in proc.stderr:
                with lock:
                    errors.append((time.monotonic(), line.rstrip()))

        threading.Thread(target=read_out, daemon=True).start()
        threading.Thread(target=read_err, daemon=True).start()
        start = time.monotonic()
        end = start + args.minutes * 60
        rss = [(0, rss_kb(proc.pid))]
        commands = []  # (time, line number, command, kind)
        windows = []  # (start, end) of failover windows
        next_rss = start + 30
        next_cmd = start + 10  # let lb1 become MASTER first
        number = 0
        while time.monotonic() < end and proc.poll() is None:
            now = time.monotonic()
            if now >= next_rss:
                rss.append((round(now - start), rss_kb(proc.pid)))
                next_rss += 30
            if now >= next_cmd:
                failure = rng.random() < 0.5
                command, kind = rng.choice(FAILURES if failure else REPAIRS)
                number += 1
                proc.stdin.write(command + "\n")
                proc.stdin.flush()
                commands.append((now, number, command, kind))
                windows.append((now, now + 12))
                next_cmd += 5
            time.sleep(0.05)
        crashed = proc.poll() is not None
        if not crashed:
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                crashed = True
        time.sleep(0.5)
        with lock:
            evs = list(events)
            errs = list(errors)
        # Requests that failed outside every failover window (and after the first master).
        def in_window(t):
            return any(a <= t <= b for a, b in windows)

        requests = [(t, e) for t, e in evs if e.get("type") == "request"]
        bad = [(t, e) for t, e in requests if e.get("status") != 200 and not in_window(t)]
        # Every command answered: an event of its kind within 3 s, or a stdin error naming its line.
        unanswered = []
        for t, n, command, kind in commands:
            refused = any(msg.startswith("stdin:%d:" % n) for _, msg in errs)
            answered = refused or any(
                t <= et <= t + 3 and (kind is None or e.get("type") == kind) and e.get("type") != "request"
                for et, e in evs)
            if not answered:
                unanswered.append((n, command))
        print("soak: %s for %.1f min, %s req/s, a command every 5 s (seed %d)" % (
            args.binary, args.minutes, args.rate, args.seed))
        print("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
        print("RSS (MB) every 30 s: " + " ".join(
            "%d:%.1f" % (t, kb / 1024) for t, kb in rss if kb is not None))
        after_first_minute = [kb for t, kb in rss if t >= 60 and kb is not None]
        spread = 0.0
        if after_first_minute:
            spread = (max(after_first_minute) - min(after_first_minute)) / min(after_first_minute) * 100
            print("RSS after the first minute: %.1f-%.1f MB, spread %.1f%% of the lowest" % (
                min(after_first_minute) / 1024, max(after_first_minute) / 1024, spread))
        print("crashed: %s" % ("YES" if crashed and proc.returncode not in (0, None) else "no"))
        print("commands: %d sent, %d refused with a reason, %d unanswered" % (
            len(commands), sum(1 for _, n, _, _ in commands if any(m.startswith("stdin:%d:" % n) for _, m in errs)),
            len(unanswered)))
        for n, c in unanswered[:10]:
            print("  unanswered: line %d %s" % (n, c))
        print("requests: %d, non-200 outside failover windows: %d" % (len(requests), len(bad)))
        for t, e in bad[:10]:
            print("  %.1fs %s %s %s" % (t - start, e.get("client"), e.get("status"), e.get("reason")))
        ok = not (crashed and proc.returncode not in (0, None)) and not unanswered and not bad and spread <= 10
        print("result: %s" % ("ok" if ok else "PROBLEMS"))
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
