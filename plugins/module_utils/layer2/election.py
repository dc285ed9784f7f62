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

Cost: the speaker re-runs ``elect_all`` on every membership change (the failover path) and the
planner runs it over 100,000 IPs, so the node-dependent steps are computed once per set of
advertisements (``_Election``), not once per service, and a speaker keeps the sha256 order of
the nodes per IP between passes (``ElectionCache``). Neither changes a decision.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from socket import AF_INET, AF_INET6, inet_ntop, inet_pton

from ..addresses import parse_ip
from ..config.model import Config, L2Advertisement
from ..selectors import selector_matches
from ..vocabulary import ALLOW_SHARED_IP, ALLOW_SHARED_IP_DEPRECATED, EXCLUDE_LB_LABEL, SERVICE_NAME_LABEL, key_of

NOT_OWNER = "notOwner"
NO_MATCHING_ADVERTISEMENT = "noMatchingAdvertisement"
SHARED_IP_WITH_SERVICE_SELECTOR = "sharedIPWithServiceSelector"



@dataclass(frozen=True, slots=True)
class L2Decision:
    """``node`` announces the IP (None: no node does); ``interfaces`` are that node's (from the
    advertisements selecting it; () means all). ``reason`` is None when ``my_node`` (or, for
    the planner, the elected node) announces, else MetalLB's reason: ``notOwner``,
    ``noMatchingAdvertisement`` or ``sharedIPWithServiceSelector``. For a speaker that loses,
    ``node`` still names the winner."""

    node: str | None
    interfaces: tuple[str, ...]
    reason: str | None


def _is_mapping(value) -> bool:
    """isinstance(value, Mapping), without the ABC check for the plain dicts of the API."""
    return isinstance(value, dict) or isinstance(value, Mapping)


def _meta(obj: Mapping, key: str) -> Mapping:
    value = (obj.get("metadata") or {}).get(key) if _is_mapping(obj) else None
    return value if _is_mapping(value) else {}


def endpoint_serving(endpoint: Mapping) -> bool:
    """MetalLB's ``EndpointCanServe``: ready unset or true, or serving true (terminating
    endpoints that still serve count)."""
    conditions = endpoint.get("conditions") or {}
    ready = conditions.get("ready")
    return ready is None or ready is True or conditions.get("serving") is True


def _serving_endpoints(endpoint_slices: Sequence[Mapping]):
    for eps in endpoint_slices or ():
        for endpoint in (eps.get("endpoints") or ()) if _is_mapping(eps) else ():
            if _is_mapping(endpoint) and endpoint_serving(endpoint):
                yield endpoint


def _any_serving(endpoint_slices: Sequence[Mapping]) -> bool:
    """``_serving_endpoints`` yields something (runs for every service of every pass)."""
    for eps in endpoint_slices or ():
        if _is_mapping(eps):
            for endpoint in eps.get("endpoints") or ():
                if _is_mapping(endpoint) and endpoint_serving(endpoint):
                    return True
    return False


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


_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def ip_text(text) -> str | None:
    """``addresses.canonical_ip`` (Go's net.IP.String(), IPv4-mapped IPv6 as IPv4) in two C calls:
    it runs for every LB IP of every pass. None if ``text`` is not an IP."""
    if not isinstance(text, str):
        return None
    try:
        return inet_ntop(AF_INET, inet_pton(AF_INET, text))
    except OSError:
        pass
    try:
        packed = inet_pton(AF_INET6, text)
    except (OSError, ValueError):
        return None
    if packed[:12] == _V4_MAPPED:
        return inet_ntop(AF_INET, packed[12:])
    return inet_ntop(AF_INET6, packed)


def canonical_ip(ip: str) -> str:
    """Go's net.IP.String() of ``ip``: the form MetalLB hashes. ValueError if not an IP."""
    text = ip_text(ip)
    if text is None:
        raise ValueError("layer2 election: %r is not an IP address" % (ip,))
    return text


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


@dataclass(frozen=True, slots=True)
class Claim:
    """One service announcing an IP: the Service, its pool and its EndpointSlices."""

    service: Mapping
    pool: str
    endpoint_slices: Sequence[Mapping] = ()


