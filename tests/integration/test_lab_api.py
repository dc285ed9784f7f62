# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab Kubernetes API through the unmodified ``kubernetes`` client: objects, metadata, writes,
conflicts, Services, patches, selectors, paging, persistence, and the clear 4xx for what it does not do.

Tests that take the ``kubeconfig``/``kube_client``/``namespace`` fixtures assert real-API behaviour and
run against a real cluster when METAL_LB_TEST_KUBECONFIG is set; tests that take ``lab_api`` or
``lab_api_factory`` check the lab server itself (its CIDRs, options, restarts and documented limits).
"""

from __future__ import annotations

import ipaddress
import json
import re
import threading
import urllib.error
import urllib.request
from datetime import datetime

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

pytestmark = pytest.mark.integration


def meta(name: str, **extra) -> k.V1ObjectMeta:
    return k.V1ObjectMeta(name=name, **extra)


def body_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


def raw(api, method: str, path: str, body=None, content_type: str = "application/json"):
    """A request through the client's own transport, returning (status, parsed body)."""
    try:
        resp = api.call_api(
            *api.param_serialize(
                method,
                path,
                header_params={"Content-Type": content_type, "Accept": "application/json"},
                body=body,
            )
        )
        resp.read()
        return resp.status, json.loads(resp.data or b"null")
    except ApiException as exc:
        return exc.status, json.loads(exc.body)


def lab_get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def svc_body(name: str, **spec) -> k.V1Service:
    spec.setdefault("ports", [k.V1ServicePort(port=80)])
    return k.V1Service(metadata=meta(name), spec=k.V1ServiceSpec(**spec))


# ---------------------------------------------------------------------------------------- discovery


def test_discovery_and_version(kube_client):
    assert "v1" in k.CoreApi(kube_client).get_api_versions().versions
    groups = {g.name: g for g in k.ApisApi(kube_client).get_api_versions().groups}
    for name in ("coordination.k8s.io", "discovery.k8s.io", "events.k8s.io", "apiextensions.k8s.io"):
        assert "v1" in [v.version for v in groups[name].versions]
    core_resources = {r.name: r for r in k.CoreV1Api(kube_client).get_api_resources().resources}
    assert core_resources["services"].namespaced and core_resources["services"].kind == "Service"
    assert not core_resources["nodes"].namespaced
    assert "services/status" in core_resources
    assert "leases" in {r.name for r in k.CoordinationV1Api(kube_client).get_api_resources().resources}
    version = k.VersionApi(kube_client).get_code()
    assert version.major == "1" and version.git_version


def test_health_endpoints(lab_api_server):
    for path in ("/healthz", "/readyz", "/livez"):
        status, data = lab_get(lab_api_server.url + path)
        assert (status, data) == (200, b"ok")


def test_unknown_path_is_404_status(lab_api_server):
    status, data = lab_get(lab_api_server.url + "/apis/nothing.example/v1/widgets")
    body = json.loads(data)
    assert status == 404 and body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404


# ----------------------------------------------------------------------------------------- metadata


def test_fresh_cluster_has_system_namespaces(kube_client):
    names = {n.metadata.name for n in k.CoreV1Api(kube_client).list_namespace().items}
    assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names


def test_system_namespaces_cannot_be_deleted(kube_client):
    with pytest.raises(ApiException) as err:
        k.CoreV1Api(kube_client).delete_namespace("kube-system")
    assert err.value.status == 403
    assert (
        body_of(err.value)["message"]
        == 'namespaces "kube-system" is forbidden: this namespace may not be deleted'
    )


def test_namespace_gets_name_label_and_active_phase(kube_client, namespace):
    ns = k.CoreV1Api(kube_client).read_namespace(namespace)
    assert ns.metadata.labels["kubernetes.io/metadata.name"] == namespace
    assert ns.status.phase == "Active"


def test_create_fills_server_metadata(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    first = core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("a"), data={"x": "1"}))
    second = core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("b")))
    assert re.fullmatch(r"[0-9a-f-]{36}", first.metadata.uid)
    assert first.metadata.uid != second.metadata.uid
    assert isinstance(first.metadata.creation_timestamp, datetime)
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    listed = core.list_namespaced_config_map(namespace)
    assert int(listed.metadata.resource_version) >= int(second.metadata.resource_version)


