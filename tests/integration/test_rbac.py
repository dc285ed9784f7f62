# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped RBAC, enforced by the API server: what each daemon's ServiceAccount may and may not do.

The controller and speaker tests already run every daemon with its own token and nothing else; this
file proves the other side: the controller cannot change a Service's spec or metadata (only its
status) and reads no Secret but its webhook certificate's; the speaker reads the Secrets of its own
namespace only (BGP passwords); neither reads Pods.
"""

from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from controller_process import ControllerProcess, wait_for  # noqa: E402

pytestmark = pytest.mark.integration
GROUP, VERSION = "metallb.io", "v1beta1"


def forbidden(call, *args, **kwargs) -> bool:
    try:
        call(*args, **kwargs)
    except ApiException as exc:
        return exc.status == 403
    return False


@pytest.fixture
def service(kube_client, namespace) -> str:
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_service(namespace, {
        "metadata": {"name": "web"},
        "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    return "web"


def test_the_controller_writes_status_but_cannot_change_a_services_spec_or_metadata(
        daemon_kubeconfig, make_client, namespace, service):
    core = k.CoreV1Api(make_client(daemon_kubeconfig("controller", namespace)))
    assert core.list_namespaced_service(namespace).items  # it reads Services
    assert forbidden(core.patch_namespaced_service, service, namespace, {"spec": {"ports": [{"port": 81}]}})
    assert forbidden(core.patch_namespaced_service, service, namespace,
                     {"metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "x"}}})
    assert forbidden(core.delete_namespaced_service, service, namespace)
    assert forbidden(core.create_namespaced_service, namespace,
                     {"metadata": {"name": "evil"}, "spec": {"ports": [{"port": 80}]}})
    patched = core.patch_namespaced_service_status(
        service, namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}})
    assert patched.status.load_balancer.ingress[0].ip == "198.51.100.7"
    # and a status write cannot smuggle in a spec change: the API server keeps the spec
    patched = core.patch_namespaced_service_status(service, namespace, {"spec": {"ports": [{"port": 82}]}})
    assert [p.port for p in patched.spec.ports] == [80]


@pytest.mark.parametrize("daemon", ["controller", "speaker"])
def test_neither_daemon_reads_pods_or_secrets_outside_its_namespace(daemon, daemon_kubeconfig, make_client,
                                                                    namespace):
    core = k.CoreV1Api(make_client(daemon_kubeconfig(daemon, namespace)))
    for ns in (namespace, "metallb-system"):
        assert forbidden(core.list_namespaced_pod, ns)
    assert forbidden(core.list_secret_for_all_namespaces)
    assert forbidden(core.list_namespaced_secret, "default")
    if daemon == "controller":
        for ns in (namespace, "metallb-system"):
            assert forbidden(core.list_namespaced_secret, ns)
    else:  # BGPPeer passwordSecret: the speaker's own namespace only
        assert core.list_namespaced_secret(namespace).items is not None


@pytest.mark.parametrize("daemon", ["controller", "speaker"])
def test_neither_daemon_changes_configuration(daemon, daemon_kubeconfig, make_client, namespace):
    custom = k.CustomObjectsApi(make_client(daemon_kubeconfig(daemon, namespace)))
    assert custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools")["items"] == []
    body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "IPAddressPool",
            "metadata": {"name": "p"}, "spec": {"addresses": ["198.51.100.0/28"]}}
    assert forbidden(custom.create_namespaced_custom_object, GROUP, VERSION, namespace, "ipaddresspools", body)


def test_the_speaker_cannot_write_services_or_their_status(daemon_kubeconfig, make_client, namespace, service):
    core = k.CoreV1Api(make_client(daemon_kubeconfig("speaker", namespace)))
    assert forbidden(core.patch_namespaced_service_status, service, namespace,
                     {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7"}]}}})
    assert forbidden(core.patch_namespaced_service, service, namespace, {"metadata": {"labels": {"a": "b"}}})


def test_a_controller_with_only_its_own_token_assigns_without_a_single_forbidden_call(
        daemon_kubeconfig, kube_client, namespace, service, tmp_path):
    custom = k.CustomObjectsApi(kube_client)
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools", {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "IPAddressPool", "metadata": {"name": "p"},
        "spec": {"addresses": ["198.51.100.0/28"]}})
    core = k.CoreV1Api(kube_client)
    proc = ControllerProcess(str(tmp_path), daemon_kubeconfig("controller", namespace), namespace)
    try:
        wait_for(lambda: (core.read_namespaced_service(service, namespace).status.load_balancer.ingress or [None])[0],
                 30, what="an IP for the Service")
        wait_for(lambda: (custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools", "p")
                          .get("status") or {}).get("assignedIPv4") == 1, 30, what="pool status written")
        wait_for(lambda: custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "configurationstates",
                                                             "controller"), 30, what="ConfigurationState")
    finally:
        proc.stop()
    log = proc.log()
    assert "Forbidden" not in log and " 403" not in log, log
