# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.kube_proxy through ansible-playbook against the real API server.

The kube-proxy ConfigMap and pods live in the test's own namespace (``kube_proxy_namespace``), so the
tests are safe on a real cluster too: the pods are bound to a node that does not exist, so nothing ever
runs them, and deleting them is what "restart" means.
"""

from __future__ import annotations

import uuid

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from test_modules import Runner  # noqa: E402

pytestmark = pytest.mark.integration

KUBEADM_IPVS = """apiVersion: kubeproxy.config.k8s.io/v1alpha1
bindAddress: 0.0.0.0
clientConnection:
  kubeconfig: /var/lib/kube-proxy/kubeconfig.conf
clusterCIDR: 203.0.113.0/24
ipvs:
  excludeCIDRs: null
  minSyncPeriod: 0s
  scheduler: ""
  strictARP: false  # kubeadm's default
  syncPeriod: 0s
kind: KubeProxyConfiguration
mode: ipvs
"""
LABEL = {"k8s-app": "kube-proxy"}


@pytest.fixture
def run(tmp_path, kubeconfig, namespace):
    runner = Runner(tmp_path, kubeconfig, namespace)

    def kube_proxy(check: bool = False, diff: bool = False, **args) -> dict:
        args.setdefault("kube_proxy_namespace", namespace)
        return runner("kube_proxy", check=check, diff=diff, **args)

    return kube_proxy


@pytest.fixture
def core(kube_client):
    return k.CoreV1Api(kube_client)


def put_configmap(core, namespace: str, text: str | None, name: str = "kube-proxy") -> None:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {} if text is None else {"config.conf": text}}
    core.create_namespaced_config_map(namespace, body)


def config_text(core, namespace: str) -> str:
    return core.read_namespaced_config_map("kube-proxy", namespace).data["config.conf"]


def make_pods(core, namespace: str, count: int = 2, labels: dict | None = None) -> list[str]:
    try:  # no controller-manager creates the namespace's default ServiceAccount here
        core.create_namespaced_service_account(namespace, {"metadata": {"name": "default"}})
    except ApiException as exc:
        if exc.status != 409:
            raise
    names = []
    for _ in range(count):
        name = "kube-proxy-%s" % uuid.uuid4().hex[:5]
        core.create_namespaced_pod(namespace, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or LABEL)},
            # bound to a node that does not exist: no kubelet ever runs it, even on a real cluster
            "spec": {"nodeName": "metal-lb-test-no-such-node", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "kube-proxy", "image": "kube-proxy.invalid/none:0"}]},
        })
        names.append(name)
    return sorted(names)


def live_pods(core, namespace: str) -> list[str]:
    """Pods not being deleted (without a kubelet a deleted pod keeps its deletionTimestamp)."""
    items = core.list_namespaced_pod(namespace, label_selector="k8s-app=kube-proxy").items
    return sorted(p.metadata.name for p in items if p.metadata.deletion_timestamp is None)


def test_ipvs_sets_strict_arp_once_restarts_pods_once(run, core, namespace):
    put_configmap(core, namespace, KUBEADM_IPVS)
    pods = make_pods(core, namespace)
    other = make_pods(core, namespace, 1, {"k8s-app": "something-else"})

    first = run(diff=True)
    assert not first.get("failed"), first
    assert first["changed"] and first["mode"] == "ipvs" and first["strict_arp"]
    assert config_text(core, namespace) == KUBEADM_IPVS.replace("strictARP: false", "strictARP: true")
    assert first["restarted_pods"] == pods
    assert live_pods(core, namespace) == []
    assert core.read_namespaced_pod(other[0], namespace).metadata.deletion_timestamp is None
    warnings = " ".join(first.get("warnings", []))
    assert "kubeadm" in warnings and "ipvs: {strictARP: true}" in warnings and "kube_proxy_strict_arp" in warnings
    assert first["diff"]["before"] == KUBEADM_IPVS

    version = core.read_namespaced_config_map("kube-proxy", namespace).metadata.resource_version
    new_pods = make_pods(core, namespace)
    second = run()
    assert not second.get("failed"), second
    assert not second["changed"] and second["restarted_pods"] == []
    assert "already true" in second["msg"]
    assert live_pods(core, namespace) == new_pods
    assert core.read_namespaced_config_map("kube-proxy", namespace).metadata.resource_version == version
    assert not second.get("warnings")


def test_check_mode_writes_nothing_and_shows_the_diff(run, core, namespace):
    put_configmap(core, namespace, KUBEADM_IPVS)
    pods = make_pods(core, namespace)
    version = core.read_namespaced_config_map("kube-proxy", namespace).metadata.resource_version

    result = run(check=True, diff=True)
    assert not result.get("failed"), result
    assert result["changed"] and result["restarted_pods"] == pods
    diff = result["diff"]
    assert diff["before"] == KUBEADM_IPVS
    assert diff["after"] == KUBEADM_IPVS.replace("strictARP: false", "strictARP: true")
    assert "config.conf" in diff["before_header"]
    cm = core.read_namespaced_config_map("kube-proxy", namespace)
    assert cm.data["config.conf"] == KUBEADM_IPVS and cm.metadata.resource_version == version
    assert live_pods(core, namespace) == pods


@pytest.mark.parametrize("mode", ["iptables", ""])
def test_other_modes_are_untouched(run, core, namespace, mode):
    text = KUBEADM_IPVS.replace("mode: ipvs", 'mode: "%s"' % mode)
    put_configmap(core, namespace, text)
    pods = make_pods(core, namespace)
    version = core.read_namespaced_config_map("kube-proxy", namespace).metadata.resource_version

    result = run(diff=True)
    assert not result.get("failed"), result
    assert not result["changed"] and not result["applies"] and result["mode"] == mode
    assert "strictARP applies to ipvs mode only" in result["msg"]
    cm = core.read_namespaced_config_map("kube-proxy", namespace)
    assert cm.data["config.conf"] == text and cm.metadata.resource_version == version
    assert live_pods(core, namespace) == pods


def test_unparseable_config_is_refused_naming_the_configmap(run, core, namespace):
    put_configmap(core, namespace, "mode: ipvs\nipvs: [strictARP\n")
    result = run()
    assert result.get("failed")
    assert "ConfigMap %s/kube-proxy: data.config.conf: not parseable YAML" % namespace in result["msg"]
    assert "Traceback" not in result["msg"]
    assert config_text(core, namespace) == "mode: ipvs\nipvs: [strictARP\n"


def test_missing_configmap_or_key(run, core, namespace):
    missing = run()
    assert missing.get("failed") and "ConfigMap %s/kube-proxy does not exist" % namespace in missing["msg"]
    allowed = run(allow_missing=True)
    assert not allowed.get("failed") and not allowed["changed"] and "does not exist" in allowed["msg"]
    put_configmap(core, namespace, None)
    no_key = run()
    assert no_key.get("failed") and "data.config.conf: missing" in no_key["msg"]


def test_restart_pods_false_and_a_custom_selector(run, core, namespace):
    put_configmap(core, namespace, KUBEADM_IPVS)
    pods = make_pods(core, namespace)
    result = run(restart_pods=False)
    assert result["changed"] and result["restarted_pods"] == []
    assert live_pods(core, namespace) == pods
    try:
        core.delete_namespaced_config_map("kube-proxy", namespace)
    except ApiException:  # pragma: no cover - cleanup only
        pass
    put_configmap(core, namespace, KUBEADM_IPVS)
    custom = make_pods(core, namespace, 1, {"app": "kube-proxy"})
    result = run(pod_selector="app=kube-proxy")
    assert result["restarted_pods"] == custom
    assert live_pods(core, namespace) == pods


def test_a_write_at_a_stale_resource_version_is_refused(core, kube_client, namespace):
    from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.kube_proxy_configmap import write_configmap_key

    put_configmap(core, namespace, KUBEADM_IPVS)
    read_at = core.read_namespaced_config_map("kube-proxy", namespace).metadata.resource_version
    core.patch_namespaced_config_map("kube-proxy", namespace, {"data": {"config.conf": "mode: ipvs\n"}})
    with pytest.raises(ApiException) as refused:
        write_configmap_key(kube_client, namespace, "kube-proxy", "config.conf", "changed", read_at, dry_run=False)
    assert refused.value.status == 409
    assert config_text(core, namespace) == "mode: ipvs\n"