def test_generate_name_appends_five_random_characters(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    names = {
        core.create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=k.V1ObjectMeta(generate_name="gen-"))
        ).metadata.name
        for _attempt in range(3)
    }
    assert len(names) == 3
    for name in names:
        assert re.fullmatch(r"gen-[bcdfghjklmnpqrstvwxz2456789]{5}", name)


def test_create_in_missing_namespace_is_404(kube_client):
    with pytest.raises(ApiException) as err:
        k.CoreV1Api(kube_client).create_namespaced_config_map(
            "mlb-no-such-namespace", k.V1ConfigMap(metadata=meta("a"))
        )
    assert err.value.status == 404
    body = body_of(err.value)
    assert body["reason"] == "NotFound" and body["details"]["name"] == "mlb-no-such-namespace"
    assert body["details"]["kind"] == "namespaces"


def test_create_twice_is_409_already_exists(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("dup")))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("dup")))
    body = body_of(err.value)
    assert err.value.status == 409 and body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "dup" already exists'


def test_invalid_names_are_422_with_field_causes(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service(namespace, svc_body("Bad_Name"))
    body = body_of(err.value)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Service" and body["details"]["name"] == "Bad_Name"
    assert {
        "reason": body["details"]["causes"][0]["reason"],
        "field": body["details"]["causes"][0]["field"],
    } == {"reason": "FieldValueInvalid", "field": "metadata.name"}
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=meta("ok", labels={"k": "bad value!"}))
        )
    assert err.value.status == 422


def test_namespace_in_body_must_match_url(kube_client, namespace):
    with pytest.raises(ApiException) as err:
        k.CoreV1Api(kube_client).create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=meta("a", namespace="default"))
        )
    assert err.value.status == 400
    assert "does not match the namespace" in body_of(err.value)["message"]


# ------------------------------------------------------------------------------------------ updates


def test_stale_update_is_409_conflict_and_empty_version_is_unconditional(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=meta("cm"), data={"v": "1"})
    )
    stale = created.metadata.resource_version
    created.data = {"v": "2"}
    updated = core.replace_namespaced_config_map("cm", namespace, created)
    assert updated.data == {"v": "2"} and updated.metadata.resource_version != stale
    created.data = {"v": "3"}
    created.metadata.resource_version = stale
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("cm", namespace, created)
    body = body_of(err.value)
    assert err.value.status == 409 and body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on configmaps "cm": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    created.metadata.resource_version = None
    assert core.replace_namespaced_config_map("cm", namespace, created).data == {"v": "3"}


def test_noop_update_writes_nothing(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=meta("same"), data={"a": "b"})
    )
    again = core.replace_namespaced_config_map("same", namespace, created)
    assert again.metadata.resource_version == created.metadata.resource_version


def test_update_of_missing_object_is_404(kube_client, namespace):
    with pytest.raises(ApiException) as err:
        k.CoreV1Api(kube_client).replace_namespaced_config_map(
            "absent", namespace, k.V1ConfigMap(metadata=meta("absent"))
        )
    assert err.value.status == 404
    assert body_of(err.value)["message"] == 'configmaps "absent" not found'


def test_delete_answers_like_the_real_api(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_service(namespace, svc_body("gone"))
    deleted = core.delete_namespaced_service("gone", namespace)
    assert deleted.metadata.name == "gone"  # services return the deleted object
    created = core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("gone")))
    resp = core.delete_namespaced_config_map("gone", namespace, _preload_content=False)
    status = json.loads(resp.data)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "gone" and status["details"]["uid"] == created.metadata.uid
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("gone", namespace)
    assert err.value.status == 404


def test_delete_preconditions(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(namespace, k.V1ConfigMap(metadata=meta("pre")))
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map(
            "pre",
            namespace,
            body=k.V1DeleteOptions(
                preconditions=k.V1Preconditions(uid="00000000-0000-0000-0000-000000000000")
            ),
        )
    assert err.value.status == 409
    core.read_namespaced_config_map("pre", namespace)


def test_delete_collection_by_label(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    for i in range(4):
        core.create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=meta(f"c{i}", labels={"set": "a" if i % 2 else "b"}))
        )
    core.delete_collection_namespaced_config_map(namespace, label_selector="set=a")
    left = sorted(c.metadata.name for c in core.list_namespaced_config_map(namespace).items)
    assert [n for n in left if n.startswith("c")] == ["c0", "c2"]


