# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Membership must not split when wall clocks disagree.

Liveness and replay protection rest on per-sender (incarnation, sequence) only; the sender's
timestamp is informational. Each simulated node here has its own wall clock (an offset from the
shared fake monotonic time), which stamps what it sends, chooses its incarnation at start and is
what it compares against when receiving.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.messages import Kind, Message, State


def _load_simulator():
    """The fake-clock network of test_detector.py (test dirs are not packages: load by path)."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_detector.py")
    spec = importlib.util.spec_from_file_location("_membership_sim_skew", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_SIM = _load_simulator()
CFG = _SIM.CFG
HOUR_MS = 3_600_000


class SkewedSim(_SIM.Sim):
    """``Sim`` where node ``n``'s wall clock reads ``offsets[n]`` ms off the shared one."""

    def __init__(self, names, offsets: dict[str, int], **kwargs) -> None:
        self.offsets = dict(offsets)
        super().__init__(names, **kwargs)

    def node_wall_ms(self, name: str) -> int:
        return _SIM.Sim.wall_ms(self) + self.offsets.get(name, 0)

    def start(self, name: str, incarnation: int | None = None):
        inc = incarnation if incarnation is not None else self.node_wall_ms(name)
        return super().start(name, inc)

    def emit(self, src: str, out) -> None:
        self._actor = src  # ``Sim.emit`` stamps with ``wall_ms()``: make that the sender's clock
        try:
            super().emit(src, out)
        finally:
            self._actor = None

    def wall_ms(self) -> int:
        return super().wall_ms() + self.offsets.get(getattr(self, "_actor", None), 0)

    def deliver(self, dst: str, msg: Message):
        out = self.nodes[dst].receive(msg, self.now, self.node_wall_ms(dst))
        self.emit(dst, out)
        return out


@pytest.mark.parametrize("offset_ms", [31_000, -31_000, 12 * HOUR_MS, -400 * 24 * HOUR_MS])
def test_a_member_with_a_skewed_clock_is_seen_by_all_and_sees_all(offset_ms):
    sim = SkewedSim(["a", "b", "c", "d"], {"d": offset_ms})
    sim.run(CFG.stable_period + 1.0)
    assert all(sim.live(n) == frozenset("abcd") for n in "abcd"), {n: sim.live(n) for n in "abcd"}
    assert not any(sim.drops.values()), sim.drops
    # ... and is detected like any other member when it dies: every view agrees again.
    sim.kill("d")
    sim.run(CFG.failure_timeout + 0.1)
    assert all(sim.live(n) == frozenset("abc") for n in "abc")


def test_a_clock_stepped_during_operation_changes_no_view():
    """NTP correcting a node by an hour (either way) while it runs."""
    sim = _SIM.converged(SkewedSim(["a", "b", "c"], {}))
    t_step = sim.now
    sim.offsets["b"] = -HOUR_MS
    sim.run(1.0)
    sim.offsets["b"] = HOUR_MS
    sim.run(1.0)
    assert all(sim.live(n) == frozenset("abc") for n in "abc")
    assert not any(t >= t_step for n in "abc" for t, _unused in sim.history[n])  # no view changed
    assert not any(sim.drops.values()), sim.drops


def test_a_member_restarted_with_its_clock_set_back_rejoins():
    """Its new incarnation (from its clock) is lower than the one its peers remember: the peers
    hold the old process DOWN once it is silent, and their notice makes the new one refute past it."""
    sim = _SIM.converged(SkewedSim(["a", "b", "c"], {}))
    old_inc = sim.nodes["c"].incarnation
    sim.kill("c")
    sim.offsets["c"] = -HOUR_MS
    sim.start("c")
    assert sim.nodes["c"].incarnation < old_inc
    sim.run(CFG.failure_timeout + CFG.down_probe_interval + CFG.stable_period + 1.0)
    assert sim.nodes["c"].incarnation > old_inc
    assert all(sim.live(n) == frozenset("abc") for n in "abc")


def test_replays_are_refused_without_timestamps():
    """A captured datagram is refused by (incarnation, sequence) whatever time it claims."""
    sim = _SIM.converged(SkewedSim(["a", "b", "c"], {}))
    b = sim.nodes["b"]
    fresh = sim.stamped(Message(Kind.HEARTBEAT, "b", b.incarnation, digest=b.digest()))
    assert sim.deliver("a", fresh).dropped is None
    replay = dataclasses.replace(fresh, sent_ms=sim.wall_ms() + 5)  # re-signed by a key holder
    assert sim.deliver("a", replay).dropped == "replay"
    # A LEAVE captured from b's previous incarnation an hour ago: refused, b stays up.
    old = sim.stamped(Message(Kind.LEAVE, "b", b.incarnation - HOUR_MS))
    old = dataclasses.replace(old, sent_ms=sim.wall_ms() - HOUR_MS)
    assert sim.deliver("a", old).dropped == "replay"
    assert sim.nodes["a"].members["b"].state == State.UP
    sim.run(0.5)
    assert all(sim.live(n) == frozenset("abc") for n in "abc")


def test_the_view_reports_each_members_clock_offset():
    """Operators see a skewed clock (it no longer matters for liveness, but it does for logs)."""
    sim = _SIM.converged(SkewedSim(["a", "b", "c"], {"c": 45_000}))
    view = sim.nodes["a"].view(sim.now)
    assert 44_000 <= view["c"]["clock_offset_ms"] <= 46_000
    assert abs(view["b"]["clock_offset_ms"]) < 1_000


def test_services_over_udp_with_one_clock_a_minute_ahead_see_each_other(caplog):
    """The daemon path: the skewed clock stamps the datagrams and chooses the incarnation."""
    import asyncio
    import time

    from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.detector import DetectorConfig
    from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.service import MembershipService

    key = b"test-key-0123456789abcdef-0123456789"
    config = DetectorConfig(stable_period=0.3, settle_timeout=0.5)
    offsets = {"a": 0.0, "b": 0.0, "c": 60.0}

    async def scenario():
        services: dict[str, MembershipService] = {}
        try:
            for name, offset in offsets.items():
                svc = MembershipService(name, ("127.0.0.1", 0), [key], config=config,
                                        wall=lambda offset=offset: time.time() + offset)
                await svc.start()
                services[name] = svc
                for s in services.values():
                    s.set_known_members({n: o.address for n, o in services.items()})
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                if all(s.live_members() == frozenset("abc") for s in services.values()):
                    break
                await asyncio.sleep(0.02)
            assert all(s.live_members() == frozenset("abc") for s in services.values())
            assert services["a"].view()["c"]["clock_offset_ms"] > 50_000
            assert all(sum(s.stats()["dropped"].values()) == 0 for s in services.values())
            warned = [r.getMessage() for r in caplog.records if "clock is" in r.getMessage()]
            # a and b warn once each about c; c warns once each about a and b
            assert sorted(m[:27] for m in warned) == ["membership: a's clock is -6", "membership: b's clock is -6",
                                                      "membership: c's clock is +6", "membership: c's clock is +6"]
        finally:
            for svc in services.values():
                await svc.stop(graceful=False)

    caplog.set_level("WARNING", logger="metal_lb.membership")
    asyncio.run(asyncio.wait_for(scenario(), 30))
