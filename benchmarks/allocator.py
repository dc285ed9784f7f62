# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Allocator scale benchmark: prints seconds and memory, checks the targets.

Run (from the collection root, with the usual symlink farm):
    PYTHONPATH=/tmp/acol python benchmarks/allocator.py [--services N]

Targets (issue "The engine", item 3): 100k fresh allocations over IPv4 ranges, an IPv4 /16
and an IPv6 /64 in <= 3 s; re-claiming 100k allocations in <= 2 s; an IPv6 /48 pool costs
the same memory as a /120; <= 150 MB peak RSS at 100k allocations.
Addresses come from the benchmarking block 198.18.0.0/15 and the documentation prefix
2001:db8::/32 (no traffic is sent; this is bookkeeping only).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import os
import resource
import subprocess
import sys
import time
import tracemalloc

PKG = "ansible_collections.metal.lb.plugins.module_utils"
HERE = os.path.dirname(os.path.abspath(__file__))


ADDRESSES_SOURCE = ""


def _load_segment_builder():
    """parse_entry from module_utils.addresses; while that module does not exist yet, the
    allocator tests' stand-ins (tests/unit/.../allocator/conftest.py) are used instead."""
    global ADDRESSES_SOURCE
    try:
        found = importlib.import_module(PKG + ".engine.addresses").parse_entry
        ADDRESSES_SOURCE = "module_utils.addresses"
        return found
    except (ModuleNotFoundError, AttributeError):
        ADDRESSES_SOURCE = "test stand-ins (module_utils.addresses missing)"
        path = os.path.join(
            HERE, "..", "tests", "unit", "plugins", "module_utils", "allocator", "conftest.py"
        )
        spec = importlib.util.spec_from_file_location("allocator_test_conftest", path)
        conftest = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(conftest)  # installs the stand-ins if the real modules are missing
        return conftest.Build.segment


parse_entry = _load_segment_builder()
allocator_mod = importlib.import_module(PKG + ".engine.allocator.allocator")
model = importlib.import_module(PKG + ".engine.model")
Allocator, ServiceRef, DUAL = allocator_mod.Allocator, allocator_mod.ServiceRef, allocator_mod.DUAL


def pool(name, *entries, avoid=False):
    return model.Pool(name=name, segments=tuple(parse_entry(e) for e in entries), avoid_buggy_ips=avoid)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def mixed_pools():
    pools = {}
    # 10 pools of 5 IPv4 ranges of 200 addresses each (10,000 addresses), inside 198.18.0.0/16
    for p in range(10):
        entries = [f"198.18.{p * 5 + r}.10-198.18.{p * 5 + r}.209" for r in range(5)]
        pools[f"a-ranges-{p:02d}"] = pool(f"a-ranges-{p:02d}", *entries)
    pools["b-slash64"] = pool("b-slash64", "2001:db8::/64")  # IPv6-only services land here
    # the IPv4 /16 (avoidBuggyIPs) with an IPv6 /64 beside it: the only pool dual-stack fits in
    pools["c-slash16"] = pool("c-slash16", "198.19.0.0/16", "2001:db8:0:1::/64", avoid=True)
    return pools


SINGLE = ServiceRef("bench", {}, "SingleStack", 4)
SINGLE6 = ServiceRef("bench", {}, "SingleStack", 6)
DUALSVC = ServiceRef("bench", {}, "RequireDualStack", 4)


