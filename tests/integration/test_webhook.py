# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's webhooks through the real API server, as users meet them: ``kubectl apply``.

The session's webhook controller (conftest.py) runs with the controller ServiceAccount's own token,
so every list it makes and the Secret it keeps are RBAC-checked against manifests/rbac.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")
pytest.importorskip("kubernetes")
pytest.importorskip("cryptography")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lab import kube  # noqa: E402

from daemon_process import DaemonProcess, wait_for  # noqa: E402

pytestmark = pytest.mark.integration

GROUP = "metallb.io"
SECRET = "metallb-webhook-cert"


@pytest.fixture(autouse=True)
def own_cluster(kube_cluster):
    if kube_cluster is None:
        pytest.skip("the webhook tests point the registrations at a controller on 127.0.0.1 (own cluster only)")


def apply(kubeconfig: str, namespace: str, *docs: dict) -> subprocess.CompletedProcess:
    text = yaml.safe_dump_all(list(docs))
    return kube.kubectl(kubeconfig, "apply", "-n", namespace, "-f", "-", input=text, check=False)


def pool(name: str, *addresses: str) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name},
            "spec": {"addresses": list(addresses)}}


def names(kubeconfig: str, namespace: str, plural: str) -> set[str]:
    out = kube.kubectl(kubeconfig, "get", plural + "." + GROUP, "-n", namespace, "-o", "json")
    return {item["metadata"]["name"] for item in json.loads(out.stdout)["items"]}


def test_an_overlapping_pool_is_refused_at_once_with_the_parsers_message(kubeconfig, namespace):
    assert apply(kubeconfig, namespace, pool("first", "198.51.100.0/28")).returncode == 0
    out = apply(kubeconfig, namespace, pool("second", "198.51.100.8/29"))
    assert out.returncode != 0
    assert 'denied the request: IPAddressPool "second": spec.addresses[0]: CIDR "198.51.100.8/29" in pool ' \
           '"second" overlaps with already defined CIDR "198.51.100.0/28"' in out.stderr
    assert names(kubeconfig, namespace, "ipaddresspools") == {"first"}


def test_two_overlapping_pools_in_one_apply_the_second_is_refused(kubeconfig, namespace):
    out = apply(kubeconfig, namespace, pool("one", "203.0.113.0/28"), pool("two", "203.0.113.4-203.0.113.6"))
    assert out.returncode != 0
    assert 'overlaps with already defined CIDR "203.0.113.0/28"' in out.stderr
    assert names(kubeconfig, namespace, "ipaddresspools") == {"one"}


def test_a_valid_pool_is_accepted_and_a_change_that_overlaps_is_refused(kubeconfig, namespace):
    assert apply(kubeconfig, namespace, pool("a", "198.51.100.0/29"), pool("b", "198.51.100.8/29")).returncode == 0
    out = apply(kubeconfig, namespace, pool("b", "198.51.100.4/30"))
    assert out.returncode != 0 and "overlaps with already defined CIDR" in out.stderr
    stored = json.loads(kube.kubectl(kubeconfig, "get", "ipaddresspools." + GROUP, "b", "-n", namespace,
                                     "-o", "json").stdout)
    assert stored["spec"]["addresses"] == ["198.51.100.8/29"]


def test_an_advertisement_naming_a_missing_pool_is_accepted_with_a_warning(kubeconfig, namespace):
    """MetalLB lets objects be created in any order; the webhook says what the advertisement misses."""
    out = apply(kubeconfig, namespace, {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                                        "metadata": {"name": "l2"}, "spec": {"ipAddressPools": ["nope"]}})
    assert out.returncode == 0, out.stderr
    assert 'Warning: L2Advertisement "l2": spec.ipAddressPools[0]: no IPAddressPool "nope"' in out.stderr


def test_a_bad_aggregation_length_is_refused(kubeconfig, namespace):
    assert apply(kubeconfig, namespace, pool("p", "198.51.100.0/28")).returncode == 0
    out = apply(kubeconfig, namespace, {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
                                        "metadata": {"name": "agg"},
                                        "spec": {"ipAddressPools": ["p"], "aggregationLength": 26}})
    assert out.returncode != 0
    assert ('BGPAdvertisement "agg": spec: invalid aggregation length 26: prefix 28 in this pool is more specific '
            'than the aggregation length for addresses 198.51.100.0/28') in out.stderr
    assert names(kubeconfig, namespace, "bgpadvertisements") == set()


