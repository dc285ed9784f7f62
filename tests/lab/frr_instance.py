# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A private FRR (zebra, bgpd, bfdd from Debian's ``frr``) inside a network namespace the test creates.

Its own pathspace (``-N``: config and sockets under /etc/frr/<name>, /var/run/frr/<name>) leaves any
other FRR of the host alone; bgpd does not listen (``-p 0``). Stopped by the PIDs it wrote, the
namespace and directories removed, also on failure."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

FRR_DIR = "/usr/lib/frr"
DAEMONS = ("zebra", "bgpd", "bfdd")
_WARNINGS = ("% Echo mode works correctly",)  # FRR's advice, not an error
_HIDDEN = ("!", "Building configuration...", "Current configuration:", "end")
_HIDDEN_PREFIX = ("frr version", "frr defaults", "hostname ", "log ", "no ip forwarding", "no ipv6 forwarding",
                  "service integrated-vtysh-config")


def missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, FRR daemons)"
    for d in DAEMONS:
        if not os.access(os.path.join(FRR_DIR, d), os.X_OK):
            return "Debian's frr package is not installed (%s/%s)" % (FRR_DIR, d)
    if shutil.which("vtysh") is None or shutil.which("ip") is None:
        return "vtysh or ip is missing"
    return None


class FrrInstance:
    def __init__(self, name: str, netns: str) -> None:
        self.name = name
        self.netns = netns
        self.run_dir = "/var/run/frr/%s" % name
        self.etc_dir = "/etc/frr/%s" % name
        self.pids: dict[str, int] = {}
        self.listen = False
        self.port = 179

    def _exec(self, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self, listen: bool = False, bgp_config: str = "", port: int = 179) -> None:
        """zebra, bgpd, bfdd; bgpd listens on ``port`` of the namespace only with ``listen``.
        ``bgp_config`` (a rendering): what bgpd reads at its start, see ``write_bgp_config``."""
        self.listen = listen
        self.port = port
        for path in (self.run_dir, self.etc_dir):
            os.makedirs(path, exist_ok=True)
            shutil.chown(path, "frr", "frr")
        with open(os.path.join(self.etc_dir, "vtysh.conf"), "w", encoding="utf-8"):
            pass
        if bgp_config:
            self.write_bgp_config(bgp_config)
        for daemon in DAEMONS:
            self.start_daemon(daemon)
        self.wait_vtysh()

    def start_with(self, model, listen: bool = False) -> None:
        """Start loaded with an engine rendering (``FrrConfig``): bgpd reads it whole at its start, bfdd
        gets its BFD profiles through vtysh (in a file, the bgp lines it does not know end its
        configuration mode before the ``bfd`` block)."""
        from dataclasses import replace

        from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_text
        from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff

        self.start(listen=listen, bgp_config=render_text(model))
        if model.bfd_profiles:
            self.vtysh(diff(None, replace(model, routers=(), prefix_lists=(), route_maps=())))

    @property
    def bgp_config_path(self) -> str:
        return os.path.join(self.etc_dir, "frr.conf")

    def write_bgp_config(self, text: str) -> None:
        """The configuration each daemon reads when it starts (now or after ``kill_daemon``), each taking
        its part of it as with vtysh (prefix-lists and route-maps live in zebra and bgpd alike). Read before
        bgpd's first event, a whole configuration opens each session with all its address families; loaded
        command by command through vtysh, a neighbor can connect before its ``activate`` arrives."""
        with open(self.bgp_config_path, "w", encoding="utf-8") as f:
            f.write(text)
        shutil.chown(self.bgp_config_path, "frr", "frr")

    def start_daemon(self, daemon: str) -> None:
        """Start one daemon (again, after ``kill_daemon``); its PID is recorded for ``stop``."""
        pid_file = os.path.join(self.run_dir, daemon + ".pid")
        try:
            os.unlink(pid_file)
        except FileNotFoundError:
            pass
        extra = ["-p", str(self.port if self.listen else 0)] if daemon == "bgpd" else []
        config = self.bgp_config_path if os.path.exists(self.bgp_config_path) else "/dev/null"
        out = self._exec([os.path.join(FRR_DIR, daemon), "-N", self.name, "-d", "-f", config,
                          "-i", pid_file, *extra])
        if out.returncode != 0:
            raise RuntimeError("%s did not start: %s" % (daemon, out.stderr))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(pid_file, encoding="utf-8") as f:
                    self.pids[daemon] = int(f.read().strip())
                return
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("%s of FRR instance %s wrote no PID file" % (daemon, self.name))

    def wait_vtysh(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:  # until bgpd answers vtysh
            if self._exec(["vtysh", "-N", self.name, "-c", "show bgp summary"]).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("FRR instance %s does not answer vtysh" % self.name)

    def alive(self, daemon: str) -> bool:
        pid = self.pids.get(daemon)
        return pid is not None and running(pid)

    def kill_daemon(self, daemon: str, sig: int = signal.SIGKILL) -> None:
        """Kill one daemon of this instance by its PID (a crash when ``sig`` is SIGKILL) and wait for it to end."""
        pid = self.pids.pop(daemon)
        end_process(pid, sig, time.monotonic() + 10)

    def stop(self) -> None:
        deadline = time.monotonic() + 10
        for pid in self.pids.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in self.pids.values():
            end_process(pid, None, deadline)
        self.pids = {}
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.etc_dir, ignore_errors=True)

    def vtysh(self, commands: list[str]) -> str:
        """Run ``commands`` in one vtysh session; an FRR error (``%`` line) raises."""
        argv = ["vtysh", "-N", self.name]
        for c in commands:
            argv += ["-c", c]
        out = self._exec(argv)
        errors = [line for line in (out.stdout + out.stderr).splitlines()
                  if line.startswith("%") and not line.startswith(_WARNINGS)]
        if out.returncode != 0 or errors:
            raise AssertionError("vtysh failed (rc %d): %s" % (out.returncode, "\n".join(errors) or out.stderr))
        return out.stdout

    def running_config(self) -> list[str]:
        """``show running-config`` without the lines metal.lb does not write, prefix-list ``seq N`` removed."""
        text = self.vtysh(["show running-config"])
        out = []
        for line in text.splitlines():
            stripped = line.strip()
            if not stripped or stripped in _HIDDEN or stripped.startswith(_HIDDEN_PREFIX):
                continue
            if "prefix-list" in line and " seq " in line and not line.startswith(" "):
                words = line.split()
                i = words.index("seq")
                line = " ".join(words[:i] + words[i + 2:])
            out.append(line.rstrip())
        return out


