"""The speaker's informer trims keep every fact its decisions read (same election, same config),
and its lean core client sends the same requests as the generated API classes."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.speaker import (
    _node_relevant, membership_address)
from ansible_collections.metal.lb.plugins.module_utils.engine.layer2_decisions import desired
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube import speaker_views as views
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.l2_status import object_node, object_service
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.service_view import trim_service

MANAGED = [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:metadata": {"f:labels": {}}}}]
NS = "metallb-system"


def node(name: str, v4: str, labels: dict | None = None, unavailable: bool = False, annotated: bool = False) -> dict:
    annotations = {"kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd.sock",
                   views.LAST_APPLIED: "{}"}
    if annotated:
        annotations[views.MEMBERSHIP_ANNOTATION] = "%s:7947" % v4
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": "u-" + name, "resourceVersion": "7", "managedFields": MANAGED,
                     "labels": {"kubernetes.io/hostname": name, **(labels or {})}, "annotations": annotations},
        "spec": {"podCIDR": "198.51.100.0/28", "taints": []},
        "status": {
            "addresses": [{"type": "InternalIP", "address": v4}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2026-12-01T00:00:00Z"},
                           {"type": "NetworkUnavailable", "status": "True" if unavailable else "False"},
                           {"type": "NetworkUnavailable", "status": "True"}],
            "images": [{"names": ["registry.example/img:%d" % i], "sizeBytes": i} for i in range(30)],
            "nodeInfo": {"kernelVersion": "6.1", "kubeletVersion": "v1.31.0"},
            "capacity": {"cpu": "4", "memory": "8Gi"},
        },
    }


def service(name: str, ip: str, etp: str = "Cluster", labels: dict | None = None, shared: bool = False) -> dict:
    annotations = {views.LAST_APPLIED: json.dumps({"big": "x" * 200})}
    if shared:
        annotations["metallb.io/allow-shared-ip"] = "k"
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": "shop", "uid": "u-" + name, "resourceVersion": "3",
                     "labels": labels or {}, "annotations": annotations, "managedFields": MANAGED},
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp, "selector": {"app": name},
                 "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30001}],
                 "clusterIP": "203.0.113.9", "clusterIPs": ["203.0.113.9"], "ipFamilies": ["IPv4"]},
        "status": {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}},
    }


def endpoint_slice(name: str, svc: str, endpoints: list[tuple[str, dict]]) -> dict:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": "5", "managedFields": MANAGED,
                     "labels": {"kubernetes.io/service-name": svc, "endpointslice.kubernetes.io/managed-by": "x"},
                     "ownerReferences": [{"kind": "Service", "name": svc}]},
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        "endpoints": [{"addresses": ["198.51.100.%d" % (20 + i)], "nodeName": n, "conditions": c,
                       "targetRef": {"kind": "Pod", "name": "%s-%d" % (svc, i), "namespace": "shop"}}
                      for i, (n, c) in enumerate(endpoints)],
    }


def config_objects() -> list[dict]:
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "pool", "namespace": NS, "managedFields": MANAGED,
                         "annotations": {views.LAST_APPLIED: "{}"}},
            "spec": {"addresses": ["198.51.100.200-198.51.100.220"]}}
    ad = {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
          "metadata": {"name": "l2", "namespace": NS},
          "spec": {"ipAddressPools": ["pool"], "nodeSelectors": [{"matchLabels": {"lb": "yes"}}],
                   "interfaces": ["eth0"]}}
    pref = {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
            "metadata": {"name": "l2-pref", "namespace": NS},
            "spec": {"ipAddressPools": ["pool"], "serviceSelectors": [{"matchLabels": {"tier": "front"}}]}}
    return [pool, ad, pref]


READY = {"ready": True, "serving": True, "terminating": False}
TERMINATING = {"ready": False, "serving": True, "terminating": True}
GONE = {"ready": False, "serving": False, "terminating": True}


@pytest.fixture
def world():
    nodes = [node("n1", "198.51.100.11", {"lb": "yes"}), node("n2", "198.51.100.12", {"lb": "yes"}, annotated=True),
             node("n3", "198.51.100.13", {"lb": "yes"}, unavailable=True), node("n4", "198.51.100.14")]
    services = [service("a", "198.51.100.200"), service("b", "198.51.100.201", etp="Local"),
                service("c", "198.51.100.202", labels={"tier": "front"}, shared=True),
                service("d", "198.51.100.203")]
    slices = [endpoint_slice("a-1", "a", [("n1", READY), ("n2", GONE)]),
              endpoint_slice("b-1", "b", [("n2", TERMINATING), ("n1", GONE)]),
              endpoint_slice("c-1", "c", [("n4", READY)]),
              endpoint_slice("d-1", "d", [("n1", GONE)])]
    return nodes, services, slices


def _decide(nodes, services, slices, me):
    config = parse_config(config_objects() + nodes, namespace=NS).config
    by_name = {n["metadata"]["name"]: n for n in nodes}
    return desired(services, config, by_name, slices, None, me)


@pytest.mark.parametrize("me", ["n1", "n2", "n3", "n4"])
def test_trimmed_caches_decide_exactly_like_full_objects(world, me):
    nodes, services, slices = world
    full = _decide(copy.deepcopy(nodes), copy.deepcopy(services), copy.deepcopy(slices), me)
    trimmed = _decide([views.trim_node(copy.deepcopy(n)) for n in nodes],
                      [trim_service(copy.deepcopy(s)) for s in services],
                      [views.trim_endpoint_slice(copy.deepcopy(e)) for e in slices], me)
    assert trimmed == full
    assert any(r.announce for r in full.values()) or me in ("n3", "n4")


def test_trimmed_nodes_parse_to_the_same_config_and_membership(world):
    nodes = world[0]
    trimmed = [views.trim_node(copy.deepcopy(n)) for n in nodes]
    assert parse_config(config_objects() + trimmed, namespace=NS).config == parse_config(
        config_objects() + nodes, namespace=NS).config
    for full, small in zip(nodes, trimmed):
        assert membership_address(small, 7946) == membership_address(full, 7946)
        assert _node_relevant(small) == _node_relevant(full)
        assert "images" not in small["status"] and "managedFields" not in small["metadata"]
        assert len(json.dumps(small)) < len(json.dumps(full)) / 3


def test_endpoint_slice_trim_keeps_only_service_label_conditions_and_node(world):
    sl = views.trim_endpoint_slice(world[2][0])
    assert sl["metadata"] == {"name": "a-1", "namespace": "shop", "resourceVersion": "5",
                              "labels": {"kubernetes.io/service-name": "a"}}
    assert sl["endpoints"] == [
        {"conditions": {"ready": True, "serving": True}, "nodeName": "n1", "addresses": ["198.51.100.20"]},
        {"conditions": {"ready": False, "serving": False}, "nodeName": "n2", "addresses": ["198.51.100.21"]}]
    again = views.trim_endpoint_slice(endpoint_slice("z", "z", [("n1", dict(READY))]))
    assert again["endpoints"][0]["conditions"] is sl["endpoints"][0]["conditions"]  # shared, not copied


def test_endpoint_slice_trim_survives_garbage():
    odd = {"metadata": {"name": "x", "namespace": "shop"},
           "endpoints": [None, "x", {"conditions": {"ready": ["odd"]}}, {"conditions": "bad", "nodeName": ""}]}
    out = views.trim_endpoint_slice(odd)
    assert out["endpoints"] == [{"conditions": {"ready": ["odd"]}}, {"conditions": {}}]
    assert views.trim_endpoint_slice({})["endpoints"] == []


def test_l2_status_trim_keeps_what_the_status_writer_compares():
    obj = {"apiVersion": "metallb.io/v1beta1", "kind": "ServiceL2Status",
           "metadata": {"name": "l2-abc", "namespace": NS, "resourceVersion": "9", "managedFields": MANAGED,
                        "generateName": "l2-", "uid": "u",
                        "labels": {"metallb.io/node": "n1", "metallb.io/service-name": "a",
                                   "metallb.io/service-namespace": "shop", "other": "x"}},
           "status": {"node": "n1", "serviceName": "a", "serviceNamespace": "shop", "interfaces": [{"name": "eth0"}]}}
    small = views.trim_l2_status(copy.deepcopy(obj))
    assert object_node(small) == object_node(obj) == "n1"
    assert object_service(small) == object_service(obj) == "shop/a"
    assert small["status"] == obj["status"]
    assert set(small["metadata"]) == {"name", "namespace", "resourceVersion", "labels"}
    assert "other" not in small["metadata"]["labels"]
    assert "kind" not in views.trim_l2_status({"metadata": {"name": "x"}})  # the informer may stamp it


def test_config_and_namespace_trims_drop_only_bookkeeping():
    pool = config_objects()[0]
    small = views.trim_config_object(copy.deepcopy(pool))
    assert small["spec"] == pool["spec"] and small["kind"] == pool["kind"]
    assert "managedFields" not in small["metadata"] and small["metadata"]["annotations"] == {}
    assert pool["metadata"]["managedFields"] == MANAGED  # the input is not changed
    ns = views.trim_namespace({"metadata": {"name": "shop", "labels": {"team": "a"}, "managedFields": MANAGED},
                               "spec": {"finalizers": ["kubernetes"]}})
    assert ns == {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"team": "a"}}}


# ------------------------------------------------------------------------------- CoreReads

class FakeRaw:
    def __init__(self, status: int, data: bytes) -> None:
        self.status, self.reason, self.data = status, "R%d" % status, data
        self.headers = {}


class FakeResponse:
    def __init__(self, status: int, data: bytes) -> None:
        self.status, self.reason = status, "R%d" % status
        self.response = FakeRaw(status, data)
        self.headers = {}
        self.data = None

    def read(self):
        self.data = self.response.data
        return self.data

    def getheaders(self):
        return {}


class FakeApiClient:
    """Records what ``CoreReads`` asks the ApiClient for; answers ``status`` with ``body``."""

    def __init__(self, status: int = 200, body: dict | None = None) -> None:
        self.status, self.body = status, body if body is not None else {"items": []}
        self.serialized: list[dict] = []
        self.calls: list[tuple] = []

    def param_serialize(self, **kwargs):
        self.serialized.append(kwargs)
        query = "&".join("%s=%s" % (k, str(v).lower() if isinstance(v, bool) else v)
                         for k, v in kwargs["query_params"])
        return kwargs["method"], kwargs["resource_path"] + ("?" + query if query else ""), kwargs["header_params"], \
            kwargs["body"], None

    def call_api(self, method, url, headers, body, post_params, _request_timeout=None):
        self.calls.append((method, url, body, headers.get("Content-Type"), _request_timeout))
        return FakeResponse(self.status, json.dumps(self.body).encode())


def test_core_reads_lists_and_watches_like_the_generated_api():
    api = FakeApiClient(body={"items": [{"metadata": {"name": "n1"}}]})
    reads = views.CoreReads(api)
    raw = reads.list_node(_preload_content=False)
    assert json.loads(raw.data)["items"][0]["metadata"]["name"] == "n1"
    reads.list_service_for_all_namespaces(watch=True, resource_version="12", allow_watch_bookmarks=True,
                                          timeout_seconds=300, _preload_content=False, _request_timeout=330)
    reads.list_namespaced_config_map("metallb system")
    assert reads.list_endpoint_slice_for_all_namespaces(label_selector="a=b") == {
        "items": [{"metadata": {"name": "n1"}}]}
    urls = [c[1] for c in api.calls]
    assert urls == ["/api/v1/nodes",
                    "/api/v1/services?watch=true&resourceVersion=12&allowWatchBookmarks=true&timeoutSeconds=300",
                    "/api/v1/namespaces/metallb%20system/configmaps",
                    "/apis/discovery.k8s.io/v1/endpointslices?labelSelector=a=b"]
    assert api.calls[1][4] == 330
    assert all(s["auth_settings"] == ["BearerToken"] for s in api.serialized)
    with pytest.raises(TypeError, match="pretty"):
        reads.list_node(pretty="true")


def test_core_reads_writes_events():
    api = FakeApiClient(body={})
    reads = views.CoreReads(api)
    reads.create_namespaced_event("shop", {"reason": "nodeAssigned"}, _preload_content=False)
    reads.patch_namespaced_event("web.1", "shop", {"count": 2}, _content_type="application/merge-patch+json",
                                 _preload_content=False)
    assert api.calls[0][:4] == ("POST", "/api/v1/namespaces/shop/events", {"reason": "nodeAssigned"},
                                "application/json")
    assert api.calls[1][:4] == ("PATCH", "/api/v1/namespaces/shop/events/web.1", {"count": 2},
                                "application/merge-patch+json")


def test_core_reads_raises_api_exception_on_errors():
    from kubernetes.client.exceptions import ApiException

    reads = views.CoreReads(FakeApiClient(status=403, body={"reason": "Forbidden"}))
    with pytest.raises(ApiException) as err:
        reads.list_node(_preload_content=False)
    assert err.value.status == 403


def test_watch_stream_does_not_look_for_a_model_class():
    """``Watch.stream`` picks a model from the function's return annotation; a string annotation
    would make it import every model class (the memory ``CoreReads`` exists to save)."""
    from kubernetes import watch

    reads = views.CoreReads(FakeApiClient())
    for fn in (reads.list_node, reads.list_service_for_all_namespaces, reads.list_namespace,
               reads.list_namespaced_config_map, reads.list_endpoint_slice_for_all_namespaces):
        assert watch.Watch().get_return_type(fn) == ""
        assert watch.Watch().get_watch_argument_name(fn) == "watch"


def test_trimmed_slices_keep_what_bgp_needs_endpoints_with_addresses():
    """MetalLB's BGP mode announces only for serving endpoints with addresses."""
    from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.announce import _has_endpoint

    with_addresses = endpoint_slice("a-1", "a", [("n1", dict(READY))])
    without = copy.deepcopy(with_addresses)
    without["endpoints"][0]["addresses"] = []
    assert _has_endpoint([views.trim_endpoint_slice(copy.deepcopy(with_addresses))], "n1")
    assert not _has_endpoint([views.trim_endpoint_slice(without)], "n1")
