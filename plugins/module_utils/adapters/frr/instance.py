# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One FRR instance (zebra, bgpd, bfdd of Debian's ``frr``) owned by the speaker of a node.

Its own pathspace (``-N NAME``): sockets and pid files under ``/var/run/frr/NAME``, vtysh's
config under ``/etc/frr/NAME``, so another FRR of the host keeps its own. The daemons start with
an empty configuration (``-f /dev/null``): everything they run is what the speaker applied
through vtysh. An instance of the same pathspace still running (the speaker crashed or was
restarted) is adopted, not killed, so its sessions and routes survive the speaker's restart; a
daemon that died takes the whole instance down and up again (its configuration lived only in
memory), and the caller re-applies everything (``start`` returns True).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable

LOG = logging.getLogger("metal_lb.frr")
DAEMONS = ("zebra", "bgpd", "bfdd")
DEFAULT_FRR_DIR = "/usr/lib/frr"
RUN_ROOT = "/var/run/frr"
ETC_ROOT = "/etc/frr"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class FrrError(RuntimeError):
    """FRR cannot run here (not installed, a daemon does not start): one line for the log."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> list[str]:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return [part.decode("utf-8", "replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def _netns(pid: int | str) -> str:
    """The network namespace of a process (its /proc ns link), "" when unreadable."""
    try:
        return os.readlink("/proc/%s/ns/net" % pid)
    except OSError:
        return ""


class FrrInstance:
    """The daemons of pathspace ``name``. ``bgp_port`` 0: bgpd does not listen (it still connects
    out); ``user``: the user FRR's daemons drop to (its directories are given to it)."""

    def __init__(self, name: str = "metal-lb", *, frr_dir: str = DEFAULT_FRR_DIR, bgp_port: int = 179,
                 user: str = "frr", run_root: str = RUN_ROOT, etc_root: str = ETC_ROOT,
                 runner: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
        self.name = name
        self.frr_dir = frr_dir
        self.bgp_port = bgp_port
        self.user = user
        self.run_dir = os.path.join(run_root, name)
        self.etc_dir = os.path.join(etc_root, name)
        self._run = runner
        self.pids: dict[str, int] = {}
        self.adopted = False

    # -- facts ---------------------------------------------------------------------------------
    def missing(self) -> str | None:
        """Why FRR cannot run here, or None."""
        for daemon in DAEMONS:
            if not os.access(os.path.join(self.frr_dir, daemon), os.X_OK):
                return "FRR is not installed: %s/%s is missing (Debian's frr package)" % (self.frr_dir, daemon)
        if shutil.which("vtysh") is None:
            return "FRR's vtysh is not installed"
        return None

    def pid_file(self, daemon: str) -> str:
        return os.path.join(self.run_dir, daemon + ".pid")

    def _running_pid(self, daemon: str) -> int | None:
        """The pid of our ``daemon`` of this pathspace if it runs (pid file, and the process is that daemon)."""
        try:
            with open(self.pid_file(daemon), encoding="utf-8") as handle:
                pid = int(handle.read().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        argv = _cmdline(pid)
        if not argv or os.path.basename(argv[0]) != daemon or self.name not in argv:
            return None  # a recycled pid: not ours
        return pid

    def running(self) -> bool:
        return all(self._running_pid(d) is not None for d in DAEMONS)

    def dead(self) -> list[str]:
        """Daemons of a started instance that are gone."""
        return [d for d in DAEMONS if d in self.pids and self._running_pid(d) is None]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> bool:
        """Adopt a running instance of this pathspace or start one. True: FRR starts empty (the
        caller applies everything), False: adopted (FRR holds what a previous speaker applied)."""
        pids = {d: self._running_pid(d) for d in DAEMONS}
        mine = _netns("self")
        elsewhere = [d for d, pid in pids.items() if pid is not None and mine and _netns(pid) not in ("", mine)]
        if elsewhere:
            # several speakers on one host (namespaces, tests): never adopt or kill another node's FRR
            raise FrrError("FRR pathspace %s is used by an FRR in another network namespace (%s): give each "
                           "speaker of this host its own --frr-pathspace" % (self.name, ", ".join(elsewhere)))
        if all(pid is not None for pid in pids.values()):
            self.pids = {d: int(p) for d, p in pids.items() if p is not None}
            self.adopted = True
            LOG.info("FRR instance %s adopted (pids %s)", self.name,
                     ", ".join("%s %d" % item for item in sorted(self.pids.items())))
            return False
        if any(pid is not None for pid in pids.values()):
            LOG.warning("FRR instance %s is incomplete (%s not running): restarting it", self.name,
                        ", ".join(d for d, p in pids.items() if p is None))
            self.pids = {d: int(p) for d, p in pids.items() if p is not None}
            self.stop()
        reason = self.missing()
        if reason:
            raise FrrError(reason)
        self._prepare_dirs()
        self.pids = {}
        for daemon in DAEMONS:
            self._start_daemon(daemon)
        self.adopted = False
        LOG.info("FRR instance %s started (pids %s)", self.name,
                 ", ".join("%s %d" % item for item in sorted(self.pids.items())))
        return True

    def restart_if_dead(self) -> bool:
        """A daemon died: the instance is restarted whole. True when it was (apply everything again)."""
        gone = self.dead()
        if not gone:
            return False
        LOG.error("FRR instance %s: %s died; restarting the instance", self.name, ", ".join(gone))
        self.stop(remove=False)
        self.start()
        return True

    def stop(self, remove: bool = False) -> None:
        """SIGTERM every daemon of ours (bgpd closes its sessions with a Cease), SIGKILL after a while."""
        pids = dict(self.pids)
        mine = _netns("self")
        for daemon in DAEMONS:
            pid = pids.get(daemon) or self._running_pid(daemon)
            if pid and (daemon in pids or _netns(pid) in ("", mine)):  # never another namespace's FRR
                pids[daemon] = pid
        for pid in pids.values():
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for daemon, pid in pids.items():
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                LOG.warning("FRR %s (pid %d) did not stop: killing it", daemon, pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.pids = {}
        if remove:
            shutil.rmtree(self.run_dir, ignore_errors=True)
            shutil.rmtree(self.etc_dir, ignore_errors=True)

    # -- internals -------------------------------------------------------------------------------
    def _prepare_dirs(self) -> None:
        for path in (self.run_dir, self.etc_dir):
            os.makedirs(path, exist_ok=True)
            try:
                shutil.chown(path, self.user, self.user)
            except (LookupError, PermissionError) as exc:
                LOG.debug("%s not given to %s: %s", path, self.user, exc)
        vtysh_conf = os.path.join(self.etc_dir, "vtysh.conf")
        if not os.path.exists(vtysh_conf):
            with open(vtysh_conf, "w", encoding="utf-8"):
                pass  # vtysh reads it; empty: no integrated configuration file

    def argv(self, daemon: str) -> list[str]:
        out = [os.path.join(self.frr_dir, daemon), "-N", self.name, "-d", "-f", "/dev/null", "-i",
               self.pid_file(daemon)]
        if daemon == "bgpd":
            out += ["-p", str(self.bgp_port)]
        return out

    def _start_daemon(self, daemon: str) -> None:
        try:
            os.unlink(self.pid_file(daemon))
        except OSError:
            pass
        try:
            done = self._run(self.argv(daemon), capture_output=True, text=True, timeout=START_TIMEOUT,
                             check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FrrError("FRR %s did not start: %s" % (daemon, exc)) from None
        if done.returncode != 0:
            raise FrrError("FRR %s did not start (exit %d): %s" % (daemon, done.returncode,
                                                                   (done.stderr or "").strip()[:300]))
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            pid = self._running_pid(daemon)
            if pid is not None:
                self.pids[daemon] = pid
                return
            time.sleep(0.02)
        raise FrrError("FRR %s did not write %s" % (daemon, self.pid_file(daemon)))
