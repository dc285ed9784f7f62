# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beyond MetalLB: a pool must not contain a node's own address, the service CIDR or a gateway.

MetalLB accepted such pools and announced a node's IP from another node (metallb#364);
its fix was reverted for false positives on ranges. Here a clash names both sides, and a
node IP listed by itself (``/32``, ``/128`` or ``a-a``) is accepted only on opt-in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..addresses import parse_entry, parse_ip
from .errors import ConfigError
from ..model import Pool


def node_addresses(nodes: Sequence[dict]) -> list[tuple[str, str, str]]:
    """(node, type, address) for InternalIP/ExternalIP of every Node."""
    out = []
    for node in nodes:
        meta, status = node.get("metadata"), node.get("status")
        name = str(meta.get("name") or "") if isinstance(meta, dict) else ""
        addresses = status.get("addresses") if isinstance(status, dict) else None
        for addr in addresses if isinstance(addresses, list) else ():
            if isinstance(addr, dict) and addr.get("type") in ("InternalIP", "ExternalIP"):
                out.append((name, addr["type"], str(addr.get("address") or "")))
    return out


def pool_clashes(pools: Mapping[str, Pool], nodes: Sequence[dict], service_cidrs: Sequence[str],
                 gateways: Sequence[str], allow_node_ip_pools: bool) -> list[ConfigError]:
    errors: list[ConfigError] = []
    others = []
    for node, kind, text in node_addresses(nodes):
        parsed = parse_ip(text)
        if parsed:
            others.append((parsed[0], parsed[1], parsed[1], "node %s %s %s" % (node, kind, text), True))
    for cidr in service_cidrs:
        try:
            seg = parse_entry(cidr)
        except ValueError as exc:
            errors.append(ConfigError("option", "service_cidrs", "", str(exc)))
            continue
        others.append((seg.family, seg.first, seg.last, "service CIDR %s" % cidr, False))
    for gateway in gateways:
        parsed = parse_ip(gateway)
        if parsed is None:  # refused, not skipped: a typo must not turn the check off unnoticed
            errors.append(ConfigError("option", "gateways", "", 'invalid gateway "%s": not an IP address'
                                      % gateway))
            continue
        others.append((parsed[0], parsed[1], parsed[1], "gateway %s" % gateway, False))
    for name in sorted(pools):
        for index, seg in enumerate(pools[name].segments):
            for family, first, last, what, is_node in others:
                if family != seg.family or last < seg.first or first > seg.last:
                    continue
                if is_node and allow_node_ip_pools and seg.first == seg.last:
                    continue
                hint = (" (list it alone as a /32 or /128 and set allow_node_ip_pools to announce a node IP)"
                        if is_node else "")
                errors.append(ConfigError("IPAddressPool", name, "spec.addresses[%d]" % index,
                                          'addresses "%s" overlap %s%s' % (seg.entry, what, hint)))
    return errors
