# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real BGP routers for lab tests and benchmarks: FRR (Debian's ``frr``) and BIRD 2 (``bird2``) in a
network namespace the caller created, configured from one neutral description (``RouterSpec``).

Both install what they learn into the namespace's kernel with ECMP (FRR ``maximum-paths``, BIRD
``merge paths``), so a client behind the router reaches a service over every node. Both give the
same normalized views: ``routes()`` (prefix → next hops, communities, large communities,
LOCAL_PREF), ``sessions()`` (peer address → BGP state), ``counters()`` (per peer),
``stale_peers()`` (graceful restart), ``bfd_sessions()``, ``bfd_detect_ms()`` and ``fib()`` (the
kernel routes). Each runs in
its own pathspace / control socket and config directory, is stopped by its own PIDs, and its
directories are removed, also when starting fails (use them as context managers)."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

from frr_instance import FrrInstance, end_process, running
from frr_instance import missing as frr_missing
from lab.lifecycle import StartStop

BIRD, BIRDC = "/usr/sbin/bird", "/usr/sbin/birdc"
IPV4, IPV6 = "ipv4", "ipv6"
# FRR prints well-known communities by name; the readers give every community as numbers
WELL_KNOWN = {"graceful-shutdown": "65535:0", "accept-own": "65535:1", "llgr-stale": "65535:6",
              "no-llgr": "65535:7", "blackhole": "65535:666", "no-export": "65535:65281",
              "no-advertise": "65535:65282", "local-AS": "65535:65283", "no-peer": "65535:65284"}
ESTABLISHED = "Established"


@dataclass(frozen=True)
class Neighbor:
    """One neighbor (``address``) or every peer connecting from ``listen_range`` (passive)."""

    remote_asn: int
    address: str = ""
    listen_range: str = ""
    password: str = ""
    bfd: bool = False
    bfd_interval_ms: int = 300  # receive and transmit
    bfd_multiplier: int = 3
    graceful_restart: bool = True  # helper: keep a restarting peer's routes as stale
    families: tuple[str, ...] = (IPV4,)
    hold_time: int | None = None  # seconds; keepalive = hold / 3

    def __post_init__(self) -> None:
        if bool(self.address) == bool(self.listen_range):
            raise ValueError("a neighbor has an address or a listen range, not both nor neither")
        ipaddress.ip_network(self.address or self.listen_range, strict=False)
        if set(self.families) - {IPV4, IPV6} or not self.families:
            raise ValueError("families: ipv4 and/or ipv6, not %r" % (self.families,))


@dataclass(frozen=True)
class RouterSpec:
    asn: int
    router_id: str
    neighbors: tuple[Neighbor, ...] = ()
    multipath: int = 8  # ECMP paths installed (1: none)


@dataclass(frozen=True)
class RouteView:
    next_hops: frozenset = frozenset()
    communities: frozenset = frozenset()  # "65000:100"
    large_communities: frozenset = frozenset()  # "64500:1:2"
    local_pref: int | None = None

    def as_dict(self) -> dict:
        return {"next_hops": set(self.next_hops), "communities": set(self.communities),
                "large_communities": set(self.large_communities), "local_pref": self.local_pref}


def missing(kind: str = "frr") -> str | None:
    """Why a router of ``kind`` (frr, bird) cannot run here; None: it can."""
    reason = frr_missing() if kind == "frr" else None
    if reason is None and kind == "bird" and (os.geteuid() != 0 or not os.access(BIRD, os.X_OK)
                                              or not os.access(BIRDC, os.X_OK)):
        reason = "needs root and Debian's bird2 package (%s, %s)" % (BIRD, BIRDC)
    return reason


