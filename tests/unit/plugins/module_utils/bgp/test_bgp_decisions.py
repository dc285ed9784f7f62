# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a node sends over BGP: sessions from BGPPeers, MetalLB's ShouldAnnounce reasons in order,
prefixes and aggregation, communities and LOCAL_PREF per session, the peers restriction,
GRACEFUL_SHUTDOWN; and the planner's ``announcements[ip]["bgp"]``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from bgp_objects import NODES, bfd, bgpad, community, endpoints, node, peer, pool, secret, service, state

from ansible_collections.metal.lb.plugins.module_utils.engine import planner
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp import announce as A
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import (
    GRACEFUL_SHUTDOWN, NO_PEERS, graceful_shutdown)
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import MASK, DUAL, IPV6
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config


def base(**ad):
    return [pool(), bgpad(**ad), peer(), *(node(n) for n in NODES), service(), endpoints(nodes=("node2",))]


# ---------------------------------------------------------------- sessions


def test_peer_runs_only_on_nodes_its_selectors_match():
    objs = [pool(), bgpad(), peer("tor1", nodeSelectors=[{"matchLabels": {"rack": "a"}}]),
            peer("tor2", peerAddress="198.51.100.253"), node("node1", {"rack": "a"}), node("node2", {"rack": "b"})]
    assert [p.session.name for p in state(objs, "node1").peers] == ["tor1", "tor2"]
    assert [p.session.name for p in state(objs, "node2").peers] == ["tor2"]


def test_every_field_is_resolved_for_frr():
    objs = [pool(), bgpad(), bfd("fast", receiveInterval=100), node("node1"),
            peer("r", myASN=64500, peerASN=64500, peerPort=1790, sourceAddress="198.51.100.1",
                 routerID="198.51.100.1", holdTime="10s", connectTime="5s", password="pw", bfdProfile="fast",
                 enableGracefulRestart=True, vrf="red")]
    s = state(objs).peers[0].session
    assert (s.port, s.source_address, s.router_id, s.vrf) == (1790, "198.51.100.1", "198.51.100.1", "red")
    assert (s.hold_time, s.keepalive_time, s.connect_time) == (10, 3, 5)  # keepalive = hold/3, whole seconds
    assert s.password == "pw" and s.bfd_profile == "fast" and s.graceful_restart and s.ibgp
    assert [p.name for p in state(objs).bfd_profiles] == ["fast"]


def test_password_secret_is_read_and_never_shown():
    objs = [pool(), bgpad(), node("node1"), secret("auth", "topsecret"),
            peer("r", passwordSecret={"name": "auth", "namespace": "metallb-system"})]
    s = state(objs).peers[0].session
    assert s.password == "topsecret"
    assert "topsecret" not in repr(s) and "topsecret" not in repr(state(objs))
    assert s.public()["password"] == MASK


def test_session_families_follow_frr_mode():
    objs = [pool(), bgpad(), node("node1"), peer("v6", peerAddress="2001:db8::1"),
            peer("unnumbered", peerAddress=None, interface="eth0", dynamicASN="external", peerASN=None),
            peer("dual", peerAddress="198.51.100.253", dualStackAddressFamily=True)]
    for o in objs:
        if o["kind"] == "BGPPeer":
            o["spec"] = {k: v for k, v in o["spec"].items() if v is not None}
    fams = {p.session.name: p.session.family for p in state(objs).peers}
    assert fams == {"v6": IPV6, "unnumbered": DUAL, "dual": DUAL}


# ---------------------------------------------------------------- ShouldAnnounce, in MetalLB's order


