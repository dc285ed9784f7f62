# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Legacy ConfigMap → CRs (MetalLB's configmaptocrs), through ``metal-lb convert`` and the parser."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.metal.lb.plugins.module_utils.shells import cli
from ansible_collections.metal.lb.plugins.module_utils.engine.config.legacy import (
    LegacyConfigError,
    convert_configmap,
    k8s_name,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

LEGACY = """\
peers:
- my-asn: 64496
  peer-asn: 64497
  peer-address: 203.0.113.1
  node-selectors:
  - match-labels:
      rack: "1"
    match-expressions:
    - {key: zone, operator: In, values: [a, b]}
- my-asn: 64496
  peer-asn: 64498
  peer-address: 203.0.113.2
  hold-time: 30s
  keepalive-time: 10s
bgp-communities:
  zz-last: "64496:2"
  no-advertise: "65535:65282"
address-pools:
- name: Public_Pool
  protocol: bgp
  addresses: [198.51.100.0/24]
  avoid-buggy-ips: true
  bgp-advertisements:
  - {aggregation-length: 32, localpref: 100, communities: [no-advertise]}
  - {aggregation-length: 24}
- name: lan
  protocol: layer2
  auto-assign: false
  addresses: [203.0.113.10-203.0.113.20]
- name: bgp-bare
  protocol: bgp
  addresses: [203.0.113.128/25]
"""


def configmap(text: str = LEGACY) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": "metallb-system"},
            "data": {"config": text}}


def run_convert(tmp_path, capsys, cm: dict) -> tuple[int, str, str]:
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(cm))
    code = cli.main(["convert", "-f", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def test_convert_produces_metallb_converter_objects(tmp_path, capsys):
    code, out, _unused = run_convert(tmp_path, capsys, configmap())
    assert code == 0
    objs = list(yaml.safe_load_all(out))
    assert [(o["kind"], o["metadata"]["name"]) for o in objs] == [
        ("BGPPeer", "peer1"), ("BGPPeer", "peer2"),
        ("IPAddressPool", "public-pool"), ("IPAddressPool", "lan"), ("IPAddressPool", "bgp-bare"),
        ("BGPAdvertisement", "bgpadvertisement1"), ("BGPAdvertisement", "bgpadvertisement2"),
        ("BGPAdvertisement", "bgpadvertisement3"), ("L2Advertisement", "l2advertisement1"),
        ("Community", "communities")]
    by_name = {o["metadata"]["name"]: o for o in objs}
    assert all(o["metadata"]["namespace"] == "metallb-system" for o in objs)
    assert by_name["peer1"]["apiVersion"] == "metallb.io/v1beta2"
    assert by_name["peer1"]["spec"]["holdTime"] == "1m30s"  # default 90s, Go duration text
    assert "keepaliveTime" not in by_name["peer1"]["spec"]
    assert by_name["peer1"]["spec"]["nodeSelectors"] == [
        {"matchLabels": {"rack": "1"}, "matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]
    assert (by_name["peer2"]["spec"]["holdTime"], by_name["peer2"]["spec"]["keepaliveTime"]) == ("30s", "10s")
    assert by_name["public-pool"]["spec"] == {"addresses": ["198.51.100.0/24"], "avoidBuggyIPs": True}
    assert by_name["lan"]["spec"] == {"addresses": ["203.0.113.10-203.0.113.20"], "autoAssign": False}
    assert by_name["bgpadvertisement1"]["spec"] == {"ipAddressPools": ["public-pool"], "aggregationLength": 32,
                                                    "localPref": 100, "communities": ["no-advertise"]}
    assert by_name["bgpadvertisement3"]["spec"] == {"ipAddressPools": ["bgp-bare"]}  # bgp pool without ads
    assert by_name["l2advertisement1"]["spec"] == {"ipAddressPools": ["lan"]}
    assert by_name["communities"]["spec"]["communities"] == [  # aliases sorted
        {"name": "no-advertise", "value": "65535:65282"}, {"name": "zz-last", "value": "64496:2"}]


def test_converted_objects_parse_into_the_same_config_as_the_configmap(tmp_path, capsys):
    _unused, out, _unused = run_convert(tmp_path, capsys, configmap())
    from_crs = parse_config(list(yaml.safe_load_all(out)), bgp_type="frr")  # keepalive-time is FRR-only
    from_cm = parse_config([configmap()], bgp_type="frr")
    assert from_crs.errors == [] and from_cm.errors == []
    assert from_crs.config == from_cm.config
    assert from_cm.warnings == ['configuration read from the legacy ConfigMap "config" (metal-lb convert turns it '
                                'into metallb.io objects)']


def test_configmap_is_ignored_when_crs_exist():
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "p", "namespace": "metallb-system"}, "spec": {"addresses": ["198.51.100.0/24"]}}
    result = parse_config([configmap(), pool])
    assert list(result.config.pools) == ["p"]
    assert 'legacy ConfigMap "config" ignored: metallb.io objects are present' in result.warnings


@pytest.mark.parametrize("name, expected", [
    ("good-name", "good-name"), ("Public_Pool", "public-pool"), ("9lives", "lives"), ("x" * 70, "x" * 63),
])
def test_name_sanitising(name, expected):
    assert k8s_name(name, "IpAddressPool") == expected


def test_name_without_letters_is_an_error():
    with pytest.raises(LegacyConfigError, match="failed to make IpAddressPool K8S compatible: 1234"):
        k8s_name("1234", "IpAddressPool")


def test_invalid_hold_time_in_configmap_is_a_config_error():
    cm = configmap("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, hold-time: 1s}\n")
    result = parse_config([cm])
    assert [str(e) for e in result.errors] == [
        'ConfigMap "config": data.config.peers[0].hold-time: invalid hold time "1s": must be 0 or >=3s']
    with pytest.raises(LegacyConfigError):
        convert_configmap(cm)


def test_convert_cli_reports_invalid_configmap_without_traceback(tmp_path, capsys):
    cm = configmap("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, hold-time: 1s}\n")
    code, _unused, err = run_convert(tmp_path, capsys, cm)
    assert code in (1, 2) and 'invalid hold time "1s"' in err


# -- MetalLB's schema, never a change of meaning -----------------------------------------------------------

POOL_OK = "address-pools:\n- name: default\n  protocol: layer2\n  addresses: [198.51.100.0/24]\n"


@pytest.mark.parametrize("text, message", [
    ("address-pools:\n- {name: d, protocol: layer2, addresses: 198.51.100.0/24}\n",
     "data.config.address-pools[0].addresses: must be a list, got a string"),
    (POOL_OK + '  auto-assign: "false"\n',
     'data.config.address-pools[0].auto-assign: must be true or false, got a string "false" (unquote it)'),
    (POOL_OK + "  avoid-buggy-ips: 1\n",
     "data.config.address-pools[0].avoid-buggy-ips: must be true or false, got an integer"),
    (POOL_OK + "  auto-asign: false\n", 'data.config.address-pools[0].auto-asign: unknown field "auto-asign"'),
    ("address-pools:\n- {name: d, protocol: bpg, addresses: [198.51.100.0/24]}\n",
     'data.config.address-pools[0].protocol: unknown protocol "bpg" (MetalLB reads bgp or layer2)'),
    (POOL_OK + "  bgp-advertisements: [{localpref: -1}]\n",
     "data.config.address-pools[0].bgp-advertisements[0].localpref: must be between 0 and 4294967295 (uint32)"),
    ("peers:\n- {my-asn: 4294967296, peer-asn: 1, peer-address: 203.0.113.1}\n",
     "data.config.peers[0].my-asn: must be between 0 and 4294967295 (uint32)"),
    ("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, ebgp-multihop: 'yes'}\n",
     'data.config.peers[0].ebgp-multihop: must be true or false, got a string "yes"'),
    ("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, node-selectors: [{match-labels: {a: [b]}}]}\n",
     "data.config.peers[0].node-selectors[0].match-labels.a: must be a string, got a list"),
    ("bgp-communities: [a]\n", "data.config.bgp-communities: must be a mapping, got a list"),
    (POOL_OK + "---\n" + POOL_OK, "data.config: holds 2 YAML documents; MetalLB reads exactly one"),
    ("- a\n", "data.config: must be a YAML mapping, got a list"),
    ("a: [\n", "data.config: invalid YAML: "),
])
def test_legacy_types_are_checked_with_paths(text, message):
    with pytest.raises(LegacyConfigError) as info:
        convert_configmap(configmap(text))
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_integers_in_string_fields_are_read_as_metallb_reads_them():
    """go-yaml reads a YAML integer into a string field as its text: hold-time 90 is "90", no unit."""
    with pytest.raises(LegacyConfigError) as info:
        convert_configmap(configmap("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, hold-time: 90}\n"))
    assert str(info.value) == ('data.config.peers[0].hold-time: invalid hold time "90": '
                               'time: missing unit in duration "90"')


def test_false_stays_false():
    (pool, _ad) = convert_configmap(configmap(POOL_OK + "  auto-assign: false\n"))
    assert pool["spec"]["autoAssign"] is False


def cm_named(name: str, data: dict, namespace: str = "metallb-system") -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace}, "data": data}


