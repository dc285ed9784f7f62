# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The FRR rendering and the differ against a real FRR (Debian's ``frr``) in a namespace of the test.

Every rendering loads without an FRR error, and FRR keeps what we wrote; after each change applied
as a diff, FRR's running configuration is exactly what a fresh FRR holds after loading the new state
whole; and bgpd originates the planned prefixes. No BGP peer is reached (bgpd does not listen)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

import pytest
from frr_instance import FrrInstance, Namespace, comparable, missing

from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_model, render_text
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import (
    NodeBGP, PeerRoutes, Route, graceful_shutdown)
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import Session
from ansible_collections.metal.lb.plugins.module_utils.engine.model import BFDProfile, Community

pytestmark = pytest.mark.lab
FRR_DEFAULTS = ("exit", "detect-multiplier 3", "receive-interval 300", "transmit-interval 300")

GOLD, SILVER = Community(False, (65000, 100)), Community(True, (64500, 1, 2))
IBGP = Session("tor1", 64500, 64500, address="198.51.100.254", hold_time=9, keepalive_time=3, password="pw1",
               bfd_profile="fast", source_address="198.51.100.1", router_id="198.51.100.1")
EBGP = Session("tor2", 64500, 64501, address="198.51.100.253", ebgp_multihop=True, connect_time=5,
               graceful_restart=True, router_id="198.51.100.1")
V6 = Session("v6", 64500, 64502, address="2001:db8::1", family="ipv6", vrf="red")
UNNUMBERED = Session("eth", 64500, 0, dynamic_asn="external", interface="lo", family="dual", graceful_restart=True)
DUAL = Session("dual", 64500, 64600, local_asn=64650, address="198.51.100.252", family="dual", port=1790)


def route(prefix, pref=0, *communities):
    return Route(prefix, 6 if ":" in prefix else 4, pref, tuple(communities))


A = NodeBGP("node1", (
    PeerRoutes(IBGP, (route("198.51.100.10/32", 100, GOLD),)),
    PeerRoutes(EBGP, (route("198.51.100.10/32", 0, GOLD),)),
    PeerRoutes(V6, (route("2001:db8:1::10/128", 0, SILVER),)),
    PeerRoutes(UNNUMBERED, (route("198.51.100.10/32", 0, GOLD), route("2001:db8:1::10/128"))),
    PeerRoutes(DUAL, (route("198.51.100.10/32", 100), route("2001:db8:1::10/128", 100, SILVER))),
), (BFDProfile("fast", receive_interval=100, transmit_interval=100, detect_multiplier=3),))
# a prefix and a community more, one password changed, the v6 session gone, BFD profile changed
B = NodeBGP("node1", (
    PeerRoutes(replace(IBGP, password="pw2"), (route("198.51.100.10/32", 100, GOLD, SILVER),
                                               route("198.51.100.20/32", 100))),
    PeerRoutes(EBGP, (route("198.51.100.10/32", 0, GOLD, SILVER), route("198.51.100.20/32"))),
), (BFDProfile("fast", receive_interval=300, detect_multiplier=3, passive_mode=True),))
STEPS = [("first", A), ("changed", B), ("graceful-shutdown", graceful_shutdown(B)),
         ("v6 back, prefix gone", replace(A, peers=A.peers[1:])), ("nothing", NodeBGP("node1"))]


@pytest.fixture(scope="module")
def netns_name():
    reason = missing()
    if reason:
        pytest.skip(reason)
    name = "mlbfrr%d" % os.getpid()
    with Namespace(name):
        yield name


def _unordered(line: str):
    """A ``set community`` line as the set of its words: FRR orders several communities its own way."""
    return frozenset(line.split()) if line.startswith(("set community ", "set large-community ")) else line


def _fresh(netns_name, model):
    frr = FrrInstance(netns_name + "f", netns_name)
    try:
        frr.start()
        frr.vtysh(diff(None, model))
        return frr.running_config()
    finally:
        frr.stop()


