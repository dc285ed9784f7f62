# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-Service decisions of the controller: MetalLB's convergeBalancer and SetBalancer.

The one implementation of the rule, shared by the controller daemon, ``metal-lb plan``,
``metal.lb.plan`` and ``metal.lb.assign``; pure (the allocator is the only state) so the
daemon's I/O shell and the offline planner cannot disagree. Steps and event texts follow
MetalLB's controller/service.go and controller/main.go. Chosen differences:
  * PreferDualStack asks for a second family only when the clusterIPs are dual-stack
    (MetalLB flaps between one and two IPs otherwise);
  * ``reprocess_all`` re-claims every IP already in a status before anything is allocated,
    so no existing Service can lose its IP to a newcomer or to a re-allocating neighbour,
    and re-runs pending Services while IPs freed in the pass let them progress.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from .allocator.allocator import DUAL, AllocationError
from .go_quote import go_quote, go_quote_list
from .model import Config
from .events import NORMAL, WARNING, Event
from .service import PREFER_DUAL_STACK, REQUIRE_DUAL_STACK, FamilyError, ServiceFacts, family_of

SUCCESS = "success"
ERROR_NO_RETRY = "error"
REPROCESS_ALL = "reprocess-all"
ASSIGNED, PENDING, IGNORED = "assigned", "pending", "ignored"


class ServiceResult:
    """What the controller writes for one Service, and what it tells the loop."""

    __slots__ = ("key", "ips", "pool", "events", "changed", "outcome", "state", "facts")

    def __init__(self, key: str, ips: list[str], pool: str | None, events: list[Event], changed: bool,
                 outcome: str, state: str, facts: ServiceFacts | None = None) -> None:
        self.key = key
        self.ips = ips
        self.pool = pool
        self.events = events
        self.changed = changed
        self.outcome = outcome
        self.state = state
        self.facts = facts

    @property
    def reprocess_all(self) -> bool:
        return self.outcome == REPROCESS_ALL

    def as_dict(self) -> dict:
        return {"ips": list(self.ips), "pool": self.pool, "state": self.state, "changed": self.changed,
                "events": [e.as_dict() for e in self.events]}


class _Deferred(Exception):
    """Phase 1 of reprocess_all reached a step that allocates: finish it in phase 2.

    ``resume`` is the input to run the Service with again: its current IPs when only the
    PreferDualStack second family is missing (so no holder loses an IP to that allocation),
    empty when it lost its IPs and must allocate anew."""

    def __init__(self, resume: list[str]) -> None:
        super().__init__()
        self.resume = resume


class _State:
    """The mutable copy of the Service (status IPs, pool annotation) convergeBalancer edits."""

    __slots__ = ("ips", "pool")

    def __init__(self, ips: list[str], pool: str | None) -> None:
        self.ips = ips
        self.pool = pool


def _family_changed(lb_family: int | None, cluster_family: int, policy: str) -> bool:
    if lb_family is None:
        return True
    if lb_family == cluster_family:
        return False
    return not (cluster_family == DUAL and policy == PREFER_DUAL_STACK)


def _allocate_ips(alloc, f: ServiceFacts) -> list[str]:
    """MetalLB's allocateIPs; raises AllocationError/ValueError with MetalLB's text."""
    family = f.family()
    desired, desired_family = f.desired_ips()
    desired_pool = f.desired_pool()
    ref = f.ref()
    if desired:
        if family != desired_family:
            raise ValueError("requested loadBalancer IP(s) %s does not match the ipFamily of the service"
                             % go_quote_list(desired))
        alloc.assign(f.key, ref, desired, f.ports, f.sharing_key, f.backend_key)
        if desired_pool and alloc.pool_of(f.key) != desired_pool:
            alloc.unassign(f.key)
            raise ValueError("requested loadBalancer IP(s) %s is not compatible with requested address "
                             "pool %s" % (go_quote_list(desired), desired_pool))
        return desired
    if desired_pool:
        return alloc.allocate_from_pool(f.key, ref, family, desired_pool, f.ports, f.sharing_key,
                                        f.backend_key)
    return alloc.allocate(f.key, ref, family, f.ports, f.sharing_key, f.backend_key)


