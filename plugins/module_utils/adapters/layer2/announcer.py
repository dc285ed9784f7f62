# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The announced set and the gratuitous ARP/NA schedule, without I/O.

``GratuitousSchedule`` is MetalLB's ``spamLoop`` as a clock-injected state machine: a fresh
announcement is sent at once, then every 1.1 s until 5 s after the *last* announce call for
that IP (re-announcing extends the deadline, it does not restart the burst); an optional
refresh keeps sending one round every N seconds afterwards, for networks whose switches age
out their FDB/ARP entries. ``Announcer`` owns what this node announces (several services may
share one IP: owners are counted per IP, each with its allowed interfaces), answers "do I
reply for this IP on this interface" for the responder and drives gratuitous sends through
an injected sender. It is thread-safe: the speaker calls ``announce``/``withdraw`` from its
thread, the responder reads and ticks from its own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ...engine.addresses import format_ip, parse_ip
from ...engine.model import IPV4

BURST_INTERVAL = 1.1  # seconds between rounds (MetalLB issue #172)
BURST_DURATION = 5.0  # seconds after the last announce call

REQUESTS_RECEIVED = "metallb_layer2_requests_received"
RESPONSES_SENT = "metallb_layer2_responses_sent"
GRATUITOUS_SENT = "metallb_layer2_gratuitous_sent"

LEADER = "leader"  # the owner ``set_leading`` announces as


class Layer2Metrics(Protocol):
    """Where the responder and announcer count. The prometheus adapter implements the same."""

    def request_received(self, ip: str) -> None: ...

    def response_sent(self, ip: str) -> None: ...

    def gratuitous_sent(self, ip: str, frames: int) -> None: ...

    def dropped(self, reason: str) -> None: ...


class CounterMetrics:
    """MetalLB's three layer-2 counters ({ip} label) plus frames dropped by reason, as dicts."""

    def __init__(self) -> None:
        self.requests_received: dict[str, int] = {}
        self.responses_sent: dict[str, int] = {}
        self.gratuitous: dict[str, int] = {}
        self.drops: dict[str, int] = {}

    def request_received(self, ip: str) -> None:
        self.requests_received[ip] = self.requests_received.get(ip, 0) + 1

    def response_sent(self, ip: str) -> None:
        self.responses_sent[ip] = self.responses_sent.get(ip, 0) + 1

    def gratuitous_sent(self, ip: str, frames: int) -> None:
        if frames:
            self.gratuitous[ip] = self.gratuitous.get(ip, 0) + frames

    def dropped(self, reason: str) -> None:
        self.drops[reason] = self.drops.get(reason, 0) + 1

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Snapshot keyed by MetalLB's metric names (plus ``drops``)."""
        return {
            REQUESTS_RECEIVED: dict(self.requests_received),
            RESPONSES_SENT: dict(self.responses_sent),
            GRATUITOUS_SENT: dict(self.gratuitous),
            "drops": dict(self.drops),
        }


class _Entry:
    __slots__ = ("until", "next_due", "refreshing")

    def __init__(self, until: float, next_due: float) -> None:
        self.until = until
        self.next_due = next_due
        self.refreshing = False


class GratuitousSchedule:
    """When each key (an IP) gets its next gratuitous round. Pure: the caller passes ``now``."""

    def __init__(
        self,
        interval: float = BURST_INTERVAL,
        duration: float = BURST_DURATION,
        refresh_interval: float | None = None,
    ) -> None:
        if interval <= 0 or duration < 0:
            raise ValueError("gratuitous interval must be > 0 and duration >= 0 seconds")
        if refresh_interval is not None and refresh_interval <= 0:
            raise ValueError(
                "refresh interval must be > 0 seconds (or unset to disable refresh), got %r"
                % (refresh_interval,)
            )
        self.interval = interval
        self.duration = duration
        self.refresh = refresh_interval
        self._entries: dict[Hashable, _Entry] = {}
        self._next: float | None = None

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def in_burst(self, key: Hashable) -> bool:
        entry = self._entries.get(key)
        return entry is not None and not entry.refreshing

    def start(self, key: Hashable, now: float) -> bool:
        """An announce call. True when a round is due at once (not already bursting)."""
        entry = self._entries.get(key)
        if entry is not None and not entry.refreshing:
            entry.until = now + self.duration  # extend only; the running burst keeps its phase
            return False
        if entry is None:
            entry = self._entries[key] = _Entry(now + self.duration, now)
        else:  # a refreshing IP announced again: a fresh burst, like MetalLB after its entry expired
            entry.until, entry.next_due, entry.refreshing = now + self.duration, now, False
        if self._next is None or now < self._next:
            self._next = now
        return True

    def forget(self, key: Hashable) -> None:
        if self._entries.pop(key, None) is not None:
            self._recompute()

    def next_deadline(self) -> float | None:
        """The earliest time ``due`` has something to do (None: nothing scheduled)."""
        return self._next

    def due(self, now: float) -> list[Hashable]:
        """Keys that get a round now; advances their schedule."""
        if self._next is None or now < self._next:
            return []
        out: list[Hashable] = []
        for key, entry in list(self._entries.items()):
            if entry.next_due > now:
                continue
            if not entry.refreshing and now > entry.until:
                # Burst over (MetalLB drops the entry on the first tick after its deadline).
                if self.refresh is None:
                    del self._entries[key]
                    continue
                entry.refreshing = True
                entry.next_due = entry.next_due - self.interval + self.refresh  # last round + refresh
                if entry.next_due > now:
                    continue
            out.append(key)
            step = self.refresh if entry.refreshing else self.interval
            entry.next_due += step
            if entry.next_due <= now:  # we were late (suspended loop): no catch-up rounds
                entry.next_due = now + step
        self._recompute()
        return out

    def _recompute(self) -> None:
        self._next = min((e.next_due for e in self._entries.values()), default=None)


