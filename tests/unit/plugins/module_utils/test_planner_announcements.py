# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner's ``announcements``: who answers ARP/NDP for each planned IP, or why nobody does,
from the Nodes, EndpointSlices and L2Advertisements of its input (MetalLB's ShouldAnnounce), through
the same ``layer2.election`` function the speakers call. One test per rule, the CLI and module
surface, and a property: for any member set every speaker agrees with the planner's winner."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.shells import cli

from ansible_collections.metal.lb.plugins.module_utils.engine import planner
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.engine import election as E

NS = "metallb-system"
HOST = "kubernetes.io/hostname"
NODES = ("node1", "node2", "node3")


def pool(name="default", addresses=("198.51.100.10-198.51.100.20", "2001:db8:1::/120")):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"addresses": list(addresses)},
    }


def l2ad(name="l2", **spec):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }


def bgpad(name="bgp"):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "BGPAdvertisement",
        "metadata": {"name": name, "namespace": NS},
        "spec": {},
    }


def node(name, labels=None, network_unavailable=None):
    obj = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {HOST: name, **(labels or {})}},
    }
    if network_unavailable is not None:
        obj["status"] = {
            "conditions": [
                {"type": "NetworkUnavailable", "status": "True" if network_unavailable else "False"}
            ]
        }
    return obj


def service(name="web", ip="198.51.100.10", etp="Cluster", labels=None, annotations=None, ips=None):
    ips = ips if ips is not None else [ip]
    v6 = [i for i in ips if ":" in i]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": "default",
            "labels": labels or {},
            "annotations": {"metallb.io/loadBalancerIPs": ",".join(ips), **(annotations or {})},
        },
        "spec": {
            "type": "LoadBalancer",
            "clusterIP": "203.0.113.%d" % (sum(map(ord, name)) % 200 + 1),
            "clusterIPs": ["203.0.113.%d" % (sum(map(ord, name)) % 200 + 1)]
            + (["2001:db8:ff::1"] if v6 else []),
            "ipFamilies": ["IPv4", "IPv6"] if v6 and len(ips) > 1 else (["IPv6"] if v6 else ["IPv4"]),
            "ipFamilyPolicy": "RequireDualStack" if v6 and len(ips) > 1 else "SingleStack",
            "externalTrafficPolicy": etp,
            "selector": {"app": name},
            "ports": [{"port": 80 + sum(map(ord, name)) % 1000, "protocol": "TCP"}],
        },
    }


def endpoints(svc_name, *where, ready=True, serving=None):
    conditions = {"ready": ready}
    if serving is not None:
        conditions["serving"] = serving
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "%s-abcde" % svc_name,
            "namespace": "default",
            "labels": {E.SERVICE_NAME_LABEL: svc_name},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["203.0.113.50"], "nodeName": n, "conditions": conditions} for n in where
        ],
    }


def layer2(objects, ip="198.51.100.10", **kw):
    result = planner.plan(objects, **kw)
    assert result["errors"] == []
    return result["announcements"][ip]["layer2"]


def base(*extra, nodes=NODES):
    return [pool(), l2ad(), *(node(n) for n in nodes), *extra]


def hash_order(candidates, ip="198.51.100.10"):
    return E.order_candidates(list(candidates), ip)


# ----------------------------------------------------------------- the rules, one by one


def test_every_node_is_a_member_and_the_hash_order_decides():
    got = layer2(base(service(), endpoints("web", "node1")))
    assert got == {"node": hash_order(NODES)[0], "interfaces": [], "reason": None}


def test_members_restrict_the_candidates():
    first, second, _third = hash_order(NODES)
    objects = base(service(), endpoints("web", "node1"))
    assert layer2(objects, members=[second, first])["node"] == first
    assert layer2(objects, members=[n for n in NODES if n != first])["node"] == second
    assert layer2(objects, members=[])["node"] is None
    assert layer2(objects, members=[])["reason"] == E.NO_MATCHING_ADVERTISEMENT
    assert layer2(objects, members=["ghost"])["reason"] == E.NO_MATCHING_ADVERTISEMENT