_NOT_OWNER = L2Decision(None, (), NOT_OWNER)
_SHARED_WITH_SELECTOR = L2Decision(None, (), SHARED_IP_WITH_SERVICE_SELECTOR)
_DIRECT_ORDER_MAX = 4  # up to this many tied candidates, hashing them beats looking up a cached order


class _Election:
    """One pass of ShouldAnnounce over any number of IPs with the same nodes, members and config.

    Steps 1-6 of a service depend on the asking node only through the pool's advertisements
    (selected nodes, candidates, scores, interfaces), so they are computed once per set of
    advertisements and per node, not once per service: the cost of a pass is a few dict lookups
    per service. Every value is computed exactly as ``_meta``/``ad_selects``/... would, and only
    in the situations the one-service-at-a-time reading computes it.
    """

    __slots__ = ("config", "nodes", "live", "labels", "ignore_exclude_lb", "_pool_ads", "_by_ads",
                 "_eligible", "_scores", "_mine", "_decisions", "_memo", "_all_text")

    def __init__(self, config: Config, nodes: Mapping[str, Mapping], members: Collection[str] | None,
                 ignore_exclude_lb: bool, memo: _PassMemo | None) -> None:
        self.config = config
        self.nodes = nodes
        self.live = [n for n in dict.fromkeys(nodes if members is None else members) if n in nodes]
        self.labels = {n: _meta(nodes[n], "labels") for n in self.live}
        self.ignore_exclude_lb = ignore_exclude_lb
        self._pool_ads: dict = {}  # pool -> ((index, ad), ...) of its advertisements, any serviceSelectors
        self._by_ads: dict = {}  # ad indices -> see ``_for_ads``
        self._eligible: dict = {}  # node -> step 5 (network available, not excluded)
        self._scores: dict = {}  # (ad indices, node) -> preference score
        self._mine: dict = {}  # (ad indices, my node) -> does one of the ads select my node
        self._decisions: dict = {}  # (ad indices, winner, reason) -> decision (one object for equal ones)
        self._memo = memo
        self._all_text = all(isinstance(n, str) for n in nodes)  # every node name can be hashed

    def _eligible_node(self, n: str) -> bool:
        ok = self._eligible.get(n)
        if ok is None:
            ok = not network_unavailable(self.nodes[n]) and (
                self.ignore_exclude_lb or EXCLUDE_LB_LABEL not in self.labels[n])
            self._eligible[n] = ok
        return ok

    def _ads(self, pool: str, service: Mapping) -> tuple[int, ...]:
        """Indices (in the config) of ``ads_for_service``; the labels are read only if some ad of
        the pool has serviceSelectors."""
        entry = self._pool_ads.get(pool)
        if entry is None:
            pairs = tuple((i, ad) for i, ad in enumerate(self.config.l2_advertisements) if pool in ad.pools)
            entry = (pairs, tuple(i for i, _ad in pairs), any(ad.service_selectors for _i, ad in pairs))
            self._pool_ads[pool] = entry
        pairs, every, filtered = entry
        if not filtered:
            return every
        service_labels = _meta(service, "labels")
        return tuple(i for i, ad in pairs
                     if not ad.service_selectors or any(selector_matches(s, service_labels)
                                                        for s in ad.service_selectors))

    def _for_ads(self, key: tuple[int, ...]) -> list:
        """[ads, any serviceSelectors, any preferredNodeSelectors, selected, candidates]; the last two
        are filled by ``_nodes_for``."""
        got = self._by_ads.get(key)
        if got is None:
            ads = tuple(self.config.l2_advertisements[i] for i in key)
            got = [ads, any(ad.service_selectors for ad in ads), any(ad.preferred_nodes for ad in ads), None, None]
            self._by_ads[key] = got
        return got

    def _nodes_for(self, entry: list) -> None:
        """Live nodes the ads select, and the candidates among them (steps 4-5)."""
        ads, labels = entry[0], self.labels
        selected = frozenset(n for n in self.live if any(ad_selects(ad, labels[n]) for ad in ads))
        entry[4] = frozenset(n for n in selected if self._eligible_node(n))
        entry[3] = selected

    def view(self, claim: Claim) -> tuple:
        """Steps 1-6 for one service: (reason, ad indices, ads, selected, candidates, has preferences)."""
        service = claim.service
        # 1. a serving endpoint somewhere
        if not _any_serving(claim.endpoint_slices):
            return (NOT_OWNER,)
        # 2. advertisements of the pool that match the service
        key = self._ads(claim.pool, service)
        entry = self._for_ads(key)
        # 3. allow-shared-ip cannot be combined with serviceSelectors
        if entry[1] and has_shared_ip_annotation(service):
            return (SHARED_IP_WITH_SERVICE_SELECTOR,)
        if entry[3] is None:
            self._nodes_for(entry)
        ads, _selectors, preferred, selected, candidates = entry
        # 6. externalTrafficPolicy Local: only nodes with a serving endpoint
        if ((service.get("spec") or {}).get("externalTrafficPolicy")) == "Local":
            candidates = candidates & {e.get("nodeName") for e in _serving_endpoints(claim.endpoint_slices)
                                       if e.get("nodeName")}
        return (None, key, ads, selected, candidates, preferred)

    def _score(self, view: tuple, n: str) -> int:
        if not view[5]:
            return 0
        key = (view[1], n)
        score = self._scores.get(key)
        if score is None:
            score = self._scores[key] = preference_score(view[2], self.labels[n])
        return score

    def _order(self, ip: str, tied: Collection[str]) -> str:
        """The tied candidate with the lowest sha256(node + "#" + ip)."""
        memo = self._memo
        if (memo is not None and (len(tied) > _DIRECT_ORDER_MAX or memo.has_order(ip))
                and (self._all_text or all(isinstance(n, str) for n in tied))):
            wanted = tied if isinstance(tied, (set, frozenset)) else set(tied)
            for n in memo.order(ip, self.nodes):
                if n in wanted:
                    return n
        return min(tied, key=lambda n: election_key(n, ip))

    def decide(self, ip: str, claims: Sequence[Claim], my_node: str | None) -> L2Decision:
        """``elect_shared`` for the canonical ``ip``."""
        if len(claims) == 1:
            view = self.view(claims[0])
            if view[0] is not None:
                return _SHARED_WITH_SELECTOR if view[0] == SHARED_IP_WITH_SERVICE_SELECTOR else _NOT_OWNER
            active = (view,)
            key = view[1]
        else:
            views = [self.view(c) for c in claims]
            active = tuple(v for v in views if v[0] is None)
            if not active:
                return (_SHARED_WITH_SELECTOR if any(v[0] == SHARED_IP_WITH_SERVICE_SELECTOR for v in views)
                        else _NOT_OWNER)
            key = active[0][1] if len(active) == 1 else tuple(dict.fromkeys(i for v in active for i in v[1]))
        # 4. an advertisement must select my node (planner: some live node)
        if my_node is not None:
            mine = self._mine.get((key, my_node))
            if mine is None:
                ads = tuple(self.config.l2_advertisements[i] for i in key)
                mine = my_node in self.nodes and any(ad_selects(ad, _meta(self.nodes[my_node], "labels"))
                                                     for ad in ads)
                self._mine[key, my_node] = mine
        else:
            mine = any(v[3] for v in active)
        # 7. order: most services covered, then preference score, then sha256; the first announces
        winner = None
        if len(active) == 1:
            view = active[0]
            candidates = view[4]
            if candidates:
                if view[5]:
                    scores = {n: self._score(view, n) for n in candidates}
                    best = max(scores.values())
                    candidates = [n for n in candidates if scores[n] == best]
                winner = next(iter(candidates)) if len(candidates) == 1 else self._order(ip, candidates)
        else:
            rank: dict[str, tuple[int, int]] = {}
            for v in active:
                for n in v[4]:
                    cov, score = rank.get(n, (0, 0))
                    rank[n] = (cov + 1, score + self._score(v, n))
            if rank:
                best = max(rank.values())
                tied = [n for n, r in rank.items() if r == best]
                winner = tied[0] if len(tied) == 1 else self._order(ip, tied)
        if not mine:
            reason = NO_MATCHING_ADVERTISEMENT
        elif winner is None:
            return _NOT_OWNER
        elif my_node is not None and winner != my_node:
            reason = NOT_OWNER
        else:
            reason = None
        if winner is None:
            return self._decision(key, None, reason)
        return self._decision(key, winner, reason)

    def _decision(self, key: tuple[int, ...], winner: str | None, reason: str | None) -> L2Decision:
        """The decision naming ``winner`` and its interfaces under the ads ``key``; equal ones are shared."""
        memo = (key, winner, reason)
        got = self._decisions.get(memo)
        if got is None:
            interfaces: tuple[str, ...] = ()
            if winner is not None:
                ads = tuple(self.config.l2_advertisements[i] for i in key)
                interfaces = interfaces_for(ads, self.labels[winner])
            got = self._decisions[memo] = L2Decision(winner, interfaces, reason)
        return got


