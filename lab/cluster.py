# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole lab: namespaces, the Kubernetes API, the controller, kube-proxy emulation, "pods", speakers.

    with LabCluster() as lab:            # builds everything; always torn down
        svc = lab.create_service("web", replicas=3)
        ip = lab.wait_ingress("web")[0]

Topology in ``topology.py``. etcd and the real kube-apiserver (``kube.py``, built by ``make k8s``) run
inside the ``apiserver`` namespace and listen on 198.51.100.2:6443 for the nodes; a relay
(``relay.py``) serves the API on a host-loopback port to this process. The controller runs in the
apiserver namespace; one kube-proxy emulator, the backends scheduled there and one speaker run in each
node namespace, with the command line the roles install; the controller and the speakers authenticate
as their ServiceAccounts. There is no controller-manager or kubelet, so the lab writes Nodes,
EndpointSlices and kube-proxy's ConfigMap itself.

``LabCluster(hosts=True)`` starts no controller and no speaker and applies none of manifests/: the
nodes and a control-plane host ``cp1`` (in the apiserver namespace) boot as systemd machines
(``hosts.py``) for Ansible to install everything on, from the ``admin`` namespace with
build/lab/inventory.yml (with the lab's metal_lb_* settings, ``site.py``) and build/lab/admin.kubeconfig,
as on a bare cluster.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import hosts as hosts_module
from . import image, kube, netns, objects, site, topology

ROOT = Path(__file__).resolve().parents[1]
METAL_LB = ROOT / "bin" / "metal-lb"
WEBHOOK_PORT = 9443  # the controller's default --webhook-port
SPEAKER_STATUS = "/run/metal-lb/speaker-%s.json"  # cli_speaker.py's default --status-file

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
    from kubernetes.client.rest import ApiException
except ImportError:  # reported by missing_requirements()
    k8s_client = None


def python() -> str:
    """The interpreter with the project's libraries (make venv); the one running us otherwise."""
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def speaker_available() -> bool:
    out = subprocess.run(
        [python(), str(METAL_LB), "speaker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    return out.returncode == 0


def missing_requirements(with_hosts: bool = False) -> str | None:
    """Why the lab (``with_hosts``: with its systemd hosts) cannot run here (None: it can)."""
    reason = netns.missing_requirements(netns.REQUIRED_TOOLS + ("nft", "curl"))
    if reason:
        return reason
    if with_hosts:
        reason = hosts_module.missing_requirements()
        if reason:
            return reason
    if k8s_client is None:
        return "the lab needs the kubernetes Python client (make venv)"
    overlaps = netns.host_route_overlaps(list(topology.LAB_PREFIXES))
    if overlaps:
        return (
            "this machine routes the lab's prefixes (%s) — refusing to build the lab, so lab traffic "
            "is never confused with a real network" % ", ".join(overlaps)
        )
    return None


def wait_for(predicate, timeout: float, interval: float = 0.1):
    """Poll ``predicate`` until truthy or ``timeout``; returns its last value (bounded loop)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


@dataclass
class Pod:
    name: str
    node: str
    v4: str
    v6: str
    proc: subprocess.Popen | None = None
    ready: bool = True


@dataclass
class LabService:
    name: str
    namespace: str
    pods: list[Pod] = field(default_factory=list)
    families: tuple[str, ...] = ("IPv4",)


class ProbeRun:
    """A running probe; ``stop()`` returns ``{"arp": [(t, mac)], "tcp": [(t, ok)]}``."""

    def __init__(self, lab: LabCluster, proc: subprocess.Popen) -> None:
        self.lab, self.proc = lab, proc

    def stop(self) -> dict:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out = self.proc.communicate(timeout=30)[0]
        finally:
            self.lab.net.forget(self.proc)
        data = json.loads(out or '{"arp": [], "tcp": []}')
        return {"arp": [tuple(x) for x in data["arp"]], "tcp": [tuple(x) for x in data["tcp"]]}


class LabCluster:
    """Build with ``with LabCluster(...) as lab`` (or ``build()`` / ``teardown()``)."""

    def __init__(
        self,
        node_count: int = 3,
        strict_arp: bool = True,
        speakers: bool | None = None,
        kube_proxy: bool = True,
        log=None,
        hosts: bool = False,
        hosts_dir: str | None = None,
        router=None,
    ) -> None:
        """``hosts``: boot the nodes and cp1 as systemd hosts instead of starting the controller and
        the speakers as processes; their files go to ``hosts_dir`` (default build/lab).
        ``router``: a factory ``router(name, netns)`` returning a started-on-enter context manager
        (tests/lab/routers.py's ``FrrRouter`` / ``BirdRouter`` with their spec bound): with it the lab
        gets a ``router`` namespace on the bridge and a ``wan-client`` behind it."""
        self.node_addrs = {n.name: n for n in topology.nodes(node_count)}
        self.strict_arp = strict_arp
        self.want_speakers = speakers
        self.want_kube_proxy = kube_proxy
        self.want_hosts = hosts
        self.lab_hosts: hosts_module.LabHosts | None = None
        self.hosts_dir = hosts_dir or str(hosts_module.LAB_DIR)
        self.log = log or (lambda msg: None)
        self.net = netns.Lab()
        self.workdir = ""
        self.hosts: dict[str, netns.Host] = {}
        self.kube: kube.KubeCluster | None = None
        self.speakers: dict[str, subprocess.Popen] = {}
        self.kube_proxies: dict[str, subprocess.Popen] = {}
        self.controller: subprocess.Popen | None = None
        self.services: dict[str, LabService] = {}
        self.pod_slots: dict[str, int] = {}
        self.has_speakers = False
        self.api: k8s_client.ApiClient | None = None
        self.router_factory = router
        self.router = None  # the started router, when the lab has one

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> LabCluster:
        try:
            self.build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def build(self) -> None:
        reason = missing_requirements(self.want_hosts)
        if reason:
            raise netns.LabError(reason)
        if self.want_hosts:
            try:
                if image.build(log=self.log):
                    self.log("lab image built: %s" % image.IMAGE)
            except image.ImageError as exc:
                raise netns.LabError(str(exc)) from None
        self.workdir = tempfile.mkdtemp(prefix="%s-" % self.net.prefix, dir=None)
        self.net.paths.append(self.workdir)
        # the speakers' default --status-file; removed at teardown unless it was there before us
        self.net.paths += [p for p in (SPEAKER_STATUS % n for n in self.node_addrs) if not os.path.exists(p)]
        self.status_dir_created = not os.path.isdir(os.path.dirname(SPEAKER_STATUS))
        self.net.__enter__()
        self.log(
            "namespaces: bridge %s-br, apiserver, %s, client" % (self.net.prefix, ", ".join(self.node_addrs))
        )
        self.hosts["apiserver"] = self.net.add_host(
            "apiserver", (topology.API_V4 + "/24", topology.API_V6 + "/64")
        )
        for name, addr in self.node_addrs.items():
            host = self.net.add_host(name, (addr.v4 + "/24", addr.v6 + "/64"))
            self.hosts[name] = host
            host.run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
            for other in self.node_addrs.values():
                if other.name != name:
                    host.run("ip", "route", "add", other.pod_net_v4, "via", other.v4)
                    host.run("ip", "-6", "route", "add", other.pod_net_v6, "via", other.v6)
        self.hosts["client"] = self.net.add_host(
            "client", (topology.CLIENT_V4 + "/24", topology.CLIENT_V6 + "/64")
        )
        if self.router_factory is not None:
            self.add_router()
        if self.want_hosts:  # they boot while the API server starts
            self.lab_hosts = hosts_module.LabHosts(self.net, self.hosts_dir, log=self.log)
            self.lab_hosts.start(
                [hosts_module.HostSpec(hosts_module.CONTROL_PLANE, self.hosts["apiserver"], topology.API_V4,
                                       hosts_module.CONTROLLERS)]
                + [hosts_module.HostSpec(name, self.hosts[name], addr.v4, hosts_module.SPEAKERS)
                   for name, addr in self.node_addrs.items()]
            )
        self.key_file = os.path.join(self.workdir, "membership.key")
        with open(os.open(self.key_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            fh.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        with self._log_file("relay") as relay_log:
            relay = self.net.start(
                None,
                [
                    python(),
                    "-m",
                    "lab.relay",
                    "--netns",
                    "/run/netns/" + self.hosts["apiserver"].ns,
                    "--target",
                    "127.0.0.1:%d" % topology.API_PORT,
                    "--host-listen",
                    "127.0.0.1:0",
                ],
                stdout=subprocess.PIPE,
                stderr=relay_log,
                text=True,
                env=child_env(),
                cwd=ROOT,
            )
        line = relay.stdout.readline()
        if not line.startswith("READY "):
            raise netns.LabError("the API relay did not start (see %s)" % self._log_path("relay"))
        self.relay_port = int(line.split()[1])
        self.start_api()
        self.host_kubeconfig = self.kube.admin_kubeconfig
        # The lab's own stand-ins for cluster parts (kube-proxy) reach the API as the nodes do.
        self.node_kubeconfig = os.path.join(self.workdir, "node-admin.kubeconfig")
        with open(self.host_kubeconfig, encoding="utf-8") as fh:
            admin = json.load(fh)
        admin["clusters"][0]["cluster"]["server"] = self.kube.url
        kube.write_private(self.node_kubeconfig, json.dumps(admin))
        self.api = k8s_config.new_client_from_config(config_file=self.host_kubeconfig)
        self.core = k8s_client.CoreV1Api(self.api)
        self.discovery = k8s_client.DiscoveryV1Api(self.api)
        self.custom = k8s_client.CustomObjectsApi(self.api)
        self.core.create_namespaced_config_map("kube-system", objects.kube_proxy_configmap(self.strict_arp))
        for name, addr in self.node_addrs.items():
            self.core.create_node(objects.node(name, addr.v4, addr.v6))
        if self.lab_hosts is not None:
            self._start_kube_proxies()
            self.lab_hosts.inventory_vars = site.inventory_vars(self.lab_hosts.kubeconfig)
            self.lab_hosts.wait_ready()
            self.lab_hosts.write_kubeconfig(json.dumps(admin, indent=2))
            self.log(
                "hosts: %s; Ansible from namespace %s: -i %s (API kubeconfig %s)"
                % (", ".join(self.lab_hosts.containers), self.lab_hosts.admin.ns, self.lab_hosts.inventory,
                   self.lab_hosts.kubeconfig)
            )
            return
        self.controller_kubeconfig = self.kube.token_kubeconfig(
            "controller", server="https://127.0.0.1:%d" % topology.API_PORT
        )
        self.speaker_kubeconfig = self.kube.token_kubeconfig("speaker")
        self.controller = self._spawn(
            self.hosts["apiserver"],
            [python(), str(METAL_LB), "controller", "--kubeconfig", self.controller_kubeconfig],
            "controller",
        )
        controller = self.controller
        try:
            kube.wait_webhooks_ready(self.host_kubeconfig, alive=lambda: controller.poll() is None)
        except kube.KubeError as exc:
            raise netns.LabError("%s (controller log: %s)" % (exc, self.logs("controller")[-1500:])) from None
        self._start_kube_proxies()
        self.has_speakers = speaker_available() if self.want_speakers is None else self.want_speakers
        if self.has_speakers:
            for name in self.node_addrs:
                self.start_speaker(name)
            self.log("speakers: %s" % " ".join(self.speaker_argv("nodeN")))
        else:
            self.log("speakers: not started (`bin/metal-lb speaker` is not available yet)")

    def _start_kube_proxies(self) -> None:
        if self.want_kube_proxy:
            for name in self.node_addrs:
                self.kube_proxies[name] = self._spawn(
                    self.hosts[name],
                    [python(), "-m", "lab.kube_proxy", "--node", name, "--kubeconfig", self.node_kubeconfig],
                    "kube-proxy-" + name,
                )

    def add_router(self) -> None:
        """``router`` on the bridge, ``wan-client`` behind it on a link of their own; the nodes reach the
        wan-client through the router (the router learns the Services' prefixes over BGP)."""
        router = self.net.add_host("router", (topology.ROUTER_V4 + "/24", topology.ROUTER_V6 + "/64"))
        self.hosts["router"] = router
        wan = self.net._netns("wan-client")  # registered with the lab: removed at teardown
        self.hosts["wan-client"] = netns.Host("wan-client", wan, "", (topology.WAN_CLIENT_V4, topology.WAN_CLIENT_V6))
        netns.run(["ip", "-n", router.ns, "link", "add", "wan0", "type", "veth", "peer", "name", "eth0", "netns", wan])
        for ns, dev, v4, v6 in ((router.ns, "wan0", topology.WAN_ROUTER_V4, topology.WAN_ROUTER_V6),
                                (wan, "eth0", topology.WAN_CLIENT_V4, topology.WAN_CLIENT_V6)):
            netns.run(["ip", "-n", ns, "addr", "add", "%s/29" % v4, "dev", dev])
            netns.run(["ip", "-n", ns, "-6", "addr", "add", "%s/64" % v6, "dev", dev, "nodad"])
            netns.run(["ip", "-n", ns, "link", "set", dev, "up"])
        netns.run(["ip", "-n", wan, "route", "add", "default", "via", topology.WAN_ROUTER_V4])
        netns.run(["ip", "-n", wan, "-6", "route", "add", "default", "via", topology.WAN_ROUTER_V6])
        # forwarding, and ECMP hashing on ports too, so one client's connections spread over the nodes
        router.run("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
                   "net.ipv4.fib_multipath_hash_policy=1", "net.ipv6.fib_multipath_hash_policy=1")
        for name in self.node_addrs:
            self.hosts[name].run("ip", "route", "add", topology.WAN_V4_NET, "via", topology.ROUTER_V4)
            self.hosts[name].run("ip", "-6", "route", "add", topology.WAN_V6_NET, "via", topology.ROUTER_V6)
        self.router = self.router_factory(self.net.prefix + "-router", router.ns)
        self.router.__enter__()

    def teardown(self) -> None:
        self._stop_speakers()
        if self.lab_hosts is not None:
            try:
                self.lab_hosts.teardown()  # powered off before their namespaces go
            finally:
                self.lab_hosts = None
        if self.router is not None:
            try:
                self.router.__exit__(None, None, None)  # its daemons by PID, its directories
            except Exception:  # keep tearing down
                pass
            self.router = None
        if self.api is not None:
            try:
                self.api.close()
            except Exception:
                pass
            self.api = None
        self.net.teardown()  # every process by PID, then the namespaces
        self._stop_speaker_frr()
        for path in self.net.paths:
            if path == self.workdir and os.environ.get("METAL_LB_LAB_KEEP_LOGS"):
                continue
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            elif os.path.exists(path):
                os.unlink(path)
        self.net.paths.clear()
        if getattr(self, "status_dir_created", False):
            try:
                os.rmdir(os.path.dirname(SPEAKER_STATUS))  # only if the speakers left it empty
            except OSError:
                pass

    def _stop_speaker_frr(self) -> None:
        """The FRR daemons the speakers started (they outlive a speaker on purpose): by the PIDs in their
        pathspace's pid files, only if that process is FRR's of that pathspace; then its directories."""
        if not self.has_speakers:
            return
        for node in self.node_addrs:
            space = self.frr_pathspace(node)
            run_dir = os.path.join("/var/run/frr", space)
            for pid_file in sorted(Path(run_dir).glob("*.pid")) if os.path.isdir(run_dir) else ():
                try:
                    pid = int(pid_file.read_text().strip())
                    with open("/proc/%d/cmdline" % pid, "rb") as fh:
                        argv = fh.read().split(b"\0")
                except (OSError, ValueError):
                    continue
                if space.encode() in argv:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            for path in (run_dir, os.path.join("/etc/frr", space)):
                shutil.rmtree(path, ignore_errors=True)

    def _log_path(self, name: str) -> str:
        return os.path.join(self.workdir, name + ".log")

    def _log_file(self, name: str):
        return open(self._log_path(name), "a")  # noqa: SIM115 - closed by the caller after the fork

    def _spawn(self, host: netns.Host | None, argv: list[str], log: str) -> subprocess.Popen:
        """Start ``argv`` in ``host``'s namespace with stdout+stderr appended to ``<log>.log``."""
        with self._log_file(log) as out:
            return self.net.start(host, argv, stdout=out, stderr=subprocess.STDOUT, env=child_env(), cwd=ROOT)

    def logs(self, name: str) -> str:
        try:
            with open(self._log_path(name)) as fh:
                return fh.read()
        except OSError:
            return ""

    # ------------------------------------------------------------------ the API server

    def start_api(self) -> None:
        """etcd and kube-apiserver in the apiserver namespace (listening on every lab address), reached
        from this process through the relay's loopback port."""
        host = self.hosts["apiserver"]

        def spawn(argv: list, log_path: str) -> subprocess.Popen:
            with open(log_path, "a", encoding="utf-8") as out:
                return self.net.start(host, argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)

        def stop(proc: subprocess.Popen) -> None:
            self.net.stop(proc, timeout=10)
            self.net.forget(proc)

        self.kube = kube.KubeCluster(
            os.path.join(self.workdir, "kube"),
            bind="::",
            port=topology.API_PORT,
            advertise=topology.API_V4,
            hosts=(topology.API_V6,),
            client_url="https://127.0.0.1:%d" % self.relay_port,
            etcd_ports=(2379, 2380),
            spawn=spawn,
            stop_process=stop,
            log=self.log,
            # the controller runs in this namespace and serves its webhooks on its default port
            webhook_port=WEBHOOK_PORT,
            # with hosts, the namespace, CRDs, RBAC and webhooks are installed by the crds role, as a
            # user's site.yml does on a bare cluster
            apply_manifests=not self.want_hosts,
        )
        try:
            self.kube.start()
        except kube.KubeError as exc:
            raise netns.LabError(str(exc)) from None

    def stop_api(self) -> None:
        """Stop kube-apiserver (etcd keeps the objects); ``restart_api`` brings it back."""
        self.kube.stop_apiserver()

    def restart_api(self) -> None:
        self.kube.restart_apiserver()

    # ------------------------------------------------------------------ speakers

    def speaker_argv(self, node: str) -> list[str]:
        addr = self.node_addrs[node].v4 if node in self.node_addrs else "<node address>"
        return [
            str(METAL_LB),
            "speaker",
            "--node",
            node,
            "--kubeconfig",
            self.speaker_kubeconfig,
            "--membership-bind",
            "%s:%d" % (addr, topology.MEMBERSHIP_PORT),
            "--membership-key-file",
            self.key_file,
            "--metrics-port",
            str(topology.METRICS_PORT),
            "--frr-pathspace",
            self.frr_pathspace(node),
        ]

    def frr_pathspace(self, node: str) -> str:
        return "%s-%s" % (self.net.prefix, node)

    def start_speaker(self, node: str) -> subprocess.Popen | None:
        if self.lab_hosts is not None:  # the unit the speaker role installed
            self._speaker_unit(node, "systemctl start metal-lb-speaker.service")
            return None
        proc = self._spawn(self.hosts[node], [python()] + self.speaker_argv(node), "speaker-" + node)
        self.speakers[node] = proc
        return proc

    def _stop_speakers(self) -> None:
        """SIGTERM to every speaker at once, while the router and the API server still run: each holds
        its routes ``--bgp-shutdown-wait`` seconds before withdrawing, so one at a time would add up."""
        running = [proc for proc in self.speakers.values() if proc.poll() is None]
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15.0
        for proc in running:
            try:
                proc.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                pass  # the lab's teardown kills it by its PID
        self.speakers.clear()

    def kill_speaker(self, node: str, sig: int = signal.SIGKILL) -> None:
        if self.lab_hosts is not None:
            # the signal to the unit's processes, then a stop: systemd does not restart it (Restart=always)
            self._speaker_unit(node, "systemctl kill --signal=%d metal-lb-speaker.service; "
                                     "systemctl stop metal-lb-speaker.service" % int(sig))
            return
        proc = self.speakers.pop(node)
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        self.net.forget(proc)

    def _speaker_unit(self, node: str, script: str) -> None:
        out = self.lab_hosts.ssh(node, "sudo sh -c %s" % shlex.quote(script), timeout=60)
        if out.returncode != 0:
            raise netns.LabError("host %s: %s failed: %s" % (node, script, (out.stderr or out.stdout).strip()))

    def cut_link(self, node: str, up: bool = False) -> None:
        """Unplug (or plug back) the node's cable: its port on the lab bridge."""
        netns.run(["ip", "-n", self.net.bridge_ns, "link", "set", "p-" + node, "up" if up else "down"])

    # ------------------------------------------------------------------ objects

    def set_strict_arp(self, on: bool) -> None:
        self.core.patch_namespaced_config_map("kube-proxy", "kube-system", objects.kube_proxy_configmap(on))
        self.strict_arp = on

    def node_sysctl(self, node: str, key: str) -> str:
        return self.hosts[node].run("sysctl", "-n", key).stdout.strip()

    def label_node(self, node: str, labels: dict) -> None:
        self.core.patch_node(node, {"metadata": {"labels": labels}})

    def set_network_unavailable(self, node: str, unavailable: bool) -> None:
        body = self.core.read_node_status(node)
        conditions = [
            c
            for c in self.api.sanitize_for_serialization(body.status.conditions or [])
            if c["type"] != "NetworkUnavailable"
        ]
        conditions.append(
            {
                "type": "NetworkUnavailable",
                "status": "True" if unavailable else "False",
                "reason": "LabRoute",
                "message": "set by the metal.lb lab",
            }
        )
        self.core.patch_node_status(node, {"status": {"conditions": conditions}})

    def apply_config(
        self,
        pool_addresses: list[str] | None = None,
        pool_name: str = "lab-pool",
        advertisement: dict | None = None,
    ) -> None:
        pool = objects.pool(pool_name, pool_addresses or [topology.POOL_V4, topology.POOL_V6])
        self.create_custom("ipaddresspools", pool)
        self.create_custom("l2advertisements", advertisement or objects.l2_advertisement("lab-l2"))

    def create_custom(self, plural: str, body: dict) -> None:
        """``body`` in its own apiVersion (v1beta1 unless it names another, e.g. BGPPeer v1beta2)."""
        version = body.get("apiVersion", "metallb.io/v1beta1").split("/")[-1]
        self.custom.create_namespaced_custom_object(
            "metallb.io", version, body["metadata"]["namespace"], plural, body
        )

    def delete_custom(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object("metallb.io", "v1beta1", objects.METALLB_NS, plural, name)

    def _pod_addresses(self, node: str) -> tuple[str, str]:
        slot = self.pod_slots.get(node, 0)
        if slot >= 14:
            raise netns.LabError("node %s has no pod address left (14 per node)" % node)
        self.pod_slots[node] = slot + 1
        addr = self.node_addrs[node]
        return addr.pod_v4(slot), addr.pod_v6(slot)

    def start_pod(self, name: str, node: str) -> Pod:
        """Start a backend; ``wait_pods`` waits for it (so several start in parallel)."""
        v4, v6 = self._pod_addresses(node)
        host = self.hosts[node]
        host.run("ip", "addr", "add", v4 + "/32", "dev", "lo")
        host.run("ip", "-6", "addr", "add", v6 + "/128", "dev", "lo", "nodad")
        pod = Pod(name, node, v4, v6)
        pod.proc = self._spawn(
            host,
            [
                python(),
                "-m",
                "lab.backend",
                "--pod",
                name,
                "--node",
                node,
                "--listen",
                "%s:%d" % (v4, topology.BACKEND_PORT),
                "--listen",
                "[%s]:%d" % (v6, topology.BACKEND_PORT),
            ],
            "pod-" + name,
        )
        return pod

    def wait_pods(self, pods: list[Pod], timeout: float = 30) -> None:
        def started(pod: Pod) -> bool:
            return "READY" in self.logs("pod-" + pod.name) or pod.proc.poll() is not None

        wait_for(lambda: all(started(p) for p in pods), timeout, 0.05)
        for pod in pods:
            if pod.proc.poll() is not None or "READY" not in self.logs("pod-" + pod.name):
                raise netns.LabError(
                    "pod %s did not start: %s" % (pod.name, self.logs("pod-" + pod.name)[-1000:])
                )

    def create_service(
        self,
        name: str,
        replicas: int = 3,
        nodes: list[str] | None = None,
        namespace: str = "default",
        etp_local: bool = False,
        dual_stack: bool = False,
        annotations: dict | None = None,
        port: int = 80,
        selector_pods: str | None = None,
        load_balancer_ip: str | None = None,
        ipv6_only: bool = False,
    ) -> LabService:
        """A LoadBalancer Service with ``replicas`` pods spread over ``nodes`` (default: all, in
        turn) and its EndpointSlices (written first, as they would already exist for running pods).
        ``selector_pods``: reuse the pods of that service instead."""
        nodes = nodes or list(self.node_addrs)
        families = ("IPv6",) if ipv6_only else ("IPv4", "IPv6") if dual_stack else ("IPv4",)
        svc = LabService(name, namespace, families=families)
        if selector_pods:
            svc.pods = self.services[selector_pods].pods
        else:
            for i in range(replicas):
                node = nodes[i % len(nodes)]
                svc.pods.append(self.start_pod("%s-%s-%d" % (name, node, i), node))
            self.wait_pods(svc.pods)
        body = objects.service(
            name,
            namespace,
            port=port,
            families=families,
            etp_local=etp_local,
            annotations=annotations,
            load_balancer_ip=load_balancer_ip,
        )
        self.services[name] = svc
        self.write_endpoints(name)
        self.core.create_namespaced_service(namespace, body)
        return svc

    def write_endpoints(self, name: str) -> None:
        """(Re)write the EndpointSlices of ``name`` from its pods (the endpoint controller's job)."""
        svc = self.services[name]
        for family in svc.families:
            pods = [
                {"name": p.name, "node": p.node, "ip": p.v6 if family == "IPv6" else p.v4, "ready": p.ready}
                for p in svc.pods
            ]
            body = objects.endpoint_slice(name, svc.namespace, family, pods, topology.BACKEND_PORT)
            try:
                self.discovery.create_namespaced_endpoint_slice(svc.namespace, body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                self.discovery.replace_namespaced_endpoint_slice(
                    body["metadata"]["name"], svc.namespace, body
                )

    def delete_service(self, name: str) -> None:
        svc = self.services.pop(name)
        self.core.delete_namespaced_service(name, svc.namespace)
        for family in ("ipv4", "ipv6"):
            try:
                self.discovery.delete_namespaced_endpoint_slice("%s-%s" % (name, family), svc.namespace)
            except ApiException:
                pass

    def ingress(self, name: str, namespace: str = "default") -> list[str]:
        svc = self.core.read_namespaced_service_status(name, namespace)
        lb = svc.status.load_balancer if svc.status else None
        return [i.ip for i in (lb.ingress or [])] if lb and lb.ingress else []

    def wait_ingress(
        self, name: str, namespace: str = "default", count: int = 1, timeout: float = 30
    ) -> list[str]:
        ips = wait_for(
            lambda: (lambda i: i if len(i) >= count else None)(self.ingress(name, namespace)), timeout, 0.1
        )
        if not ips:
            raise netns.LabError(
                "Service %s/%s got no external IP within %.0f s (controller log: %s)"
                % (namespace, name, timeout, self.logs("controller")[-1500:])
            )
        return ips

    # ------------------------------------------------------------------ observing

    def kube_ipvs_addresses(self, node: str) -> set[str]:
        out = self.hosts[node].run("ip", "-o", "addr", "show", "dev", "kube-ipvs0", check=False).stdout
        return {line.split()[3].split("/")[0] for line in out.splitlines() if len(line.split()) > 3}

    def wait_kube_proxy(self, ip: str, present: bool = True, timeout: float = 20) -> bool:
        """Every node's kube-proxy has (or no longer has) ``ip`` on kube-ipvs0."""
        return bool(
            wait_for(
                lambda: all((ip in self.kube_ipvs_addresses(n)) == present for n in self.node_addrs),
                timeout,
                0.1,
            )
        )

    def mac_to_node(self) -> dict[str, str]:
        return {self.hosts[n].mac: n for n in self.node_addrs}

    def arp_answers(self, ip: str, count: int = 3) -> set[str]:
        """MACs answering ARP (v4) or NS (v6) for ``ip`` from the client."""
        client = self.hosts["client"]
        if ":" in ip:
            return set(netns.ndisc6(client, ip, wait_ms=600, retries=count - 1))
        return {mac for mac, _ in netns.arping(client, ip, count=count, interval=0.1, timeout=3)}

    def announcing_nodes(self, ip: str, count: int = 3) -> set[str]:
        names = self.mac_to_node()
        return {names.get(mac, mac) for mac in self.arp_answers(ip, count)}

    def wait_announcer(self, ip: str, predicate=None, timeout: float = 20) -> set[str]:
        """Poll until the set of nodes answering for ``ip`` satisfies ``predicate`` (default:
        exactly one); returns the last set seen."""
        predicate = predicate or (lambda nodes: len(nodes) == 1)
        last: set[str] = set()

        def check():
            nonlocal last
            last = self.announcing_nodes(ip, count=2)
            return predicate(last)

        wait_for(check, timeout, 0.2)
        return last

    def curl(self, ip: str, port: int = 80, host: str = "client", timeout: float = 3) -> str | None:
        """Body of GET http://ip:port/ from ``host`` (None when it fails)."""
        url = "http://[%s]:%d/" % (ip, port) if ":" in ip else "http://%s:%d/" % (ip, port)
        out = self.hosts[host].run(
            "curl", "-s", "-m", str(timeout), "--noproxy", "*", url, check=False, timeout=timeout + 10
        )
        return out.stdout.strip() if out.returncode == 0 else None

    def start_probe(self, ip: str, seconds: float = 120, interval: float = 0.01) -> ProbeRun:
        """ARP + TCP probes of ``ip`` from the client every ``interval`` (see probe.py)."""
        proc = self.net.start(
            self.hosts["client"],
            [
                python(),
                "-m",
                "lab.probe",
                "--vip",
                ip,
                "--source",
                topology.CLIENT_V4,
                "--seconds",
                str(seconds),
                "--interval",
                str(interval),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
            cwd=ROOT,
        )
        if "READY" not in (proc.stderr.readline() or ""):
            self.net.stop(proc)
            raise netns.LabError("the probe did not start")
        return ProbeRun(self, proc)

    def flush_client_neighbors(self) -> None:
        self.hosts["client"].run("ip", "neigh", "flush", "dev", "eth0", "nud", "all", check=False)


