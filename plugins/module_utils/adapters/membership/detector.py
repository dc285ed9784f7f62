# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failure detection as a pure state machine: messages and clock ticks in, messages and live-set
changes out. No sockets, no clocks of its own: the caller passes ``now`` (monotonic seconds) and
``wall_ms`` (epoch milliseconds), so tests drive it with a fake clock. Nothing depends on the
members' wall clocks agreeing: every timer runs on the receiver's monotonic clock, and the
sender's timestamp is only reported (``clock_offset_ms`` in ``view``).

Protocol (why each part exists):

* **Ring watchers, not all-to-all.** Members are ordered by sha256(name). Every member sends a
  HEARTBEAT every ``heartbeat_interval`` to its ``watchers`` = the next K members on the ring
  that are UP in its view; with N <= K+1 that is everyone. Per node this is K datagrams out and
  about K in per interval whatever N is (all-to-all would be N-1: 4,990 datagrams/s out per node
  at N=500 and 100 ms). Each node computes the same ring from the same known set, so a watcher
  knows whom it watches without being told.
* **Accusation with a quorum.** A watcher that hears nothing from a member for
  ``failure_timeout`` sends a DOWN accusation to every known member (the subject included). A
  member is DOWN in a node's view once ``quorum`` distinct live watchers accused it (fewer when
  fewer live watchers exist: a watcher that is itself accused does not count), so one watcher
  with a bad link cannot evict anybody, while two nodes dying together are still both detected.
  All watchers of a dead member time out within one tick of each other, so every node marks it
  DOWN within a few ms of the others: the same live set everywhere, which the L2 election needs.
* **Refutation by incarnation (SWIM).** A member accused at its current incarnation raises it
  and tells everyone (ALIVE); accusations of an older incarnation are void. A member that learns
  it was really held DOWN (a CONFIRMED notice, a quorum against it, a SYNC saying so) flags its
  ALIVE ``REJOIN`` and restarts its own stable period, so it and its peers agree on it.
* **Stable period.** A member that comes back (or is new) is UP at once but only *live*
  (eligible) after ``stable_period`` of continuous liveness; any DOWN restarts the clock, so a
  flapping node never becomes eligible.
* **Graceful leave.** LEAVE (sent twice) makes peers drop the member at once. A member held LEFT
  that still talks (a stale or forged LEAVE) gets a DOWN notice, refutes and rejoins.
* **Repair.** Heartbeats carry a digest of the sender's view; a receiver whose view differs for
  two heartbeats in a row pulls a SYNC (rate-limited). A restarted node pulls one at start, and is
  ``ready`` once it has a peer's view. Members held DOWN are sent a CONFIRMED notice every
  ``down_probe_interval`` by their would-be watchers, so a healed partition merges back.
* **Remembered members.** The known set only changes through ``set_known`` (the API's view);
  nothing here removes a member because the API is unreachable.
* **Replay window, no timestamps (clocks).** Per sender: incarnation + highest sequence + a 64-bit bitmap
  (IPsec style). A datagram of an older incarnation, or a sequence number already seen, is
  refused whatever time it claims; a freshness bound on the sender's timestamp would split the
  cluster whenever one node's clock is off (it sees only itself while the others see each other,
  and both sides announce the same VIPs). Incarnations are compared per sender only, so they need
  to grow across one node's restarts, not to agree between nodes: a node starts at its own clock
  in ms. If that clock was set back across a restart, the new process starts below the old one:
  its peers refuse it until the old one's silence makes it DOWN, and their DOWN notice makes the
  new one refute past it (one failure timeout later than a normal restart). A receiver without
  state for a sender (it restarted) accepts an old captured datagram once; that can only say
  "alive" at an old incarnation, which the startup SYNC and the watchers' accusations overrule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .messages import FLAG_CONFIRMED, FLAG_REJOIN, Entry, Kind, Message, State, sync_messages