def running(pid: int) -> bool:
    """``pid`` exists and is not a zombie (daemons are reparented; their exit may not be reaped at once)."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def end_process(pid: int, sig: int | None, deadline: float) -> None:
    """Send ``sig`` (None: none) to ``pid``, wait until it is gone, SIGKILL at ``deadline``."""
    try:
        if sig is not None:
            os.kill(pid, sig)
        while time.monotonic() < deadline and running(pid):
            time.sleep(0.05)
        if running(pid):
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def comparable(lines: list[str]) -> tuple[list[str], list[tuple[str, ...]], list[str]]:
    """(prefix-list entries sorted: FRR numbers them in arrival order; route-map entries sorted: FRR prints
    them in the order they were created; everything else in FRR's order)."""
    plists = sorted(line for line in lines if "prefix-list" in line and not line.startswith(" "))
    maps: list[tuple[str, ...]] = []
    rest: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if "prefix-list" in line and not line.startswith(" "):
            continue
        if line.startswith("route-map "):
            block = [line]
        elif block is not None:
            block.append(line)
            if line == "exit":
                maps.append(tuple(block))
                block = None
        else:
            rest.append(line)
    return plists, sorted(maps), rest


class Namespace:
    """A namespace with lo up and 198.51.100.1/32, 2001:db8::100/128 on it; ``link_to`` joins another
    namespace with a veth pair (198.51.100.0/24 on both ends). Deleted on exit, with its veth."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.created: list[str] = []

    def __enter__(self) -> Namespace:
        try:
            self.add(self.name)
            for argv in (["addr", "add", "198.51.100.1/32", "dev", "lo"],
                         ["-6", "addr", "add", "2001:db8::100/128", "dev", "lo"]):
                subprocess.run(["ip", "-n", self.name, *argv], check=True, timeout=20)
        except BaseException:
            self.__exit__()
            raise
        return self

    def add(self, name: str) -> None:
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=20)
        self.created.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=20)

    def link_to(self, other: str, mine: str, theirs: str) -> None:
        """A second namespace ``other`` joined to this one: ``mine``/``theirs`` are 198.51.100.x/24 addresses."""
        self.add(other)
        subprocess.run(["ip", "-n", self.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
                        "netns", other], check=True, timeout=20)
        for ns, dev, address in ((self.name, "v0", mine), (other, "v1", theirs)):
            subprocess.run(["ip", "-n", ns, "addr", "add", address, "dev", dev], check=True, timeout=20)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True, timeout=20)

    def __exit__(self, *exc) -> None:
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], check=False, timeout=20)
        self.created = []