def test_convert_picks_the_configmap_named_config_from_a_namespace_dump():
    chosen, note = cli.legacy_source([cm_named("kube-root-ca.crt", {"ca.crt": "x"}), configmap(POOL_OK)],
                                     "metallb-system")
    assert chosen["metadata"]["name"] == "config"
    assert note == 'converting ConfigMap "metallb-system/config"; ignored: metallb-system/kube-root-ca.crt'


def test_a_differently_named_configmap_with_a_config_key_is_taken_and_said_so():
    chosen, note = cli.legacy_source([cm_named("kube-root-ca.crt", {"ca.crt": "x"}),
                                      cm_named("metallb", {"config": POOL_OK})], "metallb-system")
    assert chosen["metadata"]["name"] == "metallb"
    assert note.startswith('no ConfigMap named "config": converting ConfigMap "metallb-system/metallb"')


@pytest.mark.parametrize("objects, message", [
    ([cm_named("kube-root-ca.crt", {"ca.crt": "x"})], 'no ConfigMap named "config" in the input (ConfigMaps read: '
                                                      "metallb-system/kube-root-ca.crt)"),
    ([], "no ConfigMap in the input (0 objects read)"),
    ([cm_named("config", {"config": POOL_OK}, "a"), cm_named("config", {"config": POOL_OK}, "b")],
     "several candidate ConfigMaps (a/config, b/config): pass only one, or --namespace"),
])
def test_convert_says_when_there_is_no_configmap_to_convert(objects, message):
    with pytest.raises(cli.CliError) as info:
        cli.legacy_source(objects, "metallb-system")
    assert str(info.value).startswith(message)


def test_convert_from_stdin_of_a_namespace_dump(monkeypatch, capsys):
    import io

    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                           "items": [cm_named("kube-root-ca.crt", {"ca.crt": "x"}), configmap(POOL_OK)]})
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert cli.main(["convert", "-f", "-"]) == 0
    out, err = capsys.readouterr()
    assert [o["kind"] for o in yaml.safe_load_all(out)] == ["IPAddressPool", "L2Advertisement"]
    assert err.startswith("note: converting ConfigMap")