_PRECEDENCE = {State.UNKNOWN: 0, State.UP: 1, State.DOWN: 2, State.LEFT: 3}
# Incarnations are u64 on the wire. A claim about me at the top of that range (only a key holder
# can send one) must not push mine past it: every datagram I send would then fail to encode.
MAX_INCARNATION = 2**64 - 1


@dataclass(frozen=True)
class DetectorConfig:
    """Timing and sizing; defaults aim at <= 0.5 s detection on a quiet LAN."""

    heartbeat_interval: float = 0.1
    failure_timeout: float = 0.35
    stable_period: float = 2.0
    watchers: int = 4
    quorum: int = 2
    settle_timeout: float = 1.0
    startup_sync_retry: float = 0.25
    sync_min_interval: float = 1.0
    down_probe_interval: float = 1.0
    notice_min_interval: float = 0.5
    replay_window: int = 64

    def __post_init__(self) -> None:
        if self.heartbeat_interval <= 0:
            raise ValueError("heartbeat_interval must be > 0")
        if self.failure_timeout <= self.heartbeat_interval:
            raise ValueError("failure_timeout must be longer than heartbeat_interval")
        if self.stable_period < 0:
            raise ValueError("stable_period must be >= 0")
        if self.watchers < 1 or self.quorum < 1:
            raise ValueError("watchers and quorum must be >= 1")
        if self.quorum > self.watchers:
            raise ValueError("quorum must not exceed watchers")
        if not 1 <= self.replay_window <= 1024:
            raise ValueError("replay_window must be 1..1024")


class ReplayWindow:
    """Sequence numbers seen from one sender: accepts each (incarnation, seq) once."""

    __slots__ = ("incarnation", "top", "bits", "size")

    def __init__(self, size: int = 64) -> None:
        self.incarnation = -1
        self.top = 0
        self.bits = 0
        self.size = size

    def check(self, incarnation: int, seq: int) -> str | None:
        """Record (incarnation, seq); return None if fresh, else the drop reason."""
        if incarnation < self.incarnation:
            return "old_incarnation"
        if incarnation > self.incarnation:
            self.incarnation, self.top, self.bits = incarnation, seq, 1
            return None
        if seq > self.top:
            shift = seq - self.top
            self.bits = ((self.bits << shift) | 1) & ((1 << self.size) - 1) if shift < self.size else 1
            self.top = seq
            return None
        back = self.top - seq
        if back >= self.size or (self.bits >> back) & 1:
            return "replay"
        self.bits |= 1 << back
        return None


@dataclass
class Member:
    """What this node knows about one other member."""

    name: str
    state: State = State.UNKNOWN
    incarnation: int = 0
    since: float = 0.0  # when it entered ``state`` (for UP: start of the stable period)
    provisional: bool = False  # UP learned without its age (may be older than ``since``)
    last_heard: float = 0.0
    accusers: dict[str, int] = field(default_factory=dict)  # accuser -> accused incarnation
    window: ReplayWindow = field(default_factory=ReplayWindow)
    digest_mismatch: int = 0
    last_sync_req: float = float("-inf")
    last_sync_sent: float = float("-inf")
    last_notice: float = float("-inf")
    accused_heard: float | None = None  # ``last_heard`` when I last accused it
    clock_offset_ms: int = 0  # its wall clock minus mine, from its last datagram (report only)


@dataclass
class Output:
    """What the caller must do: send ``sends`` (to member names), publish ``live`` if not None."""

    sends: list[tuple[str, Message]] = field(default_factory=list)
    live: frozenset[str] | None = None
    dropped: str | None = None


def _ring_key(name: str) -> bytes:
    return hashlib.sha256(name.encode("utf-8")).digest()


