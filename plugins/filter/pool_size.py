# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_size: how many addresses a pool hands out (documented in pool_size.yml)."""

from __future__ import annotations

from typing import Any

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import (
    engine_call,
    pool_entries,
    require_netaddr,
)


def pool_size(value: Any, avoid_buggy_ips: bool = False) -> int:
    """The number of assignable addresses; a pool's own avoidBuggyIPs applies too."""
    require_netaddr("pool_size")
    return sum(
        engine_call(
            "pool_size", addresses.entry_size, entry, avoid_buggy=avoid_buggy_ips or pool.avoid_buggy_ips
        )
        for pool in pool_entries("pool_size", value)
        for entry in pool.entries
    )


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"pool_size": pool_size}
