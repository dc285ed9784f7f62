# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer-2 election: MetalLB's speaker/layer2_controller_test.go cases (ported as data; the
expected winners there are sha256-derived, so they check our ordering independently), plus the
planner's global view. Those cases keep MetalLB's addresses (10.20.30.x): the winners are hashes of
them. They are strings in a pure function here; no packet is ever sent to them."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.model import (
    Config,
    L2Advertisement,
    LabelSelector,
)
from ansible_collections.metal.lb.plugins.module_utils.engine import election as E

POOL = "default"
HOST = "kubernetes.io/hostname"


def on_nodes(*names: str) -> tuple[LabelSelector, ...]:
    """nodeSelectors selecting exactly ``names`` (MetalLB's tests give ``Nodes`` maps)."""
    return (LabelSelector(match_expressions=((HOST, "In", tuple(sorted(names))),)),)


def sel(**labels: str) -> LabelSelector:
    return LabelSelector(match_labels=tuple(sorted(labels.items())))


def ad(name="ad", nodes=None, interfaces=(), service_selectors=(), preferred=(), pools=(POOL,)):
    return L2Advertisement(
        name=name,
        pools=pools,
        node_selectors=on_nodes(*nodes) if nodes else (),
        interfaces=tuple(interfaces),
        service_selectors=tuple(service_selectors),
        preferred_nodes=tuple(preferred),
    )


def cfg(*ads: L2Advertisement) -> Config:
    return Config(l2_advertisements=tuple(ads))


def node(name: str, labels=None, unavailable=None) -> dict:
    obj = {"metadata": {"name": name, "labels": {HOST: name, **(labels or {})}}, "status": {}}
    if unavailable is not None:
        obj["status"]["conditions"] = [
            {"type": "Ready", "status": "True"},
            {"type": "NetworkUnavailable", "status": "True" if unavailable else "False"},
        ]
    return obj


def nodes_of(*names: str, excluded=()) -> dict:
    return {n: node(n, {E.EXCLUDE_LB_LABEL: ""} if n in excluded else None) for n in names}


def svc(etp="Cluster", labels=None, annotations=None) -> dict:
    return {
        "metadata": {
            "name": "svc",
            "namespace": "ns",
            "labels": labels or {},
            "annotations": annotations or {},
        },
        "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp},
    }


def ep(node_name, ready=True, serving=None):
    conditions = {}
    if ready is not None:
        conditions["ready"] = ready
    if serving is not None:
        conditions["serving"] = serving
    return {"addresses": ["2.3.4.5"], "nodeName": node_name, "conditions": conditions}


def slices(*endpoints, split=False):
    if split:
        return [{"endpoints": [e]} for e in endpoints]
    return [{"endpoints": list(endpoints)}]


def reason_for(me, ip, service, config, nodes, eps, members=("iris1", "iris2"), **kw):
    return E.elect(ip, service, POOL, config, nodes, eps, members, my_node=me, **kw).reason


def as_metallb(reason):
    """MetalLB's ShouldAnnounce returns "" for 'announce'."""
    return "" if reason is None else reason


ALL = cfg(ad(nodes=("iris1", "iris2")))
IRIS = nodes_of("iris1", "iris2")


# ----------------------------------------------------------------- TestUsableNodesEPSlices*


def test_memberlist_disabled_every_node_is_a_candidate():
    eps = slices(ep("iris1"), ep("iris1"))
    d = E.elect("10.20.30.1", svc("Local"), POOL, ALL, IRIS, eps, None, my_node="iris1")
    assert d == E.L2Decision("iris1", (), None)


