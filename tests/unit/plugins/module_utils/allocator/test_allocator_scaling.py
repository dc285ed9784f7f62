# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No quadratic corner in pool choice: thousands of single-address pools filled in name order.

The work is counted (pools visited), not timed: before the fix, every allocation walked all the
pools already full, N*(N-1)/2 visits for N services.
"""

from __future__ import annotations

import ipaddress
import random

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import (
    AllocationError,
    Allocator,
)


class CountingList(list):
    """The allocator's auto-assign pool list, counting the pools it looks at."""

    visits = 0

    def __iter__(self):
        for item in list.__iter__(self):
            self.visits += 1
            yield item

    def __getitem__(self, index):
        self.visits += 1
        return list.__getitem__(self, index)


def _counting(alloc: Allocator) -> CountingList:
    alloc._fallback = CountingList(alloc._fallback)
    return alloc._fallback


def _v6(i: int) -> str:
    return str(ipaddress.IPv6Address("2001:db8::1000") + i)


def test_filling_single_address_pools_in_order_visits_each_pool_a_bounded_number_of_times(build):
    n = 2000
    alloc = Allocator()
    alloc.set_pools(build.pools(*(build.pool("p%05d" % i, _v6(i) + "/128") for i in range(n))))
    pools = _counting(alloc)
    got = [alloc.allocate("ns/s%d" % i, build.svc(primary=6), 6, [], "", "")[0] for i in range(n)]
    assert got == [_v6(i) for i in range(n)]
    assert pools.visits <= 4 * n, pools.visits  # quadratic: ~n*n/2 = 2,000,000
    with pytest.raises(AllocationError, match="no available IPs"):
        alloc.allocate("ns/extra", build.svc(primary=6), 6, [], "", "")
    # a release in the middle is found again, first
    assert alloc.unassign("ns/s1234")
    assert alloc.allocate("ns/again", build.svc(primary=6), 6, [], "", "") == [_v6(1234)]
    assert pools.visits <= 6 * n, pools.visits


def _reference_pick(pools: dict, used: set, family: int) -> tuple[str, str] | None:
    """Name order; within a pool, its entries in order, lowest free address first."""
    for name in sorted(pools):
        for seg in pools[name].segments:
            if seg.family != family:
                continue
            for value in range(seg.first, seg.last + 1):
                text = str(ipaddress.ip_address(value))
                if text not in used:
                    return name, text
    return None


@pytest.mark.parametrize("seed", range(5))
def test_random_allocations_and_releases_match_the_name_order_rule(build, seed):
    rng = random.Random(seed)
    pools = build.pools(
        *(build.pool("v4-%02d" % i, "198.51.100.%d/30" % (4 * i)) for i in range(12)),
        *(build.pool("v6-%02d" % i, "2001:db8::%x:0/126" % i) for i in range(8)),
        build.pool("mixed", "203.0.113.0/31", "2001:db8:1::/127"),
    )
    alloc = Allocator()
    alloc.set_pools(pools)
    held: dict[str, tuple[str, str]] = {}
    used: set[str] = set()
    for step in range(600):
        if held and rng.random() < 0.45:
            key = rng.choice(sorted(held))
            assert alloc.unassign(key)
            used.discard(held.pop(key)[1])
            continue
        family = rng.choice((4, 6))
        key = "ns/s%d" % step
        want = _reference_pick(pools, used, family)
        if want is None:
            with pytest.raises(AllocationError):
                alloc.allocate(key, build.svc(primary=family), family, [], "", "")
            continue
        assert alloc.allocate(key, build.svc(primary=family), family, [], "", "") == [want[1]]
        assert alloc.pool_of(key) == want[0]
        held[key] = want
        used.add(want[1])