@dataclass(frozen=True)
class IPState:
    """One announced IP as the responder sees it. ``allowed`` None means every interface."""

    text: str
    packed: bytes
    family: int
    allowed: frozenset[str] | None

    def allows(self, interface: str) -> bool:
        return self.allowed is None or interface in self.allowed


class GratuitousSender(Protocol):
    def send_gratuitous(self, state: IPState) -> int:
        """Send one round for ``state`` on its allowed interfaces; return the frames sent."""


def parse_announced_ip(ip: str) -> tuple[int, str, bytes]:
    """(family, canonical text, packed) or ValueError naming the value."""
    parsed = parse_ip(ip) if isinstance(ip, str) else None
    if parsed is None:
        raise ValueError("layer2: cannot announce %r: not an IP address" % (ip,))
    family, value = parsed
    return family, format_ip(family, value), value.to_bytes(4 if family == IPV4 else 16, "big")


class Announcer:
    """What this node announces and when it sends gratuitous rounds. See the module docstring."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        metrics: Layer2Metrics | None = None,
        refresh_interval: float | None = None,
        interval: float = BURST_INTERVAL,
        duration: float = BURST_DURATION,
    ) -> None:
        self.clock = clock
        self.metrics: Layer2Metrics = metrics if metrics is not None else CounterMetrics()
        self.schedule = GratuitousSchedule(interval, duration, refresh_interval)
        self._lock = threading.Lock()
        # packed IP -> immutable state; replaced, never mutated, so ``lookup`` needs no lock
        self._table: dict[bytes, IPState] = {}
        self._owners: dict[bytes, dict[str, frozenset[str] | None]] = {}
        self._by_owner: dict[str, set[bytes]] = {}
        self._listeners: list[Callable[[], None]] = []
        self.version = 0  # bumped whenever the announced set or an IP's interfaces change

    # ------------------------------------------------------------------ changes (speaker thread)

    def add_listener(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs after every change (outside the lock), e.g. to wake the responder."""
        self._listeners.append(callback)

    def announce(self, owner: str, ip: str, interfaces: Iterable[str] = ()) -> None:
        """``owner`` (a service key) announces ``ip`` on ``interfaces`` (empty: all). Calling it
        again overrides that owner's interfaces and extends the gratuitous burst."""
        family, text, packed = parse_announced_ip(ip)
        if isinstance(interfaces, str):  # one name, not its characters
            interfaces = (interfaces,)
        allowed = frozenset(interfaces) or None
        now = self.clock()
        with self._lock:
            owners = self._owners.setdefault(packed, {})
            owners[owner] = allowed
            self._by_owner.setdefault(owner, set()).add(packed)
            self._refresh_state(packed, family, text)
            self.schedule.start(packed, now)
        self._notify()

    def withdraw(self, owner: str, ip: str | None = None) -> None:
        """``owner`` stops announcing ``ip`` (None: all its IPs). No goodbye packet is sent: the
        new owner's gratuitous frames move the traffic (MetalLB). An IP stays announced while
        another owner still holds it."""
        with self._lock:
            if ip is None:
                targets = list(self._by_owner.get(owner, ()))
            else:
                targets = [parse_announced_ip(ip)[2]]
            changed = False
            for packed in targets:
                owners = self._owners.get(packed)
                if owners is None or owner not in owners:
                    continue
                del owners[owner]
                mine = self._by_owner.get(owner)
                if mine is not None:
                    mine.discard(packed)
                    if not mine:
                        del self._by_owner[owner]
                state = self._table[packed]
                self._refresh_state(packed, state.family, state.text)
                changed = True
        if changed:
            self._notify()

    def set_leading(self, leading: Mapping[str, Iterable[str]], owner: str = LEADER) -> None:
        """Make ``owner`` announce exactly ``leading`` (IP -> interfaces; empty: all): new IPs
        get a gratuitous burst at once, dropped IPs are withdrawn, unchanged ones are left alone
        (calling it again with the same map sends nothing). Every IP is checked first: a bad one
        raises ValueError naming it and changes nothing."""
        wanted: dict[bytes, tuple[str, frozenset[str]]] = {}
        for ip, interfaces in leading.items():
            _family, text, packed = parse_announced_ip(ip)
            if isinstance(interfaces, str):
                interfaces = (interfaces,)
            names = frozenset(interfaces or ())
            if packed in wanted and wanted[packed][1] != names:  # two spellings of one IP: union
                names = frozenset() if not names or not wanted[packed][1] else names | wanted[packed][1]
            wanted[packed] = (text, names)
        with self._lock:
            current = {p: self._owners[p][owner] for p in self._by_owner.get(owner, ())}
        for packed in current:
            if packed not in wanted:
                self.withdraw(owner, self._table[packed].text)
        for packed, (text, names) in wanted.items():
            if packed not in current or current[packed] != (names or None):
                self.announce(owner, text, names)

    def leading(self, owner: str = LEADER) -> dict[str, tuple[str, ...]]:
        """What ``owner`` announces: IP -> its interfaces (sorted; () means all)."""
        with self._lock:
            return {
                self._table[p].text: tuple(sorted(self._owners[p][owner] or ()))
                for p in self._by_owner.get(owner, ())
            }

    def burst(self, ip: str | None = None) -> list[str]:
        """Start a fresh gratuitous burst for ``ip`` (None: every announced IP), e.g. after switch
        maintenance. Returns the IPs concerned; an IP not announced here is skipped."""
        now = self.clock()
        with self._lock:
            if ip is None:
                targets = list(self._table.values())
            else:
                state = self._table.get(parse_announced_ip(ip)[2])
                targets = [state] if state is not None else []
            for state in targets:
                self.schedule.forget(state.packed)
                self.schedule.start(state.packed, now)
        if targets:
            self._notify()
        return [s.text for s in targets]

    def _refresh_state(self, packed: bytes, family: int, text: str) -> None:
        owners = self._owners.get(packed)
        if not owners:
            self._owners.pop(packed, None)
            self._table.pop(packed, None)
            self.schedule.forget(packed)  # a later re-announce starts a fresh, immediate burst
            self.version += 1
            return
        if any(a is None for a in owners.values()):
            allowed = None
        else:
            allowed = frozenset().union(*owners.values())
        old = self._table.get(packed)
        if old is None or old.allowed != allowed:
            self._table[packed] = IPState(text, packed, family, allowed)
            self.version += 1

    def _notify(self) -> None:
        for callback in self._listeners:
            callback()

    # ------------------------------------------------------------------ reads (any thread)

    def lookup(self, packed: bytes) -> IPState | None:
        """The hot path: is this packed IP (4 or 16 bytes) announced here? Lock-free."""
        return self._table.get(packed)

    def announced(self) -> dict[str, tuple[str, ...]]:
        """IP -> allowed interfaces (sorted; () means all)."""
        return {s.text: tuple(sorted(s.allowed or ())) for s in list(self._table.values())}

    def owners(self, ip: str) -> tuple[str, ...]:
        packed = parse_announced_ip(ip)[2]
        with self._lock:
            return tuple(sorted(self._owners.get(packed, ())))

    def states(self) -> list[IPState]:
        return list(self._table.values())

    # ------------------------------------------------------------------ gratuitous rounds (responder)

    def next_deadline(self) -> float | None:
        with self._lock:
            return self.schedule.next_deadline()

    def tick(self, sender: GratuitousSender, now: float | None = None) -> float | None:
        """Send the rounds due at ``now`` through ``sender``; returns the next deadline."""
        if now is None:
            now = self.clock()
        with self._lock:
            nxt = self.schedule.next_deadline()
            if nxt is None or now < nxt:
                return nxt
            due = []
            for packed in self.schedule.due(now):
                state = self._table.get(packed)
                if state is None:  # no longer announced here: skip, as MetalLB does
                    self.schedule.forget(packed)
                else:
                    due.append(state)
            nxt = self.schedule.next_deadline()
        for state in due:
            self.metrics.gratuitous_sent(state.text, sender.send_gratuitous(state))
        return nxt
