# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPAddressPool → Pool (MetalLB's api/v1beta1/ipaddresspool_types.go and config.For's pool rules)."""

from __future__ import annotations

from collections.abc import Mapping

from ..addresses import parse_entry
from ..selectors import EVERYTHING, parse_selectors, selector_matches
from .fields import INT64_MAX, INT64_MIN, Fields
from ..model import Pool, ServiceAllocation

KIND = "IPAddressPool"


def pool_from_cr(obj: dict, namespaces: Mapping[str, Mapping[str, str]]) -> Pool:
    """``namespaces``: name → labels, to resolve namespaceSelectors at parse time as MetalLB."""
    f = Fields(KIND, obj)
    if not f.name:
        raise f.error("metadata.name", "missing pool name")
    if "addresses" in f.spec and f.spec["addresses"] is not None and not isinstance(f.spec["addresses"], list):
        raise f.error("spec.addresses", "must be a list")
    addresses = f.strings("addresses")
    if not addresses:
        raise f.error("spec.addresses", "pool has no prefixes defined")
    segments = []
    for index, entry in enumerate(addresses):
        try:
            segments.append(parse_entry(entry))
        except ValueError as exc:
            raise f.error("spec.addresses[%d]" % index, 'invalid CIDR "%s" in pool "%s": %s'
                          % (entry, f.name, exc)) from exc
    auto_assign = f.get("autoAssign", bool, True)
    avoid_buggy = f.get("avoidBuggyIPs", bool, False)
    allocation = None
    raw = f.spec.get("serviceAllocation")
    if raw is not None:
        allocation = _service_allocation(f, raw, namespaces)
    return Pool(name=f.name, segments=tuple(segments), auto_assign=auto_assign, avoid_buggy_ips=avoid_buggy,
                service_allocation=allocation, labels=tuple(sorted(f.labels.items())))


def _service_allocation(f: Fields, raw, namespaces: Mapping[str, Mapping[str, str]]) -> ServiceAllocation:
    if not isinstance(raw, dict):
        raise f.error("spec.serviceAllocation", "must be an object")
    priority = raw.get("priority", 0)
    if priority is None:
        priority = 0
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise f.error("spec.serviceAllocation.priority", "must be an integer")
    if not INT64_MIN <= priority <= INT64_MAX:
        raise f.error("spec.serviceAllocation.priority", "must be a 64-bit integer (%d digits given)"
                      % len(str(abs(priority))))
    names = raw.get("namespaces") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise f.error("spec.serviceAllocation.namespaces", "must be a list of strings")
    if len(set(names)) != len(names):
        raise f.error("spec.serviceAllocation.namespaces", "duplicate definition in namespaces field")
    try:
        ns_selectors = parse_selectors(raw.get("namespaceSelectors"), "spec.serviceAllocation.namespaceSelectors")
        svc_selectors = parse_selectors(raw.get("serviceSelectors"), "spec.serviceAllocation.serviceSelectors")
    except ValueError as exc:
        field, _unused, message = str(exc).partition(": ")
        raise f.error(field, message) from exc
    resolved = set(names)
    for selector in ns_selectors:
        resolved.update(ns for ns, labels in namespaces.items() if selector_matches(selector, labels))
    if not names and not ns_selectors and not svc_selectors:
        svc_selectors = (EVERYTHING,)  # MetalLB: serviceAllocation with only a priority matches every service
    return ServiceAllocation(priority=priority, namespaces=frozenset(resolved), service_selectors=svc_selectors)
