# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real speaker (``bin/metal-lb speaker``) speaking BGP through its own FRR to an FRR router.

Namespaces of the test: ``node`` (the speaker, its FRR, and etcd + kube-apiserver on the node's
loopback, reached from here through ``lab.relay``) and ``router`` (an FRR that accepts two iBGP
sessions from the node on port 1179, ``peerPort``: 198.51.100.2 → .3 and 198.51.100.1 → .4).
Everything is checked from the router: sessions up (BFD on one), the Service's prefix with its
community and LOCAL_PREF, a peer changed without resetting the other session, a deleted Service
withdrawn, a crashed speaker's FRR adopted by the next speaker without a reset, and on a planned
stop the GRACEFUL_SHUTDOWN community before the withdrawal. Processes are stopped by PID,
namespaces and FRR directories removed, also on failure."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from frr_instance import FrrInstance, Namespace, missing

from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.instance import FrrInstance as SpeakerFrr

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

pytestmark = pytest.mark.lab
NS = "metallb-system"
API_PORT = 6443
VIP = "198.51.100.70"
PREFIX = VIP + "/32"
TIMEOUT = 30.0
ROUTER_PORT = 1179  # the router's bgpd listens here only: the sessions exist through peerPort


def wait_for(predicate, timeout: float = TIMEOUT, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


class Router:
    def __init__(self, frr: FrrInstance) -> None:
        self.frr = frr

    def json(self, command: str):
        return json.loads(self.frr.vtysh([command]) or "{}")

    def neighbors(self) -> dict:
        return {k: v for k, v in self.json("show bgp neighbors json").items() if isinstance(v, dict)}

    def route(self):
        """The router's best path for PREFIX, or None."""
        data = self.json("show bgp ipv4 unicast %s json" % PREFIX)
        paths = data.get("paths") or []
        return paths[0] if paths else None


def communities(path) -> str:
    return ((path or {}).get("community") or {}).get("string", "")


@pytest.fixture(scope="module")
def lab():
    reason = missing()
    if reason:
        pytest.skip(reason)
    from lab import kube

    reason = kube.missing_binaries()
    if reason:
        pytest.skip(reason)
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    name = "mlbbgp%d" % os.getpid()
    workdir = tempfile.mkdtemp(prefix="metal-lb-bgp-")
    started: list[subprocess.Popen] = []
    router_frr = FrrInstance(name + "r", name + "r")
    cluster = None
    try:
        with Namespace(name) as node_ns:
            node_ns.link_to(name + "r", "198.51.100.2/24", "198.51.100.3/24")
            subprocess.run(["ip", "-n", name + "r", "addr", "add", "198.51.100.4/24", "dev", "v1"], check=True,
                           timeout=20)
            relay = subprocess.Popen([sys.executable, "-m", "lab.relay", "--netns", "/run/netns/" + name,
                                      "--target", "127.0.0.1:%d" % API_PORT, "--host-listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
            started.append(relay)
            line = relay.stdout.readline()
            assert line.startswith("READY "), "the API relay did not start"

            def spawn(argv, log_path):
                with open(log_path, "a", encoding="utf-8") as out:
                    proc = subprocess.Popen(["ip", "netns", "exec", name, *argv], stdout=out,
                                            stderr=subprocess.STDOUT, cwd=ROOT)
                started.append(proc)
                return proc

            cluster = kube.KubeCluster(os.path.join(workdir, "kube"), port=API_PORT, etcd_ports=(2379, 2380),
                                       client_url="https://127.0.0.1:%s" % line.split()[1], spawn=spawn)
            cluster.start()
            api = k8s_config.new_client_from_config(cluster.admin_kubeconfig)
            router_frr.start(listen=True, port=ROUTER_PORT)
            router_frr.vtysh(["configure terminal", "router bgp 64500", "no bgp ebgp-requires-policy",
                              "neighbor 198.51.100.2 remote-as 64500", "neighbor 198.51.100.2 passive",
                              "neighbor 198.51.100.2 bfd",
                              "neighbor 198.51.100.1 remote-as 64500", "neighbor 198.51.100.1 passive", "end"])
            yield {"name": name, "workdir": workdir, "cluster": cluster, "api": api, "core": k8s_client.CoreV1Api(api),
                   "custom": k8s_client.CustomObjectsApi(api), "discovery": k8s_client.DiscoveryV1Api(api),
                   "router": Router(router_frr), "started": started}
    finally:
        for proc in reversed(started):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        if cluster is not None:
            cluster.stop()
        router_frr.stop()
        SpeakerFrr(name + "s").stop(remove=True)  # what a speaker that could not stop its FRR left
        shutil.rmtree(workdir, ignore_errors=True)


def cr(kind, name, spec, version="v1beta1"):
    return {"apiVersion": "metallb.io/" + version, "kind": kind, "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def create_objects(lab) -> None:
    core, custom, discovery = lab["core"], lab["custom"], lab["discovery"]
    core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": {
        "kubernetes.io/hostname": "node1"}}})
    for plural, obj in (
            ("ipaddresspools", cr("IPAddressPool", "pool", {"addresses": ["198.51.100.64/28"]})),
            ("bgpadvertisements", cr("BGPAdvertisement", "ads", {"localPref": 150, "communities": ["64500:77"]})),
            ("bfdprofiles", cr("BFDProfile", "fast", {"receiveInterval": 100, "transmitInterval": 100})),
            ("bgppeers", cr("BGPPeer", "router-a", {"myASN": 64500, "peerASN": 64500, "bfdProfile": "fast",
                                                    "peerAddress": "198.51.100.3", "peerPort": ROUTER_PORT},
                            "v1beta2")),
            ("bgppeers", cr("BGPPeer", "router-b", {"myASN": 64500, "peerASN": 64500, "peerAddress": "198.51.100.4",
                                                    "sourceAddress": "198.51.100.1", "peerPort": ROUTER_PORT},
                            "v1beta2"))):
        custom.create_namespaced_custom_object("metallb.io", obj["apiVersion"].split("/")[1], NS, plural, obj)
    try:
        core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "app"}})
    except Exception:  # noqa: BLE001 - already there
        pass
    core.create_namespaced_service("app", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                           "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    core.patch_namespaced_service_status("web", "app", {"status": {"loadBalancer": {"ingress": [{"ip": VIP}]}}})
    discovery.create_namespaced_endpoint_slice("app", {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": "web-1", "labels": {"kubernetes.io/service-name": "web"}},
        "endpoints": [{"addresses": ["203.0.113.50"], "nodeName": "node1", "conditions": {"ready": True}}],
        "ports": [{"port": 80, "protocol": "TCP"}]})


def start_speaker(lab) -> subprocess.Popen:
    kubeconfig = lab["cluster"].token_kubeconfig("speaker", server="https://127.0.0.1:%d" % API_PORT)
    log = open(os.path.join(lab["workdir"], "speaker.log"), "a", encoding="utf-8")  # noqa: SIM115
    argv = ["ip", "netns", "exec", lab["name"], sys.executable, str(ROOT / "bin" / "metal-lb"), "speaker",
            "--node", "node1", "--kubeconfig", kubeconfig, "--metrics-port", "0", "--no-layer2-responder",
            "--status-file", os.path.join(lab["workdir"], "speaker-{node}.json"),
            "--frr-pathspace", lab["name"] + "s", "--bgp-shutdown-wait", "2", "--bgp-poll-interval", "0.5",
            "--log-level", "debug"]  # the log is shown when an assertion fails
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    lab["started"].append(proc)
    return proc


def speaker_log(lab) -> str:
    with open(os.path.join(lab["workdir"], "speaker.log"), encoding="utf-8") as handle:
        text = handle.read()[-4000:]
    try:
        with open(os.path.join(lab["workdir"], "speaker-node1.json"), encoding="utf-8") as handle:
            text += "\nstatus file: " + handle.read()[-3000:]
    except OSError:
        pass
    return text


def test_the_speaker_announces_changes_and_drains_through_frr(lab):
    router = lab["router"]
    create_objects(lab)
    speaker = start_speaker(lab)

    def both_up():
        n = router.neighbors()
        return all((n.get(a) or {}).get("bgpState") == "Established" for a in ("198.51.100.2", "198.51.100.1"))

    assert wait_for(both_up), "sessions not established:\n" + speaker_log(lab)
    path = wait_for(router.route)
    assert path is not None, "prefix not received:\n" + speaker_log(lab) + repr(
        lab["core"].read_namespaced_service("web", "app").status)
    assert path.get("locPrf") == 150 and "64500:77" in communities(path)

    # ServiceBGPStatus: one object for (web, node1), both peers
    def bgp_status():
        items = lab["custom"].list_namespaced_custom_object("metallb.io", "v1beta1", NS, "servicebgpstatuses")["items"]
        return [i.get("status") for i in items]

    assert wait_for(lambda: bgp_status() == [{"node": "node1", "serviceName": "web", "serviceNamespace": "app",
                                              "peers": ["router-a", "router-b"]}]), bgp_status()

    def sessions():
        with open(os.path.join(lab["workdir"], "speaker-node1.json"), encoding="utf-8") as handle:
            return {s["name"]: s for s in json.load(handle)["bgp"]["sessions"]}

    # the status file (metal.lb.announce): both sessions up, router-a's BFD session up (bfdd, profile "fast")
    # (the file is rewritten on the speaker's next poll of FRR: it may lag the router by one poll)
    assert wait_for(lambda: sessions()["router-a"]["bfd"] == "up" and sessions()["router-b"]["state"] ==
                    "Established" and sessions()["router-a"]["prefixes_sent"] == 1), sessions()
    assert sessions()["router-b"]["bfd"] == ""

    # another speaker of this host (the router's namespace) with the same pathspace neither adopts nor kills it
    probe = subprocess.run(
        ["ip", "netns", "exec", lab["name"] + "r", sys.executable, "-c",
         "from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.instance import FrrError, FrrInstance\n"
         "try:\n    FrrInstance(%r).start()\nexcept FrrError as exc:\n    print(exc)\n" % (lab["name"] + "s")],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (str(ROOT / "build" / "pytest"), os.environ.get("PYTHONPATH")) if p)))
    assert "another network namespace" in probe.stdout, probe.stdout + probe.stderr
    assert SpeakerFrr(lab["name"] + "s").running()

    # router-b changes (timers): router-a's session is not reset
    before = router.neighbors()["198.51.100.2"]["connectionsEstablished"]
    lab["custom"].patch_namespaced_custom_object("metallb.io", "v1beta2", NS, "bgppeers", "router-b",
                                                 {"spec": {"holdTime": "30s", "keepaliveTime": "10s"}})
    time.sleep(1.5)  # let the speaker apply it (and any reset show)
    after = router.neighbors()["198.51.100.2"]
    assert after["bgpState"] == "Established" and after["connectionsEstablished"] == before

    # the Service goes away: withdrawn; it comes back: announced again
    lab["core"].delete_namespaced_service("web", "app")
    assert wait_for(lambda: router.route() is None), "not withdrawn:\n" + speaker_log(lab)
    lab["core"].create_namespaced_service("app", {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                                  "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}})
    lab["core"].patch_namespaced_service_status("web", "app", {"status": {"loadBalancer": {"ingress": [{"ip": VIP}]}}})
    assert wait_for(router.route), "not announced again:\n" + speaker_log(lab)

    # the speaker crashes: its FRR keeps the sessions and routes; a new speaker adopts them, resets nothing
    established = {a: n["connectionsEstablished"] for a, n in router.neighbors().items()}
    speaker.kill()
    speaker.wait(10)
    assert SpeakerFrr(lab["name"] + "s").running() and router.route() is not None
    speaker = start_speaker(lab)
    assert wait_for(lambda: "FRR instance %s adopted" % (lab["name"] + "s") in speaker_log(lab)), speaker_log(lab)
    time.sleep(1.0)  # its first pass
    adopted = speaker_log(lab).split("adopted", 1)[1].split("status file:", 1)[0]
    assert "command(s) applied" not in adopted, adopted  # FRR read back: it already held everything
    after = router.neighbors()
    assert {a: n["connectionsEstablished"] for a, n in after.items()} == established
    assert all(n["bgpState"] == "Established" for n in after.values()) and router.route() is not None

    # planned stop: GRACEFUL_SHUTDOWN first, then the withdrawal
    speaker.send_signal(signal.SIGTERM)
    drained = wait_for(lambda: "graceful-shutdown" in communities(router.route()) or
                       "65535:0" in communities(router.route()), timeout=10, interval=0.02)
    assert drained, "no GRACEFUL_SHUTDOWN before the withdrawal:\n" + speaker_log(lab)
    assert router.route() is not None  # still there while routers drain
    assert wait_for(lambda: router.route() is None, timeout=15), "not withdrawn on stop"
    assert speaker.wait(20) == 0
    assert bgp_status() == []  # nothing is advertised from node1 any more
    assert not SpeakerFrr(lab["name"] + "s").running()  # the speaker stopped its FRR