_MISSING = object()


class _PassMemo:
    """One pass's tables of an ``ElectionCache``: a lookup falls back to the previous pass's table,
    and whatever this pass uses is kept for the next one; the rest is dropped with the old table
    (services and their IPs come and go: the memory stays that of two passes)."""

    __slots__ = ("texts", "old_texts", "pools", "old_pools", "orders", "old_orders")

    def __init__(self, old_texts: dict, old_pools: dict, old_orders: dict) -> None:
        self.texts: dict = {}
        self.old_texts = old_texts
        self.pools: dict = {}
        self.old_pools = old_pools
        self.orders: dict = {}
        self.old_orders = old_orders

    def ip_text(self, text) -> str | None:
        if not isinstance(text, str):
            return ip_text(text)
        got = self.texts.get(text, _MISSING)
        if got is _MISSING:
            got = self.old_texts.get(text, _MISSING)
            if got is _MISSING:
                got = ip_text(text)
            self.texts[text] = got
        return got

    def pool(self, config: Config, texts: list[str]) -> str | None:
        key = tuple(texts)
        got = self.pools.get(key, _MISSING)
        if got is _MISSING:
            got = self.old_pools.get(key, _MISSING)
            if got is _MISSING:
                got = pool_for(config, texts)
            self.pools[key] = got
        return got

    def has_order(self, ip: str) -> bool:
        return ip in self.orders or ip in self.old_orders

    def order(self, ip: str, nodes: Mapping[str, Mapping]) -> tuple[str, ...]:
        """Every node name of ``nodes`` by sha256(node + "#" + ip)."""
        got = self.orders.get(ip)
        if got is None:
            got = self.old_orders.get(ip)
            if got is None:
                got = tuple(sorted((n for n in nodes if isinstance(n, str)), key=lambda n: election_key(n, ip)))
            self.orders[ip] = got
        return got


