# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.config without a cluster: options in, desired objects, validation and service changes out."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.module_utils.engine.desired_config import desired_objects, evaluate
from ansible_collections.metal.lb.plugins.modules import config as config_module

NS = "metallb-system"


def params(**given) -> dict:
    out = {"resources": [], "pool_name": None, "pool_addresses": None, "pool_interfaces": None, "pools": [],
           "l2_advertisements": [], "l2_all_pools": False, "state": "present", "prune": True, "lb_class": "",
           "service_cidrs": [], "gateways": [], "allow_node_ip_pools": False, "namespace": NS}
    out.update(given)
    return out


def holder(ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:01Z",
                         "annotations": {"metallb.io/ip-allocated-from-pool": "old"}},
            "spec": {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"],
                     "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip}]}}}


def test_three_survey_answers_make_a_pool_and_the_advertisement_that_announces_it():
    objects = desired_objects(params(pool_name="lan", pool_addresses=["198.51.100.0/28"],
                                     pool_interfaces=["eth0\neth1"]))
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [("IPAddressPool", "lan"),
                                                                     ("L2Advertisement", "lan")]
    assert objects[1]["spec"] == {"ipAddressPools": ["lan"], "interfaces": ["eth0", "eth1"]}


def test_replacing_the_pool_moves_the_service_and_nothing_is_pruned_that_is_unlabelled():
    current = desired_objects(params(pools=[{"name": "old", "addresses": ["198.51.100.0/28"]}]))
    desired = desired_objects(params(pools=[{"name": "new", "addresses": ["203.0.113.0/28"]}]))
    outcome = evaluate(current + [holder("198.51.100.3")], desired, params())
    assert outcome["errors"] == []
    assert [(a.verb, a.name) for a in outcome["actions"]] == [("create", "new"), ("delete", "old")]
    [moved] = outcome["service_changes"]["move"]
    assert moved["old_ips"] == ["198.51.100.3"] and moved["new_ips"] == ["203.0.113.0"]


def test_an_overlap_with_the_service_cidrs_is_an_error_of_the_whole_configuration():
    desired = desired_objects(params(pools=[{"name": "p", "addresses": ["198.51.100.0/28"]}]))
    outcome = evaluate([], desired, params(service_cidrs=["198.51.100.0/24"]))
    assert len(outcome["errors"]) == 1 and 'IPAddressPool "p"' in outcome["errors"][0]
    assert outcome["plan"] is None


def test_pool_addresses_without_a_pool_name_is_refused_by_the_argument_spec(capsys):
    with patch_module_args({"pool_addresses": ["198.51.100.0/28"]}), pytest.raises(SystemExit):
        config_module.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True and "pool_name" in result["msg"]