@pytest.mark.parametrize(
    "endpoints, split, expected",
    [
        ((ep("iris1"), ep("iris2")), True, {"iris1", "iris2"}),
        ((ep("iris1"), ep("iris2")), False, {"iris1", "iris2"}),
        ((ep("iris1"), ep("iris1")), False, {"iris1"}),
        ((ep("iris1"), ep("iris1", ready=False)), False, {"iris1"}),
        ((ep("iris1", False, True), ep("iris2", False, True)), False, {"iris1", "iris2"}),
        ((ep("iris1", True, False), ep("iris2", True, False)), False, {"iris1", "iris2"}),
    ],
)
def test_nodes_with_serving_endpoints(endpoints, split, expected):
    """ETP Local keeps exactly the nodes with a serving endpoint: each of them wins when it is
    the only member, the others never do."""
    eps = slices(*endpoints, split=split)
    winners = {
        n
        for n in ("iris1", "iris2")
        if E.elect("10.20.30.1", svc("Local"), POOL, ALL, IRIS, eps, [n]).node == n
    }
    assert winners == expected


# ----------------------------------------------------------------- TestShouldAnnounceEPSlices

EPSLICE_CASES = [
    # (description, {ip: endpoints}, {ip: (c1 expected, c2 expected)})
    ("one host, c1 announces", {"10.20.30.1": (ep("iris1"), ep("iris1"))}, {"10.20.30.1": ("", "notOwner")}),
    (
        "one host, not ready, nobody",
        {"10.20.30.1": (ep("iris1", False), ep("iris1", False))},
        {"10.20.30.1": ("notOwner", "notOwner")},
    ),
    (
        "two hosts, c2 announces",
        {"10.20.30.1": (ep("iris1"), ep("iris2", False, True))},
        {"10.20.30.1": ("notOwner", "")},
    ),
    (
        "two hosts, neither ready",
        {"10.20.30.1": (ep("iris1", False), ep("iris2", False))},
        {"10.20.30.1": ("notOwner", "notOwner")},
    ),
    (
        "two hosts, c2 not ready, c1 announces",
        {"10.20.30.1": (ep("iris1"), ep("iris2", False))},
        {"10.20.30.1": ("", "notOwner")},
    ),
    (
        "two services, one each",
        {"10.20.30.1": (ep("iris1"), ep("iris2")), "10.20.30.2": (ep("iris1"), ep("iris2"))},
        {"10.20.30.1": ("notOwner", ""), "10.20.30.2": ("", "notOwner")},
    ),
    (
        "two services, .2 not ready on c2",
        {"10.20.30.1": (ep("iris1"), ep("iris2")), "10.20.30.2": (ep("iris1"), ep("iris2", False))},
        {"10.20.30.1": ("notOwner", ""), "10.20.30.2": ("", "notOwner")},
    ),
    (
        "two services, each ready on one",
        {"10.20.30.1": (ep("iris2"), ep("iris1", False)), "10.20.30.2": (ep("iris1"), ep("iris2", False))},
        {"10.20.30.1": ("notOwner", ""), "10.20.30.2": ("", "notOwner")},
    ),
    (
        "three endpoints, c2 hosts two",
        {"10.20.30.1": (ep("iris1"), ep("iris2"), ep("iris2"))},
        {"10.20.30.1": ("notOwner", "")},
    ),
    (
        "three endpoints, c1 hosts two",
        {"10.20.30.1": (ep("iris1"), ep("iris2"), ep("iris1"))},
        {"10.20.30.1": ("notOwner", "")},
    ),
    (
        "three endpoints, c1 hosts two, one not ready",
        {"10.20.30.1": (ep("iris1"), ep("iris2"), ep("iris1", False))},
        {"10.20.30.1": ("notOwner", "")},
    ),
    (
        "three endpoints, c2's two not ready",
        {"10.20.30.1": (ep("iris1"), ep("iris2", False), ep("iris2", False))},
        {"10.20.30.1": ("", "notOwner")},
    ),
]


@pytest.mark.parametrize("desc, eps_by_ip, expected", EPSLICE_CASES, ids=[c[0] for c in EPSLICE_CASES])
def test_should_announce_endpoint_slices(desc, eps_by_ip, expected):
    for ip, endpoints in eps_by_ip.items():
        got = tuple(
            as_metallb(reason_for(me, ip, svc("Local"), ALL, IRIS, slices(*endpoints)))
            for me in ("iris1", "iris2")
        )
        assert got == expected[ip], ip