def test_no_serving_endpoint_is_not_owner():
    for eps in ((), (endpoints("web", "node1", ready=False),), (endpoints("other", "node1"),)):
        got = layer2(base(service(), *eps))
        assert got == {"node": None, "interfaces": [], "reason": E.NOT_OWNER}


def test_terminating_but_serving_endpoints_count():
    got = layer2(base(service(), endpoints("web", "node1", ready=False, serving=True)))
    assert got["reason"] is None


def test_local_policy_needs_an_endpoint_on_the_node():
    for host in NODES:
        got = layer2(base(service(etp="Local"), endpoints("web", host)))
        assert got["node"] == host
    # endpoints on two nodes: the hash order among those two
    two = [n for n in NODES if n != hash_order(NODES)[0]]
    got = layer2(base(service(etp="Local"), endpoints("web", *two)))
    assert got["node"] == hash_order(two)[0]
    # the only endpoint's node is not a member
    got = layer2(base(service(etp="Local"), endpoints("web", "node1")), members=["node2", "node3"])
    assert got == {"node": None, "interfaces": [], "reason": E.NOT_OWNER}


def test_exclusion_label_and_network_unavailable_remove_a_node():
    winner = hash_order(NODES)[0]
    for bad in (
        node(winner, {E.EXCLUDE_LB_LABEL: ""}),
        node(winner, {E.EXCLUDE_LB_LABEL: "true"}),
        node(winner, network_unavailable=True),
    ):
        objects = [
            pool(),
            l2ad(),
            bad,
            *(node(n) for n in NODES if n != winner),
            service(),
            endpoints("web", winner),
        ]
        assert layer2(objects)["node"] == hash_order([n for n in NODES if n != winner])[0]
    objects = [pool(), l2ad(), node(winner, network_unavailable=False), service(), endpoints("web", winner)]
    assert layer2(objects)["node"] == winner
    everyone_excluded = [
        pool(),
        l2ad(),
        *(node(n, {E.EXCLUDE_LB_LABEL: ""}) for n in NODES),
        service(),
        endpoints("web", "node1"),
    ]
    assert layer2(everyone_excluded) == {"node": None, "interfaces": [], "reason": E.NOT_OWNER}


def test_node_selectors_and_no_matching_advertisement():
    objects = [
        pool(),
        l2ad(nodeSelectors=[{"matchLabels": {"rack": "a"}}]),
        node("node1"),
        node("node2", {"rack": "a"}),
        node("node3"),
        service(),
        endpoints("web", "node1"),
    ]
    assert layer2(objects)["node"] == "node2"
    assert layer2(objects, members=["node1", "node3"])["reason"] == E.NO_MATCHING_ADVERTISEMENT
    # the pool has no L2Advertisement at all (BGP only)
    bgp_only = [
        pool(addresses=["198.51.100.10/31"]),
        bgpad(),
        *(node(n) for n in NODES),
        service(),
        endpoints("web", "node1"),
    ]
    assert layer2(bgp_only) == {"node": None, "interfaces": [], "reason": E.NO_MATCHING_ADVERTISEMENT}
    # an advertisement for another pool
    other = [
        pool(),
        pool("other", ["198.51.100.100/30"]),
        l2ad(ipAddressPools=["other"]),
        *(node(n) for n in NODES),
        service(),
        endpoints("web", "node1"),
    ]
    assert layer2(other)["reason"] == E.NO_MATCHING_ADVERTISEMENT


def test_pool_selection_by_name_and_selector():
    objects = [
        pool("a", ["198.51.100.10/32"]),
        {
            **pool("b", ["198.51.100.11/32"]),
            "metadata": {"name": "b", "namespace": NS, "labels": {"tier": "edge"}},
        },
        l2ad("by-name", ipAddressPools=["a"], nodeSelectors=[{"matchLabels": {HOST: "node1"}}]),
        l2ad(
            "by-selector",
            ipAddressPoolSelectors=[{"matchLabels": {"tier": "edge"}}],
            nodeSelectors=[{"matchLabels": {HOST: "node3"}}],
        ),
        *(node(n) for n in NODES),
        service("one", "198.51.100.10"),
        endpoints("one", "node2"),
        service("two", "198.51.100.11"),
        endpoints("two", "node2"),
    ]
    result = planner.plan(objects)
    assert result["announcements"]["198.51.100.10"]["layer2"]["node"] == "node1"
    assert result["announcements"]["198.51.100.11"]["layer2"]["node"] == "node3"


