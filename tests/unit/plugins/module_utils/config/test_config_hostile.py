# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property: any input (random values in every field, wrong types, junk objects) yields validation
errors naming an object, never an exception (never a traceback)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.config.errors import ConfigError
from ansible_collections.metal.lb.plugins.module_utils.engine.config.legacy import LegacyConfigError, convert_configmap
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

FIELDS = {
    "IPAddressPool": ["addresses", "autoAssign", "avoidBuggyIPs", "serviceAllocation"],
    "L2Advertisement": ["ipAddressPools", "ipAddressPoolSelectors", "nodeSelectors", "interfaces",
                        "serviceSelectors", "preferredNodeSelectors"],
    "BGPAdvertisement": ["aggregationLength", "aggregationLengthV6", "localPref", "communities", "ipAddressPools",
                         "ipAddressPoolSelectors", "nodeSelectors", "peers", "serviceSelectors"],
    "BGPPeer": ["myASN", "peerASN", "dynamicASN", "localASN", "peerAddress", "interface", "sourceAddress",
                "peerPort", "holdTime", "keepaliveTime", "connectTime", "routerID", "nodeSelectors", "password",
                "passwordSecret", "bfdProfile", "enableGracefulRestart", "ebgpMultiHop", "vrf", "disableMP",
                "dualStackAddressFamily"],
    "Community": ["communities"],
    "BFDProfile": ["receiveInterval", "transmitInterval", "detectMultiplier", "echoInterval", "echoMode",
                   "passiveMode", "minimumTtl"],
}
LEGACY_KEYS = ["peers", "bgp-communities", "address-pools", "bfd-profiles", "name", "protocol", "addresses",
               "auto-assign", "avoid-buggy-ips", "bgp-advertisements", "aggregation-length", "localpref",
               "communities", "my-asn", "peer-asn", "peer-address", "hold-time", "keepalive-time",
               "node-selectors", "match-labels", "match-expressions", "bfd-profile", "receive-interval"]

# Plausible-looking atoms make the parser go deeper than pure noise would.
ATOMS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 70), 2 ** 70), st.floats(allow_nan=True), st.text(max_size=12),
    st.sampled_from(["198.51.100.0/24", "198.51.100.1-198.51.100.9", "2001:db8::/64", "203.0.113.5",
                     "2001:db8::1-2001:db8::", "10s", "1m30s", "-3s", "64496:1", "large:1:2:3", "internal",
                     "In", "NotIn", "Exists", "DoesNotExist", "0.0.0.0/0", "::/0", "a-b-c", ""]),
)
KEYS = st.sampled_from(sorted({k for ks in FIELDS.values() for k in ks} | {
    "matchLabels", "matchExpressions", "key", "operator", "values", "weight", "preference", "name", "value",
    "priority", "namespaces", "namespaceSelectors", "namespace"} | set(LEGACY_KEYS))) | st.text(max_size=6)
VALUES = st.recursive(ATOMS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
                      max_leaves=12)


@st.composite
def config_object(draw):
    kind = draw(st.sampled_from(sorted(FIELDS) + ["ConfigMap", "Node", "Namespace", "Secret", "Service"]))
    name = draw(st.one_of(st.sampled_from(["a", "b", "config", ""]), VALUES))
    meta = draw(st.one_of(st.just({"name": name, "namespace": "metallb-system"}), VALUES))
    obj = {"apiVersion": draw(st.sampled_from(["metallb.io/v1beta1", "metallb.io/v1beta2", "v1"])), "kind": kind,
           "metadata": meta}
    if kind in FIELDS:
        fields = draw(st.lists(st.sampled_from(FIELDS[kind]), max_size=6, unique=True))
        spec = {f: draw(VALUES) for f in fields}
        obj["spec"] = draw(st.one_of(st.just(spec), VALUES))
    elif kind == "ConfigMap":
        legacy = draw(st.dictionaries(st.sampled_from(LEGACY_KEYS[:4]), VALUES, max_size=4))
        obj["data"] = {"config": draw(st.one_of(st.just(legacy), VALUES, st.text(max_size=30)))}
    else:
        obj.update(draw(st.dictionaries(st.sampled_from(["spec", "status", "type", "data"]), VALUES, max_size=3)))
    return obj


OBJECTS = st.lists(st.one_of(config_object(), VALUES), max_size=6)


@settings(max_examples=300)
@given(OBJECTS, st.sampled_from(["native", "frr", "frr-k8s", "other"]), st.booleans())
def test_any_objects_give_errors_never_exceptions(objects, bgp_type, allow_node_ips):
    result = parse_config(objects, bgp_type=bgp_type, allow_node_ip_pools=allow_node_ips,
                          service_cidrs=["203.0.113.0/28"], gateways=["198.51.100.1"])
    assert (result.config is None) == bool(result.errors)
    for error in result.errors:
        assert isinstance(error, ConfigError)
        assert str(error) and error.kind
    assert all(isinstance(w, str) for w in result.warnings)


@settings(max_examples=200)
@given(st.dictionaries(st.sampled_from(LEGACY_KEYS), VALUES, max_size=5) | VALUES)
def test_legacy_conversion_raises_only_its_own_error(config):
    try:
        out = convert_configmap({"kind": "ConfigMap", "data": {"config": config}})
    except LegacyConfigError as exc:
        assert str(exc)
        return
    assert all(isinstance(o, dict) and o["kind"] for o in out)


def test_service_cidr_option_may_be_junk():
    assert parse_config([], service_cidrs=["junk"]).errors
