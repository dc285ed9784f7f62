# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Who announces a layer-2 IP: MetalLB's ``ShouldAnnounce`` (speaker/layer2_controller.go).

One pure function shared by the speaker (``my_node`` = itself: "do I announce?") and the
planner (``my_node`` None: "which node announces, or why nobody does"). Every speaker that
sees the same members and objects computes the same winner: the candidate set never depends
on which node asks, and the order is the preference score, then sha256(node + "#" + ip).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ..addresses import format_ip, parse_ip
from ..config.model import Config, L2Advertisement
from ..selectors import selector_matches

NOT_OWNER = "notOwner"
NO_MATCHING_ADVERTISEMENT = "noMatchingAdvertisement"
SHARED_IP_WITH_SERVICE_SELECTOR = "sharedIPWithServiceSelector"

ALLOW_SHARED_IP = "metallb.io/allow-shared-ip"
ALLOW_SHARED_IP_DEPRECATED = "metallb.universe.tf/allow-shared-ip"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass(frozen=True)
class L2Decision:
    """``node`` announces the IP (None: no node does); ``interfaces`` are that node's (from the
    advertisements selecting it; () means all). ``reason`` is None when ``my_node`` (or, for
    the planner, the elected node) announces, else MetalLB's reason: ``notOwner``,
    ``noMatchingAdvertisement`` or ``sharedIPWithServiceSelector``. For a speaker that loses,
    ``node`` still names the winner."""

    node: str | None
    interfaces: tuple[str, ...]
    reason: str | None


