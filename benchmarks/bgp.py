#!/usr/bin/env python3
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP figures against a real router (prints them; asserts nothing). Needs root, FRR (and BIRD 2
for ``--router bird``).

Namespaces of its own: a router (198.51.100.254 / 2001:db8:0:1::254, FRR or BIRD, ECMP) and three
nodes, each with an FRR instance driven the way the speaker drives its own: every change decided by
the engine (``node_bgp``), rendered, and applied as the differ's commands by the speaker's applier
(``adapters.frr.vtysh``: bgpd's vty socket). With no API server and no speaker in the way, its latencies
are FRR's own floor (bgpd holds a changed route 50 ms before sending it; a withdrawn one stays in the
receiving bgpd's table for its 50 ms too).
Services are IPv6 (2001:db8:1::/116), carried by one IPv6 session per node; BFD 3 × 100 ms.

1. Service status IP → prefix in the router's RIB, and deletion → withdrawal: ``--services`` (100)
   one after the other, p50/p95 (the router's table is read every few ms on its bgpd's vty socket,
   or with birdc; the resolution is printed);
2. a burst of ``--burst`` (1,000) Services in one pass: UPDATE messages the router received per node
   (FRR router: bgpd's message counters) and session resets;
3. link cut → the router drops the node's next hop, ``--trials`` (5) times, p50/max;
4. RSS of a node's FRR daemons (zebra, bgpd, bfdd) with ``--burst`` prefixes announced.

Targets (issue 11, item 6): p95 ≤ 150 ms both ways, zero resets, ≤ 1 UPDATE per 10 services in a
burst, link cut → next hop gone ≤ 500 ms, speaker with FRR ≤ 150 MB RSS at 1,000 prefixes (only the
FRR part is measured here: the speaker process is not in this run).

Run as root: .venv/bin/python benchmarks/bgp.py [--router frr|bird] [--services N] [--burst N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
for extra in (os.path.join(REPO, "build", "pytest"), os.path.join(REPO, "tests", "lab"),
              os.path.join(REPO, "tests", "support"), REPO):
    if extra not in sys.path:
        sys.path.insert(0, extra)

import bgp_objects as k  # noqa: E402
from frr_instance import FrrInstance  # noqa: E402
from routers import IPV6, ROUTERS, Neighbor, RouterSpec, missing, wait_for  # noqa: E402

from lab import netns  # noqa: E402

ROUTER4, ROUTER6 = "198.51.100.254", "2001:db8:0:1::254"
NODES = {"node%d" % i: ("198.51.100.%d" % (10 + i), "2001:db8:0:1::%x" % (16 + i)) for i in (1, 2, 3)}
NODE_ASN, ROUTER_ASN = 64501, 64500
BFD_MS, BFD_MULT = 100, 3
PARTS = ("latency", "burst", "link")
TARGET_LATENCY, TARGET_LINK, TARGET_RSS_MB, TARGET_UPDATES_PER_10 = 0.150, 0.500, 150.0, 1.0


def engine():
    from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_model, render_text
    from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff
    return render_model, render_text, diff


def vip(i: int) -> str:
    return "2001:db8:1::%x" % (0x100 + i)


def base_objects() -> list:
    return [k.pool("bench", addresses=("2001:db8:1::/116",)), k.bgpad("adv", ipAddressPools=["bench"]),
            k.peer("tor6", myASN=NODE_ASN, peerASN=ROUTER_ASN, peerAddress=ROUTER6, connectTime="1s",
                   bfdProfile="fast"),
            k.bfd("fast", receiveInterval=BFD_MS, transmitInterval=BFD_MS, detectMultiplier=BFD_MULT),
            *[k.node(n) for n in NODES]]


def service_objects(i: int) -> list:
    name = "svc-%d" % i
    return [k.service(name, ips=(vip(i),)), k.endpoints(name, nodes=tuple(NODES))]


class Node:
    """A node's FRR driven as the speaker drives it: engine decision → rendering → one vtysh -f batch."""

    def __init__(self, host: netns.Host, objects: list) -> None:
        self.render_model, self.render_text, self.diff = engine()
        self.host = host
        self.frr = FrrInstance(host.ns, host.ns)
        self.model = self.render_model(k.state(objects, host.role))
        self.vtysh = None

    def start(self) -> None:
        self.frr.start_with(self.model)

    def apply(self, objects: list) -> None:
        new = self.render_model(k.state(objects, self.host.role), self.model)
        commands = self.diff(self.model, new)
        if self.vtysh is None:  # the speaker's applier: bgpd's socket, vtysh -f (in the node) for the rest
            from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.vtysh import Vtysh

            self.vtysh = Vtysh(self.frr.name, socket_dir=self.frr.run_dir,
                               runner=lambda argv, **kw: subprocess.run(["ip", "netns", "exec", self.frr.netns, *argv],
                                                                        **kw))
        errors = self.vtysh.apply(commands)
        if errors:
            raise RuntimeError("FRR refused part of a batch: %s" % errors[:3])
        self.model = new

    def rss_mb(self) -> float:
        total = 0
        for pid in self.frr.pids.values():
            with open("/proc/%d/status" % pid, encoding="utf-8") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        return total / 1024.0


class RibReader:
    """The router's IPv6 BGP table (prefixes only) through a session on its bgpd's vty socket: about a
    millisecond per read, where a ``vtysh`` process costs 50-100 ms and would blur every figure by as
    much. Falls back to the router's own reader when the socket is not there (BIRD)."""

    def __init__(self, router) -> None:
        from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.vtysh import DaemonSession

        self.router = router
        self.session = None
        frr = getattr(router, "frr", None)
        if frr is not None:
            session = DaemonSession(os.path.join(frr.run_dir, "bgpd.vty"), timeout=10)
            try:
                session.connect()
                self.session = session
            except OSError:
                pass

    def prefixes(self) -> tuple[set[str], set[str]]:
        """(prefixes in the table, those with a path not flagged ``removed``). bgpd flags a path removed
        when the withdrawal arrives and drops it from its table at its next processing run (a 50 ms
        hold): the second set says when withdrawals arrived, the first when they were processed."""
        if self.session is None:
            table = set(self.router.route_views(IPV6))
            return table, table
        status, out = self.session.run("show bgp ipv6 unicast json")
        if status != 0:
            raise RuntimeError("router: show bgp refused: %s" % out[:200])
        routes = (json.loads(out or "{}") or {}).get("routes", {})
        live = {p for p, paths in routes.items()
                if any(isinstance(path, dict) and not path.get("removed") for path in paths or ())}
        return set(routes), live

    def close(self) -> None:
        if self.session is not None:
            self.session.close()


class Poller:
    """A thread that polls the router for as long as the ``with`` block runs."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(30)


class Watcher(Poller):
    """Polls the router's IPv6 RIB in a thread: when each prefix was first seen and last gone."""

    def __init__(self, router) -> None:
        self.router = router
        self.reader = RibReader(router)
        self.seen: dict[str, float] = {}
        self.gone: dict[str, float] = {}
        self.withdrawn: dict[str, float] = {}  # every path flagged removed (the withdrawal arrived)
        self.rounds: list[float] = []
        super().__init__()

    def _run(self) -> None:
        present: set[str] = set()
        live: set[str] = set()
        while not self._stop.is_set():
            t0 = time.monotonic()
            now, now_live = self.reader.prefixes()
            t1 = time.monotonic()
            self.rounds.append(t1 - t0)
            for prefix in now - present:
                self.seen[prefix] = t1
            for prefix in present - now:
                self.gone[prefix] = t1
            for prefix in live - now_live:
                self.withdrawn[prefix] = t1
            present, live = now, now_live
            time.sleep(0.003)  # a few ms of resolution; a busy loop would take a core from what is measured

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.reader.close()


class SessionWatcher(Poller):
    """Polls the router's sessions in a thread: every time a peer is seen leaving Established (dynamic
    neighbors disappear from the router's tables while down, so counters alone miss their resets)."""

    def __init__(self, router, peers) -> None:
        self.router = router
        self.peers = set(peers)
        self.downs: dict[str, int] = dict.fromkeys(self.peers, 0)
        super().__init__()

    def _run(self) -> None:
        up = set(self.peers)
        while not self._stop.wait(0.05):
            try:
                now = {p for p, state in self.router.sessions().items() if state == "Established"}
            except Exception:  # a read that failed says nothing about the sessions
                continue
            for peer in up - now:
                self.downs[peer] = self.downs.get(peer, 0) + 1
            up = now & self.peers


def apply_all(nodes, objects: list) -> None:
    """Every node's change at once: each node's speaker works on its own."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(lambda n: n.apply(objects), nodes))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def latency_line(label: str, values: list[float], target: float) -> None:
    if not values:
        print("%-34s no sample  MISSED" % label)
        return
    p95 = pct(values, 0.95)
    print("%-34s p50 %5.0f ms  p95 %5.0f ms  max %5.0f ms  (n=%d)  target p95 <= %.0f ms  %s"
          % (label, statistics.median(values) * 1000, p95 * 1000, max(values) * 1000, len(values),
             target * 1000, verdict(p95 <= target)))


def received_line(values: list[float]) -> None:
    """Information, no target: when the withdrawals arrived at the router (FRR router only)."""
    if values:
        print("  (of which the withdrawal reached the router's bgpd after p50 %.0f ms, p95 %.0f ms; the rest is "
              "that bgpd's 50 ms processing hold before the route leaves its table)"
              % (statistics.median(values) * 1000, pct(values, 0.95) * 1000))


def wait_prefix(watcher: Watcher, table: dict, prefix: str, seconds: float = 30.0, after: float = 0.0) -> float | None:
    """When the watcher saw ``prefix`` arrive (``table`` seen) or leave (gone) after ``after``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if table.get(prefix, -1.0) >= after:
            return table[prefix]
        time.sleep(0.005)
    return None


def run(kind: str, services: int, burst: int, trials: int, parts: set[str]) -> None:
    lab = netns.Lab()
    with lab:
        router_host = lab.add_host("router", (ROUTER4 + "/24", ROUTER6 + "/64"))
        hosts = {n: lab.add_host(n, (v4 + "/24", v6 + "/64")) for n, (v4, v6) in NODES.items()}
        spec = RouterSpec(ROUTER_ASN, ROUTER4, (Neighbor(NODE_ASN, listen_range="2001:db8:0:1::/64", families=(IPV6,),
                                                         bfd=True, bfd_interval_ms=BFD_MS, bfd_multiplier=BFD_MULT),))
        objects = base_objects()
        nodes = [Node(h, objects) for h in hosts.values()]
        with ROUTERS[kind](lab.prefix + "-rt", router_host.ns, spec) as router:
            try:
                for n in nodes:
                    n.start()
                wait_for(lambda: (sum(s == "Established" for s in router.sessions().values()) == len(nodes),
                                  router.sessions()), 60, 0.2, "sessions")
                print("router %s, %d nodes, IPv6 eBGP sessions, BFD %d x %d ms" % (kind, len(nodes), BFD_MULT, BFD_MS))
                if "latency" in parts:
                    announce_withdraw(router, nodes, objects, services)
                if "burst" in parts:
                    burst_figures(router, nodes, objects, services, burst)
                if "link" in parts:
                    link_cut(lab, router, nodes, objects, trials)
            finally:
                for n in nodes:
                    n.frr.stop()


def announce_withdraw(router, nodes, objects, count: int) -> None:
    ups, downs, received = [], [], []
    with Watcher(router) as watcher:
        for i in range(count):
            prefix = vip(i) + "/128"
            current = objects + service_objects(i)
            t0 = time.monotonic()
            apply_all(nodes, current)
            seen = wait_prefix(watcher, watcher.seen, prefix, after=t0)
            if seen is not None:
                ups.append(seen - t0)
            t0 = time.monotonic()
            apply_all(nodes, objects)
            gone = wait_prefix(watcher, watcher.gone, prefix, after=t0)
            if gone is not None:
                downs.append(gone - t0)
                arrived = watcher.withdrawn.get(prefix, -1.0)
                if t0 <= arrived <= gone:
                    received.append(arrived - t0)
        resolution = statistics.median(watcher.rounds) if watcher.rounds else 0.0
    print("(polling resolution: one router read, median %.0f ms)" % (resolution * 1000))
    latency_line("status IP -> prefix in router RIB", ups, TARGET_LATENCY)
    latency_line("deletion -> withdrawal", downs, TARGET_LATENCY)
    received_line(received)


def burst_figures(router, nodes, objects, start: int, count: int) -> None:
    peers = [NODES[n.host.role][1] for n in nodes]
    before = router.counters()
    many = list(objects)
    for i in range(start, start + count):
        many += service_objects(i)
    with SessionWatcher(router, peers) as sessions:
        t0 = time.monotonic()
        apply_all(nodes, many)
        applied = time.monotonic() - t0
        wait_for(lambda: (len(router.route_views(IPV6)) >= count, len(router.route_views(IPV6))), 300, 0.5,
                 "all %d prefixes" % count)
        elapsed = time.monotonic() - t0
        wait_for(lambda: (all(router.sessions().get(p) == "Established" for p in peers), router.sessions()),
                 120, 0.5, "every session established")
    after = router.counters()
    print("burst of %d Services in one pass: applied on the nodes in %.2f s, all prefixes in the router's "
          "RIB after %.2f s" % (count, applied, elapsed))
    worst, counted = 0.0, 0
    for peer in peers:
        a, b = after.get(peer, {}), before.get(peer, {})
        if "updates_received" in a:
            updates = a["updates_received"] - b.get("updates_received", 0) if not sessions.downs[peer] else None
            if updates is None:  # the counters restarted with the session
                print("   %-22s UPDATEs not countable (the session was reset)" % peer)
                continue
            per10 = updates / (count / 10.0)
            worst, counted = max(worst, per10), counted + 1
            print("   %-22s %5d UPDATEs received = %.2f per 10 services" % (peer, updates, per10))
        elif "import_updates" in a and sessions.downs[peer]:
            print("   %-22s route updates not countable (the session was reset)" % peer)
        elif "import_updates" in a:  # BIRD: route changes, not messages
            print("   %-22s %5d route updates imported (BIRD counts routes, not messages)"
                  % (peer, a["import_updates"] - b.get("import_updates", 0)))
    if counted:
        print("UPDATEs per 10 services (worst node): %.2f  target <= %.0f  %s"
              % (worst, TARGET_UPDATES_PER_10, verdict(worst <= TARGET_UPDATES_PER_10)))
    elif any("updates_received" in a for a in after.values()):
        print("UPDATEs per 10 services: no node's counters survived the burst  MISSED")
    resets = sum(sessions.downs.values())
    print("session resets during the burst: %d %s  target 0  %s"
          % (resets, {p: d for p, d in sessions.downs.items() if d} or "", verdict(resets == 0)))
    rss = max(n.rss_mb() for n in nodes)
    print("node FRR (zebra+bgpd+bfdd) RSS at %d prefixes: %.1f MB (the speaker process not included)  "
          "target speaker+FRR <= %.0f MB  %s" % (count, rss, TARGET_RSS_MB, verdict(rss <= TARGET_RSS_MB)))
    apply_all(nodes, objects)
    wait_for(lambda: (not router.route_views(IPV6), len(router.route_views(IPV6))), 300, 0.5, "the burst withdrawn")


def link_cut(lab, router, nodes, objects, trials: int) -> None:
    times = []
    current = objects + service_objects(0)
    prefix = vip(0) + "/128"
    apply_all(nodes, current)
    victim = nodes[0]
    hop = NODES[victim.host.role][1]
    for _ in range(trials):
        wait_for(lambda: (router.route_views(IPV6).get(prefix) is not None
                          and hop in router.route_views(IPV6)[prefix].next_hops
                          and set(router.bfd_sessions().values()) == {"up"}, None), 60, 0.1, "ECMP and BFD up")
        t0 = time.monotonic()
        netns.run(["ip", "-n", lab.bridge_ns, "link", "set", "p-" + victim.host.role, "down"])
        try:
            deadline = t0 + 10
            while time.monotonic() < deadline:
                view = router.route_views(IPV6).get(prefix)
                if view is None or hop not in view.next_hops:
                    times.append(time.monotonic() - t0)
                    break
        finally:
            netns.run(["ip", "-n", lab.bridge_ns, "link", "set", "p-" + victim.host.role, "up"])
    link_line(times, trials)


LAB_POOL_V6 = "2001:db8:0:1::1000-2001:db8:0:1::1fff"


def process_rss_mb(pid: int) -> float:
    try:
        with open("/proc/%d/status" % pid, encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def speaker_rss_mb(lab, node: str) -> tuple[float, float]:
    """(the speaker process, its FRR daemons from their pathspace's pid files) in MB."""
    run_dir = os.path.join("/var/run/frr", lab.frr_pathspace(node))
    frr = 0.0
    for name in sorted(os.listdir(run_dir)) if os.path.isdir(run_dir) else ():
        if name.endswith(".pid"):
            with open(os.path.join(run_dir, name), encoding="utf-8") as fh:
                frr += process_rss_mb(int(fh.read().strip() or 0))
    return process_rss_mb(lab.speakers[node].pid), frr


def lab_run(kind: str, services: int, burst: int, trials: int, parts: set[str]) -> None:
    """The same figures through the whole lab: the controller assigns, the three speakers announce
    through their own FRR, the lab's router receives."""
    import functools

    from lab import topology
    from lab.cluster import LabCluster

    spec = RouterSpec(ROUTER_ASN, topology.ROUTER_V4, tuple(
        Neighbor(NODE_ASN, listen_range=net, families=(family,), bfd=True, bfd_interval_ms=BFD_MS,
                 bfd_multiplier=BFD_MULT)
        for net, family in ((topology.V4_PREFIX, "ipv4"), (topology.V6_PREFIX, IPV6))))
    with LabCluster(router=functools.partial(ROUTERS[kind], spec=spec), speakers=True, kube_proxy=False) as lab:
        lab.create_custom("bfdprofiles", k.bfd("fast", receiveInterval=BFD_MS, transmitInterval=BFD_MS,
                                               detectMultiplier=BFD_MULT))
        lab.create_custom("ipaddresspools", k.pool("bench", addresses=(LAB_POOL_V6,)))
        lab.create_custom("bgpadvertisements", k.bgpad("adv", ipAddressPools=["bench"]))
        lab.create_custom("bgppeers", k.peer("router6", myASN=NODE_ASN, peerASN=ROUTER_ASN,
                                             peerAddress=topology.ROUTER_V6, bfdProfile="fast"))
        router = lab.router
        peers = [a.v6 for a in lab.node_addrs.values()]
        wait_for(lambda: (all(router.sessions().get(p) == "Established" for p in peers), router.sessions()), 90, 0.5,
                 "sessions")
        print("lab: controller + %d speakers (their own FRR) -> %s router, IPv6 eBGP, BFD %d x %d ms"
              % (len(peers), kind, BFD_MULT, BFD_MS))
        lab.create_service("web", replicas=3, ipv6_only=True)
        web = lab.wait_ingress("web", timeout=60)[0] + "/128"
        wait_for(lambda: (web in router.route_views(IPV6), None), 60, 0.2, "the first Service's prefix")
        if "latency" in parts:
            lab_latency(lab, router, services)
        if "link" in parts:
            lab_link_cut(lab, router, web, trials)
        if "burst" in parts:
            lab_burst(lab, router, peers, burst)


def lab_latency(lab, router, count: int) -> None:
    ups, downs, received = [], [], []
    with Watcher(router) as watcher:
        for i in range(count):
            name = "lat-%d" % i
            lab.create_service(name, selector_pods="web", ipv6_only=True)
            ips = wait_for(lambda n=name: (bool(lab.ingress(n)), lab.ingress(n)), 60, 0.005, "status of " + name)
            t0 = time.monotonic()  # the status IP as a client of the API sees it
            prefix = ips[0] + "/128"
            # the router may hold it before this client sees the status; an address used by the previous
            # Service counts only once it was withdrawn
            seen = wait_prefix(watcher, watcher.seen, prefix, after=max(t0 - 1.0, watcher.gone.get(prefix, 0.0)))
            if seen is not None:
                ups.append(max(seen - t0, 0.0))
            t0 = time.monotonic()
            lab.delete_service(name)
            gone = wait_prefix(watcher, watcher.gone, prefix, after=t0)
            if gone is not None:
                downs.append(gone - t0)
                arrived = watcher.withdrawn.get(prefix, -1.0)
                if t0 <= arrived <= gone:
                    received.append(arrived - t0)
        resolution = statistics.median(watcher.rounds) if watcher.rounds else 0.0
    print("(polling resolution: one router read, median %.0f ms; the status is polled every 5 ms)"
          % (resolution * 1000))
    latency_line("status IP -> prefix in router RIB", ups, TARGET_LATENCY)
    latency_line("deletion -> withdrawal", downs, TARGET_LATENCY)
    received_line(received)


def lab_link_cut(lab, router, prefix: str, trials: int) -> None:
    times = []
    hop = lab.node_addrs["node1"].v6
    for _ in range(trials):
        # BGP comes back before BFD does: a cut before BFD is up again would wait for the hold time
        wait_for(lambda: (hop in getattr(router.route_views(IPV6).get(prefix), "next_hops", ())
                          and router.bfd_sessions().get(hop) == "up", None), 60, 0.1, "node1 back, BFD up")
        t0 = time.monotonic()
        lab.cut_link("node1")
        try:
            deadline = t0 + 10
            while time.monotonic() < deadline:
                if hop not in getattr(router.route_views(IPV6).get(prefix), "next_hops", ()):
                    times.append(time.monotonic() - t0)
                    break
        finally:
            lab.cut_link("node1", up=True)
    link_line(times, trials)


def lab_burst(lab, router, peers: list[str], count: int) -> None:
    # the link cuts before leave sessions and BFD coming back: a reset counted here must be the burst's
    wait_for(lambda: (all(router.sessions().get(p) == "Established" for p in peers)
                      and all(router.bfd_sessions().get(p) == "up" for p in peers), router.sessions()), 120, 0.5,
             "every session established and BFD up before the burst")
    before = router.counters()
    names = ["burst-%d" % i for i in range(count)]
    with SessionWatcher(router, peers) as sessions:
        t0 = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: lab.create_service(n, selector_pods="web", ipv6_only=True), names))
        wait_for(lambda: (len(router.route_views(IPV6)) >= count + 1, len(router.route_views(IPV6))), 600, 1.0,
                 "every burst prefix on the router")
        elapsed = time.monotonic() - t0
    after = router.counters()
    print("burst of %d Services: all prefixes in the router's RIB %.1f s after the first was created"
          % (count, elapsed))
    worst, counted = 0.0, 0
    for peer in peers:
        a, b = after.get(peer, {}), before.get(peer, {})
        if "updates_received" in a and not sessions.downs[peer]:
            per10 = (a["updates_received"] - b.get("updates_received", 0)) / (count / 10.0)
            worst, counted = max(worst, per10), counted + 1
            print("   %-22s %.2f UPDATEs per 10 services" % (peer, per10))
    if counted:
        print("UPDATEs per 10 services (worst node): %.2f  target <= %.0f  %s"
              % (worst, TARGET_UPDATES_PER_10, verdict(worst <= TARGET_UPDATES_PER_10)))
    resets = sum(sessions.downs.values())
    print("session resets during the burst: %d  target 0  %s" % (resets, verdict(resets == 0)))
    worst_rss = 0.0
    for node in lab.node_addrs:
        speaker, frr = speaker_rss_mb(lab, node)
        worst_rss = max(worst_rss, speaker + frr)
        print("   %s: speaker %.1f MB + FRR %.1f MB RSS" % (node, speaker, frr))
    print("speaker with FRR at %d prefixes: %.1f MB RSS  target <= %.0f MB  %s"
          % (count + 1, worst_rss, TARGET_RSS_MB, verdict(worst_rss <= TARGET_RSS_MB)))


def link_line(times: list[float], trials: int) -> None:
    missed = trials - len(times)
    if times:
        print("link cut -> next hop gone: p50 %.0f ms  max %.0f ms  (n=%d%s)  target <= %.0f ms  %s"
              % (statistics.median(times) * 1000, max(times) * 1000, len(times),
                 ", %d more never within 10 s" % missed if missed else "", TARGET_LINK * 1000,
                 verdict(max(times) <= TARGET_LINK and not missed)))
    else:
        print("link cut -> next hop gone: never within 10 s  MISSED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/bgp.py")
    parser.add_argument("--router", choices=sorted(ROUTERS), default="frr")
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable)")
    parser.add_argument("--mode", choices=("auto", "lab", "engine"), default="auto",
                        help="lab: the controller and speakers of the namespace lab (needs `make k8s`); engine: node "
                             "FRR instances driven by the engine directly, as the speaker drives its own; auto: lab "
                             "when `bin/metal-lb speaker` runs here, else engine")
    args = parser.parse_args(argv)
    if not 1 <= args.services <= 1000 or not 1 <= args.burst <= 3000 or not 1 <= args.trials <= 50:
        parser.error("--services 1..1000, --burst 1..3000, --trials 1..50")
    reason = netns.missing_requirements() or missing(args.router)
    if reason:
        print("bgp benchmark skipped: %s" % reason)
        return 0
    if args.mode == "auto":
        from lab.cluster import speaker_available
        args.mode = "lab" if speaker_available() else "engine"
        print("mode %s%s" % (args.mode, "" if args.mode == "lab" else " (`bin/metal-lb speaker` does not run here)"))
    if args.mode == "lab":
        from lab.cluster import missing_requirements
        reason = missing_requirements()
        if reason:
            print("bgp benchmark (lab) skipped: %s" % reason)
            return 0
        lab_run(args.router, args.services, args.burst, args.trials, set(args.only or PARTS))
    else:
        run(args.router, args.services, args.burst, args.trials, set(args.only or PARTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