def test_finalizers_are_refused_on_delete_with_a_clear_status(lab_api, make_client):
    api = make_client(lab_api)
    core = k.CoreV1Api(api)
    core.create_namespace(k.V1Namespace(metadata=meta("fin")))
    core.create_namespaced_config_map(
        "fin", k.V1ConfigMap(metadata=meta("held", finalizers=["example.com/x"]))
    )
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("held", "fin")
    assert err.value.status == 422
    assert "finalizers are not implemented" in body_of(err.value)["message"]
    core.patch_namespaced_config_map("held", "fin", {"metadata": {"finalizers": None}})
    core.delete_namespaced_config_map("held", "fin")
    core.delete_namespace("fin")


def test_namespace_delete_removes_its_objects_at_once(lab_api, make_client):
    api = make_client(lab_api)
    core = k.CoreV1Api(api)
    core.create_namespace(k.V1Namespace(metadata=meta("cascade")))
    core.create_namespaced_config_map("cascade", k.V1ConfigMap(metadata=meta("x")))
    core.create_namespaced_service("cascade", svc_body("s"))
    core.delete_namespace("cascade")
    everything = core.list_config_map_for_all_namespaces(field_selector="metadata.namespace=cascade")
    assert everything.items == []
    with pytest.raises(ApiException) as err:
        core.read_namespace("cascade")
    assert err.value.status == 404


# -------------------------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(
    "kind", ["secret", "pod", "endpoints", "service_account", "node", "endpoint_slice", "lease", "event"]
)
def test_crud_of_every_builtin_kind(kube_client, namespace, kind):
    core, name = k.CoreV1Api(kube_client), "crud-" + kind.replace("_", "-")
    if kind == "secret":
        core.create_namespaced_secret(
            namespace, k.V1Secret(metadata=meta(name), string_data=None, data={"k": "dg=="}, type="Opaque")
        )
        assert core.read_namespaced_secret(name, namespace).data == {"k": "dg=="}
        core.delete_namespaced_secret(name, namespace)
    elif kind == "pod":
        pod = core.create_namespaced_pod(
            namespace,
            k.V1Pod(
                metadata=meta(name),
                spec=k.V1PodSpec(containers=[k.V1Container(name="c", image="example.invalid/img")]),
            ),
        )
        assert pod.status.phase == "Pending"
        core.delete_namespaced_pod(name, namespace)
    elif kind == "endpoints":
        core.create_namespaced_endpoints(
            namespace,
            k.V1Endpoints(
                metadata=meta(name),
                subsets=[
                    k.V1EndpointSubset(
                        addresses=[k.V1EndpointAddress(ip="198.51.100.7")],
                        ports=[k.CoreV1EndpointPort(port=80)],
                    )
                ],
            ),
        )
        assert core.read_namespaced_endpoints(name, namespace).subsets[0].addresses[0].ip == "198.51.100.7"
        core.delete_namespaced_endpoints(name, namespace)
    elif kind == "service_account":
        assert core.create_namespaced_service_account(
            namespace, k.V1ServiceAccount(metadata=meta(name))
        ).metadata.uid
        assert core.delete_namespaced_service_account(name, namespace).metadata.name == name
    elif kind == "node":
        if _real_cluster():
            pytest.skip("creating Node objects is only done on the lab API")
        node = core.create_node(k.V1Node(metadata=meta(name, labels={"kubernetes.io/hostname": name})))
        patched = core.patch_node_status(
            name, {"status": {"addresses": [{"type": "InternalIP", "address": "198.51.100.2"}]}}
        )
        assert patched.status.addresses[0].address == "198.51.100.2" and node.metadata.uid
        core.delete_node(name)
    elif kind == "endpoint_slice":
        disc = k.DiscoveryV1Api(kube_client)
        disc.create_namespaced_endpoint_slice(
            namespace,
            k.V1EndpointSlice(
                metadata=meta(name, labels={"kubernetes.io/service-name": "web"}),
                address_type="IPv4",
                endpoints=[k.V1Endpoint(addresses=["198.51.100.8"], node_name="node1")],
            ),
        )
        found = disc.list_namespaced_endpoint_slice(
            namespace, label_selector="kubernetes.io/service-name=web"
        )
        assert [s.endpoints[0].node_name for s in found.items] == ["node1"]
        disc.delete_namespaced_endpoint_slice(name, namespace)
    elif kind == "lease":
        coord = k.CoordinationV1Api(kube_client)
        lease = coord.create_namespaced_lease(
            namespace,
            k.V1Lease(
                metadata=meta(name),
                spec=k.V1LeaseSpec(
                    holder_identity="a",
                    lease_duration_seconds=15,
                    renew_time=datetime(2024, 1, 2, 3, 4, 5, 123456),
                ),
            ),
        )
        lease.spec.holder_identity = "b"
        assert coord.replace_namespaced_lease(name, namespace, lease).spec.holder_identity == "b"
        lease.spec.holder_identity = "c"  # stale now: the write above bumped the version
        with pytest.raises(ApiException) as err:
            coord.replace_namespaced_lease(name, namespace, lease)
        assert err.value.status == 409
        coord.delete_namespaced_lease(name, namespace)
    elif kind == "event":
        core.create_namespaced_event(
            namespace,
            k.CoreV1Event(
                metadata=meta(name),
                involved_object=k.V1ObjectReference(kind="Service", name="web", namespace=namespace),
                reason="AllocationFailed",
                message="no available IPs",
                type="Warning",
                action="Allocate",
                event_time=datetime(2024, 1, 2, 3, 4, 5, 6),
                reporting_component="metallb-controller",
                reporting_instance="controller-0",
            ),
        )
        # the events.k8s.io/v1 view of the same object (the client's model needs eventTime to be set)
        events = k.EventsV1Api(kube_client).list_namespaced_event(namespace)
        view = [e for e in events.items if e.metadata.name == name][0]
        assert (view.note, view.regarding.name, view.reason, view.reporting_controller) == (
            "no available IPs",
            "web",
            "AllocationFailed",
            "metallb-controller",
        )
        core.delete_namespaced_event(name, namespace)


