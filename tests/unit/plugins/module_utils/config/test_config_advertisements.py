# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""L2Advertisement, BGPAdvertisement and Community rules (MetalLB's types and config.For)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.errors import TransientError
from ansible_collections.metal.lb.plugins.module_utils.engine.model import Community
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

from kube_objects import cr, node, pool

NS = "metallb-system"


POOLS = [pool("a", "198.51.100.0/25", labels={"tier": "front"}), pool("b", "198.51.100.128/25"),
         pool("v6", "2001:db8::/64", labels={"tier": "front"})]


def parsed(*objects: dict, **options):
    return parse_config([*POOLS, *objects], **options)


def messages(*objects: dict, **options) -> list[str]:
    return [e.message for e in parsed(*objects, **options).errors]


# ---------------------------------------------------------------------------- L2Advertisement


def test_l2_without_pools_applies_to_every_pool():
    (ad,) = parsed(cr("L2Advertisement", "all")).config.l2_advertisements
    assert ad.pools == ("a", "b", "v6")
    assert (ad.node_selectors, ad.interfaces, ad.service_selectors) == ((), (), ())


def test_l2_by_name_and_by_pool_selector():
    (ad,) = parsed(cr("L2Advertisement", "l2", {"ipAddressPools": ["b"], "ipAddressPoolSelectors": [
        {"matchLabels": {"tier": "front"}}], "interfaces": ["eth0"]})).config.l2_advertisements
    assert ad.pools == ("a", "b", "v6")
    assert ad.interfaces == ("eth0",)


@pytest.mark.parametrize("field, value, message", [
    ("ipAddressPools", ["a", "a"], 'duplicate definition of ipAddressPools "a"'),
    ("nodeSelectors", [{"matchLabels": {"k": "v"}}, {"matchLabels": {"k": "v"}}],
     'duplicate definition of nodeSelectors "k=v"'),
    ("ipAddressPoolSelectors", [{"matchLabels": {"k": "v"}}, {"matchLabels": {"k": "v"}}],
     'duplicate definition of ipAddressPoolSelectors "k=v"'),
    ("serviceSelectors", [{"matchLabels": {"k": "v"}}, {"matchLabels": {"k": "v"}}],
     'duplicate definition of serviceSelectors "k=v"'),
])
@pytest.mark.parametrize("kind", ["L2Advertisement", "BGPAdvertisement"])
def test_advertisement_duplicates(kind, field, value, message):
    assert messages(cr(kind, "ad", {field: value})) == [message]


@pytest.mark.parametrize("weight", [0, 101, "5", True])
def test_l2_preferred_node_weight_must_be_1_to_100(weight):
    got = parsed(cr("L2Advertisement", "l2", {"preferredNodeSelectors": [
        {"weight": weight, "preference": {"matchLabels": {"k": "v"}}}]})).errors
    assert [(e.field, e.message) for e in got] == [
        ("spec.preferredNodeSelectors[0].weight", "must be an integer between 1 and 100")]


def test_l2_preferred_nodes_are_kept():
    (ad,) = parsed(cr("L2Advertisement", "l2", {"preferredNodeSelectors": [
        {"weight": 40, "preference": {"matchLabels": {"zone": "x"}}}]})).config.l2_advertisements
    assert [(w, s.match_labels) for w, s in ad.preferred_nodes] == [(40, (("zone", "x"),))]


# ---------------------------------------------------------------------------- BGPAdvertisement


def test_bgp_defaults():
    (ad,) = parsed(cr("BGPAdvertisement", "ad", {"ipAddressPools": ["a"]})).config.bgp_advertisements
    assert (ad.pools, ad.aggregation_length, ad.aggregation_length_v6, ad.local_pref) == (("a",), 32, 128, 0)


