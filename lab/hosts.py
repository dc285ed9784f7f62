# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab hosts: real systemd machines in the lab's namespaces, reached by Ansible over SSH.

Each lab node and the control-plane host ``cp1`` is the Debian image of ``image.py`` booted by

    systemd-nspawn --register=no --keep-unit --boot --volatile=overlay \\
        --network-namespace-path=/run/netns/<its namespace> --capability=CAP_NET_ADMIN

The machine running the lab has no systemd of its own, hence no registration and no scope unit. The
image is the read-only lower layer of an overlay whose upper layer is a tmpfs inside the container's
own mount namespace: every boot starts pristine, the cached image is never written, and nothing is
left on the disk when a container ends. nspawn keeps its default capabilities (CAP_NET_RAW,
CAP_NET_BIND_SERVICE, CAP_SYS_ADMIN among them); CAP_NET_ADMIN is added (nspawn only adds it itself
for a network it made), and /proc/sys/net is writable because the namespace is the host's own.

``cp1`` boots in the ``apiserver`` namespace: a control-plane host beside its kube-apiserver, so the
controller the roles install there serves the webhooks on 127.0.0.1 as the lab's registrations expect.
``nodeN`` boots in the node's namespace, whose ``eth0`` is on the lab bridge. An ``admin`` namespace on
the bridge is where Ansible runs, as from a user's workstation:

    ip netns exec <prefix>-admin ansible -i build/lab/inventory.yml all -m ping

build/lab/ holds the lab's SSH key (made per lab), the inventory, an admin kubeconfig for the API at
198.51.100.2:6443, /etc/hosts for the containers and their console logs. One lab with hosts at a time
uses a directory; teardown (and ``make lab-down`` after a crash) removes it, the containers and the
admin namespace. Stopping is by PID: SIGTERM to nspawn powers the container off, and if that hangs,
SIGKILL to the container's PID 1 ends every process in it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import image, netns, topology

ROOT = Path(__file__).resolve().parents[1]
LAB_DIR = ROOT / "build" / "lab"
USER = image.USER
CONTROLLERS, SPEAKERS = "metal_lb_controllers", "metal_lb_speakers"
CONTROL_PLANE = "cp1"
BOOT_TIMEOUT = 120.0
STOP_TIMEOUT = 15.0
PROPAGATE_DIR = "/run/systemd/nspawn/propagate"  # nspawn's per-machine directory on this side
REQUIRED_TOOLS = ("systemd-nspawn", "ssh", "ssh-keygen")
# Host keys are not checked: every lab is new (and its hosts share the image's keys).
NO_HOST_KEYS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
SSH_OPTIONS = ("-o", "BatchMode=yes", *NO_HOST_KEYS.split())


def missing_requirements() -> str | None:
    """Why lab hosts cannot run here (None: they can)."""
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None]
    if not image.is_current():
        missing += [t for t in image.REQUIRED_TOOLS if shutil.which(t) is None]
    if missing:
        return (
            "lab hosts need %s (run `make deps` as root: apt-get install -y systemd-container debootstrap "
            "openssh-client)" % ", ".join(missing)
        )
    return None


@dataclass(frozen=True)
class HostSpec:
    """One lab host: its name (hostname and inventory name), the namespace it boots in, the address
    Ansible reaches it at and its inventory group."""

    name: str
    host: netns.Host
    address: str
    group: str


class ContainerInit:
    """A container's PID 1, which is not our child. It looks enough like a ``Popen`` for the lab's
    process list (``netns.Lab``): recorded by PID and start time for ``make lab-down``, and any
    signal ends it with SIGKILL, which ends every process of the container's PID namespace."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = netns.process_start_time(pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and netns.process_start_time(self.pid) != self.start:
            self.returncode = -signal.SIGKILL
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = time.monotonic() + (timeout if timeout is not None else STOP_TIMEOUT)
        while self.poll() is None:
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired("container init %d" % self.pid, timeout)
            time.sleep(0.05)
        return self.returncode


@dataclass
class Container:
    spec: HostSpec
    machine: str
    nspawn: subprocess.Popen
    init: ContainerInit | None
    console_log: str


def container_init(nspawn_pid: int, timeout: float = 20.0) -> int | None:
    """The PID of the container's init: nspawn's child that is PID 1 of a PID namespace."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path("/proc/%d/task/%d/children" % (nspawn_pid, nspawn_pid)).read_text().split()
        except OSError:
            return None  # nspawn is gone
        for child in children:
            try:
                status = Path("/proc/%s/status" % child).read_text()
            except OSError:
                continue
            nspid = next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])
            if len(nspid) >= 2 and nspid[-1] == "1":
                return int(child)
        time.sleep(0.05)
    return None