def test_deleting_is_allowed_but_not_a_bfd_profile_a_peer_uses(kubeconfig, namespace):
    assert apply(kubeconfig, namespace, pool("p", "198.51.100.0/28")).returncode == 0
    assert kube.kubectl(kubeconfig, "delete", "ipaddresspools." + GROUP, "p", "-n", namespace,
                        check=False).returncode == 0
    peer = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "router"},
            "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1", "bfdProfile": "fast"}}
    bfd = {"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": {"name": "fast"}, "spec": {}}
    out = apply(kubeconfig, namespace, bfd, peer)
    assert out.returncode == 0, out.stderr
    out = kube.kubectl(kubeconfig, "delete", "bfdprofiles." + GROUP, "fast", "-n", namespace, check=False)
    assert out.returncode != 0
    assert "failed to delete BFDProfile fast, used by BGPPeer router" in out.stderr


def test_bgppeer_converts_between_v1beta1_and_v1beta2_keeping_its_fields(kube_client, namespace):
    from kubernetes import client as k8s_client

    custom = k8s_client.CustomObjectsApi(kube_client)
    spec = {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1", "peerPort": 1179, "holdTime": "90s",
            "routerID": "198.51.100.10", "sourceAddress": "198.51.100.11",
            "ebgpMultiHop": True, "password": "secret",
            "nodeSelectors": [{"matchLabels": {"rack": "a"},
                               "matchExpressions": [{"key": "zone", "operator": "In", "values": ["x", "y"]}]}]}
    custom.create_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers", {
        "apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "old"}, "spec": spec})
    as_v2 = custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", "old")
    assert as_v2["apiVersion"] == "metallb.io/v1beta2"
    assert as_v2["spec"] == dict(spec, disableMP=False, dualStackAddressFamily=False)  # + v1beta2's defaults
    back = custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers", "old")
    assert back["apiVersion"] == "metallb.io/v1beta1" and back["spec"] == spec

    # passwordSecret is only in v1beta2 (and the one such field the native BGP mode accepts)
    newer = dict(spec, passwordSecret={"name": "bgp-password"}, password="", peerAddress="198.51.100.2")
    del newer["password"]
    custom.create_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", {
        "apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "new"}, "spec": newer})
    as_v1 = custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers", "new")
    expected = dict(spec, peerAddress="198.51.100.2")
    del expected["password"]
    assert as_v1["spec"] == expected  # the v1beta2-only field is not in v1beta1
    assert custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", "new")["spec"] == dict(
        newer, disableMP=False, dualStackAddressFamily=False)
    listed = custom.list_namespaced_custom_object(GROUP, "v1beta1", namespace, "bgppeers")
    assert {i["metadata"]["name"] for i in listed["items"]} == {"old", "new"}


def stored_secret(kube_client) -> dict:
    from kubernetes import client as k8s_client

    secret = k8s_client.CoreV1Api(kube_client).read_namespaced_secret(SECRET, kube.METALLB_NS)
    return {"resourceVersion": secret.metadata.resource_version,
            **{k: base64.b64decode(v) for k, v in (secret.data or {}).items()}}


def test_the_controller_keeps_its_certificate_in_the_secret_and_its_ca_in_the_registrations(kubeconfig,
                                                                                            kube_client):
    secret = stored_secret(kube_client)
    assert {"ca.crt", "ca.key", "tls.crt", "tls.key"} <= set(secret)
    bundle = base64.b64encode(secret["ca.crt"]).decode()
    config = json.loads(kube.kubectl(kubeconfig, "get", "validatingwebhookconfiguration",
                                     "metallb-webhook-configuration", "-o", "json").stdout)
    assert len(config["webhooks"]) == 6
    assert {h["clientConfig"]["caBundle"] for h in config["webhooks"]} == {bundle}
    crd = json.loads(kube.kubectl(kubeconfig, "get", "crd", "bgppeers.metallb.io", "-o", "json").stdout)
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["caBundle"] == bundle


