# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validated configuration every metal.lb component decides from.

Parsed once from ``metallb.io`` objects (or the legacy ConfigMap) by ``config.parse``;
read by the allocator, the planner, the speakers and the Ansible surface. Frozen so
that a snapshot can be shared between threads and compared for "did anything change".
Addresses are kept as integers: netaddr parses them, the hot paths only compare ints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

IPV4 = 4
IPV6 = 6


@dataclass(frozen=True)
class Segment:
    """One contiguous address interval of a pool, as written in one ``addresses`` entry.

    A CIDR entry is one segment; a ``start-end`` range entry is one segment (MetalLB
    walks the CIDRs a range summarizes to in ascending order, which is the same walk).
    ``widest_prefix`` is the prefix length of the widest CIDR the entry summarizes to
    (needed by the BGP aggregation-length rule). ``cidrs`` keeps those CIDR strings.
    """

    family: int  # IPV4 or IPV6
    first: int
    last: int
    entry: str  # the entry exactly as the user wrote it
    cidrs: tuple[str, ...]
    widest_prefix: int


@dataclass(frozen=True)
class LabelSelector:
    """A parsed metav1.LabelSelector; ``key`` is a canonical form used for duplicate checks."""

    match_labels: tuple[tuple[str, str], ...] = ()
    # (key, operator, sorted values); operator in In, NotIn, Exists, DoesNotExist
    match_expressions: tuple[tuple[str, str, tuple[str, ...]], ...] = ()

    @property
    def key(self) -> str:
        return repr((self.match_labels, self.match_expressions))


@dataclass(frozen=True)
class ServiceAllocation:
    priority: int = 0
    namespaces: frozenset[str] = frozenset()  # after resolving namespaceSelectors
    service_selectors: tuple[LabelSelector, ...] = ()


@dataclass(frozen=True)
class Pool:
    name: str
    segments: tuple[Segment, ...]
    auto_assign: bool = True
    avoid_buggy_ips: bool = False
    service_allocation: Optional[ServiceAllocation] = None
    labels: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class L2Advertisement:
    name: str
    pools: tuple[str, ...]  # resolved pool names this advertisement applies to
    node_selectors: tuple[LabelSelector, ...] = ()  # empty: all nodes
    interfaces: tuple[str, ...] = ()  # empty: all interfaces
    service_selectors: tuple[LabelSelector, ...] = ()
    # (weight 1..100, selector)
    preferred_nodes: tuple[tuple[int, LabelSelector], ...] = ()


@dataclass(frozen=True)
class Community:
    """A BGP community: legacy ``a:b`` (large=False, values (a, b)) or ``large:a:b:c``."""

    large: bool
    values: tuple[int, ...]

    def __str__(self) -> str:
        if self.large:
            return "large:%d:%d:%d" % self.values
        return "%d:%d" % self.values


@dataclass(frozen=True)
class BGPAdvertisement:
    name: str
    pools: tuple[str, ...]
    aggregation_length: int = 32
    aggregation_length_v6: int = 128
    local_pref: int = 0
    communities: tuple[Community, ...] = ()
    node_selectors: tuple[LabelSelector, ...] = ()
    peers: tuple[str, ...] = ()
    service_selectors: tuple[LabelSelector, ...] = ()


@dataclass(frozen=True)
class BFDProfile:
    name: str
    receive_interval: Optional[int] = None
    transmit_interval: Optional[int] = None
    detect_multiplier: Optional[int] = None
    echo_interval: Optional[int] = None
    echo_mode: bool = False
    passive_mode: bool = False
    minimum_ttl: Optional[int] = None


@dataclass(frozen=True)
class Peer:
    name: str
    my_asn: int
    peer_asn: int = 0
    dynamic_asn: str = ""
    local_asn: int = 0
    address: str = ""
    interface: str = ""
    source_address: str = ""
    port: int = 179
    hold_time: Optional[float] = None  # seconds; None = implementation default
    keepalive_time: Optional[float] = None
    connect_time: Optional[float] = None
    router_id: str = ""
    node_selectors: tuple[LabelSelector, ...] = ()
    password: str = field(default="", repr=False)  # never in a log line or a traceback
    password_secret: str = ""  # "namespace/name"
    bfd_profile: str = ""
    ebgp_multihop: bool = False
    graceful_restart: bool = False
    vrf: str = ""
    disable_mp: bool = False
    dual_stack_address_family: bool = False


@dataclass(frozen=True)
class Config:
    pools: dict[str, Pool] = field(default_factory=dict)
    l2_advertisements: tuple[L2Advertisement, ...] = ()
    bgp_advertisements: tuple[BGPAdvertisement, ...] = ()
    peers: tuple[Peer, ...] = ()
    bfd_profiles: dict[str, BFDProfile] = field(default_factory=dict)
    communities: dict[str, Community] = field(default_factory=dict)  # alias -> value
    # Derived indexes (MetalLB's ByNamespace / ByServiceSelector)
    by_namespace: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_service_selector: tuple[str, ...] = ()
