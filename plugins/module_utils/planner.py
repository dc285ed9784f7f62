# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The offline planner: a snapshot of cluster objects in, the controller's decisions out.

Runs exactly the controller's code path (config parser → allocator → ``converge``) on a
fresh allocator, as a controller starting on that snapshot would. Deterministic: same
objects, same output.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .addresses import pool_capacity
from .allocator.allocator import Allocator
from .config.parse import parse_config
from .converge import ASSIGNED, reprocess_all
from .layer2.election import Balancer, elect_all


def plan(objects: Iterable[dict], *, lb_class: str = "", namespace: str = "metallb-system",
         service_cidrs: Sequence[str] = (), gateways: Sequence[str] = (), allow_node_ip_pools: bool = False,
         bgp_type: str = "native", members: Sequence[str] | None = None) -> dict:
    objects = [obj for obj in objects if isinstance(obj, dict)]
    parsed = parse_config(objects, namespace=namespace, bgp_type=bgp_type, service_cidrs=service_cidrs,
                          gateways=gateways, allow_node_ip_pools=allow_node_ip_pools)
    out: dict = {"services": {}, "pools": {}, "errors": [str(e) for e in parsed.errors],
                 "warnings": list(parsed.warnings), "announcements": {}}
    if parsed.config is None:
        return out
    config = parsed.config
    alloc = Allocator()
    alloc.set_pools(config.pools)
    services = [obj for obj in objects if obj.get("kind") == "Service"]
    results = reprocess_all(alloc, config, services, lb_class=lb_class)
    for key in sorted(results):
        result = results[key]
        f = result.facts
        if f is not None and f.type != "LoadBalancer" and not f.ingress and f.pool_annotation is None:
            continue  # never a load balancer: nothing to report
        out["services"][key] = result.as_dict()
    out["announcements"] = announcements(config, objects, results, members)
    for name in sorted(config.pools):
        cap4, cap6 = pool_capacity(config.pools[name])
        counters = alloc.counters(name)
        out["pools"][name] = {
            "capacity": {"ipv4": cap4, "ipv6": cap6},
            "in_use": {"ipv4": counters.assigned_v4, "ipv6": counters.assigned_v6},
            "available": {"ipv4": counters.available_v4, "ipv6": counters.available_v6},
        }
    return out


def announcements(config, objects: list[dict], results: dict, members: Sequence[str] | None) -> dict:
    """Who announces each planned LB IP in layer 2, or why nobody does (``layer2.election``, the
    speaker's own function). Every Node in ``objects`` is a live member unless ``members``."""
    nodes = {}
    for obj in objects:
        name = (obj.get("metadata") or {}).get("name") if obj.get("kind") == "Node" else None
        if isinstance(name, str) and name:
            nodes[name] = obj
    slices = [obj for obj in objects if obj.get("kind") == "EndpointSlice"]
    balancers = [Balancer(key, r.facts.obj, tuple(r.ips), r.pool) for key, r in results.items()
                 if r.state == ASSIGNED and r.ips and r.facts is not None and r.facts.type == "LoadBalancer"]
    decisions = elect_all(config, balancers, nodes, slices, None if members is None else list(members))
    return {ip: {"layer2": {"node": d.node if d.reason is None else None,
                            "interfaces": list(d.interfaces) if d.reason is None else [],
                            "reason": d.reason}}
            for ip, d in decisions.items()}