@pytest.mark.parametrize("objects, node_name, reason", [
    (base(nodeSelectors=[{"matchLabels": {"kubernetes.io/hostname": "node2"}}]), "node1", A.NOT_OWNER),
    (base(serviceSelectors=[{"matchLabels": {"app": "other"}}]), "node1", A.NO_MATCHING_ADVERTISEMENT),
    ([pool(), bgpad(), peer(), node("node1", network_unavailable=True), service(), endpoints(nodes=("node1",))],
     "node1", A.NODE_NETWORK_UNAVAILABLE),
    ([pool(), bgpad(), peer(), node("node1", {"node.kubernetes.io/exclude-from-external-load-balancers": ""}),
      service(), endpoints(nodes=("node1",))], "node1", A.NODE_EXCLUDED),
    ([pool(), bgpad(), peer(), node("node1"), node("node2"), service(etp="Local"), endpoints(nodes=("node2",))],
     "node1", A.NO_LOCAL_ENDPOINTS),
    ([pool(), bgpad(), peer(), node("node1"), service(), endpoints(nodes=("node1",), ready=False)],
     "node1", A.NO_ENDPOINTS),
    ([pool(), bgpad(), peer(), node("node1"), service(), endpoints(nodes=("node1",), addresses=False)],
     "node1", A.NO_ENDPOINTS),
])
def test_reasons(objects, node_name, reason):
    got = state(objects, node_name)
    assert got.ip_reasons == {"198.51.100.10": reason}
    assert got.ip_prefixes == {} and all(p.routes == () for p in got.peers)


def test_conflicting_local_pref_under_service_selectors():
    objs = [pool(), bgpad("a", localPref=100, serviceSelectors=[{"matchLabels": {"app": "web"}}]),
            bgpad("b", localPref=200, serviceSelectors=[{"matchLabels": {"app": "web"}}]),
            peer(myASN=64500, peerASN=64500), node("node1"), service(labels={"app": "web"}), endpoints()]
    assert state(objs).ip_reasons == {"198.51.100.10": A.CONFLICTING_ADVERTISEMENTS}


def test_cluster_policy_every_selected_node_announces_local_only_nodes_with_endpoints():
    cluster = base()
    assert all(state(cluster, n).ip_prefixes == {"198.51.100.10": ("198.51.100.10/32",)} for n in NODES)
    local = [pool(), bgpad(), peer(), *(node(n) for n in NODES), service(etp="Local"), endpoints(nodes=("node2",))]
    assert [n for n in NODES if state(local, n).ip_prefixes] == ["node2"]


def test_terminating_but_serving_endpoint_counts():
    eps = endpoints(nodes=("node1",))
    eps["endpoints"][0]["conditions"] = {"ready": False, "serving": True, "terminating": True}
    assert state([pool(), bgpad(), peer(), node("node1"), service(), eps]).ip_prefixes


# ---------------------------------------------------------------- what is sent


def test_multiple_advertisements_metallb_case():
    """bgp_controller_test "Multiple advertisement config": /32 with localPref 100 and communities, /24
    with localPref 1000 (iBGP peer: LOCAL_PREF sent)."""
    objs = [pool(addresses=("198.51.100.0/24",)),
            bgpad("a", localPref=100, communities=["0:1234", "0:2345"]),
            bgpad("b", aggregationLength=24, localPref=1000),
            peer(myASN=64500, peerASN=64500), node("node1"), service(), endpoints()]
    routes = {r.prefix: r for r in state(objs).peers[0].routes}
    assert sorted(routes) == ["198.51.100.0/24", "198.51.100.10/32"]
    assert routes["198.51.100.10/32"].local_pref == 100
    assert [str(c) for c in routes["198.51.100.10/32"].communities] == ["0:1234", "0:2345"]
    assert routes["198.51.100.0/24"].local_pref == 1000


def test_local_pref_only_to_ibgp_sessions():
    objs = [pool(), bgpad(localPref=300), peer("ibgp", myASN=64500, peerASN=64500),
            peer("ebgp", peerAddress="198.51.100.253", peerASN=64999), node("node1"), service(), endpoints()]
    got = state(objs)
    assert got.routes("ibgp")[0].local_pref == 300
    assert got.routes("ebgp")[0].local_pref == 0


def test_same_prefix_from_two_services_unions_communities_sorted():
    objs = [pool(addresses=("198.51.100.0/24",)), community(gold="large:64500:1:2", silver="65000:2"),
            bgpad("a", aggregationLength=24, communities=["gold", "65000:10"],
                  serviceSelectors=None), peer(), node("node1"),
            service("web", ips=("198.51.100.10",)), service("db", ips=("198.51.100.20",)),
            endpoints("web"), endpoints("db")]
    objs[2]["spec"].pop("serviceSelectors")
    objs.append(bgpad("b", aggregationLength=24, communities=["silver"]))
    routes = state(objs).peers[0].routes
    assert [r.prefix for r in routes] == ["198.51.100.0/24"]
    # MetalLB's order: a:b sorts as the large community (a<<16|b):0:0
    assert [str(c) for c in routes[0].communities] == ["large:64500:1:2", "65000:2", "65000:10"]


