# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the lowest free address of a pool without ever enumerating the pool.

MetalLB walks every address of every CIDR until it finds a free one; that is
O(pool size) per allocation and impossible for an IPv6 /48. Here each segment
keeps a *cursor* (every usable address below it is in use, or waits in the
``freed`` heap) and a min-heap of addresses released below the cursor, so the
lowest free address is found in amortised O(log n), independent of the pool's
size and of the number of addresses in use. Each pool keeps, per family, a heap
of the indices of its segments that still have free addresses, so full segments
and full pools are skipped without being looked at.

Addresses are plain ints in one key space: IPv4 as is, IPv6 with bit 128 set,
so one dict/sorted list can hold both families without collisions.
"""

from __future__ import annotations

from bisect import bisect_right
from heapq import heappop, heappush

from ..addresses import is_buggy
from ..model import IPV4, IPV6, Pool

V6_BIT = 1 << 128


def to_key(family: int, value: int) -> int:
    """The allocator's key for an address (IPv6 gets bit 128 so families never collide)."""
    return value | V6_BIT if family == IPV6 else value


def family_of(key: int) -> int:
    return IPV6 if key >= V6_BIT else IPV4


def value_of(key: int) -> int:
    return key ^ V6_BIT if key >= V6_BIT else key


def key_is_buggy(key: int) -> bool:
    """True for IPv4 .0/.255 addresses (``avoidBuggyIPs`` skips them)."""
    return key < V6_BIT and is_buggy(IPV4, key)


def _count_low_byte(first: int, last: int, low: int) -> int:
    """How many ints in [first, last] have ``x % 256 == low`` (no enumeration)."""
    return (last - low) // 256 - (first - 1 - low) // 256


class SegmentState:
    """Free-address bookkeeping for one ``addresses`` entry of one pool."""

    __slots__ = (
        "pool",
        "index",
        "family",
        "first",
        "last",
        "avoid",
        "free",
        "cursor",
        "freed",
        "in_freed",
        "in_nonfull",
    )

    def __init__(self, pool: PoolState, index: int, family: int, first: int, last: int, avoid: bool):
        self.pool = pool
        self.index = index  # position among the pool's segments of this family (walk order)
        self.family = family
        self.first = first  # keys, inclusive
        self.last = last
        self.avoid = avoid and family == IPV4
        usable = last - first + 1
        if self.avoid:
            usable -= _count_low_byte(first, last, 0) + _count_low_byte(first, last, 255)
        self.free = usable  # usable addresses not in use; exact, may be a huge int for IPv6
        self.cursor = first
        self.freed: list[int] = []  # min-heap of addresses released below the cursor
        self.in_freed: set[int] = set()
        self.in_nonfull = False

    def usable(self, key: int) -> bool:
        return not (self.avoid and is_buggy(IPV4, key))

    def lowest_free(self, used: dict) -> int | None:
        """Lowest usable address of the segment that is not in ``used`` (None if full)."""
        if self.free <= 0:
            return None
        freed = self.freed
        while freed:
            key = freed[0]
            if key in used:  # re-used since it was freed: drop lazily
                heappop(freed)
                self.in_freed.discard(key)
                continue
            return key
        cursor = self.cursor
        last = self.last
        avoid = self.avoid
        while cursor <= last and (cursor in used or (avoid and is_buggy(IPV4, cursor))):
            cursor += 1
        self.cursor = cursor
        return cursor if cursor <= last else None

    def taken(self, key: int) -> None:
        """``key`` (inside this segment) just became used."""
        if self.avoid and is_buggy(IPV4, key):
            return
        self.free -= 1
        self.pool.free[self.family] -= 1

    def released(self, key: int) -> None:
        """``key`` (inside this segment) just became free."""
        if self.avoid and is_buggy(IPV4, key):
            return
        self.free += 1
        self.pool.free[self.family] += 1
        if key < self.cursor and key not in self.in_freed:
            heappush(self.freed, key)
            self.in_freed.add(key)
        if not self.in_nonfull:
            heappush(self.pool.nonfull[self.family], self.index)
            self.in_nonfull = True


class PoolState:
    """One configured pool plus the allocator's live counts for it."""

    __slots__ = ("name", "pool", "segs", "nonfull", "assigned", "capacity", "free", "order")

    def __init__(self, pool: Pool, capacity: tuple[int, int]):
        self.name = pool.name
        self.pool = pool
        self.segs: dict[int, list[SegmentState]] = {IPV4: [], IPV6: []}
        for segment in pool.segments:
            fam = segment.family
            same = self.segs[fam]
            same.append(
                SegmentState(
                    self,
                    len(same),
                    fam,
                    to_key(fam, segment.first),
                    to_key(fam, segment.last),
                    pool.avoid_buggy_ips,
                )
            )
        # heaps of indices (walk order) of segments that may have free addresses
        self.nonfull: dict[int, list[int]] = {IPV4: [], IPV6: []}
        self.assigned = {IPV4: 0, IPV6: 0}  # distinct addresses in use, per family
        self.capacity = capacity  # (v4, v6) as MetalLB's poolCount computes them
        # sum of the segments' ``free``: > 0 exactly when some segment has a free address
        self.free = {fam: sum(s.free for s in segs) for fam, segs in self.segs.items()}
        self.order = -1  # position in the allocator's list of auto-assign pools (-1: not in it)

    def all_segments(self) -> list[SegmentState]:
        return self.segs[IPV4] + self.segs[IPV6]

    def reset_free_heaps(self) -> None:
        for fam, segs in self.segs.items():
            heap = [s.index for s in segs if s.free > 0]
            for s in segs:
                s.in_nonfull = s.free > 0
            self.nonfull[fam] = heap  # already sorted = a valid heap

    def first_free(self, family: int, used: dict) -> tuple[int, int] | None:
        """(segment index, address) of the lowest free address of the first non-full segment."""
        heap = self.nonfull[family]
        segs = self.segs[family]
        while heap:
            seg = segs[heap[0]]
            if seg.free > 0:
                key = seg.lowest_free(used)
                if key is not None:
                    return seg.index, key
            heappop(heap)
            seg.in_nonfull = False
        return None


class AddressMap:
    """Which segments (of which pools) cover an address: a sorted interval map, O(log n) lookup.

    Overlapping segments (configuration forbids them between pools, but the allocator must
    not depend on that) are handled by splitting into elementary intervals.
    """

    __slots__ = ("bounds", "covers")

    def __init__(self, segments: list[SegmentState]):
        points = set()
        for seg in segments:
            points.add(seg.first)
            points.add(seg.last + 1)
        self.bounds = sorted(points)
        covers: list[list[SegmentState]] = [[] for _unused in self.bounds]
        for seg in segments:
            i = bisect_right(self.bounds, seg.first) - 1
            while i < len(self.bounds) and self.bounds[i] <= seg.last:
                covers[i].append(seg)
                i += 1
        self.covers: list[tuple[SegmentState, ...]] = [tuple(c) for c in covers]

    def covering(self, key: int) -> tuple[SegmentState, ...]:
        i = bisect_right(self.bounds, key) - 1
        if i < 0:
            return ()
        return self.covers[i]
