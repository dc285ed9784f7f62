# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Membership over real UDP on 127.0.0.1: three services in one process, ephemeral ports.

Every wait is bounded (``wait_until``) and every service is stopped in ``finally``. Nothing here
asserts speed: the only time comparisons are lower bounds the protocol guarantees (a member is
never eligible before it has been alive for ``stable_period``), which no slow machine can break.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import time

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.detector import DetectorConfig
from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.messages import (
    Kind,
    Message,
    cluster_id,
    encode,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.service import (
    MembershipService,
    MembershipThread,
)

KEY = b"test-key-0123456789abcdef-0123456789"
# Default detection timers; a shorter stable period keeps the test short.
CONFIG = DetectorConfig(stable_period=0.6, settle_timeout=0.5)
WAIT = 10.0  # upper bound of every wait: generous, so a loaded machine only makes it slower


async def wait_until(predicate, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.01)
    return predicate()


class Cluster:
    """Services on 127.0.0.1, each told every other's ephemeral port, as the API would."""

    def __init__(self, names) -> None:
        self.names = list(names)
        self.services: dict[str, MembershipService] = {}
        self.addresses: dict[str, tuple[str, int]] = {}
        self.changes: dict[str, list[tuple[float, frozenset]]] = {n: [] for n in self.names}

    async def start(self, name: str) -> MembershipService:
        def record(live: frozenset) -> None:
            self.changes[name].append((time.monotonic(), live))

        svc = MembershipService(name, ("127.0.0.1", 0), [KEY], config=CONFIG, on_change=record)
        await svc.start()
        self.services[name] = svc
        self.addresses[name] = svc.address
        for s in self.services.values():
            s.set_known_members(self.addresses)
        return svc

    async def stop(self, name: str, graceful: bool) -> None:
        await self.services.pop(name).stop(graceful=graceful)

    async def stop_all(self) -> None:
        for name in list(self.services):
            await self.stop(name, graceful=False)

    def live(self, name: str) -> frozenset:
        return self.services[name].live_members()

    def all_see(self, expected) -> bool:
        return all(s.live_members() == frozenset(expected) for s in self.services.values())


def run(coro_fn):
    """Run one test coroutine with an overall bound."""
    async def bounded():
        async with asyncio.timeout(40):
            await coro_fn()
    asyncio.run(bounded())


def test_three_services_detect_a_stopped_member_and_readmit_it_after_the_stable_period():
    async def scenario():
        c = Cluster(["a", "b", "c"])
        try:
            for n in c.names:
                await c.start(n)
            assert await wait_until(lambda: c.all_see("abc"))
            assert all(s.ready for s in c.services.values())

            # killed (no LEAVE): detected by silence
            await c.stop("c", graceful=False)
            assert await wait_until(lambda: c.all_see("ab"))
            assert all(c.services[s].view()["c"]["state"] == "down" for s in "ab")

            # restarted: UP at once, eligible only after the stable period
            t_back = time.monotonic()
            await c.start("c")
            assert await wait_until(lambda: c.all_see("abc"))
            first_seen = min(t for s in "ab" for t, live in c.changes[s] if t >= t_back and "c" in live)
            assert first_seen - t_back >= CONFIG.stable_period
            assert all(c.services[s].stats()["members_down"] >= 1 for s in "ab")
            assert all(c.services[s].stats()["dropped"]["bad_mac"] == 0 for s in "abc")

            # planned handover: LEAVE drops it at once, marked "left", not "down"
            await c.stop("b", graceful=True)
            assert await wait_until(lambda: c.all_see("ac"))
            assert all(c.services[s].view()["b"]["state"] == "left" for s in "ac")
            assert all(c.services[s].stats()["members_left"] == 1 for s in "ac")
        finally:
            await c.stop_all()
    run(scenario)


def test_hostile_datagrams_are_dropped_counted_and_change_nothing():
    async def scenario():
        c = Cluster(["a", "b"])
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            for n in c.names:
                await c.start(n)
            assert await wait_until(lambda: c.all_see("ab"))
            a, b = c.services["a"], c.services["b"]
            before = a.stats()["dropped"]
            cluster = cluster_id("metal-lb")
            b_inc = b.stats()["incarnation"]
            now_ms = int(time.time() * 1000)
            leave = Message(Kind.LEAVE, "b", b_inc, seq=1, sent_ms=now_ms)
            signed_garbage = b"ML\x01\x63\x00" + cluster + bytes(24) + b"\x01b"  # kind 99
            hostile = {
                "truncated": [b"", b"x", b"ML\x01"],
                "bad_magic": [b"\0" * 80],
                "bad_version": [b"ML\x09" + bytes(80)],
                "bad_mac": [encode(leave, b"not-the-key-0123456789", cluster)],
                "wrong_cluster": [encode(leave, KEY, cluster_id("another-cluster"))],
                "malformed": [signed_garbage + hmac.digest(KEY, signed_garbage, "sha256")],
                # b's first datagram had seq 1 in this incarnation: a LEAVE with it is a replay;
                # so is one captured from b's previous incarnation an hour ago
                "replay": [encode(leave, KEY, cluster),
                           encode(Message(Kind.LEAVE, "b", b_inc - 3_600_000, seq=10**9,
                                          sent_ms=now_ms - 3_600_000), KEY, cluster)],
                "unknown_sender": [encode(Message(Kind.DOWN, "mallory", 1, seq=1, sent_ms=now_ms,
                                                  subject="b", subject_incarnation=b_inc), KEY, cluster)],
            }
            for datagrams in hostile.values():
                for data in datagrams:
                    sock.sendto(data, a.address)
            expected = {reason: before[reason] + len(d) for reason, d in hostile.items()}
            assert await wait_until(lambda: all(a.stats()["dropped"][r] >= n for r, n in expected.items()))
            await asyncio.sleep(3 * CONFIG.heartbeat_interval)
            after = a.stats()["dropped"]
            assert {r: after[r] for r in expected} == expected
            assert c.all_see("ab")
            assert a.view()["b"]["state"] == "up"
            assert a.stats()["members_left"] == 0 and a.stats()["refutations"] == 0
        finally:
            sock.close()
            await c.stop_all()
    run(scenario)


def test_a_speaker_restarted_during_an_api_outage_finds_its_peers_from_the_known_file(tmp_path):
    known_file = str(tmp_path / "members.json")

    async def scenario():
        c = Cluster(["a", "b"])
        restarted = None
        try:
            await c.start("b")
            a = MembershipService("a", ("127.0.0.1", 0), [KEY], config=CONFIG, known_file=known_file)
            a.set_known_members({"b": c.addresses["b"]})  # the API, before the outage
            await a.start()
            c.services["b"].set_known_members({"a": a.address, "b": c.addresses["b"]})
            assert await wait_until(lambda: a.live_members() == frozenset("ab"))
            port = a.address[1]
            await a.stop(graceful=False)
            # restarted with no API: nobody calls set_known_members
            restarted = MembershipService("a", ("127.0.0.1", port), [KEY], config=CONFIG,
                                          known_file=known_file)
            await restarted.start()
            assert await wait_until(lambda: restarted.live_members() == frozenset("ab")
                                    and c.live("b") == frozenset("ab"))
            assert restarted.stats()["known_file_errors"] == 0
        finally:
            if restarted is not None:
                await restarted.stop(graceful=False)
            await c.stop_all()
    run(scenario)


def test_a_corrupt_known_file_is_counted_and_ignored(tmp_path):
    known_file = tmp_path / "members.json"
    known_file.write_text("{not json")

    async def scenario():
        svc = MembershipService("a", ("127.0.0.1", 0), [KEY], config=CONFIG, known_file=str(known_file))
        try:
            await svc.start()
            assert svc.stats()["known"] == 0 and svc.stats()["known_file_errors"] == 1
        finally:
            await svc.stop(graceful=False)
    run(scenario)


def test_thread_api_reports_changes_and_stops_gracefully():
    config = CONFIG
    threads = {n: MembershipThread(n, ("127.0.0.1", 0), [KEY], config=config) for n in "xy"}
    seen: list[frozenset] = []
    try:
        for t in threads.values():
            t.start()
        addresses = {n: t.service.address for n, t in threads.items()}
        version = threads["x"].version
        for t in threads.values():
            t.set_known_members(addresses)
        threads["x"].add_listener(seen.append)
        deadline = time.monotonic() + WAIT
        while threads["x"].live_members() != frozenset("xy") and time.monotonic() < deadline:
            version = threads["x"].wait_for_change(version, 0.5)
        assert threads["x"].live_members() == frozenset("xy")
        assert threads["x"].ready
        assert seen and seen[-1] == frozenset("xy")
        assert threads["x"].stats()["datagrams_received"] > 0
        threads["y"].stop(graceful=True)
        while threads["x"].live_members() != frozenset("x") and time.monotonic() < deadline:
            version = threads["x"].wait_for_change(version, 0.5)
        assert threads["x"].live_members() == frozenset("x")
        assert threads["x"].view()["y"]["state"] == "left"
    finally:
        for t in threads.values():
            t.stop(graceful=False)


def test_bind_errors_are_one_clear_message():
    from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.transport import MembershipConfigError

    async def scenario():
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holder.bind(("127.0.0.1", 0))
        try:
            svc = MembershipService("a", holder.getsockname(), [KEY])
            with pytest.raises(MembershipConfigError, match="--membership-bind 127.0.0.1:"):
                await svc.start()
        finally:
            holder.close()
    run(scenario)
