"""The informer's Service transform keeps every fact the engine decides from, and drops the rest."""

from __future__ import annotations

import json

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.service_view import LAST_APPLIED, trim_service
from ansible_collections.metal.lb.plugins.module_utils.engine.service import ServiceFacts

FACTS = [slot for slot in ServiceFacts.__slots__ if slot not in ("obj", "spec")]


def _service(**spec) -> dict:
    base = {
        "type": "LoadBalancer", "clusterIP": "2001:db8::10", "clusterIPs": ["2001:db8::10", "198.51.100.10"],
        "ipFamilies": ["IPv6", "IPv4"], "ipFamilyPolicy": "PreferDualStack", "loadBalancerIP": "",
        "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 31000},
                  {"port": 53, "protocol": "UDP"}],
        "selector": {"app": "web", "tier": "front"}, "sessionAffinity": "None",
        "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000, "loadBalancerClass": "metal",
    }
    base.update(spec)
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": "web", "namespace": "shop", "uid": "u-1", "resourceVersion": "42",
            "creationTimestamp": "2026-12-01T00:00:00Z", "labels": {"team": "a"},
            "annotations": {"metallb.io/allow-shared-ip": "k", "metallb.universe.tf/address-pool": "p",
                            "metallb.io/ip-allocated-from-pool": "p",
                            LAST_APPLIED: json.dumps({"spec": base})},
            "managedFields": [{"manager": "kubectl", "fieldsV1": {"f:spec": {"f:ports": {}}}}],
        },
        "spec": base,
        "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.7", "ipMode": "VIP"}]},
                   "conditions": [{"type": "x"}]},
    }


@pytest.mark.parametrize("spec", [{}, {"externalTrafficPolicy": "Cluster"}, {"loadBalancerIP": "198.51.100.9"},
                                  {"ports": "garbage"}, {"ports": [None, {"port": 1}]}])
def test_the_trimmed_service_yields_the_same_facts(spec):
    full = _service(**spec)
    trimmed = trim_service(full)
    before, after = ServiceFacts(full), ServiceFacts(trimmed)
    for slot in FACTS:
        expected = getattr(before, slot)
        if slot == "annotations":
            expected = {k: v for k, v in expected.items() if k != LAST_APPLIED}
        assert getattr(after, slot) == expected, slot
    assert after.desired_ips() == before.desired_ips()
    assert trimmed["metadata"]["resourceVersion"] == "42"
    assert trimmed["metadata"]["creationTimestamp"] == "2026-12-01T00:00:00Z"


def test_bulky_fields_are_dropped():
    trimmed = trim_service(_service())
    assert "managedFields" not in trimmed["metadata"]
    assert LAST_APPLIED not in trimmed["metadata"]["annotations"]
    assert "conditions" not in trimmed["status"]
    assert "healthCheckNodePort" not in trimmed["spec"]


def test_a_service_without_status_or_annotations():
    trimmed = trim_service({"metadata": {"name": "a", "namespace": "b"}, "spec": {"type": "ClusterIP"}})
    assert trimmed == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "b"},
                       "spec": {"type": "ClusterIP"}}
