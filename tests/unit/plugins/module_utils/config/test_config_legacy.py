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
        'ConfigMap "config": data.config: invalid hold time "1s": must be 0 or >=3s']
    with pytest.raises(LegacyConfigError):
        convert_configmap(cm)


def test_convert_cli_reports_invalid_configmap_without_traceback(tmp_path, capsys):
    cm = configmap("peers:\n- {my-asn: 1, peer-asn: 2, peer-address: 203.0.113.1, hold-time: 1s}\n")
    code, _unused, err = run_convert(tmp_path, capsys, cm)
    assert code in (1, 2) and 'invalid hold time "1s"' in err
