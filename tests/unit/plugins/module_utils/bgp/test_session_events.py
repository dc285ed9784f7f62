# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Events on BGP session changes: MetalLB's sessionUp / sessionDown, one per change, on the BGPPeer."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.session_events import (
    BFD_DOWN, BFD_UP, SESSION_DOWN, SESSION_UP, Observed, session_events)

A = ("", "198.51.100.254")
B = ("red", "2001:db8::1")
NAMES = {A: "router-a", B: "router-b"}


def reasons(before, after, names=None):
    names = NAMES if names is None else names
    return [(e.peer_name, e.type, e.reason) for e in session_events("node1", names, before, after)]


def test_a_session_coming_up_and_going_down_is_one_event_each():
    down, up = {A: Observed(False)}, {A: Observed(True)}
    assert reasons(down, up) == [("router-a", "Normal", SESSION_UP)]
    assert reasons(up, down) == [("router-a", "Warning", SESSION_DOWN)]
    assert reasons(up, up) == [] and reasons(down, down) == []


def test_the_message_names_the_node_the_neighbor_and_the_vrf():
    (event,) = session_events("node1", NAMES, {}, {B: Observed(True)})
    assert event.message == 'BGP session of node "node1" with 2001:db8::1 (VRF red) established'


def test_a_session_first_seen_up_is_reported_once_first_seen_down_is_not():
    assert reasons({}, {A: Observed(True), B: Observed(False)}) == [("router-a", "Normal", SESSION_UP)]


def test_bfd_going_down_while_bgp_holds_and_coming_back():
    up = {A: Observed(True, "up")}
    dying = {A: Observed(True, "down")}
    assert reasons(up, dying) == [("router-a", "Warning", BFD_DOWN)]
    assert reasons(dying, up) == [("router-a", "Normal", BFD_UP)]
    # a BFD profile added or removed is a configuration change, not an event
    assert reasons({A: Observed(True)}, up) == [] and reasons(up, {A: Observed(True)}) == []


def test_a_session_of_no_bgppeer_gets_no_event_and_a_dropped_up_session_is_down():
    assert reasons({}, {A: Observed(True)}, names={}) == []
    assert reasons({A: Observed(True)}, {}) == [("router-a", "Warning", SESSION_DOWN)]