def test_service_selectors_on_advertisements():
    objects = base(service(labels={"app": "web"}), endpoints("web", "node1"))
    objects[1] = l2ad(serviceSelectors=[{"matchLabels": {"app": "other"}}])
    assert layer2(objects)["reason"] == E.NO_MATCHING_ADVERTISEMENT
    objects[1] = l2ad(serviceSelectors=[{"matchLabels": {"app": "web"}}])
    assert layer2(objects)["reason"] is None


def test_shared_ip_with_service_selector_is_never_announced():
    shared = {"metallb.io/allow-shared-ip": "k"}
    objects = [
        pool(),
        l2ad(serviceSelectors=[{"matchLabels": {"app": "web"}}]),
        *(node(n) for n in NODES),
        service(labels={"app": "web"}, annotations=shared),
        endpoints("web", "node1"),
    ]
    assert layer2(objects) == {"node": None, "interfaces": [], "reason": E.SHARED_IP_WITH_SERVICE_SELECTOR}


def test_preferred_node_selector_weights_win_over_the_hash():
    last = hash_order(NODES)[-1]
    middle = hash_order(NODES)[1]
    ad = l2ad(
        preferredNodeSelectors=[
            {"weight": 10, "preference": {"matchLabels": {HOST: middle}}},
            {"weight": 60, "preference": {"matchLabels": {HOST: last}}},
        ]
    )
    objects = [pool(), ad, *(node(n) for n in NODES), service(), endpoints("web", "node1")]
    assert layer2(objects)["node"] == last
    assert layer2(objects, members=[n for n in NODES if n != last])["node"] == middle


def test_interfaces_of_the_winner():
    objects = [
        pool(),
        l2ad("a", interfaces=["eth1"], nodeSelectors=[{"matchLabels": {HOST: "node1"}}]),
        l2ad("b", interfaces=["eth2", "eth3"]),
        node("node1"),
        node("node2"),
        service(),
        endpoints("web", "node1"),
    ]
    assert layer2(objects, members=["node1"]) == {
        "node": "node1",
        "interfaces": ["eth1", "eth2", "eth3"],
        "reason": None,
    }
    assert layer2(objects, members=["node2"]) == {
        "node": "node2",
        "interfaces": ["eth2", "eth3"],
        "reason": None,
    }


def test_services_sharing_an_ip_are_announced_from_one_node():
    """Two Local services with the same selector share an IP, but their EndpointSlices disagree
    for a moment (one pod ready for one service only): MetalLB elects per service and the IP gets
    two MACs; here the node that serves both wins."""
    shared = {"metallb.io/allow-shared-ip": "k"}
    first, last = hash_order(NODES)[0], hash_order(NODES)[-1]
    a = service("a", etp="Local", annotations=shared)
    b = service("b", etp="Local", annotations=shared)
    b["spec"]["selector"] = a["spec"]["selector"]
    objects = base(a, endpoints("a", first, last), b, endpoints("b", last))
    result = planner.plan(objects)
    assert (
        result["services"]["default/a"]["ips"] == result["services"]["default/b"]["ips"] == ["198.51.100.10"]
    )
    assert result["announcements"]["198.51.100.10"]["layer2"]["node"] == last
    # what MetalLB would have done, per service
    parsed = parse_config(objects, namespace=NS)
    nodes = {n: node(n) for n in NODES}
    per_service = {
        name: E.elect("198.51.100.10", obj, "default", parsed.config, nodes, [eps], None).node
        for name, obj, eps in (("a", a, endpoints("a", first, last)), ("b", b, endpoints("b", last)))
    }
    assert per_service == {"a": first, "b": last}
    # every speaker agrees on the one winner
    balancers = [
        E.Balancer("default/a", a, ("198.51.100.10",)),
        E.Balancer("default/b", b, ("198.51.100.10",)),
    ]
    slices = [endpoints("a", first, last), endpoints("b", last)]
    said = {
        me: E.elect_all(parsed.config, balancers, nodes, slices, None, my_node=me)["198.51.100.10"].reason
        for me in NODES
    }
    assert [me for me, reason in said.items() if reason is None] == [last]


