# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interop: what the engine decides for two nodes, rendered for FRR and loaded into one FRR instance
per node namespace, reaches a real router (FRR, and in separate runs BIRD 2) on the same link.

From the router itself: prefixes with ECMP next hops, communities, large communities, LOCAL_PREF on
iBGP only; IPv4 and IPv6 sessions each carrying their own family, a dualStackAddressFamily session
both; a deleted service withdrawn; TCP-MD5 (a wrong password never establishes); BFD (a cut link
leaves the router's ECMP set within the detection time); graceful restart (a crashed bgpd's routes
stay, stale, until it is back). The node objects go through the engine (``bgp_objects.state``)."""

from __future__ import annotations

import contextlib
import subprocess
import time

import bgp_objects as k
import pytest
from frr_instance import FrrInstance
from routers import IPV4, IPV6, ROUTERS, Neighbor, RouterSpec, established, missing, wait_for

import netlab
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_model, render_text
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff

pytestmark = pytest.mark.lab

ROUTER4, ROUTER6 = "198.51.100.254", "2001:db8:0:1::254"
NODES = {"node1": ("198.51.100.11", "2001:db8:0:1::11"), "node2": ("198.51.100.12", "2001:db8:0:1::12")}
NODE_ASN, ROUTER_ASN = 64501, 64500
VIP4, VIP6 = "198.51.100.70", "2001:db8:1::70"
P4, P6 = VIP4 + "/32", VIP6 + "/128"
LAN4, LAN6 = "198.51.100.0/24", "2001:db8:0:1::/64"
BFD_MS, BFD_MULT = 100, 3
KINDS = pytest.mark.parametrize("kind", ["frr", "bird"])


@pytest.fixture(scope="module")
def net(lab_requirements):
    """router (.254 / ::254) and node1, node2 (.11, .12 / ::11, ::12) on one bridge."""
    lab = netlab.Lab()
    with lab:
        hosts = {"router": lab.add_host("router", (ROUTER4 + "/24", ROUTER6 + "/64"))}
        for name, (v4, v6) in NODES.items():
            hosts[name] = lab.add_host(name, (v4 + "/24", v6 + "/64"))
        yield lab, hosts
    assert netlab.leftover_namespaces(lab.prefix) == []


@contextlib.contextmanager
def router(net, kind: str, *neighbors: Neighbor, asn: int = ROUTER_ASN):
    reason = missing(kind)
    if reason:
        pytest.skip(reason)
    lab, hosts = net
    with ROUTERS[kind](lab.prefix + "-rt", hosts["router"].ns, RouterSpec(asn, ROUTER4, neighbors)) as r:
        yield r


class Node:
    """One node's FRR, loaded with the engine's rendering of its state; ``apply`` sends a change as the
    differ's commands, as the speaker does."""

    def __init__(self, host: netlab.Host, objects: list) -> None:
        self.host = host
        self.frr = FrrInstance(host.ns, host.ns)
        self.model = render_model(k.state(objects, host.role))

    def start(self) -> None:
        self.frr.start_with(self.model)

    def apply(self, objects: list) -> None:
        new = render_model(k.state(objects, self.host.role), self.model)
        self.frr.vtysh(diff(self.model, new))
        self.model = new
        self.frr.write_bgp_config(render_text(new))  # what a restarted bgpd reads


@contextlib.contextmanager
def nodes(net, objects: list, names=tuple(NODES)):
    started = [Node(net[1][name], objects) for name in names]
    try:
        for n in started:
            n.start()
        yield started
    finally:
        for n in started:
            n.frr.stop()


def objects(*peers: dict, services=(("web", (VIP4, VIP6)),), ad: dict | None = None, extra=()) -> list:
    out = [k.pool("lab", addresses=("198.51.100.64/27", "2001:db8:1::/120")),
           k.bgpad("adv", ipAddressPools=["lab"], **(ad or {})), *peers, *extra]
    out += [k.node(name) for name in NODES]
    for name, ips in services:
        out += [k.service(name, ips=ips), k.endpoints(name, nodes=tuple(NODES))]
    return out


def peer(name: str, address: str = ROUTER4, asn: int = ROUTER_ASN, only: str = "", **spec) -> dict:
    if only:
        spec["nodeSelectors"] = [{"matchLabels": {"kubernetes.io/hostname": only}}]
    return k.peer(name, myASN=NODE_ASN, peerASN=asn, peerAddress=address,
                  connectTime="1s", **spec)