class ElectionCache:
    """What a speaker's successive passes can reuse: canonical IP texts, the pool of a set of IPs
    (while the config object is the same) and the sha256 order of all known nodes per IP (while
    the set of node names is the same).

    On a membership change only the live set differs, so the order of the survivors is read from
    the cached order instead of hashing every candidate again. Every entry is a pure function of
    its key and of the config/node names it was made under, so it can never change a decision.
    Entries unused for a whole pass are dropped. Safe to share between threads.
    """

    __slots__ = ("_lock", "_config", "_names", "_texts", "_pools", "_orders")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._config: Config | None = None
        self._names: frozenset | None = None
        self._texts: dict = {}
        self._pools: dict = {}
        self._orders: dict = {}

    def begin(self, config: Config, nodes: Mapping[str, Mapping]) -> _PassMemo:
        """The tables of one ``elect_all`` pass over ``config`` and ``nodes``."""
        names = frozenset(n for n in nodes if isinstance(n, str))
        with self._lock:
            memo = _PassMemo(self._texts, self._pools if config is self._config else {},
                             self._orders if names == self._names else {})
            self._config, self._names = config, names
            self._texts, self._pools, self._orders = memo.texts, memo.pools, memo.orders
        return memo

    def ip_text(self, text) -> str | None:
        """``ip_text``, from the latest pass's table when it is there."""
        got = self._texts.get(text, _MISSING) if isinstance(text, str) else _MISSING
        return ip_text(text) if got is _MISSING else got


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
    return _Election(config, nodes, members, ignore_exclude_lb, None).decide(ip, claims, my_node)


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