def _real_cluster() -> bool:
    import os

    return bool(os.environ.get("METAL_LB_TEST_KUBECONFIG"))


# ----------------------------------------------------------------------------------------- services


def test_service_defaults_and_cluster_ip(kube_client, namespace):
    svc = k.CoreV1Api(kube_client).create_namespaced_service(namespace, svc_body("web"))
    spec = svc.spec
    assert spec.type == "ClusterIP" and spec.session_affinity == "None"
    assert spec.ports[0].protocol == "TCP" and spec.ports[0].target_port == 80
    assert spec.cluster_ips == [spec.cluster_ip]
    family = f"IPv{ipaddress.ip_address(spec.cluster_ip).version}"
    assert spec.ip_families == [family] and spec.ip_family_policy == "SingleStack"
    assert spec.internal_traffic_policy == "Cluster"


def test_service_cluster_ips_come_from_the_service_cidr(lab_api, make_client):
    core = k.CoreV1Api(make_client(lab_api))
    core.create_namespace(k.V1Namespace(metadata=meta("cidr")))
    ips = [core.create_namespaced_service("cidr", svc_body(f"s{i}")).spec.cluster_ip for i in range(5)]
    assert len(set(ips)) == 5
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24") for ip in ips)
    dual = core.create_namespaced_service("cidr", svc_body("dual", ip_family_policy="PreferDualStack"))
    assert dual.spec.ip_families == ["IPv4", "IPv6"]
    assert ipaddress.ip_address(dual.spec.cluster_ips[1]) in ipaddress.ip_network("2001:db8:ffff::/112")
    v6 = core.create_namespaced_service("cidr", svc_body("v6", ip_families=["IPv6"]))
    assert v6.spec.ip_families == ["IPv6"] and ":" in v6.spec.cluster_ip
    core.delete_namespace("cidr")


def test_requested_cluster_ip_is_kept_and_checked(lab_api, make_client):
    core = k.CoreV1Api(make_client(lab_api))
    core.create_namespace(k.V1Namespace(metadata=meta("reqip")))
    assert (
        core.create_namespaced_service("reqip", svc_body("a", cluster_ip="203.0.113.77")).spec.cluster_ip
        == "203.0.113.77"
    )
    for name, ip, words in (
        ("b", "203.0.113.77", "provided IP is already allocated"),
        ("c", "198.51.100.1", "is not in the valid range"),
        ("d", "not-an-ip", "must be a valid IP address"),
    ):
        with pytest.raises(ApiException) as err:
            core.create_namespaced_service("reqip", svc_body(name, cluster_ip=ip))
        assert err.value.status == 422 and words in body_of(err.value)["message"], body_of(err.value)
    core.delete_namespaced_service("a", "reqip")
    assert (
        core.create_namespaced_service("reqip", svc_body("e", cluster_ip="203.0.113.77")).spec.cluster_ip
        == "203.0.113.77"
    )
    core.delete_namespace("reqip")


