# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.range_to_cidrs: a MetalLB address entry as CIDRs (documented in range_to_cidrs.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import type_name
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import engine_call, require_netaddr


def range_to_cidrs(entry: str) -> list[str]:
    """The CIDRs that exactly cover a start-end range (or a CIDR entry: itself)."""
    require_netaddr("range_to_cidrs")
    if not isinstance(entry, str):
        raise AnsibleFilterError(
            "range_to_cidrs: expected an address entry string, got %s" % type_name(entry)
        )
    return [str(cidr) for cidr in engine_call("range_to_cidrs", addresses.range_to_cidrs, entry)]


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"range_to_cidrs": range_to_cidrs}
