# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A BGP password planted in a BGPPeer (or its Secret) appears in no output.

Outputs without a cluster: the objects ``metal.lb.config`` writes (its ``last-applied``
annotation), its diffs and plan, the planner, the parsed configuration's repr and errors, the
CLI's ``plan``/``validate``, and the ``metal.lb.plan`` module's whole result (its logged
invocation included). The cluster-side outputs (config module against an API, -vvv, the
controller's log, status and events) are in tests/integration/test_secrets.py.
"""

from __future__ import annotations

import base64
import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.module_utils.engine import desired_config
from ansible_collections.metal.lb.plugins.module_utils.shells import cli
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.engine.config.secrets import MASK, bgp_passwords, masked_spec
from ansible_collections.metal.lb.plugins.module_utils.engine.planner import plan
from ansible_collections.metal.lb.plugins.modules import config as config_module
from ansible_collections.metal.lb.plugins.modules import plan as plan_module

NS = "metallb-system"
PLANTED = "planted-Bgp-Secret-7f3a9c"
IN_SECRET = "planted-In-Secret-41d2e0"


def peer(name: str = "router", **spec) -> dict:
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": name, "namespace": NS},
            "spec": dict({"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
                          "password": PLANTED}, **spec)}


def secret_peer_objects() -> list[dict]:
    return [
        {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
         "metadata": {"name": "bgp-auth", "namespace": NS},
         "data": {"password": base64.b64encode(IN_SECRET.encode()).decode()}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "other", "namespace": NS},
         "spec": {"myASN": 64500, "peerASN": 64502, "peerAddress": "198.51.100.2",
                  "passwordSecret": {"name": "bgp-auth", "namespace": NS}}},
    ]


def config_objects() -> list[dict]:
    return [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
         "spec": {"addresses": ["203.0.113.0/28"]}},
        peer(),
        *secret_peer_objects(),
        {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement", "metadata": {"name": "b", "namespace": NS},
         "spec": {"ipAddressPools": ["p"]}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "ports": [{"port": 80}]}},
    ]


def legacy_configmap() -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": NS},
            "data": {"config": "peers:\n- peer-address: 198.51.100.1\n  peer-asn: 64501\n  my-asn: 64500\n"
                               "  password: %s\n" % PLANTED}}


def assert_hidden(text: str) -> None:
    assert PLANTED not in text
    assert IN_SECRET not in text
    assert base64.b64encode(IN_SECRET.encode()).decode() not in text


def test_every_password_is_found():
    assert bgp_passwords(config_objects()) == {
        PLANTED, IN_SECRET, base64.b64encode(IN_SECRET.encode()).decode()}
    assert bgp_passwords([{"kind": "Secret", "stringData": {"password": "x"}}, "garbage", None]) == {"x"}
    assert bgp_passwords([legacy_configmap(), {"kind": "ConfigMap", "data": {"config": "[unclosed"}}]) == {PLANTED}


def test_the_last_applied_annotation_never_holds_the_password():
    [written] = desired_config.normalize([peer()], NS)
    assert written["spec"]["password"] == PLANTED  # what MetalLB reads: the object itself is unchanged
    annotation = written["metadata"]["annotations"][desired_config.LAST_APPLIED]
    assert_hidden(annotation)
    assert json.loads(annotation)["password"] == MASK


def test_a_removed_or_changed_password_is_still_written():
    [old] = desired_config.normalize([peer()], NS)
    [changed] = desired_config.normalize([peer(password="another-one")], NS)
    [removed] = desired_config.normalize([peer(password=None)], NS)
    assert desired_config.needs_write(old, changed)
    assert desired_config.needs_write(old, removed)
    assert not desired_config.needs_write(old, desired_config.normalize([peer()], NS)[0])


def test_diffs_show_the_password_masked():
    [old] = desired_config.normalize([peer()], NS)
    [new] = desired_config.normalize([peer(password="another-" + PLANTED, peerPort=1179)], NS)
    actions = [desired_config.Action(desired_config.UPDATE, old, new),
               desired_config.Action(desired_config.CREATE, None, new),
               desired_config.Action(desired_config.DELETE, old, None)]
    diff = desired_config.diff_entries(actions)
    assert_hidden(json.dumps(diff))
    assert diff[0]["after"]["spec"]["password"] == MASK and diff[0]["after"]["spec"]["peerPort"] == 1179
    assert masked_spec("IPAddressPool", {"password": "x"}) == {"password": "x"}  # only BGPPeer has one


def test_config_evaluation_and_the_planner_never_show_a_password():
    desired = desired_config.normalize([peer()], NS)
    outcome = config_module.evaluate(config_objects(), desired, {
        "state": "present", "prune": True, "namespace": NS, "service_cidrs": [], "gateways": [],
        "allow_node_ip_pools": False, "lb_class": ""})
    assert outcome["errors"] == []
    assert_hidden(json.dumps({k: v for k, v in outcome.items() if k != "actions"}))
    assert_hidden(json.dumps(plan(config_objects(), namespace=NS)))


def test_the_parsed_configuration_and_its_errors_never_show_a_password():
    result = parse_config(config_objects(), namespace=NS)
    assert result.errors == []
    assert {p.password for p in result.config.peers} == {PLANTED, ""}  # kept for whoever speaks BGP
    assert_hidden(repr(result.config))
    bad = [peer(passwordSecret={"name": "bgp-auth"}), peer("twice", myASN="x")]
    errors = parse_config(bad, namespace=NS).errors
    assert len(errors) == 2
    assert_hidden(" ".join(str(e) for e in errors))


@pytest.mark.parametrize("command", ["plan", "validate"])
def test_the_cli_never_prints_a_password(command, tmp_path, capsys):
    manifest = tmp_path / "config.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": config_objects()}))
    assert cli.main([command, "-f", str(manifest)]) == 0
    captured = capsys.readouterr()
    assert_hidden(captured.out + captured.err)


def test_the_plan_module_masks_the_password_everywhere_in_its_result(capsys):
    with patch_module_args({"objects": config_objects() + [legacy_configmap()]}), pytest.raises(SystemExit):
        plan_module.main()
    raw = capsys.readouterr().out
    result = json.loads(raw)
    assert not result.get("failed"), result.get("msg")
    assert result["invocation"]["module_args"]["objects"]  # the logged invocation is there, masked
    assert_hidden(raw)
