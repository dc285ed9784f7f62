# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network-namespace building blocks for the lab (``make lab``, tests/lab, benchmarks).

Hosts are namespaces whose ``eth0`` is plugged into a bridge that lives in a namespace of its
own, so the machine's root namespace is never touched. Names carry a random suffix
(``mlb-<6hex>-<role>``) so parallel or leftover runs never collide. Addresses come only from
the documentation ranges 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32, and no host gets
a route out of the lab. Everything a ``Lab`` creates (namespaces, links, processes it started)
is removed by ``teardown()``, which the context manager always calls; processes are killed
by their own PIDs only. While a lab exists, ``/run/metal-lb-lab/<prefix>.json`` records its
namespaces and PIDs (with their start times), so ``make lab-down`` can remove exactly what a
crashed or detached run left behind.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

ALLOWED_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
REQUIRED_TOOLS = ("ip", "arping", "ndisc6", "tcpdump")
STATE_DIR = "/run/metal-lb-lab"


def child_env() -> dict:
    """Environment for Python helpers run inside a namespace: the same import path as ours."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


class LabError(RuntimeError):
    """The lab cannot be built here; the message says why."""


def missing_requirements(tools=REQUIRED_TOOLS) -> str | None:
    """Why the lab cannot run here (None: it can). For ``pytest.skip``."""
    if os.geteuid() != 0:
        return (
            "the lab and its tests need root (network namespaces, raw sockets); run them as root, e.g. in CI"
        )
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        return (
            "the lab needs %s (run `make deps` as root: "
            "apt-get install -y arping ndisc6 tcpdump iproute2 nftables curl)" % ", ".join(missing)
        )
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=False)
    if probe.returncode != 0:
        return "`ip netns` does not work here: %s" % probe.stderr.strip()
    return None


def run(argv: list[str], *, check: bool = True, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and out.returncode != 0:
        raise LabError(
            "%s failed (%d): %s" % (" ".join(argv), out.returncode, (out.stderr or out.stdout).strip())
        )
    return out


def check_lab_address(address: str) -> None:
    """Refuse anything outside the documentation ranges (the network-safety rule)."""
    net = ipaddress.ip_interface(address).network
    if not any(net.version == a.version and net.subnet_of(a) for a in ALLOWED_NETWORKS):
        raise LabError(
            "refusing lab address %s: only 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 "
            "may be used" % address
        )


def host_route_overlaps(prefixes: list[str]) -> list[str]:
    """Routes of the root namespace that overlap the lab's prefixes (the lab refuses to run then,
    so nobody confuses lab traffic with a real network)."""
    overlaps = []
    for family in ("-4", "-6"):
        out = run(["ip", family, "-j", "route", "show", "table", "all"], check=False)
        try:
            routes = json.loads(out.stdout or "[]")
        except ValueError:
            continue
        for route in routes:
            dst = route.get("dst")
            if (
                not dst
                or dst == "default"
                or route.get("type") in ("local", "broadcast", "multicast", "anycast")
            ):
                continue
            try:
                net = ipaddress.ip_network(
                    dst if "/" in dst else dst + ("/32" if family == "-4" else "/128"), strict=False
                )
            except ValueError:
                continue
            for prefix in prefixes:
                lab = ipaddress.ip_network(prefix)
                if lab.version == net.version and lab.overlaps(net):
                    overlaps.append("%s (%s)" % (dst, route.get("dev", "?")))
    return overlaps


@dataclass
class Host:
    """A namespace with one ``eth0`` on the lab bridge."""

    role: str
    ns: str
    mac: str
    addresses: tuple[str, ...]
    link_local: str | None = None

    def cmd(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return run(self.cmd(*argv), check=check, timeout=timeout)


@dataclass
class Lab:
    """A bridge namespace plus hosts. Use as a context manager; ``teardown()`` is idempotent."""

    prefix: str = field(default_factory=lambda: "mlb-" + secrets.token_hex(3))
    bridge_ns: str = ""
    hosts: dict[str, Host] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    processes: list[subprocess.Popen] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # files/directories make lab-down removes too
    state_dir: str = STATE_DIR
    # left running on purpose by a builder that ended (python -m lab up --hosts-dir): a plain
    # make lab-down leaves it alone; its own down (--hosts-dir) or --force removes it
    detached: bool = False

    def __enter__(self) -> Lab:
        try:
            self.bridge_ns = self._netns("br")
            self._in_bridge("link", "add", "br0", "type", "bridge")
            self._in_bridge("link", "set", "br0", "up")
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def _netns(self, role: str) -> str:
        name = "%s-%s" % (self.prefix, role)
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.save_state()
        for key in ("all", "default"):  # no DAD delay, no router solicitations leaving eth0
            run(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.%s.accept_dad=0" % key,
                    "net.ipv6.conf.%s.router_solicitations=0" % key,
                ]
            )
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def _in_bridge(self, *argv: str) -> None:
        run(["ip", "-n", self.bridge_ns, *argv])

    def add_host(self, role: str, addresses: tuple[str, ...] = (), mac: str | None = None) -> Host:
        """A namespace ``<prefix>-<role>`` whose eth0 is on the bridge, with ``addresses`` (CIDR)."""
        for address in addresses:
            check_lab_address(address)
        ns = self._netns(role)
        port = "p-%s" % role[:12]
        run(
            [
                "ip",
                "-n",
                self.bridge_ns,
                "link",
                "add",
                port,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                ns,
            ]
        )
        self._in_bridge("link", "set", port, "master", "br0")
        self._in_bridge("link", "set", port, "up")
        if mac:
            run(["ip", "-n", ns, "link", "set", "eth0", "address", mac])
        for address in addresses:
            family = "-6" if ":" in address else "-4"
            extra = ["nodad"] if family == "-6" else []
            run(["ip", "-n", ns, family, "addr", "add", address, "dev", "eth0", *extra])
        run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        host = Host(role, ns, self.link_mac(ns), tuple(addresses))
        host.link_local = self.wait_link_local(ns)
        self.hosts[role] = host
        return host

    @staticmethod
    def link_mac(ns: str, dev: str = "eth0") -> str:
        info = json.loads(run(["ip", "-n", ns, "-j", "link", "show", "dev", dev]).stdout)
        return info[0]["address"].lower()

    @staticmethod
    def wait_link_local(ns: str, dev: str = "eth0", timeout: float = 5.0) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = run(["ip", "-n", ns, "-6", "-j", "addr", "show", "dev", dev, "scope", "link"], check=False)
            for item in json.loads(out.stdout or "[]"):
                for addr in item.get("addr_info", ()):
                    if addr.get("local") and not addr.get("tentative"):
                        return addr["local"]
            time.sleep(0.05)
        return None

    def start(self, host: Host | None, argv: list[str], **kw) -> subprocess.Popen:
        """Start ``argv`` inside ``host``'s namespace (None: this namespace); it is killed (by PID)
        on teardown. ``ip netns exec`` execs the command, so the PID is the command's own."""
        proc = subprocess.Popen(host.cmd(*argv) if host else list(argv), **kw)
        self.processes.append(proc)
        self.save_state()
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return proc.returncode

    def forget(self, proc: subprocess.Popen) -> None:
        """Stop tracking a process that has ended (a killed speaker, a stopped API)."""
        if proc in self.processes:
            self.processes.remove(proc)
            self.save_state()

    @property
    def state_path(self) -> str:
        return os.path.join(self.state_dir, self.prefix + ".json")

    def save_state(self) -> None:
        """Record namespaces and live PIDs (with start times, so a recycled PID is never killed)."""
        if not self.namespaces and not self.processes:
            return
        procs = [
            {"pid": p.pid, "start": process_start_time(p.pid)} for p in self.processes if p.poll() is None
        ]
        os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(
                {
                    "prefix": self.prefix,
                    "namespaces": self.namespaces,
                    "processes": procs,
                    "owner": {"pid": os.getpid(), "start": process_start_time(os.getpid())},
                    "paths": self.paths,
                    "detached": self.detached,
                },
                fh,
            )
        os.replace(tmp, self.state_path)

    def teardown(self) -> None:
        for proc in reversed(self.processes):
            try:
                self.stop(proc)
            except Exception:  # keep tearing down
                pass
        self.processes.clear()
        for ns in reversed(self.namespaces):
            run(["ip", "netns", "del", ns], check=False)  # veths die with their namespace
        self.namespaces.clear()
        try:
            os.unlink(self.state_path)
        except OSError:
            pass


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot): with the PID, identifies one process."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def remove_recorded_labs(
    force: bool = False, state_dir: str = STATE_DIR, prefix: str | None = None
) -> tuple[list[str], list[str]]:
    """``make lab-down``: kill the recorded processes (only if PID and start time still match)
    and delete the recorded namespaces and paths of every lab state file whose owner (the
    process that built it) is gone — a lab whose owner still runs (a test session) is left alone
    unless ``force``; ``prefix``: only that lab. Returns (what was removed, labs skipped because their
    owner runs)."""
    removed: list[str] = []
    skipped: list[str] = []
    if not os.path.isdir(state_dir):
        return removed, skipped
    for name in sorted(os.listdir(state_dir)):
        path = os.path.join(state_dir, name)
        if not name.startswith("mlb-") or not name.endswith(".json"):
            continue
        if prefix is not None and name != prefix + ".json":
            continue
        try:
            with open(path) as fh:
                state = json.load(fh)
        except (OSError, ValueError):
            os.unlink(path)
            continue
        owner = state.get("owner") or {}
        if not force and state.get("detached"):
            skipped.append("%s (left running on purpose: python -m lab down --hosts-dir)" % state.get("prefix"))
            continue
        if not force and owner.get("pid") and process_start_time(int(owner["pid"])) == owner.get("start"):
            skipped.append("%s (built by running process %s)" % (state.get("prefix"), owner["pid"]))
            continue
        for item in state.get("processes", ()):
            pid, start = int(item["pid"]), item.get("start")
            if start is not None and process_start_time(pid) == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                    removed.append("process %d" % pid)
                except OSError:
                    pass
        existing = set(leftover_namespaces(state.get("prefix", "mlb-")))
        for ns in reversed(state.get("namespaces", ())):
            if ns in existing and ns.startswith("mlb-"):
                run(["ip", "netns", "del", ns], check=False)
                removed.append("namespace %s" % ns)
        for extra in state.get("paths", ()):
            if os.path.basename(extra).startswith(("mlb-", "speaker-node")) and os.path.exists(extra):
                shutil.rmtree(extra, ignore_errors=True) if os.path.isdir(extra) else os.unlink(extra)
                removed.append(extra)
        os.unlink(path)
    return removed, skipped