def served_certificate(port: int, ca_pem: bytes) -> bytes:
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def test_a_second_replica_serves_the_certificate_in_the_secret_without_renewing_it(kube_cluster, kube_client,
                                                                                    tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    before = stored_secret(kube_client)
    credentials = kube_cluster.token_kubeconfig("controller", path=str(tmp_path / "replica.kubeconfig"))
    port = kube.free_port()
    replica = DaemonProcess(str(tmp_path), "replica", [
        "controller", "--kubeconfig", credentials, "--namespace", kube.METALLB_NS, "--webhook-mode", "onlywebhook",
        "--webhook-bind", "127.0.0.1", "--webhook-port", str(port), "--metrics-port", "0"])
    try:
        served = wait_for(lambda: _try(served_certificate, port, before["ca.crt"]), timeout=30,
                          what="the replica's webhook port (log: %s)" % replica.log())
        assert served == x509.load_pem_x509_certificate(before["tls.crt"]).public_bytes(Encoding.DER)
        assert stored_secret(kube_client) == before
    finally:
        replica.stop()


def _try(func, *args):
    try:
        return func(*args)
    except OSError:
        return None


def test_onlywebhook_without_a_port_is_refused_in_one_line(tmp_path):
    """Checked before anything else: not even the (absent) kubeconfig is read."""
    out = subprocess.run([sys.executable, os.path.join(ROOT, "bin", "metal-lb"), "controller", "--kubeconfig",
                          str(tmp_path / "absent"), "--webhook-mode", "onlywebhook", "--webhook-port", "0"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert out.stderr.strip() == "metal-lb controller: --webhook-mode onlywebhook needs a --webhook-port"


def test_enabled_mode_assigns_ips_and_serves_the_webhooks_and_a_taken_port_does_not_stop_it(
        kubeconfig, kube_client, namespace, daemon_kubeconfig, tmp_path):
    """``--webhook-mode enabled`` (the default): one process does both; a webhook that cannot start is
    retried while IPs are assigned. Its own Secret lives in the test namespace (its --namespace); it is
    pointed at registrations that do not exist, so the session's CA stays in place."""
    from kubernetes import client as k8s_client

    core = k8s_client.CoreV1Api(kube_client)
    assert apply(kubeconfig, namespace, pool("p", "198.51.100.200/31")).returncode == 0
    credentials = daemon_kubeconfig("controller", namespace)
    webhook = ["--webhook-mode", "enabled", "--webhook-bind", "127.0.0.1", "--webhook-configuration", "absent",
               "--webhook-crd", "absent.metallb.io"]
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    base = ["controller", "--kubeconfig", credentials, "--namespace", namespace, "--metrics-port", "0"]
    blocked = DaemonProcess(str(tmp_path), "blocked", [*base, *webhook, "--webhook-port",
                                                       str(taken.getsockname()[1])])
    try:
        core.create_namespaced_service(namespace, {
            "metadata": {"name": "web"}, "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                                                  "ports": [{"port": 80, "protocol": "TCP"}]}})
        wait_for(lambda: (core.read_namespaced_service("web", namespace).status.load_balancer.ingress or [None])[0],
                 timeout=30, what="an IP from the controller whose webhook port is taken (log: %s)" % blocked.log())
        wait_for(lambda: "retrying in 30 s; IP assignment goes on" in blocked.log(), timeout=30,
                 what="the webhook start error in the log")
    finally:
        blocked.stop()
        taken.close()
    port = kube.free_port()
    both = DaemonProcess(str(tmp_path), "both", [*base, *webhook, "--webhook-port", str(port)])
    try:
        ca = wait_for(lambda: _try_secret(core, namespace), timeout=30, what="the Secret in the test namespace")
        wait_for(lambda: _try(served_certificate, port, ca), timeout=30, what="the webhook port (%s)" % both.log())
    finally:
        both.stop()


def _try_secret(core, namespace: str) -> bytes | None:
    from kubernetes.client.exceptions import ApiException

    try:
        secret = core.read_namespaced_secret(SECRET, namespace)
    except ApiException:
        return None
    return base64.b64decode(secret.data["ca.crt"])
