# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis properties of the planner (issue 2, item 6): sharing rules hold, every IP is in its pool
(never .0/.255 under avoidBuggyIPs), planning is deterministic and a fixpoint of its own output."""

from __future__ import annotations

import copy
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.planner import plan

NS = "metallb-system"
# disjoint entries, small enough that pools run out; .0/.255 included for avoidBuggyIPs
SEGMENTS = ["198.51.100.0/30", "198.51.100.4-198.51.100.6", "198.51.100.255/32", "203.0.113.252/30",
            "203.0.113.0/31", "2001:db8::/126", "2001:db8::10-2001:db8::12"]
CANDIDATES = ["198.51.100.0", "198.51.100.1", "198.51.100.5", "198.51.100.255", "203.0.113.255", "203.0.113.1",
              "203.0.113.77", "2001:db8::1", "2001:db8::11", "2001:db8::99"]
PORTS = [("TCP", 80), ("UDP", 53), ("TCP", 443), ("TCP", 53)]


def in_entry(ip: str, entry: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if "-" in entry:
        first, last = (ipaddress.ip_address(x.strip()) for x in entry.split("-"))
        return addr.version == first.version and first <= addr <= last
    net = ipaddress.ip_network(entry)
    return addr.version == net.version and addr in net


@st.composite
def pools(draw):
    order = draw(st.permutations(SEGMENTS))
    cuts = sorted(draw(st.lists(st.integers(1, len(order) - 1), max_size=3, unique=True)))
    groups = [order[a:b] for a, b in zip([0, *cuts], [*cuts, len(order)])]
    out = []
    for index, group in enumerate(groups):
        spec = {"addresses": list(group), "autoAssign": draw(st.booleans()) or index == 0,
                "avoidBuggyIPs": draw(st.booleans())}
        if draw(st.integers(0, 3)) == 0:
            spec["serviceAllocation"] = {"priority": draw(st.integers(0, 3)),
                                         "namespaces": draw(st.lists(st.sampled_from(["a", "b"]), unique=True))}
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": {"name": "pool-%d" % index, "namespace": NS}, "spec": spec})
    return out


@st.composite
def service(draw, index: int, pool_names: list[str]):
    family = draw(st.sampled_from(["v4", "v4", "v6", "dual-prefer", "dual-require", "prefer-single"]))
    cluster = {"v4": ["203.0.113.100"], "v6": ["2001:db8:ffff::1"], "prefer-single": ["203.0.113.100"]}.get(
        family, ["203.0.113.100", "2001:db8:ffff::1"])
    spec: dict = {"type": draw(st.sampled_from(["LoadBalancer"] * 5 + ["NodePort"])), "clusterIPs": cluster,
                  "clusterIP": cluster[0],
                  "ports": [{"port": p, "protocol": proto}
                            for proto, p in draw(st.lists(st.sampled_from(PORTS), min_size=1, max_size=2,
                                                          unique=True))]}
    if family.startswith("dual"):
        spec["ipFamilyPolicy"] = "PreferDualStack" if family == "dual-prefer" else "RequireDualStack"
        spec["ipFamilies"] = draw(st.sampled_from([["IPv4", "IPv6"], ["IPv6", "IPv4"]]))
    elif family == "prefer-single":
        spec["ipFamilyPolicy"] = "PreferDualStack"
    if family == "v6":
        spec["ipFamilies"] = ["IPv6"]
    if draw(st.booleans()):
        spec["externalTrafficPolicy"] = "Local"
        spec["selector"] = {"app": draw(st.sampled_from(["x", "y"]))}
    annotations = {}
    sharing = draw(st.sampled_from([None, None, "k1", "k2"]))
    if sharing:
        annotations[draw(st.sampled_from(["metallb.io/", "metallb.universe.tf/"])) + "allow-shared-ip"] = sharing
    if draw(st.integers(0, 4)) == 0:
        annotations["metallb.io/loadBalancerIPs"] = ",".join(draw(st.lists(st.sampled_from(CANDIDATES),
                                                                           min_size=1, max_size=2)))
    if draw(st.integers(0, 5)) == 0:
        annotations["metallb.io/address-pool"] = draw(st.sampled_from(pool_names + ["nope"]))
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "s%d" % index, "namespace": draw(st.sampled_from(["a", "b"])),
                        "annotations": annotations,
                        "creationTimestamp": "2026-01-0%dT00:00:00Z" % draw(st.integers(1, 3))}, "spec": spec}
    if draw(st.integers(0, 3)) == 0:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in draw(
            st.lists(st.sampled_from(CANDIDATES), min_size=1, max_size=2))]}}
    return obj


@st.composite
def snapshots(draw):
    pool_objs = draw(pools())
    names = [p["metadata"]["name"] for p in pool_objs]
    services = [draw(service(i, names)) for i in range(draw(st.integers(0, 12)))]
    return pool_objs + services


def assigned(out: dict) -> dict:
    return {k: v for k, v in out["services"].items() if v["state"] == "assigned"}


def facts(objects: list[dict]) -> dict:
    """key -> (sharing key, backend key, ports) as the controller derives them."""
    out = {}
    for obj in objects:
        if obj["kind"] != "Service":
            continue
        ann = obj["metadata"]["annotations"]
        sharing = ann.get("metallb.io/allow-shared-ip", ann.get("metallb.universe.tf/allow-shared-ip", ""))
        spec = obj["spec"]
        backend = ",".join("%s=%s" % kv for kv in sorted((spec.get("selector") or {}).items())) \
            if spec.get("externalTrafficPolicy") == "Local" else ""
        ports = {(p["protocol"], p["port"]) for p in spec["ports"]}
        out["%s/%s" % (obj["metadata"]["namespace"], obj["metadata"]["name"])] = (sharing, backend, ports)
    return out


@settings(max_examples=150)
@given(snapshots())
def test_sharing_rules_and_pool_membership(objects):
    out = plan(objects)
    assert out["errors"] == []
    info = facts(objects)
    pool_specs = {o["metadata"]["name"]: o["spec"] for o in objects if o["kind"] == "IPAddressPool"}
    users: dict[str, list[str]] = {}
    for key, result in assigned(out).items():
        spec = pool_specs[result["pool"]]
        assert 1 <= len(result["ips"]) <= 2
        for ip in result["ips"]:
            users.setdefault(ip, []).append(key)
            assert any(in_entry(ip, entry) for entry in spec["addresses"]), (key, ip, result["pool"])
            if spec["avoidBuggyIPs"] and ipaddress.ip_address(ip).version == 4:
                assert ip.split(".")[-1] not in ("0", "255"), (key, ip)
    for ip, keys in users.items():
        if len(keys) < 2:
            continue
        sharing = {info[k][0] for k in keys}
        backend = {info[k][1] for k in keys}
        assert len(sharing) == 1 and "" not in sharing, (ip, keys)
        assert len(backend) == 1, (ip, keys)
        seen: set = set()
        for k in keys:
            assert not (seen & info[k][2]), (ip, keys)
            seen |= info[k][2]


@settings(max_examples=100)
@given(snapshots(), st.randoms(use_true_random=False))
def test_planning_is_deterministic(objects, rnd):
    shuffled = list(objects)
    rnd.shuffle(shuffled)
    assert plan(objects) == plan(shuffled)


@settings(max_examples=150)
@given(snapshots())
def test_planning_its_own_output_changes_nothing(objects):
    first = plan(objects)
    written = copy.deepcopy(objects)
    for obj in written:
        if obj["kind"] != "Service":
            continue
        got = first["services"].get("%s/%s" % (obj["metadata"]["namespace"], obj["metadata"]["name"]))
        if got is None:
            continue
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in got["ips"]]}}
        if got["pool"]:
            obj["metadata"]["annotations"]["metallb.io/ip-allocated-from-pool"] = got["pool"]
        else:
            obj["metadata"]["annotations"].pop("metallb.io/ip-allocated-from-pool", None)
    second = plan(written)
    for key, result in second["services"].items():
        before = first["services"][key]
        assert (result["ips"], result["pool"], result["state"]) == (before["ips"], before["pool"], before["state"])
        assert not result["changed"], (key, before, result)


JUNK = st.recursive(st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=8)
                    | st.sampled_from(["LoadBalancer", "203.0.113.1", "2001:db8::1", "198.51.100.1", "TCP", "Local",
                                       "PreferDualStack", "RequireDualStack", "IPv6", "k", "p"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                    max_leaves=8)
SERVICE_FIELDS = ["type", "clusterIP", "clusterIPs", "ipFamilyPolicy", "ipFamilies", "ports", "selector",
                  "externalTrafficPolicy", "loadBalancerIP", "loadBalancerClass"]
ANNOTATIONS = ["metallb.io/loadBalancerIPs", "metallb.universe.tf/loadBalancerIPs", "metallb.io/address-pool",
               "metallb.io/allow-shared-ip", "metallb.io/ip-allocated-from-pool", "metallb.universe.tf/x"]


@st.composite
def hostile_service(draw):
    spec = {f: draw(JUNK) for f in draw(st.lists(st.sampled_from(SERVICE_FIELDS), max_size=7, unique=True))}
    spec.setdefault("type", "LoadBalancer")
    meta = {"name": draw(JUNK), "namespace": draw(JUNK),
            "annotations": draw(st.dictionaries(st.sampled_from(ANNOTATIONS), JUNK, max_size=3) | JUNK),
            "labels": draw(JUNK), "creationTimestamp": draw(JUNK)}
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": draw(st.just(meta) | JUNK),
           "spec": draw(st.just(spec) | JUNK)}
    if draw(st.booleans()):
        obj["status"] = draw(st.just({"loadBalancer": {"ingress": draw(JUNK)}}) | JUNK)
    return obj


@settings(max_examples=150)
@given(pools(), st.lists(hostile_service(), max_size=6))
def test_hostile_services_never_raise(pool_objs, services):
    out = plan(pool_objs + services)
    # Metadata Kubernetes would refuse (a name, label or annotation that is not a string) is one error
    # naming the Service and the field; the configuration itself stays valid.
    assert len(out["errors"]) <= len(services)
    assert all(e.startswith('Service "') and ": metadata" in e for e in out["errors"]), out["errors"]
    assert out["pools"]
    for result in out["services"].values():
        assert result["state"] in ("assigned", "pending", "ignored")