def test_peers_restriction_and_address_family():
    objs = [pool(), bgpad("only-tor1", peers=["tor1"]), peer("tor1"), peer("tor2", peerAddress="198.51.100.253"),
            peer("v6", peerAddress="2001:db8::1"), node("node1"),
            service(ips=("198.51.100.10", "2001:db8:1::10")), endpoints()]
    got = state(objs)
    assert [r.prefix for r in got.routes("tor1")] == ["198.51.100.10/32"]  # IPv4 session: IPv4 only
    assert got.routes("tor2") == () and got.routes("v6") == ()  # not in ``peers``
    assert got.service_peers == {"default/web": ("tor1",)}


def test_aggregation_length_v6():
    objs = [pool(), bgpad(aggregationLengthV6=120), peer(peerAddress="2001:db8::1"), node("node1"),
            service(ips=("2001:db8:1::10",)), endpoints()]
    assert [r.prefix for r in state(objs).peers[0].routes] == ["2001:db8:1::/120"]


def test_graceful_shutdown_adds_the_community_to_every_route():
    got = graceful_shutdown(state(base(communities=["65000:1"]), "node2"))
    assert all(GRACEFUL_SHUTDOWN in r.communities for p in got.peers for r in p.routes)
    assert [str(c) for c in got.peers[0].routes[0].communities] == ["65000:1", "65535:0"]


def test_no_session_carries_it():
    objs = [pool(), bgpad(), peer(peerAddress="2001:db8::1"), node("node1"), service(), endpoints()]
    got = state(objs)
    assert got.ip_prefixes and got.peers[0].routes == ()


# ---------------------------------------------------------------- planner


def test_planner_reports_every_node():
    objs = [pool(), bgpad(localPref=50, communities=["65000:1", "large:1:2:3"]),
            peer("tor", myASN=64500, peerASN=64500, password="hunter2"),
            *(node(n) for n in NODES), service(etp="Local"), endpoints(nodes=("node2",))]
    del objs[-2]["status"]
    out = planner.plan(objs, bgp_type="frr")
    assert out["errors"] == []
    bgp = out["announcements"]["198.51.100.10"]["bgp"]
    assert bgp["node2"] == {"peers": ["tor"], "prefixes": ["198.51.100.10/32"], "communities": ["65000:1"],
                            "large_communities": ["large:1:2:3"], "local_pref": 50}
    assert bgp["node1"] == bgp["node3"] == {"reason": A.NO_LOCAL_ENDPOINTS}
    assert "hunter2" not in json.dumps(out)


def test_planner_without_bgp_has_no_bgp_key():
    objs = [pool(), {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                     "metadata": {"name": "l2", "namespace": "metallb-system"}, "spec": {}},
            node("node1"), service(), endpoints()]
    for o in objs:
        if o["kind"] == "Service":
            del o["status"]
    out = planner.plan(objs)
    assert out["announcements"] and all("bgp" not in e for e in out["announcements"].values())


def test_no_peers_reason_in_planner():
    objs = [pool(), bgpad(), peer(peerAddress="2001:db8::1"), node("node1"), service(), endpoints()]
    del objs[4]["status"]
    out = planner.plan(objs, bgp_type="frr")
    assert out["announcements"]["198.51.100.10"]["bgp"] == {"node1": {"reason": NO_PEERS}}


