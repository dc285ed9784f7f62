# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline planner: a snapshot of cluster objects in, the controller's decisions out.

Runs exactly the controller's code path (config parser → allocator → ``converge``) on a
fresh allocator, as a controller starting on that snapshot would. Deterministic: same
objects, same output.

Sized for 100,000 Services: the cycle collector is off for the pass (``converge.no_cyclic_gc``),
each Service's output entry is built as soon as its result is decided (``iter_reprocess_all``; the
result is dropped at once),
and announcement entries with equal decisions are one shared dict. The output is read-only data
for JSON: do not mutate it in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .addresses import pool_capacity
from .bgp.planned import bgp_announcements
from .config.allocation import allocation_config
from .config.modes import DEFAULT_BGP_TYPE
from .config.object_meta import meta_problem, object_name
from .controller_pass import fresh_pass
from .converge import ASSIGNED, no_cyclic_gc
from .election import Balancer, elect_all


def plan(objects: Iterable[dict], *, lb_class: str = "", namespace: str = "metallb-system",
         service_cidrs: Sequence[str] = (), gateways: Sequence[str] = (), allow_node_ip_pools: bool = False,
         bgp_type: str = DEFAULT_BGP_TYPE, members: Sequence[str] | None = None) -> dict:
    with no_cyclic_gc():
        return _plan(objects, lb_class, namespace, service_cidrs, gateways, allow_node_ip_pools, bgp_type, members)


def _plan(objects: Iterable[dict], lb_class: str, namespace: str, service_cidrs: Sequence[str],
          gateways: Sequence[str], allow_node_ip_pools: bool, bgp_type: str,
          members: Sequence[str] | None) -> dict:
    objects = [obj for obj in objects if isinstance(obj, dict)]
    parsed = allocation_config(objects, namespace=namespace, bgp_type=bgp_type, service_cidrs=service_cidrs,
                               gateways=gateways, allow_node_ip_pools=allow_node_ip_pools)
    # ``errors``: every problem; ``allocation_errors``: those that stop the controller (the others do not).
    out: dict = {"services": {}, "pools": {}, "errors": parsed.all_errors, "allocation_errors": parsed.errors,
                 "warnings": list(parsed.warnings), "announcements": {}}
    if parsed.config is None:
        return out
    config = parsed.config
    alloc, stream = fresh_pass(config, services_read(objects, out["errors"], out["warnings"]), lb_class=lb_class)
    entries: dict = {}
    balancers = []
    twice = False  # a key seen twice: its last result counts (as in reprocess_all's dict)
    for result in stream:
        # Each result becomes its output entry at once and is dropped: the results are never all alive.
        key = result.key
        f = result.facts
        if key in entries:
            twice = True
            del entries[key]
        if f is not None and f.type != "LoadBalancer" and not f.ingress and f.pool_annotation is None:
            continue  # never a load balancer: nothing to report
        ips = result.ips  # the result's own list (dropped with it): no copy
        events = result.events
        # a one-item list literal is 24 bytes smaller than a comprehension's (100,000 of them)
        events = [events[0].as_dict()] if len(events) == 1 else [e.as_dict() for e in events]
        entries[key] = {"ips": ips, "pool": result.pool, "state": result.state, "changed": result.changed,
                        "events": events}
        if result.state == ASSIGNED and ips and f is not None and f.type == "LoadBalancer":
            balancers.append(Balancer(key, f.obj, ips, result.pool))  # the entry's list, not a copy
    result = f = events = None  # the last one too
    if twice:  # keep the Balancer of each key's last result only
        balancers = [b for b in balancers if b.key in entries and entries[b.key]["ips"] is b.ips]
    for name in sorted(config.pools):
        cap4, cap6 = pool_capacity(config.pools[name])
        counters = alloc.counters(name)
        out["pools"][name] = {
            "capacity": {"ipv4": cap4, "ipv6": cap6},
            "in_use": {"ipv4": counters.assigned_v4, "ipv6": counters.assigned_v6},
            "available": {"ipv4": counters.available_v4, "ipv6": counters.available_v6},
        }
    del alloc
    out["services"] = {key: entries[key] for key in sorted(entries)}
    del entries
    if parsed.whole is not None:  # the speakers announce only from a valid configuration
        out["announcements"] = announcements(parsed.whole, objects, balancers, members)
        whole = parsed.whole
        if whole.bgp_advertisements or whole.peers:
            bgp, bgp_errors = bgp_announcements(whole, objects, balancers, _nodes(objects), namespace=namespace)
            out["errors"].extend(bgp_errors)
            for ip, entry in out["announcements"].items():  # entries are shared: a new dict per IP
                out["announcements"][ip] = dict(entry, bgp=bgp.get(ip, {}))
    return out


def services_read(objects: list[dict], errors: list[str], warnings: list[str]) -> list[dict]:
    """The Services to plan. One whose metadata Kubernetes would refuse (a label that is not a string,
    no name) is left out with an error naming it and the field; the others are planned as without it.
    A Service listed twice is planned once, as its last copy, and said so."""
    services = []
    seen: set[tuple[str, str]] = set()
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        problem = meta_problem(obj)
        meta = obj.get("metadata")
        namespace = meta.get("namespace") if isinstance(meta, dict) else None
        key = "%s/%s" % (namespace if isinstance(namespace, str) else "", object_name(obj))
        if problem:
            errors.append('Service "%s": %s: %s' % (key, problem[0], problem[1]))
            continue
        identity = (namespace or "", object_name(obj))
        if identity in seen:
            warnings.append('Service "%s" is listed more than once: the last one is planned' % key)
        seen.add(identity)
        services.append(obj)
    return services


def _nodes(objects: list[dict]) -> dict[str, dict]:
    nodes = {}
    for obj in objects:
        name = object_name(obj) if obj.get("kind") == "Node" else None
        if name:
            nodes[name] = obj
    return nodes


def announcements(config, objects: list[dict], balancers: list[Balancer], members: Sequence[str] | None) -> dict:
    """Who announces each planned LB IP in layer 2, or why nobody does (``layer2.election``, the
    speaker's own function), for the assigned LoadBalancer Services ``balancers``. Every Node in
    ``objects`` is a live member unless ``members``. Equal decisions share one entry."""
    nodes = _nodes(objects)
    slices = [obj for obj in objects if obj.get("kind") == "EndpointSlice"]
    decisions = elect_all(config, balancers, nodes, slices, None if members is None else list(members))
    shared: dict = {}  # decision -> its entry (elect_all returns one object per distinct decision)
    for ip, d in decisions.items():  # in place: at 100,000 IPs a second table is megabytes
        entry = shared.get(d)
        if entry is None:
            entry = shared[d] = {"layer2": {"node": d.node if d.reason is None else None,
                                            "interfaces": list(d.interfaces) if d.reason is None else [],
                                            "reason": d.reason}}
        decisions[ip] = entry
    return decisions