def test_require_dual_stack_on_a_single_stack_cluster_is_rejected(lab_api_factory, make_client):
    server = lab_api_factory("--service-cidr", "203.0.113.0/26")
    core = k.CoreV1Api(make_client(server.kubeconfig))
    core.create_namespace(k.V1Namespace(metadata=meta("one")))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_service("one", svc_body("x", ip_family_policy="RequireDualStack"))
    assert "not configured for dual-stack" in body_of(err.value)["message"]
    assert core.create_namespaced_service(
        "one", svc_body("y", ip_family_policy="PreferDualStack")
    ).spec.ip_families == ["IPv4"]


def test_load_balancer_node_ports_are_allocated_kept_and_released(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(
        namespace,
        svc_body(
            "lb",
            type="LoadBalancer",
            ports=[k.V1ServicePort(name="http", port=80), k.V1ServicePort(name="https", port=443)],
        ),
    )
    ports = [p.node_port for p in svc.spec.ports]
    assert all(30000 <= p <= 32767 for p in ports) and len(set(ports)) == 2
    assert (
        svc.spec.external_traffic_policy == "Cluster" and svc.spec.allocate_load_balancer_node_ports is True
    )
    cluster_ip = svc.spec.cluster_ip
    svc.spec.ports = [k.V1ServicePort(name="http", port=80), k.V1ServicePort(name="https", port=443)]
    svc.spec.cluster_ip, svc.spec.cluster_ips = None, None
    replaced = core.replace_namespaced_service("lb", namespace, svc)  # omitted values are kept
    assert [p.node_port for p in replaced.spec.ports] == ports and replaced.spec.cluster_ip == cluster_ip
    clusterip = core.patch_namespaced_service("lb", namespace, {"spec": {"type": "ClusterIP"}})
    assert [p.node_port for p in clusterip.spec.ports] == [None, None]


def test_cluster_ip_is_immutable(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(namespace, svc_body("imm"))
    other = str(ipaddress.ip_address(svc.spec.cluster_ip) + 1)
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service("imm", namespace, {"spec": {"clusterIP": other, "clusterIPs": [other]}})
    assert err.value.status == 422 and "may not change once set" in body_of(err.value)["message"]


def test_load_balancer_class_is_immutable(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_service(
        namespace, svc_body("cls", type="LoadBalancer", load_balancer_class="a.example/x")
    )
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service("cls", namespace, {"spec": {"loadBalancerClass": "b.example/y"}})
    assert err.value.status == 422 and "spec.loadBalancerClass" in body_of(err.value)["message"]


def test_status_subresource_separates_spec_and_status(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_service(namespace, svc_body("st", type="LoadBalancer"))
    ingress = {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.10"}]}}}
    ignored = core.patch_namespaced_service("st", namespace, ingress)
    assert not ignored.status.load_balancer.ingress  # the main resource ignores status
    with_status = core.patch_namespaced_service_status("st", namespace, ingress)
    assert with_status.status.load_balancer.ingress[0].ip == "198.51.100.10"
    spec_via_status = core.patch_namespaced_service_status(
        "st", namespace, {"spec": {"sessionAffinity": "ClientIP"}}
    )
    assert spec_via_status.spec.session_affinity == "None"  # the status endpoint ignores spec
    replaced = core.read_namespaced_service("st", namespace)
    replaced.status = k.V1ServiceStatus(load_balancer=k.V1LoadBalancerStatus(ingress=[]))
    replaced.spec.session_affinity = "ClientIP"
    after = core.replace_namespaced_service("st", namespace, replaced)
    assert (
        after.spec.session_affinity == "ClientIP"
        and after.status.load_balancer.ingress[0].ip == "198.51.100.10"
    )
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_service_status(
            "st", namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "not-an-ip"}]}}}
        )
    assert err.value.status == 422 and "status.loadBalancer.ingress[0].ip" in body_of(err.value)["message"]


