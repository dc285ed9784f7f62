# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FRR 8.4's ``show running-config`` (captured from a real FRR after loading each golden scenario,
golden/frr84_running) reads back as the rendering: a speaker adopting that FRR has nothing to send."""

from __future__ import annotations

import os

import pytest
from ansible_collections.metal.lb.tests.unit.plugins.module_utils.bgp.test_frr_render import SCENARIOS, state

from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import render_model
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_diff import diff
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_readback import parse_running_config
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import NodeBGP

RUNNING = os.path.join(os.path.dirname(__file__), "golden", "frr84_running")


def running(name: str) -> str:
    with open(os.path.join(RUNNING, name + ".txt"), encoding="utf-8") as handle:
        return handle.read()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_what_frr_holds_reads_back_as_the_rendering(name):
    model = render_model(state(SCENARIOS[name]))
    commands = diff(parse_running_config(running(name)), model)
    # FRR does not print a BFD setting at its default value: re-setting it is all that may remain
    assert [c for c in commands[1:-1] if c.strip() not in ("bfd", "exit", "profile fast", "detect-multiplier 3")] == []


def test_a_changed_state_diffs_against_what_frr_holds():
    model = render_model(state(SCENARIOS["single_ibgp"]))
    held = parse_running_config(running("single_ibgp"))
    assert diff(held, render_model(NodeBGP("node1"))) == diff(model, render_model(NodeBGP("node1")))


def test_frr_words_come_back_as_ours():
    held = parse_running_config(running("dual_stack_vrf_aggregation"))
    lines = [line for _key, entry in held.route_maps for line in entry]
    assert "set community 65535:65281 additive" in lines and not any("no-export" in line for line in lines)
    neighbors = {n.peer: dict(n.lines) for r in held.routers for n in r.neighbors}
    assert neighbors["198.51.100.254"]["port"] == "neighbor 198.51.100.254 port 179"  # FRR omits the default
    ebgp = parse_running_config(running("ebgp_multihop_password_bfd"))
    lines = dict(ebgp.routers[0].neighbors[0].lines)
    assert lines["ebgp-multihop"] == "neighbor 198.51.100.254 ebgp-multihop"
    assert list(dict(ebgp.routers[0].neighbors[0].lines))[0] == "remote-as"


def test_lines_we_never_write_are_removed_by_the_next_diff():
    text = running("single_ibgp").replace(" exit-address-family\nexit",
                                          " exit-address-family\n neighbor 198.51.100.9 remote-as 65001\nexit", 1)
    held = parse_running_config(text)
    model = render_model(state(SCENARIOS["single_ibgp"]))
    assert " no neighbor 198.51.100.9" in diff(held, model)
