# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FRR rendering (golden files) and the differ: its commands, applied to the old rendering, give the
new one (checked against an FRR-semantics model, ``frr_oracle``), and they touch only what changed."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from bgp_objects import bfd, bgpad, community, endpoints, node, peer, pool, secret, service, state
from frr_oracle import apply, normalized, tree_of
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import redact, render_model, render_text
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import (
    NodeBGP, PeerRoutes, Route, graceful_shutdown)
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import Session
from ansible_collections.metal.lb.plugins.module_utils.engine.model import BFDProfile, Community

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")

SCENARIOS = {
    "single_ibgp": [pool(), bgpad(localPref=100), peer(myASN=64500, peerASN=64500, holdTime="90s"),
                    node("node1"), service(), endpoints()],
    "ebgp_multihop_password_bfd": [
        pool(), bgpad(communities=["65000:100", "large:64500:1:1"]),
        bfd("fast", receiveInterval=100, transmitInterval=100, detectMultiplier=3),
        secret("auth", "s3cret"),
        peer(ebgpMultiHop=True, passwordSecret={"name": "auth"}, sourceAddress="198.51.100.1",
             routerID="198.51.100.1", bfdProfile="fast", connectTime="5s", keepaliveTime="3s", holdTime="9s",
             enableGracefulRestart=True),
        node("node1"), service(), endpoints()],
    "dual_stack_vrf_aggregation": [
        pool(), bgpad(aggregationLength=26, aggregationLengthV6=120, communities=["no-export"]),
        community(**{"no-export": "65535:65281"}),
        peer("v4", peerAddress="198.51.100.254"), peer("v6", peerAddress="2001:db8::1", vrf="red"),
        peer("both", peerAddress="198.51.100.253", dualStackAddressFamily=True, localASN=64600),
        node("node1"), service(ips=("198.51.100.10", "2001:db8:1::10")), endpoints()],
    "unnumbered_dynamic": [pool(), bgpad(), node("node1"), service(), endpoints(),
                           {**peer("eth"), "spec": {"myASN": 64500, "interface": "eth1", "dynamicASN": "external"}}],
}


def rendered(name: str) -> str:
    return render_text(render_model(state(SCENARIOS[name])))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_golden(name):
    path = os.path.join(GOLDEN, name + ".frr")
    text = rendered(name)
    if os.environ.get("METAL_LB_UPDATE_GOLDEN"):
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    with open(path, encoding="utf-8") as f:
        assert text == f.read()


def test_redact_masks_passwords():
    text = rendered("ebgp_multihop_password_bfd")
    assert "password s3cret" in text
    assert "s3cret" not in redact(text) and "s3cret" not in repr(render_model(state(
        SCENARIOS["ebgp_multihop_password_bfd"])))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_diff_from_nothing_is_the_rendering(name):
    model = render_model(state(SCENARIOS[name]))
    assert normalized(apply({}, diff(None, model))) == normalized(tree_of(render_text(model)))
    assert diff(model, model) == []


# ---------------------------------------------------------------- minimal changes

def _two_peers(*services, password="pw", **ad):
    return [pool(), bgpad(**ad), peer("a", password=password), peer("b", peerAddress="198.51.100.253"),
            node("node1"), *services, *(endpoints(s["metadata"]["name"]) for s in services)]


def test_adding_a_prefix_of_an_existing_class_is_one_network_line():
    old = render_model(state(_two_peers(service("web"))))
    new = render_model(state(_two_peers(service("web"), service("db", ips=("198.51.100.20",)))), old)
    assert diff(old, new) == ["configure terminal", "router bgp 64500", " address-family ipv4 unicast",
                              "  network 198.51.100.20/32 route-map class-1", " exit-address-family", "exit", "end"]


def test_removing_a_prefix_is_one_network_line():
    old = render_model(state(_two_peers(service("web"), service("db", ips=("198.51.100.20",)))))
    new = render_model(state(_two_peers(service("web"))), old)
    assert diff(old, new) == ["configure terminal", "router bgp 64500", " address-family ipv4 unicast",
                              "  no network 198.51.100.20/32", " exit-address-family", "exit", "end"]


def _services(count: int) -> list:
    return [service("svc%d" % i, ips=("198.51.100.%d" % (10 + i),)) for i in range(count)]


def test_policies_do_not_grow_with_the_prefixes():
    """Prefixes with the same neighbors and attributes share one class: 40 Services render the route-maps
    of one, and no prefix-list."""
    one = render_model(state(_two_peers(*_services(1), communities=["65000:1", "large:64500:1:1"])))
    many = render_model(state(_two_peers(*_services(40), communities=["65000:1", "large:64500:1:1"])))
    assert many.route_maps == one.route_maps and not many.prefix_lists
    assert len(dict(many.routers[0].networks)["ipv4"]) == 40


