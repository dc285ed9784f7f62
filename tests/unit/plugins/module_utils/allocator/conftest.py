# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the allocator tests: pool and service builders."""

from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import (
    DUAL,
    ServiceRef,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.model import (
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
