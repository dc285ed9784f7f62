# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP end to end in the lab: the controller and the three speakers (each with its own FRR) peer with
the lab's router (FRR on 198.51.100.254 / 2001:db8:0:1::254, ECMP, BFD 3 × 100 ms, graceful-restart
helper; BIRD 2 in test_lab_bgp_bird.py); a ``wan-client`` sits behind the router on a link of its own.

Asserted from the router itself: a Service's prefixes (IPv4 and IPv6) with every node as an ECMP next
hop, its communities and large communities; the wan-client reaching the Service over several nodes;
``externalTrafficPolicy: Local`` restricting the next hops to nodes with endpoints; a deleted Service
withdrawn; a node whose link is cut leaving the ECMP set within the BFD detection time; a speaker
killed and restarted without the router losing the node's routes; a speaker killed with its bgpd,
the routes kept stale by graceful restart until the new speaker re-sends them; a peer sending a malformed OPEN or
message header to a node's FRR gets a NOTIFICATION, and the speaker keeps running."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
import time

import bgp_objects as k
import pytest
from routers import ESTABLISHED, IPV4, IPV6, FrrRouter, Neighbor, RouterSpec, missing, nodes_established, wait_for

from lab import topology

from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.instance import FrrInstance as SpeakerFrr

NODE_ASN, ROUTER_ASN = 64501, 64500
BFD_MS, BFD_MULT = 100, 3
# the IPv4 sessions are TCP-MD5 signed: the speakers read the password from a basic-auth Secret
MD5_SECRET = "router4-auth"
ROUTER_SPEC = RouterSpec(ROUTER_ASN, topology.ROUTER_V4, (
    Neighbor(NODE_ASN, listen_range=topology.V4_PREFIX, families=(IPV4,), bfd=True, bfd_interval_ms=BFD_MS,
             bfd_multiplier=BFD_MULT, password="lab-md5-secret"),
    Neighbor(NODE_ASN, listen_range=topology.V6_PREFIX, families=(IPV6,), bfd=True, bfd_interval_ms=BFD_MS,
             bfd_multiplier=BFD_MULT),
))
LAB_OPTIONS = {"router": functools.partial(FrrRouter, spec=ROUTER_SPEC), "speakers": True}
PORT = 8080
HOSTILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bgp_hostile_peer.py")
HOSTILE_CODES = {"bad-version": (2, 1), "bad-marker": (1, 1)}  # RFC 4271 6.2, 6.1


@pytest.fixture(scope="module", autouse=True)
def routers_present(request):
    for kind in ("frr", "bird") if "bird" in request.module.__name__ else ("frr",):
        reason = missing(kind)
        if reason:
            pytest.skip(reason)


def test_the_router_joins_the_nodes_and_the_wan_client(cluster):
    """Plumbing: every node reaches the wan-client through the router, both families, and back."""
    wan = cluster.hosts["wan-client"]
    server = cluster.net.start(wan, [sys.executable, "-m", "http.server", "--bind", "::", str(PORT)])
    try:
        for address in (topology.WAN_CLIENT_V4, topology.WAN_CLIENT_V6):
            url = "http://%s:%d/" % ("[%s]" % address if ":" in address else address, PORT)
            for node in cluster.node_addrs:
                wait_for(lambda n=node, u=url: (_curl(cluster, n, u) is not None, None), 20, 0.2,
                         "%s -> %s" % (node, url))
    finally:
        cluster.net.stop(server)
        cluster.net.forget(server)


def _curl(cluster, host: str, url: str) -> str | None:
    out = cluster.hosts[host].run("curl", "-s", "-m", "3", "--noproxy", "*", url, check=False, timeout=15)
    return out.stdout if out.returncode == 0 else None


@pytest.fixture(scope="module")
def bgp(cluster):
    """The BGP configuration: a pool, a BGPAdvertisement with a community and a large community, one
    BGPPeer per family (BFD, graceful restart; the IPv4 one TCP-MD5 with a passwordSecret), and every
    node's sessions up on the router (the IPv4 ones only if the speakers sign with the Secret's password)."""
    cluster.create_custom("bfdprofiles", k.bfd("fast", receiveInterval=BFD_MS, transmitInterval=BFD_MS,
                                                detectMultiplier=BFD_MULT))
    cluster.create_custom("ipaddresspools", k.pool("bgp-pool", addresses=(topology.POOL_V4, topology.POOL_V6)))
    cluster.create_custom("bgpadvertisements", k.bgpad("bgp-adv", ipAddressPools=["bgp-pool"],
                                                       communities=["65000:100", "large:64500:1:2"]))
    cluster.core.create_namespaced_secret(k.NS, k.secret(MD5_SECRET, "lab-md5-secret"))
    for name, address, extra in (("router4", topology.ROUTER_V4, {"passwordSecret": {"name": MD5_SECRET}}),
                                 ("router6", topology.ROUTER_V6, {})):
        # connectTime: after a cut link the node retries within seconds, not FRR's default 120 s
        cluster.create_custom("bgppeers", k.peer(name, myASN=NODE_ASN, peerASN=ROUTER_ASN, peerAddress=address,
                                                 bfdProfile="fast", enableGracefulRestart=True, connectTime="2s",
                                                 **extra))
    return nodes_established(cluster, "every node's sessions with the router")