def _converge(alloc, config: Config, f: ServiceFacts, lb_input: list[str], state: _State,
              events: list[Event], allow_allocate: bool = True) -> bool:
    """MetalLB's convergeBalancer; returns False for ErrConverge. Edits ``state`` and ``events``."""
    key = f.key

    def clear() -> None:
        alloc.unassign(key)
        state.ips = []
        state.pool = None

    if f.type != "LoadBalancer":
        clear()
        return True
    if not config.pools:
        clear()
        return False
    if not f.cluster_ips:
        clear()
        return False
    if f.policy == REQUIRE_DUAL_STACK and len(f.spec.get("clusterIPs") or ()) < 2:
        events.append(Event(WARNING, "not enough clusterips", "Service requires dual stack but not enough "
                            "clusterips [%s]" % " ".join(f.spec.get("clusterIPs") or ())))
        clear()
        return False
    lb_ips = list(lb_input)
    if not lb_ips:
        clear()
    else:
        lb_family: int | None
        try:
            lb_family = family_of(lb_ips)
        except FamilyError as exc:
            events.append(Event(WARNING, "nolbIPsIPFamily", "Failed to retrieve LBIPs IPFamily for %s: %s"
                                % (go_quote_list(lb_ips), exc)))
            lb_family = None
        try:
            cluster_family = f.family()
        except FamilyError as exc:
            events.append(Event(WARNING, "noclusterIPsIPFamily", "Failed to retrieve ClusterIPs IPFamily for "
                                "%s %s: %s" % (go_quote_list(f.spec.get("clusterIPs") or []),
                                               f.spec.get("clusterIP") or "", exc)))
            return False
        if _family_changed(lb_family, cluster_family, f.policy):
            clear()
            lb_ips = []
    if lb_ips:
        try:
            alloc.assign(key, f.ref(), lb_ips, f.ports, f.sharing_key, f.backend_key)
            lb_ips = alloc.ips_of(key)  # canonical text
        except AllocationError as exc:
            events.append(Event(NORMAL, "ClearAssignment", "current IP for %s not allowed by config, will "
                                "attempt for new IP assignment: %s" % (go_quote(key), exc)))
            clear()
            lb_ips = []
        desired_pool = f.desired_pool()
        if lb_ips and desired_pool and alloc.pool_of(key) != desired_pool:
            clear()
            lb_ips = []
        try:
            desired, _family = f.desired_ips()
        except (ValueError, FamilyError) as exc:
            events.append(Event(WARNING, "LoadBalancerFailed",
                                "invalid requested loadbalancer IPs: %s" % exc))
            return False
        if desired:
            if sorted(lb_ips) != sorted(desired):
                clear()
                lb_ips = []
            else:
                lb_ips = sorted(lb_ips)  # MetalLB's isEqualIPs sorts in place
    if len(lb_ips) == 1 and f.policy == PREFER_DUAL_STACK and _dual_cluster(f):
        if not allow_allocate:
            raise _Deferred(list(lb_input))
        try:
            lb_ips = alloc.allocate_additional_family(key, f.ref(), lb_ips[0], alloc.pool_of(key), f.ports,
                                                      f.sharing_key, f.backend_key)
            events.append(Event(NORMAL, "IPAllocated", "Assigned additional IP %s" % go_quote(lb_ips[-1])))
        except AllocationError as exc:
            events.append(Event(NORMAL, "AdditionalAssignFailed",
                                "cannot assign additional IP in PreferDualStack: %s" % exc))
    if not lb_ips:
        if not allow_allocate:
            raise _Deferred([])
        try:
            lb_ips = _allocate_ips(alloc, f)
        except (AllocationError, ValueError) as exc:
            events.append(Event(WARNING, "AllocationFailed", "Failed to allocate IP for %s: %s"
                                % (go_quote(key), exc)))
            return False
        events.append(Event(NORMAL, "IPAllocated", "Assigned IP %s" % go_quote_list(lb_ips)))
    pool = alloc.pool_of(key)
    if not pool or pool not in config.pools:
        events.append(Event(WARNING, "InternalError", "allocated an IP that has no pool"))
        clear()
        return False
    state.ips = lb_ips
    state.pool = pool
    return True


def _dual_cluster(f: ServiceFacts) -> bool:
    try:
        return f.family() == DUAL
    except FamilyError:
        return False