def test_each_neighbor_gets_its_class_attributes_and_nothing_else():
    objs = [pool(), bgpad("to-a", communities=["65000:1"], peers=["a"], localPref=200),
            bgpad("to-b", communities=["65000:2"], peers=["b"]),
            peer("a", peerASN=64500), peer("b", peerAddress="198.51.100.253"), node("node1"), service(), endpoints()]
    text = render_text(render_model(state(objs)))
    assert ("route-map 198.51.100.254-out permit 1\n match tag 1\n set local-preference 200\n"
            " set community 65000:1 additive\nexit") in text
    assert "route-map 198.51.100.253-out permit 1\n match tag 1\n set community 65000:2 additive\nexit" in text
    assert "route-map class-1 permit 1\n set tag 1\nexit" in text
    assert "  network 198.51.100.10/32 route-map class-1\n" in text


def test_a_new_class_has_its_policies_before_its_network_line():
    old = render_model(state(_two_peers(service("web"))))
    objs = _two_peers(service("web"), service("db", ips=("198.51.100.20",), labels={"tier": "db"}))
    objs.append(bgpad("db", communities=["65000:7"], serviceSelectors=[{"matchLabels": {"tier": "db"}}]))
    cmds = diff(old, render_model(state(objs), old))
    line = cmds.index("  network 198.51.100.20/32 route-map class-2")
    assert cmds.index("route-map class-2 permit 1") < line
    assert cmds.index("route-map 198.51.100.254-out permit 2") < line
    assert not any(c.startswith("no ") or "neighbor" in c or "198.51.100.10/" in c for c in cmds)


def test_an_attribute_change_restates_the_prefixes_and_keeps_other_classes():
    """A prefix whose attributes change moves to another class: its network line is re-stated (bgpd
    re-sends it: no clear, no reset), the classes of other prefixes keep their numbers, and the old
    class goes after its last prefix left it."""
    objs = _two_peers(service("web"), service("db", ips=("198.51.100.20",), labels={"tier": "db"}))
    old = render_model(state(objs + [bgpad("db", communities=["65000:2"],
                                           serviceSelectors=[{"matchLabels": {"tier": "db"}}])]))
    new = render_model(state(objs + [bgpad("db", communities=["65000:1", "65000:2"],
                                           serviceSelectors=[{"matchLabels": {"tier": "db"}}])]), old)
    cmds = diff(old, new)
    assert "  network 198.51.100.20/32 route-map class-3" in cmds
    assert not any("198.51.100.10/" in c or "clear" in c or "neighbor" in c for c in cmds)
    assert cmds.index("  network 198.51.100.20/32 route-map class-3") < cmds.index("no route-map class-2 permit 1")
    assert dict(new.routers[0].networks)["ipv4"][0] == ("198.51.100.10/32", "class-1")


def test_graceful_shutdown_restates_every_prefix_and_touches_no_neighbor():
    st_ = state(_two_peers(service("web"), service("db", ips=("198.51.100.20",))))
    old = render_model(st_)
    cmds = diff(old, render_model(graceful_shutdown(st_), old))
    assert any("set community 65535:0 additive" in c for c in cmds)
    assert [c for c in cmds if "network" in c] == ["  network 198.51.100.10/32 route-map class-2",
                                                   "  network 198.51.100.20/32 route-map class-2"]
    assert not any(c.startswith(" neighbor") or c.startswith("no ip") for c in cmds)


def test_a_new_neighbor_starts_only_once_its_families_are_activated():
    """bgpd opens a session as soon as a neighbor exists; one opened before ``activate`` would carry no
    routes and be reset by the activation."""
    objs = [o for o in _two_peers(service("web")) if o["metadata"]["name"] != "b"]
    old = render_model(state(objs))
    for cmds in (diff(None, old), diff(old, render_model(state(_two_peers(service("web"))), old))):
        created = [c.split()[1] for c in cmds if c.startswith(" neighbor") and " remote-as " in c]
        assert created
        for peer_ in created:
            shut = cmds.index(" neighbor %s shutdown" % peer_)
            assert "remote-as" in cmds[shut - 1] and cmds[shut - 1].startswith(" neighbor %s " % peer_)
            start = cmds.index(" no neighbor %s shutdown" % peer_)
            assert start > cmds.index("  neighbor %s activate" % peer_)
            assert start > cmds.index("  neighbor %s route-map %s-out out" % (peer_, peer_))
    # a kept neighbor is never shut
    changed = render_model(state(_two_peers(service("web"), password="other")), old)
    assert not any("shutdown" in c for c in diff(render_model(state(_two_peers(service("web")))), changed))


# ---------------------------------------------------------------- property: diff(old, new) applied to old == new

