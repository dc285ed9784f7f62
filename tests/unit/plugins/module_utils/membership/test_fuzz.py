# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hypothesis: hostile input never raises, and input without the key never changes membership.

Two layers: arbitrary bytes into the transport's receive path (decode, count, hand over), and
arbitrary *authenticated* messages (what a buggy or compromised key holder could send) into the
state machine of a converged cluster.
"""

from __future__ import annotations

import copy
import importlib.util
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership import messages as M
from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.transport import (
    DROP_REASONS,
    UdpEndpoint,
)


def _load_simulator():
    """The fake-clock network of test_detector.py (test dirs are not packages: load by path)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_detector.py")
    spec = importlib.util.spec_from_file_location("_membership_sim", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Sim, module.converged


Sim, converged = _load_simulator()

KEY = b"0123456789abcdef0123456789abcdef"
CLUSTER = M.cluster_id("metal-lb")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_BASE: Sim | None = None


def fresh_cluster() -> Sim:
    """A converged 3-node cluster; built once, copied per example (the copy is cheap)."""
    global _BASE
    if _BASE is None:
        _BASE = converged(Sim(["a", "b", "c"]))
    return copy.deepcopy(_BASE)


# ---------------------------------------------------------------- transport: any bytes

@SETTINGS
@given(st.lists(st.binary(max_size=1500), min_size=1, max_size=20))
def test_any_bytes_are_dropped_and_counted_once_each_and_never_reach_the_detector(datagrams):
    handed_over = []
    ep = UdpEndpoint([KEY], CLUSTER, lambda msg, addr: handed_over.append(msg))
    for data in datagrams:
        ep.datagram_received(data, ("198.51.100.7", 7946))
    assert handed_over == []
    assert ep.received == len(datagrams)
    assert sum(ep.dropped.values()) == len(datagrams)
    assert ep.dropped["internal"] == 0
    assert set(ep.dropped) == set(DROP_REASONS)


@SETTINGS
@given(st.binary(min_size=1, max_size=200), st.integers(0, 10_000))
def test_a_genuine_datagram_with_any_bit_flipped_is_never_handed_over(noise, where):
    msg = M.Message(M.Kind.LEAVE, "b", 7, seq=3, sent_ms=1_700_000_000_000)
    data = bytearray(M.encode(msg, KEY, CLUSTER))
    data[where % len(data)] ^= noise[0] or 1
    handed_over = []
    ep = UdpEndpoint([KEY], CLUSTER, lambda m, a: handed_over.append(m))
    ep.datagram_received(bytes(data), ("198.51.100.7", 7946))
    assert handed_over == [] and sum(ep.dropped.values()) == 1


# ------------------------------------------------- detector: any authenticated message

NAMES = ["a", "b", "c", "mallory"]
STATES = st.sampled_from(list(M.State))


@st.composite
def hostile_messages(draw, sim: Sim):
    """Messages with valid MACs but arbitrary content: incarnations, seqs, subjects, entries."""
    def incarnation():
        real = [d.incarnation for d in sim.nodes.values()]
        above = [min(r + 1, 2**64 - 1) for r in real]  # the wire holds a u64
        return draw(st.one_of(st.sampled_from(real), st.sampled_from(above),
                              st.integers(0, 2**64 - 1)))

    kind = draw(st.sampled_from(list(M.Kind)))
    fields: dict = {}
    if kind == M.Kind.HEARTBEAT:
        fields["digest"] = draw(st.binary(min_size=8, max_size=8))
    elif kind == M.Kind.DOWN:
        fields["subject"] = draw(st.sampled_from(NAMES))
        fields["subject_incarnation"] = incarnation()
    elif kind == M.Kind.SYNC:
        fields["entries"] = tuple(
            M.Entry(draw(st.sampled_from(NAMES)), incarnation(), draw(STATES),
                    draw(st.integers(0, 2**32 - 1)), draw(st.booleans()))
            for _unused in range(draw(st.integers(0, 5))))
    return M.Message(kind, draw(st.sampled_from(NAMES)), incarnation(),
                     seq=draw(st.integers(0, 2**64 - 1)),
                     sent_ms=sim.wall_ms() + draw(st.integers(-60_000, 60_000)),
                     flags=draw(st.integers(0, 255)), **fields)


@SETTINGS
@given(st.data())
def test_any_authenticated_message_sequence_never_raises_and_keeps_the_view_sane(data):
    """A key holder can lie (the key is the trust boundary), but cannot crash or wedge a node."""
    sim = fresh_cluster()
    known = {"a", "b", "c"}
    for _unused in range(data.draw(st.integers(1, 12))):
        msg = data.draw(hostile_messages(sim))
        out = sim.nodes["a"].receive(msg, sim.now, sim.wall_ms())
        assert out.dropped in (None, "self", "unknown_sender", "stale", "replay")
        assert {dst for dst, _unused in out.sends} <= known - {"a"}
        sim.emit("a", out)
        sim.run(data.draw(st.sampled_from([0.0, 0.01, 0.2])))  # asserts every tick makes progress
        assert sim.live("a") <= known
    sim.run(3.0)
    for name, node in sim.nodes.items():
        # whatever it was told, every node can still say something on the wire
        M.encode(M.Message(M.Kind.ALIVE, name, node.incarnation), KEY, CLUSTER)
        for dst, reply in node.tick(sim.now).sends + node.leave().sends:
            M.encode(reply, KEY, CLUSTER)
