# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The membership API the speaker uses: the detector driven by the UDP endpoint and a clock.

``MembershipService`` runs in the caller's asyncio loop. ``MembershipThread`` runs one in a
thread of its own with its own loop; that is what the (threaded) speaker should use, so a busy
main loop or a long reconcile never delays heartbeats and gets this node declared dead.

Members come from the API (``set_known_members``, called whenever the API says something) and are
remembered: when the API is unreachable the speaker simply stops calling it, and liveness keeps
running on UDP alone. With ``known_file`` they are remembered across restarts too, so a speaker
restarted during an API outage still finds its peers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from .detector import Detector, DetectorConfig, Output
from .messages import MAX_NAME, Message, cluster_id
from .transport import MembershipConfigError, UdpEndpoint

LOG = logging.getLogger("metal_lb.membership")

ChangeCallback = Callable[[frozenset], None]
CLOCK_WARN_MS = 10_000


class MembershipService:
    """Liveness of the speakers, over UDP. Every method must be called from the loop's thread."""

    def __init__(self, name: str, bind: tuple[str, int], keys: Sequence[bytes],
                 cluster: str = "metal-lb", config: DetectorConfig | None = None,
                 on_change: ChangeCallback | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time, known_file: str | None = None) -> None:
        if not 1 <= len(name.encode("utf-8")) <= MAX_NAME:
            raise MembershipConfigError(f"membership: node name {name!r} must be 1..{MAX_NAME} bytes")
        self.name = name
        self.bind = bind
        self.keys = tuple(keys)
        self.cluster = cluster_id(cluster)
        self.config = config or DetectorConfig()
        self._callbacks: list[ChangeCallback] = [on_change] if on_change else []
        self._clock = clock
        self._wall = wall
        self._addresses: dict[str, tuple[str, int]] = {}
        self._detector: Detector | None = None
        self._endpoint: UdpEndpoint | None = None
        self._task: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self._live: frozenset[str] = frozenset()
        self._no_address = 0
        self._stopping = False
        self._known_file = known_file
        self._api_spoke = False
        self._known_file_errors = 0
        self._skew_warned: set[str] = set()
        self.changed: asyncio.Event | None = None  # set on every live-set change; callers clear it

    # ------------------------------------------------------------------ API

    async def start(self) -> None:
        """Bind, announce ourselves, ask peers for their view, start the timers."""
        if self._task is not None:
            return
        self._wake = asyncio.Event()
        self._stopping = False
        self.changed = asyncio.Event()
        if not self._api_spoke and self._known_file:
            self._addresses = self._load_known()
        self._endpoint = await UdpEndpoint.open(self.bind, self.keys, self.cluster, self._on_message,
                                                self._wall)
        now = self._clock()
        self._detector = Detector(self.name, int(self._wall() * 1000), now, self.config)
        self._apply(self._detector.set_known(self._addresses, now))
        self._apply(self._detector.start(now))
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"membership-{self.name}")

    async def stop(self, graceful: bool = True) -> None:
        """Stop; with ``graceful`` first tell every peer we leave, so they drop us at once."""
        if self._task is None:
            return
        if graceful and self._detector is not None:
            self._apply(self._detector.leave())
            await asyncio.sleep(0)  # let the transport flush the LEAVE datagrams
        self._stopping = True
        self._poke()
        try:
            await asyncio.wait({self._task}, timeout=2.0)
        finally:
            if not self._task.done():
                self._task.cancel()
        self._task = None
        if self._endpoint is not None:
            self._endpoint.close()
            await self._endpoint.wait_closed()
        self._set_live(frozenset())

    def set_known_members(self, members: Mapping[str, tuple[str, int]]) -> None:
        """The API's current view: node name -> (address, port). Our own name may be included."""
        addresses = {n: (str(a[0]), int(a[1])) for n, a in members.items() if n != self.name}
        self._api_spoke = True
        if self._known_file and addresses != self._addresses:
            self._save_known(addresses)
        self._addresses = addresses
        if self._detector is not None:
            self._apply(self._detector.set_known(self._addresses, self._clock()))
            self._poke()

    def live_members(self) -> frozenset[str]:
        """Members eligible to announce: alive, and alive for the whole stable period."""
        return self._live

    @property
    def ready(self) -> bool:
        """False until this node has a peer's view (or ``settle_timeout`` passed): do not announce."""
        return self._detector is not None and self._detector.ready

    def add_listener(self, callback: ChangeCallback) -> None:
        """``callback(live_set)`` on every change, from the loop's thread; keep it short."""
        self._callbacks.append(callback)

    def view(self) -> dict[str, dict]:
        return self._detector.view(self._clock()) if self._detector else {}

    @property
    def address(self) -> tuple[str, int] | None:
        return self._endpoint.address if self._endpoint and self._endpoint.transport else None

    def stats(self) -> dict:
        """Counters for metrics (all monotonic but ``live``/``known``/``ready``/``incarnation``).

        ``datagrams_sent``/``datagrams_received``/``send_errors``; ``dropped``: {reason: count}
        for every reason in ``transport.DROP_REASONS`` (bad_mac, replay, malformed, ...);
        ``no_address`` (a send to a member the API gave no address for); and the detector's
        ``accusations_sent``, ``refutations``, ``notices_sent``, ``syncs_requested``,
        ``syncs_served``, ``members_down``, ``members_left``.
        """
        ep, det = self._endpoint, self._detector
        return {
            "name": self.name,
            "ready": self.ready,
            "live": sorted(self._live),
            "known": len(self._addresses),
            "incarnation": det.incarnation if det else 0,
            "datagrams_sent": ep.sent if ep else 0,
            "datagrams_received": ep.received if ep else 0,
            "send_errors": ep.send_errors if ep else 0,
            "no_address": self._no_address,
            "known_file_errors": self._known_file_errors,
            "dropped": dict(ep.dropped) if ep else {},
            **(det.counters if det else {}),
        }

    # ------------------------------------------------------------ internals

    def _load_known(self) -> dict[str, tuple[str, int]]:
        """The members the API last gave us, as saved by a previous run (missing file: none)."""
        if not self._known_file:
            return {}
        try:
            with open(self._known_file, encoding="utf-8") as f:
                raw = json.load(f)["members"]
            return {str(n): (str(a[0]), int(a[1])) for n, a in raw.items() if n != self.name}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            self._known_file_errors += 1
            LOG.warning("membership: ignoring known-members file %s: %s", self._known_file, e)
            return {}

    def _save_known(self, addresses: Mapping[str, tuple[str, int]]) -> None:
        """Atomically (write + rename), so a crash never leaves half a file."""
        if not self._known_file:
            return
        directory = os.path.dirname(os.path.abspath(self._known_file))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".members-", dir=directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump({"members": {n: list(a) for n, a in sorted(addresses.items())}}, f)
                os.replace(tmp, self._known_file)
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as e:
            self._known_file_errors += 1
            LOG.warning("membership: cannot save known members to %s: %s", self._known_file, e)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        # A timer handle sets ``_wake`` at the next deadline; messages set it when deadlines move.
        # (No asyncio.wait_for here: on 3.11 it can swallow a cancellation.)
        if self._detector is None or self._wake is None:
            raise RuntimeError("membership: _run before start()")
        loop = asyncio.get_running_loop()
        while not self._stopping:
            delay = self._detector.next_deadline() - self._clock()
            if delay > 0:
                self._wake.clear()
                timer = loop.call_later(min(delay, 3600.0), self._wake.set)
                try:
                    await self._wake.wait()
                finally:
                    timer.cancel()
                if self._stopping:
                    break
            try:
                self._apply(self._detector.tick(self._clock()))
            except Exception:  # the timers must survive anything
                LOG.exception("membership: tick failed")
                await asyncio.sleep(self.config.heartbeat_interval)
            if self._detector.next_deadline() <= self._clock():
                await asyncio.sleep(0.001)  # never spin

    def _on_message(self, msg: Message, addr: tuple) -> None:
        if self._detector is None or self._endpoint is None:
            return
        out = self._detector.receive(msg, self._clock(), int(self._wall() * 1000))
        if out.dropped:
            self._endpoint.count_drop(out.dropped)
        else:
            self._warn_skew(msg.sender)
        self._apply(out)
        if out.sends or out.live is not None:
            self._poke()  # deadlines may have moved (a new watch, a refutation)

    def _warn_skew(self, sender: str) -> None:
        """Once per member: membership ignores clocks, but logs, TLS and Leases do not."""
        member = self._detector.members.get(sender) if self._detector else None
        if member is None or abs(member.clock_offset_ms) < CLOCK_WARN_MS or sender in self._skew_warned:
            return
        self._skew_warned.add(sender)
        LOG.warning("membership: %s's clock is %+.1f s off ours (membership does not depend on it; "
                    "keep node clocks in sync with NTP for logs, certificates and leases)",
                    sender, member.clock_offset_ms / 1000.0)

    def _apply(self, out: Output) -> None:
        ep = self._endpoint
        for dest, msg in out.sends:
            addr = self._addresses.get(dest)
            if addr is None or ep is None:
                self._no_address += 1
                continue
            ep.send(msg, addr)
        if out.live is not None:
            self._set_live(out.live)

    def _set_live(self, live: frozenset[str]) -> None:
        if live == self._live:
            return
        self._live = live
        LOG.info("membership: live members now %s", ", ".join(sorted(live)) or "(none)")
        if self.changed is not None:
            self.changed.set()
        for cb in list(self._callbacks):
            try:
                cb(live)
            except Exception:
                LOG.exception("membership: change callback failed")


