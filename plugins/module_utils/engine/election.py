# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
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

from .addresses import canonical_ip
from .allocator import pool_owner
from .model import Config, L2Advertisement
from .selectors import selector_matches
from .vocabulary import ALLOW_SHARED_IP, ALLOW_SHARED_IP_DEPRECATED, EXCLUDE_LB_LABEL, SERVICE_NAME_LABEL, key_of

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


def serving_endpoints(endpoint_slices: Sequence[Mapping]):
    """Step 1's endpoints: those of ``endpoint_slices`` that can serve."""
    for eps in endpoint_slices or ():
        for endpoint in (eps.get("endpoints") or ()) if _is_mapping(eps) else ():
            if _is_mapping(endpoint) and endpoint_serving(endpoint):
                yield endpoint


def any_serving(endpoint_slices: Sequence[Mapping]) -> bool:
    """Step 1: some endpoint of the service can serve (``serving_endpoints`` is not empty; a plain
    loop, as it runs for every service of every pass)."""
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


def ad_matches_service(ad: L2Advertisement, service_labels: Mapping[str, str]) -> bool:
    """serviceSelectors: empty matches every service, else any selector matching (OR)."""
    return not ad.service_selectors or any(selector_matches(s, service_labels) for s in ad.service_selectors)


def ads_for_service(config: Config, pool_name: str, service: Mapping) -> list[L2Advertisement]:
    """Step 2: the pool's L2Advertisements that match the service."""
    labels = _meta(service, "labels")
    return [ad for ad in config.l2_advertisements if pool_name in ad.pools and ad_matches_service(ad, labels)]


def eligible(node: Mapping, node_labels: Mapping[str, str], ignore_exclude_lb: bool) -> bool:
    """Step 5: a node whose network is available and that is not excluded from load balancers."""
    return not network_unavailable(node) and (ignore_exclude_lb or EXCLUDE_LB_LABEL not in node_labels)


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


class _AdSet:
    """Step 2's advertisements of one service (as indices into the config), and what follows from
    them alone: computed once per pass for every service that has the same ones. ``selected`` (the
    live nodes one of them selects) and ``candidates`` (those of them that are eligible, step 5)
    are filled when a service with this set first gets that far."""

    __slots__ = ("key", "ads", "service_selectors", "preferred", "selected", "candidates")

    def __init__(self, key: tuple[int, ...], ads: tuple[L2Advertisement, ...]) -> None:
        self.key = key
        self.ads = ads
        self.service_selectors = any(ad.service_selectors for ad in ads)
        self.preferred = any(ad.preferred_nodes for ad in ads)
        self.selected: frozenset[str] | None = None
        self.candidates: frozenset[str] | None = None


class _View:
    """Steps 1-6 for one service that passed them: its advertisements and its candidates (after
    ``externalTrafficPolicy: Local``)."""

    __slots__ = ("ad_set", "candidates")

    def __init__(self, ad_set: _AdSet, candidates: frozenset[str]) -> None:
        self.ad_set = ad_set
        self.candidates = candidates


