# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""iBGP end to end in the lab: the three speakers (each with its own FRR) and the lab's FRR router in
one AS (64500), an IPv4 session (TCP-MD5 with a plain ``password``, BFD) and an IPv6 session (holdTime
9 s) per node.

Asserted from the router itself: LOCAL_PREF (sent on iBGP only), a Community alias and a large
community on the IPv4 and IPv6 prefixes, with every node as an ECMP next hop; the hold time the
router negotiated. Then that ``metal-lb plan`` on the cluster's objects says what the router
received, node by node; that each node's status file (what ``metal.lb.announce`` reports) shows its
sessions up with BFD and prefixes sent; and that the BGPPeers carry ``sessionUp`` / ``sessionDown``
Events as the router takes its side of the IPv6 sessions down and up."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile

import bgp_objects as k
import pytest
from routers import ESTABLISHED, IPV4, IPV6, FrrRouter, Neighbor, RouterSpec, missing, nodes_established, wait_for

from lab import topology
from lab.cluster import METAL_LB, SPEAKER_STATUS, python

from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.status_file import bgp_sessions

ASN = 64500
PASSWORD = "lab-ibgp-md5"
BFD_MS, BFD_MULT = 100, 3
LOCAL_PREF = 250
ROUTER_SPEC = RouterSpec(ASN, topology.ROUTER_V4, (
    Neighbor(ASN, listen_range=topology.V4_PREFIX, families=(IPV4,), bfd=True, bfd_interval_ms=BFD_MS,
             bfd_multiplier=BFD_MULT, password=PASSWORD),
    Neighbor(ASN, listen_range=topology.V6_PREFIX, families=(IPV6,)),
))
LAB_OPTIONS = {"router": functools.partial(FrrRouter, spec=ROUTER_SPEC), "speakers": True}


@pytest.fixture(scope="module", autouse=True)
def router_present():
    reason = missing("frr")
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def bgp(cluster):
    cluster.create_custom("bfdprofiles", k.bfd("fast", receiveInterval=BFD_MS, transmitInterval=BFD_MS,
                                                detectMultiplier=BFD_MULT))
    cluster.create_custom("communities", k.community("lab-aliases", edge="64500:300"))
    cluster.create_custom("ipaddresspools", k.pool("ibgp-pool", addresses=(topology.POOL_V4, topology.POOL_V6)))
    cluster.create_custom("bgpadvertisements", k.bgpad("ibgp-adv", ipAddressPools=["ibgp-pool"], localPref=LOCAL_PREF,
                                                       communities=["edge", "large:64500:7:8"]))
    cluster.create_custom("bgppeers", k.peer("ibgp4", myASN=ASN, peerASN=ASN, peerAddress=topology.ROUTER_V4,
                                             password=PASSWORD, bfdProfile="fast", connectTime="2s"))
    cluster.create_custom("bgppeers", k.peer("ibgp6", myASN=ASN, peerASN=ASN, peerAddress=topology.ROUTER_V6,
                                             holdTime="9s", connectTime="2s"))
    return nodes_established(cluster, "every node's iBGP sessions with the router (the IPv4 ones TCP-MD5 signed)")


@pytest.fixture(scope="module")
def web(cluster, bgp):
    cluster.create_service("web", replicas=3, dual_stack=True)
    ips = cluster.wait_ingress("web", count=2, timeout=60)
    return next(ip for ip in ips if ":" not in ip), next(ip for ip in ips if ":" in ip)


def neighbors(router) -> dict:
    data = json.loads(router.frr.vtysh(["show bgp neighbors json"]) or "{}")
    return {a: n for a, n in data.items() if isinstance(n, dict)}


def test_the_router_negotiated_the_peers_hold_time(cluster, bgp):
    ours = neighbors(bgp)
    for node in cluster.node_addrs.values():
        assert ours[node.v6]["bgpTimerHoldTimeMsecs"] == 9000, ours[node.v6]  # holdTime 9s < the router's 180 s
        assert ours[node.v4]["bgpTimerHoldTimeMsecs"] != 9000  # another BGPPeer, FRR's default


def test_local_pref_and_communities_reach_the_router_over_ibgp_with_every_node(cluster, web):
    v4, v6 = web
    router = cluster.router
    expected = {IPV4: (v4 + "/32", {a.v4 for a in cluster.node_addrs.values()}),
                IPV6: (v6 + "/128", {a.v6 for a in cluster.node_addrs.values()})}
    for family, (prefix, hops) in expected.items():
        view = wait_for(lambda f=family, p=prefix, h=hops: (
            (router.route_views(f).get(p) is not None and router.route_views(f)[p].next_hops == h),
            router.route_views(f).get(p)), 30, 0.2, "%s from every node" % prefix)
        view = router.route_views(family)[prefix]
        assert view.local_pref == LOCAL_PREF, view
        assert view.communities == {"64500:300"} and view.large_communities == {"64500:7:8"}, view
    wait_for(lambda: (router.fib(IPV4).get(v4 + "/32") == expected[IPV4][1], router.fib(IPV4)), 30, 0.2,
             "the router's ECMP route")