def _finish(alloc, f: ServiceFacts, ok: bool, state: _State, events: list[Event], prev_ips: list[str],
            prev_key: str) -> ServiceResult:
    """MetalLB's SetBalancer bookkeeping around convergeBalancer."""
    outcome = SUCCESS if ok else ERROR_NO_RETRY
    new_key = _alloc_key(alloc, f.key)
    if prev_key != new_key:
        outcome = REPROCESS_ALL
    changed = state.ips != f.ingress or state.pool != f.pool_annotation
    if changed:
        deprecated = f.deprecated_annotations()
        if deprecated:
            events = list(events)  # the caller's list may be retried and compared later
        for name in deprecated:
            events.append(Event(WARNING, "deprecatedAnnotation",
                                "Service uses deprecated annotation %s" % name))
        if prev_ips and alloc.pool_of(f.key) is None and alloc.pool_for(prev_ips) is not None:
            outcome = REPROCESS_ALL
    if f.type != "LoadBalancer":
        result_state = IGNORED
    else:
        result_state = ASSIGNED if state.ips else PENDING
    return ServiceResult(f.key, state.ips, state.pool, events, changed, outcome, result_state, f)


def _alloc_key(alloc, key: str) -> str:
    pair = alloc.allocation_key(key)
    return "" if pair is None else pair[1] + pair[0]


def converge_service(alloc, config: Config | None, key: str, svc: dict | None, *,
                     lb_class: str = "") -> ServiceResult:
    """One Service event: the controller's SetBalancer for ``key`` (``svc`` None = deleted)."""
    if svc is None:
        if alloc.pool_of(key) is not None:
            alloc.unassign(key)
            return ServiceResult(key, [], None, [], False, REPROCESS_ALL, IGNORED)
        return ServiceResult(key, [], None, [], False, SUCCESS, IGNORED)
    f = ServiceFacts(svc)
    if not f.handled(lb_class):
        return _not_ours(alloc, f)
    if config is None:
        return ServiceResult(f.key, list(f.ingress), f.pool_annotation, [], False, SUCCESS,
                             ASSIGNED if f.ingress else PENDING, f)
    prev_ips = alloc.ips_of(key)
    prev_key = _alloc_key(alloc, key)
    state = _State(list(f.ingress), f.pool_annotation)
    events: list[Event] = []
    ok = _converge(alloc, config, f, f.ingress, state, events)
    return _finish(alloc, f, ok, state, events, prev_ips, prev_key)


def _not_ours(alloc, f: ServiceFacts) -> ServiceResult:
    """A Service of another loadBalancerClass (or none, with --lb-class) is left alone, except for
    what is ours: an IP we hold goes back to the pool (a LoadBalancer Service turned ClusterIP drops
    its class, and would otherwise keep the address from everyone); and once it is no longer a
    LoadBalancer, the status and pool annotation we wrote (we held it, or it carries the pool
    annotation only MetalLB-style controllers write) are cleared, as for a Service of our class."""
    outcome = SUCCESS
    held = alloc.pool_of(f.key) is not None
    if held:
        alloc.unassign(f.key)
        outcome = REPROCESS_ALL
    if f.type != "LoadBalancer" and (held or f.pool_annotation is not None):
        changed = bool(f.ingress) or f.pool_annotation is not None
        return ServiceResult(f.key, [], None, [], changed, outcome, IGNORED, f)
    return ServiceResult(f.key, list(f.ingress), f.pool_annotation, [], False, outcome, IGNORED, f)


def _creation_order(f: ServiceFacts) -> tuple:
    meta = f.obj.get("metadata")
    stamp = meta.get("creationTimestamp") if isinstance(meta, dict) else None
    return ("" if stamp is None else str(stamp), f.namespace, f.name)


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """A full pass creates a handful of objects per Service and no reference cycles, yet CPython's
    cycle collector would rescan the whole growing heap again and again: half the time of a pass
    over 100,000 Services. Reference counting still frees everything; the collector is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def reprocess_all(alloc, config: Config | None, services: Iterable[dict], *,
                  lb_class: str = "") -> dict[str, ServiceResult]:
    """A full pass over every Service, restart-safe (see module docstring): every result, by key."""
    results: dict[str, ServiceResult] = {}

    def keep(result: ServiceResult) -> None:
        results[result.key] = result

    for result in _passes(alloc, config, services, lb_class, keep):
        results[result.key] = result
    return results


def iter_reprocess_all(alloc, config: Config | None, services: Iterable[dict], *,
                       lb_class: str = "") -> Iterator[ServiceResult]:
    """``reprocess_all`` as a stream: each Service's final result as soon as it is decided (the
    pending ones that may be retried come last), so that a caller which consumes results one by
    one never holds them all (memory at 100,000 Services). The allocator must not be touched until
    the stream is exhausted. A key given twice yields twice; the last one is the result."""
    return _passes(alloc, config, services, lb_class, None)


def _newcomers(alloc, deferred: list, others: list) -> Iterator[tuple]:
    """Phase 2's queue, built one item at a time (no second per-Service list at 100k Services);
    each Service's facts are dropped from ``others`` as it is handed out."""
    yield from deferred
    for i, f in enumerate(others):
        others[i] = None
        yield f, _State([], f.pool_annotation), [], alloc.ips_of(f.key), _alloc_key(alloc, f.key), []