def test_shared_ip_one_service_without_endpoints_does_not_block_the_other():
    shared = {"metallb.io/allow-shared-ip": "k"}
    objects = base(
        service("a", annotations=shared), service("b", annotations=shared), endpoints("b", "node1")
    )
    got = layer2(objects)
    assert got["node"] == hash_order(NODES)[0] and got["reason"] is None


def test_dual_stack_service_announces_both_ips_from_one_node():
    objects = base(service(ips=["198.51.100.10", "2001:db8:1::10"]), endpoints("web", "node1"))
    result = planner.plan(objects)
    assert result["errors"] == []
    v4 = result["announcements"]["198.51.100.10"]["layer2"]
    v6 = result["announcements"]["2001:db8:1::10"]["layer2"]
    assert v4 == v6 and v4["node"] == hash_order(NODES, "198.51.100.10")[0]


def test_only_assigned_load_balancers_are_reported():
    ignored = service("other-class", "198.51.100.12")
    ignored["spec"]["loadBalancerClass"] = "example.com/other"
    pending = service("pending", "198.51.100.99")  # outside every pool
    result = planner.plan(base(service(), endpoints("web", "node1"), ignored, pending))
    assert list(result["announcements"]) == ["198.51.100.10"]


def test_invalid_configuration_has_no_announcements():
    result = planner.plan([pool(addresses=["not-an-ip"]), l2ad(), node("node1"), service()])
    assert result["errors"] and result["announcements"] == {}


def test_elect_all_reports_ips_outside_every_pool_and_garbage():
    parsed = parse_config([pool(), l2ad()], namespace=NS)
    svc = service()
    decisions = E.elect_all(
        parsed.config,
        [E.Balancer("default/web", svc, ("198.51.100.99", "bogus")), E.Balancer("default/x", svc, ("bad",))],
        {"node1": node("node1")},
        [endpoints("web", "node1")],
        None,
    )
    assert decisions == {
        "198.51.100.99": E.L2Decision(None, (), E.IP_NOT_ALLOWED),
        "bad": E.L2Decision(None, (), E.INVALID_IP),
        "bogus": E.L2Decision(None, (), E.INVALID_IP),
    }


# ----------------------------------------------------------------- CLI and module