def _cluster_objects(cluster) -> list[dict]:
    """The objects ``metal-lb plan`` reads, as ``kubectl get -o json`` would give them."""
    api = cluster.api
    items: list[dict] = []
    for kind, listed in (("Node", cluster.core.list_node()),
                         ("Service", cluster.core.list_service_for_all_namespaces()),
                         ("EndpointSlice", cluster.discovery.list_endpoint_slice_for_all_namespaces())):
        version = "discovery.k8s.io/v1" if kind == "EndpointSlice" else "v1"
        for obj in listed.items:
            items.append(dict(api.sanitize_for_serialization(obj), apiVersion=version, kind=kind))
    for plural, version in (("ipaddresspools", "v1beta1"), ("bgpadvertisements", "v1beta1"),
                            ("bgppeers", "v1beta2"), ("bfdprofiles", "v1beta1"), ("communities", "v1beta1")):
        items.extend(cluster.custom.list_namespaced_custom_object("metallb.io", version, k.NS, plural)["items"])
    return items


def test_the_planner_says_what_the_router_received(cluster, web):
    v4, v6 = web
    router = cluster.router
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"apiVersion": "v1", "kind": "List", "items": _cluster_objects(cluster)}, handle)
    try:
        out = subprocess.run([python(), str(METAL_LB), "plan", "-f", handle.name], capture_output=True, text=True,
                             timeout=120, check=False)
    finally:
        os.unlink(handle.name)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    announcements = json.loads(out.stdout)["announcements"]
    for ip, family, length, peer in ((v4, IPV4, 32, "ibgp4"), (v6, IPV6, 128, "ibgp6")):
        prefix = "%s/%d" % (ip, length)
        view = router.route_views(family)[prefix]
        planned = announcements[ip]["bgp"]
        assert set(planned) == set(cluster.node_addrs)
        for node, entry in planned.items():
            assert entry == {"peers": [peer], "prefixes": [prefix], "communities": sorted(view.communities),
                             "large_communities": ["large:" + c for c in sorted(view.large_communities)],
                             "local_pref": view.local_pref}, (node, entry, view)
        assert view.next_hops == {getattr(cluster.node_addrs[n], "v6" if family == IPV6 else "v4") for n in planned}


def test_each_nodes_status_file_shows_its_sessions(cluster, web):
    def sessions(node):
        try:
            with open(SPEAKER_STATUS % node, encoding="utf-8") as handle:
                return {s["name"]: s for s in bgp_sessions(json.load(handle))}
        except (OSError, ValueError):
            return {}

    for node in cluster.node_addrs:
        got = wait_for(lambda n=node: ((lambda s: s.get("ibgp4", {}).get("bfd") == "up" and
                                        s.get("ibgp6", {}).get("prefixes_sent") == 1)(sessions(n)), sessions(n)),
                       30, 0.2, "%s's sessions in its status file" % node)
        assert got["ibgp4"]["state"] == got["ibgp6"]["state"] == ESTABLISHED
        assert got["ibgp4"]["peer"] == topology.ROUTER_V4 and got["ibgp6"]["peer"] == topology.ROUTER_V6
        assert got["ibgp4"]["prefixes_sent"] == 1 and got["ibgp4"]["uptime"] is not None
        assert got["ibgp6"]["bfd"] is None  # no bfdProfile


def _events(cluster, peer: str, reason: str) -> set[str]:
    """The nodes named by ``reason`` Events on BGPPeer ``peer``."""
    listed = cluster.core.list_namespaced_event(k.NS, field_selector="involvedObject.kind=BGPPeer,"
                                                                     "involvedObject.name=%s" % peer)
    return {n for e in listed.items if e.reason == reason for n in cluster.node_addrs if '"%s"' % n in e.message}


def test_session_up_and_down_are_events_on_the_bgppeer(cluster, bgp):
    everyone = set(cluster.node_addrs)
    wait_for(lambda: (_events(cluster, "ibgp4", "sessionUp") == everyone, _events(cluster, "ibgp4", "sessionUp")),
             30, 0.5, "sessionUp Events from every node on BGPPeer ibgp4")
    assert _events(cluster, "ibgp6", "sessionDown") == set()
    group = "range1"  # the router's IPv6 listen range
    bgp.frr.vtysh(["configure terminal", "router bgp %d" % ASN, "neighbor %s shutdown" % group, "end"])
    try:
        wait_for(lambda: (_events(cluster, "ibgp6", "sessionDown") == everyone,
                          _events(cluster, "ibgp6", "sessionDown")), 30, 0.5, "sessionDown Events on ibgp6")
    finally:
        bgp.frr.vtysh(["configure terminal", "router bgp %d" % ASN, "no neighbor %s shutdown" % group, "end"])
    wait_for(lambda: (all(bgp.sessions().get(a.v6) == ESTABLISHED for a in cluster.node_addrs.values()),
                      bgp.sessions()), 60, 0.5, "the IPv6 sessions back")
    assert _events(cluster, "ibgp4", "sessionDown") == set()  # the IPv4 sessions never went down
    assert all(proc.poll() is None for proc in cluster.speakers.values())


def test_the_plain_password_is_never_logged(cluster, bgp):
    for node in cluster.node_addrs:
        assert cluster.logs("speaker-" + node) and PASSWORD not in cluster.logs("speaker-" + node)
    assert PASSWORD not in cluster.logs("controller")
