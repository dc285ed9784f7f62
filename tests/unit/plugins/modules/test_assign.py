# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.assign without a cluster: the pass it decides, and what a 409 does to it."""

from __future__ import annotations

import json

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.controller_pass import decide
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.writer import ServiceWriter, StaleDecision
from ansible_collections.metal.lb.plugins.modules import assign as assign_module

ApiException = pytest.importorskip("kubernetes.client.exceptions").ApiException

NS = "metallb-system"
POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
        "spec": {"addresses": ["198.51.100.10/32"]}}


def service(name: str, ips: list[str], created: str) -> dict:
    meta = {"name": name, "namespace": "default", "creationTimestamp": created, "resourceVersion": "1"}
    if ips:
        meta["annotations"] = {"metallb.io/ip-allocated-from-pool": "p"}
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta,
            "spec": {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"],
                     "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def test_a_pass_keeps_held_ips_and_reports_who_stays_pending_and_why():
    objects = [POOL, service("newer", [], "2026-01-01T00:00:02Z"), service("holder", ["198.51.100.10"],
                                                                           "2026-01-01T00:00:03Z")]
    decision = decide(objects, NS, "")
    assert decision["errors"] == [] and decision["changed"] == []
    assert decision["pending"] == [{"service": "default/newer",
                                    "reason": 'Failed to allocate IP for "default/newer": no available IPs'}]
    [(svc, events)] = decision["events"]
    assert svc["metadata"]["name"] == "newer" and events[0].reason == "AllocationFailed"


def test_an_invalid_configuration_decides_nothing():
    broken = dict(POOL, spec={"addresses": ["198.51.100.11-198.51.100.10"]})
    decision = decide([broken, service("a", [], "2026-01-01T00:00:02Z")], NS, "")
    assert len(decision["errors"]) == 1 and decision["changed"] == [] and decision["pending"] == []


class FakeCore:
    """Answers every status patch with 409, as the API does when the Service changed meanwhile."""

    def __init__(self) -> None:
        self.patches = 0
        self.reads = 0

    def patch_namespaced_service_status(self, *_args, **_kwargs):
        self.patches += 1
        raise ApiException(status=409, reason="Conflict")

    def read_namespaced_service(self, *_args, **_kwargs):  # pragma: no cover - must not be reached
        self.reads += 1
        raise AssertionError("the pass writer must not re-read and re-apply a stale decision")


def test_a_conflict_stops_the_pass_instead_of_re_applying_the_decision():
    core = FakeCore()
    writer = ServiceWriter(core, retries=1, reapply_on_conflict=False)
    with pytest.raises(StaleDecision) as stale:
        writer.write(service("web", [], "2026-01-01T00:00:01Z"), ["198.51.100.10"], "p")
    assert str(stale.value) == "default/web"
    assert core.patches == 1 and core.reads == 0


def test_the_diff_shows_ips_and_pool_before_and_after():
    entry = {"service": "default/web", "old_ips": [], "new_ips": ["198.51.100.10"], "old_pool": None,
             "new_pool": "p", "events": []}
    assert assign_module.diff_of([entry]) == {"before": {"default/web": {"ips": [], "pool": None}},
                                              "after": {"default/web": {"ips": ["198.51.100.10"], "pool": "p"}}}
    assert json.dumps(assign_module.diff_of([]))  # serialisable when nothing changes
