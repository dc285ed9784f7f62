# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGPPeer and BGPAdvertisement fields through the three speakers (each with its own FRR), asserted
from the lab's FRR router (AS 64500; it accepts AS 64501 from the lab's IPv4 and IPv6 ranges).

One BGPPeer per node for IPv4, selected by ``nodeSelectors``: node1 runs AS 64510 but presents
64501 (``localASN``) with ``routerID`` 203.0.113.1; node2 uses ``dynamicASN: external``; node3 sets
``holdTime`` / ``keepaliveTime`` and ``ebgpMultiHop``. Advertisements select their pool with
``ipAddressPoolSelectors``; one adds a community on node1 only (``nodeSelectors``), one on labelled
Services only (``serviceSelectors``), one sends ``aggregationLength`` / ``aggregationLengthV6``
prefixes to some peers only (``peers``)."""

from __future__ import annotations

import functools
import ipaddress
import json

import bgp_objects as k
import pytest
from routers import ESTABLISHED, IPV4, IPV6, FrrRouter, Neighbor, RouterSpec, missing, nodes_established, wait_for

from lab import topology

NODE_ASN, ROUTER_ASN, NODE1_ASN = 64501, 64500, 64510
NODE1_ROUTER_ID = "203.0.113.1"
ROUTER_SPEC = RouterSpec(ROUTER_ASN, topology.ROUTER_V4, (
    Neighbor(NODE_ASN, listen_range=topology.V4_PREFIX, families=(IPV4,)),
    Neighbor(NODE_ASN, listen_range=topology.V6_PREFIX, families=(IPV6,)),
))
LAB_OPTIONS = {"router": functools.partial(FrrRouter, spec=ROUTER_SPEC), "speakers": True}
POOL_LABELS = {"bgp": "fields"}
AGG4, AGG6 = 29, 124  # the widest pieces of the lab's pool ranges are a /29 and a /123


@pytest.fixture(scope="module", autouse=True)
def router_present():
    reason = missing("frr")
    if reason:
        pytest.skip(reason)


def on(*nodes: str) -> list[dict]:
    return [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": list(nodes)}]}]


@pytest.fixture(scope="module")
def bgp(cluster):
    pools = [{"matchLabels": POOL_LABELS}]
    cluster.create_custom("ipaddresspools", k.pool("fields-pool", addresses=(topology.POOL_V4, topology.POOL_V6),
                                                   labels=POOL_LABELS))
    for name, spec in (
            ("everywhere", {"communities": ["65000:1"]}),
            ("node1-extra", {"communities": ["65000:11"], "nodeSelectors": on("node1")}),
            ("gold", {"communities": ["65000:99"], "serviceSelectors": [{"matchLabels": {"tier": "gold"}}]}),
            ("aggregated", {"aggregationLength": AGG4, "aggregationLengthV6": AGG6,
                            "peers": ["v4-node3", "v6", "v6-node1"]})):
        cluster.create_custom("bgpadvertisements", k.bgpad(name, ipAddressPoolSelectors=pools, **spec))
    node1 = {"myASN": NODE1_ASN, "localASN": NODE_ASN, "routerID": NODE1_ROUTER_ID, "peerASN": ROUTER_ASN}
    for name, spec in (
            ("v4-node1", dict(node1, peerAddress=topology.ROUTER_V4, nodeSelectors=on("node1"))),
            ("v6-node1", dict(node1, peerAddress=topology.ROUTER_V6, nodeSelectors=on("node1"))),
            ("v4-node2", {"myASN": NODE_ASN, "dynamicASN": "external", "peerAddress": topology.ROUTER_V4,
                          "nodeSelectors": on("node2")}),
            ("v4-node3", {"myASN": NODE_ASN, "peerASN": ROUTER_ASN, "peerAddress": topology.ROUTER_V4,
                          "holdTime": "15s", "keepaliveTime": "5s", "ebgpMultiHop": True,
                          "nodeSelectors": on("node3")}),
            ("v6", {"myASN": NODE_ASN, "peerASN": ROUTER_ASN, "peerAddress": topology.ROUTER_V6,
                    "nodeSelectors": on("node2", "node3")})):
        body = k.peer(name, connectTime="2s", **spec)
        if "dynamicASN" in spec:
            del body["spec"]["peerASN"]  # the builder's default
        cluster.create_custom("bgppeers", body)
    return nodes_established(cluster, "every node's sessions with the router")


@pytest.fixture(scope="module")
def services(cluster, bgp):
    cluster.create_service("plain", replicas=3, dual_stack=True)
    cluster.create_service("shiny", replicas=3)
    cluster.core.patch_namespaced_service("shiny", "default", {"metadata": {"labels": {"tier": "gold"}}})
    plain = cluster.wait_ingress("plain", count=2, timeout=60)
    return {"plain4": next(ip for ip in plain if ":" not in ip), "plain6": next(ip for ip in plain if ":" in ip),
            "shiny": cluster.wait_ingress("shiny", timeout=60)[0]}


def neighbors(router) -> dict:
    data = json.loads(router.frr.vtysh(["show bgp neighbors json"]) or "{}")
    return {a: n for a, n in data.items() if isinstance(n, dict)}


def paths(router, prefix: str) -> dict[str, dict]:
    """The router's paths for ``prefix`` by the peer they came from: communities and AS path."""
    family = IPV6 if ":" in prefix else IPV4
    data = json.loads(router.frr.vtysh(["show bgp %s unicast %s json" % (family, prefix)]) or "{}")
    out = {}
    for path in data.get("paths") or ():
        peer = (path.get("peer") or {}).get("peerId", "?")
        out[peer] = {"communities": set(((path.get("community") or {}).get("string") or "").split()),
                     "as_path": (path.get("aspath") or {}).get("string", "")}
    return out


