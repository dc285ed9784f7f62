# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Who announces a layer-2 IP: MetalLB's ``ShouldAnnounce`` (speaker/layer2_controller.go).

``elect_all`` is the one pure function shared by the speaker (``my_node`` = itself: "do I
announce?") and the planner (``my_node`` None: "which node announces, or why nobody does"),
with the live member set as input. Every speaker that sees the same members and objects
computes the same winner: the candidate set never depends on which node asks, and the order
is the preference score, then sha256(node + "#" + ip). Services sharing an IP are elected
together (``elect_shared``), so an IP never has two announcers; ``elect`` is MetalLB's
per-service call, kept for its test cases.
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
    """MetalLB's layer-2 election for one service whose first LB IP is ``ip`` (pool ``pool_name``).

    ``nodes`` maps names to Node objects (API dicts); ``members`` are the live speakers (None:
    every Node, MetalLB with memberlist disabled); a member without a Node object is never a
    candidate (no advertisement can select it). ``ignore_exclude_lb`` is MetalLB's
    ``--ignore-exclude-lb``. ``elect_shared`` is the same for several services on one IP.
    """
    return elect_shared(
        ip,
        [Claim(service, pool_name, endpoint_slices)],
        config,
        nodes,
        members,
        my_node,
        ignore_exclude_lb=ignore_exclude_lb,
    )


@dataclass(frozen=True)
class Claim:
    """One service announcing an IP: the Service, its pool and its EndpointSlices."""

    service: Mapping
    pool: str
    endpoint_slices: Sequence[Mapping] = ()


@dataclass(frozen=True)
class _View:
    """Steps 1-6 of ShouldAnnounce for one service, independent of the asking node."""

    reason: str | None  # steps 1-3 rule the service out: notOwner / sharedIPWithServiceSelector
    ads: tuple[L2Advertisement, ...] = ()
    selected: frozenset[str] = frozenset()  # live nodes some of its ads select
    candidates: frozenset[str] = frozenset()  # after steps 5 and 6


def _view(
    claim: Claim,
    config: Config,
    nodes: Mapping[str, Mapping],
    live: Sequence[str],
    labels: Mapping[str, Mapping],
    ignore_exclude_lb: bool,
) -> _View:
    service = claim.service
    # 1. a serving endpoint somewhere
    serving = list(_serving_endpoints(claim.endpoint_slices))
    if not serving:
        return _View(NOT_OWNER)
    # 2. advertisements of the pool that match the service
    ads = tuple(ads_for_service(config, claim.pool, service))
    # 3. allow-shared-ip cannot be combined with serviceSelectors
    if has_shared_ip_annotation(service) and any(ad.service_selectors for ad in ads):
        return _View(SHARED_IP_WITH_SERVICE_SELECTOR)
    selected = frozenset(n for n in live if any(ad_selects(ad, labels[n]) for ad in ads))
    # 5. candidates: live, network available, not excluded, selected by some advertisement
    candidates = {
        n
        for n in selected
        if not network_unavailable(nodes[n]) and (ignore_exclude_lb or EXCLUDE_LB_LABEL not in labels[n])
    }
    # 6. externalTrafficPolicy Local: only nodes with a serving endpoint
    if ((service.get("spec") or {}).get("externalTrafficPolicy")) == "Local":
        candidates &= {e.get("nodeName") for e in serving if e.get("nodeName")}
    return _View(None, ads, selected, frozenset(candidates))


def elect_shared(
    ip: str,
    claims: Sequence[Claim],
    config: Config,
    nodes: Mapping[str, Mapping],
    members: Collection[str] | None,
    my_node: str | None = None,
    *,
    ignore_exclude_lb: bool = False,
) -> L2Decision:
    """The election for one LB IP that ``claims`` (services, usually one) announce; ``ip`` is
    the hash key (MetalLB: the first ingress IP of the service).

    MetalLB elects per service, so services sharing an IP can pick different nodes (one IP, two
    MACs) when their candidates differ (an ``externalTrafficPolicy: Local`` service sharing with
    a Cluster one, EndpointSlices of different readiness). Here the IP has ONE winner: the node
    that is a candidate for the most services, then MetalLB's order (preference score summed
    over the services, then sha256(node + "#" + ip)). With one service, or services with the
    same candidates, this is exactly MetalLB's order.
    """
    ip = canonical_ip(ip)
    live = [n for n in dict.fromkeys(nodes if members is None else members) if n in nodes]
    labels = {n: _meta(nodes[n], "labels") for n in live}
    views = [_view(c, config, nodes, live, labels, ignore_exclude_lb) for c in claims]
    active = [v for v in views if v.reason is None]
    if not active:
        reasons = {v.reason for v in views}
        return L2Decision(
            None,
            (),
            SHARED_IP_WITH_SERVICE_SELECTOR if SHARED_IP_WITH_SERVICE_SELECTOR in reasons else NOT_OWNER,
        )
    ads = tuple(dict.fromkeys(ad for v in active for ad in v.ads))
    # 4. an advertisement must select my node (planner: some live node)
    if my_node is not None:
        mine = my_node in nodes and any(ad_selects(ad, _meta(nodes[my_node], "labels")) for ad in ads)
    else:
        mine = any(v.selected for v in active)
    # 7. order; the first announces
    coverage: dict[str, int] = {}
    scores: dict[str, int] = {}
    for v in active:
        for n in v.candidates:
            coverage[n] = coverage.get(n, 0) + 1
            scores[n] = scores.get(n, 0) + preference_score(v.ads, labels[n])
    winner = None
    interfaces: tuple[str, ...] = ()
    if coverage:
        winner = min(coverage, key=lambda n: (-coverage[n], -scores[n], election_key(n, ip)))
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


# ----------------------------------------------------------------- every IP at once (speaker and planner)

IP_NOT_ALLOWED = "ipNotAllowed"
INVALID_IP = "invalidIP"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


@dataclass(frozen=True)
class Balancer:
    """A LoadBalancer service and its LB IPs in status order. ``pool`` None: the pool holding
    every one of the IPs (MetalLB's speaker ``poolFor``, which ignores avoidBuggyIPs)."""

    key: str  # namespace/name
    service: Mapping
    ips: tuple[str, ...]
    pool: str | None = None


def pool_for(config: Config, ips: Sequence[str]) -> str | None:
    """The first pool (by name) containing every one of ``ips``; None if none does."""
    parsed = [parse_ip(ip) for ip in ips]
    if not parsed or any(p is None for p in parsed):
        return None
    for name in sorted(config.pools):
        segments = config.pools[name].segments
        if all(any(s.family == f and s.first <= v <= s.last for s in segments) for f, v in parsed):
            return name
    return None


def slices_by_service(endpoint_slices: Sequence[Mapping]) -> dict[str, list[Mapping]]:
    """EndpointSlices grouped by ``namespace/name`` of their service (label kubernetes.io/service-name)."""
    out: dict[str, list[Mapping]] = {}
    for eps in endpoint_slices or ():
        if not isinstance(eps, Mapping):
            continue
        name = _meta(eps, "labels").get(SERVICE_NAME_LABEL)
        if isinstance(name, str) and name:
            namespace = (eps.get("metadata") or {}).get("namespace") or "default"
            out.setdefault("%s/%s" % (namespace, name), []).append(eps)
    return out


def elect_all(
    config: Config,
    balancers: Sequence[Balancer],
    nodes: Mapping[str, Mapping],
    endpoint_slices: Sequence[Mapping],
    members: Collection[str] | None,
    my_node: str | None = None,
    *,
    ignore_exclude_lb: bool = False,
) -> dict[str, L2Decision]:
    """The layer-2 decision for every LB IP of ``balancers``, keyed by canonical IP text.

    The one entry point of the speaker (``my_node`` = itself: announce the IPs whose reason is
    None, on ``interfaces``; () means all) and of the planner (``my_node`` None: who announces,
    or why nobody). Services sharing an IP get one decision (``elect_shared``); its hash key is
    the first IP of the first service (by key) on the IP, so all IPs of a dual-stack service
    normally land on one node, as in MetalLB. An IP outside every pool gets ``ipNotAllowed``,
    an unparsable one ``invalidIP`` (keyed by its text), as MetalLB's speaker withdraws them.
    """
    by_service = slices_by_service(endpoint_slices)
    claims: dict[str, list[tuple[str, str, Claim]]] = {}
    out: dict[str, L2Decision] = {}
    for bal in sorted(balancers, key=lambda b: b.key):
        texts = []
        for ip in bal.ips:
            parsed = parse_ip(ip) if isinstance(ip, str) else None
            if parsed is None:
                out[str(ip)] = L2Decision(None, (), INVALID_IP)
            else:
                texts.append(format_ip(*parsed))
        if not texts:
            continue
        pool = bal.pool if bal.pool is not None else pool_for(config, texts)
        if pool is None:
            for text in texts:
                out.setdefault(text, L2Decision(None, (), IP_NOT_ALLOWED))
            continue
        claim = Claim(bal.service, pool, by_service.get(bal.key, ()))
        for text in texts:
            claims.setdefault(text, []).append((bal.key, texts[0], claim))
    for ip, items in claims.items():
        out[ip] = elect_shared(
            items[0][1],
            [c for _key, _first, c in items],
            config,
            nodes,
            members,
            my_node,
            ignore_exclude_lb=ignore_exclude_lb,
        )
    return dict(sorted(out.items()))
