# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Planner scale benchmark: prints seconds and peak RSS of ``planner.plan`` per workload.

Run from the collection root:
    PYTHONPATH=build/pytest .venv/bin/python benchmarks/plan.py [--sizes 1000,10000,100000]

Workloads, each in a fresh interpreter so that the peak RSS printed belongs to that run alone:
  * fresh N (1,000 / 10,000 / 100,000): N Services without status, planned over IPv4 ranges,
    an IPv4 /16 and an IPv6 /64 (plus a mixed pool for dual-stack);
  * re-plan 100,000: the same Services already holding addresses (status + pool annotation as
    the controller writes them); the planner must re-claim them all and change nothing.
  * validate 10,000 BGPAdvertisements (one pool, one peer; ``parse_config``, what ``metal-lb
    validate`` runs), the corner where every advertisement was compared with every earlier one;
  * plan 20,000 single-address pools with 20,000 Services waiting for an address, the corner where
    every allocation walked all the pools already full.
Targets (issue 2, item 7, on a 2-core machine): 10,000 fresh <= 1 s, 100,000 fresh <= 10 s,
re-plan 100,000 <= 5 s, <= 300 MB peak RSS; (issue 10, item 9) validate 10,000 BGPAdvertisements
<= 1 s, plan 20,000 single-address pools <= 3 s; these two are judged on CPU seconds (single-threaded
code on a shared machine: wall time there measures the neighbours). The time is ``plan()`` on objects in memory
(config parsing, allocation, events, pool counters); building the objects is not timed but
is part of the peak RSS. Addresses come from the benchmarking block 198.18.0.0/15 and the
documentation prefix 2001:db8::/32: bookkeeping only, nothing is sent anywhere.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

PKG = "ansible_collections.metal.lb.plugins.module_utils"
NAMESPACE = "metallb-system"
TARGETS = {"fresh-10000": 1.0, "fresh-100000": 10.0, "replan-100000": 5.0,
           "validate-bgpadv-10000": 1.0, "single-ip-pools-20000": 3.0}
CORNERS = (("bgpadv", 10_000), ("singles", 20_000))
RSS_TARGET_MB = 300.0
CPU_SECONDS = 0.0  # CPU time of the last timed plan (the machine is shared: wall time is noisier)


def pool(name: str, addresses: list[str], **spec) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": dict(spec, addresses=addresses)}


def pools() -> list[dict]:
    """20 pools of 5 IPv4 ranges of 200 addresses (20,000), an IPv4 /16 (avoidBuggyIPs),
    an IPv6 /64, and a mixed IPv4 range + IPv6 /64 pool where dual-stack services fit."""
    out = [pool("a-ranges-%02d" % p, ["198.18.%d.10-198.18.%d.209" % (p * 5 + r, p * 5 + r) for r in range(5)])
           for p in range(20)]
    out.append(pool("b-slash16", ["198.19.0.0/16"], avoidBuggyIPs=True))
    out.append(pool("c-slash64", ["2001:db8:0:1::/64"]))
    out.append(pool("d-dual", ["198.18.200.0-198.18.255.255", "2001:db8:0:2::/64"]))
    out.append({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                "metadata": {"name": "all", "namespace": NAMESPACE}})
    return out


