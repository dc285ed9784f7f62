# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which address a LoadBalancer service gets: MetalLB's allocator (internal/allocator).

Same decisions and error texts as MetalLB's ``internal/allocator``, with these chosen
differences, all in the name of determinism and scale:
  * ordinary pools are tried in name order (MetalLB: Go map order, i.e. random), and
    ``serviceAllocation`` pools of equal priority are tried in name order;
  * ``poolFor`` over overlapping pools picks the lowest pool name;
  * no pool is ever enumerated: the lowest free address is found through per-segment
    cursors (``free_addresses``), sharable addresses through a per-key index
    (``sharing``), so an IPv6 /48 costs what a /120 costs;
  * where MetalLB would try to Assign a nil address (annotation names a pool without
    the service's family) the error says so: ``no available IPs in pool X for ipv4
    IPFamily`` instead of ``["<nil>"] is not allowed in config``;
  * an address keeps its sharing key while any service uses it (see ``sharing``);
  * assigning an empty address list is refused (``[] is not allowed in config``).
Not thread-safe: one owner (the controller's reconcile loop) calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..addresses import format_ip, parse_ip, pool_capacity
from ..model import IPV4, IPV6, Pool
from ..selectors import selector_matches
from .free_addresses import AddressMap, PoolState, family_of, key_is_buggy, to_key, value_of
from ..go_quote import go_quote, go_quote_list
from .messages import AllocationError
from .pool_owner import ip_keys, owning_pool
from .sharing import Allocation, Entry, IPUse, SharingIndex, check_sharing, passes_sharing

__all__ = [
    "DUAL",
    "SINGLE_STACK",
    "PREFER_DUAL_STACK",
    "REQUIRE_DUAL_STACK",
    "AllocationError",
    "Allocator",
    "PoolCounters",
    "ServiceRef",
]

DUAL = 46  # family argument meaning "IPv4 and IPv6" (MetalLB ipfamily.DualStack)
SINGLE_STACK = "SingleStack"
PREFER_DUAL_STACK = "PreferDualStack"
REQUIRE_DUAL_STACK = "RequireDualStack"

_FAMILY_NAMES = {IPV4: "ipv4", IPV6: "ipv6", DUAL: "dual"}


@dataclass(frozen=True)
class ServiceRef:
    """What the allocator needs to know about a service."""

    namespace: str
    labels: Mapping[str, str]
    ip_family_policy: str  # "SingleStack" | "PreferDualStack" | "RequireDualStack"
    primary_family: int  # 6 iff spec.ipFamilies[0] == "IPv6" else 4


@dataclass(frozen=True)
class PoolCounters:
    """IPAddressPool ``.status`` figures; a shared address counts once."""

    assigned_v4: int
    assigned_v6: int
    available_v4: int
    available_v6: int


_ZERO_COUNTERS = PoolCounters(0, 0, 0, 0)


def _priority_order(ps: PoolState) -> tuple:
    """Positive priorities ascending first, priority 0 last; ties by name (MetalLB: random)."""
    prio = ps.pool.service_allocation.priority
    return (0, prio, ps.name) if prio > 0 else (1, 0, ps.name)


def _keys_family(keys: Sequence[int]) -> int:
    fams = {family_of(k) for k in keys}
    return DUAL if len(fams) == 2 else fams.pop()


class Allocator:
    """Tracks pools and the services' addresses; every decision is deterministic."""

    def __init__(self, on_counters_changed: Callable[[str], None] | None = None):
        """``on_counters_changed(pool_name)`` fires when a pool's counters may have changed:
        after each successful assign/allocation (owning pool, and the previous one if it
        differs), each unassign, and once per old-or-new pool on ``set_pools``."""
        self._notify = on_counters_changed
        self._pools: dict[str, PoolState] = {}
        self._map = AddressMap([])
        self._allocs: dict[Any, Allocation] = {}
        self._ips: dict[int, Entry] = {}  # address -> its sole Allocation, or an IPUse if shared
        self._sharing = SharingIndex()
        self._fallback: list[PoolState] = []
        # per family: every pool of ``_fallback`` before this position has no free address of it,
        # so a request that can only take a free address starts there (lowered on release)
        self._fallback_from: dict[int, int] = {IPV4: 0, IPV6: 0}
        self._by_namespace: dict[str, list[PoolState]] = {}
        self._by_selector: list[PoolState] = []
        self._port_sets: dict[tuple, tuple] = {}

    # ------------------------------------------------------------------ configuration

    def set_pools(self, pools: Mapping[str, Pool]) -> None:
        """Install a new pool set (MetalLB's SetPools): every allocation is re-homed to the pool that now owns
        its addresses, or dropped if none does (no compatibility or sharing re-check)."""
        states: dict[str, PoolState] = {}
        for name in sorted(pools):
            pool = pools[name]
            states[pool.name] = PoolState(pool, tuple(pool_capacity(pool)))
        segments = [seg for ps in states.values() for seg in ps.all_segments()]
        new_map = AddressMap(segments)

        old_names = set(self._pools)
        for svc_key in list(self._allocs):
            alloc = self._allocs[svc_key]
            owner = owning_pool(new_map, alloc.keys)
            if owner is None:
                del self._allocs[svc_key]
                self._release(svc_key, alloc)
            else:
                alloc.pool = owner.name

        self._pools = states
        self._map = new_map
        # recount from the surviving addresses in use
        for key, entry in self._ips.items():
            for seg in new_map.covering(key):
                seg.taken(key)
            fam = family_of(key)
            names = {a.pool for a in entry.users.values()} if isinstance(entry, IPUse) else (entry.pool,)
            for name in names:
                states[name].assigned[fam] += 1
        for ps in states.values():
            ps.reset_free_heaps()

        # derived indexes (MetalLB config.Pools ByNamespace / ByServiceSelector)
        self._fallback = [
            ps for ps in states.values() if ps.pool.auto_assign and ps.pool.service_allocation is None
        ]
        for order, ps in enumerate(self._fallback):
            ps.order = order
        self._fallback_from = {IPV4: 0, IPV6: 0}
        self._by_namespace = {}
        self._by_selector = []
        for ps in states.values():
            sa = ps.pool.service_allocation
            if sa is None:
                continue
            for ns in sa.namespaces:
                self._by_namespace.setdefault(ns, []).append(ps)
            if sa.service_selectors:
                self._by_selector.append(ps)

        if self._notify is not None:
            for name in sorted(old_names | set(states)):
                self._notify(name)

    # ------------------------------------------------------------------ queries

    def pool_names(self) -> list[str]:
        return sorted(self._pools)

    def pool_of(self, key) -> str | None:
        alloc = self._allocs.get(key)
        return alloc.pool if alloc is not None else None

    def ips_of(self, key) -> list[str]:
        alloc = self._allocs.get(key)
        return alloc.text_list() if alloc is not None else []

    def allocation_key(self, key) -> tuple[str, str] | None:
        """(sharing key, backend key) of the service's allocation (MetalLB's AllocationKey)."""
        alloc = self._allocs.get(key)
        return (alloc.sharing, alloc.backend) if alloc is not None else None

    def pool_for(self, ips: Sequence[str]) -> str | None:
        """The pool owning every one of ``ips`` (MetalLB's poolFor), None if none does or an IP is invalid."""
        keys = ip_keys(ips)
        if keys is None:
            return None
        owner = owning_pool(self._map, keys)
        return owner.name if owner is not None else None

    def counters(self, pool_name: str) -> PoolCounters:
        """Counters for a configured pool; all zero for an unknown one (as MetalLB)."""
        ps = self._pools.get(pool_name)
        if ps is None:
            return _ZERO_COUNTERS
        cap4, cap6 = ps.capacity
        a4 = ps.assigned[IPV4]
        a6 = ps.assigned[IPV6]
        return PoolCounters(a4, a6, cap4 - a4, cap6 - a6)

    # ------------------------------------------------------------------ explicit assignment

    def assign(
        self,
        key,
        svc: ServiceRef,
        ips: Sequence[str],
        ports: Sequence[tuple[str, int]],
        sharing_key: str,
        backend_key: str,
    ) -> None:
        """Give ``key`` exactly ``ips`` (explicit request or re-claim): MetalLB's Assign.

        Raises AllocationError; a failed assign leaves the previous allocation untouched."""
        ports = self._ports(ports)
        old = self._allocs.get(key)
        ips = tuple(ips)
        text = old.text if old is not None else None
        if text is not None and (len(ips) == 1 and ips[0] == text if isinstance(text, str) else ips == text):
            keys, texts = old.keys, (text,) if isinstance(text, str) else text
        else:
            keys, texts = self._parse(ips)
        self._assign_keys(key, svc, keys, texts, ports, sharing_key, backend_key)

    def unassign(self, key) -> bool:
        """Free ``key``'s addresses; False if it had none."""
        alloc = self._allocs.pop(key, None)
        if alloc is None:
            return False
        self._release(key, alloc)
        self._changed(alloc.pool)
        return True

    # ------------------------------------------------------------------ automatic allocation

    def allocate(
        self, key, svc: ServiceRef, family: int, ports, sharing_key: str, backend_key: str
    ) -> list[str]:
        """Pick a pool and address(es) automatically (MetalLB's ``Allocate``)."""
        ports = self._ports(ports)
        old = self._allocs.get(key)
        if old is not None:
            self._assign_keys(key, svc, old.keys, old.texts, ports, sharing_key, backend_key)
            return old.text_list()
        _check_family(family)
        pinned = self._pinned(svc)
        if pinned:
            got = self._allocate_from_pools(pinned, key, svc, family, ports, sharing_key, backend_key)
            if got is not None:
                return got
        got = self._allocate_from_pools(self._fallback, key, svc, family, ports, sharing_key, backend_key)
        if got is not None:
            return got
        raise AllocationError("no available IPs")

    def allocate_from_pool(
        self, key, svc: ServiceRef, family: int, pool_name: str, ports, sharing_key: str, backend_key: str
    ) -> list[str]:
        """Allocate from the named pool, ignoring ``autoAssign`` (MetalLB's ``AllocateFromPool``)."""
        ports = self._ports(ports)
        old = self._allocs.get(key)
        if old is not None:
            have = _keys_family(old.keys)
            if svc.ip_family_policy != PREFER_DUAL_STACK and have != family:
                raise AllocationError(
                    "IP for wrong family assigned alloc {} service family {}".format(
                        _FAMILY_NAMES[have], _FAMILY_NAMES.get(family, "unknown")
                    )
                )
            self._assign_keys(key, svc, old.keys, old.texts, ports, sharing_key, backend_key)
            return old.text_list()
        _check_family(family)
        ps = self._pools.get(pool_name)
        if ps is None:
            raise AllocationError(f"unknown pool {go_quote(pool_name)}")
        search = _Search(self, key, ports, sharing_key, backend_key)
        v4 = search.pick(ps, IPV4) if family != IPV6 else None
        v6 = search.pick(ps, IPV6) if family != IPV4 else None
        if v4 is None and v6 is None:
            other = search.pick(ps, IPV6 if family == IPV4 else IPV4) if family != DUAL else None
            if other is None:
                raise AllocationError(f"no available IPs in pool {ps.name}")
        keys = _select(family, svc.ip_family_policy, v4, v6)
        if keys is None:
            raise AllocationError(f"no available IPs in pool {ps.name} for {_FAMILY_NAMES[family]} IPFamily")
        texts = tuple(format_ip(family_of(k), value_of(k)) for k in keys)
        self._assign_keys(key, svc, keys, texts, ports, sharing_key, backend_key)
        return _as_list(texts)

    def allocate_additional_family(
        self,
        key,
        svc: ServiceRef,
        existing_ip: str,
        pool_name: str,
        ports,
        sharing_key: str,
        backend_key: str,
    ) -> list[str]:
        """PreferDualStack with one address: add one of the other family from the same pool.

        Returns the service's addresses after the call: ``[existing_ip, new_ip]`` (MetalLB's
        ``AllocateFromPoolForAdditionalFamily`` returns only the new one)."""
        ports = self._ports(ports)
        (existing,), (existing_text,) = self._parse((existing_ip,))
        have = family_of(existing)
        want = IPV6 if have == IPV4 else IPV4
        ps = self._pools.get(pool_name)
        if ps is None:
            raise AllocationError(f"unknown pool {go_quote(pool_name)}")
        search = _Search(self, key, ports, sharing_key, backend_key)
        extra = search.pick(ps, want)
        if extra is None:
            if search.pick(ps, have) is None:
                raise AllocationError(f"no available IPs in pool {ps.name}")
            raise AllocationError(f"no available IPs in pool {ps.name} for {_FAMILY_NAMES[want]} IPFamily")
        keys = (existing, extra)
        texts = (existing_text, format_ip(want, value_of(extra)))
        self._assign_keys(key, svc, keys, texts, ports, sharing_key, backend_key)
        return _as_list(texts)

    # ------------------------------------------------------------------ internals

    def _ports(self, ports) -> tuple:
        """(proto, port) pairs as a tuple without repeats; equal sets share one tuple (memory)."""
        got = tuple([(p[0], p[1]) for p in ports])
        if len(got) > 1 and len(set(got)) != len(got):
            got = tuple(dict.fromkeys(got))
        known = self._port_sets.get(got)
        if known is not None:
            return known
        if len(self._port_sets) < 4096:
            self._port_sets[got] = got
        return got

    def _parse(self, ips: Sequence[str]) -> tuple[tuple, tuple]:
        keys = []
        texts = []
        for text in ips:
            parsed = parse_ip(text)
            if parsed is None:
                raise AllocationError(f"invalid IP address {go_quote(str(text))}")
            fam, value = parsed
            keys.append(to_key(fam, value))
            canonical = format_ip(fam, value)
            texts.append(text if canonical == text else canonical)  # the caller's string when canonical
        return tuple(keys), tuple(texts)

    @staticmethod
    def _compatible(ps: PoolState, svc: ServiceRef) -> bool:
        """MetalLB ``isPoolCompatibleWithService``."""
        sa = ps.pool.service_allocation
        if sa is None:
            return True
        if sa.namespaces and svc.namespace not in sa.namespaces:
            return False
        if sa.service_selectors:
            labels = svc.labels
            return any(selector_matches(sel, labels) for sel in sa.service_selectors)
        return True

    def _pinned(self, svc: ServiceRef) -> list[PoolState]:
        if not self._by_namespace and not self._by_selector:
            return []
        seen = set()
        pools = []
        for ps in self._by_namespace.get(svc.namespace, []) + self._by_selector:
            if ps.name in seen or not ps.pool.auto_assign or not self._compatible(ps, svc):
                continue
            seen.add(ps.name)
            pools.append(ps)
        pools.sort(key=_priority_order)
        return pools

    def _allocate_from_pools(self, pools, key, svc, family, ports, sharing, backend) -> list[str] | None:
        found = self._best_pool(pools, key, svc, family, ports, sharing, backend)
        if found is None:
            return None
        keys = _select(family, svc.ip_family_policy, found[0], found[1])
        if keys is None:
            return None
        texts = tuple(format_ip(family_of(k), value_of(k)) for k in keys)
        try:
            self._assign_keys(key, svc, keys, texts, ports, sharing, backend)
        except AllocationError:
            return None
        return _as_list(texts)

    def _best_pool(self, pools, key, svc, family, ports, sharing, backend) -> tuple | None:
        """MetalLB ``findBestPoolForService``: (v4, v6) candidates of the pool to use, or None."""
        search = _Search(self, key, ports, sharing, backend)
        # Without a sharing key and an allocation of its own, a request can only take a free
        # address: pools without a free address of the family are skipped without a call, and
        # in the auto-assign list the full pools at its head are not even visited (thousands of
        # single-address pools filled in order would make every allocation walk all of them).
        free_only = not sharing and key not in self._allocs
        skip_head = free_only and pools is self._fallback
        if family != DUAL:
            start = self._fallback_from[family] if skip_head else 0
            for i in range(start, len(pools)):
                ps = pools[i]
                if free_only and not ps.free[family]:
                    if skip_head and i == start:
                        start += 1
                        self._fallback_from[family] = start
                    continue
                got = search.pick(ps, family)
                if got is not None:
                    return (got, None) if family == IPV4 else (None, got)
            return None
        prefer = svc.ip_family_policy == PREFER_DUAL_STACK
        primary_v6 = svc.primary_family == IPV6
        primary = secondary = None
        start = min(self._fallback_from.values()) if skip_head else 0
        for i in range(start, len(pools)):
            ps = pools[i]
            if free_only and not ps.free[IPV4] and not ps.free[IPV6]:
                continue
            v4 = search.pick(ps, IPV4)
            v6 = search.pick(ps, IPV6)
            if v4 is None and v6 is None:
                continue
            if v4 is not None and v6 is not None:
                return v4, v6
            if not prefer:
                continue
            first, second = (v6, v4) if primary_v6 else (v4, v6)
            if first is not None and primary is None:
                primary = (v4, v6)
            if second is not None and secondary is None:
                secondary = (v4, v6)
        return primary or secondary

    def _assign_keys(self, svc_key, svc, keys: tuple, texts: tuple, ports: tuple, sharing, backend) -> None:
        """MetalLB ``Assign`` on parsed addresses: all checks first, then commit."""
        if not keys:
            raise AllocationError("[] is not allowed in config")
        ps = owning_pool(self._map, keys)
        if ps is None:
            raise AllocationError(f"{go_quote_list(texts)} is not allowed in config")
        if ps.pool.service_allocation is not None and not self._compatible(ps, svc):
            raise AllocationError(f"pool {ps.name} not compatible for ip assignment")
        if len(keys) > 2:
            raise AllocationError(f"more than two addresses {go_quote_list(texts)}")
        if len(keys) == 2 and family_of(keys[0]) == family_of(keys[1]):
            raise AllocationError(f"{go_quote(texts[0])} {go_quote(texts[1])} has the same family")
        ips = self._ips
        for k, text in zip(keys, texts, strict=False):
            use = ips.get(k)
            if use is not None:
                check_sharing(use, svc_key, text, ports, sharing, backend)

        old = self._allocs.get(svc_key)
        if old is not None:
            if (
                old.keys == keys
                and old.pool == ps.name
                and old.ports == ports
                and old.sharing == sharing
                and old.backend == backend
            ):
                self._changed(ps.name)  # idempotent re-claim: nothing moves
                return
            self._release(svc_key, old)
        alloc = Allocation(svc_key, ps.name, keys, texts, ports, sharing, backend)
        self._allocs[svc_key] = alloc
        for k in keys:
            self._use(k, svc_key, alloc)
        if old is not None and old.pool != ps.name:
            self._changed(old.pool)
        self._changed(ps.name)

    def _use(self, key: int, svc_key, alloc: Allocation) -> None:
        fam = family_of(key)
        entry = self._ips.get(key)
        sharing_index = self._sharing
        if entry is None:  # first user: the allocation itself stands for the address
            self._ips[key] = alloc
            for seg in self._map.covering(key):
                seg.taken(key)
            if alloc.sharing:
                sharing_index.add_ip(key, fam, alloc)
                for port in alloc.ports:
                    sharing_index.port_added(fam, alloc, port)
            ps = self._pools.get(alloc.pool)
            if ps is not None:
                ps.assigned[fam] += 1
            return
        if not isinstance(entry, IPUse):  # second user: promote to a shared record
            entry = IPUse(entry)
            self._ips[key] = entry
        if entry.sharing != alloc.sharing or entry.backend != alloc.backend:
            # unreachable through the checks (users of one address carry one key); kept so
            # that the index can never go stale
            sharing_index.remove_ip(key, fam, entry)
            for port in entry.ports:
                sharing_index.port_removed(fam, entry, port)
            entry.sharing, entry.backend = alloc.sharing, alloc.backend
            sharing_index.add_ip(key, fam, entry)
            for port in entry.ports:
                sharing_index.port_added(fam, entry, port)
        pool = alloc.pool
        first_of_pool = True
        for other in entry.users.values():
            if other.pool == pool:
                first_of_pool = False
                break
        entry.users[svc_key] = alloc
        owners = entry.ports
        for port in alloc.ports:
            if port not in owners:
                sharing_index.port_added(fam, entry, port)
            owners[port] = svc_key
        if first_of_pool:
            ps = self._pools.get(pool)
            if ps is not None:
                ps.assigned[fam] += 1

    def _release(self, svc_key, alloc: Allocation) -> None:
        for key in alloc.keys:
            self._unuse(key, svc_key, alloc)

    def _unuse(self, key: int, svc_key, alloc: Allocation) -> None:
        fam = family_of(key)
        entry = self._ips[key]
        sharing_index = self._sharing
        if not isinstance(entry, IPUse):  # sole user leaves: the address is free
            del self._ips[key]
            if entry.sharing:
                for port in entry.ports:
                    sharing_index.port_removed(fam, entry, port)
                sharing_index.remove_ip(key, fam, entry)
            ps = self._pools.get(entry.pool)
            if ps is not None:
                ps.assigned[fam] -= 1
            for seg in self._map.covering(key):
                seg.released(key)
                order = seg.pool.order
                if 0 <= order < self._fallback_from[fam]:
                    self._fallback_from[fam] = order
            return
        del entry.users[svc_key]
        owners = entry.ports
        for port in alloc.ports:
            if owners.get(port) == svc_key:
                del owners[port]
                sharing_index.port_removed(fam, entry, port)
        pool = alloc.pool
        for other in entry.users.values():
            if other.pool == pool:
                break
        else:
            ps = self._pools.get(pool)
            if ps is not None:
                ps.assigned[fam] -= 1
        if len(entry.users) == 1:  # back to a sole user: drop the shared record
            (remaining,) = entry.users.values()
            self._ips[key] = remaining

    def _changed(self, pool_name: str) -> None:
        if self._notify is not None and pool_name in self._pools:
            self._notify(pool_name)


class _Search:
    """One allocation request's view of "free or sharable" (MetalLB ``getIPFromCIDR``).

    The address picked in a pool for a family is the first in walk order (segments in
    configured order, each from first to last address) that is unused, or shareable with
    this request, or used only by the requester itself.
    """

    __slots__ = ("alloc", "svc_key", "ports", "sharing", "backend", "extras")

    def __init__(self, allocator: Allocator, svc_key, ports: tuple, sharing: str, backend: str):
        self.alloc = allocator
        self.svc_key = svc_key
        self.ports = ports
        self.sharing = sharing
        self.backend = backend
        self.extras: dict[int, list[int]] = {}

    def _extras(self, family: int) -> list[int]:
        got = self.extras.get(family)
        if got is None:
            a = self.alloc
            own = a._allocs.get(self.svc_key)
            got = a._sharing.shareable(
                a._ips, family, self.svc_key, self.ports, self.sharing, self.backend, own is not None
            )
            if own is not None:
                for k in own.keys:
                    if family_of(k) == family and k not in got:
                        if passes_sharing(a._ips[k], self.svc_key, self.ports, self.sharing, self.backend):
                            got.append(k)
            self.extras[family] = got
        return got

    def pick(self, ps: PoolState, family: int) -> int | None:
        best = ps.first_free(family, self.alloc._ips)
        if self.sharing or self.svc_key in self.alloc._allocs:
            extras = self._extras(family)
            if extras:
                covering = self.alloc._map.covering
                for k in extras:
                    for seg in covering(k):
                        if seg.pool is ps and not (seg.avoid and key_is_buggy(k)):
                            cand = (seg.index, k)
                            if best is None or cand < best:
                                best = cand
        return best[1] if best is not None else None


def _select(family: int, policy: str, v4: int | None, v6: int | None) -> tuple | None:
    """MetalLB ``selectIPsForFamilyAndPolicy``; None where MetalLB errs (or would pass a nil IP)."""
    if family == IPV4:
        return (v4,) if v4 is not None else None
    if family == IPV6:
        return (v6,) if v6 is not None else None
    if policy == REQUIRE_DUAL_STACK:
        return (v4, v6) if v4 is not None and v6 is not None else None
    if policy == PREFER_DUAL_STACK:
        if v4 is not None and v6 is not None:
            return (v4, v6)
        if v4 is not None:
            return (v4,)
        if v6 is not None:
            return (v6,)
    return None


def _as_list(texts: tuple) -> list[str]:
    """A new list of ``texts``; a one-item list literal is 8 bytes smaller than ``list(t)``'s, and
    the caller (the planner's output) keeps 100,000 of them."""
    return [texts[0]] if len(texts) == 1 else list(texts)


def _check_family(family: int) -> None:
    if family not in _FAMILY_NAMES:
        raise ValueError(f"family must be 4, 6 or DUAL (46), not {family!r}")