def wait_for(check, seconds: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll ``check()`` (returns (done, value)) until done, bounded in time; the last value on timeout is shown."""
    deadline = time.monotonic() + seconds
    value = None
    while True:
        done, value = check()
        if done:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s not reached in %.1fs; last: %r" % (what, seconds, value))
        time.sleep(interval)


def established(router, peers, seconds: float = 60.0, what: str = "") -> None:
    """Every address in ``peers`` has an Established session with ``router``."""
    wait_for(lambda: (all(router.sessions().get(p) == ESTABLISHED for p in peers), router.sessions()), seconds, 0.2,
             what or "sessions with %s" % (peers,))


def nodes_established(cluster, what: str):
    """Every lab node's IPv4 and IPv6 session with the lab's router is Established; returns the router."""
    peers = [a.v4 for a in cluster.node_addrs.values()] + [a.v6 for a in cluster.node_addrs.values()]
    established(cluster.router, peers, 90.0, what)
    return cluster.router


def _family(prefix: str) -> str:
    return IPV6 if ":" in prefix else IPV4


def fib(netns: str, family: str = IPV4) -> dict[str, set[str]]:
    """The kernel routes the router installed (proto bgp / bird): prefix → next hops (ECMP: several)."""
    out = subprocess.run(["ip", "-n", netns, "-6" if family == IPV6 else "-4", "-j", "route", "show"],
                         capture_output=True, text=True, timeout=20, check=True)
    table: dict[str, set[str]] = {}
    for r in json.loads(out.stdout or "[]"):
        if r.get("protocol") not in ("bgp", "bird", "186"):
            continue
        dst = r["dst"] if "/" in r["dst"] else r["dst"] + ("/128" if family == IPV6 else "/32")
        hops = {h["gateway"] for h in r.get("nexthops", ()) if "gateway" in h}
        if "gateway" in r:
            hops.add(r["gateway"])
        table[dst] = hops
    return table


class FrrRouter(StartStop):
    """An FRR router (zebra, bgpd listening on 179, bfdd) in ``netns``, its own pathspace ``name``."""

    kind = "frr"

    def __init__(self, name: str, netns: str, spec: RouterSpec) -> None:
        self.spec = spec
        self.netns = netns
        self.frr = FrrInstance(name, netns)

    def start(self) -> None:
        self.frr.start(listen=True)
        self.frr.vtysh(self.commands())

    def stop(self) -> None:
        self.frr.stop()

    def commands(self) -> list[str]:
        """The spec as vtysh configuration commands."""
        s = self.spec
        cmds = ["configure terminal"]
        profiles = sorted({(n.bfd_interval_ms, n.bfd_multiplier) for n in s.neighbors if n.bfd})
        if profiles:
            cmds.append("bfd")
            for interval, mult in profiles:
                cmds += ["profile rtr-%d-%d" % (interval, mult), "receive-interval %d" % interval,
                         "transmit-interval %d" % interval, "detect-multiplier %d" % mult, "exit"]
            cmds.append("exit")
        cmds += ["router bgp %d" % s.asn, "bgp router-id %s" % s.router_id, "no bgp ebgp-requires-policy",
                 "no bgp default ipv4-unicast", "bgp bestpath as-path multipath-relax"]
        names = []
        for i, n in enumerate(s.neighbors):
            if n.listen_range:
                name = "range%d" % i
                cmds += ["neighbor %s peer-group" % name, "neighbor %s remote-as %d" % (name, n.remote_asn),
                         "bgp listen range %s peer-group %s" % (n.listen_range, name)]
            else:
                name = n.address
                cmds.append("neighbor %s remote-as %d" % (name, n.remote_asn))
            names.append(name)
            if n.password:
                cmds.append("neighbor %s password %s" % (name, n.password))
            if n.bfd:
                cmds += ["neighbor %s bfd" % name,
                         "neighbor %s bfd profile rtr-%d-%d" % (name, n.bfd_interval_ms, n.bfd_multiplier)]
            if n.graceful_restart:
                cmds.append("neighbor %s graceful-restart-helper" % name)
            if n.hold_time is not None:
                cmds.append("neighbor %s timers %d %d" % (name, max(n.hold_time // 3, 1), n.hold_time))
            if _family(n.address or n.listen_range) == IPV6 and n.remote_asn != s.asn:
                cmds.append("neighbor %s disable-connected-check" % name)
        for family in (IPV4, IPV6):
            cmds += ["address-family %s unicast" % family, "maximum-paths %d" % s.multipath,
                     "maximum-paths ibgp %d" % s.multipath]
            cmds += ["neighbor %s activate" % name for name, n in zip(names, s.neighbors) if family in n.families]
            cmds.append("exit-address-family")
        return cmds + ["exit", "end"]

    def _json(self, command: str) -> dict:
        return json.loads(self.frr.vtysh([command]) or "{}")

    def routes(self, family: str = IPV4) -> dict[str, dict]:
        return {p: v.as_dict() for p, v in self.route_views(family).items()}

    def route_views(self, family: str = IPV4) -> dict[str, RouteView]:
        """prefix → what the router uses: next hops of the best path and the paths it multipaths with,
        attributes of the best path."""
        table = self._json("show bgp %s unicast json detail" % family).get("routes", {})
        out = {}
        for prefix, paths in table.items():
            paths = paths.get("paths", paths) if isinstance(paths, dict) else paths
            chosen = [p for p in paths if p.get("multipath") or _best(p)] or paths[:1]
            best = next((p for p in paths if _best(p)), chosen[0] if chosen else {})
            hops = {h["ip"] for p in chosen for h in p.get("nexthops", ())
                    if h.get("ip") and h.get("scope", "global") == "global"}
            out[prefix] = RouteView(frozenset(hops), frozenset(_frr_communities(best.get("community"))),
                                    frozenset(_frr_text(best.get("largeCommunity")).split()),
                                    best.get("locPrf") if "locPrf" in best else best.get("localpref"))
        return out

    def sessions(self) -> dict[str, str]:
        """peer address → BGP state (Established, Active, ...), dynamic peers included."""
        return {peer: n.get("bgpState", "") for peer, n in self._json("show bgp neighbors json").items()
                if isinstance(n, dict) and "bgpState" in n}

    def counters(self) -> dict[str, dict[str, int]]:
        """peer → messages sent and received (bgpd's message statistics) and sessions established / dropped."""
        out = {}
        for peer, n in self._json("show bgp neighbors json").items():
            if not isinstance(n, dict) or "bgpState" not in n:
                continue
            stats = n.get("messageStats", {})
            out[peer] = {"updates_received": stats.get("updatesRecv", 0), "updates_sent": stats.get("updatesSent", 0),
                         "notifications_received": stats.get("notificationsRecv", 0),
                         "notifications_sent": stats.get("notificationsSent", 0),
                         "opens_received": stats.get("opensRecv", 0),
                         "established": n.get("connectionsEstablished", 0),
                         "dropped": n.get("connectionsDropped", 0)}
        return out

    def bfd_detect_ms(self) -> dict[str, int]:
        """peer address → how long the router waits before declaring that peer down (negotiated:
        the peer's multiplier × the slower of our receive and its transmit interval)."""
        out = {}
        for p in json.loads(self.frr.vtysh(["show bfd peers json"]) or "[]"):
            if isinstance(p, dict) and "peer" in p:
                out[p["peer"]] = p.get("remote-detect-multiplier", 0) * max(p.get("receive-interval", 0),
                                                                             p.get("remote-transmit-interval", 0))
        return out

    def stale_peers(self) -> set[str]:
        """Peers whose routes the router keeps, marked stale, while they restart (graceful restart)."""
        out = set()
        for family in (IPV4, IPV6):
            for paths in self._json("show bgp %s unicast json" % family).get("routes", {}).values():
                out.update(p.get("peerId", "?") for p in paths if p.get("stale"))
        return out

    def bfd_sessions(self) -> dict[str, str]:
        """peer address → BFD state (up, down, init)."""
        peers = json.loads(self.frr.vtysh(["show bfd peers json"]) or "[]")
        return {p["peer"]: p.get("status", "") for p in peers if isinstance(p, dict) and "peer" in p}

    def fib(self, family: str = IPV4) -> dict[str, set[str]]:
        return fib(self.netns, family)


def _best(path: dict) -> bool:
    best = path.get("bestpath")
    return bool(best.get("overall") if isinstance(best, dict) else best)


def _frr_text(value) -> str:
    return value.get("string", "") if isinstance(value, dict) else (value or "")


def _frr_communities(value) -> set[str]:
    return {WELL_KNOWN.get(c, c) for c in _frr_text(value).split()}


class BirdRouter(StartStop):
    """A BIRD 2 router in ``netns``: config and control socket in a private directory, kernel
    export with ``merge paths`` (ECMP), BFD through its ``bfd`` protocol."""

    kind = "bird"

    def __init__(self, name: str, netns: str, spec: RouterSpec) -> None:
        self.name = name
        self.netns = netns
        self.spec = spec
        self.dir = ""
        self.pid: int | None = None

    @property
    def socket(self) -> str:
        return os.path.join(self.dir, "bird.ctl")

    def config(self) -> str:
        s = self.spec
        intervals = {(n.bfd_interval_ms, n.bfd_multiplier) for n in s.neighbors if n.bfd}
        if len(intervals) > 1:
            raise ValueError("BIRD runs one BFD setting per interface here; the neighbors ask for %r" % intervals)
        lines = ["router id %s;" % s.router_id, 'log "%s" all;' % os.path.join(self.dir, "bird.log"),
                 "protocol device { scan time 10; }"]
        # BIRD refuses a peer for 60 s (doubling to 300 s) after a session error; the tests and the
        # benchmark cut links and restart peers on purpose, and want the session back at once
        error_wait = "error wait time 1, 10;"
        for family in (IPV4, IPV6):
            lines.append("protocol kernel k%s { %s { import none; export all; }; merge paths %s limit %d; }"
                         % (family, family, "on" if s.multipath > 1 else "off", max(s.multipath, 1)))
        if intervals:
            interval, mult = intervals.pop()
            lines.append('protocol bfd { interface "*" { min rx interval %d ms; min tx interval %d ms; '
                         "multiplier %d; }; }" % (interval, interval, mult))
        for i, n in enumerate(s.neighbors):
            body = ["local as %d;" % s.asn]
            if n.listen_range:
                body += ["neighbor range %s as %d;" % (n.listen_range, n.remote_asn), 'dynamic name "dyn%dn";' % i]
            else:
                body.append("neighbor %s as %d;" % (n.address, n.remote_asn))
            body += ["direct;", error_wait, "passive on;" if n.listen_range else "",
                     "graceful restart %s;" % ("aware" if n.graceful_restart else "off")]
            if n.password:
                body.append('password "%s";' % n.password)
            if n.bfd:
                body.append("bfd on;")
            if n.hold_time is not None:
                body += ["hold time %d;" % n.hold_time, "keepalive time %d;" % max(n.hold_time // 3, 1)]
            for family in n.families:
                body.append("%s { import all; export none; gateway direct; };" % family)
            lines.append("protocol bgp peer%d {\n  %s\n}" % (i, "\n  ".join(b for b in body if b)))
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="mlb-bird-%s-" % self.name)
        path = os.path.join(self.dir, "bird.conf")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.config())
        pid_file = os.path.join(self.dir, "bird.pid")
        out = subprocess.run(["ip", "netns", "exec", self.netns, BIRD, "-c", path, "-s", self.socket, "-P", pid_file],
                             capture_output=True, text=True, timeout=20, check=False)
        if out.returncode != 0:
            raise RuntimeError("bird did not start: %s" % (out.stderr or out.stdout).strip())
        self.pid = wait_for(lambda: _read_pid(pid_file), 10, 0.05, "bird's PID file")
        wait_for(lambda: (self._birdc("show status", check=False).returncode == 0, None), 10, 0.1, "birdc answers")

    def stop(self) -> None:
        if self.pid is not None and running(self.pid):
            end_process(self.pid, signal.SIGTERM, time.monotonic() + 10)
        self.pid = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = ""

    def _birdc(self, command: str, check: bool = True) -> subprocess.CompletedProcess:
        out = subprocess.run([BIRDC, "-s", self.socket, *command.split()], capture_output=True, text=True,
                             timeout=20, check=False)
        if check and out.returncode != 0:
            raise AssertionError("birdc %s failed: %s" % (command, out.stderr or out.stdout))
        return out

    def routes(self, family: str = IPV4) -> dict[str, dict]:
        return {p: v.as_dict() for p, v in self.route_views(family).items()}

    def route_views(self, family: str = IPV4) -> dict[str, RouteView]:
        """prefix → next hops of every BGP path BIRD holds for it (``merge paths`` installs them all
        when they are equal; the tests give equal paths), attributes of its best path (``*``)."""
        text = self._birdc("show route all table master%s" % ("6" if family == IPV6 else "4")).stdout
        return bird_routes(text)

    def sessions(self) -> dict[str, str]:
        return {peer: info["state"] for peer, info in self._protocols().items()}

    def counters(self) -> dict[str, dict[str, int]]:
        """peer → route changes imported (BIRD counts routes, not messages) and when the session last
        changed state (a reset changes it)."""
        return {peer: {k: v for k, v in info.items() if k not in ("state", "graceful_restart")}
                for peer, info in self._protocols().items()}

    def _protocols(self) -> dict[str, dict]:
        return bird_protocols(self._birdc("show protocols all").stdout)

    def stale_peers(self) -> set[str]:
        """Peers whose routes the router keeps while they restart (BIRD: "Neighbor graceful restart active")."""
        return {peer for peer, info in self._protocols().items() if info["graceful_restart"]}

    def bfd_sessions(self) -> dict[str, str]:
        """peer address → BFD state (up, down, init), from ``show bfd sessions``."""
        out = {}
        for line in self._birdc("show bfd sessions").stdout.splitlines():
            words = line.split()
            if len(words) >= 3 and _is_address(words[0]):
                out[words[0]] = words[2].lower()
        return out

    def bfd_detect_ms(self) -> dict[str, int]:
        """peer address → the detection time BIRD runs with (``show bfd sessions``' Timeout)."""
        out = {}
        for line in self._birdc("show bfd sessions").stdout.splitlines():
            words = line.split()
            if len(words) >= 6 and _is_address(words[0]):
                out[words[0]] = round(float(words[-1]) * 1000)
        return out

    def fib(self, family: str = IPV4) -> dict[str, set[str]]:
        return fib(self.netns, family)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _read_pid(path: str) -> tuple[bool, int | None]:
    try:
        with open(path, encoding="utf-8") as f:
            return True, int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return False, None


def bird_protocols(text: str) -> dict[str, dict]:
    """``show protocols all`` of BIRD 2: per BGP neighbor address its state, when it last changed,
    whether BIRD keeps its routes for a graceful restart, and its import counters. A listen range's
    template is skipped: its sessions are the protocols it spawned."""
    out: dict[str, dict] = {}
    for block in re.split(r"\n(?=\S)", text):
        head = block.split("\n", 1)[0].split()
        if len(head) < 2 or head[1] != "BGP":
            continue
        peer = re.search(r"Neighbor address:\s+(\S+)", block)
        if not peer:
            continue
        state = re.search(r"BGP state:\s+(\S+)", block)
        info = {"state": state.group(1) if state else "", "since": head[4] if len(head) > 4 else "",
                "graceful_restart": "Neighbor graceful restart active" in block}
        for key, label in (("import_updates", "Import updates"), ("import_withdraws", "Import withdraws")):
            m = re.search(label + r":\s+(\d+)\s+(?:\S+\s+){3}(\d+)", block)  # "---": a column BIRD has not
            info[key] = int(m.group(1)) if m else 0
        address = peer.group(1).split("%")[0]
        if address not in out or info["state"] == ESTABLISHED:
            out[address] = info
    return out


_BIRD_PATH = re.compile(r"^(\S+)?\s+\w+ \[(\S+) [^\]]*\]( \*)?")


def bird_routes(text: str) -> dict[str, RouteView]:
    """``show route all`` of BIRD 2: a prefix line, then one block per path (first line indented by
    spaces, attribute lines by a tab)."""
    paths: dict[str, list[dict]] = {}
    prefix, path = "", None
    for line in text.splitlines():
        m = _BIRD_PATH.match(line)
        if m and not line.startswith("\t"):
            prefix = m.group(1) or prefix
            path = {"best": bool(m.group(3)), "hops": set(), "communities": set(), "large": set(), "local_pref": None,
                    "bgp": False}
            paths.setdefault(prefix, []).append(path)
            continue
        if path is None:
            continue
        line = line.strip()
        if line.startswith("via "):
            path["hops"].add(line.split()[1])
        elif line.startswith("Type: BGP"):
            path["bgp"] = True
        elif line.startswith("BGP.next_hop:"):
            path["hops"] |= {h for h in line.split()[1:] if not h.lower().startswith("fe80")}
        elif line.startswith("BGP.local_pref:"):
            path["local_pref"] = int(line.split()[1])
        elif line.startswith("BGP.community:"):
            path["communities"] |= {"%s:%s" % pair for pair in re.findall(r"\((\d+),(\d+)\)", line)}
        elif line.startswith("BGP.large_community:"):
            path["large"] |= {"%s:%s:%s" % t for t in re.findall(r"\((\d+), (\d+), (\d+)\)", line)}
    out = {}
    for prefix, ps in paths.items():
        ps = [p for p in ps if p["bgp"]]
        if not ps:
            continue
        best = next((p for p in ps if p["best"]), ps[0])
        hops = {h for p in ps for h in p["hops"] if not h.lower().startswith("fe80")}
        out[prefix] = RouteView(frozenset(hops), frozenset(best["communities"]), frozenset(best["large"]),
                                best["local_pref"])
    return out


ROUTERS = {"frr": FrrRouter, "bird": BirdRouter}