# ----------------------------------------------------------------- TestShouldAnnounceFromNodes

BOTH = (ad(nodes=("iris1", "iris2")),)
ON_IRIS1 = (ad(nodes=("iris1",)),)
ON_IRIS2 = (ad(nodes=("iris2",)),)
SPLIT = (ad("a1", nodes=("iris1",)), ad("a2", nodes=("iris2",)))
EPS_IRIS1 = slices(ep("iris1"))
EPS_BOTH = slices(ep("iris1"), ep("iris2"))

FROM_NODES = [
    (
        "endpoint on iris1, ad on iris1",
        EPS_IRIS1,
        ON_IRIS1,
        "Cluster",
        (),
        False,
        ("", "noMatchingAdvertisement"),
    ),
    ("etp local, endpoint on iris1, split ads", EPS_IRIS1, SPLIT, "Local", (), False, ("", "notOwner")),
    ("endpoint on iris1, ad on both", EPS_IRIS1, BOTH, "Cluster", (), False, ("notOwner", "")),
    (
        "endpoints on both, ad on iris1",
        EPS_BOTH,
        ON_IRIS1,
        "Cluster",
        (),
        False,
        ("", "noMatchingAdvertisement"),
    ),
    (
        "etp local endpoint on iris1, ad on iris2",
        EPS_IRIS1,
        ON_IRIS2,
        "Local",
        (),
        False,
        ("noMatchingAdvertisement", "notOwner"),
    ),
    ("iris2 excluded", EPS_IRIS1, BOTH, "Cluster", ("iris2",), False, ("", "notOwner")),
    ("iris1 excluded", EPS_IRIS1, BOTH, "Cluster", ("iris1",), False, ("notOwner", "")),
    ("both excluded", EPS_IRIS1, BOTH, "Cluster", ("iris1", "iris2"), False, ("notOwner", "notOwner")),
    (
        "etp local, both excluded, ignore-exclude-lb",
        EPS_IRIS1,
        BOTH,
        "Local",
        ("iris1", "iris2"),
        True,
        ("", "notOwner"),
    ),
]


@pytest.mark.parametrize(
    "desc, eps, ads, etp, excluded, ignore, expected", FROM_NODES, ids=[c[0] for c in FROM_NODES]
)
def test_should_announce_from_nodes(desc, eps, ads, etp, excluded, ignore, expected):
    nodes = nodes_of("iris1", "iris2", excluded=excluded)
    got = tuple(
        as_metallb(reason_for(me, "10.20.30.1", svc(etp), cfg(*ads), nodes, eps, ignore_exclude_lb=ignore))
        for me in ("iris1", "iris2")
    )
    assert got == expected


# ----------------------------------------------------------------- TestClusterPolicy


def test_cluster_policy_one_speaker_per_ip_and_shared_ips_agree():
    eps1, eps2 = slices(ep("iris1")), slices(ep("iris2"))
    won = {"iris1": 0, "iris2": 0}
    for i in range(1, 256):
        ip = "10.20.30.%d" % i
        r = {
            (me, name): reason_for(me, ip, svc(), ALL, IRIS, eps)
            for me in ("iris1", "iris2")
            for name, eps in (("svc1", eps1), ("svc2", eps2))
        }
        assert (r["iris1", "svc1"] is None) != (r["iris2", "svc1"] is None), ip
        assert r["iris1", "svc1"] == r["iris1", "svc2"] and r["iris2", "svc1"] == r["iris2", "svc2"], ip
        for me in won:
            won[me] += r[me, "svc1"] is None
    assert won["iris1"] > 0 and won["iris2"] > 0


# ----------------------------------------------------------------- service selectors / shared IPs

ONE = nodes_of("iris1")