def leftover_namespaces(prefix: str) -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(prefix)]


MAC_RE = re.compile(r"(?:[0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}")


@functools.lru_cache(maxsize=1)
def _arping_is_habets() -> bool:
    out = run(["arping", "--help"], check=False)
    return "Habets" in out.stdout + out.stderr


def arping(
    host: Host, ip: str, count: int = 3, interval: float = 0.2, timeout: float = 5.0
) -> list[tuple[str, float]]:
    """Replies to ``arping`` from ``host``: [(mac, seconds)], for either arping flavour
    (Habets' 'bytes from MAC (IP): ... time=' or iputils' 'reply from IP [MAC] N ms')."""
    if _arping_is_habets():
        argv = ["arping", "-c", str(count), "-W", str(interval), "-w", str(int(timeout)), "-i", "eth0", ip]
    else:  # iputils: one request per second
        argv = ["arping", "-c", str(count), "-w", str(int(timeout)), "-I", "eth0", ip]
    out = host.run(*argv, check=False, timeout=timeout + 10)
    replies = []
    for line in out.stdout.splitlines():
        if "from" not in line or "Timeout" in line:
            continue
        mac = MAC_RE.search(line)
        t = re.search(r"time=([\d.]+) (usec|msec|sec)", line) or re.search(r"\]\s+([\d.]+)(ms)", line)
        if mac and ip in line:
            scale = {"usec": 1e-6, "msec": 1e-3, "ms": 1e-3, "sec": 1.0}[t.group(2)] if t else 0.0
            replies.append((mac.group(0).lower(), float(t.group(1)) * scale if t else float("nan")))
    return replies


def ndisc6(host: Host, ip: str, wait_ms: int = 1000, retries: int = 2) -> list[str]:
    """Link-layer addresses answering an NS for ``ip`` (all answers seen within the wait)."""
    out = host.run(
        "ndisc6",
        "-m",
        "-n",
        "-r",
        str(retries),
        "-w",
        str(wait_ms),
        ip,
        "eth0",
        check=False,
        timeout=retries * wait_ms / 1000 + 10,
    )
    return [
        m.group(0).lower()
        for line in out.stdout.splitlines()
        if "link-layer address" in line
        for m in [MAC_RE.search(line)]
        if m
    ]


def neighbor(host: Host, ip: str) -> dict | None:
    family = "-6" if ":" in ip else "-4"
    out = host.run("ip", family, "-j", "neigh", "show", ip, "dev", "eth0", check=False)
    entries = json.loads(out.stdout or "[]")
    return entries[0] if entries else None