def test_service_status_write_with_stale_version_conflicts(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    svc = core.create_namespaced_service(namespace, svc_body("occ", type="LoadBalancer"))
    core.patch_namespaced_service("occ", namespace, {"metadata": {"annotations": {"a": "b"}}})
    svc.status = k.V1ServiceStatus(
        load_balancer=k.V1LoadBalancerStatus(ingress=[k.V1LoadBalancerIngress(ip="198.51.100.11")])
    )
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_service_status("occ", namespace, svc)
    assert err.value.status == 409


# ------------------------------------------------------------------------------------------ patches


def test_merge_patch(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=meta("mp", labels={"a": "1", "b": "2"}), data={"x": "1", "y": "2"})
    )
    patched = core.patch_namespaced_config_map(
        "mp",
        namespace,
        {"metadata": {"labels": {"a": None, "c": "3"}}, "data": {"y": None, "z": "3"}},
        _content_type="application/merge-patch+json",
    )
    assert patched.metadata.labels == {"b": "2", "c": "3"} and patched.data == {"x": "1", "z": "3"}


def test_strategic_merge_patch_merges_keyed_lists(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_service(
        namespace,
        svc_body(
            "smp",
            type="LoadBalancer",
            ports=[
                k.V1ServicePort(name="http", port=80),
                k.V1ServicePort(name="dns", port=53, protocol="UDP"),
            ],
        ),
    )
    patched = core.patch_namespaced_service(
        "smp",
        namespace,
        {"spec": {"ports": [{"name": "https", "port": 443}, {"port": 53, "$patch": "delete"}]}},
    )  # default: strategic merge
    assert sorted(p.port for p in patched.spec.ports) == [80, 443]
    status = {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.20"}, {"ip": "198.51.100.21"}]}}}
    core.patch_namespaced_service_status("smp", namespace, status)
    atomic = core.patch_namespaced_service_status(
        "smp", namespace, {"status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.22"}]}}}
    )
    assert [i.ip for i in atomic.status.load_balancer.ingress] == ["198.51.100.22"]  # no merge key: replaced
    owner = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "name": "o1",
        "uid": "11111111-1111-1111-1111-111111111111",
    }
    core.patch_namespaced_service("smp", namespace, {"metadata": {"ownerReferences": [owner]}})
    owner2 = dict(owner, name="o2", uid="22222222-2222-2222-2222-222222222222")
    merged = core.patch_namespaced_service("smp", namespace, {"metadata": {"ownerReferences": [owner2]}})
    assert [o.name for o in merged.metadata.owner_references] == ["o1", "o2"]
    replaced = core.patch_namespaced_service(
        "smp", namespace, {"spec": {"ports": [{"$patch": "replace"}, {"name": "only", "port": 8080}]}}
    )
    assert [p.port for p in replaced.spec.ports] == [8080]


def test_strategic_merge_patch_conditions_by_type(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_pod(
        namespace,
        k.V1Pod(
            metadata=meta("p"),
            spec=k.V1PodSpec(containers=[k.V1Container(name="a", image="example.invalid/a")]),
        ),
    )
    core.patch_namespaced_pod_status(
        "p",
        namespace,
        {
            "status": {
                "conditions": [
                    {"type": "Ready", "status": "False"},
                    {"type": "Initialized", "status": "True"},
                ]
            }
        },
    )
    pod = core.patch_namespaced_pod_status(
        "p", namespace, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    )
    assert {c.type: c.status for c in pod.status.conditions} == {"Ready": "True", "Initialized": "True"}
    merged = core.patch_namespaced_pod(
        "p", namespace, {"spec": {"containers": [{"name": "a", "image": "example.invalid/b"}]}}
    )
    assert [(c.name, c.image) for c in merged.spec.containers] == [("a", "example.invalid/b")]


def test_json_patch(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=meta("jp"), data={"a": "1", "b": "2"})
    )
    patched = core.patch_namespaced_config_map(
        "jp",
        namespace,
        [
            {"op": "test", "path": "/data/a", "value": "1"},
            {"op": "replace", "path": "/data/a", "value": "10"},
            {"op": "remove", "path": "/data/b"},
            {"op": "add", "path": "/metadata/annotations", "value": {"example.com/x": "v"}},
            {"op": "replace", "path": "/metadata/annotations/example.com~1x", "value": "w"},
            {"op": "copy", "from": "/data/a", "path": "/data/c"},
        ],
    )
    assert patched.data == {"a": "10", "c": "10"} and patched.metadata.annotations == {"example.com/x": "w"}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "jp", namespace, [{"op": "test", "path": "/data/a", "value": "nope"}]
        )
    assert err.value.status == 422
    assert core.read_namespaced_config_map("jp", namespace).data == {"a": "10", "c": "10"}


