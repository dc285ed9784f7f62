# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Everything one node sends over BGP: its sessions and, per session, each prefix with its attributes.

``node_bgp`` is the one function behind the speaker (its own node) and the planner (every node).
All services are merged per session as MetalLB does: a prefix announced by several services or
advertisements is one route whose communities are the union; LOCAL_PREF goes to iBGP sessions
only. Where MetalLB keeps an arbitrary one of two LOCAL_PREF values for one prefix, the highest
wins here, so every run decides the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..config.advertisements import _community_order as community_order
from ..model import BFDProfile, Community, Config
from ..addresses import canonical_ip
from ..election import INVALID_IP, IP_NOT_ALLOWED, Balancer, pool_for, slices_by_service
from .announce import Advertised, advertised, should_announce
from .sessions import Session, node_sessions

NO_PEERS = "noPeers"  # the node announces, but none of its sessions carries the prefix
GRACEFUL_SHUTDOWN = Community(False, (65535, 0))  # RFC 8326


@dataclass(frozen=True)
class Route:
    """A prefix as one session receives it. ``local_pref`` 0: not sent (eBGP, or not configured)."""

    prefix: str
    family: int
    local_pref: int = 0
    communities: tuple[Community, ...] = ()


@dataclass(frozen=True)
class PeerRoutes:
    session: Session
    routes: tuple[Route, ...] = ()  # by prefix


@dataclass(frozen=True)
class NodeBGP:
    """What ``node`` runs and sends. ``ip_prefixes`` maps each LB IP the node announces to the
    prefixes it yields; ``ip_reasons`` each other LB IP to why the node does not announce it;
    ``service_peers`` each announced service to the peers given one of its prefixes (ServiceBGPStatus)."""

    node: str
    peers: tuple[PeerRoutes, ...] = ()
    bfd_profiles: tuple[BFDProfile, ...] = ()
    errors: tuple[str, ...] = ()
    ip_prefixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ip_reasons: Mapping[str, str] = field(default_factory=dict)
    service_peers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def routes(self, session_name: str) -> tuple[Route, ...]:
        for p in self.peers:
            if p.session.name == session_name:
                return p.routes
        return ()


def _merge(session: Session, advs: Sequence[Advertised]) -> tuple[Route, ...]:
    by_prefix: dict[str, tuple[int, int, set]] = {}
    for adv in advs:
        if (adv.peers and session.name not in adv.peers) or not session.carries(adv.family):
            continue
        family, pref, communities = by_prefix.get(adv.prefix, (adv.family, 0, set()))
        communities.update(adv.communities)
        by_prefix[adv.prefix] = (family, max(pref, adv.local_pref if session.ibgp else 0), communities)
    return tuple(Route(prefix, family, pref, tuple(sorted(communities, key=community_order)))
                 for prefix, (family, pref, communities) in sorted(by_prefix.items()))


