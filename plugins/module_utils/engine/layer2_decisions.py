# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What this node should announce, per Service, from one snapshot (pure).

MetalLB's per-service filters (speaker/main.go: other loadBalancerClass, ``notLoadBalancer``,
``noIPAllocated``) are applied here; who announces each IP is decided only by
``layer2.election.elect_all`` — the same call the planner makes — so services sharing an IP
are announced from one node. The speaker diffs the result against what it announces.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .model import Config
from .converge import no_cyclic_gc
from .election import Balancer, ElectionCache, elect_all
from .service import BalancerFacts

NOT_LOAD_BALANCER = "notLoadBalancer"
NO_IP_ALLOCATED = "noIPAllocated"
OTHER_CLASS = "otherLoadBalancerClass"

# Kept between passes: a membership change re-runs the full pass over the same objects, and the
# sha256 order of the nodes per IP, canonical IP texts and pools do not change with the live set.
# Entries are pure functions of their keys, so sharing it between passes never changes a decision.
_ELECTION_CACHE = ElectionCache()


@dataclass(frozen=True)
class ServiceL2:
    """The layer-2 outcome of one Service for this node.

    ``announce`` maps each IP this node announces to its allowed interfaces (() = all);
    ``reason`` is why nothing is announced here (MetalLB's reason of the first IP, or one of
    the filters above); ``winner`` is the elected node of the first IP, when there is one.
    """

    key: str
    ips: tuple[str, ...]
    announce: tuple[tuple[str, tuple[str, ...]], ...]
    reason: str | None
    winner: str | None

    @property
    def interfaces(self) -> tuple[str, ...]:
        """All interfaces named for the announced IPs (for ServiceL2Status); () = all."""
        if not self.announce or any(not names for _ip, names in self.announce):
            return ()
        return tuple(sorted({n for _ip, names in self.announce for n in names}))


def desired(
    services: Iterable[Mapping],
    config: Config,
    nodes: Mapping[str, Mapping],
    endpoint_slices: Sequence[Mapping],
    members: Collection[str] | None,
    my_node: str,
    *,
    lb_class: str = "",
    ignore_exclude_lb: bool = False,
) -> dict[str, ServiceL2]:
    """Every load-balancer Service of the snapshot → what ``my_node`` does for it.

    Runs on every membership change (the failover path): the cycle collector is held off for the
    pass, which allocates a few objects per Service and no cycles (at 10,000 Services a collection
    of the informers' heap would otherwise cost about a third of the pass)."""
    with no_cyclic_gc():
        return _desired(services, config, nodes, endpoint_slices, members, my_node, lb_class, ignore_exclude_lb)


def _desired(services: Iterable[Mapping], config: Config, nodes: Mapping[str, Mapping],
             endpoint_slices: Sequence[Mapping], members: Collection[str] | None, my_node: str, lb_class: str,
             ignore_exclude_lb: bool) -> dict[str, ServiceL2]:
    out: dict[str, ServiceL2] = {}
    balancers = []
    for svc in services:
        facts = BalancerFacts(svc)
        key = facts.key
        if not facts.handled(lb_class):
            out[key] = ServiceL2(key, (), (), OTHER_CLASS, None)
        elif facts.type != "LoadBalancer":
            out[key] = ServiceL2(key, (), (), NOT_LOAD_BALANCER, None)
        elif not facts.ingress:
            out[key] = ServiceL2(key, (), (), NO_IP_ALLOCATED, None)
        else:
            balancers.append(Balancer(key, svc, tuple(facts.ingress)))
    decisions = elect_all(config, balancers, nodes, endpoint_slices, members, my_node,
                          ignore_exclude_lb=ignore_exclude_lb, cache=_ELECTION_CACHE)
    text_of = _ELECTION_CACHE.ip_text
    for bal in balancers:
        ips = [text_of(ip) or str(ip) for ip in bal.ips]  # the keys elect_all used
        announce = tuple((ip, decisions[ip].interfaces) for ip in ips
                         if ip in decisions and decisions[ip].reason is None)
        first = decisions.get(ips[0])
        reason = None if announce else (first.reason if first is not None else None)
        out[bal.key] = ServiceL2(bal.key, tuple(ips), announce, reason, first.node if first else None)
    return out
