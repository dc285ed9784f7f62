# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""What one node's BGP speaker decides per Service from one snapshot (pure): MetalLB's per-service
filters (speaker/main.go: other loadBalancerClass, ``notLoadBalancer``, ``noIPAllocated``), then
``node_state.node_bgp`` — the planner's function — for everything else. Memberlist plays no part
in BGP mode: every eligible node announces (MetalLB)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..addresses import canonical_ip
from ..election import Balancer
from ..layer2_decisions import NO_IP_ALLOCATED, NOT_LOAD_BALANCER, OTHER_CLASS
from ..model import Config
from ..service import BalancerFacts
from .node_state import NO_PEERS, NodeBGP, node_bgp


@dataclass(frozen=True)
class ServiceBGP:
    """The BGP outcome of one Service on this node: ``peers`` (BGPPeer names) given one of its
    prefixes when it is announced, else ``reason`` (MetalLB's reason of its first IP)."""

    key: str
    ips: tuple[str, ...]
    peers: tuple[str, ...]
    reason: str | None

    @property
    def announce(self) -> bool:
        return self.reason is None


def desired(services: Iterable[Mapping], config: Config, nodes: Mapping[str, Mapping],
            endpoint_slices: Sequence[Mapping], my_node: str, secrets: Mapping[str, Mapping], *,
            lb_class: str = "", ignore_exclude_lb: bool = False) -> tuple[NodeBGP, dict[str, ServiceBGP]]:
    """(what ``my_node`` sends over BGP, each Service's outcome by key)."""
    out: dict[str, ServiceBGP] = {}
    balancers = []
    for svc in services:
        facts = BalancerFacts(svc)
        if not facts.handled(lb_class):
            out[facts.key] = ServiceBGP(facts.key, (), (), OTHER_CLASS)
        elif facts.type != "LoadBalancer":
            out[facts.key] = ServiceBGP(facts.key, (), (), NOT_LOAD_BALANCER)
        elif not facts.ingress:
            out[facts.key] = ServiceBGP(facts.key, (), (), NO_IP_ALLOCATED)
        else:
            balancers.append(Balancer(facts.key, svc, tuple(facts.ingress)))
    state = node_bgp(config, my_node, nodes, balancers, endpoint_slices, secrets,
                     ignore_exclude_lb=ignore_exclude_lb)
    for bal in balancers:
        ips = tuple(canonical_ip(ip) or str(ip) for ip in bal.ips)
        if bal.key in state.service_peers:
            out[bal.key] = ServiceBGP(bal.key, ips, tuple(sorted(state.service_peers[bal.key])), None)
        else:
            out[bal.key] = ServiceBGP(bal.key, ips, (), state.ip_reasons.get(ips[0], NO_PEERS))
    return state, out