@pytest.mark.parametrize("spec, message", [
    ({"aggregationLength": 33}, "invalid aggregation length 33 for IPv4"),
    ({"aggregationLengthV6": 129, "ipAddressPools": ["v6"]}, "invalid aggregation length 129 for IPv6"),
    ({"serviceSelectors": [{"matchLabels": {"k": "v"}}], "aggregationLength": 24},
     "serviceSelectors and aggregationLength are mutually exclusive, both cannot be set in ad"),
    ({"serviceSelectors": [{"matchLabels": {"k": "v"}}], "aggregationLengthV6": 64},
     "serviceSelectors and aggregationLengthV6 are mutually exclusive, both cannot be set in ad"),
    ({"communities": ["64496:1", "64496:1"]}, 'duplicate definition of community "64496:1"'),
    ({"peers": ["r1", "r1"]}, 'duplicate definition of peers "r1"'),
])
def test_bgp_field_rules(spec, message):
    assert messages(cr("BGPAdvertisement", "ad", spec)) == [message]


def test_service_selectors_allowed_with_default_aggregation():
    spec = {"ipAddressPools": ["a"], "aggregationLength": 32, "aggregationLengthV6": 128,
            "serviceSelectors": [{"matchLabels": {"k": "v"}}]}
    assert messages(cr("BGPAdvertisement", "ad", spec)) == []


def agg_case(addresses: list[str], length: int) -> list[str]:
    return [e.message for e in parse_config([
        cr("IPAddressPool", "p", {"addresses": addresses}),
        cr("BGPAdvertisement", "ad", {"ipAddressPools": ["p"], "aggregationLength": length})]).errors]


def test_aggregation_shorter_than_an_entry_is_rejected():
    # MetalLB config_test.go: a /24 + a /28 with length 26 is rejected because of the /28
    assert agg_case(["198.51.100.40/24", "203.0.113.0/28"], 26) == [
        "invalid aggregation length 26: prefix 28 in this pool is more specific than the aggregation length for "
        "addresses 203.0.113.0/28"]


def test_aggregation_of_a_range_uses_its_widest_cidr_piece():
    # range .2-.254 summarises to pieces up to /26: 26 is fine, 24 is not
    assert agg_case(["203.0.113.2-203.0.113.254"], 26) == []
    assert agg_case(["203.0.113.2-203.0.113.254"], 24) == [
        "invalid aggregation length 24: prefix 26 in this pool is more specific than the aggregation length for "
        "addresses 203.0.113.2-203.0.113.254"]


def test_identical_bgp_advertisements_are_rejected():
    ad = cr("BGPAdvertisement", "ad", {"ipAddressPools": ["a"]})
    assert messages(ad, dict(ad)) == [
        "duplicate definition of bgpadvertisements. advertisement 1 and 2 are equal"]


LOCAL_PREF = ("invalid local preference 200: local preferernce 100 was already set for the same type of BGP "
              "update. Check existing BGP advertisements with common pools and aggregation lengths")


def bgp(name: str, **spec) -> dict:
    return cr("BGPAdvertisement", name, spec)


def test_different_local_pref_on_the_same_pool_is_rejected():
    got = parsed(bgp("a1", ipAddressPools=["a"], localPref=100), bgp("a2", ipAddressPools=["a"], localPref=200),
                 node("n1"))
    assert [(e.name, e.message) for e in got.errors] == [("a2", LOCAL_PREF)]


@pytest.mark.parametrize("second", [
    {"aggregationLength": 30},  # different aggregation for the pool's only family
    {"peers": ["r2"]},  # no common peer (both lists non-empty)
    {"nodeSelectors": [{"matchLabels": {"rack": "2"}}]},  # disjoint node sets
    {"serviceSelectors": [{"matchLabels": {"app": "x"}}]},  # deferred to the speaker
    {"localPref": 100},  # same value
])
def test_local_pref_exemptions(second):
    first = {"ipAddressPools": ["a"], "localPref": 100, "peers": ["r1"],
             "nodeSelectors": [{"matchLabels": {"rack": "1"}}]}
    spec = dict({"ipAddressPools": ["a"], "localPref": 200}, **second)
    if "peers" not in second:
        spec["peers"] = ["r1"]
    assert messages(bgp("a1", **first), bgp("a2", **spec), node("n1", rack="1"), node("n2", rack="2")) == []


