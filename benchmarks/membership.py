#!/usr/bin/env python3
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speaker membership figures over real UDP on 127.0.0.1 (prints them; asserts nothing).

1. detection: N=3 (this process observes; two member processes), the "victim" process is
   SIGKILLed at a random phase of the heartbeat cycle, 10 trials: time until it leaves the
   observer's live set, p50/p95/max ms. Default detection timers (heartbeat 100 ms, failure
   timeout 350 ms); only the stable period is shortened (0.3 s) so a restarted victim is
   eligible again quickly between trials - it does not enter the detection time.
2. cost at idle, N=3 and N=20 member processes, default config: per-node CPU (% of one core)
   and datagrams/s sent and received, over a 5 s window after convergence.

Run: PYTHONPATH=<dir holding ansible_collections> python benchmarks/membership.py  (< 60 s)
Targets (issue 4): detection well under 1 s with defaults; the failover budget is p50 <= 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time

PKG = "ansible_collections.metal.lb.plugins.module_utils.adapters.membership"
KEY = b"benchmark-key-not-secret-0123456789"
WINDOW = 5.0


def _import():
    import importlib
    return (importlib.import_module(PKG + ".detector"), importlib.import_module(PKG + ".service"))


# ------------------------------------------------------------------- worker side

def worker(name: str, config_json: str) -> None:
    """One member in its own process; JSON lines on stdin/stdout drive it."""
    detector, service = _import()
    cfg = detector.DetectorConfig(**json.loads(config_json))
    m = service.MembershipThread(name, ("127.0.0.1", 0), [KEY], config=cfg)
    m.start()
    print(json.dumps({"port": m.service.address[1]}), flush=True)
    try:
        for line in sys.stdin:
            cmd = json.loads(line)
            if "members" in cmd:
                m.set_known_members({n: tuple(a) for n, a in cmd["members"].items()})
            elif cmd.get("stats"):
                s = m.stats()
                print(json.dumps({"cpu": time.process_time(), "sent": s["datagrams_sent"],
                                  "received": s["datagrams_received"], "live": s["live"]}), flush=True)
    finally:
        m.stop(graceful=False)


# ------------------------------------------------------------------- parent side

class Proc:
    def __init__(self, name: str, config: dict) -> None:
        self.name = name
        self.p = subprocess.Popen([sys.executable, __file__, "--worker", name, json.dumps(config)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self._line(10.0))["port"]

    def _line(self, timeout: float) -> str:
        out: list[str] = []
        t = threading.Thread(target=lambda: out.append(self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not out or not out[0]:
            raise RuntimeError(f"worker {self.name} did not answer")
        return out[0]

    def send(self, obj: dict) -> None:
        self.p.stdin.write(json.dumps(obj) + "\n")
        self.p.stdin.flush()

    def stats(self) -> dict:
        self.send({"stats": True})
        return json.loads(self._line(5.0))

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(5)


def wait_until(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.005)
    return pred()


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def detection(trials: int) -> list[float]:
    detector, service = _import()
    fields = {"stable_period": 0.3, "settle_timeout": 0.3}
    cfg = detector.DetectorConfig(**fields)
    changes: list[tuple[float, frozenset]] = []
    lock = threading.Lock()

    def record(live: frozenset) -> None:
        with lock:
            changes.append((time.monotonic(), live))

    obs = service.MembershipThread("observer", ("127.0.0.1", 0), [KEY], config=cfg, on_change=record)
    procs: list[Proc] = []
    results: list[float] = []
    try:
        obs.start()
        other = Proc("other", fields)
        procs.append(other)
        for _ in range(trials):
            victim = Proc("victim", fields)
            procs.append(victim)
            members = {"observer": ("127.0.0.1", obs.service.address[1]),
                       "other": ("127.0.0.1", other.port), "victim": ("127.0.0.1", victim.port)}
            obs.set_known_members(members)
            other.send({"members": members})
            victim.send({"members": members})
            if not wait_until(lambda: obs.live_members() == frozenset(members), 10.0):
                raise RuntimeError(f"no convergence: {sorted(obs.live_members())}")
            time.sleep(0.3 + random.random() * cfg.heartbeat_interval)  # random heartbeat phase
            t_kill = time.monotonic()
            victim.kill()
            if not wait_until(lambda: "victim" not in obs.live_members(), 10.0):
                raise RuntimeError("killed member never left the live set")
            with lock:
                t_out = min(t for t, live in changes if t >= t_kill and "victim" not in live)
            results.append((t_out - t_kill) * 1000)
    finally:
        for p in procs:
            p.kill()
        obs.stop(graceful=False)
    return results


def idle_cost(n: int) -> dict:
    procs: list[Proc] = []
    try:
        for i in range(n):
            procs.append(Proc(f"node{i:02d}", {}))
        members = {p.name: ("127.0.0.1", p.port) for p in procs}
        for p in procs:
            p.send({"members": members})
        if not wait_until(lambda: all(len(p.stats()["live"]) == n for p in procs), 20.0):
            raise RuntimeError(f"N={n}: no convergence")
        before = {p.name: p.stats() for p in procs}
        t0 = time.monotonic()
        time.sleep(WINDOW)
        after = {p.name: p.stats() for p in procs}
        dt = time.monotonic() - t0
        cpu = [(after[k]["cpu"] - before[k]["cpu"]) / dt * 100 for k in before]
        sent = [(after[k]["sent"] - before[k]["sent"]) / dt for k in before]
        recv = [(after[k]["received"] - before[k]["received"]) / dt for k in before]
        return {"cpu_mean": statistics.mean(cpu), "cpu_max": max(cpu), "sent": statistics.mean(sent),
                "recv": statistics.mean(recv)}
    finally:
        for p in procs:
            p.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("NAME", "CONFIG_JSON"), help=argparse.SUPPRESS)
    ap.add_argument("--trials", type=int, default=10)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    t_start = time.monotonic()
    ms = detection(args.trials)
    print(f"detection of a SIGKILLed member, N=3, {len(ms)} trials: p50 {pct(ms, 50):.0f} ms, "
          f"p95 {pct(ms, 95):.0f} ms, max {max(ms):.0f} ms  (all: {', '.join(f'{x:.0f}' for x in ms)})")
    for n in (3, 20):
        c = idle_cost(n)
        print(f"idle, N={n}: CPU per node {c['cpu_mean']:.2f} % of a core (max {c['cpu_max']:.2f} %), "
              f"datagrams/s per node: {c['sent']:.1f} sent, {c['recv']:.1f} received")
    print(f"total {time.monotonic() - t_start:.1f} s (machine: {os.cpu_count()} CPUs, shared)")


if __name__ == "__main__":
    main()