@dataclass(frozen=True, slots=True)
class Balancer:
    """A LoadBalancer service and its LB IPs in status order. ``pool`` None: the pool holding
    every one of the IPs (MetalLB's speaker ``poolFor``, which ignores avoidBuggyIPs)."""

    key: str  # namespace/name
    service: Mapping
    ips: Sequence[str]
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
        if not _is_mapping(eps):
            continue
        name = _meta(eps, "labels").get(SERVICE_NAME_LABEL)
        if isinstance(name, str) and name:
            namespace = (eps.get("metadata") or {}).get("namespace") or "default"
            out.setdefault(key_of(namespace, name), []).append(eps)
    return out


_INVALID = L2Decision(None, (), INVALID_IP)
_NOT_ALLOWED = L2Decision(None, (), IP_NOT_ALLOWED)


def elect_all(
    config: Config,
    balancers: Sequence[Balancer],
    nodes: Mapping[str, Mapping],
    endpoint_slices: Sequence[Mapping],
    members: Collection[str] | None,
    my_node: str | None = None,
    *,
    ignore_exclude_lb: bool = False,
    cache: ElectionCache | None = None,
) -> dict[str, L2Decision]:
    """The layer-2 decision for every LB IP of ``balancers``, keyed by canonical IP text.

    The one entry point of the speaker (``my_node`` = itself: announce the IPs whose reason is
    None, on ``interfaces``; () means all) and of the planner (``my_node`` None: who announces,
    or why nobody). Services sharing an IP get one decision (``elect_shared``); its hash key is
    the first IP of the first service (by key) on the IP, so all IPs of a dual-stack service
    normally land on one node, as in MetalLB. An IP outside every pool gets ``ipNotAllowed``,
    an unparsable one ``invalidIP`` (keyed by its text), as MetalLB's speaker withdraws them.
    ``cache``: kept by a speaker between passes (see ``ElectionCache``); it never changes a
    decision. Equal decisions are one (immutable) object.
    """
    by_service = slices_by_service(endpoint_slices)
    memo = cache.begin(config, nodes) if cache is not None else None
    text_of = memo.ip_text if memo is not None else ip_text
    # ip -> its Claim when the ip is the hash key and it has one claim (nearly always), else
    # (hash key, Claim, ...): one object per IP less at 100,000 IPs
    claims: dict[str, Claim | tuple] = {}
    out: dict[str, L2Decision] = {}  # ipNotAllowed / invalidIP
    for bal in sorted(balancers, key=attrgetter("key")):
        texts = []
        for ip in bal.ips:
            text = text_of(ip)
            if text is None:
                out[str(ip)] = _INVALID
            else:
                texts.append(text)
        if not texts:
            continue
        pool = bal.pool
        if pool is None:
            pool = memo.pool(config, texts) if memo is not None else pool_for(config, texts)
        if pool is None:
            for text in texts:
                out.setdefault(text, _NOT_ALLOWED)
            continue
        claim = Claim(bal.service, pool, by_service.get(bal.key, ()))
        first = texts[0]
        for text in texts:
            items = claims.get(text)
            if items is None:
                claims[text] = claim if text == first else (first, claim)
            else:
                claims[text] = (text, items, claim) if isinstance(items, Claim) else items + (claim,)
    if not claims:
        return {ip: out[ip] for ip in sorted(out)}
    election = _Election(config, nodes, members, ignore_exclude_lb, memo)
    decided: dict[str, L2Decision] = {}
    # a claimed IP's decision wins over ipNotAllowed
    for ip in sorted(claims.keys() | out.keys()) if out else sorted(claims):
        items = claims.get(ip)
        if items is None:
            decided[ip] = out[ip]
        elif isinstance(items, Claim):
            decided[ip] = election.decide(ip, (items,), my_node)
        else:
            decided[ip] = election.decide(items[0], items[1:], my_node)
    return decided
