# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller as a separate process, observed only through the Kubernetes API.

Runs against the session's own kube-apiserver, or a real cluster when METAL_LB_TEST_KUBECONFIG is
set. Each test gets its own namespace, which holds both its metallb.io config and its Services, and its
own controller, authenticated as the ``controller`` ServiceAccount (bound only by the shipped RBAC),
started with ``--namespace`` (config) and, on a real cluster, a unique ``--lb-class`` so that no
Service outside the test is ever touched.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from conftest import without_webhooks  # noqa: E402
from controller_process import ControllerProcess, wait_for  # noqa: E402

pytestmark = pytest.mark.integration
GROUP, VERSION = "metallb.io", "v1beta1"
POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"


class Cluster:
    """Test-side view: create config and Services, read statuses and Events."""

    def __init__(self, api_client, namespace: str, lb_class: str) -> None:
        self.core = k.CoreV1Api(api_client)
        self.custom = k.CustomObjectsApi(api_client)
        self.ns = namespace
        self.lb_class = lb_class

    # config
    def pool(self, name: str, addresses: list[str], **spec) -> None:
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "IPAddressPool",
                "metadata": {"name": name, "namespace": self.ns}, "spec": {"addresses": addresses, **spec}}
        try:
            self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, "ipaddresspools", body)
        except ApiException as exc:
            if exc.status != 409:
                raise
            current = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "ipaddresspools",
                                                               name)
            current["spec"] = body["spec"]
            self.custom.replace_namespaced_custom_object(GROUP, VERSION, self.ns, "ipaddresspools", name,
                                                         current)

    def delete_pool(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.ns, "ipaddresspools", name)

    def pool_status(self, name: str) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.ns, "ipaddresspools",
                                                        name).get("status") or {}

    # services
    def service(self, name: str, annotations: dict | None = None, ports=((80, "TCP"),), **spec) -> None:
        body = {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": self.ns, "annotations": annotations or {}},
                "spec": {"type": "LoadBalancer", "selector": {"app": name},
                         "ports": [{"name": "p%d" % port, "port": port, "protocol": proto}
                                   for port, proto in ports], **spec}}
        if self.lb_class:
            body["spec"]["loadBalancerClass"] = self.lb_class
        self.core.create_namespaced_service(self.ns, body)

    def get(self, name: str) -> dict:
        return json.loads(self.core.read_namespaced_service(name, self.ns, _preload_content=False).data)

    def ips(self, name: str) -> list[str]:
        ingress = ((self.get(name).get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        return [entry["ip"] for entry in ingress if entry.get("ip")]

    def pool_of(self, name: str) -> str | None:
        return (self.get(name)["metadata"].get("annotations") or {}).get(POOL_ANNOTATION)

    def wait_ips(self, name: str, count: int = 1, timeout: float = 20.0) -> list[str]:
        return wait_for(lambda: (lambda got: got if len(got) == count else None)(self.ips(name)),
                        timeout, what="%s to get %d IP(s)" % (name, count))

    def events(self, name: str) -> list[tuple[str, str, str]]:
        items = json.loads(self.core.list_namespaced_event(self.ns, _preload_content=False).data)["items"]
        return [(e.get("type"), e.get("reason"), e.get("message")) for e in items
                if (e.get("involvedObject") or {}).get("name") == name]

    def wait_event(self, name: str, reason: str, timeout: float = 20.0):
        return wait_for(lambda: [e for e in self.events(name) if e[1] == reason], timeout,
                        what="event %s on %s" % (reason, name))

    def delete(self, name: str) -> None:
        self.core.delete_namespaced_service(name, self.ns)


@pytest.fixture
def cluster(kube_client, namespace, tmp_path, kubeconfig):
    crds = k.ApiextensionsV1Api(kube_client)
    try:
        crds.read_custom_resource_definition("ipaddresspools.metallb.io")
    except ApiException as exc:
        if exc.status == 404:
            pytest.skip("the metallb.io CRDs are not installed on this API (kubectl apply -k manifests/)")
        raise
    real = bool(os.environ.get("METAL_LB_TEST_KUBECONFIG"))
    lb_class = "metal.lb/test-%s" % uuid.uuid4().hex[:8] if real else ""
    return Cluster(kube_client, namespace, lb_class)


@pytest.fixture
def controllers(cluster, daemon_kubeconfig, tmp_path):
    started: list[ControllerProcess] = []
    credentials = daemon_kubeconfig("controller", cluster.ns)

    def start(*extra: str) -> ControllerProcess:
        proc = ControllerProcess(str(tmp_path), credentials, cluster.ns, cluster.lb_class, *extra)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()
        for proc in started:  # shown only when the test failed
            print("---- controller %d log ----\n%s" % (proc.pid, proc.log()))


def test_first_free_ip_and_pool_annotation(cluster, controllers):
    cluster.pool("a", ["198.51.100.10-198.51.100.12"])
    controllers()
    cluster.service("web")
    assert cluster.wait_ips("web") == ["198.51.100.10"]
    assert cluster.pool_of("web") == "a"
    cluster.wait_event("web", "IPAllocated")
    wait_for(lambda: cluster.pool_status("a").get("assignedIPv4") == 1, what="pool status counters")
    assert cluster.pool_status("a")["availableIPv4"] == 2


def test_requested_ips_both_annotation_prefixes_and_spec(cluster, controllers):
    cluster.pool("a", ["198.51.100.20-198.51.100.29"])
    controllers()
    cluster.service("by-spec", loadBalancerIP="198.51.100.25")
    cluster.service("by-annotation", {"metallb.io/loadBalancerIPs": "198.51.100.26"})
    cluster.service("by-old-annotation", {"metallb.universe.tf/loadBalancerIPs": "198.51.100.27"})
    assert cluster.wait_ips("by-spec") == ["198.51.100.25"]
    assert cluster.wait_ips("by-annotation") == ["198.51.100.26"]
    assert cluster.wait_ips("by-old-annotation") == ["198.51.100.27"]
    cluster.wait_event("by-old-annotation", "deprecatedAnnotation")


def test_address_pool_annotation(cluster, controllers):
    cluster.pool("a", ["198.51.100.30/31"])
    cluster.pool("z", ["198.51.100.40/31"], autoAssign=False)
    controllers()
    cluster.service("pinned", {"metallb.io/address-pool": "z"})
    cluster.service("free")
    assert cluster.wait_ips("pinned") == ["198.51.100.40"]
    assert cluster.pool_of("pinned") == "z"
    assert cluster.wait_ips("free") == ["198.51.100.30"]


def test_sharing_key_puts_two_services_on_one_ip(cluster, controllers):
    cluster.pool("a", ["198.51.100.50-198.51.100.51"])
    controllers()
    shared = {"metallb.io/allow-shared-ip": "k1", "metallb.io/loadBalancerIPs": "198.51.100.51"}
    cluster.service("dns-tcp", shared, ports=((53, "TCP"),))
    cluster.service("dns-udp", shared, ports=((53, "UDP"),))
    assert cluster.wait_ips("dns-tcp") == ["198.51.100.51"]
    assert cluster.wait_ips("dns-udp") == ["198.51.100.51"]
    cluster.service("clash", shared, ports=((53, "TCP"),))  # same key, but TCP/53 is taken
    cluster.wait_event("clash", "AllocationFailed")
    assert cluster.ips("clash") == []


def test_dual_stack(cluster, controllers):
    cluster.pool("dual", ["198.51.100.60/31", "2001:db8:0:60::/126"])
    controllers()
    cluster.service("both", ipFamilyPolicy="RequireDualStack", ipFamilies=["IPv4", "IPv6"])
    if len(cluster.get("both")["spec"].get("clusterIPs") or []) < 2:
        pytest.skip("this API server has no dual-stack service CIDRs")
    assert cluster.wait_ips("both", 2) == ["198.51.100.60", "2001:db8:0:60::"]


def test_exhaustion_then_freed_ip_goes_to_the_pending_service(cluster, controllers):
    cluster.pool("tiny", ["198.51.100.70/32"])
    controllers()
    cluster.service("first")
    assert cluster.wait_ips("first") == ["198.51.100.70"]
    cluster.service("second")
    cluster.wait_event("second", "AllocationFailed")
    assert cluster.ips("second") == []
    cluster.delete("first")
    assert cluster.wait_ips("second") == ["198.51.100.70"]


def test_type_change_frees_the_ip(cluster, controllers):
    cluster.pool("tiny", ["198.51.100.72/32"])
    controllers()
    cluster.service("lb")
    assert cluster.wait_ips("lb") == ["198.51.100.72"]
    cluster.service("waiting")
    cluster.wait_event("waiting", "AllocationFailed")
    svc = cluster.get("lb")
    svc["spec"]["type"] = "ClusterIP"
    for field in ("loadBalancerClass", "allocateLoadBalancerNodePorts", "externalTrafficPolicy"):
        svc["spec"].pop(field, None)
    for port in svc["spec"]["ports"]:
        port.pop("nodePort", None)
    cluster.core.replace_namespaced_service("lb", cluster.ns, svc)
    wait_for(lambda: cluster.ips("lb") == [] and cluster.pool_of("lb") is None, what="lb cleared")
    assert cluster.wait_ips("waiting") == ["198.51.100.72"]


def test_pool_shrink_and_deletion_reassign(cluster, controllers):
    cluster.pool("a", ["198.51.100.80-198.51.100.81"])
    cluster.pool("b", ["198.51.100.90/32"])
    controllers()
    cluster.service("s1", {"metallb.io/address-pool": "a"})
    cluster.service("s2", {"metallb.io/address-pool": "a"})
    assert cluster.wait_ips("s1") == ["198.51.100.80"]
    assert cluster.wait_ips("s2") == ["198.51.100.81"]
    cluster.pool("a", ["198.51.100.80/32"])  # shrink: s2's IP is no longer in any pool
    wait_for(lambda: cluster.ips("s2") == [], what="s2 orphaned")
    assert cluster.ips("s1") == ["198.51.100.80"]
    cluster.service("s3")
    assert cluster.wait_ips("s3") == ["198.51.100.90"]
    cluster.delete_pool("a")
    wait_for(lambda: cluster.ips("s1") == [], what="s1 orphaned by the pool deletion")


def test_invalid_config_keeps_the_last_valid_one(cluster, controllers, kube_client):
    cluster.pool("a", ["198.51.100.100/31"])
    controllers()
    cluster.service("before")
    assert cluster.wait_ips("before") == ["198.51.100.100"]
    # Overlapping pool (the webhooks would refuse it: as if written while no webhook answered): the whole
    # new config is invalid; the old one keeps working.
    if not os.environ.get("METAL_LB_TEST_KUBECONFIG"):
        without_webhooks(kube_client, cluster.ns)
    cluster.pool("b", ["198.51.100.100/30"])
    state = wait_for(lambda: _config_state(cluster), what="ConfigurationState controller")
    wait_for(lambda: (_config_state(cluster) or {}).get("result") == "Invalid", what="Invalid result")
    assert state is not None
    cluster.service("during")
    assert cluster.wait_ips("during") == ["198.51.100.101"]
    assert cluster.ips("before") == ["198.51.100.100"]
    cluster.delete_pool("b")
    wait_for(lambda: (_config_state(cluster) or {}).get("result") == "Valid", what="Valid again")


def _config_state(cluster) -> dict | None:
    try:
        obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.ns, "configurationstates",
                                                          "controller")
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return obj.get("status") or None


def test_five_restarts_with_pending_services_move_no_ip(cluster, controllers):
    cluster.pool("a", ["198.51.100.110/31"])
    ctl = controllers()
    names = ["r%d" % i for i in range(4)]
    for name in names[:2]:
        cluster.service(name)
    first = {name: cluster.wait_ips(name) for name in names[:2]}
    for name in names[2:]:
        cluster.service(name)
        cluster.wait_event(name, "AllocationFailed")
    for _ in range(5):
        ctl.stop()
        ctl = controllers()
        # give the new process time to re-claim and to (wrongly) hand out anything
        wait_for(lambda: _controller_ready(cluster, ctl), what="restarted controller working")
        assert {name: cluster.ips(name) for name in names[:2]} == first
        assert all(cluster.ips(name) == [] for name in names[2:])


def _controller_ready(cluster, ctl) -> bool:
    """The controller has processed the namespace: a probe service got its event."""
    probe = "probe-%s" % uuid.uuid4().hex[:6]
    cluster.service(probe)
    try:
        cluster.wait_event(probe, "AllocationFailed", timeout=20)
    finally:
        cluster.delete(probe)
    return ctl.alive()


def test_two_replicas_standby_takes_over(cluster, controllers):
    cluster.pool("a", ["198.51.100.120-198.51.100.125"])
    lease = ["--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5"]
    one = controllers(*lease)
    two = controllers(*lease)
    cluster.service("ha1")
    assert cluster.wait_ips("ha1") == ["198.51.100.120"]
    holder = wait_for(lambda: _lease_holder(cluster), what="lease holder")
    active, standby = (one, two) if holder.endswith("_%d" % one.pid) else (two, one)
    active.kill()
    cluster.service("ha2")
    assert cluster.wait_ips("ha2", timeout=30) == ["198.51.100.121"]
    holder = _lease_holder(cluster)
    assert holder.endswith("_%d" % standby.pid), (holder, one.pid, two.pid, active.pid, standby.log())
    assert cluster.ips("ha1") == ["198.51.100.120"]


def _lease_holder(cluster) -> str:
    try:
        lease = json.loads(k.CoordinationV1Api(cluster.core.api_client).read_namespaced_lease(
            "metallb-controller", cluster.ns, _preload_content=False).data)
    except ApiException:
        return ""
    return (lease.get("spec") or {}).get("holderIdentity") or ""


def test_peer_with_password_secret_and_bfd_profile_never_stop_allocation(cluster, controllers):
    """The controller allocates from pools alone: a BGPPeer naming an existing password Secret (which
    the controller cannot read) and a BFDProfile (which native BGP rejects) are the speakers'
    business, before and after a restart."""
    cluster.core.create_namespaced_secret(cluster.ns, k.V1Secret(
        metadata=k.V1ObjectMeta(name="peer-password"), type="kubernetes.io/basic-auth",
        string_data={"password": "not-a-real-password"}))
    cluster.custom.create_namespaced_custom_object(GROUP, "v1beta1", cluster.ns, "bfdprofiles", {
        "apiVersion": "%s/v1beta1" % GROUP, "kind": "BFDProfile",
        "metadata": {"name": "fast", "namespace": cluster.ns}, "spec": {"receiveInterval": 300}})
    cluster.custom.create_namespaced_custom_object(GROUP, "v1beta2", cluster.ns, "bgppeers", {
        "apiVersion": "%s/v1beta2" % GROUP, "kind": "BGPPeer",
        "metadata": {"name": "router", "namespace": cluster.ns},
        "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "203.0.113.1",
                 "passwordSecret": {"name": "peer-password", "namespace": cluster.ns}}})
    cluster.pool("a", ["198.51.100.120-198.51.100.121"])
    ctl = controllers()
    cluster.service("first")
    assert cluster.wait_ips("first") == ["198.51.100.120"]
    wait_for(lambda: (_config_state(cluster) or {}).get("result") == "Valid", what="ConfigurationState Valid")
    ctl.stop()
    controllers()
    cluster.service("second")
    assert cluster.wait_ips("second") == ["198.51.100.121"]
    assert cluster.ips("first") == ["198.51.100.120"]