class LabHosts:
    """The containers, the admin namespace and build/lab/ of one lab (``netns.Lab``)."""

    def __init__(self, net: netns.Lab, directory: str | Path = LAB_DIR, log=None) -> None:
        self.net = net
        self.directory = Path(directory)
        self.log = log or (lambda msg: None)
        self.admin: netns.Host | None = None
        self.containers: dict[str, Container] = {}
        self.specs: dict[str, HostSpec] = {}
        self.claimed = False
        # more variables for every host of the inventory (the lab's metal_lb_* settings, lab/site.py)
        self.inventory_vars: dict = {}

    # ------------------------------------------------------------------ paths

    @property
    def key(self) -> str:
        return str(self.directory / "id_ed25519")

    @property
    def inventory(self) -> str:
        return str(self.directory / "inventory.yml")

    @property
    def kubeconfig(self) -> str:
        return str(self.directory / "admin.kubeconfig")

    @property
    def control_dir(self) -> str:
        """Ansible's SSH sockets: beside the lab's state, a short path whatever the checkout's is
        (a socket path has at most 107 bytes); removed with the lab, also by ``make lab-down``."""
        return os.path.join(self.net.state_dir, "%s-ssh" % self.net.prefix)

    @property
    def owner_file(self) -> Path:
        return self.directory / "lab.json"

    # ------------------------------------------------------------------ lifecycle

    def start(self, specs: list[HostSpec]) -> None:
        """Claim the directory, make the key, the admin namespace, and boot every container (they
        boot in parallel; ``wait_ready`` waits for them)."""
        self._claim()
        self._write_key()
        os.makedirs(self.control_dir, mode=0o700, exist_ok=True)
        self.net.paths.append(self.control_dir)
        self._write_hosts_file(specs)
        self.admin = self.net.add_host("admin", (topology.ADMIN_V4 + "/24", topology.ADMIN_V6 + "/64"))
        for spec in specs:
            self.specs[spec.name] = spec
            self._boot(spec)

    def wait_ready(self, timeout: float = BOOT_TIMEOUT) -> None:
        """Until every host's sshd answers and systemd reports running (or degraded)."""
        deadline = time.monotonic() + timeout
        for name in self.containers:
            self._wait_one(name, deadline)
        self.write_inventory()

    def teardown(self) -> None:
        """Power every container off (SIGTERM to nspawn), kill what does not stop, remove build/lab/;
        the admin namespace goes with the lab's namespaces (``netns.Lab.teardown``)."""
        for container in self.containers.values():
            if container.nspawn.poll() is None:
                container.nspawn.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for container in self.containers.values():
            for proc in (container.nspawn, container.init):
                if proc is None:
                    continue
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
        for container in self.containers.values():
            if container.init is not None and container.init.poll() is None:
                container.init.kill()
                try:
                    container.init.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    pass
            self.net.stop(container.nspawn, timeout=STOP_TIMEOUT)
            for proc in (container.nspawn, container.init):
                if proc is not None:
                    self.net.forget(proc)
            shutil.rmtree(os.path.join(PROPAGATE_DIR, container.machine), ignore_errors=True)
        self.containers.clear()
        if self.admin is not None:
            self._end_admin_sessions()
        shutil.rmtree(self.control_dir, ignore_errors=True)
        if self.claimed and not os.environ.get("METAL_LB_LAB_KEEP_LOGS"):
            shutil.rmtree(self.directory, ignore_errors=True)
        self.claimed = False

    # ------------------------------------------------------------------ using the hosts

    def address(self, name: str) -> str:
        return self.specs[name].address

    def ssh_argv(self, name: str, command: str, connect_timeout: int = 5) -> list[str]:
        """``ssh ansible@<host> command`` from the admin namespace."""
        assert self.admin is not None
        return self.admin.cmd(
            "ssh",
            "-i",
            self.key,
            *SSH_OPTIONS,
            "-o",
            "ConnectTimeout=%d" % connect_timeout,
            "%s@%s" % (USER, self.address(name)),
            command,
        )

    def ssh(self, name: str, command: str, timeout: float = 60, check: bool = False) -> subprocess.CompletedProcess:
        return netns.run(self.ssh_argv(name, command), timeout=timeout, check=check)

    def run_in_admin(self, *argv: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
        """``argv`` (ansible, ansible-playbook, kubectl …) in the admin namespace; never raises on
        its exit status (the caller reads it)."""
        assert self.admin is not None
        return subprocess.run(
            self.admin.cmd(*argv), capture_output=True, text=True, timeout=timeout, check=False, **kw
        )

    def console(self, name: str) -> str:
        """The tail of a host's console (its boot messages)."""
        try:
            return Path(self.containers[name].console_log).read_text(errors="replace")[-3000:]
        except (KeyError, OSError):
            return ""

    def write_inventory(self) -> str:
        """build/lab/inventory.yml: cp1 in metal_lb_controllers, the nodes in metal_lb_speakers."""
        groups: dict[str, dict] = {CONTROLLERS: {"hosts": {}}, SPEAKERS: {"hosts": {}}}
        for spec in self.specs.values():
            groups[spec.group]["hosts"][spec.name] = {"ansible_host": spec.address}
        inventory = {
            "all": {
                "vars": {
                    "ansible_user": USER,
                    "ansible_ssh_private_key_file": self.key,
                    # ControlPath per lab: another lab's multiplexed connection is never reused
                    "ansible_ssh_common_args": "%s -o ControlPath=%s/%%C" % (NO_HOST_KEYS, self.control_dir),
                    "ansible_python_interpreter": "/usr/bin/python3",
                    **self.inventory_vars,
                },
                "children": groups,
            }
        }
        text = "# The lab's hosts (lab/hosts.py); use from the admin namespace %s\n" % (
            self.admin.ns if self.admin else "?"
        )
        (self.directory / "inventory.yml").write_text(text + yaml.safe_dump(inventory, sort_keys=False))
        return self.inventory

    def write_kubeconfig(self, text: str) -> str:
        """The admin kubeconfig for the admin namespace (its server must be the lab address)."""
        fd = os.open(self.kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return self.kubeconfig

    # ------------------------------------------------------------------ internals

    def _claim(self) -> None:
        """One lab with hosts per directory: refuse one whose lab is still recorded."""
        try:
            owner = json.loads(self.owner_file.read_text())
        except (OSError, ValueError):
            owner = {}
        if owner.get("state") and os.path.exists(owner["state"]):
            raise netns.LabError(
                "%s belongs to lab %s, which is still up (remove it with `make lab-down`)"
                % (self.directory, owner.get("prefix"))
            )
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(parents=True, mode=0o700)
        self.claimed = True
        self.owner_file.write_text(json.dumps({"prefix": self.net.prefix, "state": self.net.state_path}) + "\n")

    def _write_key(self) -> None:
        netns.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "metal-lb-lab", "-f", self.key])
        os.chmod(self.key + ".pub", 0o644)

    def _write_hosts_file(self, specs: list[HostSpec]) -> None:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        names = {topology.API_V4: ["apiserver"], topology.ADMIN_V4: ["admin"], topology.CLIENT_V4: ["client"]}
        for spec in specs:
            names.setdefault(spec.address, []).insert(0, spec.name)
        lines += ["%s\t%s" % (address, " ".join(n)) for address, n in names.items()]
        (self.directory / "hosts").write_text("\n".join(lines) + "\n")

    def _boot(self, spec: HostSpec) -> None:
        machine = "%s-%s" % (self.net.prefix, spec.name)
        console_log = str(self.directory / ("%s.console.log" % spec.name))
        argv = [
            "systemd-nspawn",
            "--quiet",
            "--register=no",
            "--keep-unit",
            "--boot",
            "--directory=%s" % image.IMAGE,
            "--volatile=overlay",
            "--machine=%s" % machine,
            "--hostname=%s" % spec.name,
            "--network-namespace-path=/run/netns/%s" % spec.host.ns,
            "--capability=CAP_NET_ADMIN",
            "--bind-ro=%s.pub:/home/%s/.ssh/authorized_keys" % (self.key, USER),
            "--bind-ro=%s:/etc/hosts" % (self.directory / "hosts"),
            "--console=read-only",
            "--link-journal=no",
            "--resolv-conf=off",
            "--timezone=off",
            "--settings=no",
        ]
        # /proc/sys/net is the node's own (its namespace): writable, as on a real node
        env = dict(os.environ, SYSTEMD_NSPAWN_API_VFS_WRITABLE="network")
        self.net.paths.append(os.path.join(PROPAGATE_DIR, machine))
        with open(console_log, "ab") as out:
            proc = self.net.start(None, argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env)
        pid = container_init(proc.pid)
        init = ContainerInit(pid) if pid else None
        if init is not None:
            self.net.processes.append(init)  # type: ignore[arg-type]  # recorded for make lab-down
            self.net.save_state()
        self.containers[spec.name] = Container(spec, machine, proc, init, console_log)
        if init is None:
            raise netns.LabError(
                "host %s did not boot (systemd-nspawn exited %s): %s"
                % (spec.name, proc.poll(), self.console(spec.name)[-1500:])
            )

    def _wait_one(self, name: str, deadline: float) -> None:
        container = self.containers[name]
        last = ""
        while time.monotonic() < deadline:
            if container.nspawn.poll() is not None:
                break
            try:
                left = max(5.0, deadline - time.monotonic())
                out = self.ssh(name, "systemctl is-system-running --wait", timeout=left)
            except subprocess.TimeoutExpired:
                break
            state = out.stdout.strip()
            if state in ("running", "degraded"):
                self.log("host %s (%s): systemd %s" % (name, container.spec.address, state))
                return
            if out.returncode != 255 and state not in ("initializing", "starting"):
                failed = self.ssh(name, "systemctl --failed --no-legend --plain", timeout=30).stdout.strip()
                raise netns.LabError("host %s: systemd is %s (failed units: %s)" % (name, state, failed or "none"))
            last = (out.stderr or state).strip()
            time.sleep(0.3)
        raise netns.LabError(
            "host %s did not answer over SSH at %s within its boot time (%s); console: %s"
            % (
                name,
                container.spec.address,
                "systemd-nspawn exited" if container.nspawn.poll() is not None else last or "no answer yet",
                self.console(name)[-1500:],
            )
        )

    def _end_admin_sessions(self) -> None:
        """SSH connections Ansible left in the admin namespace (its multiplexing masters, which would
        linger until ControlPersist expires) end with the lab; nothing else there is touched."""
        assert self.admin is not None
        out = netns.run(["ip", "netns", "pids", self.admin.ns], check=False)
        for pid in out.stdout.split():
            try:
                if Path("/proc/%s/comm" % pid).read_text().strip() == "ssh":
                    os.kill(int(pid), signal.SIGTERM)
            except (OSError, ValueError):
                pass


def remove_stale_directory(directory: str | Path = LAB_DIR) -> str | None:
    """``make lab-down``: build/lab/ of a lab that is no longer recorded (its containers are gone)."""
    directory = Path(directory)
    try:
        owner = json.loads((directory / "lab.json").read_text())
    except (OSError, ValueError):
        return None
    if owner.get("state") and os.path.exists(owner["state"]):
        return None
    shutil.rmtree(directory, ignore_errors=True)
    return str(directory)