def test_cli_members_option(tmp_path, capsys):
    path = tmp_path / "objects.json"
    path.write_text(json.dumps({"kind": "List", "items": base(service(), endpoints("web", "node1"))}))
    first, second, _unused = hash_order(NODES)
    assert cli.main(["plan", "-f", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["announcements"]["198.51.100.10"]["layer2"]["node"] == first
    assert cli.main(["plan", "-f", str(path), "--members", "%s, %s" % (second, "node-gone")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["announcements"]["198.51.100.10"]["layer2"]["node"] == second
    assert cli.main(["plan", "-f", str(path), "--members", ""]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["announcements"]["198.51.100.10"]["layer2"]["reason"] == E.NO_MATCHING_ADVERTISEMENT


def test_module_members_option(capsys):
    from ansible.module_utils.testing import patch_module_args

    from ansible_collections.metal.lb.plugins.modules import plan as plan_module

    first, second, _unused = hash_order(NODES)
    for args, want in (({}, first), ({"members": [second]}, second)):
        with (
            patch_module_args({"objects": base(service(), endpoints("web", "node1")), **args}),
            pytest.raises(SystemExit),
        ):
            plan_module.main()
        result = json.loads(capsys.readouterr().out)
        assert result["announcements"]["198.51.100.10"]["layer2"] == {
            "node": want,
            "interfaces": [],
            "reason": None,
        }


# ----------------------------------------------------------------- speakers agree with the planner

NAMES = ("n0", "n1", "n2", "n3", "n4")


@st.composite
def clusters(draw):
    """Random nodes (labels, exclusion, NetworkUnavailable), advertisements with node selectors,
    preferences and service selectors, services (policy, sharing) with endpoints, members."""
    nodes = {}
    for name in NAMES:
        labels = {HOST: name, "zone": draw(st.sampled_from(["a", "b"]))}
        if draw(st.booleans()) and draw(st.booleans()):
            labels[E.EXCLUDE_LB_LABEL] = ""
        nodes[name] = node(name, labels, network_unavailable=draw(st.sampled_from([None, False, True])))
    ads = []
    for i in range(draw(st.integers(1, 3))):
        spec = {}
        if draw(st.booleans()):
            spec["nodeSelectors"] = [{"matchLabels": {"zone": draw(st.sampled_from(["a", "b"]))}}]
        if draw(st.booleans()):
            spec["preferredNodeSelectors"] = [
                {
                    "weight": draw(st.integers(1, 100)),
                    "preference": {"matchLabels": {HOST: draw(st.sampled_from(NAMES))}},
                }
            ]
        if draw(st.booleans()) and draw(st.booleans()):
            spec["serviceSelectors"] = [{"matchLabels": {"tier": draw(st.sampled_from(["x", "y"]))}}]
        if draw(st.booleans()):
            spec["interfaces"] = draw(
                st.lists(st.sampled_from(["eth0", "eth1"]), min_size=1, max_size=2, unique=True)
            )
        ads.append(l2ad("ad%d" % i, **spec))
    objects = [pool(), *ads, *nodes.values()]
    share = draw(st.booleans())
    for i in range(draw(st.integers(1, 4))):
        name = "s%d" % i
        ip = "198.51.100.10" if share else "198.51.100.%d" % (10 + i)
        etp = draw(st.sampled_from(["Cluster", "Local"]))
        svc = service(
            name,
            ip,
            etp=etp,
            labels={"tier": draw(st.sampled_from(["x", "y"]))},
            annotations={"metallb.io/allow-shared-ip": "k"} if share else {},
        )
        if share:
            svc["spec"]["selector"] = {"app": "shared"}
        objects.append(svc)
        where = draw(st.lists(st.sampled_from(NAMES), max_size=3))
        if where:
            objects.append(endpoints(name, *where, ready=draw(st.booleans()) or draw(st.booleans())))
    members = draw(st.lists(st.sampled_from(NAMES + ("ghost",)), unique=True))
    return objects, nodes, members


def _speaker_view(objects, result, nodes, members, me):
    """What the speaker on ``me`` computes: the same elect_all, from the Services' status."""
    parsed = parse_config(objects, namespace=NS)
    services = {
        "%s/%s" % (o["metadata"]["namespace"], o["metadata"]["name"]): o
        for o in objects
        if o["kind"] == "Service"
    }
    balancers = [
        E.Balancer(key, services[key], tuple(s["ips"]))
        for key, s in result["services"].items()
        if s["state"] == "assigned" and s["ips"]
    ]
    slices = [o for o in objects if o["kind"] == "EndpointSlice"]
    return E.elect_all(parsed.config, balancers, nodes, slices, members, my_node=me)


@given(clusters())
def test_every_speaker_agrees_with_the_planner(cluster):
    objects, nodes, members = cluster
    result = planner.plan(objects, members=members)
    assert result["errors"] == []
    announcers: dict[str, set[str]] = {ip: set() for ip in result["announcements"]}
    for me in members:
        for ip, decision in _speaker_view(objects, result, nodes, members, me).items():
            if decision.reason is None:
                announcers[ip].add(me)
                assert list(decision.interfaces) == result["announcements"][ip]["layer2"]["interfaces"]
    for ip, entry in result["announcements"].items():
        winner = entry["layer2"]["node"]
        assert announcers[ip] == ({winner} if winner else set()), ip
        if winner is not None:
            assert winner in members and winner in nodes and entry["layer2"]["reason"] is None
            assert E.EXCLUDE_LB_LABEL not in nodes[winner]["metadata"]["labels"]
            assert not E.network_unavailable(nodes[winner])
        else:
            assert entry["layer2"]["reason"] in (
                E.NOT_OWNER,
                E.NO_MATCHING_ADVERTISEMENT,
                E.SHARED_IP_WITH_SERVICE_SELECTOR,
            )