@pytest.mark.parametrize(
    "selectors, expected",
    [
        ((), ""),
        ((sel(app="nginx"),), ""),
        ((sel(app="apache"),), "noMatchingAdvertisement"),
        ((sel(app="apache"), sel(app="nginx")), ""),
    ],
    ids=["empty", "matching", "non-matching", "or"],
)
def test_l2_service_selectors(selectors, expected):
    c = cfg(ad(nodes=("iris1",), service_selectors=selectors))
    got = reason_for(
        "iris1", "10.20.30.1", svc(labels={"app": "nginx"}), c, ONE, EPS_IRIS1, members=["iris1"]
    )
    assert as_metallb(got) == expected


@pytest.mark.parametrize(
    "ads, annotations, expected",
    [
        (
            (ad(nodes=("iris1",), service_selectors=(sel(app="nginx"),)),),
            {"metallb.io/allow-shared-ip": "s"},
            "sharedIPWithServiceSelector",
        ),
        ((ad(nodes=("iris1",)),), {"metallb.io/allow-shared-ip": "s"}, ""),
        ((ad(nodes=("iris1",), service_selectors=(sel(app="nginx"),)),), {}, ""),
        (
            (ad(nodes=("iris1",), service_selectors=(sel(app="nginx"),)),),
            {"metallb.universe.tf/allow-shared-ip": "s"},
            "sharedIPWithServiceSelector",
        ),
        (
            (ad("a", nodes=("iris1",)), ad("b", nodes=("iris1",), service_selectors=(sel(app="nginx"),))),
            {"metallb.io/allow-shared-ip": "s"},
            "sharedIPWithServiceSelector",
        ),
    ],
    ids=["denied", "no-selectors", "no-annotation", "deprecated-key", "mixed"],
)
def test_shared_ip_with_service_selectors(ads, annotations, expected):
    service = svc(labels={"app": "nginx"}, annotations=annotations)
    assert (
        as_metallb(reason_for("iris1", "10.20.30.1", service, cfg(*ads), ONE, EPS_IRIS1, members=["iris1"]))
        == expected
    )
    # the planner reports the same reason
    d = E.elect("10.20.30.1", service, POOL, cfg(*ads), ONE, EPS_IRIS1, None)
    assert as_metallb(d.reason) == expected and (d.node is None) == bool(expected)


def test_shared_ip_ignores_selectors_of_ads_that_do_not_match_the_service():
    """Step 3 looks only at the ads left after service matching (step 2)."""
    c = cfg(ad("a", nodes=("iris1",)), ad("b", nodes=("iris1",), service_selectors=(sel(app="other"),)))
    service = svc(labels={"app": "nginx"}, annotations={"metallb.io/allow-shared-ip": "k"})
    assert reason_for("iris1", "10.20.30.1", service, c, ONE, EPS_IRIS1, members=["iris1"]) is None


def test_ads_for_service():
    a1 = ad("a1", nodes=("nodeA",))
    a2 = ad("a2", nodes=("nodeA",), service_selectors=(sel(app="nginx"),))
    a3 = ad("a3", nodes=("nodeA",), service_selectors=(sel(app="apache"),))
    a4 = ad("a4", nodes=("nodeB",))
    other_pool = ad("a5", pools=("other",))
    service = svc(labels={"app": "nginx"})
    assert E.ads_for_service(cfg(a1), POOL, service) == [a1]
    assert E.ads_for_service(cfg(a2), POOL, service) == [a2]
    assert E.ads_for_service(cfg(a3), POOL, service) == []
    assert E.ads_for_service(cfg(a4), POOL, service) == [a4]
    assert set(E.ads_for_service(cfg(a3, a2, a1, other_pool), POOL, service)) == {a2, a1}


# ----------------------------------------------------------------- per-node ads and interfaces