class _Election:
    """One pass of ShouldAnnounce over any number of IPs with the same nodes, members and config.

    Steps 1-6 of a service depend on the asking node only through the pool's advertisements
    (selected nodes, candidates, scores, interfaces), so they are computed once per set of
    advertisements (``_AdSet``) and per node, not once per service: the cost of a pass is a few
    dict lookups per service. Every rule is the module's function of the same name
    (``ad_matches_service``, ``ad_selects``, ``eligible``, ``preference_score``, ...), only
    remembered.
    """

    __slots__ = ("config", "nodes", "live", "labels", "ignore_exclude_lb", "_pool_ads", "_ad_sets",
                 "_eligible", "_scores", "_mine", "_decisions", "_memo", "_all_text")

    def __init__(self, config: Config, nodes: Mapping[str, Mapping], members: Collection[str] | None,
                 ignore_exclude_lb: bool, memo: _PassMemo | None) -> None:
        self.config = config
        self.nodes = nodes
        self.live = [n for n in dict.fromkeys(nodes if members is None else members) if n in nodes]
        self.labels = {n: _meta(nodes[n], "labels") for n in self.live}
        self.ignore_exclude_lb = ignore_exclude_lb
        self._pool_ads: dict = {}  # pool -> ((index, ad), ...) of its advertisements, every index, any selectors
        self._ad_sets: dict[tuple[int, ...], _AdSet] = {}
        self._eligible: dict[str, bool] = {}  # node -> step 5
        self._scores: dict = {}  # (ad indices, node) -> preference score
        self._mine: dict = {}  # (ad indices, my node) -> does one of the ads select my node
        self._decisions: dict = {}  # (ad indices, winner, reason) -> decision (one object for equal ones)
        self._memo = memo
        self._all_text = all(isinstance(n, str) for n in nodes)  # every node name can be hashed

    def _eligible_node(self, n: str) -> bool:
        ok = self._eligible.get(n)
        if ok is None:
            ok = self._eligible[n] = eligible(self.nodes[n], self.labels[n], self.ignore_exclude_lb)
        return ok

    def _ad_set(self, pool: str, service: Mapping) -> _AdSet:
        """Step 2 (``ads_for_service``); the service's labels are read only if some ad of the pool
        has serviceSelectors."""
        entry = self._pool_ads.get(pool)
        if entry is None:
            pairs = tuple((i, ad) for i, ad in enumerate(self.config.l2_advertisements) if pool in ad.pools)
            entry = (pairs, tuple(i for i, _ad in pairs), any(ad.service_selectors for _i, ad in pairs))
            self._pool_ads[pool] = entry
        pairs, key, filtered = entry
        if filtered:
            labels = _meta(service, "labels")
            key = tuple(i for i, ad in pairs if ad_matches_service(ad, labels))
        got = self._ad_sets.get(key)
        if got is None:
            got = self._ad_sets[key] = _AdSet(key, tuple(self.config.l2_advertisements[i] for i in key))
        return got

    def _fill_nodes(self, ad_set: _AdSet) -> None:
        """Steps 4-5 for a set of advertisements: the live nodes they select, and the eligible ones."""
        labels = self.labels
        selected = frozenset(n for n in self.live if any(ad_selects(ad, labels[n]) for ad in ad_set.ads))
        ad_set.candidates = frozenset(n for n in selected if self._eligible_node(n))
        ad_set.selected = selected

    def view(self, claim: Claim) -> _View | str:
        """Steps 1-6 for one service: its ``_View``, or the reason it is out (``notOwner``,
        ``sharedIPWithServiceSelector``)."""
        service = claim.service
        # 1. a serving endpoint somewhere
        if not any_serving(claim.endpoint_slices):
            return NOT_OWNER
        # 2. advertisements of the pool that match the service
        ad_set = self._ad_set(claim.pool, service)
        # 3. allow-shared-ip cannot be combined with serviceSelectors
        if ad_set.service_selectors and has_shared_ip_annotation(service):
            return SHARED_IP_WITH_SERVICE_SELECTOR
        if ad_set.selected is None:
            self._fill_nodes(ad_set)
        candidates = ad_set.candidates
        # 6. externalTrafficPolicy Local: only nodes with a serving endpoint
        if ((service.get("spec") or {}).get("externalTrafficPolicy")) == "Local":
            candidates = candidates & {e.get("nodeName") for e in serving_endpoints(claim.endpoint_slices)
                                       if e.get("nodeName")}
        return _View(ad_set, candidates)

    def _score(self, ad_set: _AdSet, n: str) -> int:
        if not ad_set.preferred:
            return 0
        key = (ad_set.key, n)
        score = self._scores.get(key)
        if score is None:
            score = self._scores[key] = preference_score(ad_set.ads, self.labels[n])
        return score

    def _first_by_hash(self, ip: str, tied: Collection[str]) -> str:
        """``order_candidates``' first among equally scored ``tied``: the lowest sha256(node + "#" + ip),
        read from the pass memo's order of all nodes when it has one."""
        memo = self._memo
        if (memo is not None and (len(tied) > _DIRECT_ORDER_MAX or memo.has_order(ip))
                and (self._all_text or all(isinstance(n, str) for n in tied))):
            wanted = tied if isinstance(tied, (set, frozenset)) else set(tied)
            for n in memo.order(ip, self.nodes):
                if n in wanted:
                    return n
        return min(tied, key=lambda n: election_key(n, ip))

    def _selects_me(self, key: tuple[int, ...], my_node: str) -> bool:
        """Step 4: one of the ads ``key`` selects ``my_node``."""
        mine = self._mine.get((key, my_node))
        if mine is None:
            ads = tuple(self.config.l2_advertisements[i] for i in key)
            mine = my_node in self.nodes and any(ad_selects(ad, _meta(self.nodes[my_node], "labels"))
                                                 for ad in ads)
            self._mine[key, my_node] = mine
        return mine

    def _winner(self, ip: str, views: Sequence[_View]) -> str | None:
        """Step 7: most services covered, then preference score, then sha256; None if no candidate."""
        if len(views) == 1:
            view = views[0]
            candidates = view.candidates
            if not candidates:
                return None
            if view.ad_set.preferred:
                scores = {n: self._score(view.ad_set, n) for n in candidates}
                best = max(scores.values())
                candidates = [n for n in candidates if scores[n] == best]
            return next(iter(candidates)) if len(candidates) == 1 else self._first_by_hash(ip, candidates)
        rank: dict[str, tuple[int, int]] = {}
        for view in views:
            for n in view.candidates:
                covered, score = rank.get(n, (0, 0))
                rank[n] = (covered + 1, score + self._score(view.ad_set, n))
        if not rank:
            return None
        best = max(rank.values())
        tied = [n for n, r in rank.items() if r == best]
        return tied[0] if len(tied) == 1 else self._first_by_hash(ip, tied)

    def decide(self, ip: str, claims: Sequence[Claim], my_node: str | None) -> L2Decision:
        """``elect_shared`` for the canonical ``ip``."""
        if len(claims) == 1:
            view = self.view(claims[0])
            if view.__class__ is str:
                return _SHARED_WITH_SELECTOR if view == SHARED_IP_WITH_SERVICE_SELECTOR else _NOT_OWNER
            views = (view,)
            key = view.ad_set.key
        else:
            every = [self.view(c) for c in claims]
            views = tuple(v for v in every if v.__class__ is _View)
            if not views:
                return _SHARED_WITH_SELECTOR if SHARED_IP_WITH_SERVICE_SELECTOR in every else _NOT_OWNER
            key = (views[0].ad_set.key if len(views) == 1
                   else tuple(dict.fromkeys(i for v in views for i in v.ad_set.key)))
        # 4. an advertisement must select my node (planner: some live node)
        mine = self._selects_me(key, my_node) if my_node is not None else any(v.ad_set.selected for v in views)
        winner = self._winner(ip, views)
        if not mine:
            reason = NO_MATCHING_ADVERTISEMENT
        elif winner is None:
            return _NOT_OWNER
        elif my_node is not None and winner != my_node:
            reason = NOT_OWNER
        else:
            reason = None
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
            return canonical_ip(text)
        got = self.texts.get(text, _MISSING)
        if got is _MISSING:
            got = self.old_texts.get(text, _MISSING)
            if got is _MISSING:
                got = canonical_ip(text)
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
        """``addresses.canonical_ip``, from the latest pass's table when it is there."""
        got = self._texts.get(text, _MISSING) if isinstance(text, str) else _MISSING
        return canonical_ip(text) if got is _MISSING else got


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
    text = canonical_ip(ip)
    if text is None:
        raise ValueError("layer2 election: %r is not an IP address" % (ip,))
    return _Election(config, nodes, members, ignore_exclude_lb, None).decide(text, claims, my_node)


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
    """MetalLB's speaker ``poolFor``: the pool owning every one of ``ips``, avoidBuggyIPs ignored."""
    return pool_owner.pool_for(config.pools, ips, avoid_buggy=False)


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
    text_of = memo.ip_text if memo is not None else canonical_ip
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
