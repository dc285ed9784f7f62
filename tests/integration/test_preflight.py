# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.preflight through ansible-playbook against the real API server.

Other load balancers are planted as the objects the module looks for, then removed. Tests that need a
cluster known to be clean, or create cluster-scoped objects (CRDs, Nodes, Namespaces), run only against
the session's own API server (they skip with METAL_LB_TEST_KUBECONFIG).
"""

from __future__ import annotations

import os
import uuid

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from controller_process import wait_for  # noqa: E402
from test_modules import Runner  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(os.environ.get("METAL_LB_TEST_KUBECONFIG")),
                       reason="needs a cluster known to be clean and creates cluster-scoped objects"),
]


@pytest.fixture
def run(tmp_path, kubeconfig, namespace):
    runner = Runner(tmp_path, kubeconfig, namespace)

    def preflight(**args) -> dict:
        return runner("preflight", **args)

    return preflight


@pytest.fixture
def api(kube_client):
    return {"core": k.CoreV1Api(kube_client), "apps": k.AppsV1Api(kube_client),
            "ext": k.ApiextensionsV1Api(kube_client), "custom": k.CustomObjectsApi(kube_client)}


@pytest.fixture
def cleanup():
    """Callables run at teardown, last first; a 404 (already gone) is fine."""
    undo = []
    yield undo.append
    for action in reversed(undo):
        try:
            action()
        except ApiException as exc:
            if exc.status != 404:
                raise


def crd(group: str, plural: str, kind: str, version: str, scope: str = "Cluster") -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "%s.%s" % (plural, group)},
        "spec": {"group": group, "scope": scope,
                 "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": kind + "List"},
                 "versions": [{"name": version, "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object",
                                                              "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def plant_crd(api, cleanup, body: dict) -> None:
    api["ext"].create_custom_resource_definition(body)
    cleanup(lambda: api["ext"].delete_custom_resource_definition(body["metadata"]["name"]))

    def established() -> bool:
        got = api["ext"].read_custom_resource_definition(body["metadata"]["name"])
        return any(c.type == "Established" and c.status == "True" for c in (got.status.conditions or []))

    assert wait_for(established, 30), "CRD %s not established" % body["metadata"]["name"]


def test_a_clean_cluster_passes_and_reports_version_and_service_cidrs(run, api):
    assert wait_for(lambda: api["custom"].list_cluster_custom_object(
        "networking.k8s.io", "v1", "servicecidrs")["items"], 30)
    result = run(pools=[{"name": "production", "addresses": ["198.51.100.16/28"]}])
    assert not result.get("failed"), result
    assert result["load_balancers"] == [] and result["pool_errors"] == []
    assert result["version"]["supported"] and result["version"]["minimum"] == "1.29"
    major, minor = result["version"]["server"].split(".")
    assert (int(major), int(minor)) >= (1, 29) and result["version"]["git_version"]
    assert result["service_cidrs_source"] == "ServiceCIDR objects"
    assert "203.0.113.0/24" in result["service_cidrs"]
    assert result["pools_source"] == "options" and result["unreadable"] == []


def test_k3s_servicelb_daemonset_fails_with_guidance_unless_allowed(run, api, namespace, cleanup):
    name = "svclb-web-%s" % uuid.uuid4().hex[:8]
    labels = {"app": name}
    api["apps"].create_namespaced_daemon_set(namespace, {
        "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": namespace},
        "spec": {"selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "lb-tcp-80", "image": "rancher/klipper-lb:v0.4.9"}]}}},
    })
    cleanup(lambda: api["apps"].delete_namespaced_daemon_set(name, namespace))

    failed = run(checks=["load_balancers"])
    assert failed.get("failed")
    assert "K3s ServiceLB (DaemonSet %s/%s" % (namespace, name) in failed["msg"]
    assert "--disable=servicelb" in failed["msg"] and "allow_other_load_balancers" in failed["msg"]
    assert [f["implementation"] for f in failed["load_balancers"]] == ["K3s ServiceLB"]

    allowed = run(checks=["load_balancers"], allow_other_load_balancers=True)
    assert not allowed.get("failed"), allowed
    assert [f["implementation"] for f in allowed["load_balancers"]] == ["K3s ServiceLB"]
    assert any("K3s ServiceLB" in w for w in allowed.get("warnings", []))


def test_openelb_crd_and_cilium_pools_are_found(run, api, cleanup):
    plant_crd(api, cleanup, crd("network.kubesphere.io", "eips", "Eip", "v1alpha2"))
    plant_crd(api, cleanup, crd("cilium.io", "ciliumloadbalancerippools", "CiliumLoadBalancerIPPool", "v2alpha1"))

    only_crds = run(checks=["load_balancers"])
    assert [f["implementation"] for f in only_crds["load_balancers"]] == ["OpenELB"]
    assert any("ciliumloadbalancerippools.cilium.io exists but no enabled pool" in n for n in only_crds["notes"])

    pool = {"apiVersion": "cilium.io/v2alpha1", "kind": "CiliumLoadBalancerIPPool",
            "metadata": {"name": "blue-%s" % uuid.uuid4().hex[:6]}, "spec": {"blocks": [{"cidr": "198.51.100.0/26"}]}}
    api["custom"].create_cluster_custom_object("cilium.io", "v2alpha1", "ciliumloadbalancerippools", pool)
    with_pool = run(checks=["load_balancers"])
    assert with_pool.get("failed")
    assert sorted(f["implementation"] for f in with_pool["load_balancers"]) == ["Cilium LB-IPAM", "OpenELB"]
    assert "CiliumLoadBalancerIPPool %s" % pool["metadata"]["name"] in with_pool["msg"]
    assert "spec.disabled: true" in with_pool["msg"]


def test_pools_overlapping_a_node_or_the_service_cidr_fail(run, api, cleanup):
    node = "preflight-%s" % uuid.uuid4().hex[:6]
    api["core"].create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    cleanup(lambda: api["core"].delete_node(node))
    api["core"].patch_node_status(node, {"status": {"addresses": [{"type": "InternalIP",
                                                                  "address": "198.51.100.5"}]}})

    result = run(checks=["pools"], pools=[{"name": "nodes", "addresses": ["198.51.100.0/28"]},
                                         {"name": "services", "addresses": ["203.0.113.240/28"]}])
    assert result.get("failed")
    errors = " ".join(result["pool_errors"])
    assert 'IPAddressPool "nodes"' in errors and "node %s InternalIP 198.51.100.5" % node in errors
    assert 'IPAddressPool "services"' in errors and "service CIDR 203.0.113.0/24" in errors

    explicit = run(checks=["pools"], service_cidrs=["2001:db8:ffff::/112"],
                   pools=[{"name": "services", "addresses": ["203.0.113.240/28"]}])
    assert not explicit.get("failed"), explicit
    assert explicit["service_cidrs_source"] == "option"


def test_pools_from_the_cluster_when_none_are_given(run, api, namespace):
    api["custom"].create_namespaced_custom_object("metallb.io", "v1beta1", namespace, "ipaddresspools", {
        "apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
        "metadata": {"name": "in-cluster", "namespace": namespace}, "spec": {"addresses": ["203.0.113.0/29"]}})
    result = run(checks=["pools"])
    assert result.get("failed") and result["pools_source"] == "cluster"
    assert 'IPAddressPool "in-cluster"' in result["msg"] and "service CIDR" in result["msg"]