def test_patch_with_stale_resource_version_conflicts(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    created = core.create_namespaced_config_map(
        namespace, k.V1ConfigMap(metadata=meta("prv"), data={"a": "1"})
    )
    core.patch_namespaced_config_map("prv", namespace, {"data": {"a": "2"}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "prv",
            namespace,
            {"metadata": {"resourceVersion": created.metadata.resource_version}, "data": {"a": "3"}},
        )
    assert err.value.status == 409


def test_apply_patch_is_415_with_a_clear_message(lab_api, make_client):
    api = make_client(lab_api)
    status, body = raw(
        api,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x",
        {"data": {}},
        content_type="application/apply-patch+yaml",
    )
    assert status == 415 and body["kind"] == "Status" and "server-side apply" in body["message"]


# ---------------------------------------------------------------------------------------- selectors


def test_label_selector_operators(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    for name, labels in (
        ("a", {"tier": "web", "env": "prod"}),
        ("b", {"tier": "db", "env": "prod"}),
        ("c", {"tier": "web"}),
        ("d", {}),
    ):
        core.create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=meta(name, labels=labels or None))
        )

    def names(selector: str) -> list[str]:
        return sorted(
            c.metadata.name
            for c in core.list_namespaced_config_map(namespace, label_selector=selector).items
            if c.metadata.name in "abcd"
        )

    assert names("tier=web") == ["a", "c"]
    assert names("tier==web,env=prod") == ["a"]
    assert names("tier!=web") == ["b", "d"]
    assert names("tier in (web, db)") == ["a", "b", "c"]
    assert names("tier notin (web)") == ["b", "d"]
    assert names("env") == ["a", "b"]
    assert names("!env") == ["c", "d"]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, label_selector="tier in web")
    assert err.value.status == 400


def test_field_selectors(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    core.create_namespaced_secret(namespace, k.V1Secret(metadata=meta("s1"), type="Opaque"))
    core.create_namespaced_secret(
        namespace,
        k.V1Secret(
            metadata=meta("s2"),
            type="kubernetes.io/basic-auth",
            string_data={"username": "u", "password": "p"},
        ),
    )
    basic = core.list_namespaced_secret(namespace, field_selector="type=kubernetes.io/basic-auth")
    assert [s.metadata.name for s in basic.items] == ["s2"]
    assert [
        s.metadata.name
        for s in core.list_namespaced_secret(namespace, field_selector="metadata.name!=s2,type=Opaque").items
    ] == ["s1"]
    for reason, obj in (("AllocationFailed", "a"), ("IPAllocated", "b")):
        core.create_namespaced_event(
            namespace,
            k.CoreV1Event(
                metadata=k.V1ObjectMeta(generate_name="ev-"),
                reason=reason,
                type="Normal",
                involved_object=k.V1ObjectReference(kind="Service", name=obj, namespace=namespace),
            ),
        )
    found = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=a,involvedObject.kind=Service"
    )
    assert [e.reason for e in found.items] == ["AllocationFailed"]
    everywhere = core.list_secret_for_all_namespaces(field_selector=f"metadata.namespace={namespace}")
    assert sorted(s.metadata.name for s in everywhere.items if s.metadata.name in ("s1", "s2")) == [
        "s1",
        "s2",
    ]
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, field_selector="spec.nothing=x")
    assert (
        err.value.status == 400 and body_of(err.value)["message"] == "field label not supported: spec.nothing"
    )


