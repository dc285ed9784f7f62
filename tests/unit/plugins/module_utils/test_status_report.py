# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""status_report: the facts of metal.lb.lb_info and ``metal-lb status`` from one snapshot."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine import status_report as sr

NS = "metallb-system"
POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "tiny", "namespace": NS},
        "spec": {"addresses": ["198.51.100.10-198.51.100.11"]}}


def service(name: str, ips: list[str], created: str, lb_class: str | None = None, pool: str | None = "tiny") -> dict:
    meta: dict = {"name": name, "namespace": "default", "creationTimestamp": created}
    if ips and pool:
        meta["annotations"] = {"metallb.io/ip-allocated-from-pool": pool}
    spec: dict = {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"],
                  "ports": [{"port": 80, "protocol": "TCP"}]}
    if lb_class:
        spec["loadBalancerClass"] = lb_class
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def state(result: str, summary: str = "") -> dict:
    return {"kind": "ConfigurationState", "metadata": {"name": "controller"},
            "status": {"result": result, "errorSummary": summary,
                       "conditions": [{"type": "poolReconcilerValid", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}


def test_states_reasons_and_usage_of_held_ips_only():
    objects = [POOL, service("a", ["198.51.100.10"], "2026-01-01T00:00:01Z"),
               service("b", [], "2026-01-01T00:00:02Z"), service("c", [], "2026-01-01T00:00:03Z"),
               service("x", ["203.0.113.5"], "2026-01-01T00:00:04Z", lb_class="other")]
    report = sr.build_report(objects, namespace=NS)
    services = report["services"]
    assert [services[k]["state"] for k in sorted(services)] == ["assigned", "pending", "pending", "ignored"]
    # b would get the last address: it is pending, not (yet) using it
    assert services["default/b"]["planned_ips"] == ["198.51.100.11"]
    assert services["default/b"]["reason"].startswith("not yet assigned by the controller")
    assert "no available IPs" in services["default/c"]["reason"]
    assert services["default/x"]["reason"] is None and services["default/x"]["planned_ips"] == []
    assert report["pools"]["tiny"] == {"capacity": {"ipv4": 2, "ipv6": 0}, "in_use": {"ipv4": 1, "ipv6": 0},
                                       "available": {"ipv4": 1, "ipv6": 0}}
    assert report["counts"] == {"services": 4, "assigned": 1, "pending": 2, "ignored": 1, "pools": 1}
    assert report["config_valid"] is True and report["config_validated_by"] == "engine"


def test_the_running_controllers_verdict_wins_over_the_engines():
    invalid = sr.build_report([POOL], namespace=NS, configuration_state=state("Invalid", "bad pool"))
    assert invalid["config_valid"] is False and invalid["config_validated_by"] == "controller"
    assert invalid["controller_state"] == {"result": "Invalid", "valid": False, "error_summary": "bad pool",
                                           "last_transition_time": "2026-01-01T00:00:00Z"}
    text = sr.format_report(invalid)
    assert "configuration: INVALID (reported by the controller since 2026-01-01T00:00:00Z)" in text
    assert "  controller: bad pool" in text
    assert "not caught up" in text  # the objects are valid now
    unreported = {"kind": "ConfigurationState", "metadata": {"name": "controller"}}
    assert sr.build_report([POOL], namespace=NS, configuration_state=unreported)["config_validated_by"] == "engine"


def test_an_invalid_configuration_is_every_pending_services_reason():
    broken = dict(POOL, spec={"addresses": ["198.51.100.11-198.51.100.10"]})
    report = sr.build_report([broken, service("b", [], "2026-01-01T00:00:02Z")], namespace=NS)
    assert report["config_valid"] is False
    assert report["services"]["default/b"]["reason"].startswith('the configuration is invalid: IPAddressPool "tiny"')
    assert "configuration: INVALID (checked by metal-lb; no controller has reported)" in sr.format_report(report)


def test_the_table_has_one_row_per_service_and_pool():
    report = sr.build_report([POOL, service("a", ["198.51.100.10"], "2026-01-01T00:00:01Z")], namespace=NS)
    lines = sr.format_report(report).splitlines()
    assert lines[0].split() == ["SERVICE", "STATE", "IPS", "POOL", "REASON"]
    assert lines[1].split() == ["default/a", "assigned", "198.51.100.10", "tiny"]
    assert [line.split() for line in lines if line.startswith("tiny")] == [["tiny", "1", "1", "2", "0", "0", "0"]]