def test_renderings_and_diffs_on_real_frr(netns_name):
    live = FrrInstance(netns_name + "l", netns_name)
    try:
        live.start()
        model = None
        for label, state in STEPS:
            new = render_model(state, model)
            live.vtysh(diff(model, new))
            got = live.running_config()
            assert comparable(got) == comparable(_fresh(netns_name, new)), label
            ours = {_unordered(line.strip()) for line in render_text(new).splitlines()}
            # FRR prints ``ebgp-multihop`` with its default TTL, well-known communities by name
            frr_lines = {_unordered(line.strip().replace(" ebgp-multihop 255", " ebgp-multihop")
                                    .replace("graceful-shutdown", "65535:0")) for line in got}
            # FRR's defaults, which it does not print
            hidden = {line for line in ours - frr_lines if line.endswith(" port 179") or line in FRR_DEFAULTS}
            assert ours - frr_lines - hidden == set(), label
            model = new
        # bgpd originates exactly the planned prefixes (state B after the steps above is gone: check A)
        live.vtysh(diff(model, render_model(A)))
        table = json.loads(live.vtysh(["show bgp ipv4 unicast json"]))
        assert sorted(table.get("routes", {})) == ["198.51.100.10/32"]
        table6 = json.loads(live.vtysh(["show bgp vrf red ipv6 unicast json"]))
        assert sorted(table6.get("routes", {})) == ["2001:db8:1::10/128"]
    finally:
        live.stop()


def _router_routes(router: FrrInstance) -> dict:
    """prefix -> (local pref, standard communities, large communities) of the best path the router holds."""
    table = json.loads(router.vtysh(["show bgp ipv4 unicast json"])).get("routes", {})
    out = {}
    for prefix in table:
        detail = json.loads(router.vtysh(["show bgp ipv4 unicast %s json" % prefix]))
        path = (detail.get("paths") or [{}])[0]
        out[prefix] = (path.get("locPrf"), (path.get("community") or {}).get("string", ""),
                       (path.get("largeCommunity") or {}).get("string", ""))
    return out


def _until(check, seconds: float = 60.0):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last[0]:
            return last[1]
        time.sleep(0.2)
    raise AssertionError("not reached in %ss; last: %r" % (seconds, last[1]))


def test_a_router_receives_what_the_engine_decided(netns_name):
    """A real FRR router (iBGP) peers with the node's FRR: it receives each prefix with the communities,
    large communities and LOCAL_PREF decided; GRACEFUL_SHUTDOWN arrives as a community change on routes
    already sent (their network lines re-stated with a new class, nothing cleared); a removed prefix is
    withdrawn; and none of these changes resets the session."""
    router_ns = netns_name + "r"
    with Namespace(netns_name + "p") as ns:
        ns.link_to(router_ns, "198.51.100.2/24", "198.51.100.254/24")
        node_frr, router = FrrInstance(ns.name + "n", ns.name), FrrInstance(router_ns + "r", router_ns)
        try:
            router.start(listen=True)
            router.vtysh(["configure terminal", "router bgp 64500", "no bgp ebgp-requires-policy",
                          "bgp router-id 198.51.100.254", "neighbor 198.51.100.2 remote-as 64500",
                          "address-family ipv4 unicast", "neighbor 198.51.100.2 activate", "exit-address-family",
                          "exit", "end"])
            node_frr.start()
            session = Session("tor", 64500, 64500, address="198.51.100.254", connect_time=1, hold_time=9,
                              keepalive_time=3, router_id="198.51.100.2")
            first = NodeBGP("node1", (PeerRoutes(session, (route("198.51.100.10/32", 150, GOLD, SILVER),
                                                           route("198.51.100.20/32"))),))
            model = render_model(first)
            node_frr.vtysh(diff(None, model))
            want = {"198.51.100.10/32": (150, "65000:100", "64500:1:2"), "198.51.100.20/32": (100, "", "")}
            _until(lambda: (_router_routes(router) == want, _router_routes(router)))

            def established() -> int:
                n = json.loads(router.vtysh(["show bgp neighbors 198.51.100.2 json"]))["198.51.100.2"]
                return n.get("connectionsEstablished")

            sessions_before = established()
            second = NodeBGP("node1", (PeerRoutes(session, (route("198.51.100.10/32", 150, GOLD, SILVER),
                                                            route("198.51.100.30/32", 200, GOLD))),))
            new = render_model(second, model)
            node_frr.vtysh(diff(model, new))
            model = new
            want = {"198.51.100.10/32": (150, "65000:100", "64500:1:2"), "198.51.100.30/32": (200, "65000:100", "")}
            _until(lambda: (_router_routes(router) == want, _router_routes(router)))
            new = render_model(graceful_shutdown(second), model)
            node_frr.vtysh(diff(model, new))
            _until(lambda: (all("graceful-shutdown" in v[1] for v in _router_routes(router).values()),
                            _router_routes(router)))
            node_frr.vtysh(diff(new, render_model(NodeBGP("node1", (PeerRoutes(session),)), new)))
            _until(lambda: (_router_routes(router) == {}, _router_routes(router)))
            assert established() == sessions_before  # no change above reset the session
        finally:
            node_frr.stop()
            router.stop()
