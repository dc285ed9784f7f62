# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.cidrs_to_range: CIDRs as MetalLB start-end ranges (documented in cidrs_to_range.yml)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import type_name
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import (
    engine_call,
    is_entry_list,
    require_netaddr,
)


def cidrs_to_range(cidrs: Any) -> list[str]:
    """The fewest start-end ranges covering the CIDRs (adjacent and overlapping ones merge)."""
    require_netaddr("cidrs_to_range")
    if isinstance(cidrs, str):
        cidrs = [cidrs]
    if not is_entry_list(cidrs):
        got = type_name(cidrs)
        if got == "list":
            index, item = next((i, c) for i, c in enumerate(cidrs) if not isinstance(c, str))
            got = "a list with a %s at [%d]" % (type_name(item), index)
        raise AnsibleFilterError("cidrs_to_range: expected a CIDR string or a list of them, got %s" % got)
    return [str(entry) for entry in engine_call("cidrs_to_range", addresses.cidrs_to_ranges, list(cidrs))]


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"cidrs_to_range": cidrs_to_range}