class Detector:
    """One node's membership view. Not thread-safe: one owner calls it."""

    def __init__(self, name: str, incarnation: int, now: float,
                 config: DetectorConfig | None = None) -> None:
        self.name = name
        self.config = config or DetectorConfig()
        self.incarnation = incarnation
        self.started = now
        self.up_since = now
        self.members: dict[str, Member] = {}
        self.leaving = False
        self.started_flag = False
        self.ready_flag = False
        self.counters: dict[str, int] = {
            "accusations_sent": 0, "refutations": 0, "notices_sent": 0, "syncs_requested": 0,
            "syncs_served": 0, "members_down": 0, "members_left": 0}
        self._self_accusers: dict[str, int] = {}  # accusations against me, by accuser
        self._refuted_from = incarnation  # my incarnation before the last refutation
        self._ring: list[str] = [name]
        self._watching: dict[str, float] = {}  # member -> when I started watching it
        self._live: frozenset[str] = frozenset()
        self._digest: bytes | None = None
        self._next_heartbeat = now
        self._next_probe = now + self.config.down_probe_interval
        self._next_startup_sync = now
        self._startup_sync_round = 0

    # ----------------------------------------------------------------- inputs

    def start(self, now: float) -> Output:
        """Announce this (new) process to every known member and ask for their view."""
        out = Output()
        self.up_since = now
        self.started_flag = True
        self._broadcast(out, Message(Kind.ALIVE, self.name, self.incarnation, flags=FLAG_REJOIN))
        self._startup_sync(now, out)
        self._finish(now, out)
        return out

    def set_known(self, names: Iterable[str], now: float) -> Output:
        """Replace the known set with the API's view (self excluded); unknown names start UNKNOWN."""
        out = Output()
        wanted = {n for n in names if n != self.name}
        for gone in set(self.members) - wanted:
            del self.members[gone]
            self._watching.pop(gone, None)
            for m in self.members.values():
                m.accusers.pop(gone, None)
        added = sorted(wanted - set(self.members))
        for name in added:
            self.members[name] = Member(name, window=ReplayWindow(self.config.replay_window))
        if added or len(self._ring) != len(self.members) + 1:
            self._ring = sorted([self.name, *self.members], key=_ring_key)
            self._digest = None
        rejoin = FLAG_REJOIN if now < self._eligible_at(self.up_since) else 0
        for name in added:
            if self.started_flag and not self.leaving:
                out.sends.append((name, Message(Kind.ALIVE, self.name, self.incarnation, flags=rejoin)))
        self._evaluate_accusations(now)
        self._finish(now, out)
        return out

    def receive(self, msg: Message, now: float, wall_ms: int | None = None) -> Output:
        """Apply one authenticated message (already MAC-checked by the codec).

        ``wall_ms`` (this node's wall clock) only measures the sender's clock offset for ``view``.
        """
        out = Output()
        m = self.members.get(msg.sender)
        if msg.sender == self.name:
            out.dropped = "self"
            return out
        if m is None:
            out.dropped = "unknown_sender"
            return out
        reason = m.window.check(msg.incarnation, msg.seq)
        if reason is not None:
            # A restarted node whose clock went backwards sends an older incarnation; if we hold
            # it DOWN (or LEFT), tell it so it raises its incarnation past ours. A replay at an UP
            # member is just dropped.
            if reason == "old_incarnation" and m.state in (State.DOWN, State.LEFT):
                self._notice(m, now, out)
            out.dropped = "replay"
            return out
        if wall_ms is not None and msg.sent_ms:
            m.clock_offset_ms = msg.sent_ms - wall_ms
        if self.leaving:
            return out
        if msg.kind == Kind.LEAVE:
            self._on_leave(m, msg.incarnation, now)
        else:
            self._observe_alive(m, msg, now, out)
            if msg.kind == Kind.HEARTBEAT:
                self._on_heartbeat(m, msg, now, out)
            elif msg.kind == Kind.DOWN:
                self._on_down(m, msg, now, out)
            elif msg.kind == Kind.SYNC_REQ:
                self._on_sync_req(m, now, out)
            elif msg.kind == Kind.SYNC:
                self._on_sync(msg, now, out)
        self._evaluate_accusations(now)
        self._finish(now, out)
        return out

    def tick(self, now: float) -> Output:
        """Timers: heartbeats, watch timeouts, probes of DOWN members, startup sync, eligibility."""
        out = Output()
        if self.leaving or not self.started_flag:
            return out
        cfg = self.config
        self._refresh_watching(now)
        for name, since in self._watching.items():
            m = self.members[name]
            if m.state != State.UP or m.accusers.get(self.name, -1) >= m.incarnation:
                continue
            # Accuse once per silence: after a refutation we did not hear directly, wait until
            # we hear the member again (else a one-way link would make it refute forever).
            if m.accused_heard is not None and m.last_heard <= m.accused_heard:
                continue
            if now >= self._silence_deadline(m, since):
                self._accuse(m, now, out)
        if now >= self._next_heartbeat:
            digest = self.digest()
            for w in self.watchers_of(self.name):
                out.sends.append((w, Message(Kind.HEARTBEAT, self.name, self.incarnation, digest=digest)))
            self._next_heartbeat += cfg.heartbeat_interval
            if self._next_heartbeat <= now:  # we were late: do not send a burst to catch up
                self._next_heartbeat = now + cfg.heartbeat_interval
        if now >= self._next_probe:
            self._next_probe = now + cfg.down_probe_interval
            for m in self.members.values():
                if m.state == State.DOWN and self.name in self._would_watch(m.name):
                    self._notice(m, now, out)
        if not self.ready_flag and now >= self._next_startup_sync:
            self._startup_sync(now, out)
        self._evaluate_accusations(now)
        self._finish(now, out)
        return out

    def leave(self) -> Output:
        """Tell every known member this node is going away (twice: one loss must not matter)."""
        out = Output()
        for _copy in range(2):
            self._broadcast(out, Message(Kind.LEAVE, self.name, self.incarnation))
        self.leaving = True
        return out

    # ---------------------------------------------------------------- queries

    def live(self) -> frozenset[str]:
        return self._live

    @property
    def ready(self) -> bool:
        """True once this node's view is worth acting on (a peer's view arrived, or timeout)."""
        return self.ready_flag

    def next_deadline(self) -> float:
        """The earliest ``now`` at which ``tick`` has something to do (after a tick: > now)."""
        if self.leaving or not self.started_flag:
            return float("inf")
        deadlines = [self._next_heartbeat, self._next_probe]
        for name, since in self._watching.items():
            m = self.members[name]
            if m.state == State.UP and m.accusers.get(self.name, -1) < m.incarnation and (
                    m.accused_heard is None or m.last_heard > m.accused_heard):
                deadlines.append(self._silence_deadline(m, since))
        deadlines.extend(self._eligible_at(m.since) for m in self.members.values()
                         if m.state == State.UP and m.name not in self._live)
        if self.name not in self._live and not self.leaving:
            deadlines.append(self._eligible_at(self.up_since))
        if not self.ready_flag:
            deadlines.append(min(self._next_startup_sync, self._settled_at()))
        return min(deadlines)

    def view(self, now: float) -> dict[str, dict]:
        """Every member's state, for status output and the ``announce`` module."""
        out = {self.name: {"state": "up", "incarnation": self.incarnation,
                           "since": round(now - self.up_since, 3), "live": self.name in self._live}}
        for m in self.members.values():
            out[m.name] = {"state": m.state.name.lower(), "incarnation": m.incarnation,
                           "since": round(now - m.since, 3), "live": m.name in self._live,
                           "clock_offset_ms": m.clock_offset_ms}
        return out

    def digest(self) -> bytes:
        """8 bytes summarising (name, incarnation, state) of every member heard of."""
        if self._digest is None:
            h = hashlib.sha256()
            rows = [(self.name, self.incarnation, State.UP)]
            rows += [(m.name, m.incarnation, m.state) for m in self.members.values()
                     if m.state != State.UNKNOWN]
            for name, inc, state in sorted(rows):
                h.update(b"%s\0%d\0%d\n" % (name.encode("utf-8"), inc, int(state)))
            self._digest = h.digest()[:8]
        return self._digest

    def watchers_of(self, name: str) -> list[str]:
        """The first K members after ``name`` on the ring that are UP in this view (self counts)."""
        return self._successors(name, self.config.watchers, up_only=True)

    # -------------------------------------------------------------- internals

    # Every timer is a deadline computed here and compared as ``now >= deadline`` both where it
    # fires and in ``next_deadline``. Comparing ``now - start >= period`` in one place and
    # returning ``start + period`` in the other disagrees by one float ulp (1022.5005 + 2.0 ==
    # 1024.5005, yet 1024.5005 - 1022.5005 < 2.0): a deadline that is due but never fires, and a
    # caller that sleeps until it spins.

    def _silence_deadline(self, m: Member, watching_since: float) -> float:
        """When I accuse ``m`` if I hear nothing more from it."""
        return max(m.last_heard, watching_since) + self.config.failure_timeout

    def _eligible_at(self, up_since: float) -> float:
        return up_since + self.config.stable_period

    def _settled_at(self) -> float:
        return self.started + self.config.settle_timeout

    def _is_up(self, name: str) -> bool:
        return name == self.name or (name in self.members and self.members[name].state == State.UP)

    def _successors(self, name: str, k: int, up_only: bool) -> list[str]:
        ring = self._ring
        try:
            i = ring.index(name)
        except ValueError:
            return []
        out = []
        for step in range(1, len(ring)):
            cand = ring[(i + step) % len(ring)]
            if not up_only or self._is_up(cand):
                out.append(cand)
                if len(out) >= k:
                    break
        return out

    def _would_watch(self, name: str) -> list[str]:
        """Who would watch ``name`` if it were UP: they probe it while it is DOWN."""
        return self.watchers_of(name)

    def _refresh_watching(self, now: float) -> None:
        """Members whose watcher set (by ring, in my view) includes me."""
        k = self.config.watchers
        ring = self._ring
        i = ring.index(self.name)
        mine: list[str] = []
        for step in range(1, len(ring)):
            cand = ring[(i - step) % len(ring)]
            if self._is_up(cand):
                mine.append(cand)
                if len(mine) >= k:
                    break
        old = self._watching
        self._watching = {n: old.get(n, now) for n in mine}

    def _broadcast(self, out: Output, msg: Message) -> None:
        for name in self.members:
            out.sends.append((name, msg))

    def _startup_sync(self, now: float, out: Output) -> None:
        others = [n for n in self._ring if n != self.name]
        if now >= self._settled_at():
            self.ready_flag = True
            return
        self._next_startup_sync = now + self.config.startup_sync_retry
        if not others:
            return
        # Ask three members per round, walking the ring from our successors.
        ordered = self._successors(self.name, len(others), up_only=False)
        start = (self._startup_sync_round * 3) % len(ordered)
        for name in (ordered + ordered)[start:start + min(3, len(ordered))]:
            out.sends.append((name, Message(Kind.SYNC_REQ, self.name, self.incarnation)))
            self.counters["syncs_requested"] += 1
        self._startup_sync_round += 1

    def _observe_alive(self, m: Member, msg: Message, now: float, out: Output) -> None:
        """Any message from ``m`` (but LEAVE) proves it alive at ``msg.incarnation``."""
        inc = msg.incarnation
        rejoin = msg.kind == Kind.ALIVE and bool(msg.flags & FLAG_REJOIN)
        m.last_heard = now
        if m.state in (State.DOWN, State.LEFT) and inc <= m.incarnation:
            # It talks, so it is alive. A member that really left sends nothing after its LEAVE
            # (and ignores notices), so one still talking after a LEAVE we recorded (a stale or
            # forged one) is told, refutes, and comes back through the stable period.
            self._notice(m, now, out)
            return
        if m.state == State.UNKNOWN or inc > m.incarnation:
            prev, prev_inc = m.state, m.incarnation
            m.incarnation = max(m.incarnation, inc)
            if prev != State.UP:
                m.state, m.since, m.provisional = State.UP, now, prev == State.UNKNOWN and not rejoin
                if prev == State.DOWN and not rejoin:
                    # It refuted without knowing we held it DOWN: tell it, so it restarts its own
                    # stable period as we just did (and says so to everyone, REJOIN).
                    self._notice(m, now, out, prev_inc, force=True)
            elif rejoin:
                m.since, m.provisional = now, False
            self._digest = None
            m.accusers = {a: i for a, i in m.accusers.items() if i >= m.incarnation}
        elif rejoin and m.state == State.UP:
            m.since, m.provisional = now, False

    def _on_leave(self, m: Member, inc: int, now: float) -> None:
        if inc < m.incarnation or m.state == State.LEFT:
            return
        m.state, m.incarnation, m.since, m.accusers = State.LEFT, inc, now, {}
        self.counters["members_left"] += 1
        self._digest = None

    def _on_heartbeat(self, m: Member, msg: Message, now: float, out: Output) -> None:
        if msg.digest == self.digest():
            m.digest_mismatch = 0
            return
        m.digest_mismatch += 1
        if m.digest_mismatch >= 2 and now - m.last_sync_req >= self.config.sync_min_interval:
            m.last_sync_req = now
            m.digest_mismatch = 0
            out.sends.append((m.name, Message(Kind.SYNC_REQ, self.name, self.incarnation)))
            self.counters["syncs_requested"] += 1

    def _on_down(self, sender: Member, msg: Message, now: float, out: Output) -> None:
        if msg.subject == self.name:
            self._on_down_about_me(sender, msg, now, out)
            return
        subject = self.members.get(msg.subject)
        if subject is None or sender.state != State.UP:
            return
        if msg.subject_incarnation < subject.incarnation:
            return
        if subject.state in (State.DOWN, State.LEFT) and msg.subject_incarnation <= subject.incarnation:
            return
        if msg.flags & FLAG_CONFIRMED:
            return  # a notice meant for the subject itself; third parties rely on accusations
        subject.accusers[sender.name] = msg.subject_incarnation

    def _on_down_about_me(self, sender: Member, msg: Message, now: float, out: Output) -> None:
        inc = msg.subject_incarnation
        if msg.flags & FLAG_CONFIRMED:
            if inc >= self.incarnation:
                self._refute(inc, True, now, out)
            elif inc >= self._refuted_from and now - self.up_since >= self.config.failure_timeout:
                # I already refuted that incarnation, but ``sender`` had me DOWN: restart my
                # stable period and say so, so every view agrees on when I came back.
                self.up_since = now
                self._digest = None
                self._broadcast(out, Message(Kind.ALIVE, self.name, self.incarnation, flags=FLAG_REJOIN))
            return
        if inc < self.incarnation:
            return
        # Would the others hold me DOWN? Count the accusations against me as they do.
        self._self_accusers[sender.name] = inc
        self._refute(inc, len(self._self_accusers) >= self._quorum(self.name), now, out)

    def _refute(self, accused_inc: int, rejoin: bool, now: float, out: Output) -> None:
        self._refuted_from = self.incarnation
        self.incarnation = min(max(self.incarnation, accused_inc) + 1, MAX_INCARNATION)
        self._self_accusers = {}
        if rejoin:
            self.up_since = now
        self.counters["refutations"] += 1
        self._digest = None
        self._broadcast(out, Message(Kind.ALIVE, self.name, self.incarnation,
                                     flags=FLAG_REJOIN if rejoin else 0))

    def _accuse(self, m: Member, now: float, out: Output) -> None:
        m.accusers[self.name] = m.incarnation
        m.accused_heard = m.last_heard
        self.counters["accusations_sent"] += 1
        self._broadcast(out, Message(Kind.DOWN, self.name, self.incarnation, subject=m.name,
                                     subject_incarnation=m.incarnation))

    def _notice(self, m: Member, now: float, out: Output, incarnation: int | None = None,
                force: bool = False) -> None:
        """Tell ``m`` we hold it DOWN (at ``incarnation``): it refutes, or rejoins, if alive."""
        if not force and now - m.last_notice < self.config.notice_min_interval:
            return
        m.last_notice = now
        self.counters["notices_sent"] += 1
        inc = m.incarnation if incarnation is None else incarnation
        out.sends.append((m.name, Message(Kind.DOWN, self.name, self.incarnation, flags=FLAG_CONFIRMED,
                                          subject=m.name, subject_incarnation=inc)))

    def _pending(self, name: str) -> bool:
        """Has ``name`` a valid accusation against it (so it should not count as a live watcher)?"""
        if name == self.name:
            return bool(self._self_accusers)
        m = self.members[name]
        return any(i >= m.incarnation for i in m.accusers.values())

    def _quorum(self, subject: str) -> int:
        live = [w for w in self.watchers_of(subject) if not self._pending(w)]
        return max(1, min(self.config.quorum, len(live)))

    def _evaluate_accusations(self, now: float) -> None:
        changed = True
        while changed:  # a DOWN can lower another subject's quorum; at most N rounds
            changed = False
            for m in self.members.values():
                if m.state not in (State.UP, State.UNKNOWN) or not m.accusers:
                    continue
                valid = {a: i for a, i in m.accusers.items()
                         if i >= m.incarnation and self._is_up(a)}
                if len(valid) >= self._quorum(m.name):
                    m.state, m.since, m.accusers = State.DOWN, now, {}
                    m.incarnation = max(m.incarnation, *valid.values())
                    self.counters["members_down"] += 1
                    self._digest = None
                    changed = True

    def _on_sync_req(self, m: Member, now: float, out: Output) -> None:
        if now - m.last_sync_sent < self.config.sync_min_interval / 2:
            return
        m.last_sync_sent = now
        self.counters["syncs_served"] += 1
        entries = [Entry(self.name, self.incarnation, State.UP, int((now - self.up_since) * 1000))]
        for o in self.members.values():
            if o.state != State.UNKNOWN:
                entries.append(Entry(o.name, o.incarnation, o.state, int((now - o.since) * 1000),
                                     o.provisional))
        for msg in sync_messages(self.name, self.incarnation, entries):
            out.sends.append((m.name, msg))

    def _on_sync(self, msg: Message, now: float, out: Output) -> None:
        self.ready_flag = True
        for e in msg.entries:
            if e.name == self.name:
                if e.state in (State.DOWN, State.LEFT) and e.incarnation >= self.incarnation:
                    self._refute(e.incarnation, True, now, out)
                continue
            m = self.members.get(e.name)
            if m is None or e.state == State.UNKNOWN:
                continue
            since = now - e.age_ms / 1000.0
            newer = e.incarnation > m.incarnation
            same = e.incarnation == m.incarnation
            if newer or m.state == State.UNKNOWN or (same and _PRECEDENCE[e.state] > _PRECEDENCE[m.state]):
                was_up = m.state == State.UP
                m.state, m.incarnation = e.state, max(m.incarnation, e.incarnation)
                if e.state == State.UP and was_up and not m.provisional:
                    pass  # refuted without being DOWN here: keep our stable-period start
                else:
                    m.since, m.provisional = since, e.provisional and e.state == State.UP
                m.accusers = {a: i for a, i in m.accusers.items() if i >= m.incarnation}
                self._digest = None
            elif same and m.state == State.UP and e.state == State.UP and m.provisional and not e.provisional:
                m.since, m.provisional = since, False

    def _finish(self, now: float, out: Output) -> None:
        if not self.ready_flag and now >= self._settled_at():
            self.ready_flag = True
        live = {m.name for m in self.members.values()
                if m.state == State.UP and now >= self._eligible_at(m.since)}
        if now >= self._eligible_at(self.up_since) and not self.leaving:
            live.add(self.name)
        frozen = frozenset(live)
        if frozen != self._live:
            self._live = frozen
            out.live = frozen
