# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A controller starting on a snapshot: the one fresh-allocator pass, and why a Service waits.

``metal-lb plan``/``metal.lb.plan``, ``metal.lb.assign``, ``metal.lb.lb_info`` and ``metal-lb
status`` all ask what the controller would decide on a snapshot; they all get it from here,
exactly as a controller that starts on that snapshot decides it (``converge``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from .allocator.allocator import Allocator
from .config.allocation import allocation_config
from .model import Config
from .converge import PENDING, ServiceResult, iter_reprocess_all
from .events import WARNING, Event
from .vocabulary import object_key


def fresh_pass(config: Config, services: Iterable[dict], *,
               lb_class: str = "") -> tuple[Allocator, Iterator[ServiceResult]]:
    """A fresh allocator over ``config``'s pools and the full pass's results as a stream
    (``converge.iter_reprocess_all``: consume it before touching the allocator)."""
    alloc = Allocator()
    alloc.set_pools(config.pools)
    return alloc, iter_reprocess_all(alloc, config, services, lb_class=lb_class)


def pending_reason(events: Sequence[Event | Mapping], *, config_errors: Sequence[str] = (), has_pools: bool = True,
                   would_assign: tuple[Sequence[str], str | None] | None = None, seen: bool = True) -> str:
    """Why a Service has no IP, in the controller's words where it has any: its last Warning Event.

    ``config_errors``: what stops the controller; ``would_assign``: (IPs, pool) a pass would give
    it now (the controller has not run since); ``seen`` False: no pass looked at it."""
    if config_errors:
        return "the configuration is invalid: %s" % config_errors[0]
    if not has_pools:
        return "no IPAddressPool is configured"
    if not seen:
        return "not seen by the planner"
    warnings = [e.message if isinstance(e, Event) else e.get("message") for e in events
                if (e.type if isinstance(e, Event) else e.get("type")) == WARNING]
    if warnings:
        return warnings[-1]
    if would_assign and would_assign[0]:
        return "not yet assigned by the controller (it would assign %s from pool %s)" % (
            ", ".join(would_assign[0]), would_assign[1])
    return "the controller cannot assign an IP yet (for example: no cluster IP)"


def decide(objects: list[dict], namespace: str, lb_class: str) -> dict:
    """The controller's full pass on a snapshot, on a fresh allocator (pure; ``metal.lb.assign``).

    Returns ``errors`` (what stops the controller; nothing else then), ``warnings`` (including the
    problems of objects it does not allocate from), ``changed`` (result, Service object) pairs,
    ``pending`` entries and ``events`` ((Service object, events) of Services that are not changed).
    """
    parsed = allocation_config(objects, namespace=namespace)
    warnings = list(parsed.warnings) + ["not used for allocation: %s" % e for e in parsed.reported]
    if parsed.errors:
        return {"errors": list(parsed.errors), "warnings": warnings, "changed": [], "pending": [], "events": []}
    services = [obj for obj in objects if obj.get("kind") == "Service"]
    by_key = {object_key(s): s for s in services}
    _alloc, stream = fresh_pass(parsed.config, services, lb_class=lb_class)
    results = {result.key: result for result in stream}  # a key seen twice: its last result
    changed, pending, events = [], [], []
    for key in sorted(results):
        result = results[key]
        svc = by_key.get(key)
        if svc is None:
            continue
        if result.changed:
            changed.append((result, svc))
        elif result.events:
            events.append((svc, result.events))
        if result.state == PENDING:
            pending.append({"service": key,
                            "reason": pending_reason(result.events, has_pools=bool(parsed.config.pools))})
    return {"errors": [], "warnings": warnings, "changed": changed, "pending": pending, "events": events}