def service(i: int) -> dict:
    """75% IPv4, 15% IPv6, 10% dual-stack; 5% share an address in groups of four."""
    m = i % 20
    spec: dict = {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
                  "selector": {"app": "app-%d" % i}}
    annotations = {}
    if m < 15:
        spec["clusterIP"] = "10.96.%d.%d" % (i >> 8 & 255, i & 255)
    elif m < 18:
        spec["clusterIP"] = "fd00::%x:%x" % (i >> 16, i & 0xFFFF)
        spec["ipFamilies"] = ["IPv6"]
    else:
        spec["clusterIPs"] = ["10.97.%d.%d" % (i >> 8 & 255, i & 255), "fd00:1::%x:%x" % (i >> 16, i & 0xFFFF)]
        spec["ipFamilies"] = ["IPv4", "IPv6"]
        spec["ipFamilyPolicy"] = "RequireDualStack" if m == 18 else "PreferDualStack"
    if m == 7:
        annotations["metallb.io/allow-shared-ip"] = "group-%d" % (i // 80)
        spec["ports"] = [{"port": 8000 + (i // 20) % 4, "protocol": "TCP"}]
    if "clusterIP" in spec:
        spec["clusterIPs"] = [spec["clusterIP"]]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "svc-%06d" % i, "namespace": "bench-%d" % (i % 50), "annotations": annotations,
                         "creationTimestamp": "2026-01-01T%02d:%02d:%02dZ" % (i // 3600 % 24, i // 60 % 60, i % 60)},
            "spec": spec}


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def timed_plan(objects: list[dict]) -> tuple[float, dict]:
    plan = importlib.import_module(PKG + ".engine.planner").plan
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = plan(objects)
    global CPU_SECONDS
    CPU_SECONDS = time.process_time() - cpu
    return time.perf_counter() - start, result


def summary(result: dict) -> dict:
    services = result["services"].values()
    return {"assigned": sum(s["state"] == "assigned" for s in services),
            "pending": sum(s["state"] == "pending" for s in services),
            "changed": sum(bool(s["changed"]) for s in services),
            "errors": len(result["errors"])}


def key_of(svc: dict) -> str:
    return "%s/%s" % (svc["metadata"]["namespace"], svc["metadata"]["name"])


def run_fresh(n: int, save: str = "") -> dict:
    services = [service(i) for i in range(n)]
    seconds, result = timed_plan(pools() + services)
    out = dict(summary(result), seconds=seconds, cpu_seconds=CPU_SECONDS, peak_rss_mb=rss_mb())
    if save:  # what the controller would write, for the re-plan run: "pool ip [ip]" per Service, in order
        with open(save, "w", encoding="utf-8") as handle:
            for svc in services:
                entry = result["services"][key_of(svc)]
                handle.write(" ".join([entry["pool"] or "-"] + entry["ips"]) + "\n")
    return out


def with_status(svc: dict, ips: list[str], pool_name: str | None) -> dict:
    """``svc`` as the controller leaves it: status ingress and the pool annotation."""
    if ips:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}
        svc["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] = pool_name
    return svc


def run_replan(n: int, state: str = "") -> dict:
    """The Services as the controller left them after a fresh plan (status + pool annotation), re-planned.
    ``state``: saved by the fresh run of the same size, read a line per Service as the Services are built
    (as a YAML/JSON loader would build them: nothing else of the harness stays in memory); without it the
    fresh plan runs here first (untimed, but then part of this process's peak RSS)."""
    if state:
        services = []
        with open(state, encoding="utf-8") as handle:
            for i, line in enumerate(handle):
                pool_name, *ips = line.split()
                services.append(with_status(service(i), ips, None if pool_name == "-" else pool_name))
    else:
        services = [service(i) for i in range(n)]
        _, first = timed_plan(pools() + services)
        written = [(first["services"][key_of(s)]["ips"], first["services"][key_of(s)]["pool"]) for s in services]
        del first
        for svc, (ips, pool_name) in zip(services, written):
            with_status(svc, ips, pool_name)
        del written
    gc.collect()
    seconds, result = timed_plan(pools() + services)
    return dict(summary(result), seconds=seconds, cpu_seconds=CPU_SECONDS, peak_rss_mb=rss_mb())


def bgp_advertisements(n: int) -> list[dict]:
    """A pool, a peer and ``n`` valid BGPAdvertisements of that pool (distinct communities)."""
    out = [pool("p", ["198.18.0.0/16"]),
           {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "router", "namespace": NAMESPACE},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.19.0.1"}}]
    out += [{"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
             "metadata": {"name": "adv-%05d" % i, "namespace": NAMESPACE},
             "spec": {"ipAddressPools": ["p"], "communities": ["64500:%d" % i], "localPref": 100}}
            for i in range(n)]
    return out


def run_bgpadv(n: int, _state: str = "") -> dict:
    objects = bgp_advertisements(n)
    parse_config = importlib.import_module(PKG + ".engine.config.parse").parse_config
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    result = parse_config(objects, namespace=NAMESPACE)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    ok = result.config is not None and len(result.config.bgp_advertisements) == n
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": rss_mb(), "ok": ok,
            "detail": "%d advertisements valid" % (len(result.config.bgp_advertisements) if ok else 0)}


def run_singles(n: int, _state: str = "") -> dict:
    objects = [pool("single-%05d" % i, ["198.18.%d.%d/32" % (i >> 8, i & 255)]) for i in range(n)]
    objects.append({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                    "metadata": {"name": "all", "namespace": NAMESPACE}})
    objects += [service(i * 20) for i in range(n)]  # i * 20: single-stack IPv4, no sharing
    seconds, result = timed_plan(objects)
    got = summary(result)
    return {"seconds": seconds, "cpu_seconds": CPU_SECONDS, "peak_rss_mb": rss_mb(), "ok": got["assigned"] == n,
            "detail": "%d assigned, %d pending" % (got["assigned"], got["pending"])}


def child(kind: str, n: int, state: str = "") -> dict:
    argv = [sys.executable, __file__, "--run", kind, "--services", str(n)]
    if state:
        argv += ["--state", state]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="fresh workload sizes (comma separated)")
    parser.add_argument("--replan", type=int, default=100_000, help="size of the re-plan workload (0: skip)")
    parser.add_argument("--corners", action=argparse.BooleanOptionalAction, default=True,
                        help="also the 10,000 BGPAdvertisements and 20,000 single-address pools workloads")
    parser.add_argument("--run", choices=["fresh", "replan", "bgpadv", "singles"], help=argparse.SUPPRESS)
    parser.add_argument("--services", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--state", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        runner = {"fresh": run_fresh, "replan": run_replan, "bgpadv": run_bgpadv, "singles": run_singles}[args.run]
        print(json.dumps(runner(args.services, args.state)))
        return 0

    runs = [("fresh", int(n)) for n in args.sizes.split(",") if n.strip()]
    if args.replan:
        runs.append(("replan", args.replan))
    print("%-16s %9s %9s %12s %9s %8s %8s" % ("workload", "seconds", "CPU s", "peak RSS MB", "assigned", "pending",
                                             "changed"))
    missed = []
    tmp = tempfile.mkdtemp(prefix="metal-lb-bench-")
    saved: dict[int, str] = {}
    for kind, n in runs:
        if kind == "fresh" and n == args.replan:
            saved[n] = os.path.join(tmp, "written-%d.txt" % n)
            res = child(kind, n, saved[n])
        else:
            res = child(kind, n, saved.get(n, "") if kind == "replan" else "")
        name = "%s-%d" % (kind, n)
        print("%-16s %9.3f %9.3f %12.1f %9d %8d %8d" % (name, res["seconds"], res["cpu_seconds"], res["peak_rss_mb"],
                                                          res["assigned"], res["pending"], res["changed"]))
        if name in TARGETS and res["seconds"] > TARGETS[name]:
            missed.append("%s: %.2f s > %.1f s" % (name, res["seconds"], TARGETS[name]))
        if res["peak_rss_mb"] > RSS_TARGET_MB:
            missed.append("%s: peak RSS %.0f MB > %.0f MB" % (name, res["peak_rss_mb"], RSS_TARGET_MB))
        if kind == "replan" and res["changed"]:
            missed.append("%s: %d services changed on re-plan (expected none)" % (name, res["changed"]))
    shutil.rmtree(tmp, ignore_errors=True)
    if args.corners:
        print()
        print("%-24s %9s %9s %12s %9s  %s" % ("corner", "seconds", "CPU s", "peak RSS MB", "target", "result"))
        for kind, n in CORNERS:
            res = child(kind, n)
            name = ("validate-bgpadv-%d" if kind == "bgpadv" else "single-ip-pools-%d") % n
            met = res["ok"] and res["cpu_seconds"] <= TARGETS[name]
            print("%-24s %9.3f %9.3f %12.1f %8.1fs  %s (%s)" % (name, res["seconds"], res["cpu_seconds"],
                                                               res["peak_rss_mb"], TARGETS[name],
                                                               "MET" if met else "MISSED", res["detail"]))
            if not met:
                missed.append("%s: %.2f CPU s > %.1f s%s" % (name, res["cpu_seconds"], TARGETS[name],
                                                         "" if res["ok"] else " (wrong result: %s)" % res["detail"]))
    print("targets: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
