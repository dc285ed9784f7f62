# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGPPeer (v1beta1 and v1beta2), BFDProfile and mode-specific rules (MetalLB's types and mode validation)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.errors import TransientError
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

from kube_objects import cr, node, peer

NS = "metallb-system"


def errors(*objects: dict, bgp_type: str = "frr"):
    return parse_config(list(objects), bgp_type=bgp_type).errors


def messages(*objects: dict, bgp_type: str = "frr") -> list[str]:
    return [e.message for e in errors(*objects, bgp_type=bgp_type)]


@pytest.mark.parametrize("api", ["metallb.io/v1beta1", "metallb.io/v1beta2"])
def test_valid_peer_both_versions(api):
    result = parse_config([peer(api=api, peerPort=1790, holdTime="90s", routerID="198.51.100.1",
                                sourceAddress="198.51.100.2", nodeSelectors=[{"matchLabels": {"bgp": "y"}}])])
    (p,) = result.config.peers
    assert (p.my_asn, p.peer_asn, p.address, p.port, p.hold_time, p.keepalive_time) == (
        64496, 64497, "203.0.113.1", 1790, 90.0, 30.0)


@pytest.mark.parametrize("spec, message", [
    ({"myASN": 0}, "missing local ASN"),
    ({"peerASN": None}, "missing peer ASN and dynamicASN"),
    ({"dynamicASN": "internal"}, "both peer ASN and dynamicASN specified"),
    ({"peerASN": None, "dynamicASN": "sideways"}, "invalid dynamicASN sideways"),
    ({"peerASN": 64496, "ebgpMultiHop": True}, "invalid ebgp-multihop parameter set for an ibgp peer"),
    ({"peerAddress": None}, "peer has no Address or Interface specified"),
    ({"interface": "eth0"}, "peer has both Address and Interface specified"),
    ({"peerAddress": "203.0.113.300"}, 'invalid BGPPeer address "203.0.113.300"'),
    ({"routerID": "router-1"}, 'invalid router ID "router-1"'),
    ({"sourceAddress": "nope"}, 'invalid source IP "nope"'),
    ({"holdTime": "2s"}, 'invalid BGPPeer timers: invalid hold time "2s": must be 0 or >=3s'),
    ({"holdTime": "30s", "keepaliveTime": "40s"},
     'invalid BGPPeer timers: invalid keepaliveTime "40s", must be lower than holdTime "30s"'),
    ({"password": "x", "passwordSecret": {"name": "s"}},
     'can not have both password and secret ref set in peer config "metallb-system"/"r1"'),
    ({"nodeSelectors": [{"matchLabels": {"a": "b"}}, {"matchLabels": {"a": "b"}}]},
     'duplicate definition of nodeSelectors "a=b"'),
])
def test_peer_rules(spec, message):
    assert messages(peer(**spec)) == [message]


@pytest.mark.parametrize("hold, keepalive, expected", [
    ("90s", None, (90.0, 30.0)),  # only hold: keepalive = hold/3
    (None, "10s", (30.0, 10.0)),  # only keepalive: hold = 3 x keepalive
    ("0s", None, (0.0, 0.0)),  # 0 disables keepalives
    ("3500ms", None, (3.5, 3.5 / 3)),  # whole seconds >= 3: accepted
    (None, None, (None, None)),
])
def test_timer_defaults(hold, keepalive, expected):
    (p,) = parse_config([peer(holdTime=hold, keepaliveTime=keepalive)], bgp_type="frr").config.peers
    assert (p.hold_time, p.keepalive_time) == pytest.approx(expected) if expected[0] is not None else (
        p.hold_time, p.keepalive_time) == expected


def secret(name: str, type_: str = "kubernetes.io/basic-auth", data: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": type_, "metadata": {"name": name, "namespace": NS},
            "data": {"password": "c2VjcmV0"} if data is None else data}


def test_password_secret_rules():
    ref = {"passwordSecret": {"name": "bgp-auth"}}
    (missing,) = errors(peer(**ref))
    assert isinstance(missing, TransientError)
    assert missing.message == 'secret ref not found for peer config "metallb-system"/"r1"'
    assert messages(peer(**ref), secret("bgp-auth", "Opaque")) == [
        'secret type mismatch on "metallb-system"/"bgp-auth", type "kubernetes.io/basic-auth" is expected']
    assert messages(peer(**ref), secret("bgp-auth", data={"user": "eA=="})) == [
        'password not specified in the secret "metallb-system"/"bgp-auth"']
    assert messages(peer(**ref), secret("bgp-auth")) == []


def test_missing_bfd_profile_is_transient():
    (error,) = errors(peer(bfdProfile="fast"))
    assert isinstance(error, TransientError)
    assert error.message == "peer r1 referencing non existing bfd profile fast"


# ---------------------------------------------------------------------------- BFDProfile


def bfd(name: str = "fast", **spec) -> dict:
    return cr("BFDProfile", name, spec)