def workload(n: int):
    """(key, svc, family, ports, sharing key): 60% v4, 30% v6, 10% dual; 5% share in groups of 4."""
    out = []
    for i in range(n):
        m = i % 20
        if m < 12:
            svc, fam = SINGLE, 4
        elif m < 18:
            svc, fam = SINGLE6, 6
        else:
            svc, fam = DUALSVC, DUAL
        sharing = ""
        ports = [("TCP", 80)]
        if m == 7:
            sharing = f"grp{i // 80}"
            ports = [("TCP", 8000 + (i // 20) % 4)]
        out.append((f"ns/svc-{i}", svc, fam, ports, sharing))
    return out


def allocate_all(a, work) -> float:
    t0 = time.perf_counter()
    for key, svc, fam, ports, sharing in work:
        a.allocate(key, svc, fam, ports, sharing, "")
    return time.perf_counter() - t0


def scenario_fresh(n: int) -> dict:
    """n fresh allocations; peak RSS of this process is the memory figure."""
    a = Allocator()
    a.set_pools(mixed_pools())
    work = workload(n)
    gc.collect()
    t = allocate_all(a, work)
    return {
        "allocate_s": t,
        "allocate_us_per_service": t / n * 1e6,
        "peak_rss_mb": rss_mb(),
        "counters_a_ranges_00": a.counters("a-ranges-00"),
        "counters_b_slash64": a.counters("b-slash64"),
        "counters_c_slash16": a.counters("c-slash16"),
    }


def scenario_reclaim(n: int) -> dict:
    """Re-assign every allocation from its status addresses: in the same allocator (a
    reprocessAll after a config change) and in an empty one (controller restart)."""
    a = Allocator()
    a.set_pools(mixed_pools())
    work = workload(n)
    allocate_all(a, work)
    status = [(key, svc, a.ips_of(key), ports, sharing) for key, svc, _fam, ports, sharing in work]
    gc.collect()
    t0 = time.perf_counter()
    for key, svc, ips, ports, sharing in status:
        a.assign(key, svc, ips, ports, sharing, "")
    same = time.perf_counter() - t0
    t0 = time.perf_counter()
    a.set_pools(mixed_pools())  # config re-applied: every allocation re-homed, counts rebuilt
    set_pools = time.perf_counter() - t0
    t0 = time.perf_counter()
    a.allocate("ns/after-set-pools", SINGLE, 4, [("TCP", 80)], "", "")  # first walk past used addresses
    first_after = time.perf_counter() - t0
    del a
    b = Allocator()
    b.set_pools(mixed_pools())
    gc.collect()
    t0 = time.perf_counter()
    for key, svc, ips, ports, sharing in status:
        b.assign(key, svc, ips, ports, sharing, "")
    restart = time.perf_counter() - t0
    assert all(b.ips_of(key) == ips for key, _, ips, _, _ in status)
    return {
        "reclaim_same_allocator_s": same,
        "reclaim_after_restart_s": restart,
        "set_pools_with_100k_allocs_s": set_pools,
        "first_allocate_after_set_pools_s": first_after,
    }


def scenario_churn(n: int) -> dict:
    """Free every third service, allocate as many new ones (they reuse the freed addresses)."""
    a = Allocator()
    a.set_pools(mixed_pools())
    work = workload(n)
    allocate_all(a, work)
    gone = work[::3]
    t0 = time.perf_counter()
    for key, *_ in gone:
        a.unassign(key)
    for i, (_, svc, fam, ports, sharing) in enumerate(gone):
        a.allocate(f"ns/new-{i}", svc, fam, ports, sharing, "")
    return {"churn_ops": 2 * len(gone), "churn_s": time.perf_counter() - t0}


def state_bytes(entry: str, allocations: int) -> int:
    """tracemalloc bytes held by an allocator with one pool and ``allocations`` services."""
    gc.collect()
    tracemalloc.start()
    a = Allocator()
    a.set_pools({"p": pool("p", entry)})
    for i in range(allocations):
        a.allocate(f"ns/s{i}", SINGLE6, 6, [("TCP", 80)], "", "")
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del a
    return size


def scenario_huge_v6(n: int) -> dict:
    a = Allocator()
    a.set_pools({"p": pool("p", "2001:db8::/32")})
    t0 = time.perf_counter()
    for i in range(10_000):
        a.allocate(f"ns/s{i}", SINGLE6, 6, [("TCP", 80)], "", "")
    return {
        "slash32_10k_allocations_s": time.perf_counter() - t0,
        "slash32_counters": a.counters("p"),
        "state_bytes_slash120_200_allocs": state_bytes("2001:db8::/120", 200),
        "state_bytes_slash48_200_allocs": state_bytes("2001:db8:1::/48", 200),
    }


SCENARIOS = {
    "fresh": scenario_fresh,
    "reclaim": scenario_reclaim,
    "churn": scenario_churn,
    "huge_v6": scenario_huge_v6,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), help="run one scenario in this process")
    args = parser.parse_args()

    if args.scenario:
        print(repr(SCENARIOS[args.scenario](args.services)))
        return 0

    # each scenario in a fresh interpreter, so that peak RSS belongs to that scenario alone
    res = {"services": args.services, "addresses_module": ADDRESSES_SOURCE}
    for name in SCENARIOS:
        out = subprocess.run(
            [sys.executable, __file__, "--scenario", name, "--services", str(args.services)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        res.update(eval(out, {"PoolCounters": allocator_mod.PoolCounters}))  # our own repr output
    for k, v in res.items():
        print(f"{k:<34} {f'{v:.3f}' if isinstance(v, float) else v}")

    m120, m48 = res["state_bytes_slash120_200_allocs"], res["state_bytes_slash48_200_allocs"]
    checks = [
        ("allocate 100k <= 3 s", res["allocate_s"] <= 3.0),
        ("re-claim 100k (same allocator) <= 2 s", res["reclaim_same_allocator_s"] <= 2.0),
        ("re-claim 100k (restart) <= 2 s", res["reclaim_after_restart_s"] <= 2.0),
        ("/48 memory within 10% of /120", abs(m48 - m120) <= 0.1 * m120),
        ("peak RSS <= 150 MB at 100k", res["peak_rss_mb"] <= 150.0),
    ]
    scaled = args.services != 100_000
    for name, ok in checks:
        print(f"{name:<40} {'ok' if ok else ('n/a (scaled run)' if scaled else 'MISSED')}")
    return 0 if scaled or all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