def test_pod_field_selector_spec_node_name(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    for name, node in (("p1", "node1"), ("p2", "node2")):
        core.create_namespaced_pod(
            namespace,
            k.V1Pod(
                metadata=meta(name),
                spec=k.V1PodSpec(
                    node_name=node, containers=[k.V1Container(name="c", image="example.invalid/c")]
                ),
            ),
        )
    found = core.list_namespaced_pod(namespace, field_selector="spec.nodeName=node2")
    assert [p.metadata.name for p in found.items] == ["p2"]


# ------------------------------------------------------------------------------------------- paging


def test_limit_and_continue(kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    for i in range(5):
        core.create_namespaced_config_map(
            namespace, k.V1ConfigMap(metadata=meta(f"page-{i}", labels={"paged": "yes"}))
        )
    seen, token, pages = [], None, 0
    while pages < 10:
        page = core.list_namespaced_config_map(
            namespace, label_selector="paged=yes", limit=2, _continue=token
        )
        seen += [c.metadata.name for c in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert sorted(seen) == [f"page-{i}" for i in range(5)] and pages == 3


def test_continue_after_a_change_is_410_on_the_lab(lab_api, make_client):
    core = k.CoreV1Api(make_client(lab_api))
    core.create_namespace(k.V1Namespace(metadata=meta("paging")))
    for i in range(3):
        core.create_namespaced_config_map("paging", k.V1ConfigMap(metadata=meta(f"p{i}")))
    first = core.list_namespaced_config_map("paging", limit=1)
    core.create_namespaced_config_map("paging", k.V1ConfigMap(metadata=meta("p9")))
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map("paging", limit=1, _continue=first.metadata._continue)
    assert err.value.status == 410 and body_of(err.value)["reason"] == "Expired"
    core.delete_namespace("paging")


# ---------------------------------------------------------------------------------- not implemented


def test_unimplemented_features_answer_a_clear_4xx(lab_api, lab_api_server, make_client):
    api = make_client(lab_api)
    core = k.CoreV1Api(api)
    core.create_namespace(k.V1Namespace(metadata=meta("noimpl")))
    core.create_namespaced_pod(
        "noimpl",
        k.V1Pod(
            metadata=meta("p"),
            spec=k.V1PodSpec(containers=[k.V1Container(name="c", image="example.invalid/c")]),
        ),
    )
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("p", "noimpl")
    assert err.value.status == 400 and "not implemented" in body_of(err.value)["message"]
    for path in ("/openapi/v2", "/api/v1/watch/namespaces/noimpl/pods"):
        status, data = lab_get(lab_api_server.url + path)
        assert status == 400 and b"not implemented" in data
    status, data = lab_get(lab_api_server.url + "/api/v1/pods?watch=true&sendInitialEvents=true")
    assert status == 400
    core.delete_namespace("noimpl")


# -------------------------------------------------------------------------------------- concurrency


def test_parallel_writers_get_unique_resource_versions(kube_client, namespace):
    versions: list[str] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        core = k.CoreV1Api(kube_client)
        try:
            for j in range(20):
                created = core.create_namespaced_config_map(
                    namespace, k.V1ConfigMap(metadata=meta(f"w{index}-{j}"))
                )
                with lock:
                    versions.append(created.metadata.resource_version)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(versions) == 120 and len(set(versions)) == 120


# -------------------------------------------------------------------------------------- persistence


def test_state_file_keeps_objects_across_a_restart_on_the_same_port(lab_api_factory, tmp_path, make_client):
    state = str(tmp_path / "state.json")
    first = lab_api_factory("--state", state)
    core = k.CoreV1Api(make_client(first.kubeconfig))
    core.create_namespace(k.V1Namespace(metadata=meta("keep")))
    kept = core.create_namespaced_service("keep", svc_body("svc", type="LoadBalancer"))
    listed = core.list_namespaced_service("keep")
    assert first.stop() == 0
    second = lab_api_factory("--state", state, "--port", str(first.port))
    assert second.port == first.port
    core = k.CoreV1Api(make_client(second.kubeconfig))
    again = core.read_namespaced_service("svc", "keep")
    assert (
        again.metadata.uid,
        again.metadata.resource_version,
        again.spec.cluster_ip,
        again.spec.ports[0].node_port,
    ) == (
        kept.metadata.uid,
        kept.metadata.resource_version,
        kept.spec.cluster_ip,
        kept.spec.ports[0].node_port,
    )
    with pytest.raises(ApiException) as err:  # the restored allocation table still knows the IP
        core.create_namespaced_service("keep", svc_body("other", cluster_ip=kept.spec.cluster_ip))
    assert err.value.status == 422
    # a watch from the version listed before the restart resumes without 410
    from kubernetes import watch

    core.create_namespaced_config_map("keep", k.V1ConfigMap(metadata=meta("after")))
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.Watch().stream(
            core.list_namespaced_config_map,
            "keep",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "after")]