def test_election_consistent_but_interfaces_per_node():
    c = cfg(
        ad("a", nodes=("iris1",), interfaces=("eth0",), service_selectors=(sel(app="web"),)),
        ad("b", nodes=("iris2",), interfaces=("eth1",), service_selectors=(sel(app="web"),)),
    )
    service = svc(labels={"app": "web"})
    r = [reason_for(me, "10.20.30.1", service, c, IRIS, EPS_BOTH) for me in ("iris1", "iris2")]
    assert (r[0] is None) != (r[1] is None)
    ads = E.ads_for_service(c, POOL, service)
    assert E.interfaces_for(ads, IRIS["iris1"]["metadata"]["labels"]) == ("eth0",)
    assert E.interfaces_for(ads, IRIS["iris2"]["metadata"]["labels"]) == ("eth1",)
    d = E.elect("10.20.30.1", service, POOL, c, IRIS, EPS_BOTH, ["iris1", "iris2"])
    assert d.interfaces == {"iris1": ("eth0",), "iris2": ("eth1",)}[d.node]


def test_no_matching_ad_for_service_and_node():
    c = cfg(
        ad("a", nodes=("iris1", "iris2"), service_selectors=(sel(app="other"),)),
        ad("b", nodes=("ghost",), service_selectors=(sel(app="web"),)),
    )
    service = svc(labels={"app": "web"})
    for me in ("iris1", "iris2"):
        assert reason_for(me, "10.20.30.1", service, c, IRIS, EPS_BOTH) == E.NO_MATCHING_ADVERTISEMENT
    assert E.elect("10.20.30.1", service, POOL, c, IRIS, EPS_BOTH, None) == E.L2Decision(
        None, (), E.NO_MATCHING_ADVERTISEMENT
    )


@pytest.mark.parametrize(
    "app, expected", [("foo", ("", "noMatchingAdvertisement")), ("bar", ("noMatchingAdvertisement", ""))]
)
def test_service_selector_filters_candidate_nodes(app, expected):
    c = cfg(
        ad("a", nodes=("iris1",), service_selectors=(sel(app="foo"),)),
        ad("b", nodes=("iris2",), service_selectors=(sel(app="bar"),)),
    )
    got = tuple(
        as_metallb(reason_for(me, "10.20.30.1", svc(labels={"app": app}), c, IRIS, EPS_BOTH))
        for me in ("iris1", "iris2")
    )
    assert got == expected


@pytest.mark.parametrize(
    "interfaces, expected",
    [
        (((),), ()),
        ((("eth1", "eth2"),), ("eth1", "eth2")),
        ((("eth0", "eth1"), ("eth0", "eth2")), ("eth0", "eth1", "eth2")),
        ((("eth0", "eth1"), ()), ()),
    ],
    ids=["all", "single", "merged", "one-all"],
)
def test_interfaces_for(interfaces, expected):
    ads = [ad("a%d" % i, interfaces=ifs) for i, ifs in enumerate(interfaces)]
    assert E.interfaces_for(ads, {}) == expected


# ----------------------------------------------------------------- ordering and preferences


@pytest.mark.parametrize(
    "candidates, ip, scores, want",
    [
        ((), "10.0.0.1", None, []),
        (("node-a",), "10.0.0.1", None, ["node-a"]),
        (("node-a", "node-b", "node-c"), "10.0.0.1", None, ["node-b", "node-a", "node-c"]),
        (("node-a", "node-b", "node-c"), "10.0.0.2", None, ["node-b", "node-c", "node-a"]),
        (
            ("edge-a", "edge-b", "worker-a", "worker-b"),
            "10.20.30.1",
            {"edge-a": 100},
            ["edge-a", "edge-b", "worker-a", "worker-b"],
        ),
        (("node-a", "node-b"), "10.20.30.1", {"node-a": 100, "node-b": 100}, ["node-b", "node-a"]),
        (
            ("edge-a", "edge-b", "worker-a"),
            "10.20.30.1",
            {"edge-a": 100, "edge-b": 100},
            ["edge-b", "edge-a", "worker-a"],
        ),
        (("iris1", "iris2"), "10.20.30.1", None, ["iris2", "iris1"]),
        (("iris1", "iris2"), "10.20.30.2", None, ["iris1", "iris2"]),
    ],
)
def test_order_candidates(candidates, ip, scores, want):
    assert E.order_candidates(candidates, ip, scores) == want
    assert E.order_candidates(list(reversed(candidates)), ip, scores) == want