def test_local_pref_with_shared_peer_and_node_is_rejected():
    got = messages(bgp("a1", ipAddressPools=["a"], localPref=100, peers=["r1", "r2"]),
                   bgp("a2", ipAddressPools=["a"], localPref=200, peers=["r2"]), node("n1"))
    assert got == [LOCAL_PREF]


def test_local_pref_dual_family_pool_needs_both_lengths_different():
    objects = [cr("IPAddressPool", "d", {"addresses": ["198.51.100.0/24", "2001:db8::/64"]}), node("n1")]
    one = [bgp("a1", ipAddressPools=["d"], localPref=100, aggregationLength=24),
           bgp("a2", ipAddressPools=["d"], localPref=200)]
    both = [bgp("a1", ipAddressPools=["d"], localPref=100, aggregationLength=24, aggregationLengthV6=64),
            bgp("a2", ipAddressPools=["d"], localPref=200)]
    assert [e.message for e in parse_config(objects + one, bgp_type="frr").errors] == [LOCAL_PREF]
    assert parse_config(objects + both, bgp_type="frr").errors == []


# ---------------------------------------------------------------------------- communities


def community_cr(*pairs: tuple[str, object], name: str = "communities") -> dict:
    return cr("Community", name, {"communities": [{"name": n, "value": v} for n, v in pairs]})


def test_community_aliases_and_literals_resolve():
    config = parsed(community_cr(("no-advertise", "65535:65282"), ("big", "large:64496:1:2")),
                    bgp("ad", ipAddressPools=["a"], communities=["no-advertise", "64496:7", "big"]),
                    bgp_type="frr").config
    (ad,) = config.bgp_advertisements
    assert config.communities["no-advertise"] == Community(False, (65535, 65282))
    # MetalLB's LessThan: legacy a:b orders as large (a<<16|b):0:0
    assert [str(c) for c in ad.communities] == ["large:64496:1:2", "64496:7", "65535:65282"]


@pytest.mark.parametrize("value, fragment", [
    ("65536:1", "65536 is not a 16-bit number"),
    ("1:2:3", 'invalid community format "1:2:3"'),
    ("large:1:2", 'invalid community format "large:1:2"'),
    ("large:4294967296:1:1", "4294967296 is not a 32-bit number"),
])
def test_invalid_community_values(value, fragment):
    (error,) = parsed(community_cr(("c", value))).errors
    assert error.message.startswith('parsing community "c": ') and fragment in error.message


def test_duplicate_community_alias_across_objects():
    got = messages(community_cr(("x", "1:1"), name="one"), community_cr(("x", "1:2"), name="two"))
    assert got == ['duplicate definition of community "x"']


def test_unknown_alias_is_a_transient_error():
    (error,) = parsed(bgp("ad", ipAddressPools=["a"], communities=["later"])).errors
    assert isinstance(error, TransientError)
    assert error.message.endswith('invalid community "later" in BGP advertisement')


def test_bad_community_literal_is_a_permanent_error():
    (error,) = parsed(bgp("ad", ipAddressPools=["a"], communities=["64496:99999"])).errors
    assert not isinstance(error, TransientError)
    assert error.message.endswith('invalid community "64496:99999" in BGP advertisement')


def test_an_advertisement_naming_a_missing_pool_is_valid_and_its_reference_reported_unresolved():
    """MetalLB ignores pool names that do not exist (objects may come in any order); the parser says which."""
    result = parsed(cr("L2Advertisement", "l2", {"ipAddressPools": ["a", "gone"]}),
                    cr("BGPAdvertisement", "bgp", {"ipAddressPools": ["nope"]}))
    assert result.errors == []
    assert result.config.l2_advertisements[0].pools == ("a",)
    assert result.config.bgp_advertisements[0].pools == ()
    assert [(e.kind, e.name, e.field) for e in result.unresolved] == [
        ("L2Advertisement", "l2", "spec.ipAddressPools[1]"), ("BGPAdvertisement", "bgp", "spec.ipAddressPools[0]")]
    assert result.unresolved[0].message == ('no IPAddressPool "gone": the advertisement does not apply to it until '
                                            'it exists')
    assert parsed(cr("L2Advertisement", "l2", {"ipAddressPools": ["a", "b"]})).unresolved == []