@pytest.mark.parametrize("field, value, low, high, what", [
    ("receiveInterval", 9, 10, 60000, "receive interval"),
    ("transmitInterval", 60001, 10, 60000, "transmit interval"),
    ("detectMultiplier", 1, 2, 255, "detect multiplier"),
    ("echoInterval", 5, 10, 60000, "echo interval"),
    ("minimumTtl", 255, 1, 254, "minimum ttl"),
])
def test_bfd_ranges(field, value, low, high, what):
    assert messages(bfd(**{field: value})) == [
        "invalid value %d, must be in %d-%d range; invalid %s value" % (value, low, high, what)]
    assert messages(bfd(**{field: low})) == messages(bfd(**{field: high})) == []


def test_bfd_duplicate_name():
    assert messages(bfd(), bfd(receiveInterval=100)) == ["found duplicate bfd profile name fast"]


def test_bfd_echo_cannot_protect_ipv6_pools():
    objects = [bfd(echoMode=True), peer(bfdProfile="fast"),
               cr("IPAddressPool", "v6", {"addresses": ["2001:db8::/64"]}),
               cr("BGPAdvertisement", "ad", {"ipAddressPools": ["v6"]})]
    assert messages(*objects) == ["pool v6 has bgpadvertisement ad which references peer r1 which has bfd echo "
                                  "enabled, which is not possible"]
    objects[0] = bfd(echoMode=False)
    assert messages(*objects) == []


# ---------------------------------------------------------------------------- native mode


@pytest.mark.parametrize("spec, wording", [
    ({"bfdProfile": "fast"}, "bfd-profile"),
    ({"keepaliveTime": "10s"}, "keepalive-time"),
    ({"vrf": "red"}, "vrf"),
    ({"connectTime": "5s"}, "connect time"),
    ({"enableGracefulRestart": True}, "EnableGracefulRestart flag"),
    ({"disableMP": True}, "disable MP flag"),
    ({"dualStackAddressFamily": True}, "dualStackAddressFamily"),
    ({"peerASN": None, "dynamicASN": "external"}, "dynamicASN"),
    ({"peerAddress": None, "interface": "eth0"}, "interface"),
    ({"localASN": 64510}, "localASN"),
])
def test_native_mode_rejects_frr_only_peer_fields(spec, wording):
    got = messages(peer(**spec), bgp_type="native")
    who = "eth0" if "interface" in spec else "203.0.113.1"
    assert got == ["peer %s has %s set on native bgp mode" % (who, wording)]
    assert messages(peer(**spec), bfd(), bgp_type="frr") == []


def test_native_mode_rejects_bfd_profiles_ipv6_and_large_communities():
    got = messages(bfd(), cr("IPAddressPool", "v6", {"addresses": ["2001:db8::/64"]}),
                   cr("BGPAdvertisement", "ad", {"communities": ["large:64496:1:1"]}), bgp_type="native")
    assert got[0].startswith("bfd profiles section set")
    assert 'native BGP mode only supports legacy communities, BGP advertisement "ad" has non legacy community ' \
           '"large:64496:1:1"' in got
    assert 'pool "v6" has ipv6 CIDR 2001:db8::/64, native bgp mode does not support ipv6 (advertised by ' \
           'BGPAdvertisement ad)' in got
    assert len(got) == 3


def test_native_mode_accepts_ipv6_pools_not_selected_for_bgp():
    assert messages(cr("IPAddressPool", "v4", {"addresses": ["198.51.100.0/24"]}),
                    cr("IPAddressPool", "v6", {"addresses": ["2001:db8::/64"]}),
                    cr("BGPAdvertisement", "ad", {"ipAddressPools": ["v4"]}), bgp_type="native") == []


# ---------------------------------------------------------------------------- frr mode


def test_frr_peers_on_one_node_must_agree_on_router_id_and_asn():
    got = messages(peer("r1", routerID="198.51.100.1"),
                   peer("r2", routerID="198.51.100.2", peerAddress="203.0.113.2", myASN=64500))
    assert got == [
        "peer 198.51.100.2 has RouterID different from 198.51.100.1, in FRR mode all RouterID must be equal "
        "(BGPPeers r1 and r2 can run on the same node)",
        "peer 203.0.113.2 has myAsn different from 203.0.113.1, in FRR mode all myAsn must be equal for the "
        "same VRF (BGPPeers r1 and r2)"]


def test_frr_duplicate_session_rejected_unless_other_vrf():
    assert messages(peer("r1"), peer("r2")) == [
        "peer 203.0.113.1 already exists, FRR mode doesn't support duplicate BGPPeers (BGPPeers r1 and r2)"]
    assert messages(peer("r1"), peer("r2", vrf="red", myASN=64500)) == []


def test_frr_peers_on_disjoint_nodes_may_differ():
    objects = [peer("r1", routerID="198.51.100.1", nodeSelectors=[{"matchLabels": {"rack": "1"}}]),
               peer("r2", routerID="198.51.100.2", peerAddress="203.0.113.2", myASN=64500,
                    nodeSelectors=[{"matchLabels": {"rack": "2"}}]),
               node("n1", rack="1"), node("n2", rack="2")]
    assert messages(*objects) == []
    assert len(messages(*objects[:2])) == 2  # no nodes known: assume they can meet


def test_unknown_bgp_type_skips_mode_validation():
    assert messages(peer(vrf="red"), bgp_type="something-else") == []