def test_preference_scores_sum_across_ads_within_each_ads_nodes():
    edge, worker = {HOST: "a", "role": "edge"}, {HOST: "b", "role": "worker"}
    ads = [
        ad("p1", preferred=((70, sel(role="edge")),)),
        ad("p2", preferred=((30, sel(role="edge")), (50, sel(role="worker")))),
        ad("p3", nodes=("b",), preferred=((5, sel(role="edge")),)),
    ]
    assert E.preference_score(ads, edge) == 100  # p3 does not select node a
    assert E.preference_score(ads, worker) == 50
    assert E.preference_score([ad()], edge) == 0
    assert E.preference_score([], edge) == 0


def _winners(c, service, eps, members, nodes):
    return [
        me
        for me in members
        if E.elect("10.20.30.1", service, POOL, c, nodes, eps, members, my_node=me).reason is None
    ]


def test_preferred_node_with_highest_score_wins():
    names = ("edge-a", "edge-b", "worker-a", "worker-b")
    nodes = {n: node(n, {"role": n.split("-", maxsplit=1)[0]}) for n in names}
    c = cfg(ad(preferred=((100, sel(**{HOST: "edge-a"})),)))
    assert _winners(c, svc(), slices(ep("worker-a")), list(names), nodes) == ["edge-a"]


def test_etp_local_drops_preferred_node_without_endpoints():
    nodes = nodes_of("preferred-a", "worker-a")
    c = cfg(ad(preferred=((100, sel(**{HOST: "preferred-a"})),)))
    assert _winners(c, svc("Local"), slices(ep("worker-a")), ["preferred-a", "worker-a"], nodes) == [
        "worker-a"
    ]


def test_split_brain_with_mixed_ads():
    """Scores come from every service-matching ad (not only mine); a poison ad that does not
    match the service must not count."""
    nodes = nodes_of("edge-a", "worker-a")
    c = cfg(
        ad("edge", nodes=("edge-a",), preferred=((100, sel(**{HOST: "edge-a"})),)),
        ad("all", nodes=("edge-a", "worker-a")),
        ad(
            "poison",
            nodes=("edge-a", "worker-a"),
            preferred=((100, sel(**{HOST: "worker-a"})), (100, sel(**{HOST: "worker-a"}))),
            service_selectors=(sel(app="does-not-match"),),
        ),
    )
    assert _winners(c, svc(), slices(ep("worker-a")), ["edge-a", "worker-a"], nodes) == ["edge-a"]


def test_preferred_node_failover_stages():
    nodes = nodes_of("edge-a", "edge-b", "worker-a", "worker-b")
    c = cfg(ad(preferred=((100, LabelSelector(match_expressions=((HOST, "In", ("edge-a", "edge-b")),))),)))
    eps = slices(ep("worker-a"))
    assert _winners(c, svc(), eps, ["edge-b", "worker-a"], nodes) == ["edge-b"]
    assert _winners(c, svc(), eps, ["edge-a", "edge-b", "worker-a"], nodes) == ["edge-b"]
    assert _winners(c, svc(), eps, ["worker-a", "worker-b"], nodes) == ["worker-a"]


# ----------------------------------------------------------------- beyond MetalLB's unit tests