def routes_are(r, want: dict, family: str = IPV4, seconds: float = 60.0, keys=None) -> dict:
    """Wait until the router's ``family`` table is ``want`` (compared on ``keys`` of each route)."""
    def check():
        got = r.routes(family)
        shown = {p: {key: v[key] for key in (keys or want.get(p, v))} for p, v in got.items()}
        return shown == want, got
    return wait_for(check, seconds, 0.2, "%s router's %s routes %r" % (r.kind, family, want))


ECMP4 = {"next_hops": {v4 for v4, _v6 in NODES.values()}}


@KINDS
def test_ebgp_ipv4_and_ipv6_sessions_ecmp_communities_withdrawal(net, kind):
    """eBGP: the IPv4 session carries the IPv4 prefix only, the IPv6 session the IPv6 prefix only; both
    nodes are ECMP next hops in the router's RIB and kernel; communities and large communities arrive,
    LOCAL_PREF does not (eBGP); a deleted service is withdrawn, the other stays."""
    objs = objects(peer("tor"), peer("tor6", address=ROUTER6),
                   ad={"communities": ["65000:100", "large:64500:1:2"], "localPref": 150})
    with router(net, kind, Neighbor(NODE_ASN, listen_range=LAN4), Neighbor(NODE_ASN, listen_range=LAN6,
                                                                             families=(IPV6,))) as r, \
            nodes(net, objs) as (n1, n2):
        attrs = {"communities": {"65000:100"}, "large_communities": {"64500:1:2"}}
        got = routes_are(r, {P4: dict(ECMP4, **attrs)})
        assert got[P4]["local_pref"] != 150  # LOCAL_PREF is for iBGP peers only
        routes_are(r, {P6: dict(attrs, next_hops={v6 for _v4, v6 in NODES.values()})}, IPV6)
        assert wait_for(lambda: (r.fib().get(P4) == ECMP4["next_hops"], r.fib()), 30, 0.2, "kernel ECMP route")
        # the dual-stack service goes, an IPv4 one stays: only its prefix remains, IPv6 is withdrawn
        smaller = objects(peer("tor"), peer("tor6", address=ROUTER6), services=(("web4", (VIP4,)),),
                          ad={"communities": ["65000:100", "large:64500:1:2"], "localPref": 150})
        n1.apply(smaller)
        n2.apply(smaller)
        routes_are(r, {}, IPV6)
        routes_are(r, {P4: dict(ECMP4, **attrs)})
        n1.apply(objects(peer("tor"), peer("tor6", address=ROUTER6), services=()))
        routes_are(r, {P4: {"next_hops": {NODES["node2"][0]}}}, keys=("next_hops",))
        assert r.sessions()[NODES["node1"][0]] == "Established"  # withdrawn, not reset


@KINDS
def test_ibgp_local_pref_and_a_dual_stack_session(net, kind):
    """iBGP: LOCAL_PREF arrives. node1's session is dualStackAddressFamily (both families over IPv4),
    node2's a plain IPv4 session, which carries no IPv6 prefix (MetalLB's FRR mode)."""
    objs = objects(peer("tor-dual", asn=NODE_ASN, only="node1", dualStackAddressFamily=True),
                   peer("tor", asn=NODE_ASN, only="node2"), ad={"localPref": 150, "communities": ["65000:7"]})
    with router(net, kind, Neighbor(NODE_ASN, listen_range=LAN4, families=(IPV4, IPV6)), asn=NODE_ASN) as r, \
            nodes(net, objs):
        routes_are(r, {P4: dict(ECMP4, local_pref=150, communities={"65000:7"})})
        routes_are(r, {P6: {"next_hops": {NODES["node1"][1]}, "local_pref": 150, "communities": {"65000:7"}}},
                   IPV6)


