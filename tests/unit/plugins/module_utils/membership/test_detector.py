# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The membership state machine on a simulated network with a fake clock.

Every bound asserted here is a property of the protocol under a fake clock (deterministic), not
a wall-clock measurement: e.g. "a silent member is out within failure_timeout + 1 ms of its last
heartbeat" follows from the timers, whatever machine runs the test.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections import Counter

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.detector import (
    Detector,
    DetectorConfig,
    ReplayWindow,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.messages import (
    FLAG_CONFIRMED,
    Kind,
    Message,
    State,
)

CFG = DetectorConfig()
T0 = 1000.0
WALL0 = 1_700_000_000_000


class Sim:
    """N detectors joined by a network with fixed latency, driven by one fake clock; lossless
    unless ``loss`` (then each datagram is lost with that probability, from a seeded RNG)."""

    def __init__(self, names, config: DetectorConfig = CFG, latency: float = 0.0005,
                 loss: float = 0.0, seed: int = 0) -> None:
        self.config = config
        self.latency = latency
        self.loss = loss
        self.rng = random.Random(seed)
        self.now = T0
        self.names = list(names)
        self.nodes: dict[str, Detector] = {}
        self.running: set[str] = set()
        self.blocked: set[tuple[str, str]] = set()
        self.queue: list = []
        self.order = itertools.count()
        self.seq: Counter = Counter()
        self.sent: Counter = Counter()  # (src, kind) -> datagrams
        self.history: dict[str, list[tuple[float, frozenset]]] = {}
        self.drops: Counter = Counter()
        for n in self.names:
            self.start(n)

    def wall_ms(self) -> int:
        return WALL0 + int(round((self.now - T0) * 1000))

    def start(self, name: str, incarnation: int | None = None) -> Detector:
        inc = incarnation if incarnation is not None else self.wall_ms()
        d = Detector(name, inc, self.now, self.config)
        self.nodes[name] = d
        self.running.add(name)
        self.history.setdefault(name, []).append((self.now, frozenset()))
        self.emit(name, d.set_known(self.names, self.now))
        self.emit(name, d.start(self.now))
        return d

    def kill(self, name: str) -> None:
        self.running.discard(name)

    def leave(self, name: str) -> None:
        self.emit(name, self.nodes[name].leave())
        self.running.discard(name)

    def emit(self, src: str, out) -> None:
        for dst, msg in out.sends:
            self.sent[(src, msg.kind)] += 1
            if (src, dst) in self.blocked or (self.loss and self.rng.random() < self.loss):
                continue
            self.seq[src] += 1
            stamped = dataclasses.replace(msg, seq=self.seq[src], sent_ms=self.wall_ms())
            heapq.heappush(self.queue, (self.now + self.latency, next(self.order), dst, stamped))
        if out.live is not None:
            self.history[src].append((self.now, out.live))
        if out.dropped:
            self.drops[(src, out.dropped)] += 1

    def stamped(self, msg: Message) -> Message:
        """``msg`` with the sequence number and time its sender's transport would stamp."""
        self.seq[msg.sender] += 1
        return dataclasses.replace(msg, seq=self.seq[msg.sender], sent_ms=self.wall_ms())

    def deliver(self, dst: str, msg: Message):
        out = self.nodes[dst].receive(msg, self.now, self.wall_ms())
        self.emit(dst, out)
        return out

    def run(self, duration: float, until=None) -> float:
        """Advance the clock; stop early when ``until()`` becomes true. Returns the clock."""
        end = self.now + duration
        while self.now < end:
            if until is not None and until():
                return self.now
            nxt = min([self.nodes[n].next_deadline() for n in self.running] + [end])
            if self.queue:
                nxt = min(nxt, self.queue[0][0])
            self.now = max(self.now, nxt)
            while self.queue and self.queue[0][0] <= self.now:
                _unused, _unused, dst, msg = heapq.heappop(self.queue)
                if dst in self.running:
                    self.deliver(dst, msg)
            for n in sorted(self.running):
                if self.nodes[n].next_deadline() <= self.now:
                    self.emit(n, self.nodes[n].tick(self.now))
                    # A tick does everything that is due: a deadline left at or before ``now``
                    # would make a real caller spin (and this loop never end).
                    assert self.nodes[n].next_deadline() > self.now, f"{n}: deadline stuck at {self.now}"
        return self.now

    def live(self, name: str) -> frozenset:
        return self.nodes[name].live()

    def views_agree(self, nodes=None) -> bool:
        nodes = sorted(nodes or self.running)
        return len({self.live(n) for n in nodes}) == 1

    def ever_live(self, member: str, since: float) -> bool:
        return any(member in live for hist in self.history.values() for t, live in hist if t >= since)


def converged(sim: Sim) -> Sim:
    sim.run(CFG.stable_period + 1.0)
    assert all(sim.live(n) == frozenset(sim.running) for n in sim.running)
    return sim


# ------------------------------------------------------------------------ basics

def test_cold_start_members_become_live_only_after_the_stable_period():
    sim = Sim(["a", "b", "c"])
    sim.run(CFG.stable_period - 0.05)
    assert all(sim.live(n) == frozenset() for n in "abc")
    sim.run(0.2)
    assert all(sim.live(n) == frozenset("abc") for n in "abc")
    assert all(sim.nodes[n].ready for n in "abc")


@pytest.mark.parametrize("n", [3, 5, 12])
def test_killed_member_is_out_everywhere_within_the_failure_timeout(n):
    names = [f"node{i}" for i in range(n)]
    sim = converged(Sim(names))
    victim = names[n // 2]
    sim.run(0.0123)  # an arbitrary phase within the heartbeat cycle
    t_kill = sim.now
    sim.kill(victim)
    survivors = [x for x in names if x != victim]
    t_out = sim.run(2.0, until=lambda: all(victim not in sim.live(s) for s in survivors))
    assert all(victim not in sim.live(s) for s in survivors)
    # its last heartbeat left at most one interval before the kill; watchers accuse at
    # failure_timeout after it; the quorum's accusations land one latency later.
    assert t_out - t_kill <= CFG.failure_timeout + 2 * sim.latency + 0.002
    assert t_out - t_kill >= CFG.failure_timeout - CFG.heartbeat_interval
    assert sim.views_agree(survivors)
    assert all(sim.nodes[s].members[victim].state == State.DOWN for s in survivors)


def test_graceful_leave_drops_the_member_at_once():
    sim = converged(Sim(["a", "b", "c", "d"]))
    t_leave = sim.now
    sim.leave("b")
    t_out = sim.run(1.0, until=lambda: all("b" not in sim.live(s) for s in "acd"))
    assert t_out - t_leave <= 2 * sim.latency
    assert all(sim.nodes[s].members["b"].state == State.LEFT for s in "acd")
    assert sim.views_agree()


def test_restarted_member_is_eligible_only_after_the_stable_period():
    sim = converged(Sim(["a", "b", "c"]))
    sim.kill("c")
    sim.run(1.0)
    t_back = sim.now
    sim.start("c")
    sim.run(0.05)
    # UP at once in every view, but not live (eligible) yet ...
    assert all(sim.nodes[s].members["c"].state == State.UP for s in "ab")
    assert all("c" not in sim.live(s) for s in "abc")
    # ... and live everywhere once it has been alive for the whole stable period.
    t_live = sim.run(CFG.stable_period, until=lambda: all(sim.live(s) == frozenset("abc") for s in "abc"))
    assert all(sim.live(s) == frozenset("abc") for s in "abc")
    assert CFG.stable_period <= t_live - t_back <= CFG.stable_period + 0.01


def test_restarted_node_learns_established_members_ages_and_is_ready():
    sim = converged(Sim(["a", "b", "c", "d"]))
    sim.kill("d")
    sim.run(1.0)
    d = sim.start("d")
    assert not d.ready
    sim.run(0.05)
    assert d.ready  # a peer's SYNC arrived
    # a, b, c have been up for long: eligible in d's fresh view at once; d itself is not.
    assert d.live() == frozenset("abc")
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


def test_a_flapping_member_never_becomes_eligible():
    sim = converged(Sim(["a", "b", "c"]))
    t_first = sim.now
    for _unused in range(10):
        sim.kill("c")
        sim.run(0.6)
        sim.start("c")
        sim.run(CFG.stable_period * 0.75)
    assert not any("c" in live for s in "ab" for t, live in sim.history[s] if t > t_first + 0.5)
    sim.run(CFG.stable_period)  # and once it stays, it is back
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


def test_a_flapping_link_restarts_the_stable_period():
    sim = converged(Sim(["a", "b", "c"]))
    t_first = sim.now
    for _unused in range(5):
        sim.blocked |= {("c", "a"), ("c", "b"), ("a", "c"), ("b", "c")}
        sim.run(0.6)
        sim.blocked.clear()
        sim.run(1.0)
    assert not any("c" in live for s in "ab" for t, live in sim.history[s] if t > t_first + 0.5)
    sim.run(CFG.stable_period + 0.5)
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


# ----------------------------------------------------------- robustness, quorum

def test_one_watcher_that_cannot_hear_a_member_does_not_evict_it():
    sim = converged(Sim(["a", "b", "c", "d", "e"]))
    sim.blocked.add(("c", "a"))  # a never hears c (one-way loss)
    sim.run(3.0)
    assert all(sim.live(s) == frozenset("abcde") for s in "abcde")
    assert sim.nodes["a"].counters["accusations_sent"] == 1  # accused once, not in a loop
    assert sim.nodes["c"].counters["refutations"] == 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_packet_loss_evicts_nobody(seed):
    """5 % loss on every path for a simulated minute: accusations happen, evictions do not."""
    sim = converged(Sim([f"n{i}" for i in range(5)], seed=seed))
    sim.loss = 0.05
    t_loss = sim.now
    sim.run(60.0)
    everyone = frozenset(sim.names)
    assert sum(d.counters["accusations_sent"] for d in sim.nodes.values()) >= 1  # loss did bite
    assert all(live == everyone for hist in sim.history.values() for t, live in hist if t >= t_loss)


@pytest.mark.parametrize("n, seed", [(3, 1), (3, 2), (5, 1), (5, 2)])
def test_a_killed_member_is_detected_everywhere_despite_packet_loss(n, seed):
    """Lost accusations are repaired (view digests in heartbeats, then SYNC): still well under 2 s."""
    names = [f"n{i}" for i in range(n)]
    sim = converged(Sim(names, loss=0.1, seed=seed))
    sim.kill("n1")
    survivors = [x for x in names if x != "n1"]
    sim.run(2.0, until=lambda: all("n1" not in sim.live(s) for s in survivors))
    assert all(sim.nodes[s].members["n1"].state == State.DOWN for s in survivors)
    assert sim.views_agree(survivors)


def test_two_members_dying_together_are_both_detected_in_a_three_node_cluster():
    sim = converged(Sim(["a", "b", "c"]))
    sim.kill("b")
    sim.kill("c")
    sim.run(1.0)
    assert sim.live("a") == frozenset("a")


def test_half_the_cluster_dying_at_once_is_detected_everywhere():
    names = [f"n{i:02d}" for i in range(16)]
    sim = converged(Sim(names))
    dead = names[::2]
    for n in dead:
        sim.kill(n)
    sim.run(2.0)
    survivors = frozenset(names[1::2])
    assert all(sim.live(s) == survivors for s in survivors)


def test_partitioned_member_is_out_and_merges_back_after_healing():
    names = ["a", "b", "c", "d", "e"]
    sim = converged(Sim(names))
    cut = {(x, "e") for x in "abcd"} | {("e", x) for x in "abcd"}
    sim.blocked |= cut
    sim.run(1.0)
    assert all(sim.live(s) == frozenset("abcd") for s in "abcd")
    sim.blocked -= cut
    t_heal = sim.now
    sim.run(CFG.down_probe_interval + CFG.stable_period + 1.0)
    assert all(sim.live(s) == frozenset(names) for s in names)
    assert sim.views_agree()
    assert sim.nodes["e"].up_since >= t_heal  # e knows it was out and restarted its own clock


def test_replays_and_old_incarnations_are_dropped_and_change_nothing():
    sim = converged(Sim(["a", "b", "c"]))
    captured: list[Message] = []
    orig = sim.deliver

    def tap(dst, msg):
        if dst == "a" and msg.sender == "b":
            captured.append(msg)
        return orig(dst, msg)

    sim.deliver = tap
    sim.run(0.5)
    sim.leave("b")  # capture b's LEAVE too
    sim.run(0.1)
    sim.deliver = orig
    sim.start("b")  # a new incarnation of b
    sim.run(CFG.stable_period + 0.5)
    assert sim.live("a") == frozenset("abc")
    before = dict(sim.nodes["a"].counters)
    results = [sim.deliver("a", m) for m in captured]
    assert all(r.dropped == "replay" for r in results)
    assert sim.live("a") == frozenset("abc")
    assert sim.nodes["a"].members["b"].state == State.UP
    assert sim.nodes["a"].counters == before


def test_duplicate_datagram_is_a_replay():
    sim = converged(Sim(["a", "b"]))
    msg = Message(Kind.HEARTBEAT, "b", sim.nodes["b"].incarnation, seq=10**6, sent_ms=sim.wall_ms(),
                  digest=sim.nodes["b"].digest())
    assert sim.deliver("a", msg).dropped is None
    assert sim.deliver("a", msg).dropped == "replay"


def test_old_incarnation_and_unknown_sender_are_dropped():
    sim = converged(Sim(["a", "b"]))
    old = Message(Kind.LEAVE, "b", sim.nodes["b"].incarnation - 1, seq=10**6, sent_ms=sim.wall_ms())
    assert sim.deliver("a", old).dropped == "replay"
    stranger = Message(Kind.DOWN, "mallory", 1, 1, sim.wall_ms(), subject="b", subject_incarnation=10**15)
    assert sim.deliver("a", stranger).dropped == "unknown_sender"
    assert sim.live("a") == frozenset("ab")


def test_replay_window_accepts_reordering_within_the_window():
    w = ReplayWindow(64)
    assert w.check(5, 100) is None
    assert w.check(5, 90) is None  # late but new
    assert w.check(5, 90) == "replay"
    assert w.check(5, 100 - 64) == "replay"  # too old to tell
    assert w.check(5, 1000) is None
    assert w.check(4, 2000) == "old_incarnation"
    assert w.check(6, 1) is None  # a new incarnation starts a new window


def test_a_single_forged_accusation_makes_the_subject_refute_but_changes_no_view():
    sim = converged(Sim(["a", "b", "c", "d"]))
    b = sim.nodes["b"]
    inc = b.incarnation
    # Authentic in every respect but its content: a (buggy or with a bad link) accuses b once,
    # with the next sequence number a's transport would stamp. (A made-up seq far ahead, as this
    # test once used, moves a's replay window past everything a really sends: a's genuine
    # datagrams are then replays, a goes silent and is rightly evicted. Only a key holder can
    # do that, and a key holder can forge a LEAVE as well: the key is the trust boundary.)
    lie = sim.stamped(Message(Kind.DOWN, "a", sim.nodes["a"].incarnation, subject="b",
                              subject_incarnation=inc))
    t_lie = sim.now
    for dst in "bcd":
        sim.deliver(dst, lie)
    sim.run(1.0)
    assert b.incarnation > inc
    assert all(sim.live(s) == frozenset("abcd") for s in "abcd")
    assert all(sim.nodes[s].members["b"].state == State.UP for s in "acd")
    assert not any(sim.drops.values())
    assert not any(t >= t_lie for s in "abcd" for t, _unused in sim.history[s])  # no view ever changed


def test_a_leave_recorded_for_a_member_that_is_still_talking_heals():
    """A stale or forged LEAVE: the member keeps talking, is told, and rejoins after its stable period."""
    sim = converged(Sim(["a", "b", "c"]))
    b_inc = sim.nodes["b"].incarnation
    sim.deliver("a", sim.stamped(Message(Kind.LEAVE, "b", b_inc)))
    assert sim.nodes["a"].members["b"].state == State.LEFT and "b" not in sim.live("a")
    sim.run(CFG.stable_period + 0.5)
    assert sim.nodes["b"].incarnation > b_inc
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


def test_an_accusation_at_the_largest_incarnation_cannot_overflow_mine():
    sim = converged(Sim(["a", "b", "c"]))
    b = sim.nodes["b"]
    top = 2**64 - 1
    for subject_inc in (top - 1, top, top):
        out = b.receive(sim.stamped(Message(Kind.DOWN, "a", sim.nodes["a"].incarnation, flags=FLAG_CONFIRMED,
                                            subject="b", subject_incarnation=subject_inc)),
                        sim.now, sim.wall_ms())
        assert b.incarnation <= top
        assert all(msg.incarnation <= top for _unused, msg in out.sends)
    sim.run(1.0)
    assert b.incarnation == top


def test_confirmed_notice_about_an_older_incarnation_is_ignored_when_up():
    sim = converged(Sim(["a", "b", "c"]))
    b = sim.nodes["b"]
    old = sim.stamped(Message(Kind.DOWN, "a", sim.nodes["a"].incarnation, flags=FLAG_CONFIRMED,
                              subject="b", subject_incarnation=b.incarnation - 5))
    up_since = b.up_since
    sim.deliver("b", old)
    assert b.up_since == up_since
    sim.run(0.5)
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


# ------------------------------------------------------ known set (the API view)

def test_api_outage_keeps_remembered_members_and_failover_still_works():
    sim = converged(Sim(["a", "b", "c", "d"]))
    # The API goes away: the speaker simply stops calling set_known. Nothing is forgotten ...
    sim.run(60.0)
    assert all(sim.live(s) == frozenset("abcd") for s in "abcd")
    # ... a member dying during the outage is still detected, and one coming back returns.
    sim.kill("d")
    sim.run(1.0)
    assert all(sim.live(s) == frozenset("abc") for s in "abc")
    assert all(sim.nodes[s].members["d"].state == State.DOWN for s in "abc")  # remembered, DOWN
    sim.start("d")
    sim.run(CFG.stable_period + 0.5)
    assert all(sim.live(s) == frozenset("abcd") for s in "abcd")


def test_member_leaves_the_known_set_only_when_the_api_removes_it():
    sim = converged(Sim(["a", "b", "c"]))
    for s in "ab":
        sim.emit(s, sim.nodes[s].set_known(["a", "b"], sim.now))
    assert all("c" not in sim.live(s) for s in "ab")
    assert "c" not in sim.nodes["a"].members
    # c (still running, still heartbeating to us) is not let back in as an unknown sender
    sim.run(1.0)
    assert all("c" not in sim.live(s) for s in "ab")
    assert sim.drops[("a", "unknown_sender")] > 0


def test_member_added_by_the_api_joins_after_the_stable_period():
    sim = converged(Sim(["a", "b"]))
    sim.names.append("c")
    for s in "ab":
        sim.emit(s, sim.nodes[s].set_known(sim.names, sim.now))
    sim.start("c")
    sim.run(CFG.stable_period + 0.5)
    assert all(sim.live(s) == frozenset("abc") for s in "abc")


# --------------------------------------------------------------------- scaling

def test_heartbeats_per_node_do_not_grow_with_cluster_size():
    names = [f"n{i:02d}" for i in range(40)]
    sim = converged(Sim(names))
    sim.sent.clear()
    sim.run(10.0)
    per_node = {n: sim.sent[(n, Kind.HEARTBEAT)] / 10.0 for n in names}
    expected = CFG.watchers / CFG.heartbeat_interval
    assert all(abs(rate - expected) <= 1.0 for rate in per_node.values())
    total = sum(c for (src, kind), c in sim.sent.items())
    assert total / 10.0 / len(names) < 2 * expected  # heartbeats dominate at idle


def test_every_member_is_watched_by_k_others():
    names = [f"n{i:02d}" for i in range(20)]
    sim = converged(Sim(names))
    watchers = {n: sim.nodes["n00"].watchers_of(n) for n in names}
    assert all(len(set(w)) == CFG.watchers and n not in w for n, w in watchers.items())
    # all nodes compute the same ring
    assert all(sim.nodes[x].watchers_of("n05") == watchers["n05"] for x in names)


def test_small_cluster_is_all_to_all():
    sim = converged(Sim(["a", "b", "c"]))
    assert sorted(sim.nodes["a"].watchers_of("a")) == ["b", "c"]


def test_config_is_validated():
    with pytest.raises(ValueError):
        DetectorConfig(failure_timeout=0.05, heartbeat_interval=0.1)
    with pytest.raises(ValueError):
        DetectorConfig(quorum=5, watchers=4)