def wait_paths(router, prefix: str, peers: set[str], seconds: float = 30.0) -> dict[str, dict]:
    return wait_for(lambda: (set(paths(router, prefix)) == peers, paths(router, prefix)), seconds, 0.2,
                    "%s from %s" % (prefix, sorted(peers)))


def test_peer_fields_as_the_router_sees_them(cluster, bgp):
    """localASN + routerID (node1), dynamicASN (node2), holdTime (node3), each node's own BGPPeer."""
    seen = neighbors(bgp)
    n1, n2, n3 = (cluster.node_addrs[n] for n in ("node1", "node2", "node3"))
    assert seen[n1.v4]["remoteAs"] == NODE_ASN and seen[n1.v4]["remoteRouterId"] == NODE1_ROUTER_ID
    assert seen[n1.v6]["remoteRouterId"] == NODE1_ROUTER_ID
    assert seen[n2.v4]["remoteAs"] == NODE_ASN and seen[n2.v4]["bgpState"] == ESTABLISHED
    assert seen[n3.v4]["bgpTimerHoldTimeMsecs"] == 15000, seen[n3.v4]
    assert seen[n2.v4]["bgpTimerHoldTimeMsecs"] != 15000
    assert seen[n3.v4]["remoteRouterId"] != NODE1_ROUTER_ID


def test_advertisement_node_selectors_and_local_asn_on_the_paths(cluster, services):
    nodes = {n: a.v4 for n, a in cluster.node_addrs.items()}
    got = wait_paths(cluster.router, services["plain4"] + "/32", set(nodes.values()))
    assert got[nodes["node1"]]["communities"] == {"65000:1", "65000:11"}
    assert got[nodes["node2"]]["communities"] == got[nodes["node3"]]["communities"] == {"65000:1"}
    assert got[nodes["node1"]]["as_path"] == str(NODE_ASN)  # localASN: AS 64510 never shows


def test_service_selectors_add_the_community_to_labelled_services_only(cluster, services):
    everyone = {a.v4 for a in cluster.node_addrs.values()}
    got = wait_for(lambda: ((lambda p: set(p) == everyone and all("65000:99" in v["communities"] for v in
                                                                   p.values()))(paths(cluster.router, services[
                                                                       "shiny"] + "/32")),
                            paths(cluster.router, services["shiny"] + "/32")), 30, 0.2, "shiny's paths")
    assert got
    assert all("65000:99" not in v["communities"] for v in paths(cluster.router, services["plain4"] + "/32").values())


def test_aggregation_lengths_go_to_the_named_peers_only(cluster, services):
    agg4 = str(ipaddress.ip_network("%s/%d" % (services["plain4"], AGG4), strict=False))
    agg6 = str(ipaddress.ip_network("%s/%d" % (services["plain6"], AGG6), strict=False))
    wait_paths(cluster.router, agg4, {cluster.node_addrs["node3"].v4})  # peers: v4-node3, not v4-node1/2
    wait_paths(cluster.router, agg6, {a.v6 for a in cluster.node_addrs.values()})
    # the advertisements without aggregation still send the host routes everywhere
    wait_paths(cluster.router, services["plain6"] + "/128", {a.v6 for a in cluster.node_addrs.values()})
