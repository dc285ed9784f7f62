# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input to the runtime surfaces: one line naming the object and the field, never a traceback.

Malformed kubeconfig files (the CLI's ``status`` and ``controller``, the modules), names that are
not strings in ``metal.lb.config``, NUL and other control characters in addresses and names, the
and usage errors of the CLI (exit 2). The filters' share is in tests/unit/plugins/filter.
"""

from __future__ import annotations

import json
import re

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses, desired_config
from ansible_collections.metal.lb.plugins.module_utils.shells import cli
from ansible_collections.metal.lb.plugins.module_utils.engine.config import object_meta
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import KubeConfigError, build_api_client
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.lease import LeaseElector
from ansible_collections.metal.lb.plugins.module_utils.engine.addresses import canonical_ip
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import printable
from ansible_collections.metal.lb.plugins.module_utils.engine.planner import plan
from ansible_collections.metal.lb.plugins.modules import announce as announce_module
from ansible_collections.metal.lb.plugins.modules import assign as assign_module
from ansible_collections.metal.lb.plugins.modules import config as config_module
from ansible_collections.metal.lb.plugins.modules import lb_info as lb_info_module

NS = "metallb-system"
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

KUBECONFIGS = {
    "invalid-yaml": "a: [\n",
    "a-list": "- 1\n- 2\n",
    "a-string": "hello\n",
    "clusters-an-int": "apiVersion: v1\nclusters: 5\n",
    "context-an-int": "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, context: 7}]\n"
                      "clusters: []\nusers: []\n",
    "server-an-int": "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                     "clusters: [{name: c, cluster: {server: 5}}]\nusers: [{name: u, user: [1]}]\n",
    "bad-base64": "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                  "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1', "
                  "certificate-authority-data: '!!notbase64'}}]\nusers: [{name: u, user: {token: t}}]\n",
    "server-not-a-url": "apiVersion: v1\ncurrent-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                        "clusters: [{name: c, cluster: {server: 'garbage url'}}]\n"
                        "users: [{name: u, user: {token: t}}]\n",
    "not-utf8": b"\x00\xff\xfe garbage",
}


@pytest.fixture(params=sorted(KUBECONFIGS) + ["a-directory"])
def bad_kubeconfig(request, tmp_path) -> str:
    path = tmp_path / request.param
    if request.param == "a-directory":
        path.mkdir()
        return str(path)
    content = KUBECONFIGS[request.param]
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def one_line_naming(text: str, *names: str) -> None:
    assert "Traceback" not in text
    assert text.strip() and "\n" not in text.strip(), text
    assert not CONTROL.search(text.strip()), text
    for name in names:
        assert name in text, (name, text)


def test_a_malformed_kubeconfig_is_one_error_naming_the_file(bad_kubeconfig):
    with pytest.raises(KubeConfigError) as caught:
        build_api_client(kubeconfig=bad_kubeconfig)
    one_line_naming(str(caught.value), bad_kubeconfig)


@pytest.mark.parametrize("command", ["status", "controller", "speaker"])
def test_cli_daemons_and_status_refuse_a_malformed_kubeconfig_in_one_line(command, bad_kubeconfig, capsys):
    extra = ["--node", "n1"] if command == "speaker" else []
    assert cli.main([command, "--kubeconfig", bad_kubeconfig, *extra]) == 2
    captured = capsys.readouterr()
    one_line_naming(captured.err, "metal-lb %s: " % command, bad_kubeconfig)


@pytest.mark.parametrize("module, args", [
    (config_module, {"pools": [{"name": "p", "addresses": ["198.51.100.0/28"]}]}),
    (assign_module, {}),
    (lb_info_module, {}),
    (announce_module, {"api": True, "node": "n1", "status_file": "/nonexistent/metal-lb-status.json"}),
], ids=["config", "assign", "lb_info", "announce"])
def test_modules_fail_with_one_message_naming_a_malformed_kubeconfig(module, args, bad_kubeconfig, capsys):
    with patch_module_args(dict(args, kubeconfig=bad_kubeconfig)), pytest.raises(SystemExit):
        module.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    one_line_naming(result["msg"], bad_kubeconfig)
    assert "exception" not in result


def test_a_controller_stopped_before_its_lease_elector_started_stops_quietly():
    """The controller starts the elector once the API answered; a SIGTERM before that must not crash."""
    elector = LeaseElector(None, NS, "metallb-controller", "me", retry_period=0.1)
    elector.stop(release=True)
    assert not elector.is_leader.is_set()


# ------------------------------------------------------------------ metal.lb.config: names


@pytest.mark.parametrize("name", [["x"], {"a": 1}, 5, 1.5, True])
def test_config_names_that_are_not_strings_are_one_problem_each(name):
    resources = [{"kind": "IPAddressPool", "metadata": {"name": name}, "spec": {"addresses": ["198.51.100.0/28"]}},
                 {"kind": "L2Advertisement", "metadata": {"name": name}}]
    with pytest.raises(desired_config.DesiredConfigError) as caught:
        desired_config.normalize(resources, NS)
    assert caught.value.problems == [
        "IPAddressPool resources[0]: metadata.name: must be a string, got %s" % object_meta.type_name(name),
        "L2Advertisement resources[1]: metadata.name: must be a string, got %s" % object_meta.type_name(name)]


def test_config_module_reports_an_unhashable_name_without_a_traceback(capsys):
    resources = [{"kind": "IPAddressPool", "metadata": {"name": ["x"]}, "spec": {"addresses": ["198.51.100.0/28"]}}]
    with patch_module_args({"resources": resources}), pytest.raises(SystemExit):
        config_module.main()
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] is True
    one_line_naming(result["msg"], "IPAddressPool resources[0]: metadata.name: must be a string, got a list")


# ------------------------------------------------------------------ control characters

HOSTILE_TEXT = ["198.51.100.1\x00", "198.51.100.0/24\x00", "198.51.100.1\x00-198.51.100.5",
                "198.51.100.1-198.51.100.5\x07", "2001:db8::1\x00", "198.51.100.0/2\x004",
                "198.51.100.1\n", "\x00", "198.51.100.1\x1b[31m", "198.51.100.1\u2028"]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_control_characters_are_never_an_address(text):
    assert addresses.parse_ip(text) is None
    assert addresses.canonical_ip(text) is None
    assert canonical_ip(text) is None
    with pytest.raises(ValueError):
        addresses.parse_entry(text)


@pytest.mark.parametrize("text", HOSTILE_TEXT)
def test_a_pool_entry_with_control_characters_is_one_escaped_line_naming_pool_and_field(text):
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
            "spec": {"addresses": ["203.0.113.0/28", text]}}
    result = parse_config([pool], namespace=NS)
    assert len(result.errors) == 1
    one_line_naming(str(result.errors[0]), 'IPAddressPool "p"', "spec.addresses[1]", printable(text))


def test_a_service_with_control_characters_in_its_status_ip_is_planned_without_crashing():
    objects = [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
         "spec": {"addresses": ["198.51.100.0/28"]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "l2", "namespace": NS}},
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "clusterIP": "203.0.113.200",
                  "loadBalancerIP": "198.51.100.3\x00"},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.2\x00"}]}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ok", "namespace": "default"},
         "spec": {"type": "LoadBalancer", "ports": [{"port": 80}], "clusterIP": "203.0.113.201"},
         "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.1"}]}}},
    ]
    result = plan(objects, namespace=NS)
    assert result["services"]["default/ok"]["ips"] == ["198.51.100.1"]  # nothing that worked is lost
    web = result["services"]["default/web"]
    for event in web["events"]:
        assert not CONTROL.search(json.dumps(event, ensure_ascii=False).replace("\\u0000", ""))


def test_the_cli_never_prints_a_control_character_from_its_input(tmp_path, capsys):
    manifest = tmp_path / "pool.json"
    manifest.write_text(json.dumps({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                                    "metadata": {"name": "p\x1b[2J", "namespace": NS},
                                    "spec": {"addresses": ["198.51.100.0/24\x00\n203.0.113.0/24"]}}))
    assert cli.main(["validate", "-f", str(manifest)]) == 1
    out = capsys.readouterr().out
    one_line_naming(out, 'IPAddressPool "p\\x1b[2J"', "spec.addresses[0]", "\\x00\\n")


# ------------------------------------------------------------------ CLI usage


@pytest.mark.parametrize("argv, message", [
    (["--service-cidr", "garbage"], 'argument --service-cidr: invalid CIDR "garbage"'),
    (["--service-cidr", "198.51.100.1"], 'argument --service-cidr: invalid CIDR "198.51.100.1"'),
    (["--gateway", "garbage"], 'argument --gateway: invalid gateway "garbage": not an IP address'),
    (["--gateway", "198.51.100.1/24"], 'argument --gateway: invalid gateway "198.51.100.1/24"'),
    (["--gateway", "198.51.100.1\x00"], 'argument --gateway: invalid gateway "198.51.100.1\\x00"'),
])
@pytest.mark.parametrize("command", ["plan", "validate"])
def test_bad_cli_options_are_usage_errors_exit_2_in_one_line(command, argv, message, tmp_path, capsys):
    manifest = tmp_path / "pool.yaml"
    manifest.write_text("apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\n"
                        "metadata: {name: p, namespace: metallb-system}\nspec: {addresses: [198.51.100.0/24]}\n")
    with pytest.raises(SystemExit) as caught:
        cli.main([command, "-f", str(manifest), *argv])
    assert caught.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    one_line_naming(captured.err, "metal-lb %s: " % command, message)


def test_a_gateway_that_is_not_an_ip_is_refused_by_the_engine_not_dropped():
    """What the modules (config, plan) pass through: the check is not silently skipped."""
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
            "spec": {"addresses": ["198.51.100.0/24"]}}
    result = parse_config([pool], namespace=NS, gateways=["garbage"], service_cidrs=["nonsense"])
    assert sorted(str(e) for e in result.errors) == [
        'option "gateways": invalid gateway "garbage": not an IP address',
        'option "service_cidrs": invalid CIDR "nonsense"']
    assert result.config is None