def test_cli_bgp_type(tmp_path, capsys):
    """FRR-only fields (``vrf``) are accepted by default (FRR mode), refused with ``--bgp-type native``."""
    from ansible_collections.metal.lb.plugins.module_utils.shells import cli

    objs = [pool(), bgpad(), peer(vrf="red"), node("node1"), service(), endpoints()]
    del objs[4]["status"]
    path = tmp_path / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    assert cli.main(["plan", "-f", str(path), "--bgp-type", "native"]) == 1
    assert "vrf" in " ".join(json.loads(capsys.readouterr().out)["errors"])
    assert cli.main(["plan", "-f", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["announcements"]["198.51.100.10"]["bgp"]["node1"]["peers"] == ["router"]


def test_unreadable_password_secret_is_one_error_naming_the_peer_never_the_value():
    bad = secret("auth")
    bad["data"]["password"] = "not base64!"
    objs = [pool(), bgpad(), node("node1"), bad, peer("r", passwordSecret={"name": "auth"}),
            peer("other", peerAddress="198.51.100.253"), service(), endpoints()]
    got = state(objs)
    assert [p.session.name for p in got.peers] == ["other"]  # the other session keeps running
    assert got.errors == ('BGPPeer "r": spec.passwordSecret: secret metallb-system/auth: the password key is not '
                          'base64 of UTF-8 text',)


def test_string_data_password_and_dynamic_internal_is_ibgp():
    s = secret("auth")
    s["stringData"] = {"password": "plain"}
    del s["data"]
    objs = [pool(), bgpad(localPref=7), node("node1"), s, service(), endpoints(),
            {**peer("r"), "spec": {"myASN": 64500, "dynamicASN": "internal", "peerAddress": "198.51.100.254",
                                   "passwordSecret": {"name": "auth"}}}]
    got = state(objs)
    assert got.peers[0].session.password == "plain" and got.peers[0].session.ibgp
    assert got.peers[0].routes[0].local_pref == 7


def test_local_asn_is_for_ebgp_only():
    """FRR refuses ``local-as`` on iBGP sessions and equal to the remote AS: one error naming the peer."""
    objs = [pool(), bgpad(localPref=7), node("node1"), service(), endpoints(),
            peer("ok", myASN=64500, peerASN=64600, localASN=64650),
            peer("same", peerAddress="198.51.100.253", myASN=64500, peerASN=64600, localASN=64600),
            peer("ibgp", peerAddress="198.51.100.252", myASN=64500, peerASN=64500, localASN=64650)]
    got = state(objs)
    assert [p.session.name for p in got.peers] == ["ok"] and got.peers[0].routes[0].local_pref == 0
    assert sorted(e.split(":")[0] for e in got.errors) == ['BGPPeer "ibgp"', 'BGPPeer "same"']


def test_sessions_that_cannot_share_one_frr_router_are_refused_one_by_one():
    """Parsed without the FRR cross-checks, a node still never gets two routers for one VRF."""
    objs = [pool(), bgpad(), node("node1"), service(), endpoints(), peer("a"),
            peer("b", peerAddress="198.51.100.253", myASN=64999), peer("c", peerAddress="198.51.100.254"),
            peer("d", peerAddress="198.51.100.252", myASN=64999, vrf="red")]
    parsed = parse_config(objs, bgp_type="")  # MetalLB: an unknown type skips the mode validation
    assert parsed.errors == []
    nodes = {"node1": objs[2]}
    from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import node_bgp as run

    got = run(parsed.config, "node1", nodes, [], [], {})
    assert [p.session.name for p in got.peers] == ["a", "d"]
    assert [e.split(":")[1].strip() for e in got.errors] == ["spec.myASN", "spec.peerAddress"]


def test_password_frr_cannot_take_is_refused_without_showing_it():
    objs = [pool(), bgpad(), node("node1"), service(), endpoints(), peer("r", password="two words")]
    got = state(objs)
    assert got.peers == () and "two words" not in " ".join(got.errors)
    assert got.errors == ('BGPPeer "r": spec.password: the password has a blank or control character, which FRR '
                          'cannot take',)


SHARED = [pool(addresses=("198.51.100.0/24",)), community(gold="large:64500:1:2"),
          bgpad("a", aggregationLength=24, communities=["gold"], localPref=10),
          bgpad("b", communities=["65000:1"], peers=["x"]),
          peer("x", myASN=64500, peerASN=64500), peer("y", peerAddress="198.51.100.253"), node("node1"),
          *(service("s%d" % i, ips=("198.51.100.%d" % (10 + i),), labels={"i": str(i)}) for i in range(5)),
          *(endpoints("s%d" % i) for i in range(5))]


@settings(max_examples=50, deadline=None)
@given(st.permutations(range(5)))
def test_the_order_services_arrive_in_changes_nothing(order):
    services = [o for o in SHARED if o["kind"] == "Service"]
    assert state(SHARED, services=[services[i] for i in order]) == state(SHARED, services=services)
