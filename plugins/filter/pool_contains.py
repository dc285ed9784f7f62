# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_contains: is an address in a pool (documented in pool_contains.yml)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import (
    engine_call,
    pool_entries,
    require_netaddr,
)


def pool_contains(value: Any, ip: str) -> bool:
    """True when one of the pool's entries (CIDR or start-end range) holds the address."""
    require_netaddr("pool_contains")
    if not isinstance(ip, str) or addresses.parse_ip(ip) is None:
        raise AnsibleFilterError("pool_contains: %r is not an IPv4 or IPv6 address" % (ip,))
    return any(
        engine_call("pool_contains", addresses.entry_contains, entry, ip)
        for pool in pool_entries("pool_contains", value)
        for entry in pool.entries
    )


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"pool_contains": pool_contains}