def _meta(obj: Mapping, key: str) -> Mapping:
    value = (obj.get("metadata") or {}).get(key) if isinstance(obj, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def endpoint_serving(endpoint: Mapping) -> bool:
    """MetalLB's ``EndpointCanServe``: ready unset or true, or serving true (terminating
    endpoints that still serve count)."""
    conditions = endpoint.get("conditions") or {}
    ready = conditions.get("ready")
    return ready is None or ready is True or conditions.get("serving") is True


def _serving_endpoints(endpoint_slices: Sequence[Mapping]):
    for eps in endpoint_slices or ():
        for endpoint in (eps.get("endpoints") or ()) if isinstance(eps, Mapping) else ():
            if isinstance(endpoint, Mapping) and endpoint_serving(endpoint):
                yield endpoint


def has_shared_ip_annotation(service: Mapping) -> bool:
    annotations = _meta(service, "annotations")
    return ALLOW_SHARED_IP in annotations or ALLOW_SHARED_IP_DEPRECATED in annotations


def network_unavailable(node: Mapping) -> bool:
    """Condition NetworkUnavailable is True (the first condition of that type counts)."""
    for cond in (node.get("status") or {}).get("conditions") or ():
        if isinstance(cond, Mapping) and cond.get("type") == "NetworkUnavailable":
            return cond.get("status") == "True"
    return False


def ads_for_service(config: Config, pool_name: str, service: Mapping) -> list[L2Advertisement]:
    """The pool's L2Advertisements whose serviceSelectors are empty or match the service (OR)."""
    labels = _meta(service, "labels")
    return [
        ad
        for ad in config.l2_advertisements
        if pool_name in ad.pools
        and (not ad.service_selectors or any(selector_matches(s, labels) for s in ad.service_selectors))
    ]


def ad_selects(ad: L2Advertisement, node_labels: Mapping[str, str]) -> bool:
    """nodeSelectors: empty selects every node, else any selector matching (OR)."""
    return not ad.node_selectors or any(selector_matches(s, node_labels) for s in ad.node_selectors)


def preference_score(ads: Sequence[L2Advertisement], node_labels: Mapping[str, str]) -> int:
    """Sum over ``ads`` of the weights of matching preferredNodeSelectors, counted only for ads
    that select the node (MetalLB computes PreferredNodes within the ad's nodes)."""
    return sum(
        weight
        for ad in ads
        if ad.preferred_nodes and ad_selects(ad, node_labels)
        for weight, sel in ad.preferred_nodes
        if selector_matches(sel, node_labels)
    )


def election_key(node: str, ip: str) -> bytes:
    return hashlib.sha256((node + "#" + ip).encode("utf-8")).digest()


def order_candidates(
    candidates: Collection[str], ip: str, scores: Mapping[str, int] | None = None
) -> list[str]:
    """Highest score first, then sha256(node + "#" + ip) ascending (bytes)."""
    scores = scores or {}
    return sorted(candidates, key=lambda n: (-scores.get(n, 0), election_key(n, ip)))


def canonical_ip(ip: str) -> str:
    """Go's net.IP.String() of ``ip``: the form MetalLB hashes. ValueError if not an IP."""
    parsed = parse_ip(ip) if isinstance(ip, str) else None
    if parsed is None:
        raise ValueError("layer2 election: %r is not an IP address" % (ip,))
    return format_ip(*parsed)


def elect(
    ip: str,
    service: Mapping,
    pool_name: str,
    config: Config,
    nodes: Mapping[str, Mapping],
    endpoint_slices: Sequence[Mapping],
    members: Collection[str] | None,
    my_node: str | None = None,
    *,
    ignore_exclude_lb: bool = False,
) -> L2Decision:
    """MetalLB's layer-2 election for the service's first LB IP ``ip`` from pool ``pool_name``.

    ``nodes`` maps names to Node objects (API dicts); ``members`` are the live speakers (None:
    every Node, MetalLB with memberlist disabled); a member without a Node object is never a
    candidate (no advertisement can select it). ``ignore_exclude_lb`` is MetalLB's
    ``--ignore-exclude-lb``.
    """
    ip = canonical_ip(ip)
    # 1. a serving endpoint somewhere
    serving = list(_serving_endpoints(endpoint_slices))
    if not serving:
        return L2Decision(None, (), NOT_OWNER)
    # 2. advertisements of the pool that match the service
    ads = ads_for_service(config, pool_name, service)
    # 3. allow-shared-ip cannot be combined with serviceSelectors
    if has_shared_ip_annotation(service) and any(ad.service_selectors for ad in ads):
        return L2Decision(None, (), SHARED_IP_WITH_SERVICE_SELECTOR)

    live = [n for n in dict.fromkeys(nodes if members is None else members) if n in nodes]
    labels = {n: _meta(nodes[n], "labels") for n in live}
    selected = {n for n in live if any(ad_selects(ad, labels[n]) for ad in ads)}
    # 4. an advertisement must select my node (planner: some live node)
    if my_node is not None:
        mine = my_node in nodes and any(ad_selects(ad, _meta(nodes[my_node], "labels")) for ad in ads)
    else:
        mine = bool(selected)
    # 5. candidates: live, network available, not excluded, selected by some advertisement
    candidates = [
        n
        for n in live
        if n in selected
        and not network_unavailable(nodes[n])
        and (ignore_exclude_lb or EXCLUDE_LB_LABEL not in labels[n])
    ]
    # 6. externalTrafficPolicy Local: only nodes with a serving endpoint
    if ((service.get("spec") or {}).get("externalTrafficPolicy")) == "Local":
        hosting = {e.get("nodeName") for e in serving if e.get("nodeName")}
        candidates = [n for n in candidates if n in hosting]
    # 7. order; the first announces
    winner = None
    interfaces: tuple[str, ...] = ()
    if candidates:
        scores = {n: preference_score(ads, labels[n]) for n in candidates}
        winner = order_candidates(candidates, ip, scores)[0]
        interfaces = interfaces_for(ads, labels[winner])
    if not mine:
        return L2Decision(winner, interfaces, NO_MATCHING_ADVERTISEMENT)
    if winner is None:
        return L2Decision(None, (), NOT_OWNER)
    if my_node is not None and winner != my_node:
        return L2Decision(winner, interfaces, NOT_OWNER)
    return L2Decision(winner, interfaces, None)


def interfaces_for(ads: Sequence[L2Advertisement], node_labels: Mapping[str, str]) -> tuple[str, ...]:
    """Union of ``interfaces`` of the ads selecting the node; () (all) if any of them has none."""
    names: set[str] = set()
    for ad in ads:
        if not ad_selects(ad, node_labels):
            continue
        if not ad.interfaces:
            return ()
        names.update(ad.interfaces)
    return tuple(sorted(names))