def test_network_unavailable_and_exclude_label_remove_candidates():
    nodes = {"iris1": node("iris1", unavailable=True), "iris2": node("iris2", unavailable=False)}
    d = E.elect("10.20.30.1", svc(), POOL, ALL, nodes, EPS_BOTH, None)
    assert d == E.L2Decision("iris2", (), None)
    # iris2 would win 10.20.30.1 on hash order; excluding it hands the IP to iris1
    nodes = nodes_of("iris1", "iris2", excluded=("iris2",))
    assert E.elect("10.20.30.1", svc(), POOL, ALL, nodes, EPS_BOTH, None).node == "iris1"
    assert (
        E.elect("10.20.30.1", svc(), POOL, ALL, nodes, EPS_BOTH, None, ignore_exclude_lb=True).node == "iris2"
    )


def test_planner_view_reasons():
    # nobody serving
    assert E.elect("10.20.30.1", svc(), POOL, ALL, IRIS, slices(ep("iris1", False)), None) == E.L2Decision(
        None, (), E.NOT_OWNER
    )
    # an ad selects a live node, but every selected node is unavailable: notOwner, not noMatching
    nodes = {"iris1": node("iris1", unavailable=True), "iris2": node("iris2")}
    assert E.elect("10.20.30.1", svc(), POOL, cfg(*ON_IRIS1), nodes, EPS_BOTH, None).reason == E.NOT_OWNER
    # the only selected node is not a live member: nobody would match
    assert (
        E.elect("10.20.30.1", svc(), POOL, cfg(*ON_IRIS1), IRIS, EPS_BOTH, ["iris2"]).reason
        == E.NO_MATCHING_ADVERTISEMENT
    )
    # no advertisement for the pool at all
    assert (
        E.elect("10.20.30.1", svc(), POOL, cfg(ad(pools=("other",))), IRIS, EPS_BOTH, None).reason
        == E.NO_MATCHING_ADVERTISEMENT
    )


def test_members_without_node_objects_are_never_candidates():
    d = E.elect(
        "10.20.30.1", svc(), POOL, ALL, {"iris1": node("iris1")}, EPS_BOTH, ["iris1", "iris2", "ghost"]
    )
    assert d.node == "iris1"


def test_speaker_learns_the_winner_when_losing():
    d = E.elect("10.20.30.1", svc(), POOL, ALL, IRIS, EPS_BOTH, ["iris1", "iris2"], my_node="iris1")
    assert d == E.L2Decision("iris2", (), E.NOT_OWNER)


def test_ip_is_hashed_in_canonical_form():
    a = E.elect("2001:DB8:0:0::1", svc(), POOL, ALL, IRIS, EPS_BOTH, None)
    b = E.elect("2001:db8::1", svc(), POOL, ALL, IRIS, EPS_BOTH, None)
    assert a == b
    assert a.node == E.order_candidates(["iris1", "iris2"], "2001:db8::1")[0]
    with pytest.raises(ValueError, match="not an IP address"):
        E.elect("10.20.30", svc(), POOL, ALL, IRIS, EPS_BOTH, None)


@pytest.mark.parametrize(
    "conditions, serving",
    [
        ({}, True),
        ({"ready": None}, True),
        ({"ready": True}, True),
        ({"ready": False}, False),
        ({"ready": False, "serving": True}, True),
        ({"ready": False, "serving": False}, False),
        ({"ready": True, "serving": False}, True),
    ],
)
def test_endpoint_serving(conditions, serving):
    assert E.endpoint_serving({"conditions": conditions}) is serving


# ----------------------------------------------------------------- one decision per IP (elect_shared)


def claim(service, endpoints):
    return E.Claim(service, POOL, endpoints)


def test_shared_ip_winner_is_the_node_serving_most_services():
    first, last = E.order_candidates(["iris1", "iris2"], "10.20.30.1")
    a = claim(svc("Local"), slices(ep(first), ep(last)))
    b = claim(svc("Local"), slices(ep(last)))
    # MetalLB, per service: a on `first`, b on `last` -> one IP, two MACs
    assert E.elect_shared("10.20.30.1", [a], ALL, IRIS, None).node == first
    assert E.elect_shared("10.20.30.1", [b], ALL, IRIS, None).node == last
    assert E.elect_shared("10.20.30.1", [a, b], ALL, IRIS, None) == E.L2Decision(last, (), None)
    assert E.elect_shared("10.20.30.1", [b, a], ALL, IRIS, None).node == last
    for me in ("iris1", "iris2"):
        d = E.elect_shared("10.20.30.1", [a, b], ALL, IRIS, None, my_node=me)
        assert (d.reason is None) == (me == last)