@KINDS
def test_tcp_md5_a_wrong_password_never_establishes(net, kind):
    """The router asks for a TCP-MD5 password; node1 has it, node2 a wrong one: node2 gets no session
    (and the router no route through it) until its BGPPeer has the right password."""
    good = objects(peer("tor", passwordSecret={"name": "bgp-auth"}), extra=[k.secret("bgp-auth", "right-pw")])
    wrong = objects(peer("tor", password="wrong-pw"))
    n1_ip, n2_ip = NODES["node1"][0], NODES["node2"][0]
    with router(net, kind, Neighbor(NODE_ASN, listen_range=LAN4, password="right-pw")) as r, \
            nodes(net, good, names=("node1",)), nodes(net, wrong, names=("node2",)) as (n2,):
        established(r, [n1_ip])
        routes_are(r, {P4: {"next_hops": {n1_ip}}})
        deadline = time.monotonic() + 6  # node2 retries every second meanwhile (connectTime 1s)
        while time.monotonic() < deadline:
            assert r.sessions().get(n2_ip) != "Established"
            assert r.routes().get(P4, {}).get("next_hops") == {n1_ip}
            time.sleep(0.3)
        n2.apply(good)
        established(r, [n1_ip, n2_ip])
        routes_are(r, {P4: ECMP4})


@KINDS
def test_bfd_a_cut_link_leaves_the_ecmp_set_within_the_detection_time(net, kind):
    """BFD 3 × 100 ms on both sides, BGP hold time 90 s: when node1's link is cut the router drops
    node1 from the route within the detection time (plus polling slack, far below the hold time)."""
    objs = objects(peer("tor", bfdProfile="fast", holdTime="90s"),
                   extra=[k.bfd("fast", receiveInterval=BFD_MS, transmitInterval=BFD_MS, detectMultiplier=BFD_MULT)])
    lab, hosts = net
    port = "p-node1"
    with router(net, kind, Neighbor(NODE_ASN, listen_range=LAN4, bfd=True, bfd_interval_ms=BFD_MS,
                                    bfd_multiplier=BFD_MULT)) as r, nodes(net, objs):
        routes_are(r, {P4: ECMP4})
        wait_for(lambda: (set(r.bfd_sessions().values()) == {"up"} and len(r.bfd_sessions()) == 2,
                          r.bfd_sessions()), 30, 0.2, "BFD sessions up")
        # both ends run the profile: the router declares a node down after 3 × 100 ms
        assert set(r.bfd_detect_ms().values()) == {BFD_MULT * BFD_MS}, r.bfd_detect_ms()
        netlab.run(["ip", "-n", lab.bridge_ns, "link", "set", port, "down"])
        try:
            slack = 3.0  # vtysh / birdc round trips on a loaded machine; the hold time is 90 s
            routes_are(r, {P4: {"next_hops": {NODES["node2"][0]}}}, seconds=BFD_MULT * BFD_MS / 1000 + slack,
                       keys=("next_hops",))
        finally:
            netlab.run(["ip", "-n", lab.bridge_ns, "link", "set", port, "up"])
        routes_are(r, {P4: ECMP4})  # and back when the link is


@KINDS
def test_graceful_restart_keeps_the_routes_while_bgpd_restarts(net, kind):
    """enableGracefulRestart: node1's bgpd crashes (SIGKILL); the router keeps node1's next hop (stale)
    while it is away, and the route is fresh again once bgpd is back and has re-sent it."""
    objs = objects(peer("tor", enableGracefulRestart=True))
    n1_ip = NODES["node1"][0]
    with router(net, kind, Neighbor(NODE_ASN, listen_range=LAN4, graceful_restart=True)) as r, \
            nodes(net, objs) as (n1, _n2):
        routes_are(r, {P4: ECMP4})
        n1.frr.kill_daemon("bgpd")
        wait_for(lambda: (r.sessions().get(n1_ip) != "Established", r.sessions()), 30, 0.1, "the session down")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            views = r.route_views()
            assert P4 in views and n1_ip in views[P4].next_hops, views
            time.sleep(0.3)
        assert r.stale_peers() == {n1_ip}
        n1.frr.start_daemon("bgpd")
        established(r, [n1_ip])
        routes_are(r, {P4: ECMP4})
        wait_for(lambda: (not r.stale_peers(), r.stale_peers()), 30, 0.2, "no stale route left")


def test_no_leftover_processes(net):
    """Every FRR and BIRD process above was stopped by its PID (none runs in the lab's namespaces)."""
    lab, hosts = net
    for host in hosts.values():
        out = subprocess.run(["ip", "netns", "pids", host.ns], capture_output=True, text=True, timeout=20,
                             check=False)
        assert out.stdout.split() == [], host.ns