SESSIONS = [
    Session("a", 64500, 64501, address="198.51.100.254"),
    Session("b", 64500, 64500, address="198.51.100.253", password="x", hold_time=9, keepalive_time=3),
    Session("c", 64500, 64502, address="2001:db8::1", family="ipv6", bfd_profile="fast"),
    Session("d", 64500, 0, dynamic_asn="external", interface="eth1", family="dual", graceful_restart=True),
    Session("e", 64500, 64501, address="198.51.100.252", vrf="red", ebgp_multihop=True, source_address="198.51.100.1"),
]
PREFIXES = ["198.51.100.%d/32" % i for i in range(1, 6)] + ["198.51.100.0/24", "2001:db8:1::1/128", "2001:db8:1::/120"]
COMMUNITIES = [Community(False, (65000, 1)), Community(False, (65535, 0)), Community(True, (64500, 1, 2))]

routes = st.builds(lambda prefix, pref, comms: Route(prefix, 6 if ":" in prefix else 4, pref,
                                                     tuple(sorted(set(comms), key=str))),
                   st.sampled_from(PREFIXES), st.sampled_from([0, 0, 100, 200]),
                   st.lists(st.sampled_from(COMMUNITIES), max_size=2))


@st.composite
def node_states(draw):
    peers = []
    for s in SESSIONS:
        if not draw(st.booleans()):
            continue
        s = draw(st.sampled_from([s, replace(s, password="y"), replace(s, port=1790), replace(s, bfd_profile=""),
                                  replace(s, my_asn=64510) if s.vrf else s]))
        rs = {r.prefix: r for r in draw(st.lists(routes, max_size=4)) if s.carries(r.family)}
        peers.append(PeerRoutes(s, tuple(rs[p] for p in sorted(rs))))
    profiles = (BFDProfile("fast", receive_interval=draw(st.sampled_from([None, 100, 300]))),) \
        if any(p.session.bfd_profile for p in peers) else ()
    return NodeBGP("node1", tuple(peers), profiles)


@settings(max_examples=300, deadline=None)
@given(node_states(), node_states(), st.booleans())
def test_diff_applied_to_old_gives_new(a, b, keep_numbers):
    old = render_model(a)
    new = render_model(b, old if keep_numbers else None)
    got = apply(tree_of(render_text(old)), diff(old, new))
    assert normalized(got) == normalized(tree_of(render_text(new)))


def test_bfd_settings_go_back_to_defaults_by_value():
    """bfdd (FRR 8.4) has no ``no receive-interval``: an unset field is set back to bfdd's default."""
    s = replace(SESSIONS[2], bfd_profile="fast")
    old = render_model(NodeBGP("n", (PeerRoutes(s),), (BFDProfile("fast", receive_interval=100, minimum_ttl=10),)))
    new = render_model(NodeBGP("n", (PeerRoutes(s),), (BFDProfile("fast"),)), old)
    assert diff(old, new) == ["configure terminal", "bfd", " profile fast", "  receive-interval 300",
                              "  no minimum-ttl", " exit", "exit", "end"]
    assert diff(new, render_model(NodeBGP("n", (PeerRoutes(replace(s, bfd_profile="")),)), new))[-2:] == [
        "no bfd", "end"]


def test_removing_one_peer_touches_only_its_neighbor_and_policies():
    old = render_model(state(_two_peers(service("web"), communities=["65000:1"])))
    objs = [o for o in _two_peers(service("web"), communities=["65000:1"]) if o["metadata"]["name"] != "b"]
    new = render_model(state(objs), old)
    cmds = diff(old, new)
    assert " no neighbor 198.51.100.253" in cmds
    touched = [c for c in cmds if "198.51.100." in c and "/32" not in c.split()[-1:][0]]
    assert all("198.51.100.253" in c for c in touched), touched
    assert not any("198.51.100.254" in c for c in cmds)
    # the neighbor goes before the route-map entries and prefix-lists it used
    assert cmds.index(" no neighbor 198.51.100.253") < min(i for i, c in enumerate(cmds) if c.startswith("no "))


def test_adding_a_peer_adds_only_its_lines():
    objs = [o for o in _two_peers(service("web")) if o["metadata"]["name"] != "b"]
    old = render_model(state(objs))
    cmds = diff(old, render_model(state(_two_peers(service("web"))), old))
    assert cmds and not any("198.51.100.254" in c for c in cmds)
    assert not any(c.startswith("no ") or c.startswith("  network") for c in cmds)  # prefix already there


def test_redact_masks_to_the_end_of_the_line():
    assert redact("neighbor 198.51.100.1 password a b\nneighbor 198.51.100.1 port 179") == (
        "neighbor 198.51.100.1 password ********\nneighbor 198.51.100.1 port 179")


def test_the_global_header_makes_policy_changes_take_effect_at_once():
    text = rendered("single_ibgp")
    assert "bgp route-map delay-timer 0\n" in text and " advertisement-interval 0\n" in text
