# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.plan: the wrapper's contract (arguments in, planner result out, failure on errors).

Most tests replace the planner with a recorder so that they check the module, not the engine;
the last ones run the real planner end to end.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.modules import plan as plan_module

POOL = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "IPAddressPool",
    "metadata": {"name": "production", "namespace": "metallb-system"},
    "spec": {"addresses": ["198.51.100.10-198.51.100.20"]},
}
L2 = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "L2Advertisement",
    "metadata": {"name": "l2", "namespace": "metallb-system"},
}
SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "default", "uid": "5f0c1d2e-0000-4000-8000-000000000001"},
    "spec": {
        "type": "LoadBalancer",
        "clusterIP": "203.0.113.200",
        "clusterIPs": ["203.0.113.200"],
        "ipFamilies": ["IPv4"],
        "ports": [{"port": 80, "protocol": "TCP"}],
    },
}


def run(args, capsys):
    """Run the module's main() with these arguments; (exit code, result)."""
    with patch_module_args(args), pytest.raises(SystemExit) as exited:
        plan_module.main()
    return exited.value.code, json.loads(capsys.readouterr().out)


class RecordingPlanner:
    """Stands in for planner.plan: remembers the call and returns a canned result."""

    def __init__(self, errors=(), warnings=()):
        self.calls = []
        self.result = {
            "services": {"default/web": {"ips": ["198.51.100.10"], "pool": "production", "state": "assigned"}},
            "pools": {"production": {"capacity": {"ipv4": 11, "ipv6": 0}}},
            "errors": list(errors),
            "warnings": list(warnings),
        }

    def __call__(self, objects, **kwargs):
        self.calls.append((objects, kwargs))
        return self.result


@pytest.fixture
def recorder(monkeypatch):
    def install(**kwargs):
        planner = RecordingPlanner(**kwargs)
        monkeypatch.setattr(plan_module.planner, "plan", planner)
        return planner

    return install


def test_objects_and_options_reach_the_planner_and_its_result_comes_back(recorder, capsys):
    planner = recorder()
    code, result = run(
        {
            "objects": [POOL, SERVICE],
            "lb_class": "example.com/lb",
            "namespace": "lb-system",
            "service_cidrs": ["203.0.113.0/24"],
            "gateways": ["198.51.100.1"],
            "allow_node_ip_pools": True,
        },
        capsys,
    )
    assert code == 0
    assert planner.calls == [
        (
            [POOL, SERVICE],
            {
                "lb_class": "example.com/lb",
                "namespace": "lb-system",
                "service_cidrs": ["203.0.113.0/24"],
                "gateways": ["198.51.100.1"],
                "allow_node_ip_pools": True,
            },
        )
    ]
    assert result["changed"] is False
    assert result["services"] == planner.result["services"]
    assert result["pools"] == planner.result["pools"]
    assert result["errors"] == []
    assert result["config_warnings"] == []


def test_defaults_are_metallbs(recorder, capsys):
    planner = recorder()
    run({"objects": [POOL]}, capsys)
    (_objects, kwargs), = planner.calls
    assert kwargs["lb_class"] == ""
    assert kwargs["namespace"] == "metallb-system"
    assert kwargs["allow_node_ip_pools"] is False


def test_configuration_errors_fail_the_task_and_are_still_returned(recorder, capsys):
    errors = [
        "IPAddressPool metallb-system/a: spec.addresses[0]: bad",
        "BGPPeer metallb-system/p: spec.myASN: bad",
    ]
    recorder(errors=errors)
    code, result = run({"objects": [POOL]}, capsys)
    assert code == 1
    assert result["failed"] is True
    assert result["errors"] == errors
    assert result["msg"].startswith("Invalid configuration (2 errors): ")
    assert all(error in result["msg"] for error in errors)


def test_fail_on_invalid_false_returns_the_errors_without_failing(recorder, capsys):
    recorder(errors=["IPAddressPool metallb-system/a: spec.addresses[0]: bad"])
    code, result = run({"objects": [POOL], "fail_on_invalid": False}, capsys)
    assert code == 0
    assert "failed" not in result
    assert result["errors"] == ["IPAddressPool metallb-system/a: spec.addresses[0]: bad"]


def test_planner_warnings_are_returned_and_shown(recorder, capsys, monkeypatch):
    # Where a warning ends up depends on whether controller code was imported in this process (it
    # is displayed directly then), so record what the module hands to warn().
    shown = []
    monkeypatch.setattr(plan_module.AnsibleModule, "warn", lambda self, warning, **kw: shown.append(warning))
    warning = "IPAddressPool metallb-system/a: no L2Advertisement or BGPAdvertisement selects it"
    recorder(warnings=[warning])
    code, result = run({"objects": [POOL]}, capsys)
    assert code == 0
    assert result["config_warnings"] == [warning]
    assert shown == [warning]