def node_v4(cluster, *names) -> set[str]:
    return {cluster.node_addrs[n].v4 for n in names}


def route_to(router, prefix: str, family: str, seconds: float = 30.0, where=None):
    """Wait until the router's route for ``prefix`` satisfies ``where`` (default: present); returns it."""
    where = where or (lambda view: view is not None)

    def check():
        view = router.route_views(family).get(prefix)
        return where(view), view
    return wait_for(check, seconds, 0.1, "%s on the router" % prefix)


def test_a_service_reaches_the_router_with_every_node_and_the_wan_client_over_ecmp(cluster, bgp):
    cluster.create_service("web", replicas=3, etp_local=True, dual_stack=True)  # one pod per node
    ips = cluster.wait_ingress("web", count=2, timeout=60)
    v4 = next(ip for ip in ips if ":" not in ip)
    v6 = next(ip for ip in ips if ":" in ip)
    everyone = node_v4(cluster, *cluster.node_addrs)
    view = route_to(bgp, v4 + "/32", IPV4, where=lambda v: v is not None and v.next_hops == everyone)
    assert view.communities == {"65000:100"} and view.large_communities == {"64500:1:2"}
    all_v6 = {a.v6 for a in cluster.node_addrs.values()}
    route_to(bgp, v6 + "/128", IPV6, where=lambda v: v is not None and v.next_hops == all_v6)
    wait_for(lambda: (bgp.fib(IPV4).get(v4 + "/32") == everyone, bgp.fib(IPV4)), 30, 0.2, "the router's ECMP route")
    served_by = set()
    for _ in range(30):  # new source ports: the router hashes them over its next hops
        body = _curl(cluster, "wan-client", "http://%s:%d/" % (v4, 80))
        match = re.search(r"on node (\S+)", body or "")
        if match:
            served_by.add(match.group(1))
        if len(served_by) >= 2:
            break
    assert len(served_by) >= 2, served_by
    assert _curl(cluster, "wan-client", "http://[%s]:%d/" % (v6, 80))


def test_local_traffic_policy_and_deletion(cluster, bgp):
    """``Local``: only the node with an endpoint is a next hop; the Service deleted: withdrawn."""
    cluster.create_service("local", replicas=1, nodes=["node2"], etp_local=True)
    ip = cluster.wait_ingress("local", timeout=60)[0]
    prefix = ip + "/32"
    route_to(bgp, prefix, IPV4, where=lambda v: v is not None and v.next_hops == node_v4(cluster, "node2"))
    cluster.delete_service("local")
    route_to(bgp, prefix, IPV4, where=lambda v: v is None)


def test_a_cut_link_leaves_the_ecmp_set_within_the_bfd_detection_time(cluster, bgp):
    cluster.create_service("cut", replicas=3)
    prefix = cluster.wait_ingress("cut", timeout=60)[0] + "/32"
    everyone = node_v4(cluster, *cluster.node_addrs)
    route_to(bgp, prefix, IPV4, where=lambda v: v is not None and v.next_hops == everyone)
    wait_for(lambda: (set(bgp.bfd_detect_ms().values()) == {BFD_MS * BFD_MULT}, bgp.bfd_detect_ms()), 30, 0.2,
             "BFD at 3 x 100 ms with every node")
    cluster.cut_link("node1")
    try:
        slack = 3.0  # router reads on a loaded machine; the BGP hold time is 90 s
        route_to(bgp, prefix, IPV4, BFD_MS * BFD_MULT / 1000 + slack,
                 where=lambda v: v is not None and v.next_hops == everyone - node_v4(cluster, "node1"))
    finally:
        cluster.cut_link("node1", up=True)
    route_to(bgp, prefix, IPV4, 60, where=lambda v: v is not None and v.next_hops == everyone)


