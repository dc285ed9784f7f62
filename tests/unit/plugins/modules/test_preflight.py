# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.preflight without a cluster: what was read in, problems, warnings and the result out."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.modules import preflight as preflight_module

NS = "metallb-system"
VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.2"}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "198.51.100.5"}]}}
SVCLB = {"metadata": {"name": "svclb-web-0a1b2c3d", "namespace": "kube-system"}, "spec": {}}


def params(**given) -> dict:
    out = {"checks": ["load_balancers", "version", "pools"], "allow_other_load_balancers": False, "pools": [],
           "resources": [], "service_cidrs": [], "gateways": [], "allow_node_ip_pools": False, "namespace": NS}
    out.update(given)
    return out


def facts(**given) -> dict:
    out = {"version": VERSION, "daemonsets": [], "deployments": [], "pods": [], "nodes": [NODE], "namespaces": [],
           "webhooks": [], "crds": [], "cilium_pools": [],
           "service_cidr_objects": [{"spec": {"cidrs": ["203.0.113.0/24"]}}], "kubeadm_config": None}
    out.update(given)
    return out


def test_a_clean_cluster_and_good_pools_pass():
    result, problems, warnings = preflight_module.evaluate(
        params(pools=[{"name": "lan", "addresses": ["198.51.100.16/28"]}]), facts(), [NODE])
    assert problems == [] and warnings == []
    assert result["version"] == {"git_version": "v1.31.2", "server": "1.31", "supported": True, "minimum": "1.29"}
    assert result["service_cidrs"] == ["203.0.113.0/24"] and result["service_cidrs_source"] == "ServiceCIDR objects"
    assert result["pools_source"] == "options" and result["pool_errors"] == []


def test_another_load_balancer_fails_unless_allowed():
    result, problems, warnings = preflight_module.evaluate(params(checks=["load_balancers"]),
                                                           facts(daemonsets=[SVCLB]), [])
    assert result["load_balancers"] and len(problems) == 1 and warnings == []
    assert "K3s ServiceLB" in problems[0] and "--disable=servicelb" in problems[0]
    result, problems, warnings = preflight_module.evaluate(
        params(checks=["load_balancers"], allow_other_load_balancers=True), facts(daemonsets=[SVCLB]), [])
    assert problems == [] and len(warnings) == 1 and "continuing" in warnings[0]
    assert result["load_balancers"][0]["implementation"] == "K3s ServiceLB"


def test_old_api_server_fails():
    result, problems, warnings = preflight_module.evaluate(
        params(checks=["version"]), facts(version={"major": "1", "minor": "27", "gitVersion": "v1.27.3"}), [])
    assert result["version"]["supported"] is False and "v1.27.3" in problems[0] and warnings == []


def test_pools_on_a_node_or_the_service_cidr_fail_through_the_config_engine():
    pools = [{"name": "nodes", "addresses": ["198.51.100.0/28"]}, {"name": "svc", "addresses": ["203.0.113.8/29"]}]
    result, problems, warnings = preflight_module.evaluate(params(checks=["pools"], pools=pools), facts(), [NODE])
    assert len(result["pool_errors"]) == 2 and len(problems) == 1 and warnings == []
    assert "node node1 InternalIP 198.51.100.5" in result["pool_errors"][0]
    assert "service CIDR 203.0.113.0/24" in result["pool_errors"][1]


def test_cluster_pools_are_checked_when_none_are_given_and_unknown_cidrs_are_a_note():
    cluster = [NODE, {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                      "metadata": {"name": "live", "namespace": NS}, "spec": {"addresses": ["203.0.113.0/28"]}}]
    result, problems, warnings = preflight_module.evaluate(params(checks=["pools"]),
                                                           facts(service_cidr_objects=[]), cluster)
    assert problems == [] and warnings == []
    assert result["pools_source"] == "cluster" and result["service_cidrs_source"] == "unknown"
    assert any("pass service_cidrs" in note for note in result["notes"])


def test_invalid_given_pools_name_the_object():
    result, problems, warnings = preflight_module.evaluate(
        params(checks=["pools"], pools=[{"name": "bad", "addresses": ["198.51.100.20-198.51.100.10"]}]),
        facts(), [NODE])
    assert problems and not warnings and 'IPAddressPool "bad"' in result["pool_errors"][0]