class MembershipThread:
    """A ``MembershipService`` on its own thread and loop, with a blocking, thread-safe API."""

    def __init__(self, *args, **kwargs) -> None:
        self._args, self._kwargs = args, kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.service: MembershipService | None = None
        self._cond = threading.Condition()
        self._version = 0
        self._pending_known: dict | None = None

    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and bind; raises what binding raised (e.g. MembershipConfigError)."""
        started = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.service = MembershipService(*self._args, **self._kwargs)
                self.service.add_listener(self._changed)
                if self._pending_known is not None:
                    self.service.set_known_members(self._pending_known)
                loop.run_until_complete(self.service.start())
            except BaseException as e:  # handed to the caller of start()
                error.append(e)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="membership", daemon=True)
        self._thread.start()
        if not started.wait(timeout):
            raise TimeoutError("membership did not start")
        if error:
            raise error[0]

    def stop(self, graceful: bool = True, timeout: float = 5.0) -> None:
        loop, service = self._loop, self.service
        if loop is None or service is None or loop.is_closed():
            return
        try:
            asyncio.run_coroutine_threadsafe(service.stop(graceful), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)

    def set_known_members(self, members: Mapping[str, tuple[str, int]]) -> None:
        snapshot = dict(members)
        if self._loop is None or self.service is None:
            self._pending_known = snapshot
            return
        self._loop.call_soon_threadsafe(self.service.set_known_members, snapshot)

    def live_members(self) -> frozenset[str]:
        return self.service.live_members() if self.service else frozenset()

    @property
    def ready(self) -> bool:
        return bool(self.service and self.service.ready)

    def wait_for_change(self, version: int, timeout: float) -> int:
        """Block until the live set changed after ``version`` (or timeout); return the version."""
        with self._cond:
            self._cond.wait_for(lambda: self._version != version, timeout)
            return self._version

    @property
    def version(self) -> int:
        return self._version

    def add_listener(self, callback: ChangeCallback) -> None:
        """``callback(live_set)`` from the membership thread (e.g. enqueue a resync)."""
        self._call(lambda: self.service.add_listener(callback))

    def stats(self) -> dict:
        return self._call(self.service.stats)

    def view(self) -> dict:
        return self._call(self.service.view)

    def _call(self, fn):
        async def run():
            return fn()
        if self._loop is None or self._loop.is_closed():
            raise RuntimeError("membership is not running")
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(5.0)

    def _changed(self, live: frozenset) -> None:
        with self._cond:
            self._version += 1
            self._cond.notify_all()