def node_bgp(config: Config, node_name: str, nodes: Mapping[str, Mapping], balancers: Sequence[Balancer],
             endpoint_slices: Sequence[Mapping], secrets: Mapping[str, Mapping], *,
             ignore_exclude_lb: bool = False, by_service: Mapping[str, Sequence[Mapping]] | None = None
             ) -> NodeBGP:
    """What ``node_name`` sends: MetalLB's per-service ShouldAnnounce/SetBalancer over ``balancers``
    (assigned LoadBalancer services), merged per session. ``secrets`` maps ``namespace/name`` to the
    Secret objects passwordSecret refers to; ``by_service`` is ``slices_by_service(endpoint_slices)``
    when the caller has it already."""
    node = nodes.get(node_name)
    labels = None
    if node is not None:
        labels = (node.get("metadata") or {}).get("labels") or {}
    sessions, errors = node_sessions(config, labels, secrets)
    if by_service is None:
        by_service = slices_by_service(endpoint_slices)
    all_advs: list[Advertised] = []
    ip_prefixes: dict[str, list[str]] = {}
    ip_reasons: dict[str, str] = {}
    service_advs: dict[str, list[Advertised]] = {}
    for bal in sorted(balancers, key=lambda b: b.key):
        texts = [canonical_ip(ip) for ip in bal.ips]
        if not texts or any(t is None for t in texts):
            for ip, text in zip(bal.ips, texts):
                ip_reasons.setdefault(text or str(ip), INVALID_IP)
            continue
        pool = bal.pool or pool_for(config, texts)
        if pool is None or pool not in config.pools:
            for text in texts:
                ip_reasons.setdefault(text, IP_NOT_ALLOWED)
            continue
        reason, ads = should_announce(config, pool, bal.service, node_name, nodes, by_service.get(bal.key, ()),
                                      ignore_exclude_lb=ignore_exclude_lb)
        if reason is not None:
            for text in texts:
                ip_reasons.setdefault(text, reason)
            continue
        advs = advertised(texts, ads)
        service_advs[bal.key] = advs
        all_advs.extend(advs)
        for text in texts:
            ip_reasons.pop(text, None)  # another service announces it
            mine = ip_prefixes.setdefault(text, [])
            mine.extend(a.prefix for a in advertised([text], ads) if a.prefix not in mine)
    peers = tuple(PeerRoutes(s, _merge(s, all_advs)) for s in sessions)
    service_peers = {}
    for key, advs in service_advs.items():
        prefixes = {a.prefix for a in advs}
        service_peers[key] = tuple(p.session.name for p in peers if any(r.prefix in prefixes for r in p.routes))
    used = {s.bfd_profile for s in sessions if s.bfd_profile}
    profiles = tuple(config.bfd_profiles[n] for n in sorted(used) if n in config.bfd_profiles)
    return NodeBGP(node_name, peers, profiles, errors, {ip: tuple(v) for ip, v in ip_prefixes.items()},
                   ip_reasons, service_peers)


def graceful_shutdown(state: NodeBGP) -> NodeBGP:
    """``state`` with GRACEFUL_SHUTDOWN (65535:0) on every route: on a planned stop the speaker sends
    this first, so routers move traffic to other nodes before the routes are withdrawn."""
    peers = tuple(replace(p, routes=tuple(
        replace(r, communities=tuple(sorted(set(r.communities) | {GRACEFUL_SHUTDOWN}, key=community_order)))
        for r in p.routes)) for p in state.peers)
    return replace(state, peers=peers)


def routes_by_prefix(state: NodeBGP) -> dict[str, list[tuple[str, Route]]]:
    """prefix -> [(session name, route)] in session order: ``ip_view``'s index."""
    index: dict[str, list[tuple[str, Route]]] = {}
    for p in state.peers:
        for r in p.routes:
            index.setdefault(r.prefix, []).append((p.session.name, r))
    return index


def ip_view(state: NodeBGP, ip: str, index: Mapping[str, list[tuple[str, Route]]] | None = None) -> dict:
    """One LB IP on one node, as the planner shows it: the peers, prefixes, communities (standard and
    large, as text) and LOCAL_PREF it sends, or ``{"reason": ...}``. ``index``: ``routes_by_prefix(state)``,
    for many IPs of one state."""
    prefixes = state.ip_prefixes.get(ip)
    if prefixes is None:
        return {"reason": state.ip_reasons.get(ip, NO_PEERS)}
    if index is None:
        index = routes_by_prefix(state)
    by_peer: dict[str, list[Route]] = {}
    for prefix in prefixes:
        for name, r in index.get(prefix, ()):
            by_peer.setdefault(name, []).append(r)
    order = [p.session.name for p in state.peers]
    peers, communities, large, local_pref = [], set(), set(), 0
    for name in sorted(by_peer, key=order.index):
        peers.append(name)
        for r in by_peer[name]:
            communities.update(c for c in r.communities if not c.large)
            large.update(c for c in r.communities if c.large)
            local_pref = max(local_pref, r.local_pref)
    if not peers:
        return {"reason": NO_PEERS}
    return {"peers": peers, "prefixes": list(prefixes),
            "communities": [str(c) for c in sorted(communities, key=community_order)],
            "large_communities": [str(c) for c in sorted(large, key=community_order)],
            "local_pref": local_pref or None}