def test_a_restarted_speaker_keeps_its_routes_on_the_router(cluster, bgp):
    """The speaker is killed and started again: its node never leaves the router's next hops."""
    cluster.create_service("restart", replicas=3)
    prefix = cluster.wait_ingress("restart", timeout=60)[0] + "/32"
    node2 = cluster.node_addrs["node2"].v4
    route_to(bgp, prefix, IPV4, where=lambda v: v is not None and node2 in v.next_hops)
    cluster.kill_speaker("node2")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        view = bgp.route_views(IPV4).get(prefix)
        assert view is not None and node2 in view.next_hops, view
        time.sleep(0.2)
    cluster.start_speaker("node2")
    deadline = time.monotonic() + 15  # through the new speaker's first passes
    while time.monotonic() < deadline:
        view = bgp.route_views(IPV4).get(prefix)
        assert view is not None and node2 in view.next_hops, view
        time.sleep(0.2)
    assert bgp.sessions().get(node2) == ESTABLISHED


def test_graceful_restart_keeps_the_routes_when_the_speaker_and_its_bgpd_crash(cluster, bgp):
    """enableGracefulRestart through the speaker: node1's speaker and its bgpd are killed (SIGKILL, no
    NOTIFICATION); the FRR router keeps node1's routes, marked stale, while they are away; a new speaker
    restarts its FRR, re-sends them, and they are fresh again. BIRD ends a graceful restart when BFD
    reports the peer down (node1's bfdd drops the sessions of its dead bgpd) unless the router says
    ``bfd graceful``, which would also keep the routes of a node whose link is cut: with BIRD only the
    recovery is asserted."""
    cluster.create_service("gr", replicas=3)
    prefix = cluster.wait_ingress("gr", timeout=60)[0] + "/32"
    node1 = cluster.node_addrs["node1"].v4
    route_to(bgp, prefix, IPV4, where=lambda v: v is not None and node1 in v.next_hops)
    cluster.kill_speaker("node1")
    bgpd = SpeakerFrr(cluster.frr_pathspace("node1")).pid_file("bgpd")
    with open(bgpd, encoding="utf-8") as handle:
        os.kill(int(handle.read().strip()), signal.SIGKILL)
    try:
        wait_for(lambda: (bgp.sessions().get(node1) != ESTABLISHED, bgp.sessions()), 30, 0.1, "node1's session down")
        deadline = time.monotonic() + (3 if bgp.kind == "frr" else 0)
        while time.monotonic() < deadline:
            view = bgp.route_views(IPV4).get(prefix)
            assert view is not None and node1 in view.next_hops, view
            time.sleep(0.3)
        assert bgp.kind != "frr" or node1 in bgp.stale_peers()
    finally:
        cluster.start_speaker("node1")
    wait_for(lambda: (bgp.sessions().get(node1) == ESTABLISHED, bgp.sessions()), 60, 0.2, "node1's session back")
    route_to(bgp, prefix, IPV4, where=lambda v: v is not None and node1 in v.next_hops)
    wait_for(lambda: (node1 not in bgp.stale_peers(), bgp.stale_peers()), 60, 0.2, "node1's routes fresh again")


def test_the_md5_password_is_never_logged(cluster, bgp):
    for node in cluster.node_addrs:
        assert "lab-md5-secret" not in cluster.logs("speaker-" + node)
    assert "lab-md5-secret" not in cluster.logs("controller")


# a malformed UPDATE needs an established second session, which bgpd refuses (connection collision)
# while the router's own session is up: tests/lab/test_lab_bgp_hostile.py sends it to a node FRR
@pytest.mark.parametrize("case", ["bad-version", "bad-marker"])
def test_a_hostile_peer_gets_a_notification_and_the_speaker_keeps_running(cluster, bgp, case):
    """From the router's IPv6 address (a configured neighbor), a malformed OPEN or header to node3's FRR: a
    NOTIFICATION comes back, node3's speaker keeps running and its session with the router stays up."""
    node3 = cluster.node_addrs["node3"].v6  # the IPv6 session: the IPv4 one drops unsigned (TCP-MD5) segments
    argv = [sys.executable, HOSTILE, case, node3, str(ROUTER_ASN), topology.ROUTER_V4]
    deadline = time.monotonic() + 30
    while True:  # bgpd may refuse a connection for a moment after the previous case's error
        out = cluster.hosts["router"].run(*argv, check=False, timeout=30)
        result = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr[-300:]}
        if result.get("seen") or result.get("notification") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.get("notification") == list(HOSTILE_CODES[case]), result
    assert cluster.speakers["node3"].poll() is None
    wait_for(lambda: (bgp.sessions().get(node3) == ESTABLISHED, bgp.sessions()), 60, 0.2, "node3's session")
