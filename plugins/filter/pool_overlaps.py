# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_overlaps: which entries of two pools overlap (documented in pool_overlaps.yml)."""

from __future__ import annotations

from itertools import combinations, product
from typing import Any, Optional

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import (
    engine_call,
    pool_entries,
    require_netaddr,
)


def _segments(value: Any) -> list[tuple[str, str, Any]]:
    """(pool name, entry, parsed segment) for every entry, in input order."""
    return [
        (pool.pool, entry, engine_call("pool_overlaps", addresses.parse_entry, entry))
        for pool in pool_entries("pool_overlaps", value)
        for entry in pool.entries
    ]


def pool_overlaps(value: Any, other: Optional[Any] = None) -> list[dict]:
    """Overlapping entry pairs between two pools, or among the entries of one input."""
    require_netaddr("pool_overlaps")
    left = _segments(value)
    pairs = product(left, _segments(other)) if other is not None else combinations(left, 2)
    return [
        {"a": a_entry, "a_pool": a_pool, "b": b_entry, "b_pool": b_pool}
        for (a_pool, a_entry, a_segment), (b_pool, b_entry, b_segment) in pairs
        if addresses.segments_overlap(a_segment, b_segment)
    ]


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"pool_overlaps": pool_overlaps}
