# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which pool owns a set of addresses: MetalLB's ``poolFor``, the one rule for the allocator and
the speaker's election.

A pool owns the addresses when it contains every one of them; among several owners the lowest
pool name wins (MetalLB: Go map order). The allocator honours ``avoidBuggyIPs`` (a pool that
avoids .0/.255 does not own them); MetalLB's speaker does not (``avoid_buggy=False``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..addresses import parse_ip, pool_capacity
from ..model import Pool
from .free_addresses import AddressMap, PoolState, key_is_buggy, to_key


def owning_pool(amap: AddressMap, keys: Sequence[int], avoid_buggy: bool = True) -> PoolState | None:
    """The owner of the addresses ``keys`` among the pools of ``amap``, or None."""
    if len(keys) == 1:
        key = keys[0]
        best = None
        for seg in amap.covering(key):
            if seg.avoid and avoid_buggy and key_is_buggy(key):
                continue
            if best is None or seg.pool.name < best.name:
                best = seg.pool
        return best
    candidates = None
    for key in keys:
        owners = {seg.pool for seg in amap.covering(key) if not (seg.avoid and avoid_buggy and key_is_buggy(key))}
        candidates = owners if candidates is None else candidates & owners
        if not candidates:
            return None
    if not candidates:
        return None
    return min(candidates, key=lambda ps: ps.name)


def address_map(pools: Mapping[str, Pool]) -> AddressMap:
    """An interval map of ``pools`` for ``owning_pool`` (the allocator keeps its own, with state)."""
    states = [PoolState(pools[name], tuple(pool_capacity(pools[name]))) for name in sorted(pools)]
    return AddressMap([seg for ps in states for seg in ps.all_segments()])


_LAST: tuple = (None, None)  # (pools mapping, its address map): a speaker asks about one config at a time


def ip_keys(ips: Sequence[str]) -> list | None:
    """The address keys of ``ips`` (text); None if there are none or one is not an IP."""
    keys = []
    for text in ips:
        parsed = parse_ip(text)
        if parsed is None:
            return None
        keys.append(to_key(*parsed))
    return keys or None


def pool_for(pools: Mapping[str, Pool], ips: Sequence[str], *, avoid_buggy: bool = True) -> str | None:
    """The name of the pool owning every one of ``ips`` (text), None if none does or one is not an IP."""
    global _LAST
    keys = ip_keys(ips)
    if keys is None:
        return None
    cached, amap = _LAST
    if cached is not pools:
        amap = address_map(pools)
        _LAST = (pools, amap)
    owner = owning_pool(amap, keys, avoid_buggy)
    return owner.name if owner is not None else None