def test_check_mode_gives_the_same_result(recorder, capsys):
    recorder()
    normal_code, normal = run({"objects": [POOL]}, capsys)
    checked_code, checked = run({"objects": [POOL], "_ansible_check_mode": True}, capsys)
    assert normal_code == checked_code == 0
    for key in ("changed", "services", "pools", "errors", "config_warnings"):
        assert checked[key] == normal[key]


def test_files_and_directories_are_read_after_the_given_objects(recorder, capsys, tmp_path):
    planner = recorder()
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "b-service.json").write_text(json.dumps(SERVICE))
    (manifests / "a-config.yaml").write_text(
        "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: production\n"
        "  namespace: metallb-system\nspec:\n  addresses:\n  - 198.51.100.10-198.51.100.20\n"
        "---\napiVersion: metallb.io/v1beta1\nkind: L2Advertisement\nmetadata:\n  name: l2\n"
        "  namespace: metallb-system\n"
    )
    (manifests / "README.md").write_text("not a manifest")
    single = tmp_path / "extra.yml"
    single.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n")

    code, result = run({"objects": [SERVICE], "files": [str(manifests), str(single)]}, capsys)

    assert code == 0, result
    (objects, _kwargs), = planner.calls
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "web"),  # objects first
        ("IPAddressPool", "production"),  # then the directory, in name order
        ("L2Advertisement", "l2"),
        ("Service", "web"),
        ("Namespace", "default"),  # then the single file
    ]


def test_a_missing_file_fails_naming_it(recorder, capsys, tmp_path):
    planner = recorder()
    missing = tmp_path / "nope.yaml"
    code, result = run({"files": [str(missing)]}, capsys)
    assert code == 1
    assert str(missing) in result["msg"]
    assert result["errors"] == [str(missing) + ": no such file or directory"]
    assert planner.calls == []


def test_a_malformed_manifest_fails_naming_the_file(recorder, capsys, tmp_path):
    planner = recorder()
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: IPAddressPool\nmetadata: [unclosed\n")
    code, result = run({"files": [str(broken)]}, capsys)
    assert code == 1
    assert result["msg"].startswith("Cannot read manifests: " + str(broken))
    assert planner.calls == []


# -- the real planner ------------------------------------------------------------------------


def test_a_load_balancer_service_gets_an_address_from_the_pool(capsys):
    code, result = run({"objects": [POOL, L2, SERVICE]}, capsys)
    assert code == 0
    assert result["errors"] == []
    decision = result["services"]["default/web"]
    assert decision["pool"] == "production"
    assert len(decision["ips"]) == 1
    last_octet = int(decision["ips"][0].rsplit(".", 1)[1])
    assert decision["ips"][0].startswith("198.51.100.") and 10 <= last_octet <= 20
    assert result["pools"]["production"]["capacity"]["ipv4"] == 11
    assert result["pools"]["production"]["in_use"]["ipv4"] == 1


def test_an_invalid_pool_fails_with_the_engines_message(capsys):
    broken = dict(POOL, spec={"addresses": ["198.51.100.20-198.51.100.10"]})
    code, result = run({"objects": [broken, L2]}, capsys)
    assert code == 1
    assert len(result["errors"]) == 1
    assert "production" in result["errors"][0]
    assert "198.51.100.20-198.51.100.10" in result["errors"][0]
    assert result["errors"][0] in result["msg"]


def test_a_pool_overlapping_a_service_cidr_is_an_error_only_when_told_the_cidr(capsys):
    code, result = run({"objects": [POOL, L2]}, capsys)
    assert code == 0, result
    code, result = run({"objects": [POOL, L2], "service_cidrs": ["198.51.100.0/28"]}, capsys)
    assert code == 1
    assert "198.51.100.0/28" in result["errors"][0]


def test_services_of_another_load_balancer_class_are_left_alone(capsys):
    other = dict(SERVICE, spec=dict(SERVICE["spec"], loadBalancerClass="example.com/other"))
    code, result = run({"objects": [POOL, L2, other]}, capsys)
    assert code == 0
    assert result["services"].get("default/web", {}).get("ips", []) == []
    code, result = run({"objects": [POOL, L2, other], "lb_class": "example.com/other"}, capsys)
    assert code == 0
    assert len(result["services"]["default/web"]["ips"]) == 1
