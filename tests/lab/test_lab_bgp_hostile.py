# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A peer that sends a malformed OPEN or UPDATE to a node's FRR (loaded with the engine's rendering)
gets a NOTIFICATION with the RFC 4271 error code; the node's daemons keep running, and a well-behaved
router at the same address then establishes and receives the node's prefix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from frr_instance import FrrInstance
from routers import ESTABLISHED, FrrRouter, Neighbor, RouterSpec, missing, wait_for

import netlab
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_model, render_text
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import NodeBGP, PeerRoutes, Route
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import Session

pytestmark = pytest.mark.lab

NODE, PEER = "198.51.100.11", "198.51.100.254"
NODE_ASN, PEER_ASN = 64501, 64500
PREFIX = "198.51.100.70/32"
HOSTILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bgp_hostile_peer.py")
# RFC 4271 6.1-6.3: (error code, subcode)
CASES = {"bad-marker": (1, 1), "bad-version": (2, 1), "bad-hold-time": (2, 6), "bad-peer-as": (2, 2),
         "bad-update": (3, 1)}


@pytest.fixture(scope="module")
def lab(lab_requirements):
    reason = missing()
    if reason:
        pytest.skip(reason)
    lab = netlab.Lab()
    with lab:
        node = lab.add_host("node1", (NODE + "/24",))
        peer = lab.add_host("peer", (PEER + "/24",))
        frr = FrrInstance(node.ns, node.ns)
        session = Session("tor", NODE_ASN, PEER_ASN, address=PEER, connect_time=1, router_id=NODE)
        state = NodeBGP("node1", (PeerRoutes(session, (Route(PREFIX, 4),)),))
        try:
            frr.start(listen=True, bgp_config=render_text(render_model(state)))
            yield lab, peer, frr
        finally:
            frr.stop()
    assert netlab.leftover_namespaces(lab.prefix) == []


def hostile(peer: netlab.Host, case: str) -> dict:
    """Run one case from the peer's namespace. The node refuses connections for a moment after the
    previous case's error (it has not spoken yet then): such an attempt is repeated, bounded."""
    deadline = time.monotonic() + 30
    while True:
        out = peer.run(sys.executable, HOSTILE, case, NODE, str(PEER_ASN), PEER, check=False, timeout=30)
        result = json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[-300:]}
        if result.get("seen") or result.get("notification") or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_message_gets_a_notification_and_the_node_survives(lab, case):
    _lab, peer, frr = lab
    result = hostile(peer, case)
    assert result.get("notification") == list(CASES[case]), result
    assert all(frr.alive(d) for d in ("zebra", "bgpd", "bfdd"))
    frr.wait_vtysh()


def test_a_good_peer_then_establishes_and_receives_the_prefix(lab):
    lab_, peer, frr = lab
    for case in CASES:  # every hostile case once more, then a real router at the same address
        assert hostile(peer, case).get("notification") == list(CASES[case])
    spec = RouterSpec(PEER_ASN, PEER, (Neighbor(NODE_ASN, address=NODE),))
    with FrrRouter(lab_.prefix + "-good", peer.ns, spec) as router:
        wait_for(lambda: (router.sessions().get(NODE) == ESTABLISHED, router.sessions()), 60, 0.2, "session")
        wait_for(lambda: (set(router.routes()) == {PREFIX}, router.routes()), 30, 0.2, "the node's prefix")
    assert all(frr.alive(d) for d in ("zebra", "bgpd", "bfdd"))
    assert subprocess.run(["ip", "netns", "pids", peer.ns], capture_output=True, text=True, timeout=20,
                          check=False).stdout.split() == []
