# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker as separate processes, observed through the Kubernetes API, its metrics and its
status file: election, ServiceL2Status, Events, failover (SIGKILL, SIGTERM, exclusion label,
externalTrafficPolicy Local), an invalid config, and failover while the API server is down.

Runs against the session's own kube-apiserver only: it creates Node objects, which a real cluster must
not get. The speakers authenticate as the ``speaker`` ServiceAccount, bound only by the shipped RBAC.
No frame is sent (``--no-layer2-responder``); on-the-wire ARP/NDP is tested in tests/lab/.
The winner is never hard-coded: it is what ``bin/metal-lb plan`` says for the same objects.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import uuid

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from conftest import delete_namespace, grant_shipped_role, kube, shipped_role, without_webhooks  # noqa: E402
from controller_process import wait_for  # noqa: E402
from speaker_process import METAL_LB, SpeakerProcess, free_port  # noqa: E402
from test_modules import Runner  # noqa: E402

pytestmark = pytest.mark.integration
GROUP, VERSION = "metallb.io", "v1beta1"
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"
MEMBERSHIP_ANNOTATION = "metal.lb/membership-address"


class Lab:
    """Test-side objects: config, Nodes (removed afterwards), Services with a status, slices."""

    def __init__(self, api_client, namespace: str, workdir: str, kubeconfig: str,
                 speaker_kubeconfig: str) -> None:
        self.core = k.CoreV1Api(api_client)
        self.custom = k.CustomObjectsApi(api_client)
        self.discovery = k.DiscoveryV1Api(api_client)
        self.ns = namespace
        self.workdir = workdir
        self.tmp = pathlib.Path(workdir)
        self.kubeconfig = kubeconfig
        self.speaker_kubeconfig = speaker_kubeconfig
        self.tag = uuid.uuid4().hex[:6]
        self.nodes: dict[str, int] = {}  # node name -> membership port
        self.speakers: dict[str, SpeakerProcess] = {}
        self.key_file = os.path.join(workdir, "membership.key")
        with open(self.key_file, "w", encoding="utf-8") as handle:
            handle.write(uuid.uuid4().hex + uuid.uuid4().hex + "\n")
        os.chmod(self.key_file, 0o600)

    # -- config ------------------------------------------------------------------------
    def config(self, kind_plural: str, name: str, spec: dict, kind: str) -> None:
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": kind,
                "metadata": {"name": name, "namespace": self.ns}, "spec": spec}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, kind_plural, body)

    def basic_config(self) -> None:
        self.config("ipaddresspools", "pool", {"addresses": ["198.51.100.0/28"]}, "IPAddressPool")
        self.config("l2advertisements", "l2", {"ipAddressPools": ["pool"]}, "L2Advertisement")

    # -- nodes ---------------------------------------------------------------------------
    def node(self, short: str) -> str:
        name = "spk-%s-%s" % (self.tag, short)
        port = free_port()
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name},
                             "annotations": {MEMBERSHIP_ANNOTATION: "127.0.0.1:%d" % port}}}
        self.core.create_node(body)
        self.nodes[name] = port
        return name

    def label_node(self, name: str, labels: dict) -> None:
        self.core.patch_node(name, {"metadata": {"labels": labels}})

    def cleanup(self) -> None:
        for proc in self.speakers.values():
            proc.stop(timeout=5)
        for name in self.nodes:
            try:
                self.core.delete_node(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise

    # -- speakers --------------------------------------------------------------------------
    def speaker(self, node: str, metrics: bool = False, kubeconfig: str | None = None) -> SpeakerProcess:
        proc = SpeakerProcess(self.workdir, kubeconfig or self.speaker_kubeconfig, self.ns, node, self.key_file,
                              self.nodes[node], metrics_port=free_port(socket.SOCK_STREAM) if metrics else 0)
        self.speakers[node] = proc
        return proc

    # -- services ---------------------------------------------------------------------------
    def service(self, name: str, ip: str, endpoint_nodes: list[str], annotations: dict | None = None,
                port: int = 80, **spec) -> None:
        body = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": self.ns, "annotations": annotations or {}},
                "spec": {"type": "LoadBalancer", "selector": {"app": name},
                         "ports": [{"name": "http", "port": port, "protocol": "TCP"}], **spec}}
        self.core.create_namespaced_service(self.ns, body)
        self.core.patch_namespaced_service_status(
            name, self.ns, {"status": {"loadBalancer": {"ingress": [{"ip": ip}]}}})
        self.discovery.create_namespaced_endpoint_slice(self.ns, self._slice(name, endpoint_nodes))

    def _slice(self, name: str, nodes: list[str]) -> dict:
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": name + "-eps", "namespace": self.ns,
                             "labels": {"kubernetes.io/service-name": name}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["203.0.113.%d" % (10 + i)], "nodeName": node,
                               "conditions": {"ready": True}} for i, node in enumerate(nodes)],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}

    def move_endpoints(self, name: str, nodes: list[str]) -> None:
        self.discovery.replace_namespaced_endpoint_slice(name + "-eps", self.ns, self._slice(name, nodes))

    # -- observations -------------------------------------------------------------------------
    def statuses(self, name: str) -> list[dict]:
        items = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, "servicel2statuses")["items"]
        return [o for o in items if (o.get("metadata", {}).get("labels") or {}).get(
            "metallb.io/service-name") == name]

    def status_node(self, name: str) -> str | None:
        """The node of the one complete ServiceL2Status of ``name`` (None unless exactly one)."""
        items = self.statuses(name)
        if len(items) != 1:
            return None
        status = items[0].get("status") or {}
        if status.get("serviceName") != name or status.get("serviceNamespace") != self.ns:
            return None
        return status.get("node")

    def wait_status(self, name: str, node: str, timeout: float = 20.0) -> None:
        wait_for(lambda: self.status_node(name) == node, timeout,
                 what="one ServiceL2Status of %s naming %s (have %r)" % (name, node, self.statuses(name)))

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = json.loads(self.core.list_namespaced_event(self.ns, _preload_content=False).data)["items"]
        return [(e.get("type"), e.get("reason"), e.get("message")) for e in items
                if (e.get("involvedObject") or {}).get("name") == name]

    def plan_winner(self, service: str, members: list[str] | None = None) -> str | None:
        """What ``bin/metal-lb plan`` says announces ``service``'s IP, for the objects on the API."""
        objects = []
        for plural, kind in (("ipaddresspools", "IPAddressPool"), ("l2advertisements", "L2Advertisement")):
            for obj in self.custom.list_namespaced_custom_object(GROUP, VERSION, self.ns, plural)["items"]:
                objects.append(dict(obj, kind=kind, apiVersion="%s/%s" % (GROUP, VERSION)))
        for node in json.loads(self.core.list_node(_preload_content=False).data)["items"]:
            if node["metadata"]["name"] in self.nodes:
                objects.append(dict(node, kind="Node", apiVersion="v1"))
        for svc in json.loads(self.core.list_namespaced_service(self.ns, _preload_content=False).data)["items"]:
            objects.append(dict(svc, kind="Service", apiVersion="v1"))
        for eps in json.loads(self.discovery.list_namespaced_endpoint_slice(
                self.ns, _preload_content=False).data)["items"]:
            objects.append(dict(eps, kind="EndpointSlice", apiVersion="discovery.k8s.io/v1"))
        path = os.path.join(self.workdir, "plan-%s.json" % uuid.uuid4().hex[:6])
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(objects, handle)
        args = [sys.executable, METAL_LB, "plan", "-f", path, "--namespace", self.ns]
        if members is not None:
            args += ["--members", ",".join(members)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        ips = result["services"]["%s/%s" % (self.ns, service)]["ips"]
        return result["announcements"][ips[0]]["layer2"]["node"]


@pytest.fixture
def lab(kubeconfig, daemon_kubeconfig, make_client, tmp_path):
    if os.environ.get("METAL_LB_TEST_KUBECONFIG"):
        pytest.skip("creates Node objects: the session's own API server only")
    api = make_client(kubeconfig)
    core = k.CoreV1Api(api)
    ns = core.create_namespace({"metadata": {"generateName": "mlb-spk-", "labels": {"metal-lb-test": "true"}}})
    # the session's webhooks judge this namespace's objects with the controller's own rights
    grant_shipped_role(k.RbacAuthorizationV1Api(api), "controller", ns.metadata.name)
    the_lab = Lab(api, ns.metadata.name, str(tmp_path), kubeconfig,
                  daemon_kubeconfig("speaker", ns.metadata.name))
    try:
        yield the_lab
    finally:
        the_lab.cleanup()
        delete_namespace(core, the_lab.ns)


def _dump_logs(lab: Lab) -> str:
    return "\n".join("--- %s\n%s" % (name, proc.log()) for name, proc in lab.speakers.items())


def idle_node(nodes: list[str], winner: str) -> str:
    """A node that does not announce web/web2 nor the Local service (whose endpoint is on nodes[0])."""
    return [n for n in nodes if n not in (winner, nodes[0])][0]


def test_election_status_events_metrics_and_failover(lab):
    nodes = [lab.node(x) for x in "abc"]
    lab.basic_config()
    shared = {"metallb.io/allow-shared-ip": "web"}
    lab.service("web", "198.51.100.1", nodes, annotations=shared)
    lab.service("web2", "198.51.100.1", nodes[1:], annotations=shared, port=443)
    lab.service("local", "198.51.100.2", [nodes[0]], externalTrafficPolicy="Local")
    lab.config("ipaddresspools", "ifpool", {"addresses": ["198.51.100.16/28"]}, "IPAddressPool")
    lab.config("l2advertisements", "ifad", {"ipAddressPools": ["ifpool"], "interfaces": ["eth9"]},
               "L2Advertisement")
    lab.service("ifsvc", "198.51.100.17", nodes)
    for node in nodes:
        lab.speaker(node, metrics=True)
    try:
        # exactly one speaker announces, the one the planner names
        winner = lab.plan_winner("web")
        assert winner in nodes
        lab.wait_status("web", winner)
        lab.wait_status("web2", winner)  # services sharing an IP are announced from one node
        assert lab.plan_winner("web2") == winner
        wait_for(lambda: "198.51.100.1" in lab.speakers[winner].announced(), 10, what="status file of winner")
        others = [n for n in nodes if n != winner]
        wait_for(lambda: all(lab.speakers[n].status() for n in others), 10, what="status files")
        wait_for(lambda: all("198.51.100.1" not in lab.speakers[n].announced() for n in others), 10,
                 what="the others not announcing")
        # an advertisement naming interfaces: they are listed in the status
        lab.wait_status("ifsvc", lab.plan_winner("ifsvc"))
        assert lab.statuses("ifsvc")[0]["status"]["interfaces"] == [{"name": "eth9"}]
        assert "interfaces" not in lab.statuses("web")[0]["status"]
        # externalTrafficPolicy Local: the node hosting the endpoint, whatever the hash says
        lab.wait_status("local", nodes[0])
        # Event and metrics of the winner
        wait_for(lambda: [e for e in lab.events("web") if e[1] == "nodeAssigned" and winner in e[2]], 10,
                 what="nodeAssigned event")
        text = lab.speakers[winner].metrics()
        assert 'metallb_speaker_announced{ip="198.51.100.1",node="%s",protocol="layer2",service="%s/web"} 1.0' % (
            winner, lab.ns) in text
        wait_for(lambda: "metal_lb_membership_live_members 3.0" in lab.speakers[winner].metrics(), 10,
                 what="3 live members in the metrics")
        assert 'ip="198.51.100.1"' not in lab.speakers[idle_node(nodes, winner)].metrics()

        # metal.lb.announce on the winner: its view, a burst in check mode (nothing sent), then for real
        run = Runner(lab.tmp, lab.kubeconfig, lab.ns)
        status_file = lab.speakers[winner].status_file
        checked = run("announce", check=True, diff=True, node=winner, status_file=status_file, gratuitous=True,
                      api=True)
        assert not checked.get("failed"), checked
        assert checked["speaker_running"] and checked["changed"]
        assert "198.51.100.1" in checked["announced"] and checked["gratuitous"] == sorted(checked["announced"])
        assert checked["announced"]["198.51.100.1"]["services"] == ["%s/web" % lab.ns, "%s/web2" % lab.ns]
        assert sorted(checked["membership"]["live"]) == sorted(nodes)
        assert "%s/web" % lab.ns in checked["l2_statuses"]
        assert "gratuitous burst requested" not in lab.speakers[winner].log()
        done = run("announce", node=winner, status_file=status_file, gratuitous=True)
        assert done["changed"] and not done.get("failed"), done
        wait_for(lambda: "gratuitous burst requested" in lab.speakers[winner].log(), 10, what="burst in log")
        idle = idle_node(nodes, winner)
        quiet = run("announce", node=idle, status_file=lab.speakers[idle].status_file, gratuitous=True)
        assert not quiet.get("failed"), quiet
        assert "198.51.100.1" not in quiet["announced"]  # it may lead ifsvc's 198.51.100.17
        assert quiet["changed"] == bool(quiet["announced"]) and quiet["gratuitous"] == sorted(quiet["announced"])

        # the endpoint moves: the Local service follows it
        lab.move_endpoints("local", [nodes[2]])
        lab.wait_status("local", nodes[2])

        # an invalid configuration (overlapping pool, as if written while no webhook answered) keeps the last
        # valid one
        without_webhooks(lab.core.api_client, lab.ns)
        lab.config("ipaddresspools", "overlap", {"addresses": ["198.51.100.0/30"]}, "IPAddressPool")
        wait_for(lambda: (lab.custom.get_namespaced_custom_object(
            GROUP, VERSION, lab.ns, "configurationstates", "speaker-%s" % winner).get("status") or {}).get(
            "result") == "Invalid", 15, what="ConfigurationState Invalid")
        assert lab.status_node("web") == winner
        lab.custom.delete_namespaced_custom_object(GROUP, VERSION, lab.ns, "ipaddresspools", "overlap")

        # the exclusion label takes the winner out
        lab.label_node(winner, {EXCLUDE: ""})
        moved = lab.plan_winner("web")
        assert moved in others
        lab.wait_status("web", moved)
        lab.label_node(winner, {EXCLUDE: None})
        lab.wait_status("web", winner)

        # SIGKILL the winner: membership notices, another speaker takes over
        lab.speakers[winner].kill()
        survivors = others
        successor = lab.plan_winner("web", members=survivors)
        assert successor in survivors
        lab.wait_status("web", successor)
        lab.wait_status("web2", successor)
        wait_for(lambda: "198.51.100.1" in lab.speakers[successor].announced(), 10, what="successor announces")

        # SIGTERM (planned handover) of the successor: the last speaker takes over
        last = [n for n in survivors if n != successor][0]
        assert lab.speakers[successor].stop() == 0
        lab.wait_status("web", last)
        assert lab.plan_winner("web", members=[last]) == last
    except AssertionError as exc:
        raise AssertionError("%s\n%s" % (exc, _dump_logs(lab))) from None


def test_failover_without_api_server(make_client, tmp_path):
    """API server stopped: a killed leader is still replaced, from the cached state."""
    if os.environ.get("METAL_LB_TEST_KUBECONFIG"):
        pytest.skip("stops the API server: a cluster of the test's own only")
    server = kube.KubeCluster(str(tmp_path / "kube"))
    server.start()
    api = make_client(server.admin_kubeconfig)
    core = k.CoreV1Api(api)
    rbac = k.RbacAuthorizationV1Api(api)
    ns = core.create_namespace({"metadata": {"generateName": "mlb-spk-"}}).metadata.name
    role, binding = shipped_role("speaker", ns)
    rbac.create_namespaced_role(ns, role)
    rbac.create_namespaced_role_binding(ns, binding)
    lab = Lab(api, ns, str(tmp_path), server.admin_kubeconfig, server.token_kubeconfig("speaker"))
    try:
        nodes = [lab.node(x) for x in "ab"]
        lab.basic_config()
        lab.service("web", "198.51.100.3", nodes)
        for node in nodes:
            lab.speaker(node)
        winner = lab.plan_winner("web")
        other = [n for n in nodes if n != winner][0]
        lab.wait_status("web", winner)
        wait_for(lambda: "198.51.100.3" in lab.speakers[winner].announced(), 10, what="winner announces")
        # the other speaker has its snapshot (a pass done) and counts both speakers as live
        wait_for(lambda: sorted(((lab.speakers[other].status() or {}).get("membership") or {}).get("live") or [])
                 == sorted(nodes), 15, what="the other speaker's first pass with both members live")
        server.stop()  # the API is gone from here on
        lab.speakers[winner].kill()
        wait_for(lambda: "198.51.100.3" in lab.speakers[other].announced(), 15,
                 what="the other speaker announcing without an API server")
        assert lab.speakers[other].alive()
        lab.speakers[other].signal(signal.SIGTERM)
        assert lab.speakers[other].proc.wait(timeout=15) == 0
    except AssertionError as exc:
        raise AssertionError("%s\n%s" % (exc, _dump_logs(lab))) from None
    finally:
        for proc in lab.speakers.values():
            proc.stop(timeout=5)
        server.stop()
