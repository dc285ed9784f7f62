# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the allocator tests: pool/service builders, and private stand-ins for
``module_utils.addresses`` / ``module_utils.selectors`` used only while those modules do not
exist yet (the real ones win as soon as they are importable)."""

from __future__ import annotations

import importlib
import ipaddress
import sys
import types

import pytest

PKG = "ansible_collections.metal.lb.plugins.module_utils"


def _stand_in_addresses() -> types.ModuleType:
    mod = types.ModuleType(PKG + ".addresses")

    def parse_ip(text):
        try:
            ip = ipaddress.ip_address(str(text).strip())
        except ValueError:
            return None
        return (ip.version, int(ip))

    def format_ip(family, value):
        return str(ipaddress.IPv4Address(value) if family == 4 else ipaddress.IPv6Address(value))

    def is_buggy(family, value):
        return family == 4 and (value & 0xFF) in (0, 255)

    def pool_capacity(pool):
        v4 = v6 = 0
        max64 = 9223372036854775807
        for seg in pool.segments:
            for cidr in seg.cidrs:
                net = ipaddress.ip_network(cidr)
                host_bits = net.max_prefixlen - net.prefixlen
                if host_bits >= 62:
                    v6 = max64
                    continue
                size = 1 << host_bits
                if pool.avoid_buggy_ips and net.version == 4:
                    if net.prefixlen <= 24:
                        size -= 2 * (1 << (24 - net.prefixlen))
                    else:
                        size -= is_buggy(4, int(net.network_address)) + is_buggy(
                            4, int(net.broadcast_address)
                        )
                if net.version == 4:
                    v4 += size
                elif v6 != max64:
                    v6 += size
        return v4, v6

    mod.parse_ip = parse_ip
    mod.format_ip = format_ip
    mod.is_buggy = is_buggy
    mod.pool_capacity = pool_capacity
    return mod


def _stand_in_selectors() -> types.ModuleType:
    mod = types.ModuleType(PKG + ".selectors")

    def selector_matches(sel, labels):
        for k, v in sel.match_labels:
            if labels.get(k) != v:
                return False
        for k, op, values in sel.match_expressions:
            if op == "In" and labels.get(k) not in values:
                return False
            if op == "NotIn" and k in labels and labels[k] in values:
                return False
            if op == "Exists" and k not in labels:
                return False
            if op == "DoesNotExist" and k in labels:
                return False
        return True

    mod.selector_matches = selector_matches
    return mod


for _name, _make in (("addresses", _stand_in_addresses), ("selectors", _stand_in_selectors)):
    try:
        importlib.import_module(PKG + "." + _name)
    except ModuleNotFoundError:
        sys.modules[PKG + "." + _name] = _make()


from ansible_collections.metal.lb.plugins.module_utils.allocator.allocator import (  # noqa: E402
    DUAL,
    ServiceRef,
)
from ansible_collections.metal.lb.plugins.module_utils.config.model import (  # noqa: E402
    LabelSelector,
    Pool,
    Segment,
    ServiceAllocation,
)


class Build:
    """Builders for test data: segments from entry text, pools, services."""

    DUAL = DUAL

    @staticmethod
    def segment(entry: str) -> Segment:
        if "-" in entry:
            lo, hi = (ipaddress.ip_address(x.strip()) for x in entry.split("-"))
            nets = list(ipaddress.summarize_address_range(lo, hi))
        else:
            nets = [ipaddress.ip_network(entry, strict=False)]
        first = int(nets[0].network_address)
        last = int(nets[-1].broadcast_address)
        return Segment(
            family=nets[0].version,
            first=first,
            last=last,
            entry=entry,
            cidrs=tuple(str(n) for n in nets),
            widest_prefix=min(n.prefixlen for n in nets),
        )

    @staticmethod
    def pool(
        name: str,
        *entries: str,
        auto_assign: bool = True,
        avoid_buggy: bool = False,
        priority: int | None = None,
        namespaces=(),
        selectors=(),
        namespace_selectors_matched_nothing: bool = False,
    ) -> Pool:
        """``priority`` alone gives a match-everything selector, as MetalLB's config parser does;
        ``namespace_selectors_matched_nothing`` gives a serviceAllocation with nothing in it."""
        sa = None
        if priority is not None or namespaces or selectors or namespace_selectors_matched_nothing:
            sels = tuple(LabelSelector(match_labels=tuple(sorted(s.items()))) for s in selectors)
            if not namespaces and not sels and not namespace_selectors_matched_nothing:
                sels = (LabelSelector(),)
            sa = ServiceAllocation(
                priority=priority or 0, namespaces=frozenset(namespaces), service_selectors=sels
            )
        return Pool(
            name=name,
            segments=tuple(Build.segment(e) for e in entries),
            auto_assign=auto_assign,
            avoid_buggy_ips=avoid_buggy,
            service_allocation=sa,
        )

    @staticmethod
    def pools(*pools: Pool) -> dict[str, Pool]:
        return {p.name: p for p in pools}

    @staticmethod
    def svc(
        namespace: str = "",
        labels=None,
        policy: str = "SingleStack",
        primary: int = 4,
    ) -> ServiceRef:
        return ServiceRef(
            namespace=namespace, labels=dict(labels or {}), ip_family_policy=policy, primary_family=primary
        )


@pytest.fixture(scope="session")
def build():
    return Build