def _passes(alloc, config: Config | None, services: Iterable[dict], lb_class: str,
            provisional: Callable[[ServiceResult], None] | None) -> Iterator[ServiceResult]:
    """Every final result of the pass, in order; a pending result that later passes may replace
    goes to ``provisional`` when it is made (if given), and is yielded at the end if it stays."""
    with no_cyclic_gc():
        facts: list[ServiceFacts] = []
        flagged: set[str] = set()  # keys whose latest result freed room without holding an IP
        for svc in services:
            f = ServiceFacts(svc)
            if not f.handled(lb_class):
                result = _not_ours(alloc, f)
            elif config is None:
                result = ServiceResult(f.key, list(f.ingress), f.pool_annotation, [], False, SUCCESS,
                                       ASSIGNED if f.ingress else PENDING, f)
            else:
                facts.append(f)
                continue
            if result.outcome == REPROCESS_ALL and result.state != ASSIGNED:
                flagged.add(result.key)
            elif flagged:
                flagged.discard(result.key)
            yield result
        if config is None:
            return
        holders = sorted((f for f in facts if f.ingress), key=_creation_order)
        others = sorted((f for f in facts if not f.ingress), key=_creation_order)
        del facts
        pending: dict[str, tuple] = {}  # key -> (facts, state, events, prev_ips, prev_key, resume)
        # Phase 1: every Service that holds IPs re-claims them before anyone allocates.
        holder_keys = []  # the holders' order for phase 2, without keeping their facts alive
        for i, f in enumerate(holders):
            holders[i] = None
            holder_keys.append(f.key)
            prev_ips, prev_key = alloc.ips_of(f.key), _alloc_key(alloc, f.key)
            state = _State(list(f.ingress), f.pool_annotation)
            events: list[Event] = []
            try:
                ok = _converge(alloc, config, f, f.ingress, state, events, allow_allocate=False)
            except _Deferred as deferred:
                pending[f.key] = (f, state, [] if deferred.resume else events, prev_ips, prev_key,
                                  deferred.resume)
                continue
            result = _finish(alloc, f, ok, state, events, prev_ips, prev_key)
            if result.outcome == REPROCESS_ALL and result.state != ASSIGNED:
                flagged.add(result.key)
            elif flagged:
                flagged.discard(result.key)
            yield result
        # Phase 2: those that lost their IPs, then newcomers, oldest first.
        deferred = [pending[key] for key in holder_keys if key in pending]
        del holders, holder_keys, pending
        freed = False
        waiting = []
        latest: dict[str, ServiceResult] = {}  # key of a waiting Service -> its latest result
        for f, state, events, prev_ips, prev_key, resume in _newcomers(alloc, deferred, others):
            ok = _converge(alloc, config, f, resume, state, events)
            result = _finish(alloc, f, ok, state, events, prev_ips, prev_key)
            if result.outcome == REPROCESS_ALL:
                freed = True
                if result.state != ASSIGNED:
                    flagged.add(result.key)
                elif flagged:
                    flagged.discard(result.key)
            elif flagged:
                flagged.discard(result.key)
            if result.state == PENDING:
                waiting.append((f, events, prev_ips, prev_key))
                latest[f.key] = result
                if provisional is not None:
                    provisional(result)
            else:
                if latest and f.key in latest:
                    latest[f.key] = result
                yield result
        freed = freed or bool(flagged)
        # Later passes: pending Services retry while the previous pass freed room (bounded).
        while freed and waiting:
            freed = False
            still = []
            for f, events, prev_ips, prev_key in waiting:
                state = _State([], f.pool_annotation)
                attempt: list[Event] = []
                ok = _converge(alloc, config, f, [], state, attempt)
                if ok or attempt != events[-len(attempt):]:  # the same failure again is not repeated
                    events = events + attempt
                result = _finish(alloc, f, ok, state, events, prev_ips, prev_key)
                latest[f.key] = result
                if result.state == PENDING:
                    still.append((f, events, prev_ips, prev_key))
                    if provisional is not None:
                        provisional(result)
                else:
                    freed = True
                    yield result
            waiting = still
        for result in latest.values():  # the pending ones are final now (each key's latest result once)
            if result.state == PENDING:
                yield result