def test_shared_ip_services_ruled_out_do_not_count():
    first = E.order_candidates(["iris1", "iris2"], "10.20.30.1")[0]
    idle = claim(svc("Local"), slices(ep(first, ready=False)))  # no serving endpoint: notOwner
    busy = claim(svc(), EPS_BOTH)
    assert E.elect_shared("10.20.30.1", [idle, busy], ALL, IRIS, None) == E.L2Decision(first, (), None)


def test_shared_ip_reason_when_every_service_is_ruled_out():
    sel_ad = cfg(ad(nodes=("iris1", "iris2"), service_selectors=(sel(app="web"),)))
    shared = svc(labels={"app": "web"}, annotations={"metallb.io/allow-shared-ip": "k"})
    no_eps = claim(shared, ())
    selector_clash = claim(shared, EPS_BOTH)
    assert E.elect_shared("10.20.30.1", [no_eps], sel_ad, IRIS, None).reason == E.NOT_OWNER
    assert (
        E.elect_shared("10.20.30.1", [no_eps, selector_clash], sel_ad, IRIS, None).reason
        == E.SHARED_IP_WITH_SERVICE_SELECTOR
    )
    assert E.elect_shared("10.20.30.1", [], ALL, IRIS, None).reason == E.NOT_OWNER


def test_shared_ip_preferences_are_summed_over_services():
    nodes = nodes_of("edge-a", "worker-a")
    assert E.order_candidates(nodes, "10.20.30.1")[0] == "worker-a"
    c = cfg(ad(preferred=((10, sel(**{HOST: "edge-a"})),)))
    both = claim(svc(), slices(ep("worker-a")))
    assert E.elect_shared("10.20.30.1", [both, both], c, nodes, None).node == "edge-a"
    # a Local service only on worker-a outweighs the preference: coverage comes first
    local = claim(svc("Local"), slices(ep("worker-a")))
    assert E.elect_shared("10.20.30.1", [both, local], c, nodes, None).node == "worker-a"


def test_slices_by_service_and_pool_for():
    eps = [
        {"metadata": {"namespace": "ns", "labels": {E.SERVICE_NAME_LABEL: "web"}}, "endpoints": []},
        {"metadata": {"labels": {E.SERVICE_NAME_LABEL: "web"}}, "endpoints": []},
        {"metadata": {"namespace": "ns"}, "endpoints": []},  # no service label: ignored
        "garbage",
    ]
    grouped = E.slices_by_service(eps)
    assert sorted(grouped) == ["default/web", "ns/web"] and len(grouped["ns/web"]) == 1
    from ansible_collections.metal.lb.plugins.module_utils.engine.model import Pool, Segment

    pools = {
        "b": Pool("b", (Segment(4, 0xC6336400, 0xC63364FF, "198.51.100.0/24", ("198.51.100.0/24",), 24),)),
        "a": Pool("a", (Segment(4, 0xC6336401, 0xC6336401, "198.51.100.1/32", ("198.51.100.1/32",), 32),)),
    }
    c = Config(pools=pools)
    assert E.pool_for(c, ["198.51.100.1"]) == "a"
    assert E.pool_for(c, ["198.51.100.2"]) == "b"
    assert E.pool_for(c, ["198.51.100.1", "198.51.100.2"]) == "b"
    assert E.pool_for(c, ["203.0.113.1"]) is None
    assert E.pool_for(c, ["junk"]) is None and E.pool_for(c, []) is None
